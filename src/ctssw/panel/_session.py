"""Spark sessions as ctssw opens them: local (one JVM), a standalone cluster (``spark://``) or
Spark Connect (``sc://``), each with a temporary folder of its own that closing removes."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, StoreError
from . import _cds


@dataclass
class SparkHandle:
    """A Spark session opened by ctssw, and the temporary folder it owns.

    ``owned``: ctssw started the session's Spark context and stops it on closing; a session on a
    context already running in the process (:func:`running_session`) only loses its temporary
    views and folder.
    """

    session: object
    con: object
    tmp: Path
    owned: bool = True

    def close(self) -> None:
        if self.owned:
            stop_session(self.session, self.tmp)
            return
        try:
            for t in self.session.catalog.listTables():
                if t.isTemporary:
                    self.session.catalog.dropTempView(t.name)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def java_available() -> bool:
    """Whether a Java runtime is on the PATH (or JAVA_HOME), as local Spark needs one."""
    return _cds.java_path() is not None


DRIVER_MEMORY = "4g"
# Client JIT only: a ctssw command is a short-lived JVM that compiles many small generated
# plans once each, and on 2 shared cores the optimising compiler's threads cost more than
# they return (benchmarks/results/spark.md). That JIT's code cache (48 MB by default) fills up in a
# command that plans many queries (ctssw report) and the JVM then stops compiling, so it is made
# as large as the tiered default. The JVM's own warnings go to standard error, never into a
# command's output. $CTSSW_SPARK_JAVA_OPTIONS replaces them ("" for the JVM default).
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -Xlog:disable -Xlog:all=warning:stderr"
# A JVM that processes the rows (a cluster's executors, or a local session's one JVM) keeps the
# JVM's optimising compiler when the input is large; there the client JIT's code is slower. On
# two one-core workers `ctssw metrics` took 134.7 s with it against 192.5 s with JAVA_OPTIONS at
# 1,000 teams × 260 weeks (a 1.3 GB lake), but 52.1-52.4 s against 40.6-42.4 s at 200 × 104
# (101 MB), where compiling costs more than it returns; locally (local[2]) at 1,000 teams the panel
# took 52.9 s against 79.5 s (benchmarks/results/spark.md). The threshold lies between the sizes
# measured. A session opened without a size (a caller's own) keeps JAVA_OPTIONS; ctssw's commands
# count a remote lake, whose size they cannot see, as large. A cluster's driver only
# plans, so it keeps JAVA_OPTIONS. $CTSSW_SPARK_JAVA_OPTIONS replaces the driver's choice (and the
# executors', unless $CTSSW_SPARK_EXECUTOR_JAVA_OPTIONS replaces theirs).
LARGE_INPUT_JAVA_OPTIONS = "-Xlog:disable -Xlog:all=warning:stderr"
LARGE_INPUT_BYTES = 400 * 2**20

# The driver's log: Spark's own layout at warning level (a cluster that grants no cores still says
# so), without the warnings a ctssw command sets off by itself and a user cannot act on: Hadoop's
# missing native library, the length of a plan's printed form.
# Spark's default profile prints these and its own start-up lines to the command's standard error.
# A log4j2.properties in $SPARK_CONF_DIR, or log4j2.configurationFile in the Java options, wins.
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
logger.plan.name = org.apache.spark.sql.catalyst.util.SparkStringUtils
logger.plan.level = error
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
"""


def log_options(tmp: Path, java: str) -> str:
    """``-Dlog4j2.configurationFile`` naming :data:`LOG4J2`, written under ``tmp``; "" where the user
    configures Spark's log (``java`` names a file, or ``$SPARK_CONF_DIR`` holds one)."""
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    if "log4j2.configurationFile" in java or (conf_dir and (Path(conf_dir) / "log4j2.properties").exists()):
        return ""
    (tmp / "log4j2.properties").write_text(LOG4J2)
    return f"-Dlog4j2.configurationFile=file:{tmp / 'log4j2.properties'}"


