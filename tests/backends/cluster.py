"""A real Spark standalone cluster on 127.0.0.1, started with pyspark's own scripts.

``start_cluster`` runs one master and N one-core workers (``bin/spark-class``,
each worker's folder under ``root``) and waits until the master reports them alive;
``start_connect`` runs a Spark Connect server on that cluster (``bin/spark-submit
--class ...SparkConnectServer``) and waits until it answers. ``Cluster.stop`` ends
every process it started (its own process group, so the executors the workers
launched go with them) and waits for them. Ports are picked free at start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ctssw.panel.backend import JAVA_OPTIONS

CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    master_url: str = ""
    master_ui: str = ""
    connect_url: str | None = None
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """What a process talking to this cluster on loopback needs."""
        conf = self.root / "conf"
        conf.mkdir(exist_ok=True)
        return {
            **os.environ,
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(conf),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(self.root / "logs"),
            "SPARK_DAEMON_MEMORY": "256m",
            "SPARK_WORKER_DIR": str(self.root / "work"),
            "SPARK_NO_DAEMONIZE": "1",
        }

    def _spawn(self, name: str, cmd: list[str], **env: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "wb")
        p = subprocess.Popen(cmd, env={**self.env(), **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append((name, p))
        return p

    def log_tail(self, name: str, n: int = 30) -> str:
        p = self.root / f"{name}.log"
        return "\n".join(p.read_text(errors="replace").splitlines()[-n:]) if p.exists() else ""

    def state(self) -> dict:
        with urllib.request.urlopen(self.master_ui + "/json/", timeout=5) as r:
            return json.load(r)

    def stop(self) -> None:
        """End every process this cluster started (newest first) and wait for each."""
        for _, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, p in reversed(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        self.procs.clear()


def _wait(what: str, ok, cluster: Cluster, name: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        proc = dict(cluster.procs).get(name)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: {name} exited with {proc.returncode}\n{cluster.log_tail(name)}")
        try:
            if ok():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f} s\n{cluster.log_tail(name)}")


def start_cluster(
    root: Path, *, workers: int = 2, worker_memory: str = "1g", executor_memory: str | None = None, timeout: float = 180,
) -> Cluster:
    """One master and ``workers`` one-core workers on 127.0.0.1; returns when all are registered.

    ``worker_memory`` is what each worker may hand out; an application's executors take Spark's
    ``spark.executor.memory`` (1g unless set). ``executor_memory`` sets it in the cluster's
    ``conf/spark-defaults.conf``, which a process started with :meth:`Cluster.env` reads, as an
    operator's spark-submit would.
    """
    root.mkdir(parents=True, exist_ok=True)
    c = Cluster(root=root)
    if executor_memory is not None:
        (root / "conf").mkdir(exist_ok=True)
        (root / "conf" / "spark-defaults.conf").write_text(f"spark.executor.memory {executor_memory}\n")
    spark_class = str(spark_home() / "bin" / "spark-class")
    port, ui = free_port(), free_port()
    c.master_url, c.master_ui = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}"
    try:
        c._spawn("master", [spark_class, "org.apache.spark.deploy.master.Master",
                            "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)])
        _wait("spark master", lambda: c.state().get("status") == "ALIVE", c, "master", timeout)
        for i in range(workers):
            work = root / f"worker-{i}"
            work.mkdir(exist_ok=True)
            c._spawn(f"worker-{i}", [
                spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                "--webui-port", str(free_port()), "--cores", "1", "--memory", worker_memory,
                "--work-dir", str(work), c.master_url,
            ])
        _wait(f"{workers} spark workers", lambda: c.state().get("aliveworkers") == workers, c, f"worker-{workers - 1}", timeout)
    except BaseException:
        c.stop()
        raise
    return c


def start_connect(c: Cluster, *, cores: int = 1, shuffle_partitions: int = 2, timeout: float = 180) -> str:
    """A Spark Connect server running as an application on the cluster; returns its ``sc://`` URL.

    It holds ``cores`` of the cluster's cores for its whole life, so other
    applications still get the rest.
    """
    port = free_port()
    warehouse = c.root / "connect-warehouse"
    c._spawn("connect", [
        str(spark_home() / "bin" / "spark-submit"), "--master", c.master_url,
        "--class", CONNECT_CLASS,
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", f"spark.cores.max={cores}", "--conf", "spark.executor.memory=512m",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", f"spark.sql.warehouse.dir={warehouse}",
        # sized like ctssw's own sessions: client JIT only, one shuffle partition per cluster core
        "--conf", f"spark.driver.extraJavaOptions=-Djava.io.tmpdir={c.root} {JAVA_OPTIONS}",
        "--conf", f"spark.executor.extraJavaOptions={JAVA_OPTIONS}",
        "--conf", f"spark.sql.shuffle.partitions={shuffle_partitions}",
        "spark-internal",
    ], SPARK_DAEMON_MEMORY="1g")  # spark-submit sizes the Connect server's driver as a daemon

    def answers() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True

    _wait("spark connect server", answers, c, "connect", timeout)
    c.connect_url = f"sc://127.0.0.1:{port}"
    return c.connect_url
