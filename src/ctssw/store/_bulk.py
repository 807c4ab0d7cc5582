"""Validated, idempotent loads of one canonical table from many files in a few set-based statements.

A load reads its input in as few passes as it can:

1. the distinct raw identities (one narrow pass); each is hashed once, in Python, under the key;
2. one projection types every value, gives each row its reasons for rejection (NULL when it
   is fit to store), joins in the pseudonyms and hashes the stored key and the stored row.
   - Into an empty table, the fit rows are inserted straight from that projection.
   - Into a table with rows, only the rows whose (key hash, row hash) is not stored already
     are kept aside, so a re-load that changes nothing writes nothing; those rows are then
     told apart as new or changed by a join on the key.
3. rows sharing a stored key with another row of the load (rare) go through the exact
   row-by-row rules of :mod:`ctssw.store._exact`, file by file in order;
4. rejected rows are read again, and only they are named and copied to the quarantine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from ..errors import SchemaError
from . import _exact
from ._checks import late_checks, type_reasons
from ._idkeys import insert_lists
from ._lake import in_store_file
from ._schema import TABLES, Table
from ._sql import ident as _q
from ._sql import literal as _lit


@dataclass(frozen=True)
class LoadCounts:
    """What one load did. ``read = loaded + updated + duplicate + quarantined``."""

    table: str
    source: str
    read: int
    loaded: int
    updated: int
    duplicate: int
    quarantined: int
    unmapped: int = 0

    def as_row(self) -> dict:
        return {
            "table": self.table,
            "source": self.source,
            "read": self.read,
            "loaded": self.loaded,
            "updated": self.updated,
            "duplicate": self.duplicate,
            "quarantined": self.quarantined,
            "unmapped identities": self.unmapped,
        }


def _list(values) -> str:
    return "([" + ", ".join(_lit(v) for v in values) + "]::VARCHAR[])"


def _hash(cols: list[str], alias: str = "") -> str:
    return "hash(" + ", ".join(f"{alias}{_q(c)}" for c in cols) + ")"


def describe(con, sql: str) -> dict[str, str]:
    """The input columns of a scan and their DuckDB types, in order."""
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()}


@dataclass
class _Plan:
    """The SQL of one load, built once from the table, the input columns and the load's time."""

    t: Table
    sql: str  # the input: raw columns, _src, _rid
    raw_cols: list[str]  # the input columns a quarantined row keeps
    person: list[str]  # input person columns present
    typed: str  # _src, _rid, typed columns, _why (NULL: fit to store)
    stored: str  # typed plus stored person ids, _skh and _rh
    sources: tuple[str, ...]
    row_ref: str
    keyed: bool  # the table keeps keys beside its identifiers (store._idkeys): a store file's, not a lake's


def _plan(store, t: Table, batch, types: dict[str, str], now: dt.datetime) -> _Plan:
    cols_in = [c for c in types if c not in ("_src", "_rid")]
    typed, reasons = type_reasons(t, cols_in, types)
    l1 = (
        f"SELECT _raw._src, _raw._rid, {', '.join(typed)}, concat_ws('; ', {', '.join(reasons) or 'NULL'}) AS _tw "
        f"FROM ({batch.sql}) _raw"
    )
    if t.name == "costs" and store.rates:
        # converted before the checks, as the rows were stored before (rows with a type error keep theirs)
        l1 = (
            "SELECT l.* REPLACE ("
            "CASE WHEN l._tw = '' AND r.rate IS NOT NULL THEN l.amount * r.rate ELSE l.amount END AS amount, "
            "CASE WHEN l._tw = '' AND r.rate IS NOT NULL THEN r.to_currency ELSE l.currency END AS currency) "
            f"FROM ({l1}) l LEFT JOIN _rates r ON upper(l.currency) = upper(r.currency)"
        )
    late = late_checks(t, store.window.bounds(now))
    why = f"NULLIF(concat_ws('; ', {', '.join(late)}), '')" if late else "NULL"
    l2 = f"SELECT * EXCLUDE (_tw), CASE WHEN _tw <> '' THEN _tw ELSE {why} END AS _why FROM ({l1}) _l1"
    person = [c.name for c in t.columns if c.person and c.name in cols_in]
    sel, joins = [], []
    for col in t.columns:
        if not col.person:
            continue
        out = _q(t.stored_name(col))
        if col.name not in cols_in:
            sel.append(f"CAST(NULL AS VARCHAR) AS {out}")
            continue
        a = _q("_p_" + col.name)
        joins.append(f"LEFT JOIN _pid {a} ON {a}.raw = _l2.{_q(col.name)}")
        form = "bid"
        if t.name == "identities":
            form = "vid" if col.name == "value" else "unmapped"
        sel.append(f"{a}.{form} AS {out}")
    stored_cols = t.stored_columns
    inner = f"SELECT _l2.*{', ' if sel else ''}{', '.join(sel)} FROM ({l2}) _l2 {' '.join(joins)}"
    l3 = f"SELECT *, {_hash(t.stored_key)} AS _skh, {_hash(stored_cols)} AS _rh FROM ({inner}) _l3"
    keyed = bool(t.keyed) and in_store_file(store.lake, t.name)
    return _Plan(t, batch.sql, cols_in, person, l2, l3, tuple(batch.sources), batch.row_ref, keyed)