def _for_rows(input_bytes: int | None) -> str:
    large = input_bytes is not None and input_bytes >= LARGE_INPUT_BYTES
    return LARGE_INPUT_JAVA_OPTIONS if large else JAVA_OPTIONS


def driver_java_options(input_bytes: int | None, *, local: bool) -> str:
    """The driver JVM's options; ``local``: the driver runs the executor too (local mode)."""
    if "CTSSW_SPARK_JAVA_OPTIONS" in os.environ:
        return os.environ["CTSSW_SPARK_JAVA_OPTIONS"]
    return _for_rows(input_bytes) if local else JAVA_OPTIONS


def executor_java_options(input_bytes: int | None) -> str:
    """A cluster's executors' JVM options for an input of ``input_bytes`` (None: not given)."""
    for name in ("CTSSW_SPARK_EXECUTOR_JAVA_OPTIONS", "CTSSW_SPARK_JAVA_OPTIONS"):
        if name in os.environ:
            return os.environ[name]
    return _for_rows(input_bytes)


def running_session(url: str | None = None):
    """``(session, tmp)``: a new session on the Spark context this process already runs (a
    notebook's ``spark``, a Databricks cluster's), or None when there is none.

    A process holds one Spark context, and stopping it would end the notebook's work too, so ctssw
    works in a session of its own on that context (``newSession``: its own temporary views and SQL
    settings) and never stops it; the notebook's views and settings are left as they were. A
    ``spark://`` or ``local`` URL other than the running context's master is refused in one line;
    ``sc://`` (Spark Connect, a client of a remote server) always opens its own session.
    """
    if url is not None:
        check_spark_url(url)
        if url.startswith("sc://"):
            return None
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    sc = SparkContext._active_spark_context
    if sc is None:
        return None
    if url is not None and url != sc.master:
        raise ConfigError(
            f"this process already runs Spark on {sc.master} and holds one Spark context at a time: "
            f"leave out the Spark URL to work on it, or stop it first (spark.stop())"
        )
    base = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    session = base.newSession()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    (tmp / "owner").write_text(str(os.getpid()))
    return session, tmp


