"""The embedded DuckDB store: schema, pseudonymisation, validated idempotent loads."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import duckdb

from ..errors import DataWarning, StoreError, first_line
from ..sources.canonical import Batch
from . import _bulk, _idkeys, _journal, _keys
from ._bulk import LoadCounts
from ._checks import TimeWindow, check_currencies, load_rates
from ._lake import LAKE_TABLES, Lake, in_store_file, is_remote
from ._open import _check_file, _memory_budget
from ._remap import remap_identities
from ._schema import READS, SCHEMA_VERSION, TABLES, Table
from ._sql import ident as _q

DEFAULT_PATH = "ctssw.duckdb"
META_COLUMNS = ("source", "ingested_at")


def _ddl(t: Table) -> str:
    cols = [f"{_q(t.stored_name(c))} {c.type}" for c in t.columns]
    cols += ["source VARCHAR", "ingested_at TIMESTAMPTZ"] + [f"{_q(k)} UBIGINT" for k in t.key_columns]
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
    lake : str or Path, optional
        Keep the canonical tables (all but ``identities``) as a Parquet lake in this folder
        rather than in the file, which then holds only the keyed identities, the quarantine,
        the journal and the metadata (see :mod:`ctssw.store._lake` and docs/lake.md). A new
        store records the folder; later opens find it there, so ``lake`` is needed only to
        create the store, or to name the same lake at another path (a mount, a copy).
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
        lake: str | Path | None = None,
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
        self._lake_arg = lake
        self.lake: Lake | None = None
        # True: a lake commit's partitions are staged and committed, and published by the next open
        self.defer_publish = False
        self._changing: list[str] = []
        self._released: dict[str, list[dict]] = {}  # table → its staged part of the lake plan
        self._lake_v = 0
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
                self.con.execute("CREATE TABLE IF NOT EXISTS ctssw_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            self._open_lake(read_only)
            if not read_only:
                self._init_schema()
            self._check_version()
            if self.lake is not None:
                self.lake.recover(self._lake_version(), writable=os.access(self.lake.root, os.W_OK))
                self.lake.attach_views(self.con)
            if not read_only:
                self._attach_key()
            else:
                for w in _journal.incomplete_warnings(self):
                    warnings.warn(w, DataWarning, stacklevel=3)
        except duckdb.Error as e:
            raise StoreError(f"cannot open store {self.path}: {first_line(e)}") from None

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
            if self.lake is not None:
                self.lake.remove_if_unused()

    # -- schema ----------------------------------------------------------------------
    def _init_schema(self) -> None:
        c = self.con
        c.execute("CREATE TABLE IF NOT EXISTS ctssw_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        c.execute("INSERT INTO ctssw_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING", [str(SCHEMA_VERSION)])
        _journal.create(c)
        in_file = [t for t in TABLES.values() if in_store_file(self.lake, t.name)]
        for t in in_file:
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
            for k in t.key_columns:  # filled by the refresh below
                if k not in have:
                    c.execute(f"ALTER TABLE {_q(t.name)} ADD COLUMN {_q(k)} UBIGINT")
        _idkeys.refresh(c, [t.name for t in in_file])
        c.execute("UPDATE ctssw_meta SET value = ? WHERE key = 'schema_version' AND value = '1'", [str(SCHEMA_VERSION)])
        c.execute("CREATE TABLE IF NOT EXISTS builders (builder_id VARCHAR, first_seen TIMESTAMPTZ)")
        # identities recognised as bots or agents at ingest: never builders, counted apart
        c.execute("CREATE TABLE IF NOT EXISTS bots (builder_id VARCHAR, rule VARCHAR, first_seen TIMESTAMPTZ)")
        c.execute(
            """CREATE TABLE IF NOT EXISTS quarantine (
                source VARCHAR, row_ref VARCHAR, table_name VARCHAR, reason VARCHAR,
                raw VARCHAR, quarantined_at TIMESTAMPTZ)"""
        )

    def _open_lake(self, read_only: bool) -> None:
        """Find this store's lake (recorded in ``ctssw_meta``, or given to a new store) and check
        that the folder is the lake the store was written with."""
        meta = self._all_meta()
        rec, rid = meta.get("lake"), meta.get("lake_id")
        arg = self._lake_arg
        if rec is None and arg is None:
            return
        if rec is None:
            if read_only:
                raise StoreError(f"{self.path} keeps its tables inside the file, not in a lake: read it without --lake")
            if self._has_canonical_tables():
                raise StoreError(
                    f"{self.path} keeps its tables inside the file; a lake starts with a new store file "
                    "(give --db a new file beside --lake)"
                )
            lake = Lake.at(arg)
            if lake.lake_id() is not None:
                raise StoreError(f"{lake.root} is the lake of another store: give a new or empty folder to --lake, or that store's --db")
            lid = lake.create()
            for k, v in (("lake", str(lake.root)), ("lake_id", lid), ("lake_version", "0")):
                self.con.execute("INSERT INTO ctssw_meta VALUES (?, ?)", [k, v])
            self.lake = lake
            return
        where = arg if arg is not None else rec
        if arg is not None and is_remote(arg):
            raise StoreError(f"DuckDB reads a lake on a local or mounted folder; {arg} is a URL (use --backend spark)")
        lake = Lake.at(where)
        got = lake.lake_id()
        if got is None:
            raise StoreError(f"the lake of {self.path} is missing: no ctssw lake at {lake.root}")
        if got != rid:
            raise StoreError(f"{lake.root} is not the lake of {self.path} (lake id {got}, the store's is {rid})")
        if not read_only and str(lake.root) != rec:
            self.con.execute("UPDATE ctssw_meta SET value = ? WHERE key = 'lake'", [str(lake.root)])
        self.lake = lake

    def _all_meta(self) -> dict[str, str]:
        try:
            return dict(self.con.execute("SELECT key, value FROM ctssw_meta").fetchall())
        except duckdb.CatalogException:
            return {}

    def _has_canonical_tables(self) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary AND table_name IN (SELECT unnest(?))",
            [list(LAKE_TABLES)],
        ).fetchall()[0][0])

    def _lake_version(self) -> int:
        return int(self._meta("lake_version") or 0)

    def _check_version(self) -> None:
        try:
            rows = self.con.execute("SELECT value FROM ctssw_meta WHERE key = 'schema_version'").fetchall()
            row = rows[0] if rows else None
        except duckdb.CatalogException:
            raise StoreError(f"{self.path} is not a ctssw store (no ctssw_meta table)") from None
        if row is None or int(row[0]) not in READS:
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
        if fp is None:  # a new store: the key in force, created when there is none
            key = _keys.key_for_new_store(path)
        elif path.exists():
            key = _keys.read_key(path)
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
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        return self.load_batch(Batch(table, (source,), scan_sql, row_ref_sql, stable=False))[0]

    def load_batch(self, batch: Batch) -> list[LoadCounts]:
        """Validate and upsert one table's rows from several sources in one pass (see
        :mod:`ctssw.store._bulk`); one :class:`LoadCounts` per source, as if each source
        had been loaded in turn. All of it is written, or none."""
        now = dt.datetime.now(dt.UTC)
        with self.transaction():
            self.writable(batch.table)
            if batch.stable:
                return _bulk.load(self, TABLES[batch.table], batch, now)
            # a plain scan need not give its rows in the same order twice: it is read once
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE _raw AS SELECT * FROM ({batch.sql})")
            try:
                one = Batch(batch.table, batch.sources[:1], "SELECT *, 0 AS _src, rowid AS _rid FROM _raw", batch.row_ref)
                return _bulk.load(self, TABLES[batch.table], one, now)
            finally:
                self.con.execute("DROP TABLE IF EXISTS _raw")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group several loads into one transaction: all of them are written, or none.

        On a lake, each lake table a load changes is first read into a temporary table
        (:meth:`writable`); the partitions that changed are staged as Parquet before the commit
        and moved into place after it (see :mod:`ctssw.store._lake`).
        """
        if self._in_tx:
            yield self
            return
        lake, v, plan = self.lake, None, []
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        self._changing = []
        self._released = {}
        try:
            if lake is not None:
                v = self._lake_v = self._lake_version() + 1
                lake.begin(self.con, v)
            yield self
            if lake is not None:
                plan = [op for t in self._changing for op in
                        (self._released[t] if t in self._released else lake.stage(self.con, v, t))]
                if plan:
                    lake.write_plan(v, plan)
                    self.con.execute("UPDATE ctssw_meta SET value = ? WHERE key = 'lake_version'", [str(v)])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")  # the temporary tables go with it: the views are back
            if v is not None:
                lake.discard(v)
            raise
        finally:
            self._in_tx = False
            changed, self._changing = self._changing, []
            released, self._released = set(self._released), {}
        if lake is not None:
            try:
                if plan and not self.defer_publish:
                    lake.apply(v)
            except OSError as e:
                raise StoreError(
                    f"the load is committed but its files could not all be moved into {lake.root} "
                    f"({e.strerror or e}); the next open of {self.path} moves them"
                ) from None
            finally:
                lake.end(self.con, changed, released)

    def writable(self, *tables: str) -> None:
        """Make the canonical ``tables`` changeable by SQL on :attr:`con` for the rest of the current
        transaction. On a store file they always are; on a lake each is read into a temporary
        table when first named (and only the tables named are compared and written at the commit)."""
        if self.lake is None:
            return
        if not self._in_tx:
            raise StoreError("a lake's tables change only inside Store.transaction()")
        for t in tables:
            if t in self._released:
                raise RuntimeError(f"{t} was released in this transaction and cannot change again")
            if t in LAKE_TABLES and t not in self._changing:
                self.lake.materialise(self.con, t)
                self._changing.append(t)

    def release(self, *tables: str) -> None:
        """Promise that the current transaction changes ``tables`` no more. On a lake, each of them
        it changed is staged now and its temporary table dropped (the rest of the transaction
        reads it as staged). DuckDB frees a dropped temporary table's memory only when the
        transaction ends, so this lowers a long load's peak only in part (docs/lake.md)."""
        if self.lake is None or not self._in_tx:
            return
        for t in tables:
            if t in self._changing and t not in self._released:
                self._released[t] = self.lake.stage(self.con, self._lake_v, t)
                self.lake.release(self.con, self._lake_v, t, self._released[t])

    def _check_currencies(self, source: str) -> None:
        check_currencies(self.con, source)

    def _remap_identities(self) -> None:
        self.writable(*(t.name for t in TABLES.values() if any(c.person for c in t.columns)))
        remap_identities(self)

    # -- the journal -----------------------------------------------------------------------
    def run(self, kind: str, source: str, files: list[str] | None = None):
        """Context manager journalling one load in ``ingest_runs`` (see :mod:`ctssw.store._journal`).

        Inside a transaction the caller opened, the run is part of that transaction (all of it
        is written, or none), so it is not journalled apart.
        """
        if self._in_tx:
            return contextlib.nullcontext({"run_id": None, "counts": None, "finish": lambda: None})
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


def open_lake(lake: str | Path | None = None, *, db: str | Path = DEFAULT_PATH) -> Store:
    """The store ``db`` opened for reading with its canonical tables read in place from its lake.

    ``lake`` names the lake folder when it is not where the store recorded it (a mount, a copy);
    a URL (hdfs://, s3a://, which only Spark reads) is left to Spark, and DuckDB then reads the
    folder the store recorded. A store that keeps its tables in the file opens as usual when
    ``lake`` is None.
    """
    return Store(db, read_only=True, lake=None if lake is None or is_remote(lake) else lake)
