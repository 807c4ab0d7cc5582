"""The report's DORA section: org trends by week (ratios of sums) and a per-team table."""

from __future__ import annotations

import pandas as pd

from ..privacy import DEFAULT_K, suppress_small_groups
from ._html import Section, table_html
from .charts import line_chart


def dora_org_weekly(weekly: pd.DataFrame) -> pd.DataFrame:
    """Org trend per week from team-week metrics.

    Rates are ratios of sums. A median of team medians is not a median, so lead time
    is the mean of team-week medians weighted by changes deployed, and is labelled so.
    """
    w = weekly.copy()
    w["_lt_w"] = w["lead_time_median_h"] * w["changes_deployed"]
    g = w.groupby("week", sort=True).agg(
        teams=("team_id", "size"), prod_deployments=("prod_deployments", "sum"),
        deployments=("deployments", "sum"), deploy_days=("deploy_days", "sum"),
        change_failures=("change_failures", "sum"), rework=("rework_deployments", "sum"),
        changes=("changes_deployed", "sum"), lt=("_lt_w", "sum"),
    ).reset_index()
    pos = g["prod_deployments"].where(g["prod_deployments"] > 0)
    g["deploy_days_per_team"] = g["deploy_days"] / g["teams"]
    g["deployments_per_team"] = g["deployments"] / g["teams"]
    g["change_failure_rate"] = g["change_failures"] / pos
    g["rework_rate"] = g["rework"] / pos
    g["lead_time_h"] = g["lt"] / g["changes"].where(g["changes"] > 0)
    return g


def dora_sections(weekly: pd.DataFrame, teams: pd.DataFrame | None = None, *, k: int = DEFAULT_K) -> list[Section]:
    """Report sections for DORA trends.

    Parameters
    ----------
    weekly : DataFrame
        ``ctssw.metrics.team_week_metrics(con)``: one row per team-week.
    teams : DataFrame, optional
        ``ctssw.metrics.period_metrics(con, by="team")``: a per-team table, shown
        after the privacy floor.
    k : int
        The privacy floor; team-weeks and teams describing fewer builders are left out.
    """
    kept, dropped = suppress_small_groups(weekly, builders="headcount", k=k)
    g = dora_org_weekly(kept)
    charts = [
        line_chart(g, "week", {"deploy_days_per_team": "deploy days per team", "deployments_per_team": "deployments per team"},
                   title="Deployment frequency", ylabel="per team-week"),
        line_chart(g, "week", {"lead_time_h": "change lead time (hours)"}, title="Change lead time", ylabel="hours"),
        line_chart(g, "week", {"change_failure_rate": "change failure rate", "rework_rate": "rework rate"},
                   title="Change failure and rework", ylabel="share of deployments"),
    ]
    notes = [
        "Rates are ratios of sums over teams; lead time is the mean of team-week medians weighted by changes deployed.",
    ]
    if dropped:
        notes.append(f"{dropped} team-week row(s) suppressed: they describe fewer than {k} builders (privacy floor).")
    tables = []
    if teams is not None:
        t, n = suppress_small_groups(teams.assign(headcount=teams["headcount"].fillna(0)), builders="headcount", k=k)
        cols = ["group", "headcount", "deploy_days_per_week", "deployments_per_week", "lead_time_median_h",
                "lead_time_p90_h", "change_failure_rate", "recovery_median_h", "rework_rate", "cts_sw"]
        tables.append(table_html(t[cols].rename(columns={"group": "team"})))
        if n:
            notes.append(f"{n} team row(s) suppressed: they describe fewer than {k} builders (privacy floor).")
    return [Section(
        id="dora", title="DORA trends",
        paragraphs=["Deployment frequency, change lead time, change failure rate and rework, week by week, "
                    "for the whole organisation. Definitions: docs/metrics.md."],
        charts=charts, tables=tables, notes=notes,
    )]
