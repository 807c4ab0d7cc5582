"""CLI output for people: `--version`, exit codes as documented, and text that fits 80 columns when piped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ctssw
from ctssw.cli import app
from ctssw.cli._common import Exit

runner = CliRunner()  # not a terminal: what a pipe gets


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"ctssw {ctssw.__version__}"


def test_exit_codes_are_documented_as_defined():
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    documented = {int(c): n for c, n in re.findall(r"^\| (\d+) \| ([A-Z]+) \|", text, re.M)}
    assert documented == {int(e): e.name for e in Exit}


def _fits(text: str) -> None:
    long = [line for line in text.splitlines() if len(line) > 80]
    assert not long, long[:3]
    assert "…" not in text


@pytest.mark.parametrize("args", [["metrics", "--by", "team"], ["drivers"], ["impact", "--method", "all"]])
def test_piped_output_fits_80_columns(store_path, args):
    r = runner.invoke(app, [*args, "--db", str(store_path)])
    assert r.exit_code == 0, r.output
    _fits(r.stdout)


def test_piped_metrics_switch_to_long_format(store_path):
    r = runner.invoke(app, ["metrics", "--by", "team", "--db", str(store_path)])
    assert re.search(r"^team: \S+", r.stdout, re.M) and re.search(r"^  CTS-SW[^:]*: ", r.stdout, re.M)


def test_usage_error_exit_code(store_path):
    r = runner.invoke(app, ["impact", "--db", str(store_path), "--method", "magic"])
    assert r.exit_code == Exit.USAGE
