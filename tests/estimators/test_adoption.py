"""Adoption cohorts from tool usage and from rollout files."""

from __future__ import annotations

import pandas as pd
import pytest

from ctssw.errors import ConfigError, SchemaError
from ctssw.estimators.adoption import adoption_cohorts, rollout_cohorts


@pytest.fixture
def usage() -> pd.DataFrame:
    shares = {"a": [0, 0.6, 0, 0.6, 0.7, 0.8], "b": [0, 0.1, 0.2, 0.3, 0.4, 0.1], "c": [0, 0.5, 0.5, 0.5, 0, 0]}
    rows = [(t, w, s) for t, v in shares.items() for w, s in enumerate(v)]
    return pd.DataFrame(rows, columns=["team_id", "week", "ai_share"]).sample(frac=1, random_state=0)


def test_first_crossing(usage):
    out = adoption_cohorts(usage).set_index("team_id")["adoption_week"]
    assert out["a"] == 1 and pd.isna(out["b"]) and out["c"] == 1


def test_sustained(usage):
    out = adoption_cohorts(usage, sustain=3).set_index("team_id")["adoption_week"]
    assert out["a"] == 3 and out["c"] == 1 and pd.isna(out["b"])
    out = adoption_cohorts(usage, threshold=0.25, sustain=2).set_index("team_id")["adoption_week"]
    assert out["b"] == 3


def test_dates_keep_their_type(usage):
    u = usage.assign(week=pd.Timestamp("2025-01-06") + pd.to_timedelta(usage.week * 7, unit="D"))
    out = adoption_cohorts(u).set_index("team_id")["adoption_week"]
    assert out["a"] == pd.Timestamp("2025-01-13") and pd.isna(out["b"])


@pytest.mark.parametrize("kw", [{"threshold": 0}, {"threshold": 1.5}, {"sustain": 0}])
def test_bad_arguments(usage, kw):
    with pytest.raises(ConfigError):
        adoption_cohorts(usage, **kw)


def test_missing_column(usage):
    with pytest.raises(SchemaError):
        adoption_cohorts(usage, tool_col="copilot_share")


def test_rollout_file(tmp_path):
    p = tmp_path / "rollout.csv"
    p.write_text("team,date\na,2025-01-08\nb,2025-02-03\na,2025-03-01\n")
    out = rollout_cohorts(p).set_index("team_id")["adoption_week"]
    assert out["a"] == pd.Timestamp("2025-01-06") and out["b"] == pd.Timestamp("2025-02-03")
    bad = tmp_path / "bad.csv"
    bad.write_text("team,when\na,2025-01-01\n")
    with pytest.raises(SchemaError):
        rollout_cohorts(bad)
