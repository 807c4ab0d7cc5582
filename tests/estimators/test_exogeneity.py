"""Exogeneity checks: mediators, strict exogeneity and feedback are flagged when built in."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ctssw.errors import ConfigError
from ctssw.estimators.dynamic.exogeneity import checks


def _panel(feedback: float = 0.0, mediator: float = 0.0, anticipation: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N, T = 150, 40
    a = rng.normal(size=N)
    y = np.zeros((N, T))
    d = np.zeros((N, T))
    shock = rng.normal(size=(N, T))
    for t in range(1, T):
        d[:, t] = np.clip(d[:, t - 1] + 0.03 + feedback * (y[:, t - 1] - a) + 0.02 * rng.normal(size=N), 0, 1)
    for t in range(1, T):
        lead = d[:, t + 1] if t + 1 < T else d[:, t]
        y[:, t] = a + 0.4 * y[:, t - 1] + 0.1 * d[:, t] + anticipation * (lead - d[:, t]) / 0.05 * 0.1 + shock[:, t]
    m = mediator * d + rng.normal(scale=0.1, size=(N, T))
    c = rng.normal(size=(N, T))
    return pd.DataFrame(
        {"u": np.repeat(np.arange(N), T), "t": np.tile(np.arange(T), N), "y": y.ravel(), "d": d.ravel(), "m": m.ravel(), "c": c.ravel()}
    )


def test_clean_panel_has_no_mediator_flag_and_table_shape():
    res = checks(_panel(), treatment="d", covariates=["c"], y="y", unit="u", time="t")
    tab = res.table
    assert list(tab["check"]) == ["mediator", "strict exogeneity (lead)", "feedback (Granger)"]
    assert not tab.loc[tab["variable"] == "c", "flag"].item()
    assert {"verdict", "p_value", "flag"} <= set(tab.columns)
    json.dumps(res.to_dict())
    assert "Exogeneity checks" in res.summary()


def test_mediator_is_flagged():
    res = checks(_panel(mediator=0.5), treatment="d", covariates=["m", "c"], y="y", unit="u", time="t")
    row = res.table.set_index("variable").loc["m"]
    assert row["flag"] and "mediator" in row["verdict"]


def test_feedback_is_flagged():
    res = checks(_panel(feedback=0.02), treatment="d", covariates=["c"], y="y", unit="u", time="t")
    row = res.table.set_index("check").loc["feedback (Granger)"]
    assert row["flag"] and "feedback" in row["verdict"]


def test_anticipation_fails_strict_exogeneity():
    res = checks(_panel(anticipation=1.0), treatment="d", covariates=["c"], y="y", unit="u", time="t")
    row = res.table.set_index("check").loc["strict exogeneity (lead)"]
    assert row["flag"]


def test_validation():
    p = _panel()
    with pytest.raises(ConfigError, match="not in data"):
        checks(p, treatment="zz", covariates=["c"], y="y", unit="u", time="t")
    with pytest.raises(ConfigError, match="alpha"):
        checks(p, treatment="d", covariates=["c"], y="y", unit="u", time="t", alpha=2)
