"""``ctssw collect github`` as a process: killed mid-way it resumes to exactly the uninterrupted rows,
the documented sequence (collect, status, panel, metrics, report) runs as written, and every
analysis command after a collect answers or says in one line what is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from ctssw.collect import collect_github
from ctssw.store import TABLES, Store

from .conftest import TOKEN

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
CLI = [sys.executable, "-c", "from ctssw.cli import main; main()"]


def _args(api_url: str, tmp: Path, name: str) -> list[str]:
    return ["collect", "github", "--org", "BeaverSoftware", "--repo", "PyGithub/PyGithub", "--since", "2012-01-01",
            "--api-url", api_url, "--workflow", "ci.yml", "--no-copilot",
            "--cache", str(tmp / f"{name}-cache"), "--db", str(tmp / f"{name}.duckdb")]


def _env() -> dict:
    return {**os.environ, "GITHUB_TOKEN": TOKEN, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def _rows(db: Path) -> dict[str, list]:
    """Every stored row, without the columns that name the run (source, ingested_at)."""
    out = {}
    with Store(db, read_only=True) as s:
        for t in [*TABLES, "builders"]:
            cols = [c[0] for c in s.con.execute(f'DESCRIBE "{t}"').fetchall() if c[0] not in ("source", "ingested_at", "first_seen")]
            sel = ", ".join(f'"{c}"' for c in cols)
            out[t] = sorted(map(repr, s.con.execute(f'SELECT {sel} FROM "{t}"').fetchall()))
        out["quarantine"] = sorted(map(repr, s.con.execute("SELECT table_name, reason FROM quarantine").fetchall()))
        out["collect_state"] = sorted(map(repr, s.con.execute("SELECT source, scope, resource, watermark, etag FROM collect_state").fetchall()))
    return out


def _leaks(tmp: Path, *texts: str) -> list[str]:
    bad = [str(p) for p in tmp.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    return bad + [t[:80] for t in texts if TOKEN in t]


def _valid(name: str, doc: dict) -> dict:
    import jsonschema

    schema = json.loads((DOCS.parent / "schemas" / f"{name}.schema.json").read_text())
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    return doc


def _collect(api_url: str, tmp: Path, name: str) -> None:
    """The same collect as the command line's, in this process."""
    with Store(tmp / f"{name}.duckdb") as s:
        collect_github(s, org="BeaverSoftware", repos=["PyGithub/PyGithub"], since="2012-01-01", api_url=api_url,
                       workflow="ci.yml", copilot=False, cache=tmp / f"{name}-cache")


