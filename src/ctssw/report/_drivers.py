"""The drivers section of a report: forest plot and table of the sensitivity analysis."""

from __future__ import annotations

import pandas as pd

from . import charts as _charts
from ._html import Section, table_html

_LABELS = {
    "velocity": "velocity (merged changes per builder)",
    "interventions_per_deploy": "interventions per deployment",
    "rollback_rate": "rollback rate",
    "pages_per_oncall_builder": "pages per on-call builder",
    "builders": "team size (builders)",
    "new_member_share": "onboarding (share of new members)",
    "ai_share": "AI share",
}


def drivers_section(res, truth: dict | None = None) -> Section:
    """A report section for a :class:`~ctssw.estimators.drivers.DriversResult`.

    ``truth`` is the simulator's ``truth.json``; when given, the true driver
    order is printed beside the estimated one.
    """
    eff = res.effects
    pct = round(res.level * 100)
    rows = pd.DataFrame(
        {
            "label": [_LABELS.get(d, d) for d in eff["driver"]],
            "estimate": eff["pct_per_sd"],
            "ci_low": eff["pct_per_sd_low"],
            "ci_high": eff["pct_per_sd_high"],
        }
    )
    table = res.effects_table().rename(
        columns={
            "pct_per_sd": "% per +1 SD",
            "pct_per_sd_low": f"{pct}% low",
            "pct_per_sd_high": f"{pct}% high",
            "pct_per_10pct": "% per +10%",
            "pct_per_10pct_low": f"{pct}% low ",
            "pct_per_10pct_high": f"{pct}% high ",
        }
    )
    v = res.variance
    paragraphs = [
        (
            "Linear mixed model of log CTS-SW per team-week on the candidate drivers (standardised), with a "
            f"random intercept per team and random part “{res.random_effects}” ({res.n_teams} teams, "
            f"{res.nobs:,} team-weeks). Each bar is the predicted % change in CTS-SW for a +1 SD change in one "
            "driver with the others held fixed; the table adds the change for +10% at the driver's mean. "
            "Drivers are ranked by the size of the +1 SD effect. These are associations, not causal effects."
        ),
        (
            f"Variance explained: marginal R² {v['r2_marginal']:.3f} (drivers alone), conditional R² "
            f"{v['r2_conditional']:.3f} (drivers and team effects); against an intercept-only model the drivers "
            f"explain {v['within_team_explained']:.1%} of the within-team (week-to-week) variance and "
            f"{v['between_team_explained']:.1%} of the between-team variance."
        ),
    ]
    if truth is not None and "drivers" in truth:
        est = [d for d in res.ranking() if d in truth["drivers"]["order"]]
        paragraphs.append(
            f"Simulated truth, largest first: {', '.join(truth['drivers']['order'])}"
            f" (no effect: {', '.join(truth['drivers'].get('null', []))}). "
            f"Estimated order of the same drivers: {', '.join(est)}. The truth refers to latent drivers; "
            "the panel's metrics are noisy proxies of them, so estimates are attenuated."
        )
    return Section(
        "drivers",
        "Drivers of CTS-SW",
        paragraphs=paragraphs,
        charts=[_charts.forest(rows, title="Predicted change in CTS-SW for a +1 SD change in each driver", xlabel="% change in CTS-SW")],
        tables=[table_html(table, digits=3)],
        notes=[*res.warnings, *res.notes],
    )
