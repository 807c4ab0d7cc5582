from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ctssw.simulate import simulate, simulate_panel
from ctssw.simulate._dgp import BLOCK_TEAMS


def test_same_seed_same_organisation():
    a, ta = simulate_panel(teams=30, weeks=20, seed=5)
    b, tb = simulate_panel(teams=30, weeks=20, seed=5)
    pd.testing.assert_frame_equal(a, b)
    c, _ = simulate_panel(teams=30, weeks=20, seed=6)
    assert not a["deployments"].equals(c["deployments"])
    assert ta == tb


def test_writes_in_blocks_with_truth(tmp_path):
    teams = BLOCK_TEAMS + 7
    truth = simulate(tmp_path, teams=teams, weeks=8, seed=1)
    parts = sorted((tmp_path / "deployments").glob("part-*.parquet"))
    assert len(parts) == 2  # one part per block of teams: memory is bounded by the block
    t = json.loads((tmp_path / "truth.json").read_text())
    assert t["effect"] == 0.08 and t["beta"] == 0.45
    assert np.isclose(np.exp(t["gamma_log"] / (1 - t["beta"])) - 1, t["effect"])
    assert t["drivers"]["order"][0] == "velocity"
    teams_df = pd.read_parquet(tmp_path / "teams")
    assert teams_df["team_id"].str.startswith("team-").sum() == teams
    assert truth["rows"]["deployments"] == len(pd.read_parquet(tmp_path / "deployments"))


def test_staggered_adoption_and_never_treated():
    p, truth = simulate_panel(teams=200, weeks=104, seed=0)
    cohorts = p.groupby("team_id")["cohort_week"].first()
    assert 0.1 < (cohorts == -1).mean() < 0.3
    assert cohorts[cohorts >= 0].nunique() == 5
    never = p[p["cohort_week"] == -1]
    assert never["ai_share"].max() == 0
    late = p[(p["cohort_week"] >= 0) & (p["week"] == p["week"].max())]
    assert late["ai_share"].mean() > 0.6
