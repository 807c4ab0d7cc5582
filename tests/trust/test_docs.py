"""The command lines in docs/privacy.md and the README's roster line run exactly as written."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from .conftest import ROSTER, SRC

ROOT = Path(__file__).resolve().parents[2]


def _blocks(md: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", md.read_text(), flags=re.S)


def _shell(tmp: Path) -> dict:
    """A user's shell in ``tmp``: ``ctssw`` on PATH, a home of its own, no key chosen yet."""
    bin_ = tmp / "bin"
    bin_.mkdir()
    shim = bin_ / "ctssw"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; from ctssw.cli import main; sys.argv[0] = \"ctssw\"; main()' \"$@\"\n")
    shim.chmod(0o755)
    (tmp / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CTSSW_IDENTITY_KEY", "XDG_CONFIG_HOME")}
    return {**env, "PATH": f"{bin_}:{env['PATH']}", "HOME": str(tmp / "home"), "PYTHONPATH": str(SRC), "COLUMNS": "200"}


def _run(line: str, cwd: Path, env: dict) -> None:
    p = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (line, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr, (line, p.stderr)


def test_privacy_doc_commands_run_as_written(tmp_path):
    env = _shell(tmp_path)
    work = tmp_path / "work"
    shutil.copytree(ROSTER, work / "people")
    (block,) = _blocks(ROOT / "docs" / "privacy.md")
    for line in block.strip().splitlines():
        _run(line, work, env)
    keys = tmp_path / "home" / ".config" / "ctssw"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys / "identity-2.key").stat().st_mode) == 0o600
    # the old key no longer opens the store for loading
    p = subprocess.run(["bash", "-c", "ctssw ingest roster people/ --db ctssw.duckdb"], cwd=work, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 4 and "is not the identity key of ctssw.duckdb" in p.stderr


def test_readme_roster_line_takes_a_folder(tmp_path):
    env = _shell(tmp_path)
    work = tmp_path / "work"
    shutil.copytree(ROSTER, work / "people")
    line = next(ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.startswith("ctssw ingest roster people/"))
    _run(line, work, env)
    assert (tmp_path / "home" / ".config" / "ctssw" / "identity.key").exists()
    assert not list(work.glob("*.key"))  # the key never lands beside the store