def _pseudonyms(store, p: _Plan) -> None:
    """``_pv`` (each source's distinct raw identities per column) and ``_pid`` (each distinct
    identity with its pseudonyms and builder id): every identity is hashed once."""
    c = store.con
    t = p.t
    if not p.person:
        c.execute("CREATE OR REPLACE TEMP TABLE _pv (_src BIGINT, col VARCHAR, raw VARCHAR)")
        c.execute("CREATE OR REPLACE TEMP TABLE _pid (raw VARCHAR, vid VARCHAR, unmapped VARCHAR, hidden VARCHAR, bid VARCHAR)")
        return
    casts = {col.name: f"TRY_CAST(_raw.{_q(col.name)} AS VARCHAR)" for col in t.columns if col.person}
    parts = " UNION ALL ".join(
        f"SELECT DISTINCT _src, {_lit(n)} AS col, {casts[n]} AS raw FROM ({p.sql}) _raw" for n in p.person
    )
    c.execute(f"CREATE OR REPLACE TEMP TABLE _pv AS {parts}")
    rows = c.execute(
        "SELECT raw, lower(trim(CAST(raw AS VARCHAR))) FROM (SELECT DISTINCT raw FROM _pv WHERE raw IS NOT NULL)"
    ).fetchall()
    key = store._key()
    forms = list(zip(*(key.pseudonyms(r[1]) for r in rows))) or [(), (), ()]
    tab = pa.table({
        "raw": pa.array([r[0] for r in rows], pa.string()),
        **{name: pa.array(v, pa.string()) for name, v in zip(("vid", "unmapped", "hidden"), forms)},
    })
    c.register("_pid_in", tab)
    try:
        c.execute(
            """CREATE OR REPLACE TEMP TABLE _pid AS
               SELECT p.*, COALESCE(i.builder_id, p.unmapped) AS bid FROM _pid_in p
               LEFT JOIN (SELECT value_id, min(builder_id) AS builder_id FROM identities GROUP BY value_id) i
               ON i.value_id = p.vid"""
        )
    finally:
        c.unregister("_pid_in")


def _per_src(con, sql: str) -> dict[int, int]:
    return {int(k): int(v) for k, v in con.execute(sql).fetchall()}


def load(store, t: Table, batch, now: dt.datetime) -> list[LoadCounts]:
    """Validate and upsert ``batch`` (see :class:`ctssw.sources.canonical.Batch`) into ``t``; the
    caller holds the transaction. One :class:`LoadCounts` per source, in the batch's order."""
    c = store.con
    types = describe(c, batch.sql)
    missing = [col.name for col in t.columns if col.required and col.name not in types]
    if missing:
        raise SchemaError(
            f"{batch.sources[0]}: table {t.name} lacks required column(s) {', '.join(missing)}; "
            f"expected columns: {', '.join(col.name for col in t.columns)}"
        )
    if t.name == "costs" and store.rates:
        _register_rates(c, store.rates)
    try:
        return _load(store, _plan(store, t, batch, types, now), now)
    finally:
        for tmp in ("_pv", "_pid", "_todo", "_cand", "_rej", "_typed", "_ps", "_rates", "_ck"):
            c.execute(f"DROP TABLE IF EXISTS {tmp}")


def _register_rates(con, rates: dict) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _rates (currency VARCHAR, to_currency VARCHAR, rate DOUBLE)")
    con.executemany("INSERT INTO _rates VALUES (?, ?, ?)", [(k, v[0], float(v[1])) for k, v in rates.items()])


