"""Roll-ups of the team-week panel to the organisation.

Every org figure is a ratio of sums over teams: the org's CTS-SW for a week is
its total cost over its total units, not the mean of team CTS-SW values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_SUMS = ("cost", "units", "builders", "builder_weeks", "headcount", "deployments", "rollbacks",
         "changes_merged", "interventions", "pages", "oncall_builders", "ai_active", "license_cost")


def org_weekly(panel: pd.DataFrame) -> pd.DataFrame:
    """One row per week for the whole organisation in ``panel``."""
    g = panel.groupby("week", sort=True)[list(_SUMS)].sum().reset_index()
    g["teams"] = panel.groupby("week").size().to_numpy()
    g["cts_sw"] = (g["cost"] / g["units"]).where(g["units"] > 0)
    g["cts_hours"] = (g["builder_weeks"] * 40.0 / g["units"]).where(g["units"] > 0)
    c4, u4 = g["cost"].rolling(4, min_periods=1).sum(), g["units"].rolling(4, min_periods=1).sum()
    g["cts_sw_4w"] = (c4 / u4).where(u4 > 0)
    g["velocity"] = (g["changes_merged"] / g["builders"]).where(g["builders"] > 0)
    g["deploys_per_builder"] = (g["deployments"] / g["builders"]).where(g["builders"] > 0)
    g["ai_share"] = (g["ai_active"] / g["headcount"]).where(g["headcount"] > 0)
    return g


def cts_change(panel: pd.DataFrame, *, weeks: int = 13) -> dict:
    """CTS-SW over the last ``weeks`` weeks against the same weeks one year earlier.

    Returns NULL-like ``None`` values with a reason when the panel is shorter
    than a year plus the window, or a window has no units.
    """
    all_weeks = np.sort(panel["week"].unique())
    out: dict = {"window_weeks": weeks}
    if all_weeks.size < 52 + weeks:
        out.update(now=None, year_earlier=None, change=None, reason="panel shorter than one year plus the window")
        return out
    now_w = all_weeks[-weeks:]
    then_w = all_weeks[-weeks - 52 : -52]

    def ratio(ws) -> tuple[float | None, float, float]:
        p = panel[panel["week"].isin(ws)]
        cost, units = float(p["cost"].sum()), float(p["units"].sum())
        return (cost / units if units > 0 else None), cost, units

    now, cost_now, units_now = ratio(now_w)
    then, cost_then, units_then = ratio(then_w)
    out.update(
        now=now,
        year_earlier=then,
        change=(now / then - 1) if now is not None and then else None,
        now_weeks=[str(pd.Timestamp(now_w[0]).date()), str(pd.Timestamp(now_w[-1]).date())],
        year_earlier_weeks=[str(pd.Timestamp(then_w[0]).date()), str(pd.Timestamp(then_w[-1]).date())],
        cost_now=cost_now,
        units_now=units_now,
        cost_year_earlier=cost_then,
        units_year_earlier=units_then,
        unit=str(panel["unit"].iloc[0]) if "unit" in panel and panel["unit"].nunique() == 1 else "mixed",
    )
    return out
