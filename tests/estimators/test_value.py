"""Value translation: CTS-SW change, engineering-years, dollars and their intervals."""

from __future__ import annotations

import json

import pytest

from ctssw.errors import ConfigError, EstimationError
from ctssw.estimators.results import Estimate
from ctssw.estimators.value import translate


def test_point_and_intervals():
    eff = Estimate(0.08, 0.02, 0.04, 0.12)
    v = translate(eff, baseline_units_per_builder_week=1.0, treated_builder_weeks=52_000, license_cost=10_000)
    assert v.cts_change.estimate == pytest.approx(1 / 1.08 - 1)
    # decreasing transform: the interval's ends swap
    assert v.cts_change.ci_low == pytest.approx(1 / 1.12 - 1)
    assert v.cts_change.ci_high == pytest.approx(1 / 1.04 - 1)
    years = 52_000 * (1 - 1 / 1.08) / 52
    assert v.engineering_years.estimate == pytest.approx(years)
    assert v.engineering_years.ci_low == pytest.approx(1000 * (1 - 1 / 1.04))
    assert v.gross_dollars.estimate == pytest.approx(years * 200_000)
    assert v.net_dollars.estimate == pytest.approx(years * 200_000 - 10_000)
    assert v.net_dollars.ci_high == pytest.approx(1000 * (1 - 1 / 1.12) * 200_000 - 10_000)
    assert v.engineering_years.std_error == pytest.approx(1000 / 1.08**2 * 0.02)
    json.dumps(v.to_dict())
    assert "Engineering-years" in v.summary()


def test_absolute_effect_divided_by_baseline():
    v = translate(Estimate(0.4, 0.1, 0.2, 0.6), baseline_units_per_builder_week=5.0, treated_builder_weeks=520)
    assert v.relative_effect.estimate == pytest.approx(0.08)
    assert v.relative_effect.ci_high == pytest.approx(0.12)


def test_settings_override():
    eff = Estimate(0.1, 0.01, 0.08, 0.12)
    v = translate(eff, baseline_units_per_builder_week=1.0, treated_builder_weeks=4_600, weeks_per_year=46, loaded_annual_cost=150_000)
    assert v.engineering_years.estimate == pytest.approx(100 * (1 - 1 / 1.1))
    assert v.gross_dollars.estimate == pytest.approx(100 * (1 - 1 / 1.1) * 150_000)


def test_negative_effect_costs_and_bad_inputs():
    v = translate(Estimate(-0.05, 0.02, -0.09, -0.01), baseline_units_per_builder_week=1.0, treated_builder_weeks=5200)
    assert v.cts_change.estimate > 0 and v.engineering_years.estimate < 0
    with pytest.raises(ConfigError, match="positive"):
        translate(Estimate(0.1, 0.01, 0.08, 0.12), baseline_units_per_builder_week=0, treated_builder_weeks=1)
    with pytest.raises(ConfigError, match="non-negative"):
        translate(Estimate(0.1, 0.01, 0.08, 0.12), baseline_units_per_builder_week=1, treated_builder_weeks=-1)
    with pytest.raises(EstimationError):
        translate(Estimate(-1.2, 0.1, -1.4, -1.0), baseline_units_per_builder_week=1, treated_builder_weeks=1)
    w = translate(Estimate(0.1, 0.6, -1.1, 1.3), baseline_units_per_builder_week=1, treated_builder_weeks=52)
    assert w.warnings
