"""The command sequences in docs/cli.md and docs/report.md run exactly as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
SRC = Path(__file__).resolve().parents[2] / "src"


def _blocks(name: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (DOCS / name).read_text(), re.S)


@pytest.mark.parametrize("name", ["cli.md", "report.md"])
def test_shell_blocks_run_as_written(name, tmp_path):
    blocks = _blocks(name)
    assert blocks, f"{name} has no sh block"
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for block in blocks:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{block}\n{r.stdout}\n{r.stderr}"
    if name == "report.md":
        html = (tmp_path / "tools.html").read_text()
        data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
        assert [r["tool"] for r in data["tool_effects"]["rows"]] == ["assistant", "review_agent", "all tools (sum)"]
        assert [s["component"] for s in data["explain"]["steps"]][::7] == ["start", "end"]
    if name == "cli.md":
        assert (tmp_path / "report.html").exists() and (tmp_path / "panel.parquet").exists()
        assert '"schema": "ctssw.ingest"' in (tmp_path / "ingest.json").read_text()
        assert "jackknife" in (tmp_path / "impact.txt").read_text()
