"""``ctssw demo``: simulate an organisation, ingest it, estimate, and write the report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from .. import report
from ..estimators import sensitivity
from ..estimators.results import jsonable
from ..metrics import cts_change, metrics_panel, period_metrics, team_week_metrics
from ..simulate import TOOL, simulate
from ..store import Store, ingest_canonical
from ._shared import sections_connection
from .impact import impact, tool_effect
from .report import store_report_inputs, tools_for_report

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
    # one read-only connection for the metrics and the tools' panel: the panel is built once
    with sections_connection(backend="duckdb", db=db) as con, Store(db, read_only=True) as store:
        step("building the team × week panel and DORA metrics")
        dora_weekly = team_week_metrics(con)
        dora_teams = period_metrics(con, by="team")
        panel = metrics_panel(con)  # the rows the metrics were built on
        inputs = store_report_inputs(store, panel)
        # the file is for people: team-weeks below the privacy floor stay out of it (estimates use them all)
        shared, suppressed = report.suppress_small_groups(panel, builders="headcount", k=report.DEFAULT_K)
        shared.to_parquet(out / "panel.parquet", index=False)
        step("estimating the assistant's effect")
        effect = tool_effect(panel)
        drivers = sensitivity(panel, k=report.DEFAULT_K)
        impact_res = impact(panel, dynamic="all", did="cs")
        change = cts_change(panel)
        several, why_not = tools_for_report(db, [TOOL], k=report.DEFAULT_K)  # the assistant's share of the change in CTS-SW
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
        "headline": report.headline(impact_res),
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
    report.write_interactive_report(
        out / "report.html",
        weekly=dora_weekly,
        teams=dora_teams,
        impact=impact_res,
        drivers=drivers,
        tools=several,
        missing=why_not,
        truth=truth,
        title="ctssw demo: cost to serve software",
        subtitle=f"Simulated organisation: {teams} teams × {weeks} weeks, seed {seed}; the assistant's true effect is "
                 f"{truth['effect']:+.1%} deployments per builder-week at full adoption.",
        rostered=True,
        k=report.DEFAULT_K,
        **inputs,
    )
    results["elapsed_s"] = time.perf_counter() - t0
    return results


def summary_lines(results: dict) -> list[str]:
    """What ``ctssw demo`` prints: CTS-SW against a year earlier, the report's headline (the recommended
    estimator, with its verdict) against the simulated truth, and the engineering-years it is worth."""
    from ..estimators.display import fmt_money, fmt_num, fmt_pct

    c = results["cts_sw"]
    lines = []
    if c.get("now") is not None:
        lines.append(
            f"CTS-SW now {fmt_money(c['now'])} per {c['unit']} (last {c['window_weeks']} weeks) against "
            f"{fmt_money(c['year_earlier'])} a year earlier: {fmt_pct(c['change'])}."
        )
    else:
        lines.append(f"CTS-SW change over a year: not defined ({c.get('reason')}).")
    h = results.get("headline") or {}
    chosen = h.get("chosen")
    if chosen:
        v = verdict_of(chosen)
        lines.append(
            f"AI assistant ({chosen['label']}, the recommended estimator): {fmt_pct(chosen['estimate'])} deployments per "
            f"builder-week at full adoption (95% CI {fmt_pct(chosen['ci_low'])} to {fmt_pct(chosen['ci_high'])}){v}; "
            f"simulated truth {fmt_pct(results['effect']['truth'])}."
        )
    dyn = (results.get("impact") or {}).get("dynamic") or {}
    y = (dyn.get("value") or {}).get("engineering_years")
    if y:
        lines.append(
            f"Engineering-years saved ({dyn.get('valued_method')}): {fmt_num(y['estimate'], 1)} "
            f"(95% CI {fmt_num(y['ci_low'], 1)} to {fmt_num(y['ci_high'], 1)})."
        )
    elif (results.get("impact") or {}).get("value_withheld"):
        lines.append(f"Engineering-years: not given, {results['impact']['value_withheld']}.")
    return lines


def verdict_of(e: dict) -> str:
    """'' when the interval excludes zero, else a clause saying it cannot be told from zero."""
    return ": cannot be distinguished from zero" if e["ci_low"] <= 0 <= e["ci_high"] else ""