def _load(store, p: _Plan, now: dt.datetime) -> list[LoadCounts]:
    c = store.con
    t = p.t
    T = _q(t.name)
    n = len(p.sources)
    src_names = _list(p.sources)
    stored = t.stored_columns
    _pseudonyms(store, p)
    read = _per_src(c, f"SELECT _src, count(*) FROM ({p.sql}) GROUP BY 1")
    c.execute("CREATE OR REPLACE TEMP TABLE _rej (_src BIGINT, _rid BIGINT, reason VARCHAR)")
    empty = not c.execute(f"SELECT count(*) FROM (SELECT 1 FROM {T} LIMIT 1)").fetchall()[0][0]
    loaded = dict.fromkeys(range(n), 0)
    updated = dict.fromkeys(range(n), 0)
    if empty:
        # straight into the table; keys met twice are taken out again and settled row by row
        into, sel = insert_lists(t, p.keyed)
        c.execute(
            f"INSERT INTO {T} ({into}, source, ingested_at) "
            f"SELECT {sel}, {src_names}[CAST(_src AS BIGINT) + 1], ? FROM ({p.stored}) WHERE _why IS NULL",
            [now],
        )
        index = {s: i for i, s in enumerate(p.sources)}
        good = {index[s]: k for s, k in c.execute(f"SELECT source, count(*) FROM {T} GROUP BY 1").fetchall()}
        bad = {i: read.get(i, 0) - good.get(i, 0) for i in range(n)}
        _repeated(c, f"SELECT {_hash(t.stored_key)} AS _skh FROM {T}")
        moved = {}
        if c.execute("SELECT count(*) FROM _ck").fetchall()[0][0]:
            where = f"{_hash(t.stored_key)} IN (SELECT _skh FROM _ck)"
            moved = {index[s]: k for s, k in c.execute(f"SELECT source, count(*) FROM {T} WHERE {where} GROUP BY 1").fetchall()}
            c.execute(f"DELETE FROM {T} WHERE {where}")
        for i in range(n):
            loaded[i] = good.get(i, 0) - moved.get(i, 0)
        bad_ids = f"SELECT _src, _rid, _why FROM ({p.typed}) WHERE _why IS NOT NULL" if any(bad.values()) else None
    else:
        # a row whose key and content hashes are both stored is stored already (the hashes are 64-bit each)
        c.execute(
            f"""CREATE OR REPLACE TEMP TABLE _todo AS
                SELECT * EXCLUDE (_jk) FROM (SELECT *, CASE WHEN _why IS NULL THEN _skh END AS _jk FROM ({p.stored})) i
                ANTI JOIN (SELECT {_hash(t.stored_key)} AS _skh, {_hash(stored)} AS _rh FROM {T}) s
                ON i._jk = s._skh AND i._rh = s._rh"""
        )
        bad = _per_src(c, "SELECT _src, count(*) FROM _todo WHERE _why IS NOT NULL GROUP BY 1")
        bad = {i: bad.get(i, 0) for i in range(n)}
        _classify(c, t, p)
        for i, (new, chg) in _fast_write(c, t, p, now).items():
            loaded[i] += new
            updated[i] += chg
        bad_ids = "SELECT _src, _rid, _why FROM _todo WHERE _why IS NOT NULL" if any(bad.values()) else None
    rejected = dict.fromkeys(range(n), 0)
    n_cand = c.execute("SELECT count(*) FROM _ck").fetchall()[0][0]
    if n_cand:
        c.execute(
            f"CREATE OR REPLACE TEMP TABLE _cand AS SELECT * FROM ({p.stored}) "
            "WHERE _why IS NULL AND _skh IN (SELECT _skh FROM _ck)"
        )
        for i in range(n):
            new, chg, rej = _exact.settle(c, t, i, p.sources[i], now, keyed=p.keyed)
            loaded[i] += new
            updated[i] += chg
            rejected[i] += rej
    c.execute("DROP TABLE IF EXISTS _ck")
    any_rejected = any(bad.values()) or any(rejected.values())
    if any_rejected:
        _quarantine(store, p, bad_ids, now)
    settled = any(loaded.values()) and empty and not n_cand
    unmapped = _builders(store, p, ("table" if settled else "scan") if any_rejected else "", now)
    if t.name == "identities" and (any(loaded.values()) or any(updated.values())):
        c.execute(
            f"""CREATE OR REPLACE TEMP TABLE _typed AS SELECT value, '' AS _why FROM ({p.typed}) x
                WHERE _why IS NULL AND NOT EXISTS (SELECT 1 FROM _rej r WHERE r._src = x._src AND r._rid = x._rid)"""
        )
        store._remap_identities()
    if t.name == "costs":
        store._check_currencies(p.sources[0])
    out = []
    for i in range(n):
        q = bad[i] + rejected[i]
        r = read.get(i, 0)
        out.append(LoadCounts(
            table=t.name, source=p.sources[i], read=r, loaded=loaded[i], updated=updated[i],
            duplicate=r - loaded[i] - updated[i] - q, quarantined=q, unmapped=unmapped.get(i, 0),
        ))
    return out


