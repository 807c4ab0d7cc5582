"""The embedded DuckDB store: schema, pseudonymisation, validated idempotent loads."""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import DataWarning, SchemaError, StoreError
from . import _journal, _keys
from ._checks import (
    TimeWindow,
    check_currencies,
    convert_currencies,
    late_checks,
    load_rates,
    type_reasons,
)
from ._open import _check_file, _first_line, _memory_budget
from ._remap import remap_identities
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
        Open without taking the write lock (the panel and reports only read). Reading
        needs no identity key.
    identity_key : str or Path, optional
        The key file pseudonymising identities (default ``$CTSSW_IDENTITY_KEY``, else
        ``~/.config/ctssw/identity.key``; created with mode 0600 on first use). A store
        opened for writing refuses any key but the one it was written with.
    not_before, not_after : date or str, optional
        Timestamps outside this window are quarantined as implausible (default
        1990-01-01 to one day after the load).
    rates : str, Path or dict, optional
        Currency rates for costs: a CSV of ``currency,to,rate`` or ``{currency: (to, rate)}``.
        Without them, costs in several currencies stop the load.
    """

    def __init__(
        self,
        path: str | Path = DEFAULT_PATH,
        *,
        read_only: bool = False,
        identity_key: str | Path | None = None,
        not_before: dt.date | str | None = None,
        not_after: dt.date | str | None = None,
        rates: str | Path | dict | None = None,
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        existed = self.path == ":memory:" or Path(self.path).exists()
        if read_only and not existed:
            raise StoreError(f"no store at {self.path}: run `ctssw ingest` first")
        _check_file(self.path)
        self.window = TimeWindow.of(not_before, not_after)
        self.rates = load_rates(rates)
        self._key_arg = identity_key
        self._ikey: _keys.IdentityKey | None = None
        self.con = None
        try:
            self._open(read_only)
        except BaseException:
            self._discard(existed)
            raise

    def _open(self, read_only: bool) -> None:
        try:
            # never fetch extensions from the network for a file we were handed
            self.con = duckdb.connect(self.path, read_only=read_only, config={"autoinstall_known_extensions": False})
            self.con.execute("SET TimeZone = 'UTC'")
            # leave room for the rest of the machine; large loads spill to disk instead
            self.con.execute(f"SET memory_limit = '{_memory_budget()}'")
            self.con.execute("SET preserve_insertion_order = false")
            self._in_tx = False
            if not read_only:
                self._init_schema()
            self._check_version()
            if not read_only:
                self._attach_key()
            else:
                for w in _journal.incomplete_warnings(self):
                    warnings.warn(w, DataWarning, stacklevel=3)
        except duckdb.Error as e:
            raise StoreError(f"cannot open store {self.path}: {_first_line(e)}") from None

    def _discard(self, existed: bool) -> None:
        """Close, and remove a store file this call created (no empty store is left behind)."""
        if self.con is not None:
            with contextlib.suppress(duckdb.Error):
                self.con.close()
            self.con = None
        if not existed:
            for p in (Path(self.path), Path(self.path + ".wal")):
                with contextlib.suppress(OSError):
                    p.unlink()

    # -- schema ----------------------------------------------------------------------
    def _init_schema(self) -> None:
        c = self.con
        c.execute("CREATE TABLE IF NOT EXISTS ctssw_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        c.execute("INSERT INTO ctssw_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING", [str(SCHEMA_VERSION)])
        _journal.create(c)
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

    def _meta(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM ctssw_meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def _attach_key(self) -> None:
        """Find this store's identity key (creating one for a new store) or refuse in one line."""
        if self._meta("identity_key") is not None:
            raise StoreError(
                f"{self.path} keeps its identity key inside the file (written by an older ctssw): run "
                f"`ctssw rekey --db {self.path} --new-key FILE` once to move it out, then ingest with --identity-key FILE"
            )
        fp = self._meta("identity_key_fingerprint")
        path = _keys.key_path(self._key_arg)
        if path.exists():
            key = _keys.read_key(path)
        elif fp is None:
            key = _keys.new_key(path)
        else:
            raise StoreError(f"{self.path} needs its identity key (fingerprint {fp}) and {path} does not exist: {_keys.HOW}")
        if fp is None:
            self.con.execute("INSERT INTO ctssw_meta VALUES ('identity_key_fingerprint', ?)", [key.fingerprint])
        elif fp != key.fingerprint:
            raise StoreError(
                f"{path} is not the identity key of {self.path} (fingerprint {key.fingerprint}, the store's is {fp}): {_keys.HOW}"
            )
        self._use_key(key)

    def _use_key(self, key: _keys.IdentityKey) -> None:
        self._ikey = key
        _keys.register(self.con, key)

    def _key(self) -> _keys.IdentityKey:
        """The identity key, loaded on first need (reading never needs it)."""
        if self._ikey is None:
            legacy = self._meta("identity_key")
            if legacy is not None:
                key = _keys.IdentityKey((f"legacy:{legacy}",))
            else:
                fp = self._meta("identity_key_fingerprint")
                key = _keys.read_key(_keys.key_path(self._key_arg)) if _keys.key_path(self._key_arg).exists() else None
                if key is None or key.fingerprint != fp:
                    raise StoreError(f"pseudonymising needs the identity key of {self.path} (fingerprint {fp}): {_keys.HOW}")
            self._use_key(key)
        return self._ikey

    @property
    def key_fingerprint(self) -> str | None:
        """The fingerprint of the identity key this store was written with (None before the first write)."""
        return self._meta("identity_key_fingerprint")

    # -- identities --------------------------------------------------------------------
    @staticmethod
    def _norm(expr: str) -> str:
        return f"lower(trim(CAST({expr} AS VARCHAR)))"

    def hash_sql(self, expr: str) -> str:
        """SQL for the keyed hash (HMAC-SHA256 under the key file's secret) of a raw identity.

        The raw value is normalised (trimmed, lower-cased) first, so ``Dev@X.com``
        and ``dev@x.com `` are one person. Only the hash is ever written; each distinct
        value is hashed once.
        """
        self._key()
        return f"ctssw_pseudonym({self._norm(expr)})"

    def unmapped_sql(self, expr: str) -> str:
        """SQL for the builder id of a raw identity the identities table does not map."""
        self._key()
        return f"ctssw_builder({self._norm(expr)})"

    def hidden_sql(self, expr: str) -> str:
        """SQL for what the quarantine keeps in place of a raw identity."""
        self._key()
        return f"ctssw_hidden({self._norm(expr)})"

    def builder_sql(self, expr: str) -> str:
        """SQL resolving a raw identity to its builder id, through the identities table."""
        h = self.hash_sql(expr)
        return (
            f"COALESCE((SELECT min(i.builder_id) FROM identities i WHERE i.value_id = {h}), "
            f"{self.unmapped_sql(expr)})"
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
        typed, reasons = type_reasons(t, cols_in)
        c.execute(
            f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT _ref, {', '.join(typed)}, "
            f"concat_ws('; ', {', '.join(reasons) or 'NULL'}) AS _why FROM _raw"
        )
        if t.name == "costs" and self.rates:
            self._convert_currencies()
        late = late_checks(t, self.window.bounds(now))
        if late:
            c.execute(
                f"UPDATE _typed SET _why = concat_ws('; ', NULLIF(_why, ''), {', '.join(late)}) WHERE _why = ''"
            )
        # same key, different content inside one load: ambiguous, so every copy is quarantined.
        # Keys compare NULL-safely: a key column may be NULL (costs.tool for a cost of no tool).
        key = ", ".join(_q(k) for k in t.key)
        content = ", ".join(_q(col.name) for col in t.columns)
        dup_on = " AND ".join(f"d.{_q(k)} IS NOT DISTINCT FROM _typed.{_q(k)}" for k in t.key)
        c.execute(
            f"""UPDATE _typed SET _why = 'duplicate key with different content'
                WHERE _why = '' AND EXISTS (SELECT 1 FROM (
                    SELECT {key} FROM (SELECT DISTINCT {content} FROM _typed WHERE _why = '')
                    GROUP BY {key} HAVING count(*) > 1) d WHERE {dup_on})"""
        )
        n_read = c.execute("SELECT count(*) FROM _raw").fetchall()[0][0]
        n_bad = c.execute("SELECT count(*) FROM _typed WHERE _why <> ''").fetchall()[0][0]
        if n_bad:
            # the raw row is kept for diagnosis, with identities replaced by their keyed hash
            hidden = [col.name for col in t.columns if col.person and col.name in cols_in]
            repl = ", ".join(f"{self.hidden_sql(_q(n))} AS {_q(n)}" for n in hidden)
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
                stored.append(f"{self.unmapped_sql('t0.' + _q(col.name))} AS builder_id")
            elif col.person:
                h, u, i = _q("_h_" + col.name), _q("_u_" + col.name), _q("_i_" + col.name)
                hashes.append(f"{self.hash_sql(_q(col.name))} AS {h}, {self.unmapped_sql(_q(col.name))} AS {u}")
                joins.append(
                    f"LEFT JOIN (SELECT value_id, min(builder_id) AS builder_id FROM identities GROUP BY value_id) {i} "
                    f"ON {i}.value_id = t0.{h}"
                )
                stored.append(f"COALESCE({i}.builder_id, t0.{u}) AS {_q(col.name + '_id')}")
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
        on = " AND ".join(f"g.{_q(k)} IS NOT DISTINCT FROM s.{_q(k)}" for k in skey)
        same = " AND ".join(f"g.{_q(k)} IS NOT DISTINCT FROM s.{_q(k)}" for k in t.stored_columns)
        # the first key column is required (never NULL), so a NULL there means no stored row
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
            gone = " AND ".join(f"x.{_q(k)} IS NOT DISTINCT FROM {_q(t.name)}.{_q(k)}" for k in skey)
            c.execute(
                f"""DELETE FROM {_q(t.name)} WHERE EXISTS
                    (SELECT 1 FROM _cls x WHERE x._status = 'changed' AND {gone})"""
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
        if t.name == "costs":
            self._check_currencies(source)
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

    def _convert_currencies(self) -> None:
        convert_currencies(self.con, self.rates)

    def _check_currencies(self, source: str) -> None:
        check_currencies(self.con, source)

    def _remap_identities(self) -> None:
        remap_identities(self)

    # -- the journal -----------------------------------------------------------------------
    def run(self, kind: str, source: str, files: list[str] | None = None):
        """Context manager journalling one load in ``ingest_runs`` (see :mod:`ctssw.store._journal`).

        Inside a transaction the caller opened, the run is part of that transaction (all of it
        is written, or none), so it is not journalled apart.
        """
        if self._in_tx:
            return contextlib.nullcontext({"run_id": None, "counts": None})
        return _journal.run(self, kind, source, files)

    def incomplete_runs(self) -> list[str]:
        """A sentence for each source whose latest load never finished (empty when all did)."""
        return _journal.incomplete_warnings(self)

    def runs(self) -> list[dict]:
        """Every load recorded in ``ingest_runs``, newest first."""
        return _journal.runs(self.con)

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
        if self.con is not None:
            self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
