"""The report's sections for several tools: each tool's effect, and the waterfall of what moved CTS-SW."""

from __future__ import annotations

import copy
import json
import re

import pytest

from ctssw.pipeline import attribute_tools
from ctssw.report import interactive_report
from ctssw.report._data import explain_steps, tool_effects
from ctssw.simulate import simulate_panel

TOOLS = ["assistant", "review_agent"]


@pytest.fixture(scope="module")
def several():
    p, _ = simulate_panel(teams=40, weeks=52, seed=5, extra_tools=(("review_agent", 0.03),), org_trend=0.05)
    p["builder_weeks"], p["cost"], p["units"] = p["builders"], p["builders"] * 200_000 / 52, p["deployments"]
    return attribute_tools(p, TOOLS, method="fe", decompose=True)


def _payload(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_waterfall_steps_add_up_exactly_to_the_observed_change(several):
    ex = several["explain"]
    assert ex["adds_up"] is True and several["explain"]["windows"]["A"][0] == "2024-01-01"
    w = explain_steps(ex, k=5)
    steps = w["steps"]
    assert [s["component"] for s in steps] == ["start", "trend", "tool: assistant", "tool: review_agent", "composition",
                                               "cost_per_builder_week", "residual", "end"]
    assert steps[0]["value"] == ex["cts_a"] and steps[-1]["value"] == ex["cts_b"]
    moves = [s for s in steps if s["measure"] == "relative"]
    # the components add up to the observed change, in log points and in dollars per unit
    assert sum(s["log_points"] for s in moves) == pytest.approx(ex["observed"], abs=1e-12)
    assert steps[0]["value"] + sum(s["value"] for s in moves) == pytest.approx(steps[-1]["value"], rel=1e-12)
    assert w["change"] == pytest.approx(ex["cts_b"] - ex["cts_a"], rel=1e-12)
    for s in moves:
        if s["exact"]:  # accounting identities: no interval
            assert s["component"] in ("composition", "cost_per_builder_week") and s["low"] is None
        else:
            assert s["low"] <= s["value"] <= s["high"] and s["log_low"] <= s["log_points"] <= s["log_high"]
    assert steps[1]["label"] == "counterfactual trend (baseline)" and steps[4]["label"] == "team composition (mix)"


def test_tool_effects_rows_carry_the_joint_and_the_one_model_estimates(several):
    t = tool_effects(several)
    assert t["method"] == "fe" and [r["tool"] for r in t["rows"]] == [*TOOLS, "all tools (sum)"]
    for r in t["rows"]:
        assert r["ci_low"] <= r["estimate"] <= r["ci_high"] and r["naive"] is not None
        e = r["engineering_years"]
        assert e["ci_low"] <= e["estimate"] <= e["ci_high"]
    assert t["rows"][-1]["estimate"] == pytest.approx(sum(r["estimate"] for r in t["rows"][:-1]))


def test_report_embeds_both_sections(several, report_inputs):
    kw = report_inputs["kw"]
    page = interactive_report(weekly=kw["weekly"], teams=kw["teams"], teams_meta=kw["teams_meta"], tools=several)
    data = _payload(page)
    assert data["explain"] == json.loads(json.dumps(explain_steps(several["explain"], k=5)))
    assert len(data["tool_effects"]["rows"]) == 3
    assert 'id="chart-explain"' in page and 'id="chart-tools"' in page and 'id="missing-explain"' not in page
    # organisation-wide rows only: no team is named in either section
    assert "team-" not in json.dumps([data["explain"], data["tool_effects"]])


def test_a_window_under_the_privacy_floor_gives_a_sentence_not_a_chart(several, report_inputs):
    res = copy.deepcopy(several)
    res["explain"]["details"]["min_builders_b"] = 4.0
    assert explain_steps(res["explain"], k=5) is None
    page = interactive_report(weekly=report_inputs["kw"]["weekly"], tools=res, k=5)
    assert _payload(page)["explain"] is None
    assert re.search(r'id="missing-explain">This section cannot be computed from this store: [^<]*fewer than 5 builders', page)
    assert explain_steps(res["explain"], k=3) is not None  # a lower floor admits it


def test_a_decomposition_that_cannot_be_computed_says_why(several, report_inputs):
    res = {k: v for k, v in several.items() if k != "explain"}
    res.update(explain=None, explain_withheld="no team is without tools in the until window: the counterfactual trend is not identified there")
    page = interactive_report(weekly=report_inputs["kw"]["weekly"], tools=res)
    assert _payload(page)["explain"] is None and _payload(page)["tool_effects"] is not None
    assert re.search(r'id="missing-explain">[^<]*counterfactual trend is not identified', page)
