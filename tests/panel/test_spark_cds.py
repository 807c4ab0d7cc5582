"""The local Spark driver's class-data archive: where it lives, who writes it, and that a JVM
that failed or was killed never leaves one half-written (no JVM here: a stand-in process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ctssw.panel import _cds
from ctssw.panel.backend import JAVA_OPTIONS, java_available

pytestmark = pytest.mark.skipif(not java_available(), reason="needs a Java runtime")
pytest.importorskip("pyspark")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    for v in (*_cds._CLASSPATH_ENV, "CTSSW_SPARK_CDS"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("CTSSW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _dead_pid() -> int:
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(p.stdout)


def test_the_archive_is_keyed_on_the_options_and_kept_in_the_cache_folder(cache):
    import pyspark

    a = _cds.archive(JAVA_OPTIONS)
    assert a.parent == cache and a.name.startswith(f"spark-{pyspark.__version__}-") and a.suffix == ".jsa"
    assert _cds.archive(JAVA_OPTIONS) == a and _cds.archive("") != a


def test_a_class_path_ctssw_does_not_choose_or_the_switch_turns_it_off(cache, monkeypatch, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf))
    assert _cds.archive(JAVA_OPTIONS) is None and _cds.options(JAVA_OPTIONS) == ("", None)
    monkeypatch.delenv("SPARK_CONF_DIR")
    monkeypatch.setenv("CTSSW_SPARK_CDS", "0")
    assert _cds.archive(JAVA_OPTIONS) is None


def test_read_mode_uses_an_archive_but_never_writes_one(cache, monkeypatch):
    monkeypatch.setenv("CTSSW_SPARK_CDS", "read")
    final = _cds.archive(JAVA_OPTIONS)
    assert _cds.options(JAVA_OPTIONS) == ("", None) and not cache.exists()
    cache.mkdir()
    final.write_bytes(b"archive")
    assert _cds.options(JAVA_OPTIONS) == (f"-XX:SharedArchiveFile={final} {_cds.QUIET}", None)


def test_the_first_jvm_writes_a_part_of_its_own_and_later_ones_read_the_archive(cache):
    extra, part = _cds.options(JAVA_OPTIONS)
    final = _cds.archive(JAVA_OPTIONS)
    assert part == final.with_name(f"{final.name}.{os.getpid()}.part")
    assert extra == f"-XX:ArchiveClassesAtExit={part} {_cds.QUIET}" and part.exists()
    # claimed at once: a command started while this one runs leaves the archive to it
    assert _cds.options(JAVA_OPTIONS) == ("", None)
    final.write_bytes(b"archive")
    assert _cds.options(JAVA_OPTIONS) == (f"-XX:SharedArchiveFile={final} {_cds.QUIET}", None)


def test_one_writer_at_a_time_and_a_dead_writers_part_is_removed(cache):
    final = _cds.archive(JAVA_OPTIONS)
    cache.mkdir(parents=True)
    dead = final.with_name(f"{final.name}.{_dead_pid()}.part")
    dead.write_bytes(b"half")
    assert _cds.options(JAVA_OPTIONS)[1] is not None and not dead.exists()
    live = final.with_name(f"{final.name}.{os.getppid()}.part")  # a live process other than this one
    live.write_bytes(b"being written")
    assert _cds.options(JAVA_OPTIONS) == ("", None)
    # once an archive is in place, a dead writer's part is still removed
    final.write_bytes(b"archive")
    dead.write_bytes(b"half")
    assert _cds.options(JAVA_OPTIONS)[1] is None and not dead.exists() and live.exists()


class _Gateway:
    """pyspark's gateway as ``finish`` uses it: a process that exits when its standard input closes."""

    def __init__(self, part, code: int):
        # as the JVM does: write the archive at exit, then exit with ``code``
        script = f"import sys; sys.stdin.read(); open({str(part)!r}, 'wb').write(b'classes'); sys.exit({code})"
        self.proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)

    def shutdown(self):
        pass


def test_a_cache_folder_that_cannot_be_made_starts_the_jvm_without_an_archive(cache, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("CTSSW_CACHE_DIR", str(tmp_path / "file" / "cache"))
    assert _cds.options(JAVA_OPTIONS) == ("", None)


@pytest.mark.parametrize("code", [0, 1])
def test_the_archive_is_put_in_place_only_after_its_jvm_exited_cleanly(cache, monkeypatch, capsys, code):
    from pyspark import SparkContext

    _, part = _cds.options(JAVA_OPTIONS)
    final = _cds.archive(JAVA_OPTIONS)
    monkeypatch.setattr(SparkContext, "_gateway", _Gateway(part, code))
    monkeypatch.setattr(SparkContext, "_jvm", object())
    assert _cds.finish(part) is (code == 0)
    assert capsys.readouterr().err.startswith("Saving Spark's loaded classes so later commands start faster")
    assert final.exists() is (code == 0) and not part.exists()
    if code == 0:
        assert final.read_bytes() == b"classes"
    # the next session in this process starts a JVM of its own
    assert SparkContext._gateway is None and SparkContext._jvm is None