def test_killed_collect_resumes_to_exactly_the_uninterrupted_rows(github, api_url, tmp_path, token):
    # every store starts as a copy of one empty store, so they share its identity key (same pseudonyms)
    Store(tmp_path / "whole.duckdb").close()
    for kill_after in (4, 16):  # inside pull #32's parts; among the release pages
        shutil.copy(tmp_path / "whole.duckdb", tmp_path / f"killed{kill_after}.duckdb")
    _collect(api_url, tmp_path, "whole")
    expected, n_whole = _rows(tmp_path / "whole.duckdb"), len(github.log)
    outputs = []
    for kill_after in (4, 16):
        name = f"killed{kill_after}"
        github.log.clear()
        github.hit.clear()
        github.release.clear()
        github.block_after = kill_after
        proc = subprocess.Popen(CLI + _args(api_url, tmp_path, name), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert github.hit.wait(60), "the collect never reached the stalled request"
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        github.block_after = None
        github.release.set()
        assert proc.returncode == -signal.SIGKILL
        outputs += [out.decode(), err.decode()]
        with Store(tmp_path / f"{name}.duckdb", read_only=True) as s:
            assert s.count("changes") == 0  # nothing was ingested before the kill

        github.log.clear()
        _collect(api_url, tmp_path, name)  # the next run, to completion
        assert _rows(tmp_path / f"{name}.duckdb") == expected
        # records cached whole before the kill are not asked again: killed among the release pages,
        # both pulls were cached with their parts, so their 10 part requests are skipped
        assert len(github.log) == {4: n_whole, 16: n_whole - 10}[kill_after]
    assert not _leaks(tmp_path, *outputs)


def _documented_sequence() -> str:
    text = DOCS.read_text()
    m = re.search(r"### Collect, then measure\n.*?```sh\n(.*?)```", text, re.S)
    assert m, "docs/connectors.md lost its 'Collect, then measure' example"
    return m.group(1)


def test_documented_collect_panel_metrics_sequence_runs_as_written(github, api_url, tmp_path):
    script = _documented_sequence()
    env = {**_env(), "ORG": "BeaverSoftware", "REPO": "PyGithub/PyGithub", "API_URL": api_url,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "github: 22 requests (22 fetched, 0 not modified)" in r.stdout
    # the GitHub team's one member gives the panel its team-weeks, from the first --since on; one builder
    # is below the privacy floor, so panel --out writes none of them and says how many it left out
    m = re.search(r"([\d,]+) team-week\(s\) left out: they describe fewer than 5 builders", r.stderr)
    assert m and int(m.group(1).replace(",", "")) > 0
    assert "wrote 0 team-weeks (0 teams × 0 weeks) to panel.parquet" in r.stdout
    assert (tmp_path / "panel.parquet").stat().st_size > 0
    assert "next: " in r.stdout and (tmp_path / "report.html").stat().st_size > 0
    # one builder is below the privacy floor: metrics show the team's row suppressed, not the person
    assert "suppressed: they describe fewer than 5 builders" in r.stderr
    assert not _leaks(tmp_path, r.stdout, r.stderr)


def _answers_or_one_line(r, cmd: list[str], code: int, missing: str | None = None) -> None:
    """Exit 0, or exactly one line naming what is missing and the command that supplies it, with the
    exit code docs/cli.md gives for that kind of error; never a traceback."""
    assert r.exception is None or isinstance(r.exception, SystemExit), (cmd, repr(r.exception))
    assert "Traceback" not in r.output, cmd
    if r.exit_code == 0:
        return
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert r.exit_code == code, (cmd, r.exit_code, r.output)
    assert len(lines) == 1 and lines[0].startswith("error:") and "ctssw " in lines[0], (cmd, r.output)
    if missing:
        assert missing in lines[0], (cmd, r.output)


def test_collect_then_every_command_with_no_manual_step(github, api_url, tmp_path, token):
    from typer.testing import CliRunner

    from ctssw.cli import app

    runner = CliRunner()
    db = str(tmp_path / "c.duckdb")
    r = runner.invoke(app, [*_args(api_url, tmp_path, "c"), "--json"])
    assert r.exit_code == 0, r.output
    outputs = [r.output]
    assert _valid("collect", json.loads(r.stdout))["requests"] > 0
    d = ["--db", db]
    r = runner.invoke(app, ["status", *d, "--json"])
    assert r.exit_code == 0, r.output
    status = _valid("status", json.loads(r.stdout))
    caps = {c["name"]: c for c in status["capabilities"]}
    assert status["tables"]["changes"]["rows"] > 0 and caps["team × week panel"]["ok"]
    assert not caps["a tool's effect (ctssw impact)"]["ok"]  # --no-copilot: no AI usage was collected
    # (command, the exit code when the data cannot support it, what the one line must name); None: must answer
    for cmd, code, missing in (
        (["status", *d], None, None),
        (["panel", *d, "--out", str(tmp_path / "panel.parquet")], None, None),
        (["metrics", *d, "--since", "2012-01-01"], None, None),
        (["drivers", *d, "--k", "3"], 3, "see ctssw status"),  # Exit.DATA: no driver has data in the one team
        (["impact", *d, "--tool", "copilot", "--method", "all"], 2, "no usage of tool 'copilot'"),  # Exit.USAGE: a tool with no usage
        (["report", *d, "--out", str(tmp_path / "report.html")], None, None),
    ):
        r = runner.invoke(app, cmd)
        outputs.append(r.output)
        if code is None:
            assert r.exit_code == 0 and "Traceback" not in r.output, (cmd, r.output)
        else:
            _answers_or_one_line(r, cmd, code, missing)
    html = (tmp_path / "report.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
    assert {b["title"] for b in data["status"]} >= {"What can be computed", "Coverage per table"}
    # one builder, below the privacy floor: no series is drawn, and the page says why instead of a chart
    assert re.search(r'id="missing-cts">This section cannot be computed from this store: [^<]*privacy floor', html)
    assert re.search(r'id="missing-headline">This section cannot be computed from this store: [^<]*ctssw ', html)
    assert not _leaks(tmp_path, *outputs)
