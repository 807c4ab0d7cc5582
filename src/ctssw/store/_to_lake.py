"""``ctssw copy-to-lake``: a store that keeps its tables in its file, copied to a new store whose
canonical tables live in a lake (docs/lake.md).

The rows are copied as they are: already validated, pseudonymised and keyed, so nothing is
loaded again and the new store answers every command with the same numbers. The new store file
keeps what a store with a lake keeps in its file (identities, quarantine, the journal, builders,
bots, collection state); the canonical tables go to the lake as one lake commit, each table staged
once it is copied. The old store keeps its rows: a copy to keep or delete. (It is opened as a load
opens it, to check its key; a store from an older ctssw gains the schema's new columns then.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import StoreError
from . import _journal
from ._lake import LAKE_TABLES, is_remote
from ._schema import TABLES
from ._sql import ident as _q
from ._sql import literal as _lit
from ._sql import main_tables

__all__ = ["copy_to_lake"]

# the new store's own: where its lake is, and the key it checked when it was created
_OWN_META = ("lake", "lake_id", "lake_version", "schema_version", "identity_key_fingerprint")


def copy_to_lake(db: str | Path, to: str | Path, lake: str | Path, *, identity_key: str | Path | None = None) -> dict:
    """Copy the store ``db`` to a new store ``to`` whose canonical tables live in the lake ``lake``.

    Parameters
    ----------
    db : str or Path
        A store that keeps its tables in its file; its rows are left as they are.
    to : str or Path
        The new store file (must not exist).
    lake : str or Path
        A new or empty local folder for the lake.
    identity_key : str or Path, optional
        The identity key of ``db`` (default: ``$CTSSW_IDENTITY_KEY``, else the default key): later
        loads into ``to`` pseudonymise with it, so it must be the key ``db`` was written with.

    Returns
    -------
    dict
        ``db`` and ``lake`` (the new store and its lake), ``from`` and ``rows`` (table → rows copied).
    """
    from ._db import Store

    src, dst = Path(db), Path(to)
    if not src.exists():
        raise StoreError(f"no store at {src}")
    if dst.exists():
        raise StoreError(f"{dst} exists already: give --to a new file for the store with a lake")
    if is_remote(lake):
        raise StoreError(f"the lake is written from this machine: give a local or mounted folder, not {lake}")
    # opening it writable checks that it is a ctssw store of this schema, brings its columns up
    # to date and refuses a key that is not its own, each in one line
    with Store(src, identity_key=identity_key) as old:
        if old.lake is not None:
            raise StoreError(f"{src} keeps its tables in a lake already ({old.lake.root})")
        old.con.execute("CHECKPOINT")
    made = not Path(lake).exists()
    try:
        rows = _copy(src, dst, lake, identity_key)
    except BaseException:
        for p in (dst, Path(f"{dst}.wal")):
            p.unlink(missing_ok=True)
        if made:
            shutil.rmtree(lake, ignore_errors=True)
        raise
    return {"db": str(dst), "lake": str(Path(lake).absolute()), "from": str(src), "rows": rows}


def _copy(src: Path, dst: Path, lake: str | Path, identity_key) -> dict[str, int]:
    from ._db import Store

    rows: dict[str, int] = {}
    with Store(dst, lake=lake, identity_key=identity_key) as s:
        c = s.con
        c.execute(f"ATTACH {_lit(src)} AS src (READ_ONLY)")
        have, mine = sorted(main_tables(c, "src")), main_tables(c)
        with s.transaction():
            c.execute(f"""INSERT INTO main.ctssw_meta SELECT key, value FROM src.ctssw_meta
                          WHERE key NOT IN ({', '.join(map(_lit, _OWN_META))}) ON CONFLICT DO NOTHING""")
            for name in have:
                if name == "ctssw_meta":
                    continue
                if name in LAKE_TABLES:
                    s.writable(name)
                    # a lake keeps no identifier keys (store._idkeys): the store's are left behind
                    keys = TABLES[name].key_columns
                    sel = f"* EXCLUDE ({', '.join(map(_q, keys))})" if keys else "*"
                    c.execute(f"INSERT INTO temp.{_q(name)} BY NAME SELECT {sel} FROM src.main.{_q(name)}")
                    s.release(name)  # staged now: the next table's rows need not share the memory
                elif name in mine:
                    c.execute(f"INSERT INTO main.{_q(name)} BY NAME SELECT * FROM src.main.{_q(name)}")
                else:
                    c.execute(f"CREATE TABLE main.{_q(name)} AS SELECT * FROM src.main.{_q(name)}")
                rows[name] = c.execute(f"SELECT count(*) FROM src.main.{_q(name)}").fetchall()[0][0]
            _journal.record_finished(c, "copy-to-lake", str(src.absolute()), rows)
        c.execute("DETACH src")
    return rows
