"""``ctssw rekey``: re-pseudonymise a store under a new key, writing a fresh file.

Every stored pseudonym (identity value ids, builder ids, the hidden identities in the
quarantine's raw rows) is re-keyed with one more HMAC under a new random secret; the new
key file holds the chain of secrets so later loads land on the same ids. The store is
rewritten into a new file that then replaces the old one, so no block of the old file
(an old pseudonym, or the key an older ctssw kept inside the store) survives in it.

A store with a lake has the partitions holding pseudonyms rewritten too, as one lake commit
of the new file: it is staged before the new file replaces the old one and published after,
so a re-key stopped at any point leaves the old store and lake, or the new ones.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import duckdb

from ..errors import StoreError, first_line
from . import _idkeys, _journal, _keys
from ._schema import TABLES
from ._sql import ident as _q
from ._sql import literal as _lit
from ._sql import main_tables

__all__ = ["rekey"]


def _person_columns() -> dict[str, list[str]]:
    cols = {t.name: [t.stored_name(c) for c in t.columns if c.person] for t in TABLES.values()}
    cols["builders"] = ["builder_id"]
    return cols


def _old_key(path: Path, identity_key: str | Path | None) -> _keys.IdentityKey:
    try:
        con = duckdb.connect(str(path), config={"autoinstall_known_extensions": False})
    except duckdb.Error as e:
        raise StoreError(f"cannot open store {path} to re-key it: {first_line(e)}") from None
    try:
        con.execute("CHECKPOINT")  # fold any WAL into the file before it is copied
        meta = dict(con.execute("SELECT key, value FROM ctssw_meta").fetchall())
    except duckdb.Error:
        raise StoreError(f"{path} is not a ctssw store (no ctssw_meta table)") from None
    finally:
        con.close()
    if "identity_key" in meta:
        return _keys.IdentityKey((f"legacy:{meta['identity_key']}",))
    fp = meta.get("identity_key_fingerprint")
    if fp is None:
        raise StoreError(f"{path} holds no pseudonyms yet: nothing to re-key")
    kp = _keys.key_path(identity_key)
    if not kp.exists():
        raise StoreError(f"re-keying {path} needs its current identity key (fingerprint {fp}): {_keys.HOW}")
    key = _keys.read_key(kp)
    if key.fingerprint != fp:
        raise StoreError(f"{kp} is not the identity key of {path} (fingerprint {key.fingerprint}, the store's is {fp})")
    return key


def rekey(db: str | Path, new_key: str | Path, *, identity_key: str | Path | None = None) -> dict:
    """Re-pseudonymise the store ``db`` under a new key written to ``new_key`` (which must not exist).

    Parameters
    ----------
    db : str or Path
        The store file. A store written by an older ctssw (its key inside the file) is
        migrated: its key moves into the new key file and leaves the store.
    new_key : str or Path
        Where to write the new key (mode 0600). Ingest into ``db`` with it from now on.
    identity_key : str or Path, optional
        The store's current key file (default: ``$CTSSW_IDENTITY_KEY``, else the default key).

    Returns
    -------
    dict
        ``fingerprint`` (the new key's), ``rewritten`` (pseudonyms re-keyed per table), ``key`` (its path).
    """
    from ._db import _check_file

    path = Path(db)
    if not path.exists():
        raise StoreError(f"no store at {path}")
    _check_file(str(path))
    new_path = Path(new_key).expanduser()
    if new_path.exists():
        raise StoreError(f"{new_path} exists already: choose a new file for the key")
    old = _old_key(path, identity_key)
    old_lake = _lake_of(path)
    chain, secret = old.extended()
    key = _keys.write_key(new_path, chain)
    tmp = path.with_name(path.name + ".rekey")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    try:
        rewritten = _copy(path, tmp, new_path, secret)
        if old_lake is not None:
            rewritten.update(_rekey_lake(tmp, new_path, secret))
    except BaseException:
        for p in (tmp, Path(str(tmp) + ".wal"), new_path):
            with contextlib.suppress(OSError):
                p.unlink()
        raise
    os.replace(tmp, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    if old_lake is not None:
        from ._db import Store

        Store(path, identity_key=new_path).close()  # opening it publishes the re-keyed partitions
    return {"fingerprint": key.fingerprint, "rewritten": rewritten, "key": str(new_path), "db": str(path)}


def _copy(src: Path, dst: Path, key_path: Path, secret: bytes) -> dict[str, int]:
    from ._db import Store

    rk = _rekey_fn(secret)
    people = {t: [c for c in cols if c != "value_id"] for t, cols in _person_columns().items()}
    hidden = {t.name: [c.name for c in t.columns if c.person] for t in TABLES.values()}

    def rk_raw(table: str, raw: str) -> str:
        try:
            row = json.loads(raw)
        except (TypeError, ValueError):
            return raw
        if isinstance(row, dict):
            for c in hidden.get(table, []):
                v = row.get(c)
                if isinstance(v, str) and v.startswith("h_"):
                    row[c] = _keys.rekey_one(secret, v)
        return json.dumps(row)

    counts: dict[str, int] = {}
    with Store(dst, identity_key=key_path) as new:
        c = new.con
        c.create_function("ctssw_rekey", rk, ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
        c.create_function("ctssw_rekey_raw", rk_raw, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=False)
        c.execute(f"ATTACH {_lit(src)} AS src (READ_ONLY)")
        have, mine = main_tables(c, "src"), main_tables(c)
        c.execute("BEGIN TRANSACTION")
        for name in sorted(have):
            if name == "ctssw_meta":
                c.execute(
                    """INSERT INTO main.ctssw_meta SELECT key, value FROM src.ctssw_meta
                       WHERE key NOT IN ('identity_key', 'identity_key_fingerprint') ON CONFLICT DO NOTHING"""
                )
                continue
            cols = [r[0] for r in c.execute(
                f"SELECT column_name FROM duckdb_columns() WHERE database_name = 'src' AND table_name = {_lit(name)}").fetchall()]
            repl = [f"ctssw_rekey({_q(x)}) AS {_q(x)}" for x in cols if x in people.get(name, []) or (name == "identities" and x == "value_id")]
            if name == "quarantine":
                repl.append("ctssw_rekey_raw(table_name, raw) AS raw")
            sel = f"SELECT * REPLACE ({', '.join(repl)}) FROM src.{_q(name)}" if repl else f"SELECT * FROM src.{_q(name)}"
            if name in mine:
                c.execute(f"INSERT INTO main.{_q(name)} BY NAME {sel}")
            else:
                c.execute(f"CREATE TABLE main.{_q(name)} AS {sel}")
            if repl:
                counts[name] = c.execute(f"SELECT count(*) FROM main.{_q(name)}").fetchall()[0][0]
        # the keys of a source store made under another DuckDB's hash are made again (store._idkeys)
        _idkeys.recompute(c, main_tables(c))
        _journal.record_finished(c, "rekey", "rekey", counts)
        if "lake" in have_meta(c):
            # the new file keeps no canonical tables of its own: they are the lake's
            from ._lake import LAKE_TABLES

            for name in LAKE_TABLES:
                c.execute(f"DROP TABLE IF EXISTS main.{_q(name)}")
        c.execute("COMMIT")
        c.execute("DETACH src")
        c.execute("CHECKPOINT")
    return counts


def have_meta(c) -> set[str]:
    return {r[0] for r in c.execute("SELECT key FROM main.ctssw_meta").fetchall()}


def _lake_of(path: Path) -> str | None:
    con = duckdb.connect(str(path), read_only=True, config={"autoinstall_known_extensions": False})
    try:
        rows = con.execute("SELECT value FROM ctssw_meta WHERE key = 'lake'").fetchall()
    finally:
        con.close()
    return rows[0][0] if rows else None


def _rekey_fn(secret: bytes):
    return _keys.per_distinct(lambda v: _keys.rekey_one(secret, v))


def _rekey_lake(db: Path, key_path: Path, secret: bytes) -> dict[str, int]:
    """Re-key the pseudonyms in the lake of the new store file ``db``: staged and committed in
    ``db``, published when ``db`` is next opened (after it has replaced the old file)."""
    from ._db import Store
    from ._lake import LAKE_TABLES

    counts = {}
    with Store(db, identity_key=key_path) as s:
        s.defer_publish = True
        s.con.create_function("ctssw_rekey", _rekey_fn(secret), ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
        with s.transaction():
            s.writable(*LAKE_TABLES)
            for name in LAKE_TABLES:
                cols = _person_columns()[name]
                if not cols:
                    continue
                sets = ", ".join(f"{_q(c)} = ctssw_rekey({_q(c)})" for c in cols)
                s.con.execute(f"UPDATE temp.{_q(name)} SET {sets}")
                counts[name] = s.count(name)
    return counts
