"""Results read well: compact print(), HTML tables in notebooks, plot() figures, etable, people's numbers."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from ctssw.estimators import (
    compare,
    dynamic_panel,
    etable,
    exogeneity_checks,
    gmm,
    lmm,
    staggered_did,
    translate,
)
from ctssw.estimators.adoption import adoption_cohorts
from ctssw.estimators.display import (
    fmt_money,
    fmt_num,
    fmt_p,
    fmt_pct,
    readable,
    verdict,
)
from ctssw.simulate import simulate_panel

KW = dict(y="deploys_per_builder", x=["ai_share"], unit="team_id", time="week")


@pytest.fixture(scope="module")
def panel():
    p, _ = simulate_panel(teams=40, weeks=60, seed=1)
    return p


@pytest.fixture(scope="module")
def fits(panel, report_inputs):
    did = staggered_did(panel.merge(adoption_cohorts(panel), on="team_id"), y="deploys_per_builder", unit="team_id",
                        time="week", cohort="adoption_week", bootstrap=99)
    fe = dynamic_panel(panel, method="fe", **KW)
    return {
        "did": did,
        "fe": fe,
        "jackknife": dynamic_panel(panel, method="jackknife", **KW),
        "gmm": gmm("deploys_per_builder ~ lag(deploys_per_builder, 1) + ai_share | lag(deploys_per_builder, 2:4)",
                   panel, unit="team_id", time="week"),
        "lmm": lmm("deploys_per_builder ~ ai_share + (1 | team_id)", panel),
        "drivers": report_inputs["kw"]["drivers"],
        "value": translate(fe.long_run["ai_share"], baseline_units_per_builder_week=1.0, treated_builder_weeks=5000, license_cost=20_000),
        "checks": exogeneity_checks(panel, treatment="ai_share", covariates=["rollback_rate"], y="deploys_per_builder",
                                    unit="team_id", time="week"),
    }


def test_formatting_for_people():
    assert fmt_pct(0.0654) == "+6.5%" and fmt_pct(-0.0004) == "0.0%" and fmt_pct(-0.02) == "−2.0%"
    assert fmt_num(17350.2) == "17,350" and fmt_num(-0.0001, 2) == "0.00" and fmt_num(1.735e7) == "17,350,000"
    assert fmt_money(-1234567.8) == "−$1,234,568" and fmt_money(-0.2) == "$0" and fmt_money(51.5e6) == "$51,500,000"
    assert fmt_p(0.0004) == "<0.001" and fmt_p(0.04567) == "0.046"
    assert verdict(-0.027, 1.134) == "cannot distinguish from zero" and verdict(0.008, 0.122) == "above zero"
    assert readable("lead_time_median_h") == "Lead time median (hours)" and readable("cts_sw") == "CTS-SW"


def test_did_print_is_compact(fits):
    res = fits["did"]
    text = str(res)
    assert len(res.att_gt) > 500 and text.count("\n") < 60
    assert "Overall effect" in text and "Event study" in text and "Pre-trend test" in text
    assert "ATT(" not in text.replace("ATT(g,t)", "")
    assert "e+" not in text and "e-0" not in text


@pytest.mark.parametrize("name", ["did", "fe", "jackknife", "gmm", "lmm", "drivers", "value", "checks"])
def test_every_result_prints_and_shows_html_tables(fits, name):
    res = fits[name]
    text, html = str(res), res._repr_html_()
    assert text.strip() and "<table>" in html and "<pre>" not in html
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "nan" not in text.lower().replace("nanosecond", "")


@pytest.mark.parametrize("name", ["did", "fe", "jackknife", "gmm", "lmm", "drivers", "value", "checks"])
def test_every_result_plots_a_figure_with_axis_titles(fits, name):
    fig = fits[name].plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() or ax.get_ylabel()
    assert ax.has_data()


def test_did_plot_draws_pointwise_intervals_and_the_uniform_band(fits):
    fig = fits["did"].plot()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "uniform 95% band" in labels and any("pointwise" in x for x in labels)
    assert fig.axes[0].get_xlabel() == "weeks since adoption"


def test_compare_plots_the_estimators_side_by_side(panel):
    table = compare(panel, methods=("fe", "jackknife"), **KW)
    fig = table.plot()
    assert isinstance(fig, Figure)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["fe: long-run: ai_share", "jackknife: long-run: ai_share"][::-1] or set(ticks) == {
        "fe: long-run: ai_share", "jackknife: long-run: ai_share"}
    assert "Estimators side by side" in str(table) and type(table.head()).__name__ == "DataFrame"


def test_value_plot_is_a_waterfall_of_dollars(fits):
    ax = fits["value"].plot().axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["capacity freed (gross)", "licences", "net value"]
    assert ax.get_ylabel() == "dollars over the period"


def test_etable_text_html_latex(fits):
    t = etable({"within": fits["fe"], "jackknife": fits["jackknife"], "GMM": fits["gmm"]})
    text = str(t)
    assert "within" in text and "jackknife" in text and "long-run: ai_share" in text and "Observations" in text
    assert "(" in text and "Significance" in text
    assert t._repr_html_().startswith("<table") and "<th>jackknife</th>" in t._repr_html_()
    tex = t.to_latex()
    assert tex.startswith(r"\begin{tabular}{lrrr}") and r"ai\_share" in tex and tex.rstrip().endswith(r"\end{tabular}")
    est = fits["fe"].params["ai_share"]
    assert fmt_num(est, 3) in text
    assert list(etable([fits["fe"]], keep=["ai_share"]).terms) == ["ai_share"]
