"""Small-sample intervals for staggered DiD: the Welch t-test they reduce to, the automatic
choice, and a reduced Monte Carlo with diff-diff's generator (the full study is
scripts/validate_did_intervals.py, reported in docs/validation.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ctssw.errors import ConfigError
from ctssw.estimators.did import staggered_did

KW = dict(y="outcome", unit="unit", time="period", cohort="first_treat", bootstrap=0)


def _staggered(n_units: int, effect: float, seed: int) -> pd.DataFrame:
    from diff_diff.prep_dgp import generate_staggered_data

    return generate_staggered_data(n_units=n_units, n_periods=10, never_treated_frac=0.1, treatment_effect=effect, seed=seed)


def test_cell_is_welch_t_test():
    """Without covariates, a cell against never-treated controls is a two-sample comparison
    of period differences: the small-sample interval is Welch's t-test."""
    d = _staggered(100, 2.0, 3)
    fit = staggered_did(d, **KW, control="never", inference="small-sample")
    wide = d.pivot(index="unit", columns="period", values="outcome")
    g = d.groupby("unit")["first_treat"].first()
    diff = wide[5] - wide[2]  # cohort 3, period 5, base period 2
    res = stats.ttest_ind(diff[g == 3], diff[g == 0], equal_var=False)
    cell = fit.att_gt.set_index(["group", "time"]).loc[(3, 5)]
    assert cell["att"] / cell["se"] == pytest.approx(res.statistic, rel=1e-10)
    assert cell["df"] == pytest.approx(res.df, rel=1e-10)
    assert fit.pvalues["ATT(3,5)"] == pytest.approx(res.pvalue, rel=1e-8)
    ci = res.confidence_interval(0.95)
    assert fit.conf_int().loc["ATT(3,5)", "lower"] == pytest.approx(ci.low, rel=1e-8)


def test_auto_choice_is_stated():
    small = staggered_did(_staggered(100, 2.0, 1), **KW)
    assert small.settings["inference"].startswith("small-sample")
    assert "10 unit(s)" in small.settings["inference_choice"]
    agg = small.aggregate("dynamic")
    assert np.isfinite(agg.overall_df) and agg.overall_df < 200
    assert "t with" in agg.summary()
    big = staggered_did(_staggered(1000, 2.0, 1), **KW)
    assert big.settings["inference"].startswith("analytic")
    assert np.isinf(big.aggregate("simple").overall_df)
    analytic = staggered_did(_staggered(100, 2.0, 1), **KW, inference="analytic")
    assert analytic.aggregate("simple").overall.std_error < agg.overall.std_error * 10
    with pytest.raises(ConfigError, match="inference"):
        staggered_did(_staggered(100, 2.0, 1), **KW, inference="bootstrap")


def test_small_design_monte_carlo_reduced():
    """100 units, 10% never treated, 10 periods, 3 cohorts: the analytic interval
    under-covers; the small-sample one holds its level and its false-positive rate."""
    reps = 120
    cover = {"analytic": [], "small-sample": []}
    reject = {"analytic": [], "small-sample": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(reps):
            for effect, store in ((2.0, cover), (0.0, reject)):
                d = _staggered(100, effect, 10_000 + r)
                truth = staggered_did(d.assign(outcome=d["true_effect"]), **KW, inference="analytic").aggregate("simple").overall.estimate
                for inf in store:
                    o = staggered_did(d, **KW, inference=inf).aggregate("simple").overall
                    inside = o.ci_low <= truth <= o.ci_high
                    store[inf].append(inside if effect else not inside)
    cov = {k: np.mean(v) for k, v in cover.items()}
    fpr = {k: np.mean(v) for k, v in reject.items()}
    assert 0.92 <= cov["small-sample"] <= 0.99
    assert fpr["small-sample"] <= 0.07
    assert cov["small-sample"] >= cov["analytic"]
    assert fpr["small-sample"] <= fpr["analytic"]


def test_interval_study_script_runs(tmp_path):
    """scripts/validate_did_intervals.py (the study in docs/validation.md) at one replication."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[2] / "scripts" / "validate_did_intervals.py"
    out = tmp_path / "intervals.md"
    subprocess.run([sys.executable, str(script), "--reps", "1", "--large-reps", "1", "--out", str(out)], check=True, capture_output=True)
    text = out.read_text()
    assert text.count("| cs (not-yet) | simple | auto |") == 4
    assert "false-positive rate" in text and "coverage" in text
