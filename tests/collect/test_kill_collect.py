"""SIGKILL ``ctssw collect github`` while it downloads and while it loads, then ``ctssw metrics``:
the numbers from before the collect (with a warning naming the unfinished run once it had begun
loading), or the numbers after it; never silently different numbers. Running it again converges
to the numbers of an uninterrupted collect."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from ctssw.errors import DataWarning
from ctssw.pipeline.metrics import metrics_table
from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

from .test_cli_e2e import CLI, _args, _env


def _read(db: Path) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        rows, *_ = metrics_table(db, k=3)
        with Store(db, read_only=True) as s:
            counts = s.counts()
    said = [str(w.message) for w in caught if issubclass(w.category, DataWarning) and "INCOMPLETE LOAD" in str(w.message)]
    return rows.sort_values("group").reset_index(drop=True), counts, said


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, check_dtype=False)
    except AssertionError:
        return False
    return True


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("killcollect")
    simulate(d / "sim", teams=6, weeks=16, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(d / "base.duckdb") as s:
            ingest_canonical(s, d / "sim")
    return d / "base.duckdb"


def _outcome(db: Path, pre, post) -> str:
    rows, counts, said = _read(db)
    if said:
        assert "`ctssw collect github`" in said[0] and "run it again" in said[0], said
        assert _same(rows, pre[0]) and counts == pre[1], "a killed collect changed the numbers"
        return "warned, pre-collect numbers"
    if counts == pre[1]:
        assert _same(rows, pre[0])
        return "pre-collect numbers, no warning (killed before it began loading)"
    assert _same(rows, post[0]) and counts == post[1], "silently different numbers after a killed collect"
    return "post-collect numbers (the collect had finished)"


def test_sigkill_collect_github_then_metrics(github, api_url, tmp_path, base):
    pre = _read(base)[:2]
    shutil.copy(base, tmp_path / "whole.duckdb")
    r = subprocess.run(CLI + _args(api_url, tmp_path, "whole"), env=_env(), capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    post = _read(tmp_path / "whole.duckdb")[:2]
    assert post[1] != pre[1] and not _read(tmp_path / "whole.duckdb")[2]

    outcomes = {}
    # killed while downloading: the server stalls after four requests
    shutil.copy(base, tmp_path / "fetch.duckdb")
    github.log.clear()
    github.hit.clear()
    github.release.clear()
    github.block_after = 4
    proc = subprocess.Popen(CLI + _args(api_url, tmp_path, "fetch"), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert github.hit.wait(120), "the collect never reached the stalled request"
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    github.block_after = None
    github.release.set()
    outcomes["while downloading"] = _outcome(tmp_path / "fetch.duckdb", pre, post)

    # killed while loading: the store's WAL appears when the collect first writes; SIGKILL at
    # growing delays after that until a kill lands inside the load (or the collect got to finish)
    for delay in (0.0, 0.15, 0.3, 0.5, 0.8, 1.2, 1.8):
        name = f"load{delay}"
        db = tmp_path / f"{name}.duckdb"
        shutil.copy(base, db)
        proc = subprocess.Popen(CLI + _args(api_url, tmp_path, name), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wal, t0 = Path(str(db) + ".wal"), time.monotonic()
        while proc.poll() is None and not wal.exists() and time.monotonic() - t0 < 240:
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        outcomes[name] = _outcome(db, pre, post)
        if outcomes[name] != outcomes["while downloading"]:
            break
    print(outcomes)
    assert outcomes["while downloading"].startswith("pre-collect numbers")
    assert "warned, pre-collect numbers" in outcomes.values(), outcomes

    # running each again converges to the uninterrupted numbers, and the warning is gone
    for name in ("fetch", *[n for n in outcomes if n.startswith("load")]):
        r = subprocess.run(CLI + _args(api_url, tmp_path, name), env=_env(), capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode()
        rows, counts, said = _read(tmp_path / f"{name}.duckdb")
        assert not said and counts == post[1] and _same(rows, post[0]), name
