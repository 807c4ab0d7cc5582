"""Class-data sharing for the local Spark driver's JVM: Spark's classes parsed and verified once
per machine, not once per command.

A ctssw command on Spark is a short-lived JVM that loads Spark SQL's, Hadoop's and Parquet's
classes while it starts and while it plans and runs its first queries. Java's dynamic
class-data sharing (JDK 13+) writes the classes a JVM loaded to an archive when it exits
(``-XX:ArchiveClassesAtExit``) and maps them at the next start (``-XX:SharedArchiveFile``):
``ctssw panel --backend spark`` on a 6-team store went from 37 s to 28 s on 2 cores
(benchmarks/results/spark_start_6x14.md).

The first command on a machine writes the archive (once; it cost that command about
40 s more on 2 cores, the same benchmark) to a name of its own under the cache folder (``$CTSSW_CACHE_DIR``, else
``$XDG_CACHE_HOME/ctssw``, else ``~/.cache/ctssw``); :func:`finish` renames it into place only
after its JVM has exited cleanly, so no command maps a half-written archive. The name is keyed
on what makes one JVM's archive useless to another (the Java runtime, pyspark, the options).
A JVM whose class path is not pyspark's own is left alone: with ``$SPARK_CONF_DIR`` or
Hadoop's configuration folders on it, the JVM would refuse to write the archive. The JVM's
messages about the archive are silenced; one that does not fit is ignored by the JVM.
``$CTSSW_SPARK_CDS``: ``on`` (the default), ``read`` (use an archive, never write one: a
runner whose commands must not pay for it) or ``off``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

QUIET = "-Xlog:cds*=off:stderr"
# each of these puts a folder on the driver's class path, and a JVM refuses to write an archive
# over a class path holding a folder with files in it
_CLASSPATH_ENV = ("SPARK_CONF_DIR", "HADOOP_CONF_DIR", "YARN_CONF_DIR", "SPARK_DIST_CLASSPATH", "SPARK_CLASSPATH")


def cache_dir() -> Path:
    if os.environ.get("CTSSW_CACHE_DIR"):
        return Path(os.environ["CTSSW_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ctssw"


def _mode() -> str:
    mode = os.environ.get("CTSSW_SPARK_CDS", "on").strip().lower()
    return "off" if mode in ("0", "false", "no", "off") else "read" if mode == "read" else "on"


def java_path() -> Path | None:
    """The Java runtime Spark's scripts run: $JAVA_HOME's, else the one on the PATH."""
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    return Path(java).resolve() if java else None


def archive(java_options: str) -> Path | None:
    """Where the archive of a local driver JVM started with ``java_options`` lives; None when
    ctssw leaves that JVM's classes alone."""
    if _mode() == "off":
        return None
    if any(os.environ.get(v) for v in _CLASSPATH_ENV):
        return None
    java = java_path()
    if java is None:
        return None
    import pyspark

    home = Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)
    conf = home / "conf"
    if conf.is_dir() and any(conf.iterdir()):
        return None
    lib = java.parent.parent / "lib" / "server" / "libjvm.so"
    st = (lib if lib.exists() else java).stat()
    key = "\0".join([str(java), str(st.st_size), str(st.st_mtime_ns), pyspark.__version__, str(home), java_options])
    return cache_dir() / f"spark-{pyspark.__version__}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.jsa"


def options(java_options: str) -> tuple[str, Path | None]:
    """The options to add to the driver JVM's, and the file this JVM writes its archive to
    (None when it reads an archive, or none)."""
    try:
        final = archive(java_options)
        if final is None:
            return "", None
        live = _writing(final)
        if final.exists():
            return f"-XX:SharedArchiveFile={final} {QUIET}", None
        if _mode() == "read":
            return "", None
        final.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(final.parent, os.W_OK) or live:
            return "", None
        part = final.with_name(f"{final.name}.{os.getpid()}.part")
        # claimed now, though the JVM writes it only as it exits: the commands that start meanwhile
        # see a live writer and leave the archive to it
        part.touch()
    except (OSError, RuntimeError):  # an unreadable folder, a full disk, no home folder: start without one
        return "", None
    return f"-XX:ArchiveClassesAtExit={part} {QUIET}", part


def process_gone(pid: str) -> bool:
    """Whether the process ``pid`` names no longer exists; an id that does not parse, or a
    process not ours to signal, counts as alive (what it owns is left alone)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        pass
    return False


def _writing(final: Path) -> bool:
    """Whether a live process is writing this archive; the parts of dead ones are removed."""
    live = False
    for part in final.parent.glob(f"{final.name}.*.part"):
        if process_gone(part.name.split(".")[-2]):
            part.unlink(missing_ok=True)
        else:
            live = True
    return live


def finish(part: Path, timeout: float = 300) -> bool:
    """After the session stopped: end its JVM, which writes ``part`` as it exits, and put the
    archive in place; True when it did. pyspark's JVM exits when its standard input closes."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None)
    if proc is None or proc.stdin is None:
        part.unlink(missing_ok=True)
        return False
    try:
        gateway.shutdown()
    except Exception:  # Py4J's own sockets; the JVM still exits below
        pass
    # the JVM writes while it exits: tens of seconds, once, so the command says why it waits
    print("Saving Spark's loaded classes so later commands start faster (once per machine)...",
          file=sys.stderr, flush=True)
    proc.stdin.close()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    # the next session in this process starts a JVM of its own
    SparkContext._gateway = None
    SparkContext._jvm = None
    final = part.with_name(part.name.rsplit(".", 2)[0])
    if code == 0 and part.exists() and part.stat().st_size > 0:
        os.replace(part, final)
        return True
    part.unlink(missing_ok=True)
    return False
