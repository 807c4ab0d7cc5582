"""Randomisation inference: the permuted fits computed without refitting equal the refits."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctssw.estimators.did import robust, staggered_did
from ctssw.simulate._did_scenarios import did_scenario

MP = Path(__file__).parents[1] / "reference" / "did_mpdta" / "mpdta.csv"
KW = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat")


def _both(res, reps: int, monkeypatch) -> tuple[robust.Permutation, robust.Permutation]:
    fast = robust.permutation_test(res.panel, res.config, reps=reps, seed=5)
    with monkeypatch.context() as m:
        m.setattr(robust, "_linear_att", lambda *a: None)
        refit = robust.permutation_test(res.panel, res.config, reps=reps, seed=5)
    return fast, refit


@pytest.mark.parametrize("kw", [{"control": "notyet"}, {"control": "never", "anticipation": 1}])
def test_mpdta_draws_equal_the_refits(kw, monkeypatch):
    res = staggered_did(pd.read_csv(MP), **KW, **kw)
    assert robust._linear_att(res.panel, res.config, robust.simple_att(res.panel, res.config)) is not None
    fast, refit = _both(res, 40, monkeypatch)
    assert fast.observed == refit.observed
    np.testing.assert_allclose(fast.draws, refit.draws, rtol=1e-9, atol=1e-12)
    assert fast.p_value == refit.p_value and fast.draws.size == 40


def test_a_simulated_organisation_without_never_treated_teams_equals_the_refits(monkeypatch):
    # weekly data and every team adopts: the controls are the teams not yet treated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel, _ = did_scenario(teams=120, weeks=60, seed=4, effects=0.1, never_treated=0.0)
        res = staggered_did(panel, y="deploys_per_builder_norm", unit="team_id", time="week",
                            cohort="adoption_week", bootstrap=0)
    assert robust._linear_att(res.panel, res.config, robust.simple_att(res.panel, res.config)) is not None
    fast, refit = _both(res, 25, monkeypatch)
    np.testing.assert_allclose(fast.draws, refit.draws, rtol=1e-9, atol=1e-12)
    assert fast.p_value == refit.p_value


def test_fits_that_are_not_linear_in_the_cohorts_are_refitted():
    res = staggered_did(pd.read_csv(MP), **KW, covariates=["lpop"])
    assert robust._linear_att(res.panel, res.config, 0.0) is None
    res = staggered_did(pd.read_csv(MP), **KW, method="imputation")
    assert robust._linear_att(res.panel, res.config, 0.0) is None
    # a wrong observed value: the shortcut refuses rather than give other numbers
    res = staggered_did(pd.read_csv(MP), **KW)
    assert robust._linear_att(res.panel, res.config, robust.simple_att(res.panel, res.config) + 0.01) is None
