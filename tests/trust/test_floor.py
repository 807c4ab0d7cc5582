"""No file ctssw writes for people holds a row describing fewer than k builders."""

from __future__ import annotations

import re

import pandas as pd
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.simulate import simulate

runner = CliRunner()


def test_panel_file_applies_the_privacy_floor(tmp_path):
    sim, db, pq = tmp_path / "sim", tmp_path / "x.duckdb", tmp_path / "p.parquet"
    simulate(sim, teams=8, weeks=12, seed=5)
    assert runner.invoke(app, ["ingest", "canonical", str(sim), "--db", str(db)]).exit_code == 0
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(pq), "--k", "3"])
    assert r.exit_code == 0, r.output
    assert pd.read_parquet(pq)["headcount"].min() >= 3
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(pq), "--k", "12"])
    assert r.exit_code == 0, r.output
    written = pd.read_parquet(pq)
    assert written.empty or written["headcount"].min() >= 12
    left_out = int(re.search(r"([\d,]+) team-week\(s\) left out", r.output).group(1).replace(",", ""))
    assert left_out > 0  # said, not silent
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(pq), "--k", "2"])
    assert r.exit_code == 2 and "at least 3" in r.output


def _embedded(page: str) -> dict:
    import json

    m = re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_the_interactive_report_embeds_nothing_below_k(tmp_path):
    """A store where team-00004 has 4 builders every week and team-00003 has 8 builders for six
    weeks then 3: no team, group, month or team-week row of the report's data describes fewer
    than k = 5 builders."""
    import json
    import warnings

    from ctssw.metrics import team_week_metrics
    from ctssw.pipeline.report import write_store_report
    from ctssw.store import Store, ingest_canonical

    k, sim, db = 5, tmp_path / "sim", tmp_path / "s.duckdb"
    simulate(sim, teams=8, weeks=12, seed=5)
    part = sim / "memberships" / "part-00000.parquet"
    m = pd.read_parquet(part)
    leavers = m.index[m["team_id"] == "team-00003"][:5]
    m.loc[leavers, "end"] = pd.Timestamp("2024-02-11").date()
    m.to_parquet(part)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(db) as s:
            ingest_canonical(s, sim)
        with Store(db, read_only=True) as s:
            weekly = team_week_metrics(s.ibis())
            teams = s.con.execute("SELECT team_id, name, parent_id FROM teams").fetchdf()
            active = s.con.execute(
                "SELECT tool, feature, date_trunc('week', day) AS week, count(DISTINCT builder_id) AS n "
                "FROM tool_usage WHERE active GROUP BY ALL").fetchdf()
        data = _embedded(write_store_report(db, tmp_path / "r.html", k=k).read_text())
    weekly["week"] = pd.to_datetime(weekly["week"])
    hc = weekly.set_index(["team_id", "week"])["headcount"]
    assert hc["team-00004"].max() < k and hc["team-00003"].max() >= k > hc["team-00003"].min()  # the store is as meant

    # team-00004 never reaches k: it is nowhere, not even its name
    text = json.dumps(data)
    small = teams.set_index("team_id").loc["team-00004", "name"]
    assert "team-00004" not in text and f'"{small}' not in text and f"Team: {small}" not in text
    # team-weeks: a team's weekly series holds only its weeks of k builders or more
    series = data["series"]
    for key, cols in series["weekly"].items():
        assert all(b is not None and b >= k for b in cols["builders"]), key
        if key.startswith("team:"):
            team = key.removeprefix("team:")
            assert all(hc[(team, pd.Timestamp(x))] >= k for x in cols["x"]), key
    assert len(series["weekly"]["team:team-00003"]["x"]) == int((hc["team-00003"] >= k).sum())
    # months: a team's month is shown only when it had k builders in the weeks it is made of
    for key, cols in series["monthly"].items():
        if key.startswith("team:"):
            team = key.removeprefix("team:")
            for x in cols["x"]:
                month = hc[team][hc[team].index.to_period("M") == pd.Period(x, "M")]
                assert (month >= k).any(), (key, x)
    # groups: every group series is made of team-weeks of k or more, and itself reaches k
    groups = [key for key in series["keys"] if key.startswith(("parent_id:", "architecture:"))]
    assert groups and all(min(series["weekly"][g]["builders"]) >= k for g in groups)
    assert set(series["stats"]) <= set(series["keys"])
    # the team table: a team whose average reaches k but whose weeks do not (team-00003) is left out
    shown = {r["Team"] for r in data["teams"]["rows"]}
    assert not any("team-00003" in t or "team-00004" in t for t in shown), shown
    assert all(r["Builders"] >= k for r in data["teams"]["rows"]) and data["teams"]["dropped"] == 2
    # adoption: every week shown had k or more active builders of that tool and feature (or none)
    active["week"] = pd.to_datetime(active["week"])
    n = active.set_index(["tool", "feature", "week"])["n"]
    assert data["adoption"]
    for name, cols in data["adoption"].items():
        tool, feat = name.split(" · ")
        for x in cols["x"]:
            assert n.get((tool, feat, pd.Timestamp(x)), 0) >= k or n.get((tool, feat, pd.Timestamp(x)), 0) == 0, (name, x)
