"""The interactive report: content, people-formatted numbers and the privacy floor in the embedded data."""

from __future__ import annotations

import json
import re

import pandas as pd

from ctssw.report import headline, interactive_report
from ctssw.report._data import dora_tier, series


def _payload(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_page_is_self_contained_with_plotly_inlined_once(report_inputs):
    page = interactive_report(**report_inputs["kw"])
    assert page.count("Plotly=") + page.count("plotly.js v") >= 1
    assert len(re.findall(r"<script[^>]*\bsrc=", page)) == 0
    ours = re.sub(r"<script>/\*\*?\s*\n?\s*\* plotly\.js.*?</script>", "", page, count=1, flags=re.S)
    assert len(ours) < len(page) / 2  # the library is most of the file, and it is gone from ours
    assert not re.search(r"""(?:href|src)=["']https?://""", ours)
    assert page.count("plotly.js v") == 1  # the library's banner: inlined exactly once
    assert "Privacy floor: nothing in this file describes fewer than 5 builders" in page


def test_headline_names_the_recommended_estimator_and_its_verdict(report_inputs):
    imp = report_inputs["kw"]["impact"]
    h = headline(imp)
    jk = imp["dynamic"]["estimates"]["jackknife"]["long_run"]["ai_share"]
    assert h["chosen"]["method"] == "jackknife"
    assert "half-panel jackknife" in h["text"]
    covers = jk["ci_low"] <= 0 <= jk["ci_high"]
    assert ("cannot be distinguished from zero" in h["text"]) == covers
    assert {f["method"] for f in h["forest"]} >= {"fe", "jackknife", "cs"}


def test_headline_says_cannot_distinguish_when_the_interval_covers_zero():
    imp = {"tool": "assistant", "dynamic": {"valued_method": "jackknife", "treatment": "ai_share", "estimates": {
        "jackknife": {"long_run": {"ai_share": {"estimate": 0.05, "ci_low": -0.02, "ci_high": 0.12, "std_error": 0.036}}},
        "fe": {"long_run": {"ai_share": {"estimate": 0.065, "ci_low": 0.008, "ci_high": 0.122, "std_error": 0.03}}}}}}
    h = headline(imp)
    assert h["text"].startswith("The effect of assistant cannot be distinguished from zero: +5.0%")
    assert h["verdict"] == "cannot distinguish from zero"


def test_no_row_below_the_privacy_floor_is_embedded(report_inputs):
    kw = dict(report_inputs["kw"])
    weekly = kw["weekly"].copy()
    small = weekly["team_id"].iloc[0]
    weekly.loc[weekly["team_id"] == small, "headcount"] = 3  # one team below k=5 in every week
    teams = kw["teams"].copy()
    teams.loc[teams["group"] == small, "headcount"] = 3
    kw.update(weekly=weekly, teams=teams)
    data = _payload(interactive_report(**kw))
    assert f"team:{small}" not in data["series"]["keys"]
    assert small not in json.dumps(data)
    assert all(r["Builders"] >= 5 for r in data["teams"]["rows"])
    assert data["teams"]["dropped"] >= 1 and data["series"]["suppressed"] >= (weekly["team_id"] == small).sum()
    for key, w in data["series"]["weekly"].items():
        assert all(b is None or b >= 5 for b in w["builders"]), key


def test_series_are_ratios_of_sums(report_inputs):
    w = report_inputs["kw"]["weekly"]
    s = series(w, k=5)
    kept = w[w["headcount"] >= 5]
    wk = kept.groupby("week")[["cost", "units"]].sum()
    expect = (wk["cost"] / wk["units"]).to_numpy()
    got = pd.Series(s["weekly"]["org"]["cts_sw"], dtype=float).to_numpy()
    assert abs(got - expect).max() < 1e-6


def test_dora_tiers():
    assert dora_tier("deploy_freq", 10) == "Elite" and dora_tier("deploy_freq", 0.1) == "Low"
    assert dora_tier("lead_time_h", 12) == "Elite" and dora_tier("lead_time_h", 100) == "High"
    assert dora_tier("change_failure_rate", 0.04) == "Elite" and dora_tier("change_failure_rate", 0.3) == "Low"
    assert dora_tier("recovery_h", 0.5) == "Elite" and dora_tier("recovery_h", 400) == "Low"
    assert dora_tier("recovery_h", None) is None


def test_status_dict_becomes_tables(report_inputs):
    kw = dict(report_inputs["kw"], status={"sources": [{"source": "git", "rows": 12000}], "inferred_teams": 3,
                                          "not_computed": ["lead time: no deployments linked"]})
    data = _payload(interactive_report(**kw))
    titles = [b["title"] for b in data["status"]]
    assert titles == ["Summary", "Sources", "Not computed"]
    assert data["status"][1]["rows"] == [["git", "12,000"]]


def test_adoption_by_tool_and_feature(store_path, tmp_path):
    import shutil

    from ctssw.metrics import team_week_metrics
    from ctssw.panel import panel as build_panel
    from ctssw.pipeline.report import adoption_by_feature, store_report_inputs
    from ctssw.store import Store

    with Store(store_path, read_only=True) as s:
        plain = adoption_by_feature(s.ibis())
    # the simulator records no feature: one line per tool, any feature
    assert set(plain["feature"]) == {"any feature"} and len(plain)
    db = tmp_path / "features.duckdb"
    shutil.copy(store_path, db)
    with Store(db) as s:
        s.con.execute("UPDATE tool_usage SET feature = CASE WHEN hash(builder_id) % 2 = 0 THEN 'agent' ELSE 'completion' END")
    with Store(db, read_only=True) as s:
        con = s.ibis()
        a = adoption_by_feature(con)
        p = build_panel(con)
        weekly = team_week_metrics(con)
        inputs = store_report_inputs(s, p)
    assert set(a["feature"]) == {"agent", "completion", "any feature"}
    wide = a.pivot_table(index=["week", "tool"], columns="feature", values="active", fill_value=0)
    # a builder with either feature counts once in "any feature"
    assert (wide["any feature"] >= wide[["agent", "completion"]].max(axis=1)).all()
    assert (wide["any feature"] <= wide["agent"] + wide["completion"]).all()
    html = interactive_report(weekly=weekly, **inputs)
    data = _payload(html)
    tools = set(a["tool"])
    assert {f"{t} · {f}" for t in tools for f in ("agent", "completion", "any feature")} <= set(data["adoption"])
    assert all(0 <= v <= 1 for s in data["adoption"].values() for v in s["share"])
