"""Where the canonical tables live for the panel and metrics: DuckDB (the store) or Spark.

The Ibis expressions in this package are backend-neutral; this module only opens a
backend and, for Spark, hands it the store's canonical tables: written once to
Parquet by DuckDB and read by Spark (local sessions), or sent through Arrow
(remote sessions, which cannot see this machine's files).

A store whose tables live in a lake (docs/lake.md) is read in place: DuckDB through views
over the Parquet files, Spark with ``spark.read.parquet`` on the lake's paths (any path its
executors see: a local folder, ``hdfs://``, ``s3a://``), never through the DuckDB file.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError, CtsswError, StoreError
from ._session import (  # noqa: F401  (the session's names, where callers have found them)
    JAVA_OPTIONS,
    TEMP_PREFIX,
    SparkHandle,
    _first_line,
    granted_cores,
    java_available,
    running_session,
    spark_session,
    stop_session,
    sweep_stale_temp,
)

BACKENDS = ("duckdb", "spark")
CANONICAL = (
    "teams", "memberships", "repos", "services", "commits", "changes", "deployments",
    "deployment_commits", "incidents", "pages", "tool_usage", "costs",
)


def on_duckdb(con) -> bool:
    """Whether the Ibis backend ``con`` is DuckDB: the expressions that use DuckDB's own
    functions (hashes, lists, epoch_us, the as-of join) are chosen by this, the portable ones
    otherwise."""
    return getattr(con, "name", "") == "duckdb"



def load_into_spark(store, con, tables: tuple[str, ...] = CANONICAL, *, folder: str | Path | None = None) -> list[str]:
    """Give the Ibis PySpark backend ``con`` the store's canonical tables, as temp views.

    With ``folder`` (one Spark's executors can read), DuckDB writes each table there
    as Parquet and Spark reads it: the rows never pass through the driver. Without
    it, each table is sent through Arrow, and a ``createDataFrame`` keeps every row
    in the driver's heap for the session's life, which starves the joins and
    aggregations of memory on a large store.
    """
    if folder is not None:
        return _load_parquet(store, con, tables, Path(folder))
    done, size = [], 0
    for t in tables:
        arrow = store.con.sql(_parquet_select(store.con, t)).to_arrow_table()
        arrow = _spark_safe(arrow)
        size += arrow.nbytes  # in memory, larger than the Parquet: errs towards more partitions
        df = con._session.createDataFrame(arrow, schema=_spark_schema(arrow.schema))
        df.createOrReplaceTempView(t)
        done.append(t)
    size_partitions(con._session, size)
    return done


def _load_parquet(store, con, tables: tuple[str, ...], folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    done, size = [], 0
    for t in tables:
        path = folder / f"{t}.parquet"
        target = str(path).replace("'", "''")
        store.con.execute(f"COPY ({_parquet_select(store.con, t)}) TO '{target}' (FORMAT parquet)")
        size += path.stat().st_size
        # the schema given, from the file's footer read here: inferring it costs Spark a job per table
        ddl, reader = _spark_schema(pq.read_schema(path), strict=True), con._session.read
        (reader.schema(ddl) if ddl else reader).parquet(str(path)).createOrReplaceTempView(t)
        done.append(t)
    size_partitions(con._session, size)
    return done


#: Parquet input per shuffle partition, past one partition per granted core. One partition per
#: core keeps a small organisation's ~45 shuffle stages cheap (a 200-team panel took 10.9 s warm
#: with 200 partitions coalesced by Spark's adaptive execution, 9.0 s with 2); a large input is
#: split so that no task holds a large share of a table. At 10,000 teams × 260 weeks (12 GiB of
#: Parquet, 191 partitions) the panel took 539 s on two one-core workers with 4 GB executors,
#: against 587 s with 2 partitions (one run each; benchmarks/results/spark-10k.md).
PARTITION_BYTES = 64 * 2**20


def size_partitions(session, nbytes: int) -> int:
    """Raise ``spark.sql.shuffle.partitions`` to one per :data:`PARTITION_BYTES` of input
    (never lower it); returns the number in force."""
    have = int(session.conf.get("spark.sql.shuffle.partitions"))
    want = -(-int(nbytes) // PARTITION_BYTES)
    if want > have:
        session.conf.set("spark.sql.shuffle.partitions", str(want))
    return max(have, want)


def _lake_bytes(session, root: str, tables: tuple[str, ...]) -> int | None:
    """The size of the tables' files under ``root``: from the file system here, or through Spark's
    Hadoop file system for a URL; None where neither can tell (Spark Connect, a path gone)."""
    from ..store import is_remote

    if not is_remote(root):
        return sum(f.stat().st_size for t in tables for f in (Path(root) / t).rglob("*.parquet"))
    try:
        fs, fs_path = _hadoop_fs(session, root)
        return int(fs.getContentSummary(fs_path).getLength())
    except Exception:  # Spark Connect has no JVM here; an unreachable store is reported on read
        return None


def _parquet_select(duck, table: str) -> str:
    """The table without its lineage columns and identifier keys; a naive timestamp is taken as UTC.

    The keys (``ctssw.store._idkeys``) are unsigned 64-bit, which Spark has no type for; its
    linkage joins the strings.

    Parquet marks TIMESTAMPTZ as a UTC instant, which Spark reads as its TIMESTAMP
    (shown in the UTC session zone); a naive one would come back as TIMESTAMP_NTZ.
    """
    from ..store import TABLES

    left_out = ["source", "ingested_at", *(TABLES[table].key_columns if table in TABLES else [])]
    rows = duck.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND NOT list_contains(?, column_name) ORDER BY ordinal_position",
        [table, left_out],
    ).fetchall()
    cols = []
    for name, typ in rows:
        q = '"' + name.replace('"', '""') + '"'
        cols.append(f"timezone('UTC', {q}) AS {q}" if typ.startswith("TIMESTAMP") and "TIME ZONE" not in typ else q)
    return f'SELECT {", ".join(cols)} FROM "{table}"'


def _spark_safe(arrow):
    """Timestamps as naive UTC microseconds (the session zone is UTC), as Spark stores them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for f, col in zip(arrow.schema, arrow.columns):
        if pa.types.is_timestamp(f.type):
            col = pc.cast(col, pa.timestamp("us", tz="UTC"))
        cols.append(col)
    return pa.table(cols, names=arrow.schema.names)


def _spark_schema(schema, *, strict: bool = False) -> str | None:
    """Spark's DDL for an Arrow schema (an unknown type as a string); ``strict``: None unless all are the store's."""
    import pyarrow as pa

    def t(x) -> str:
        if pa.types.is_timestamp(x):
            return "timestamp"
        if pa.types.is_date(x):
            return "date"
        if pa.types.is_boolean(x):
            return "boolean"
        if pa.types.is_integer(x):
            return "bigint" if x.bit_width > 32 else "int"
        if pa.types.is_floating(x):
            return "double"
        return "string"

    # the store's types: a naive timestamp is Spark's TIMESTAMP_NTZ, a narrower number another type
    stored = (pa.string(), pa.large_string(), pa.date32(), pa.bool_(), pa.int32(), pa.int64(), pa.float64())
    if strict and not all(f.type in stored or pa.types.is_timestamp(f.type) and f.type.tz for f in schema):
        return None
    return ", ".join(f"`{f.name}` {t(f.type)}" for f in schema)


_SPARK_TYPES = {
    "VARCHAR": "string", "TIMESTAMPTZ": "timestamp", "DATE": "date", "BIGINT": "bigint",
    "INTEGER": "int", "DOUBLE": "double", "BOOLEAN": "boolean",
}


def _hadoop_fs(session, url: str):
    """``(file system, path)`` of ``url`` through the session's JVM (raises without one)."""
    fs_path = session._jvm.org.apache.hadoop.fs.Path(url)
    return fs_path.getFileSystem(session._jsc.hadoopConfiguration()), fs_path


def _lake_has(session, path: str) -> bool | None:
    """Whether the folder ``path`` exists: on this machine's file system, or through Spark's Hadoop
    file system for a URL; None where neither can tell (Spark Connect has no JVM here)."""
    from ..store import is_remote

    if not is_remote(path):
        return Path(path).is_dir()
    try:
        fs, fs_path = _hadoop_fs(session, path)
        return bool(fs.exists(fs_path))
    except Exception:  # no JVM, or a store that does not answer: the read below says so
        return None


def load_lake_into_spark(con, lake: str | Path, tables: tuple[str, ...] = CANONICAL) -> list[str]:
    """Give the Ibis PySpark backend ``con`` the lake's tables as temp views read with
    ``spark.read.parquet`` from ``lake`` (a path the executors see: local, ``hdfs://``, ``s3a://``).

    Each view has the schema's columns and types, as DuckDB reads them: a column a file lacks
    (written before the column joined the schema) reads as its default, or NULL; a table with
    no file yet is empty; the month partition column and the lineage columns are left out.
    """
    from pyspark.sql import functions as F

    from ..store import TABLES, is_remote

    session = con._session
    root = str(lake) if is_remote(lake) else str(Path(lake).expanduser().absolute())
    done = []
    for t in tables:
        cols = [(TABLES[t].stored_name(c), _SPARK_TYPES[c.type], c.default) for c in TABLES[t].columns]
        ddl = ", ".join(f"`{n}` {typ}" for n, typ, _ in cols)
        path = f"{root.rstrip('/')}/{t}"
        df = None
        # a table the lake has no folder for is not read: Spark would print a Java stack trace for
        # the missing path to the command's standard error (as a warning) before failing the read
        if _lake_has(session, path) is not False:
            try:
                # the schema given: Spark reads a column a file lacks as NULL, and merging the files'
                # schemas instead would cost a job per table
                df = session.read.schema(ddl).parquet(path)
            except Exception as e:  # AnalysisException: no file of this table yet
                if "PATH_NOT_FOUND" not in str(e) and "does not exist" not in str(e) and "UNABLE_TO_INFER_SCHEMA" not in str(e):
                    raise
        if df is None:
            df = session.createDataFrame([], ddl)

        def col(n: str, default: str | None):
            got = F.col(f"`{n}`")
            return got if default is None else F.coalesce(got, F.expr(default))

        # only the schema's columns (not the month partition column), each with its default
        df = df.select(*[col(n, d).cast(typ).alias(n) for n, typ, d in cols])
        df.createOrReplaceTempView(t)
        done.append(t)
    size = _lake_bytes(session, root, tables)
    if size is not None:
        size_partitions(session, size)
    return done


def connect(
    backend: str = "duckdb", *, db: str | Path = "ctssw.duckdb", spark_url: str | None = None,
    lake: str | Path | None = None,
):
    """Open the canonical tables on ``backend``; returns ``(ibis_con, close)``.

    ``lake``: the folder (or, for Spark, any URL its executors read) of the store's lake,
    when it is not where the store recorded it; a store with a lake is read from it without
    this too. With Spark and a lake the DuckDB file is opened only to finish an interrupted
    publish and find the lake (and not at all for a URL, or when ``db`` does not exist).
    ``close()`` releases what this call opened (the store, and the Spark session
    when ctssw started it). In a process that already runs a Spark context (a notebook's
    ``spark``), Spark works in a session of its own on that context, which closing leaves
    running (:func:`running_session`).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    hit = _SHARED.get(_key(backend, db, spark_url, lake))
    if hit is not None:
        return hit, _keep_open
    from ..store import check_lake, is_remote, open_lake

    check_lake(backend, lake)
    remote = lake is not None and is_remote(lake)
    if not Path(db).exists() and not (backend == "spark" and lake is not None):
        raise StoreError(f"no store at {db}: run `ctssw ingest` first")
    if backend == "duckdb":
        store = open_lake(lake, db=db)
        return store.ibis(), store.close
    store = None
    if Path(db).exists() and not remote:
        store = open_lake(lake, db=db)
        if store.lake is not None:
            lake = str(store.lake.root)
            store.close()
            store = None
    import ibis

    try:
        running = running_session(spark_url)
        session, tmp = running or spark_session(spark_url, input_bytes=_input_bytes(db if store is not None else lake))
    except BaseException:
        if store is not None:
            store.close()
        raise
    owned = running is None
    try:
        con = ibis.pyspark.connect(session)
        local = _is_local(session) if running else spark_url is None or spark_url.startswith("local")
        if store is None:
            load_lake_into_spark(con, lake)
        else:
            # a remote cluster cannot read this machine's files, so only local sessions get Parquet
            load_into_spark(store, con, folder=tmp / "tables" if local else None)
    except CtsswError:
        SparkHandle(session=session, con=None, tmp=tmp, owned=owned).close()
        raise
    except Exception as e:  # Py4J, Spark Connect (gRPC) and Spark's own errors: one line, no trace
        SparkHandle(session=session, con=None, tmp=tmp, owned=owned).close()
        raise StoreError(f"Spark at {spark_url or 'local'} failed loading the store's tables: {_first_line(e)}") from None
    finally:
        if store is not None:
            store.close()
    h = SparkHandle(session=session, con=con, tmp=tmp, owned=owned)
    return con, h.close


def _input_bytes(source) -> int:
    """The bytes of a store file, or of a lake's table files on this machine (as
    :func:`_lake_bytes` counts them); for a URL (a remote lake, whose size is not looked up before
    the session starts) the size from which the Spark JVMs count an input as large."""
    from ..store import is_remote
    from ._session import LARGE_INPUT_BYTES

    if is_remote(source):
        return LARGE_INPUT_BYTES
    p = Path(source).expanduser().absolute()
    if p.is_file():
        return p.stat().st_size
    return _lake_bytes(None, str(p), CANONICAL)


def _is_local(session) -> bool:
    """Whether ``session``'s executors run in this machine's driver JVM (they read its files)."""
    return session.sparkContext.master.startswith("local")


_SHARED: dict = {}


def _key(backend: str, db, spark_url, lake) -> tuple:
    return (backend, str(Path(db).absolute()), spark_url, None if lake is None else str(lake))


def is_shared(con) -> bool:
    """Whether ``con`` is the connection an open :func:`shared_connection` block holds."""
    return any(c is con for c in _SHARED.values())


def _keep_open() -> None:
    """``close`` of a shared connection: :func:`shared_connection` closes it when its block ends."""


@contextmanager
def shared_connection(
    backend: str = "duckdb", *, db: str | Path = "ctssw.duckdb", spark_url: str | None = None,
    lake: str | Path | None = None,
):
    """Within the block, :func:`connect` with these arguments returns one connection, closed at the end.

    A command that builds several panels (``ctssw report``: drivers, impact, tools, metrics) opens
    the store once, and on Spark starts one session and loads the tables once. The panel is then
    built once too: what ``ctssw.metrics`` keeps for a connection outlives one caller only when the
    connection is shared (``ctssw.pipeline._shared.section_panel``).
    """
    key = _key(backend, db, spark_url, lake)
    if key in _SHARED:  # an enclosing block already holds it
        yield _SHARED[key]
        return
    con, close = connect(backend, db=db, spark_url=spark_url, lake=lake)
    _SHARED[key] = con
    try:
        yield con
    finally:
        del _SHARED[key]
        close()
