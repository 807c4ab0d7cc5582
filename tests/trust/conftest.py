from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
FIX = Path(__file__).resolve().parents[1] / "sources" / "fixtures"
ROSTER = FIX / "roster"
# the people in the fixtures, as an attacker holding a mailing list would write them
EMAILS = ("alice@corp.example", "bob@corp.example", "alice@home.example", "alice-gh", "bob-gh", "bobby-gh",
          "carol-gh", "a1b2c3d4-0000-alice", "b1b2c3d4-0000-bob", "d1d2d3d4-0000-dave", "e1e2e3e4-0000-erin")


def ctssw(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the ``ctssw`` command in a child process, as a user would."""
    e = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "250", **(env or {})}
    run = "import sys; from ctssw.cli import main; sys.argv[0] = 'ctssw'; main()"
    return subprocess.run([sys.executable, "-c", run, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)


@pytest.fixture()
def keyfile(tmp_path) -> Path:
    return tmp_path / "keys" / "identity.key"
