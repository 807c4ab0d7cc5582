"""The demo report's own sections: the CTS-SW trend, adoption and the first estimate."""

from __future__ import annotations

import pandas as pd

from .. import report
from ..estimators import DriversResult
from ..metrics import org_weekly
from ..report import charts
from .impact import ToolEffect

__all__ = ["demo_report_sections"]


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
