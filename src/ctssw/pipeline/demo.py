"""``ctssw demo``: simulate an organisation, ingest it, estimate, and write the report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from .. import report
from ..estimators import sensitivity
from ..estimators.results import jsonable
from ..metrics import cts_change, period_metrics, team_week_metrics
from ..panel import panel as build_panel
from ..simulate import TOOL, simulate
from ..store import Store, ingest_canonical
from .impact import impact, tool_effect
from .report import demo_report_sections

__all__ = ["Step", "run_demo", "summary_lines"]

Step = Callable[[str], None]


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
    for old in (db, out / "ctssw.duckdb.wal"):  # the demo's store holds this run's organisation only
        old.unlink(missing_ok=True)
    with Store(db) as store:
        counts = ingest_canonical(store, out / "data")
        step("building the team × week panel and DORA metrics")
        con = store.ibis()
        panel = build_panel(con)
        dora_weekly = team_week_metrics(con)
        dora_teams = period_metrics(con, by="team")
    # the file is for people: team-weeks below the privacy floor stay out of it (estimates use them all)
    shared, suppressed = report.suppress_small_groups(panel, builders="headcount", k=report.DEFAULT_K)
    shared.to_parquet(out / "panel.parquet", index=False)
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
        "panel": {
            "rows": len(panel), "teams": int(panel["team_id"].nunique()), "weeks": int(panel["week"].nunique()),
            "file_rows": len(shared), "suppressed_rows": suppressed, "k": report.DEFAULT_K,
        },
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
    (out / "results.json").write_text(json.dumps(jsonable(results), indent=2, default=str))
    report.write_report(
        out / "report.html",
        title="ctssw demo: cost to serve software",
        subtitle=f"Simulated organisation: {teams} teams × {weeks} weeks, seed {seed}.",
        summary=summary_lines(results),
        sections=[
            *demo_report_sections(panel, effect, truth, drivers),
            *report.impact_sections(impact_res),
            *report.dora_sections(dora_weekly, dora_teams, k=report.DEFAULT_K),
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
