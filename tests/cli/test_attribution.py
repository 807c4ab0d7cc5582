"""``ctssw impact --tools``, ``ctssw explain`` and ``ctssw plan`` end to end, and the documented command sequence."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.estimators import rollout_cohorts

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
TOOLS = "assistant,review_agent,build_fix"


def documented_commands() -> list[str]:
    """The ``ctssw`` lines of every sh block in README.md and docs/attribution.md that uses these commands."""
    lines: list[str] = []
    for doc in (ROOT / "README.md", ROOT / "docs" / "attribution.md"):
        for block in re.findall(r"```sh\n(.*?)```", doc.read_text(), flags=re.S):
            if "--tools" in block or "ctssw plan" in block or "ctssw explain" in block:
                lines += [ln.strip() for ln in block.splitlines() if ln.strip().startswith("ctssw ")]
    return list(dict.fromkeys(lines))


@pytest.fixture(scope="module")
def tools_store(tmp_path_factory) -> Path:
    """Runs the documented sequence exactly as written, in a scratch folder; returns that folder."""
    d = tmp_path_factory.mktemp("tools")
    cmds = documented_commands()
    assert len(cmds) >= 5
    import os

    cwd = os.getcwd()
    os.chdir(d)
    try:
        for line in cmds:
            r = runner.invoke(app, shlex.split(line)[1:])
            assert r.exit_code == 0, f"{line}\n{r.output}"
    finally:
        os.chdir(cwd)
    return d


def test_documented_sequence_runs_and_writes_the_rollout_csv(tools_store):
    back = rollout_cohorts(tools_store / "rollout.csv")
    assert len(back) == 60 and back["adoption_week"].nunique() == 4


def test_impact_tools_json_has_every_number_with_its_interval(tools_store):
    db = str(tools_store / "tools.duckdb")
    r = runner.invoke(app, ["impact", "--db", db, "--tools", TOOLS, "--method", "all", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert set(res["estimates"]) == {"fe", "jackknife", "did"}
    for m, est in res["estimates"].items():
        assert set(est["effects"]) == set(TOOLS.split(","))
        for e in [*est["effects"].values(), est["total"]]:
            assert e["ci_low"] <= e["estimate"] <= e["ci_high"]
        assert len(est["naive"]) == 3 and est["naive_total"] is not None
    v = res["value"]
    assert set(v["per_tool"]) == set(TOOLS.split(","))
    tot = v["total"]["engineering_years"]
    assert tot["ci_low"] <= tot["estimate"] <= tot["ci_high"]


def test_impact_tools_by_architecture(tools_store):
    db = str(tools_store / "tools.duckdb")
    r = runner.invoke(app, ["impact", "--db", db, "--tools", "assistant", "--method", "fe", "--by-architecture", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["by_architecture"]
    assert res["effects"]["equality"][0]["tool"] == "assistant"
    assert {row["architecture"] for row in res["cts_sw"]} <= {"service", "monolith", "trunk"}


def test_explain_json_adds_up(tools_store):
    db = str(tools_store / "tools.duckdb")
    r = runner.invoke(app, ["explain", "--db", db, "--tools", TOOLS, "--since", "2024-01-01", "--until", "2025-06-23", "--method", "fe", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["adds_up"] is True
    comps = {c["component"]: c for c in res["components"]}
    assert {"trend", "composition", "cost_per_builder_week", "residual", "tool: assistant"} <= set(comps)
    assert sum(c["log_points"] for k, c in comps.items() if k != "observed") == pytest.approx(res["observed"], abs=1e-12)


def test_impact_tools_report_has_each_tool_and_the_waterfall(tools_store, tmp_path):
    out = tmp_path / "tools.html"
    r = runner.invoke(app, ["impact", "--db", str(tools_store / "tools.duckdb"), "--tools", TOOLS, "--method", "fe", "--report", str(out)])
    assert r.exit_code == 0, r.output
    assert f"Report: {out}" in r.output and "What moved CTS-SW" in r.output
    html = out.read_text()
    data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
    assert [row["tool"] for row in data["tool_effects"]["rows"]] == [*TOOLS.split(","), "all tools (sum)"]
    steps = data["explain"]["steps"]
    assert [s["component"] for s in steps][:2] == ["start", "trend"] and steps[-1]["component"] == "end"
    assert {f"tool: {t}" for t in TOOLS.split(",")} <= {s["component"] for s in steps}
    moves = sum(s["value"] for s in steps if s["measure"] == "relative")
    assert steps[0]["value"] + moves == pytest.approx(steps[-1]["value"], rel=1e-12)
    assert 'id="missing-explain"' not in html and 'id="missing-tools"' not in html


def test_plan_json(tools_store, tmp_path):
    out = tmp_path / "r.csv"
    r = runner.invoke(app, ["plan", "--db", str(tools_store / "tools.duckdb"), "--tool", "x", "--effect", "0.2", "--reps", "20",
                            "--cohorts", "3", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert 0 <= res["power"]["estimate"] <= 1 and res["mde"] > 0 and len(res["balance"]) == 3
    assert out.exists()


@pytest.mark.parametrize(
    ("args", "code", "msg"),
    [
        (["impact", "--tools", "assistant,nothing"], 2, "no usage of ['nothing']"),
        (["impact", "--tools", TOOLS, "--method", "cs"], 2, "with --tools, method must be"),
        (["impact", "--tools", TOOLS, "--license", "assistant=lots"], 2, "licences are tool=dollars"),
        (["impact", "--tools", "assistant", "--license", "other=3"], 2, "not among --tools"),
        (["explain", "--tools", TOOLS, "--since", "2024-01-01", "--until", "2024-01-08"], 2, "overlap"),
        (["explain", "--tools", TOOLS, "--since", "soon", "--until", "2025-01-01"], 2, "must be dates"),
        (["plan", "--tool", "x", "--effect", "0.05", "--weeks", "200"], 2, "history has"),
    ],
)
def test_bad_input_gives_one_error_line(tools_store, args, code, msg):
    r = runner.invoke(app, [*args, "--db", str(tools_store / "tools.duckdb")])
    assert r.exit_code == code, r.output
    assert msg in r.output and "Traceback" not in r.output
    assert len([ln for ln in r.output.splitlines() if ln.startswith("error:")]) == 1


def test_simulate_rejects_bad_extra_tools(tmp_path):
    r = runner.invoke(app, ["simulate", "--out", str(tmp_path / "s"), "--teams", "5", "--weeks", "8", "--extra-tools", "review_agent"])
    assert r.exit_code == 2 and "name=effect" in r.output
