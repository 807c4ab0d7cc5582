"""How ctssw sizes a Spark session against a standalone cluster (no JVM: a stand-in context)."""

from __future__ import annotations

from ctssw.panel.backend import granted_cores


class _Status:
    def __init__(self, sizes):
        self.sizes = sizes

    def size(self):
        return self.sizes.pop(0) if len(self.sizes) > 1 else self.sizes[0]


class _Session:
    """What ``granted_cores`` reads: the executors registered (driver included) and the parallelism."""

    def __init__(self, sizes, parallelism):
        status = _Status(list(sizes))
        inner = type("Sc", (), {"getExecutorMemoryStatus": lambda self: status})()
        jsc = type("Jsc", (), {"sc": lambda self: inner})()
        self.sparkContext = type("Ctx", (), {"_jsc": jsc, "defaultParallelism": parallelism})()


def test_shuffle_partitions_follow_the_cores_granted_once_executors_register():
    # the driver alone at first, then the driver and three executors holding six cores
    assert granted_cores(_Session([1, 1, 4], parallelism=6), wait=5) == 6


def test_no_executor_within_the_wait_keeps_the_default():
    assert granted_cores(_Session([1], parallelism=2), wait=0.3) is None


def test_an_unreadable_context_keeps_the_default():
    broken = type("S", (), {"sparkContext": type("C", (), {"_jsc": None})()})()
    assert granted_cores(broken) is None


class _Conf:
    def __init__(self, n: int):
        self.d = {"spark.sql.shuffle.partitions": str(n)}

    def get(self, k):
        return self.d[k]

    def set(self, k, v):
        self.d[k] = v


def test_a_large_input_gets_a_shuffle_partition_per_64_mib_and_a_small_one_keeps_one_per_core():
    from ctssw.panel.backend import PARTITION_BYTES, size_partitions

    small = type("S", (), {"conf": _Conf(2)})()
    assert size_partitions(small, 50 * 2**20) == 2 and small.conf.d["spark.sql.shuffle.partitions"] == "2"
    big = type("S", (), {"conf": _Conf(2)})()
    assert size_partitions(big, 15 * 2**30) == 240 == 15 * 2**30 // PARTITION_BYTES
    assert big.conf.d["spark.sql.shuffle.partitions"] == "240"
    # never lowered below what the session (or its operator) set
    many = type("S", (), {"conf": _Conf(500)})()
    assert size_partitions(many, 15 * 2**30) == 500 and many.conf.d["spark.sql.shuffle.partitions"] == "500"


def test_a_killed_commands_spark_folder_is_swept_and_a_live_or_unknown_one_kept(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from ctssw.panel.backend import TEMP_PREFIX, sweep_stale_temp

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folders = {}
    for name, owner in (("dead", dead.stdout.strip()), ("live", str(__import__("os").getpid())), ("unknown", None)):
        d = tmp_path / f"{TEMP_PREFIX}{name}"
        (d / "tables").mkdir(parents=True)
        (d / "tables" / "commits.parquet").write_bytes(b"x" * 10)
        if owner is not None:
            (d / "owner").write_text(owner)
        folders[name] = d
    (tmp_path / "other-folder").mkdir()
    assert sweep_stale_temp() == [folders["dead"]]
    assert not folders["dead"].exists() and folders["live"].exists() and folders["unknown"].exists()
    assert (tmp_path / "other-folder").exists()


def test_the_jvms_running_rows_keep_the_optimising_jit_for_large_inputs(monkeypatch, tmp_path):
    from ctssw.panel._session import (
        JAVA_OPTIONS,
        LARGE_INPUT_BYTES,
        LARGE_INPUT_JAVA_OPTIONS,
        driver_java_options,
        executor_java_options,
    )
    from ctssw.panel.backend import _input_bytes

    monkeypatch.delenv("CTSSW_SPARK_EXECUTOR_JAVA_OPTIONS", raising=False)
    monkeypatch.delenv("CTSSW_SPARK_JAVA_OPTIONS", raising=False)
    assert "TieredStopAtLevel" in JAVA_OPTIONS and "TieredStopAtLevel" not in LARGE_INPUT_JAVA_OPTIONS
    assert executor_java_options(LARGE_INPUT_BYTES - 1) == JAVA_OPTIONS
    assert executor_java_options(LARGE_INPUT_BYTES) == LARGE_INPUT_JAVA_OPTIONS
    assert executor_java_options(None) == JAVA_OPTIONS  # no size given: as before
    # a local session's one JVM runs the rows; a cluster's driver only plans
    assert driver_java_options(LARGE_INPUT_BYTES, local=True) == LARGE_INPUT_JAVA_OPTIONS
    assert driver_java_options(LARGE_INPUT_BYTES - 1, local=True) == JAVA_OPTIONS
    assert driver_java_options(LARGE_INPUT_BYTES, local=False) == JAVA_OPTIONS
    monkeypatch.setenv("CTSSW_SPARK_JAVA_OPTIONS", "")  # the JVM default everywhere
    assert executor_java_options(1) == "" and driver_java_options(1, local=True) == ""
    monkeypatch.setenv("CTSSW_SPARK_EXECUTOR_JAVA_OPTIONS", "-Xss4m")
    assert executor_java_options(None) == "-Xss4m" and driver_java_options(None, local=False) == ""
    assert driver_java_options(None, local=True) == ""
    # what the command reads: a store file, or a lake's table files (not its other files); a URL's
    # size is unknown
    (tmp_path / "lake" / "changes" / "month=2025-01").mkdir(parents=True)
    (tmp_path / "lake" / "changes" / "month=2025-01" / "part-0.parquet").write_bytes(b"x" * 300)
    (tmp_path / "lake" / "tables.json").write_bytes(b"y" * 20)
    (tmp_path / "store.duckdb").write_bytes(b"z" * 50)
    assert _input_bytes(tmp_path / "lake") == 300 and _input_bytes(tmp_path / "store.duckdb") == 50
    assert _input_bytes("s3a://bucket/lake") == LARGE_INPUT_BYTES  # a remote lake counts as large
