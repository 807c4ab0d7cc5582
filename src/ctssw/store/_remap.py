"""Re-pointing rows stored under an unmapped builder id once the roster maps the identity."""

from __future__ import annotations

from ._schema import TABLES
from ._sql import ident as _q


def remap_identities(store) -> None:
    """Point rows loaded before an identity was mapped at the builder it now resolves to.

    An unmapped raw identity ``v`` was stored under its unmapped builder id; the raw
    values of this load are still at hand (``_typed``), so each one's old id is computed
    and re-pointed at the builder its identity now names. Rows that would then collide
    on their key keep the first copy.
    """
    c = store.con
    c.execute(
        f"""CREATE OR REPLACE TEMP TABLE _remap AS
           SELECT DISTINCT old_id, new_id FROM (
               SELECT {store.unmapped_sql('t.value')} AS old_id, i.builder_id AS new_id
               FROM _typed t JOIN (SELECT value_id, min(builder_id) AS builder_id FROM identities GROUP BY value_id) i
               ON i.value_id = {store.hash_sql('t.value')} WHERE t._why = '')
           WHERE old_id <> new_id"""
    )
    if not c.execute("SELECT count(*) FROM _remap").fetchall()[0][0]:
        return
    for t in TABLES.values():
        if t.name == "identities":
            continue
        for col in t.columns:
            if not col.person:
                continue
            sc = _q(t.stored_name(col))
            skey = t.stored_key
            if t.stored_name(col) in skey:
                others = [k for k in skey if k != t.stored_name(col)]
                match = " AND ".join(f"x.{_q(k)} IS NOT DISTINCT FROM {_q(t.name)}.{_q(k)}" for k in others) or "true"
                # drop a remapped row whose target key already exists
                c.execute(
                    f"""DELETE FROM {_q(t.name)} WHERE {sc} IN (SELECT old_id FROM _remap) AND EXISTS (
                        SELECT 1 FROM {_q(t.name)} x JOIN _remap m ON x.{sc} = m.new_id
                        WHERE m.old_id = {_q(t.name)}.{sc} AND {match})"""
                )
            c.execute(
                f"""UPDATE {_q(t.name)} SET {sc} = m.new_id FROM _remap m WHERE {_q(t.name)}.{sc} = m.old_id"""
            )
    c.execute(
        """INSERT INTO builders SELECT DISTINCT new_id, now() FROM _remap
           WHERE new_id NOT IN (SELECT builder_id FROM builders)"""
    )
    c.execute("DELETE FROM builders WHERE builder_id IN (SELECT old_id FROM _remap)")
    c.execute("DROP TABLE _remap")