def spark_session(
    url: str | None = None, *, cores: int = 2, app: str = "ctssw", memory: str | None = None,
    conf: dict[str, str] | None = None, input_bytes: int | None = None,
):
    """A Spark session: local mode by default, ``spark://host:port`` or ``sc://host:port`` (Spark Connect).

    The UI is off, the session time zone is UTC and the warehouse lives in a
    temporary folder, so nothing lands in the working directory. A local session's
    JVM (driver and executor in one) gets ``memory`` of heap (``$CTSSW_SPARK_MEMORY``,
    else 4g): with Spark's own 1g, the joins and aggregations of a 200-team panel
    leave little headroom, and a fuller heap spends its time in GC. The driver's JVM (a local
    session's only one) runs with :func:`driver_java_options`, a cluster's executors with
    :func:`executor_java_options`, both for ``input_bytes`` (the size of what the command reads,
    when known). ``conf``: more Spark settings
    (``{"spark.executor.memory": "4g"}``), applied last; a command reads them from
    ``$SPARK_CONF_DIR/spark-defaults.conf``, as spark-submit does.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the spark backend needs pyspark: pip install 'ibis-framework[pyspark]'") from None
    if url is not None:
        check_spark_url(url)
    sweep_stale_temp()
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    (tmp / "owner").write_text(str(os.getpid()))
    if url is not None and url.startswith("sc://"):
        try:
            import grpc  # noqa: F401  (Spark Connect's client transport)
        except ImportError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ConfigError("sc:// (Spark Connect) needs pyspark's connect extra: pip install 'pyspark[connect]'") from None
        b = SparkSession.builder.remote(url)
    else:
        if not java_available():
            raise ConfigError("the spark backend needs Java (17) on the PATH or in JAVA_HOME")
        java = driver_java_options(input_bytes, local=url is None or url.startswith("local"))
        cds, part = _cds.options(java)
        if part is not None:
            (tmp / "cds-part").write_text(str(part))
        b = SparkSession.builder.master(url or f"local[{cores}]")
        b = (
            b.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(max(2, cores)))
            .config("spark.driver.memory", memory or os.environ.get("CTSSW_SPARK_MEMORY", DRIVER_MEMORY))
            # Spark's scratch folders (spark.local.dir) default to java.io.tmpdir, so they land in the
            # session's folder, which closing removes; setting spark.local.dir itself only made Spark
            # warn that a cluster manager would override it
            .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={tmp} {log_options(tmp, java)} {java} {cds}".strip())
            .config("spark.executor.extraJavaOptions", executor_java_options(input_bytes))
        )
    b = (
        b.appName(app)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp / "warehouse"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    try:
        session = b.getOrCreate()
    except Exception as e:  # the JVM or the Connect channel did not come up
        if (tmp / "cds-part").exists():  # no JVM to write it: give up the claim
            Path((tmp / "cds-part").read_text()).unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"cannot start a Spark session on {url or 'local'}: {_first_line(e)}") from None
    if url is not None and url.startswith("spark://"):
        granted = granted_cores(session)
        if granted:
            session.conf.set("spark.sql.shuffle.partitions", str(max(2, granted)))
    return session, tmp


TEMP_PREFIX = "ctssw-spark-"


def sweep_stale_temp() -> list[Path]:
    """Remove the temporary folders of Spark sessions whose command is gone without closing them
    (killed: a 10,000-team command leaves 12 GiB of Parquet copies there); returns them.

    A folder is removed only when its ``owner`` file names a process that no longer exists; one
    without it, or whose process lives (or whose id was reused), is left alone.
    """
    gone = []
    for d in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            owner = (d / "owner").read_text()
        except OSError:  # no owner file, or unreadable
            continue
        if _cds.process_gone(owner):
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone


def granted_cores(session, wait: float = 15.0) -> int | None:
    """The executor cores a standalone cluster has granted this application, once they register.

    One shuffle partition per granted core: a few per core only multiply the tasks of a
    command's hundreds of small shuffles, and the adaptive execution coalesces reads, not
    the map side's writes. None when no executor registered within ``wait`` seconds (the
    session keeps its default; the first query waits for executors anyway).
    """
    import time

    sc = session.sparkContext
    end = time.monotonic() + wait
    while True:
        try:
            # the driver is listed too; every other entry is an executor
            executors = sc._jsc.sc().getExecutorMemoryStatus().size() - 1
        except Exception:  # a Py4J change: keep the default
            return None
        if executors > 0:
            return int(sc.defaultParallelism)
        if time.monotonic() >= end:
            return None
        time.sleep(0.2)


_DEFAULT_PORT = {"spark": 7077, "sc": 15002}


def check_spark_url(url: str) -> None:
    """Refuse a malformed Spark URL, and a cluster that does not answer, in one clear line.

    ``local``/``local[N]`` needs nothing; ``spark://host:port`` (a standalone master)
    and ``sc://host:port`` (Spark Connect) must accept a TCP connection within 5 s,
    so an unreachable cluster fails at once instead of after Spark's own retries.
    """
    if url == "local" or (url.startswith("local[") and url.endswith("]")):
        return
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _DEFAULT_PORT or not rest:
        raise ConfigError(f"--spark-url must be local[N], spark://host:port or sc://host:port; got {url!r}")
    hostport = rest.split("/", 1)[0].split(";", 1)[0]
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    try:
        port_n = int(port) if port else _DEFAULT_PORT[scheme]
    except ValueError:
        raise ConfigError(f"--spark-url has a bad port: {url!r}") from None
    try:
        with socket.create_connection((host.strip("[]"), port_n), timeout=5):
            pass
    except OSError as e:
        raise StoreError(f"cannot reach the Spark cluster at {url}: {e.strerror or e}") from None


def stop_session(session, tmp: Path) -> None:
    """Stop a session :func:`spark_session` started and remove its folder; a JVM writing the
    class-data archive (:mod:`._cds`) is let finish first."""
    session.stop()
    marker = Path(tmp) / "cds-part"
    if marker.exists():
        _cds.finish(Path(marker.read_text()))
    shutil.rmtree(tmp, ignore_errors=True)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"
