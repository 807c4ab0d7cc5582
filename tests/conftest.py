"""Shared fixtures: one small simulated organisation, ingested once per test run; the store layouts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from layouts import LAYOUTS, lake_of

from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_KEY_DIRS: list[str] = []


def pytest_configure(config):
    """Every store the tests write is keyed by one identity key in a temporary folder
    (created on first use, mode 0600), never by the user's own key. Spark's JVMs read the
    user's class-data archive when there is one and never write one there (the tests that
    write one use a folder of their own)."""
    _check_free_space(config)
    if "CTSSW_IDENTITY_KEY" not in os.environ:
        _KEY_DIRS.append(tempfile.mkdtemp(prefix="ctssw-key-"))
        os.environ["CTSSW_IDENTITY_KEY"] = str(Path(_KEY_DIRS[0]) / "identity.key")
    os.environ.setdefault("CTSSW_SPARK_CDS", "read")


# A full `make test` grew /tmp by at most 0.75 GB (stores, lakes, Spark's folders; sampled every
# 15 s) before the run ended and removed those of passing tests. With less room than this margin
# a full disk fails hundreds of tests at once.
NEEDS_FREE_GB = 2


def _check_free_space(config) -> None:
    """One line instead of hundreds of "No space left on device" errors (the controlling process only)."""
    if hasattr(config, "workerinput"):
        return
    free = shutil.disk_usage(tempfile.gettempdir()).free / 2**30
    if free < NEEDS_FREE_GB:
        pytest.exit(f"the tests need about {NEEDS_FREE_GB} GB free in {tempfile.gettempdir()}; "
                    f"{free:.1f} GB is free there (set TMPDIR to a folder with room)", returncode=4)


def pytest_unconfigure(config):
    """The process that made the key's folder removes it (xdist's workers inherit the key)."""
    for d in _KEY_DIRS:
        shutil.rmtree(d, ignore_errors=True)


# How `make test` (-n 2 --dist loadfile) hands out the work: the longest first, by the seconds a
# recent run took (tests/durations.json, made by scripts/test_durations.py), so that no worker
# is left running a long file after the other has finished. The files of a folder named here share
# session-scoped servers (the backends' Spark session) and go to one worker, which starts them once.
DURATIONS = Path(__file__).with_name("durations.json")
ONE_WORKER = ("tests/backends/",)


def _scope(nodeid: str) -> str:
    file = nodeid.split("::", 1)[0]
    return next((d for d in ONE_WORKER if file.startswith(d)), file)


def pytest_collection_modifyitems(config, items):
    """Order the files longest scope first; each file's tests stay together, in their own order."""
    try:
        import json

        seconds = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        first.setdefault(_scope(item.nodeid), i)
    scopes = dict.fromkeys(first, 0.0)
    for file, s in seconds.items():
        if _scope(file) in scopes:
            scopes[_scope(file)] += s
    items.sort(key=lambda it: (-scopes[_scope(it.nodeid)], first[_scope(it.nodeid)]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` by :func:`_scope`, in the collected order (longest first)."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LongestFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    config.option.loadscopereorder = False
    return LongestFirst(config, log)


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sim")
    simulate(d, teams=40, weeks=60, seed=7)
    return d


@pytest.fixture(scope="session")
def store_path(sim_dir, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("store") / "ctssw.duckdb"
    with Store(p) as s:
        ingest_canonical(s, sim_dir)
    return p


@pytest.fixture()
def store(store_path):
    with Store(store_path, read_only=True) as s:
        yield s


@pytest.fixture(params=LAYOUTS)
def layout(request) -> str:
    return request.param


@pytest.fixture()
def new_store(layout):
    """``new_store(path, **kw)`` opens ``Store(path, **kw)`` in the layout under test: in the lake
    layout the store keeps its tables in ``lake_of(path)``."""

    def open_(path, **kw):
        if layout == "lake":
            kw.setdefault("lake", lake_of(path))
        return Store(path, **kw)

    return open_


@pytest.fixture(scope="session")
def lake_store_path(sim_dir, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("lake-store") / "ctssw.duckdb"
    with Store(p, lake=lake_of(p)) as s:
        ingest_canonical(s, sim_dir)
    return p


@pytest.fixture(params=LAYOUTS)
def any_store_path(request) -> Path:
    """The shared organisation's store, in each layout."""
    return request.getfixturevalue("store_path" if request.param == "db" else "lake_store_path")
