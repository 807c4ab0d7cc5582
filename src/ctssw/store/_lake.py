"""The canonical tables as a Parquet lake: layout, reading views, and the all-or-nothing publish.

Layout (see docs/lake.md)::

    DIR/_ctssw/lake.json                          the lake's id (the store records the same id)
    DIR/<table>/month=YYYY-MM/part-<v>-<n>.parquet  tables with a date, by the month of that date
    DIR/<table>/part-<v>-<n>.parquet              teams, repos, services, deployment_commits, agent_configs
    DIR/_ctssw/staging/<v>/...                    files of commit <v> not yet published
    DIR/_ctssw/publish-<v>.json                   commit <v>'s publish plan, while it is applied

``<v>`` is the lake commit that wrote the file (the store's ``lake_version``). The
``identities`` table (the keyed pseudonym map), ``builders``, ``bots``, the quarantine, the
journal and ``ctssw_meta`` stay in the store's DuckDB file.

A load runs against DuckDB exactly as it does on a store file: before its transaction first
changes a lake table (:meth:`ctssw.store.Store.writable`), the table is read into a temporary
table of the same name (which DuckDB resolves before any other), with a marker on the rows
read; the tables it only reads stay views over the files. At the end (or earlier, when the
loader releases a table it will not change again: :meth:`ctssw.store.Store.release`), the partitions of
those tables are compared with what was read (count and a sum of row hashes, ``ingested_at``
left out, so a row re-written unchanged is unchanged): an unchanged partition is left alone, one
that only gained rows gets one new file of those rows, any other is rewritten whole. The new
files are written under ``_ctssw/staging/<v>``; the plan is written to ``publish-<v>.json``;
then the store's transaction commits with ``lake_version = v``. That commit is the one point
at which the run happens: only then are the staged partitions renamed into place (the
replaced ones moved aside and removed). A run that stops before the commit leaves the lake's
tables untouched (its staging is removed by the next open); one that stops after it is
finished by the next open of the store, which applies the plan again (each step can be
repeated).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, StoreError
from ._schema import TABLES, Table
from ._sql import ident as _q
from ._sql import literal as _lit

FORMAT = 1
#: the tables kept in the lake; ``identities`` (the keyed pseudonym map) stays in the store file
LAKE_TABLES = tuple(t for t in TABLES if t != "identities")


def in_store_file(lake, table: str) -> bool:
    """Whether ``table`` lives in the store file: every table without a lake (``lake`` None), else
    only those the lake does not keep."""
    return lake is None or table not in LAKE_TABLES


#: the date each partitioned table is split by month on (every one is a required column)
MONTH_OF = {
    "memberships": "start",
    "commits": "committed_at",
    "changes": "created_at",
    "deployments": "finished_at",
    "incidents": "created_at",
    "pages": "triggered_at",
    "tool_usage": "day",
    "tool_totals": "day",
    "costs": "period_start",
}
#: a partition gaining rows gets a new file; past this many files it is rewritten as one
MAX_FILES = 16
META = "_ctssw"


def is_remote(path: str | Path) -> bool:
    """Whether ``path`` is a URL (hdfs://, s3a://, ...) rather than a local or mounted folder."""
    return "://" in str(path)


def check_lake(backend: str, lake: str | Path | None) -> None:
    """Refuse a lake URL (hdfs://, s3a://) on DuckDB, which reads only local or mounted folders."""
    if backend == "duckdb" and lake is not None and is_remote(lake):
        raise ConfigError(f"DuckDB reads a lake in a local or mounted folder; {lake} is for --backend spark")


def _columns(t: Table) -> list[tuple[str, str]]:
    return [(t.stored_name(c), c.type) for c in t.columns] + [("source", "VARCHAR"), ("ingested_at", "TIMESTAMPTZ")]


def month_sql(table: str) -> str | None:
    """SQL for a row's partition (``YYYY-MM``), or None for an unpartitioned table."""
    col = MONTH_OF.get(table)
    return None if col is None else f"strftime({_q(col)}, '%Y-%m')"


GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Lake:
    """A lake folder on this machine's file system (local or mounted)."""

    root: Path

    @classmethod
    def at(cls, path: str | Path) -> Lake:
        if is_remote(path):
            raise StoreError(
                f"DuckDB reads and writes a lake on a local or mounted folder; {path} is a URL "
                "(give it to --backend spark, which reads it through its executors)"
            )
        root = Path(path).expanduser().absolute()
        glob = sorted(set(str(root)) & set(GLOB_CHARS))
        if glob:
            # DuckDB reads the lake's files through a pattern (DIR/<table>/**/*.parquet) and
            # has no way to escape these in it
            raise StoreError(
                f"a lake folder's path cannot contain {' '.join(glob)}: DuckDB reads them as a file pattern; "
                f"choose another folder than {root}"
            )
        return cls(root)

    # -- places --------------------------------------------------------------------
    @property
    def meta(self) -> Path:
        return self.root / META

    def table_dir(self, table: str) -> Path:
        return self.root / table

    def partition(self, table: str, month: str) -> Path:
        return self.root / table / f"month={month}" if month else self.root / table

    def staging(self, v: int) -> Path:
        return self.meta / "staging" / str(v)

    def trash(self, v: int) -> Path:
        return self.meta / "trash" / str(v)

    def plan_file(self, v: int) -> Path:
        return self.meta / f"publish-{v}.json"

    # -- identity ------------------------------------------------------------------
    def lake_id(self) -> str | None:
        f = self.meta / "lake.json"
        if not f.exists():
            return None
        try:
            return str(json.loads(f.read_text())["id"])
        except (OSError, ValueError, KeyError, TypeError):
            raise StoreError(f"{f} is damaged: not a ctssw lake marker") from None

    def create(self) -> str:
        """Make this folder a new lake (it must be empty or absent); returns its id."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root} is a file, not a folder for a lake")
        if self.root.exists() and any(self.root.iterdir()):
            raise StoreError(f"{self.root} is not empty and not a ctssw lake: give a new or empty folder to --lake")
        lid = uuid.uuid4().hex
        try:
            self.meta.mkdir(parents=True, exist_ok=True)
            _write_atomic(self.meta / "lake.json", json.dumps({"format": FORMAT, "id": lid}) + "\n")
        except OSError as e:
            raise StoreError(f"cannot create a lake at {self.root} ({e.strerror or e})") from None
        return lid

    def remove_if_unused(self) -> None:
        """Remove a lake no table file was ever published to (a store creation that failed)."""
        if any(self.files(t) for t in LAKE_TABLES):
            return
        shutil.rmtree(self.meta, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()

    # -- reading -------------------------------------------------------------------
    def files(self, table: str) -> list[Path]:
        d = self.table_dir(table)
        return sorted(d.rglob("*.parquet")) if d.is_dir() else []

    def view_sql(self, con, table: str, files: list[Path] | None = None) -> str:
        """A SELECT of ``table``'s stored columns from its Parquet files (or from ``files``), typed as
        the schema says; a column a file lacks (written before the column was added to the schema)
        reads as its default, or NULL (a column with a default is never NULL in a file that has it)."""
        t = TABLES[table]
        cols = _columns(t)
        if not (self.files(table) if files is None else files):
            return "SELECT " + ", ".join(f"CAST(NULL AS {typ}) AS {_q(n)}" for n, typ in cols) + " WHERE false"
        where = (_lit(str(self.table_dir(table)) + "/**/*.parquet") if files is None
                 else "[" + ", ".join(_lit(str(f)) for f in files) + "]")
        scan = f"read_parquet({where}, union_by_name = true, hive_partitioning = false)"
        have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
        defaults = {t.stored_name(c): c.default for c in t.columns}
        sel = []
        for n, typ in cols:
            if n in have and defaults.get(n) is not None:
                sel.append(f"CAST(COALESCE({_q(n)}, {defaults[n]}) AS {typ}) AS {_q(n)}")
            elif n in have:
                sel.append(f"CAST({_q(n)} AS {typ}) AS {_q(n)}")
            else:
                sel.append(f"CAST({defaults.get(n) or 'NULL'} AS {typ}) AS {_q(n)}")
        return f"SELECT {', '.join(sel)} FROM {scan}"

    def attach_views(self, con) -> None:
        """Each lake table as a temporary view over its Parquet files on ``con``."""
        for table in LAKE_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(table)} AS {self.view_sql(con, table)}")

    # -- writing -------------------------------------------------------------------
    def begin(self, con, v: int) -> None:
        """Start commit ``v``'s bookkeeping; the caller holds the transaction."""
        con.execute("CREATE OR REPLACE TEMP TABLE _lk_before (tbl VARCHAR, month VARCHAR, n BIGINT, h HUGEINT)")
        shutil.rmtree(self.staging(v), ignore_errors=True)

    def materialise(self, con, table: str) -> None:
        """Read ``table`` into a temporary table of the same name (its rows marked ``_lk``) that a load
        can change, and note each partition's count and row-hash sum."""
        sql = self.view_sql(con, table)
        con.execute(f"DROP VIEW IF EXISTS temp.{_q(table)}")
        con.execute(f"CREATE TEMP TABLE {_q(table)} AS SELECT *, true AS _lk FROM ({sql})")
        con.execute(f"INSERT INTO _lk_before {self._sums(table)}")

    @staticmethod
    def _sums(table: str, *, both: bool = False) -> str:
        """Per partition: row count and sum of row hashes (``ingested_at`` left out); with ``both``,
        also those of the rows read from the lake (``_lk``), in the same pass. No row for an empty
        table (whose month is a constant: without HAVING it would give one row of count 0)."""
        t = TABLES[table]
        h = "hash(" + ", ".join(_q(c) for c in [*t.stored_columns, "source"]) + ")"
        m = month_sql(table) or "''"
        if both:
            return (
                f"SELECT month, count(*), sum(h), count(*) FILTER (WHERE _lk), sum(h) FILTER (WHERE _lk) "
                f"FROM (SELECT {m} AS month, {h} AS h, _lk FROM temp.{_q(table)}) GROUP BY ALL HAVING count(*) > 0"
            )
        return f"SELECT {_lit(table)} AS tbl, {m} AS month, count(*) AS n, sum({h}) AS h FROM temp.{_q(table)} GROUP BY ALL HAVING count(*) > 0"

    def stage(self, con, v: int, table: str) -> list[dict]:
        """Write commit ``v``'s changed partitions of ``table`` (materialised) under its staging
        folder; returns its part of the plan (empty when nothing changed, and then nothing is written)."""
        after = {}
        for month, n, h, n_old, h_old in con.execute(self._sums(table, both=True)).fetchall():
            after[month] = (int(n), int(h), int(n_old), int(h_old or 0))
        rows = con.execute("SELECT month, n, h FROM _lk_before WHERE tbl = ?", [table]).fetchall()
        before = {r[0]: (int(r[1]), int(r[2])) for r in rows}
        plan = []
        for month in sorted(set(before) | set(after)):
            b = before.get(month)
            a = after.get(month)
            if a is None:
                plan.append({"table": table, "month": month, "mode": "drop"})
            elif b is not None and (a[0], a[1]) == b:
                continue
            elif b is not None and (a[2], a[3]) == b and self._file_count(table, month) < MAX_FILES:
                plan.append({"table": table, "month": month, "mode": "append"})
            else:
                plan.append({"table": table, "month": month, "mode": "replace"})
        for mode, only_new in (("replace", False), ("append", True)):
            months = [p["month"] for p in plan if p["mode"] == mode]
            if months:
                self._write(con, table, months, self.staging(v) / mode / table, v, only_new)
        return plan

    def release(self, con, v: int, table: str, plan: list[dict]) -> None:
        """After :meth:`stage`: ``table``'s temporary table is dropped (DuckDB frees it when the
        transaction ends), and the rest of the transaction reads the table as staged: the
        published files of the partitions the plan leaves or appends to, and the staged files."""
        gone = {p["month"] for p in plan if p["mode"] in ("replace", "drop")}
        part = MONTH_OF.get(table) is not None
        live = [f for f in self.files(table) if (f.parent.name.removeprefix("month=") if part else "") not in gone]
        new = [f for mode in ("replace", "append") for f in sorted((self.staging(v) / mode / table).rglob("*.parquet"))]
        con.execute(f"DROP TABLE temp.{_q(table)}")
        con.execute(f"CREATE TEMP VIEW {_q(table)} AS {self.view_sql(con, table, live + new)}")

    def _file_count(self, table: str, month: str) -> int:
        d = self.partition(table, month)
        return sum(1 for _ in d.glob("*.parquet")) if d.is_dir() else 0

    def _write(self, con, table: str, months: list[str], target: Path, v: int, only_new: bool) -> None:
        t = TABLES[table]
        cols = ", ".join(_q(n) for n, _ in _columns(t))
        m = month_sql(table)
        new = " AND _lk IS NULL" if only_new else ""
        target.parent.mkdir(parents=True, exist_ok=True)
        if m is None:
            target.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT {cols} FROM temp.{_q(table)} WHERE true{new}) "
                f"TO {_lit(str(target / f'part-{v}-0.parquet'))} (FORMAT parquet)"
            )
            return
        wanted = "[" + ", ".join(_lit(x) for x in months) + "]"
        con.execute(
            f"COPY (SELECT {cols}, month FROM (SELECT *, {m} AS month FROM temp.{_q(table)}) "
            f"WHERE list_contains({wanted}, month){new}) "
            f"TO {_lit(str(target))} (FORMAT parquet, PARTITION_BY (month), FILENAME_PATTERN 'part-{v}-{{i}}')"
        )

    def write_plan(self, v: int, plan: list[dict]) -> None:
        _write_atomic(self.plan_file(v), json.dumps({"version": v, "ops": plan}) + "\n")

    def end(self, con, tables: list[str], released: frozenset[str] | set[str] = frozenset()) -> None:
        """After the transaction: the temporary tables (and the views of released ones) become views
        over the files again."""
        for table in tables:
            if table not in released:
                con.execute(f"DROP TABLE IF EXISTS temp.{_q(table)}")
            con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(table)} AS {self.view_sql(con, table)}")
        con.execute("DROP TABLE IF EXISTS temp._lk_before")

    # -- publishing ----------------------------------------------------------------
    def apply(self, v: int) -> None:
        """Move commit ``v``'s staged partitions into place (each step can be repeated after a crash)."""
        f = self.plan_file(v)
        if not f.exists():
            return
        ops = json.loads(f.read_text())["ops"]
        stage, trash = self.staging(v), self.trash(v)
        for op in ops:
            table, month, mode = op["table"], op["month"], op["mode"]
            live = self.partition(table, month)
            rel = live.relative_to(self.root)
            if mode == "append":
                src = stage / "append" / rel
                if src.is_dir():
                    live.mkdir(parents=True, exist_ok=True)
                    for p in sorted(src.glob("*.parquet")):
                        os.replace(p, live / p.name)
                continue
            src = stage / "replace" / rel
            if mode == "drop" or src.exists():
                if live.exists():
                    (trash / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(live, trash / rel)
            if mode == "replace" and src.exists():
                live.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, live)
        _fsync_dir(self.root)
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(stage, ignore_errors=True)
        f.unlink(missing_ok=True)

    def discard(self, v: int) -> None:
        """Forget commit ``v`` (it never committed): its staged files and plan go."""
        self.plan_file(v).unlink(missing_ok=True)
        shutil.rmtree(self.staging(v), ignore_errors=True)

    def pending(self) -> list[int]:
        """Commits with a publish plan still on disk."""
        if not self.meta.is_dir():
            return []
        out = []
        for p in self.meta.glob("publish-*.json"):
            with contextlib.suppress(ValueError):
                out.append(int(p.stem.split("-", 1)[1]))
        return sorted(out)

    def recover(self, committed: int, *, writable: bool = True) -> None:
        """Finish the publish of every committed plan left on disk and forget uncommitted ones.

        Without ``writable`` (a reader that may not change the folder), an unfinished publish
        of a committed run is refused in one line rather than read half-applied.
        """
        pending = self.pending()
        if not writable:
            done = [v for v in pending if v <= committed]
            if done:
                raise StoreError(
                    f"the lake {self.root} has an unfinished publish (commit {done[0]}): open the store once "
                    "for writing (any `ctssw ingest ... --db`) to finish it"
                )
            return
        for v in pending:
            if v <= committed:
                self.apply(v)
            else:
                self.discard(v)
        for d in ("staging", "trash"):
            p = self.meta / d
            if p.is_dir():
                for x in p.iterdir():
                    shutil.rmtree(x, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
