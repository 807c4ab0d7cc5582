"""End-to-end jobs the CLI runs: each command calls one function here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import report
from .estimators._results import Estimate, _jsonable
from .estimators.drivers import DriversResult, sensitivity
from .estimators.dynamic import dynamic_panel
from .estimators.value import translate
from .metrics import cts_change, org_weekly, period_metrics, team_week_metrics
from .panel import panel as build_panel
from .report import _charts
from .report._dora import dora_sections
from .report._impact import impact_sections
from .simulate import TOOL, simulate
from .store import Store, ingest_canonical

Step = Callable[[str], None]

DEFAULT_OUTCOME = "deploys_per_builder_norm"
DEFAULT_COVARIATES = ("rollback_rate", "interventions_per_deploy")


@dataclass(frozen=True)
class ToolEffect:
    """The first causal estimate: the article's dynamic two-way FE model and its value."""

    fit: object  # DynamicResult
    long_run: Estimate
    short_run: Estimate
    value: object  # ValueTranslation
    outcome: str
    treatment: str

    def to_dict(self) -> dict:
        return {
            "model": self.fit.to_dict(),
            "short_run": self.short_run.to_dict(),
            "long_run": self.long_run.to_dict(),
            "value": self.value.to_dict(),
            "outcome": self.outcome,
            "treatment": self.treatment,
        }


def tool_effect(
    panel: pd.DataFrame,
    *,
    treatment: str = "ai_share",
    outcome: str = DEFAULT_OUTCOME,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    loaded_annual_cost: float = 200_000.0,
    weeks_per_year: float = 52.0,
) -> ToolEffect:
    """Fit ``outcome ~ L.outcome + treatment + covariates | team + week`` and value the effect.

    The outcome is normalised to each team's pre-adoption mean, so the long-run
    coefficient is the relative change in units per builder-week at full
    adoption, which the value translation turns into CTS-SW, engineering-years
    and dollars (net of the licence cost in the panel).
    """
    fit = dynamic_panel(panel, y=outcome, x=[treatment, *covariates], unit="team_id", time="week", method="fe")
    lr = fit.long_run[treatment]
    ci = fit.conf_int(0.95).loc[treatment]
    sr = Estimate(float(fit.params[treatment]), float(fit.std_errors[treatment]), float(ci["lower"]), float(ci["upper"]))
    treated_bw = float((panel["builder_weeks"] * panel[treatment].fillna(0)).sum())
    value = translate(
        lr,
        baseline_units_per_builder_week=1.0,
        treated_builder_weeks=treated_bw,
        weeks_per_year=weeks_per_year,
        loaded_annual_cost=loaded_annual_cost,
        license_cost=float(panel["license_cost"].sum()),
    )
    return ToolEffect(fit=fit, long_run=lr, short_run=sr, value=value, outcome=outcome, treatment=treatment)


