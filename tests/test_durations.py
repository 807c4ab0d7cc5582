"""The order ``make test`` hands out the test files: longest first, each file's tests together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import _scope, pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parents[1]


class _Item:
    def __init__(self, nodeid: str):
        self.nodeid = nodeid


def test_files_go_longest_first_and_keep_their_tests_together_in_order():
    ids = ["tests/a/test_x.py::t1", "tests/a/test_x.py::t2", "tests/backends/test_b.py::t1",
           "tests/trust/test_kill.py::t1", "tests/backends/test_c.py::t1", "tests/a/test_x.py::t3",
           "tests/z/test_new.py::t1"]
    items = [_Item(i) for i in ids]
    pytest_collection_modifyitems(None, items)
    got = [i.nodeid for i in items]
    # tests/backends/ is one scope (one worker starts its Spark session once) and the longest; a
    # file with a recorded time next; files without one last, in their collected order
    assert _scope("tests/backends/test_b.py::t1") == _scope("tests/backends/test_c.py") == "tests/backends/"
    assert got == ["tests/backends/test_b.py::t1", "tests/backends/test_c.py::t1", "tests/trust/test_kill.py::t1",
                   "tests/a/test_x.py::t1", "tests/a/test_x.py::t2", "tests/a/test_x.py::t3", "tests/z/test_new.py::t1"]


def test_the_durations_script_sums_a_report_by_file(tmp_path):
    log = tmp_path / "durations.log"
    log.write_text("== slowest durations ==\n"
                   "12.50s call     tests/a/test_x.py::test_one[p]\n"
                   "0.50s setup    tests/a/test_x.py::test_one[p]\n"
                   "3.00s call     tests/b/test_y.py::test_two\n"
                   "1 passed\n")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "test_durations.py"), str(log)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["{", '"tests/a/test_x.py":', "13.0,", '"tests/b/test_y.py":', "3.0", "}"]
    empty = tmp_path / "empty.log"
    empty.write_text("1 passed\n")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "test_durations.py"), str(empty)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == f"{empty}: no --durations lines (run pytest with --durations=0)"
