"""Report pipelines: read a store for the interactive report and write it; the older static demo sections."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import report
from ..estimators import DriversResult
from ..metrics import org_weekly
from ..report import charts
from .impact import ToolEffect

__all__ = ["demo_report_sections", "store_report_inputs", "write_store_report"]


def demo_report_sections(
    panel: pd.DataFrame, effect: ToolEffect, truth: dict | None, drivers: DriversResult | None = None
) -> list[report.Section]:
    org = org_weekly(panel)
    trend = report.Section(
        "cts",
        "Cost to serve software",
        paragraphs=[
            "CTS-SW is the organisation's cost (loaded labour plus licences and infrastructure) per unit of "
            f"software reaching customers; the unit here is one production {panel['unit'].iloc[0]}. Each week "
            "is a ratio of sums over all teams; the smoothed line uses the trailing four weeks."
        ],
        charts=[
            charts.line_chart(
                org, "week", {"cts_sw": "weekly", "cts_sw_4w": "trailing 4 weeks"},
                title="CTS-SW per unit", ylabel="dollars per unit",
            )
        ],
    )
    adoption = report.Section(
        "adoption",
        "Adoption of the AI assistant",
        paragraphs=["Share of builders active with the assistant each week, across all teams."],
        charts=[charts.line_chart(org, "week", {"ai_share": "share of builders active"}, title="Adoption curve", ylabel="share")],
    )
    lr, sr, v = effect.long_run, effect.short_run, effect.value
    rows = pd.DataFrame(
        [
            {"label": "short-run (γ)", "estimate": sr.estimate, "ci_low": sr.ci_low, "ci_high": sr.ci_high},
            {"label": "long-run γ/(1−β)", "estimate": lr.estimate, "ci_low": lr.ci_low, "ci_high": lr.ci_high},
        ]
    )
    est = report.Section(
        "effect",
        "Effect of the assistant",
        paragraphs=[
            "Dynamic two-way fixed-effects model (team and week effects, errors clustered by team): "
            f"{effect.outcome} on its own lag, the assistant's adoption share, the rollback rate and manual "
            "interventions per deployment. The long-run effect is the relative change in deployments per "
            "builder-week at full adoption."
        ],
        charts=[
            charts.forest(
                rows, title="Effect of full adoption on deployments per builder-week", xlabel="relative change",
                truth=truth["effect"] if truth else None,
            )
        ],
        tables=[report.table_html(effect.fit.tidy())],
        pre=[effect.fit.summary(), v.summary()],
        notes=[
            "With a lagged outcome and team effects the within estimator carries Nickell bias of about "
            "−(1+β)/(T−1) in β; at the panel lengths here it is small, and the bias-corrected and GMM "
            "estimators are available through `ctssw impact`."
        ],
    )
    sections = [trend, adoption, est]
    if drivers is not None:
        sections.append(report.drivers_section(drivers, truth))
    return sections


def store_report_inputs(store, panel: pd.DataFrame | None = None) -> dict:
    """What the interactive report reads from a store besides the metrics.

    Returns ``teams_meta`` (the teams table), ``adoption`` (builders active with each
    tool, and each feature where the store records one, per week, beside the
    organisation's headcount) and ``status``: a plain dict of the store's health
    (rows per table, quarantined rows by reason, teams inferred from activity, and
    team-weeks where CTS-SW could not be computed, with why).
    """
    con = store.ibis()
    teams_meta = con.table("teams").to_pandas()
    usage = con.table("tool_usage")
    cols = ["tool", "feature"] if "feature" in usage.columns else ["tool"]
    u = usage.filter(usage.active).mutate(week=usage.day.truncate("W"))
    adoption = u.group_by(["week", *cols]).aggregate(active=u.builder_id.nunique()).to_pandas()
    if "feature" not in adoption:
        adoption["feature"] = "any feature"
    status: dict = {"rows_per_table": [{"table": t, "rows": n} for t, n in store.counts().items()]}
    q = store.con.execute("SELECT table_name, reason, count(*) AS n FROM quarantine GROUP BY ALL ORDER BY n DESC").fetchall()
    status["quarantined_rows_by_reason"] = [{"table": t, "reason": r, "rows": n} for t, r, n in q] or ["none"]
    rostered = int(store.con.execute("SELECT count(*) FROM teams").fetchall()[0][0])
    status["teams_in_roster"] = rostered
    if panel is not None and len(panel):
        hc = panel.groupby("week")["headcount"].sum().rename("headcount").reset_index()
        adoption = adoption.assign(week=pd.to_datetime(adoption["week"])).merge(hc.assign(week=pd.to_datetime(hc["week"])), on="week")
        status["teams_in_panel"] = int(panel["team_id"].nunique())
        status["teams_inferred_from_activity"] = int(len(set(panel["team_id"]) - set(teams_meta["team_id"])))
        why = panel["cts_sw_reason"].dropna().value_counts()
        status["cts_sw_not_computed"] = [{"reason": r, "team_weeks": int(n)} for r, n in why.items()] or ["none"]
    else:
        adoption = adoption.iloc[0:0].assign(headcount=[])
    return {"teams_meta": teams_meta, "adoption": adoption, "status": status}


def write_store_report(
    db: str | Path,
    path: str | Path,
    *,
    impact: dict | None = None,
    drivers: DriversResult | None = None,
    status: dict | None = None,
    title: str = "Cost to serve software",
    subtitle: str = "",
    k: int = report.DEFAULT_K,
) -> Path:
    """Write the interactive report for the store at ``db`` to ``path``.

    The store gives the team-week metrics, the team table, adoption and its own health;
    ``impact`` (:func:`ctssw.pipeline.impact` output) and ``drivers`` add their sections
    when given. ``status`` (for instance what ``ctssw status`` reports) is merged over the
    health the store reports itself.
    """
    from ..metrics import period_metrics, team_week_metrics
    from ..panel import panel as build_panel
    from ..store import Store

    with Store(db, read_only=True) as store:
        con = store.ibis()
        p = build_panel(con)
        weekly = team_week_metrics(con)
        teams = period_metrics(con, by="team")
        inputs = store_report_inputs(store, p)
    if status:
        inputs["status"] = {**inputs["status"], **status}
    rostered = not (set(p["team_id"]) - set(inputs["teams_meta"]["team_id"]))
    return report.write_interactive_report(
        path, weekly=weekly, teams=teams, impact=impact, drivers=drivers, title=title, subtitle=subtitle,
        rostered=rostered, k=k, **inputs,
    )