def impact(
    panel: pd.DataFrame,
    *,
    tool: str = TOOL,
    dynamic: str | None = "all",
    did: str | None = "all",
    outcome: str = DEFAULT_OUTCOME,
    threshold: float = 0.5,
    loaded_annual_cost: float = 200_000.0,
    weeks_per_year: float = 52.0,
) -> dict:
    """A tool's effect by the dynamic panel model and by staggered DiD, checked and valued.

    ``dynamic`` and ``did`` name a method of each family, ``"all"``, or ``None``
    to skip the family. The DiD average effect on the adopted team-weeks is
    valued like the dynamic model's: the outcome is normalised, so the ATT is a
    relative change in units per builder-week.
    """
    from .estimators.did import impact_did
    from .estimators.dynamic import impact_dynamic

    res: dict = {"tool": tool, "outcome": outcome}
    costs = {"loaded_annual_cost": loaded_annual_cost, "weeks_per_year": weeks_per_year,
             "license_cost": float(panel["license_cost"].sum())}
    if dynamic:
        res["dynamic"] = impact_dynamic(panel, tool=tool, method=dynamic, outcome=outcome, costs=costs)
    if did:
        d = impact_did(panel, tool=tool, method=did, outcome=outcome, threshold=threshold)
        res["did"] = d
        first = "cs" if "cs" in d["estimates"] else next(iter(d["estimates"]))
        att = d["estimates"][first].get("att")
        if att and att.get("estimate") is not None:
            adopted = panel.groupby("team_id")["ai_share"].transform(lambda s: (s >= threshold).cummax())
            res["did_value"] = translate(
                Estimate(att["estimate"], att["std_error"], att["ci_low"], att["ci_high"], att["level"]),
                baseline_units_per_builder_week=1.0,
                treated_builder_weeks=float(panel.loc[adopted, "builder_weeks"].sum()),
                weeks_per_year=weeks_per_year,
                loaded_annual_cost=loaded_annual_cost,
                license_cost=float(panel.loc[adopted, "license_cost"].sum()),
            ).to_dict()
            res["did_value"]["method"] = first
    return _jsonable(res)


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
            _charts.line_chart(
                org, "week", {"cts_sw": "weekly", "cts_sw_4w": "trailing 4 weeks"},
                title="CTS-SW per unit", ylabel="dollars per unit",
            )
        ],
    )
    adoption = report.Section(
        "adoption",
        "Adoption of the AI assistant",
        paragraphs=["Share of builders active with the assistant each week, across all teams."],
        charts=[_charts.line_chart(org, "week", {"ai_share": "share of builders active"}, title="Adoption curve", ylabel="share")],
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
            _charts.forest(
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
        from .report._drivers import drivers_section

        sections.append(drivers_section(drivers, truth))
    return sections


def run_demo(
    out: str | Path = "ctssw-demo",
    *,
    teams: int = 200,
    weeks: int = 104,
    seed: int = 0,
    step: Step | None = None,
) -> dict:
    """Simulate → ingest → panel → estimate → report, all under ``out``."""
    step = step or (lambda s: None)
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step("simulating the organisation")
    truth = simulate(out / "data", teams=teams, weeks=weeks, seed=seed)
    step("ingesting into DuckDB")
    db = out / "ctssw.duckdb"
    with Store(db) as store:
        counts = ingest_canonical(store, out / "data")
        step("building the team × week panel and DORA metrics")
        con = store.ibis()
        panel = build_panel(con)
        dora_weekly = team_week_metrics(con)
        dora_teams = period_metrics(con, by="team")
    panel.to_parquet(out / "panel.parquet", index=False)
    step("estimating the assistant's effect")
    effect = tool_effect(panel)
    drivers = sensitivity(panel, k=report.DEFAULT_K)
    impact_res = impact(panel, dynamic="all", did="cs")
    change = cts_change(panel)
    step("writing the report")
    results = {
        "effect": {
            "estimate": effect.long_run.estimate,
            "ci_low": effect.long_run.ci_low,
            "ci_high": effect.long_run.ci_high,
            "std_error": effect.long_run.std_error,
            "truth": truth["effect"],
            "definition": "long-run relative change in production deployments per builder-week at full adoption",
        },
        "cts_sw": change,
        "engineering_years_saved": {
            "estimate": effect.value.engineering_years.estimate,
            "ci_low": effect.value.engineering_years.ci_low,
            "ci_high": effect.value.engineering_years.ci_high,
        },
        "dollars_saved_net": effect.value.net_dollars.to_dict(),
        "model": effect.to_dict(),
        "ingest": [c.as_row() for c in counts],
        "panel": {"rows": int(len(panel)), "teams": int(panel["team_id"].nunique()), "weeks": int(panel["week"].nunique())},
        "truth": truth,
        "tool": TOOL,
        "impact": impact_res,
        "drivers": {
            "ranking": drivers.ranking(),
            "true_order": truth["drivers"]["order"],
            "true_null": truth["drivers"]["null"],
            "effects": drivers.effects.to_dict(orient="records"),
            "variance_explained": drivers.variance,
            "random_effects": drivers.random_effects,
            "nobs": drivers.nobs,
            "n_teams": drivers.n_teams,
            "warnings": drivers.warnings,
            "notes": drivers.notes,
        },
    }
    (out / "results.json").write_text(json.dumps(_jsonable(results), indent=2, default=str))
    report.write_report(
        out / "report.html",
        title="ctssw demo: cost to serve software",
        subtitle=f"Simulated organisation: {teams} teams × {weeks} weeks, seed {seed}.",
        summary=summary_lines(results),
        sections=[
            *demo_report_sections(panel, effect, truth, drivers),
            *impact_sections(impact_res),
            *dora_sections(dora_weekly, dora_teams, k=report.DEFAULT_K),
        ],
    )
    results["elapsed_s"] = time.perf_counter() - t0
    return results


def summary_lines(results: dict) -> list[str]:
    c, e, y = results["cts_sw"], results["effect"], results["engineering_years_saved"]
    lines = []
    if c.get("now") is not None:
        lines.append(
            f"CTS-SW now ${c['now']:,.0f} per {c['unit']} (last {c['window_weeks']} weeks) against "
            f"${c['year_earlier']:,.0f} a year earlier: {c['change']:+.1%}."
        )
    else:
        lines.append(f"CTS-SW change over a year: not defined ({c.get('reason')}).")
    lines.append(
        f"AI assistant, long-run effect at full adoption: {e['estimate']:+.1%} deployments per builder-week "
        f"(95% CI {e['ci_low']:+.1%} to {e['ci_high']:+.1%}); simulated truth {e['truth']:+.1%}."
    )
    lines.append(
        f"Engineering-years saved: {y['estimate']:,.1f} (95% CI {y['ci_low']:,.1f} to {y['ci_high']:,.1f})."
    )
    return lines
