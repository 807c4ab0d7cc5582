"""A real organisation end to end, with no roster: git repositories → status, panel, metrics, drivers,
impact and report through the CLI, as a user types them."""

from __future__ import annotations

import json
import re
import subprocess

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from ctssw.cli import app

from .org import make_org

runner = CliRunner()


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    root = tmp_path_factory.mktemp("org")
    repos = make_org(root / "src")
    db = root / "ctssw.duckdb"
    r = runner.invoke(app, ["ingest", "git", *map(str, repos), "--deployments", "tags", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    return root, repos, db, json.loads(r.stdout)


def _q(db, sql):
    with duckdb.connect(str(db), read_only=True) as c:
        return c.execute(sql).fetchall()


def test_ingest_infers_teams_members_and_releases_without_a_roster(org):
    root, repos, db, body = org
    assert {"teams", "repos", "commits", "changes", "deployments", "deployment_commits"} <= {c["table"] for c in body["counts"]}
    assert _q(db, "SELECT count(*) FROM teams")[0][0] == 6
    assert _q(db, "SELECT bool_and(inferred), count(DISTINCT team_id) FROM memberships")[0] == (True, 6)
    # bots are never builders: dependabot is in the bots table, not in any membership
    assert _q(db, "SELECT rule FROM bots") == [("[bot]",)]
    assert _q(db, "SELECT count(*) FROM memberships WHERE builder_id IN (SELECT builder_id FROM bots)")[0][0] == 0
    # a builder's FTE sums to 1 in any week
    assert _q(db, """SELECT max(s) FROM (SELECT builder_id, start, sum(fte) s FROM memberships GROUP BY ALL)""")[0][0] <= 1.0001
    # release tags: version-like only; the prerelease, nightly and docs tags are not deployments
    tags = {r[0].split("@")[1] for r in _q(db, "SELECT deployment_id FROM deployments WHERE repo_id = 'team0'")}
    assert {f"v1.{i}.0" for i in range(15)} <= tags and "v1.0.1" in tags
    assert not {t for t in tags if "rc" in t or "nightly" in t or "docs" in t}
    assert _q(db, "SELECT DISTINCT kind FROM deployments") == [("tag",)]
    # each release ships the commits since the previous one: every commit up to the last release, once
    last = subprocess.run(["git", "-C", str(repos[0]), "rev-list", "--count", "v1.14.0"], capture_output=True, text=True).stdout
    shipped = _q(db, "SELECT count(*), count(DISTINCT sha) FROM deployment_commits WHERE repo_id = 'team0'")[0]
    assert shipped == (int(last), int(last))


def test_status_says_what_the_store_supports(org):
    _, _, db, _ = org
    r = runner.invoke(app, ["status", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["teams"] == 6 and len(s["inferred_teams"]) == 6 and s["rostered_teams"] == 0
    assert s["builders"] == 36 and s["bots"] == 1
    caps = {c["name"]: c for c in s["capabilities"]}
    assert caps["CTS-SW per deployment"]["ok"] and caps["change lead time"]["ok"]
    assert not caps["change failure rate and recovery time"]["ok"]
    assert "pagerduty" in caps["change failure rate and recovery time"]["fix"]
    assert s["next_command"]
    r = runner.invoke(app, ["status", "--db", str(db)])
    assert r.exit_code == 0 and "inferred from activity" in r.output and "next:" in r.output


def test_panel_defines_cts_sw_in_release_weeks(org, tmp_path):
    _, _, db, _ = org
    out = tmp_path / "panel.parquet"
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(out)])
    assert r.exit_code == 0, r.output
    p = pd.read_parquet(out)
    released = p[p["deployments"] > 0]
    assert len(released) > 50 and released["cts_sw"].notna().all()
    assert p.loc[p["deployments"] == 0, "cts_sw"].isna().all()
    assert p["rollback_rate"].isna().all()  # release tags record no outcome: unknown, not zero


def test_metrics_org_row_is_sums_over_teams_and_unknown_is_null(org):
    _, _, db, _ = org
    r = runner.invoke(app, ["metrics", "--db", str(db), "--json", "--k", "3"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    rows = pd.DataFrame(body["rows"]).set_index("group")
    teams, org_row = rows.drop("(all teams)"), rows.loc["(all teams)"]
    assert len(teams) == 6
    # every team spans the same weeks here, so the org's figures per week are the teams' sums
    assert org_row["builders"] == pytest.approx(teams["builders"].sum())
    assert org_row["deployments_per_week"] == pytest.approx(teams["deployments_per_week"].sum())
    for col in ("change_failure_rate", "recovery_median_h", "rework_rate", "rollback_rate"):
        assert rows[col].isna().all(), col
    assert "incidents" in body["unknown"]["change_failure_rate"]
    assert teams["inferred"].all()


def test_metrics_table_says_which_metrics_are_unknown_and_what_supplies_them(org):
    _, _, db, _ = org
    r = runner.invoke(app, ["metrics", "--db", str(db), "--k", "3"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # the table wraps its notes to the terminal's width
    assert ("note: CFR is unknown: the store has no incidents; ctssw ingest pagerduty (or devlake) "
            "supplies them") in text
    # release tags record no outcome
    assert "note: rollback rate is unknown: the store has no deployments that record their outcome" in text


def test_drivers_leave_out_drivers_without_data(org):
    _, _, db, _ = org
    r = runner.invoke(app, ["drivers", "--db", str(db), "--json", "--k", "3"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    notes = " ".join(body["notes"])
    assert "pages_per_oncall_builder left out" in notes and "rollback_rate left out" in notes
    assert {e["driver"] for e in body["effects"]} <= {"velocity", "builders", "new_member_share", "interventions_per_deploy"}
    r = runner.invoke(app, ["drivers", "--db", str(db), "--drivers", "pages_per_oncall_builder"])
    assert r.exit_code == 3 and "no driver has data" in r.output and "Traceback" not in r.output


def test_impact_all_methods_withholds_value_when_not_credible(org, tmp_path):
    _, _, db, _ = org
    r = runner.invoke(app, ["impact", "--db", str(db), "--tool", "claude", "--method", "all"])
    assert r.exit_code == 2 and "--rollout FILE" in r.output and len(r.output.strip().splitlines()) <= 3
    rollout = tmp_path / "rollout.csv"
    rollout.write_text("team,date\nteam0,2024-04-01\nteam1,2024-05-06\nteam2,2024-06-03\n")
    r = runner.invoke(app, ["impact", "--db", str(db), "--tool", "claude", "--method", "all", "--rollout", str(rollout), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["credible"] is False and any("only 3 team(s) adopted" in w for w in res["not_credible_because"])
    assert "did_value" not in res and res["dynamic"]["value"] is None
    assert "No value in engineering-years" in res["verdict"]
    assert any("covariate rollback_rate dropped" in n for n in res["notes"])
    ran = set(res["dynamic"]["estimates"]) | {m for m, e in res["did"]["estimates"].items() if "att" in e}
    assert ran and all(m in res["verdict"] for m in ran)


def test_report_from_a_real_store_and_from_nothing(org, tmp_path):
    _, _, db, _ = org
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["report", "--db", str(db), "--out", str(out), "--k", "3"])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    # the interactive page: plotly inlined, CTS-SW and DORA drawn, ctssw status as its data health
    assert "inferred from activity" in html and "Cost to serve software" in html and "Plotly" in html
    data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
    assert data["has_series"] and data["series"]["weekly"]["org"]["cts_sw"]
    health = {b["title"]: b for b in data["status"]}
    assert "What can be computed" in health and "Teams inferred from activity" in health
    assert re.search(r'id="missing-headline">This section cannot be computed from this store: no tool named[^<]*'
                     r"ctssw report --tool NAME", html)
    assert 'id="missing-cts"' not in html and 'id="missing-dora"' not in html
    # claude's usage: each tool's effect and the waterfall of the change, or one sentence saying why not
    assert data["explain"] or re.search(r'id="missing-explain">This section cannot be computed from this store: [^<]+', html)
    if data["explain"]:
        steps = data["explain"]["steps"]
        assert steps[0]["value"] + sum(s["value"] for s in steps if s["measure"] == "relative") == pytest.approx(steps[-1]["value"])
    page = re.sub(r"<script>.*?</script>", "", html, flags=re.S)  # our page and its data, without plotly.js
    assert "b_" not in page and "corp.example" not in html
    empty = tmp_path / "empty.html"
    r = runner.invoke(app, ["report", "--db", str(tmp_path / "none.duckdb"), "--out", str(empty)])
    assert r.exit_code == 0, r.output
    html = empty.read_text()
    for sec in ("headline", "cts", "dora", "drivers", "adoption", "tools", "explain"):
        assert re.search(rf'id="missing-{sec}">This section cannot be computed from this store: [^<]*ctssw ', html), sec
    assert "Traceback" not in r.output