def _repeated(c, sql: str) -> None:
    """``_ck``: the key hashes ``sql`` yields more than once. Sorting the hashes in NumPy is a
    few times faster than DuckDB's grouping of millions of distinct keys."""
    import numpy as np

    h = np.asarray(c.execute(sql).fetchnumpy()["_skh"], dtype=np.uint64)
    h.sort()
    same = h[1:][h[1:] == h[:-1]]
    c.execute("CREATE OR REPLACE TEMP TABLE _ck (_skh UBIGINT)")
    if len(same):
        c.register("_ck_in", pa.table({"_skh": pa.array(np.unique(same), pa.uint64())}))
        try:
            c.execute("INSERT INTO _ck SELECT _skh FROM _ck_in")
        finally:
            c.unregister("_ck_in")


def _classify(c, t: Table, p: _Plan) -> None:
    """Mark each fit row kept aside as changed (its key is stored) or new, and collect in ``_ck``
    the key hashes met more than once in the load, which the exact rules settle."""
    skey = t.stored_key
    on = " AND ".join(f"s.{_q(k)} IS NOT DISTINCT FROM td.{_q(k)}" for k in skey)
    T = _q(t.name)
    keys = ", ".join(_q(k) for k in skey)
    c.execute("ALTER TABLE _todo ADD COLUMN _old BOOLEAN DEFAULT false")
    # the stored side probes the (usually small) set of rows kept aside
    c.execute(
        f"""UPDATE _todo SET _old = true FROM (
              SELECT DISTINCT {', '.join(f's.{_q(k)}' for k in skey)} FROM {T} s
              SEMI JOIN (SELECT {keys} FROM _todo WHERE _why IS NULL) td ON {on}) k
            WHERE _todo._why IS NULL AND {' AND '.join(f'_todo.{_q(k)} IS NOT DISTINCT FROM k.{_q(k)}' for k in skey)}"""
    )
    c.execute(
        "CREATE OR REPLACE TEMP TABLE _ck AS SELECT _skh FROM _todo WHERE _why IS NULL GROUP BY 1 HAVING count(*) > 1"
    )
    # a changed row may share its key with an input row that is stored unchanged: both are ambiguous
    if c.execute("SELECT count(*) FROM _todo WHERE _old").fetchall()[0][0]:
        c.execute(
            f"""INSERT INTO _ck SELECT _skh FROM ({p.stored}) WHERE _why IS NULL
                AND _skh IN (SELECT _skh FROM _todo WHERE _old) GROUP BY 1 HAVING count(*) > 1"""
        )
        c.execute("CREATE OR REPLACE TEMP TABLE _ck AS SELECT DISTINCT _skh FROM _ck")


def _fast_write(c, t: Table, p: _Plan, now) -> dict[int, tuple[int, int]]:
    """Write the new and changed rows of keys met once; per source ``(new, changed)``."""
    T = _q(t.name)
    skey = t.stored_key
    keep = "_why IS NULL AND _skh NOT IN (SELECT _skh FROM _ck)"
    counts = {int(s): (int(a), int(b)) for s, a, b in c.execute(
        f"SELECT _src, count(*) FILTER (WHERE NOT _old), count(*) FILTER (WHERE _old) FROM _todo WHERE {keep} GROUP BY 1"
    ).fetchall()}
    if any(b for _, b in counts.values()):
        on = " AND ".join(f"{T}.{_q(k)} IS NOT DISTINCT FROM d.{_q(k)}" for k in skey)
        c.execute(
            f"DELETE FROM {T} USING (SELECT {', '.join(_q(k) for k in skey)} FROM _todo WHERE {keep} AND _old) d WHERE {on}"
        )
    if counts:
        into, sel = insert_lists(t, p.keyed)
        c.execute(
            f"INSERT INTO {T} ({into}, source, ingested_at) "
            f"SELECT {sel}, {_list(p.sources)}[CAST(_src AS BIGINT) + 1], ? FROM _todo WHERE {keep}",
            [now],
        )
    return counts


