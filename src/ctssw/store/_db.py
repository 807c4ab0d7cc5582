"""The embedded DuckDB store: schema, pseudonymisation, validated idempotent loads."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import SchemaError, StoreError
from ._schema import SCHEMA_VERSION, TABLES, Table

DEFAULT_PATH = "ctssw.duckdb"
META_COLUMNS = ("source", "ingested_at")


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


def _memory_budget() -> str:
    """Half the machine's memory (DuckDB's default of 80% starves everything else)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(total // 2 // 2**20, 512)}MB"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ddl(t: Table) -> str:
    cols = [f"{_q(t.stored_name(c))} {c.type}" for c in t.columns]
    cols += ["source VARCHAR", "ingested_at TIMESTAMPTZ"]
    return f"CREATE TABLE IF NOT EXISTS {_q(t.name)} ({', '.join(cols)})"


class Store:
    """One DuckDB file holding the canonical tables.

    Parameters
    ----------
    path : str or Path
        The database file; created with the schema if missing. ``":memory:"`` works too.
    read_only : bool
        Open without taking the write lock (the panel and reports only read).
    """

    def __init__(self, path: str | Path = DEFAULT_PATH, *, read_only: bool = False) -> None:
        self.path = str(path)
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(f"no store at {self.path}: run `ctssw ingest` first")
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as e:
            raise StoreError(f"cannot open store {self.path}: {e}") from None
        self.con.execute("SET TimeZone = 'UTC'")
        # leave room for the rest of the machine; large loads spill to disk instead
        self.con.execute(f"SET memory_limit = '{_memory_budget()}'")
        self.con.execute("SET preserve_insertion_order = false")
        self._in_tx = False
        if not read_only:
            self._init_schema()
        self._check_version()

    # -- schema ----------------------------------------------------------------------
    def _init_schema(self) -> None:
        c = self.con
        c.execute("CREATE TABLE IF NOT EXISTS ctssw_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        c.execute(
            "INSERT INTO ctssw_meta VALUES ('schema_version', ?), ('identity_key', ?) ON CONFLICT DO NOTHING",
            [str(SCHEMA_VERSION), secrets.token_hex(32)],
        )
        for t in TABLES.values():
            c.execute(_ddl(t))
            # columns added to the schema since a store was created (additive only); rows stored
            # before take the column's default (tool_usage.feature 'all': a day's totals)
            have = {r[0] for r in c.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'", [t.name]
            ).fetchall()}
            for col in t.columns:
                name = t.stored_name(col)
                if name not in have:
                    c.execute(f"ALTER TABLE {_q(t.name)} ADD COLUMN {_q(name)} {col.type}")
                    if col.default is not None:
                        c.execute(f"UPDATE {_q(t.name)} SET {_q(name)} = {col.default}")
        c.execute("CREATE TABLE IF NOT EXISTS builders (builder_id VARCHAR, first_seen TIMESTAMPTZ)")
        # identities recognised as bots or agents at ingest: never builders, counted apart
        c.execute("CREATE TABLE IF NOT EXISTS bots (builder_id VARCHAR, rule VARCHAR, first_seen TIMESTAMPTZ)")
        c.execute(
            """CREATE TABLE IF NOT EXISTS quarantine (
                source VARCHAR, row_ref VARCHAR, table_name VARCHAR, reason VARCHAR,
                raw VARCHAR, quarantined_at TIMESTAMPTZ)"""
        )

    def _check_version(self) -> None:
        try:
            rows = self.con.execute("SELECT value FROM ctssw_meta WHERE key = 'schema_version'").fetchall()
            row = rows[0] if rows else None
        except duckdb.CatalogException:
            raise StoreError(f"{self.path} is not a ctssw store (no ctssw_meta table)") from None
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {row and row[0]}, this ctssw writes {SCHEMA_VERSION}"
            )

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def _key(self) -> str:
        return self.con.execute("SELECT value FROM ctssw_meta WHERE key = 'identity_key'").fetchall()[0][0]

    # -- identities --------------------------------------------------------------------
    def hash_sql(self, expr: str) -> str:
        """SQL for the keyed hash of a raw identity (nested SHA-256 with the store's secret key).

        The raw value is normalised (trimmed, lower-cased) first, so ``Dev@X.com``
        and ``dev@x.com `` are one person. Only the hash is ever written.
        """
        k = self._key()
        return f"sha256('{k}' || sha256('{k}' || lower(trim(CAST({expr} AS VARCHAR)))))"

    def builder_sql(self, expr: str) -> str:
        """SQL resolving a raw identity to its builder id, through the identities table."""
        h = self.hash_sql(expr)
        return (
            f"COALESCE((SELECT i.builder_id FROM identities i WHERE i.value_id = {h} LIMIT 1), "
            f"'b_' || left({h}, 16))"
        )

    def pseudonymise(self, value: str) -> str:
        """The builder id a raw identity maps to in this store (for tests and tools)."""
        return self.con.execute(f"SELECT {self.builder_sql('v')} FROM (SELECT ? AS v)", [value]).fetchall()[0][0]

    # -- loading -----------------------------------------------------------------------
    def load(self, table: str, scan_sql: str, source: str, *, row_ref_sql: str) -> LoadCounts:
        """Validate and upsert the rows ``scan_sql`` yields into ``table``.

        Runs in one transaction: on any error nothing is written. Rows failing
        validation go to ``quarantine`` with a reason; rows whose key is already
        stored with identical content count as duplicates and change nothing;
        rows whose content differs update the stored row.

        Parameters
        ----------
        scan_sql : str
            A SELECT (or table function) producing the input columns.
        row_ref_sql : str
            SQL over the scan naming each input row (e.g. file and row number).
        """
        t = TABLES[table]
        c = self.con
        cols_in = [d[0] for d in c.execute(f"DESCRIBE SELECT * FROM ({scan_sql})").fetchall()]
        missing = [col.name for col in t.columns if col.required and col.name not in cols_in]
        if missing:
            raise SchemaError(
                f"{source}: table {table} lacks required column(s) {', '.join(missing)}; "
                f"expected columns: {', '.join(col.name for col in t.columns)}"
            )
        now = dt.datetime.now(dt.UTC)
        if self._in_tx:
            return self._load(t, scan_sql, source, row_ref_sql, cols_in, now)
        with self.transaction():
            return self._load(t, scan_sql, source, row_ref_sql, cols_in, now)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group several loads into one transaction: all of them are written, or none."""
        if self._in_tx:
            yield self
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield self
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self._in_tx = False

    def _load(self, t: Table, scan_sql, source, row_ref_sql, cols_in, now) -> LoadCounts:
        c = self.con
        c.execute(
            f"CREATE OR REPLACE TEMP TABLE _raw AS SELECT CAST({row_ref_sql} AS VARCHAR) AS _ref, * FROM ({scan_sql})"
        )
        # typed projection and the reasons a row is rejected
        typed, reasons = [], []
        for col in t.columns:
            if col.name in cols_in:
                src = f"_raw.{_q(col.name)}"
                cast = f"TRY_CAST({src} AS {col.type})"
                reasons.append(
                    f"CASE WHEN {src} IS NOT NULL AND {cast} IS NULL "
                    f"THEN 'wrong type in {col.name}: expected {col.type}' END"
                )
            else:
                cast = f"CAST({col.default or 'NULL'} AS {col.type})"
            if col.default is not None:
                cast = f"COALESCE({cast}, {col.default})"
            if col.required:
                reasons.append(f"CASE WHEN {cast} IS NULL THEN 'missing {col.name}' END")
            typed.append(f"{cast} AS {_q(col.name)}")
        c.execute(
            f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT _ref, {', '.join(typed)}, "
            f"concat_ws('; ', {', '.join(reasons) or 'NULL'}) AS _why FROM _raw"
        )
        late = []
        for cond, why in t.checks:
            late.append(f"CASE WHEN NOT COALESCE({cond}, true) THEN '{why}' END")
        for col, allowed in t.allowed.items():
            vals = ", ".join(f"'{v}'" for v in allowed)
            late.append(
                f"CASE WHEN {_q(col)} IS NOT NULL AND {_q(col)} NOT IN ({vals}) "
                f"THEN 'unknown {col}: expected one of {'/'.join(allowed)}' END"
            )
        for ref in t.team_refs:
            late.append(
                f"CASE WHEN ({ref}) IS NOT NULL AND ({ref}) NOT IN (SELECT team_id FROM teams) "
                f"THEN 'unknown team ' || ({ref}) END"
            )
        if late:
            c.execute(
                f"UPDATE _typed SET _why = concat_ws('; ', NULLIF(_why, ''), {', '.join(late)}) WHERE _why = ''"
            )
        # same key, different content inside one load: ambiguous, so every copy is quarantined
        key = ", ".join(_q(k) for k in t.key)
        content = ", ".join(_q(col.name) for col in t.columns)
        c.execute(
            f"""UPDATE _typed SET _why = 'duplicate key with different content'
                WHERE _why = '' AND ({key}) IN (
                    SELECT {key} FROM (SELECT DISTINCT {content} FROM _typed WHERE _why = '')
                    GROUP BY {key} HAVING count(*) > 1)"""
        )
        n_read = c.execute("SELECT count(*) FROM _raw").fetchall()[0][0]
        n_bad = c.execute("SELECT count(*) FROM _typed WHERE _why <> ''").fetchall()[0][0]
        if n_bad:
            # the raw row is kept for diagnosis, with identities replaced by their keyed hash
            hidden = [col.name for col in t.columns if col.person and col.name in cols_in]
            repl = ", ".join(f"'h_' || left({self.hash_sql(_q(n))}, 16) AS {_q(n)}" for n in hidden)
            rawsel = f"SELECT * REPLACE ({repl}) FROM _raw" if hidden else "SELECT * FROM _raw"
            c.execute(
                f"""INSERT INTO quarantine
                    SELECT ?, b._ref, ?, b._why, to_json(r)::VARCHAR, ?
                    FROM _typed b JOIN ({rawsel}) r USING (_ref)
                    WHERE b._why <> '' AND (?, b._ref) NOT IN (SELECT source, row_ref FROM quarantine)""",
                [source, t.name, now, source],
            )
        # stored form: identities pseudonymised (each raw value hashed once, resolved
        # through the identities table by a join), one row per key
        stored, hashes, joins = [], [], []
        for col in t.columns:
            if col.person and t.name == "identities" and col.name == "value":
                stored.append(f"{self.hash_sql('t0.' + _q(col.name))} AS value_id")
            elif col.person and t.name == "identities":
                stored.append(f"'b_' || left({self.hash_sql('t0.' + _q(col.name))}, 16) AS builder_id")
            elif col.person:
                h, i = _q("_h_" + col.name), _q("_i_" + col.name)
                hashes.append(f"{self.hash_sql(_q(col.name))} AS {h}")
                joins.append(
                    f"LEFT JOIN (SELECT value_id, min(builder_id) AS builder_id FROM identities GROUP BY value_id) {i} "
                    f"ON {i}.value_id = t0.{h}"
                )
                stored.append(f"COALESCE({i}.builder_id, 'b_' || left(t0.{h}, 16)) AS {_q(col.name + '_id')}")
            else:
                stored.append(f"t0.{_q(col.name)}")
        base = f"SELECT *{', ' if hashes else ''}{', '.join(hashes)} FROM _typed WHERE _why = ''"
        c.execute(
            f"CREATE OR REPLACE TEMP TABLE _good AS SELECT DISTINCT {', '.join(stored)} "
            f"FROM ({base}) t0 {' '.join(joins)}"
        )
        n_good_rows = n_read - n_bad
        n_distinct = c.execute("SELECT count(*) FROM _good").fetchall()[0][0]
        skey = t.stored_key
        on = " AND ".join(f"g.{_q(k)} = s.{_q(k)}" for k in skey)
        same = " AND ".join(f"g.{_q(k)} IS NOT DISTINCT FROM s.{_q(k)}" for k in t.stored_columns)
        c.execute(
            f"""CREATE OR REPLACE TEMP TABLE _cls AS
                SELECT g.*, CASE WHEN s.{_q(skey[0])} IS NULL THEN 'new'
                                 WHEN {same} THEN 'same' ELSE 'changed' END AS _status
                FROM _good g LEFT JOIN {_q(t.name)} s ON {on}"""
        )
        status = dict(c.execute("SELECT _status, count(*) FROM _cls GROUP BY 1").fetchall())
        n_new, n_changed, n_same = (status.get(k, 0) for k in ("new", "changed", "same"))
        cols = ", ".join(_q(x) for x in t.stored_columns)
        if n_changed:
            c.execute(
                f"""DELETE FROM {_q(t.name)} WHERE ({', '.join(_q(k) for k in skey)}) IN
                    (SELECT {', '.join(_q(k) for k in skey)} FROM _cls WHERE _status = 'changed')"""
            )
        if n_new or n_changed:
            c.execute(
                f"INSERT INTO {_q(t.name)} ({cols}, source, ingested_at) "
                f"SELECT {cols}, ?, ? FROM _cls WHERE _status <> 'same'",
                [source, now],
            )
        unmapped = 0
        person = [t.stored_name(col) for col in t.columns if col.person and t.stored_name(col) != "value_id"]
        if person:
            ids = " UNION ".join(f"SELECT {_q(p)} AS b FROM _cls" for p in person)
            c.execute(
                f"""INSERT INTO builders SELECT DISTINCT b, ? FROM ({ids})
                    WHERE b IS NOT NULL AND b NOT IN (SELECT builder_id FROM builders)""",
                [now],
            )
            if t.name not in ("identities", "memberships"):
                unmapped = c.execute(
                    f"""SELECT count(DISTINCT b) FROM ({ids}) WHERE b IS NOT NULL
                        AND b NOT IN (SELECT builder_id FROM memberships)"""
                ).fetchall()[0][0]
        if t.name == "identities" and (n_new or n_changed):
            self._remap_identities()
        for tmp in ("_raw", "_typed", "_good", "_cls"):
            c.execute(f"DROP TABLE IF EXISTS {tmp}")
        return LoadCounts(
            table=t.name,
            source=source,
            read=n_read,
            loaded=n_new,
            updated=n_changed,
            duplicate=(n_good_rows - n_distinct) + n_same,
            quarantined=n_bad,
            unmapped=unmapped,
        )

    def _remap_identities(self) -> None:
        """Point rows loaded before an identity was mapped at the builder it now resolves to.

        An unmapped raw identity ``v`` was stored as ``'b_' || left(hash(v), 16)``; an
        identities row for ``v`` carries ``hash(v)`` as ``value_id``, so the old id is known
        without the raw value. Rows that would then collide on their key keep the first copy.
        """
        c = self.con
        c.execute(
            """CREATE OR REPLACE TEMP TABLE _remap AS
               SELECT DISTINCT 'b_' || left(value_id, 16) AS old_id, builder_id AS new_id FROM identities
               WHERE builder_id <> 'b_' || left(value_id, 16)"""
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

    # -- reading -------------------------------------------------------------------------
    def ibis(self):
        """An Ibis backend over this store's connection."""
        import ibis

        return ibis.duckdb.from_connection(self.con)

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {_q(table)}").fetchall()[0][0]

    def counts(self) -> dict[str, int]:
        return {t: self.count(t) for t in [*TABLES, "builders", "quarantine"]}

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
