"""64-bit keys kept beside the identifiers the metrics' linkage joins most rows on.

At 10,000 teams the change facts join 80M deployment commits to 22M deployments on their ids
and to 29M merge commits on their shas. With 64-bit keys for those ids and shas in a store file,
the same SQL (the floor's, ``benchmarks/metrics_floor.py``) built the change facts in 26.5 s
against 41.5-45.9 s on the strings. A key is DuckDB's ``hash()`` of the identifier (NULL for
NULL), computed in each load's own projection. Only the deployment ids, the deployment commits'
ids and shas and the changes' merge commits are keyed: the rest of the linkage (the commit history
a deployment's commits are derived from) hashes the few rows it reads on the fly, and every key
stored costs the ingest its writing.

``hash()`` is DuckDB's own and not promised stable between its versions. The store records the
hash of a probe string with its keys, and when a DuckDB that hashes differently opens it for
writing, every key is computed again before a row is added. That also fills the keys of a store
written before they existed (schema version 1). Opened read-only by such a DuckDB, the store is
read on its strings (:func:`id_keys_ready`).

Two distinct identifiers share a key with a chance of about n²/2^65: 3e-4 for 10^8 distinct shas.
A shared key would link the changes of those two commits to each other's deployments.

A lake keeps no keys: on a lake the linkage joins the strings (``ctssw.metrics._linkage``).
"""

from __future__ import annotations

from ._schema import TABLES, Table
from ._sql import ident as _q

META = "id_keys"  # ctssw_meta: the probe's hash under which every stored key was made
_PROBE = "SELECT CAST(hash('ctssw identifier key') AS VARCHAR)"


def key_sql(col: str) -> str:
    """The key of identifier ``col`` (NULL for NULL)."""
    c = _q(col)
    return f"CASE WHEN {c} IS NOT NULL THEN hash({c}) END"


def insert_lists(t: Table, keyed: bool) -> tuple[str, str]:
    """(column list, select list) of an INSERT of ``t``'s stored columns from a projection that
    has them, with the keys computed from them when ``keyed``."""
    names = [_q(c) for c in t.stored_columns]
    exprs = list(names)
    if keyed:
        names += [_q(k) for k in t.key_columns]
        exprs += [key_sql(c) for c in t.keyed]
    return ", ".join(names), ", ".join(exprs)


def recompute(con, tables) -> None:
    """Compute every key of the store file's ``tables`` from its identifier and record this
    DuckDB's probe; the caller holds the transaction."""
    for name in tables:
        t = TABLES.get(name)
        if t is not None and t.keyed:
            sets = ", ".join(f"{_q(k)} = {key_sql(c)}" for c, k in zip(t.keyed, t.key_columns))
            con.execute(f"UPDATE {_q(name)} SET {sets}")
    probe = con.execute(_PROBE).fetchall()[0][0]
    con.execute("INSERT OR REPLACE INTO ctssw_meta VALUES (?, ?)", [META, probe])


def refresh(con, tables) -> bool:
    """:func:`recompute` in a transaction of its own, unless the stored keys were made with this
    DuckDB's hash; True when it computed them."""
    got = con.execute("SELECT value FROM ctssw_meta WHERE key = ?", [META]).fetchall()
    if got and got[0][0] == con.execute(_PROBE).fetchall()[0][0]:
        return False
    con.execute("BEGIN TRANSACTION")
    try:
        recompute(con, tables)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return True


# the tables the metrics' change linkage joins on keys, which must all keep them
LINKED = ("deployments", "deployment_commits", "changes")


def id_keys_ready(con) -> bool:
    """Whether every table of :data:`LINKED` on the Ibis connection ``con`` keeps its keys, made
    with this DuckDB's ``hash()`` (so a key computed on the fly equals a stored one). False for a
    lake's views, a store of schema version 1 or one keyed under another hash opened read-only,
    or a database that is not a ctssw store."""
    for name in LINKED:
        try:
            have = set(con.table(name).columns)
        except Exception:  # each backend raises its own "not found"
            return False
        if not set(TABLES[name].key_columns) <= have:
            return False
    try:
        rows = con.raw_sql(f"SELECT value = ({_PROBE}) FROM ctssw_meta WHERE key = '{META}'").fetchall()
        return bool(rows and rows[0][0])
    except Exception:  # no ctssw_meta: not a ctssw store
        return False