def _quarantine(store, p: _Plan, bad_ids: str | None, now) -> None:
    """Copy every rejected row to the quarantine with its reasons; only these rows are named."""
    c = store.con
    t = p.t
    ids = ["SELECT _src, _rid, reason AS _why FROM _rej"]
    if bad_ids:
        ids.append(bad_ids)
    hidden = {n: _q("_h_" + n) for n in p.person}
    joins = " ".join(
        f"LEFT JOIN _pid {a} ON {a}.raw = TRY_CAST(r.{_q(n)} AS VARCHAR)" for n, a in hidden.items()
    )
    fields = ["'_ref': r.\"__ref\""]
    for col in p.raw_cols:
        val = f"{hidden[col]}.hidden" if col in hidden else f"r.{_q(col)}"
        fields.append(f"{_lit(col)}: {val}")
    # the rejected rows first, then their names and raw copies
    picked = (
        f"SELECT r.*, b._why AS \"__why\" FROM ({p.sql}) r "
        f"JOIN ({' UNION ALL '.join(ids)}) b ON b._src = r._src AND b._rid = r._rid"
    )
    named = f"SELECT *, CAST(({p.row_ref}) AS VARCHAR) AS \"__ref\" FROM ({picked})"
    c.execute(
        f"""INSERT INTO quarantine
            SELECT src, ref, ?, why, to_json(j)::VARCHAR, ? FROM (
                SELECT {_list(p.sources)}[r._src + 1] AS src, r.\"__ref\" AS ref, r.\"__why\" AS why,
                       {{{', '.join(fields)}}} AS j
                FROM ({named}) r {joins})
            WHERE (src, ref, ?) NOT IN (SELECT source, row_ref, table_name FROM quarantine)""",
        [t.name, now, t.name],
    )


def _builders(store, p: _Plan, exact: str, now) -> dict[int, int]:
    """Record the builders the load's fit rows name; per source, how many no membership holds.

    ``exact``: ``""`` when every row was fit (the distinct identities read first are the
    answer), ``"table"`` when the table holds exactly this load's fit rows, else ``"scan"``.
    """
    c = store.con
    t = p.t
    names = [col.name for col in t.columns if col.person and t.stored_name(col) != "value_id" and col.name in p.person]
    if not names:
        return {}
    if exact == "table":
        index = ", ".join(f"({_lit(s)}, {i})" for i, s in enumerate(p.sources))
        ids = " UNION ".join(
            f"SELECT s._src, x.{_q(t.stored_name(col))} AS b FROM {_q(t.name)} x JOIN (VALUES {index}) s(source, _src) USING (source)"
            for col in t.columns if col.name in names
        )
    elif exact:
        # some rows were rejected: only the fit ones count
        ids = " UNION ".join(
            f"""SELECT x._src, x.{_q(t.stored_name(col))} AS b FROM ({p.stored}) x WHERE x._why IS NULL
                AND NOT EXISTS (SELECT 1 FROM _rej r WHERE r._src = x._src AND r._rid = x._rid)"""
            for col in t.columns if col.name in names
        )
    else:
        form = "unmapped" if t.name == "identities" else "bid"
        ids = f"SELECT DISTINCT v._src, p.{form} AS b FROM _pv v JOIN _pid p ON p.raw = v.raw WHERE v.col IN ({', '.join(_lit(x) for x in names)})"
    c.execute(f"CREATE OR REPLACE TEMP TABLE _ps AS SELECT DISTINCT _src, b FROM ({ids}) WHERE b IS NOT NULL")
    c.execute(
        "INSERT INTO builders SELECT DISTINCT b, ? FROM _ps WHERE b NOT IN (SELECT builder_id FROM builders)", [now]
    )
    if t.name in ("identities", "memberships"):
        return {}
    return _per_src(
        c, "SELECT _src, count(DISTINCT b) FROM _ps WHERE b NOT IN (SELECT builder_id FROM memberships) GROUP BY 1"
    )


__all__ = ["TABLES", "LoadCounts", "describe", "load"]
