"""The row-by-row rules for keys a load meets more than once, applied one source at a time.

A load sets aside in ``_cand`` every fit row whose stored key another row of the load shares
(see :mod:`ctssw.store._bulk`). For each source, in the load's order:

- rows with the same key but different content are ambiguous: every copy is rejected
  (recorded in ``_rej``, then quarantined with the reason);
- identical copies count once; the row is then new, stored unchanged, or a newer version
  that replaces the stored row, so a later source's version of a key updates an earlier one's.
"""

from __future__ import annotations

import datetime as dt

from ._idkeys import insert_lists
from ._schema import Table
from ._sql import ident as _q

DUPLICATE = "duplicate key with different content"


def settle(con, t: Table, src: int, source: str, now: dt.datetime, *, keyed: bool = False) -> tuple[int, int, int]:
    """Apply the rules to source ``src``'s rows in ``_cand``; returns ``(new, changed, rejected)``.
    ``keyed``: the table keeps keys beside its identifiers (``store._idkeys``)."""
    mine = f"_src = {int(src)}"
    if not con.execute(f"SELECT count(*) FROM _cand WHERE {mine}").fetchall()[0][0]:
        return 0, 0, 0
    key = ", ".join(_q(k) for k in t.key)
    content = ", ".join(_q(col.name) for col in t.columns)
    # keys compare NULL-safely: a key column may be NULL (costs.tool for a cost of no tool)
    dup_on = " AND ".join(f"d.{_q(k)} IS NOT DISTINCT FROM _cand.{_q(k)}" for k in t.key)
    rejected = con.execute(
        f"""INSERT INTO _rej SELECT _src, _rid, '{DUPLICATE}' FROM _cand WHERE {mine} AND EXISTS (SELECT 1 FROM (
                SELECT {key} FROM (SELECT DISTINCT {content} FROM _cand WHERE {mine}) GROUP BY {key} HAVING count(*) > 1) d
                WHERE {dup_on})"""
    ).fetchall()[0][0]
    stored = t.stored_columns
    cols = ", ".join(_q(x) for x in stored)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sg AS SELECT DISTINCT {cols} FROM _cand c WHERE {mine}
            AND NOT EXISTS (SELECT 1 FROM _rej r WHERE r._src = c._src AND r._rid = c._rid)"""
    )
    skey = t.stored_key
    T = _q(t.name)
    on = " AND ".join(f"g.{_q(k)} IS NOT DISTINCT FROM s.{_q(k)}" for k in skey)
    same = " AND ".join(f"g.{_q(k)} IS NOT DISTINCT FROM s.{_q(k)}" for k in stored)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sc AS
            SELECT g.*, CASE WHEN s.{_q(skey[0])} IS NULL THEN 'new'
                             WHEN {same} THEN 'same' ELSE 'changed' END AS _status
            FROM _sg g LEFT JOIN {T} s ON {on}"""
    )
    status = dict(con.execute("SELECT _status, count(*) FROM _sc GROUP BY 1").fetchall())
    n_new, n_changed = status.get("new", 0), status.get("changed", 0)
    if n_changed:
        gone = " AND ".join(f"x.{_q(k)} IS NOT DISTINCT FROM {T}.{_q(k)}" for k in skey)
        con.execute(f"DELETE FROM {T} WHERE EXISTS (SELECT 1 FROM _sc x WHERE x._status = 'changed' AND {gone})")
    if n_new or n_changed:
        into, sel = insert_lists(t, keyed)
        con.execute(
            f"INSERT INTO {T} ({into}, source, ingested_at) SELECT {sel}, ?, ? FROM _sc WHERE _status <> 'same'",
            [source, now],
        )
    con.execute("DROP TABLE _sg")
    con.execute("DROP TABLE _sc")
    return n_new, n_changed, rejected
