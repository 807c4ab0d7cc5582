"""The interactive report: one self-contained HTML file (plotly.js inlined once, no network).

:func:`interactive_report` takes what the pipelines already computed (the team-week
metrics, the per-team table, the impact dict, a drivers result, adoption shares, a
status dict) and returns the page. The page's charts are drawn in the browser from
one embedded JSON document that holds only privacy-floored aggregates; no row below
``k`` builders is in the file. ``ctssw report``, ``ctssw demo`` and ``ctssw impact
--report`` all write their page through :func:`write_interactive_report`.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from ..estimators.display import fmt_ci, fmt_money, fmt_num, fmt_pct, verdict
from ..privacy import DEFAULT_K, check_k
from ._data import (
    DORA_TIERS,
    PERCENT_COLUMNS,
    TEAM_COLUMNS,
    explain_steps,
    series,
    team_rows,
    tier_bounds,
    tool_effects,
)

__all__ = ["RECOMMENDED_DYNAMIC", "headline", "interactive_report", "plotly_js", "write_interactive_report"]

#: the dynamic-panel estimator the validation study supports for this design (docs/validation.md)
RECOMMENDED_DYNAMIC = "jackknife"
METHOD_NAMES = {"fe": "within (two-way FE)", "jackknife": "half-panel jackknife (bias-corrected)",
                "diff-gmm": "difference GMM (Arellano–Bond)", "sys-gmm": "system GMM (Blundell–Bond)",
                "cs": "Callaway–Sant'Anna DiD", "sun-abraham": "Sun–Abraham DiD", "imputation": "imputation DiD (BJS)",
                "twfe": "naive TWFE DiD"}


def plotly_js() -> str:
    """The minified plotly.js that ships inside the ``plotly`` Python package."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _est(e: dict | None) -> dict | None:
    if not e or e.get("estimate") is None:
        return None
    return {k: e.get(k) for k in ("estimate", "ci_low", "ci_high", "std_error")}


def headline(impact: dict | None) -> dict | None:
    """The one headline: the recommended estimator's effect, the others beside it.

    The dynamic family's half-panel jackknife is recommended when it was fitted (the
    validation study: coverage 0.965 at T=104, and it removes the within estimator's
    Nickell bias); otherwise Callaway–Sant'Anna DiD with not-yet-treated controls.
    """
    if not impact:
        return None
    tool = impact.get("tool", "the tool")
    forest = []
    dyn, did = impact.get("dynamic") or {}, impact.get("did") or {}
    treatment = dyn.get("treatment", "ai_share")
    for m, r in (dyn.get("estimates") or {}).items():
        e = _est((r.get("long_run") or {}).get(treatment))
        if e:
            forest.append({"method": m, "label": METHOD_NAMES.get(m, m), "family": "dynamic panel (long-run)", **e})
    for m, r in (did.get("estimates") or {}).items():
        e = _est(r.get("att"))
        if e:
            forest.append({"method": m, "label": METHOD_NAMES.get(m, m), "family": "staggered DiD (ATT)", **e})
    chosen, value, why = None, None, ""
    if dyn and dyn.get("valued_method") in (dyn.get("estimates") or {}):
        m = dyn["valued_method"]
        chosen = next((f for f in forest if f["method"] == m and f["family"].startswith("dynamic")), None)
        value = dyn.get("value")
        why = ("the half-panel jackknife, which the validation study recommends for this design (it removes the within "
               "estimator's Nickell bias; 95% intervals covered the truth in 96.5% of simulated runs at 104 weeks)"
               if m == RECOMMENDED_DYNAMIC else f"{METHOD_NAMES.get(m, m)}, the method asked for")
    elif did:
        m = did.get("method", "cs")
        chosen = next((f for f in forest if f["method"] == m and f["family"].startswith("staggered")), None)
        value = impact.get("did_value")
        why = ("Callaway–Sant'Anna difference-in-differences with not-yet-treated controls, which the validation study "
               "recommends for staggered adoption" if m == "cs" else METHOD_NAMES.get(m, m))
    if chosen is None:
        return {"text": f"No estimate of {tool}'s effect could be computed.", "forest": forest}
    v = verdict(chosen["ci_low"], chosen["ci_high"])
    eff = (f"{fmt_pct(chosen['estimate'])} production deployments per builder-week at full adoption "
           f"(95% CI {fmt_pct(chosen['ci_low'])} to {fmt_pct(chosen['ci_high'])})")
    if v == "cannot distinguish from zero":
        text = f"The effect of {tool} cannot be distinguished from zero: {eff}."
    else:
        text = f"{tool[:1].upper() + tool[1:]} {'raised' if chosen['estimate'] > 0 else 'lowered'} delivery: {eff}."
    parts = [text, f"Estimator: {why}."]
    if impact.get("credible") is False:  # the impact pipeline's checks failed: say so first, give no value
        reasons = "; ".join(impact.get("not_credible_because") or []) or "its checks failed"
        parts = [f"Not credible: {reasons}.", *parts, f"Value withheld: {impact.get('value_withheld') or reasons}."]
        value = None
    if value:
        ey, nd, cc = value["engineering_years"], value["net_dollars"], value["cts_change"]
        parts.append(
            f"In cost terms: CTS-SW {fmt_pct(cc['estimate'])} {fmt_ci(cc['ci_low'], cc['ci_high'], fmt_pct)}, "
            f"{fmt_num(ey['estimate'], 1)} engineering-years {fmt_ci(ey['ci_low'], ey['ci_high'], lambda x: fmt_num(x, 1))}, "
            f"{fmt_money(nd['estimate'])} net of licences {fmt_ci(nd['ci_low'], nd['ci_high'], fmt_money)}.")
    return {"text": " ".join(parts), "verdict": v, "chosen": chosen, "forest": forest}


def _event_study(impact: dict | None) -> list[dict] | None:
    es = ((impact or {}).get("did") or {}).get("event_study")
    return es or None


def _waterfall(impact: dict | None, steps: list[dict] | None) -> list[dict] | None:
    if steps:
        return steps
    v = ((impact or {}).get("dynamic") or {}).get("value") or (impact or {}).get("did_value")
    if not v:
        return None
    g, n = v["gross_dollars"], v["net_dollars"]
    lic = (v.get("settings") or {}).get("license_cost") or 0.0
    return [
        {"label": "capacity freed (gross)", "value": g["estimate"], "low": g["ci_low"], "high": g["ci_high"], "total": True},
        {"label": "licences", "value": -float(lic)},
        {"label": "net value", "value": n["estimate"], "low": n["ci_low"], "high": n["ci_high"], "total": True},
    ]


def _drivers(res: Any) -> list[dict] | None:
    if res is None:
        return None
    e = res.effects
    return [{"driver": str(r["driver"]), "estimate": r["pct_per_sd"] / 100, "ci_low": r["pct_per_sd_low"] / 100,
             "ci_high": r["pct_per_sd_high"] / 100} for _, r in e.iterrows()]


def _adoption(adoption: pd.DataFrame | None, k: int) -> dict | None:
    """``adoption``: week, tool, feature, active (builders), headcount (builders in the org that week)."""
    if adoption is None or adoption.empty:
        return None
    a = adoption[(adoption["active"] >= k) | (adoption["active"] == 0)]
    a = a[a["headcount"] >= k]
    out: dict[str, dict] = {}
    for (tool, feat), g in a.sort_values("week").groupby(["tool", "feature"]):
        out[f"{tool} · {feat}"] = {"x": [pd.Timestamp(w).strftime("%Y-%m-%d") for w in g["week"]],
                                   "share": [float(s) for s in g["active"] / g["headcount"]]}
    return out or None


def _status(status: dict | None) -> list[dict] | None:
    """A plain status dict as display blocks: lists of rows become tables, the rest key/value pairs."""
    if not status:
        return None
    blocks, kv = [], []
    for key, v in status.items():
        title = str(key).replace("_", " ")
        title = title[:1].upper() + title[1:]
        if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
            cols = list(dict.fromkeys(c for r in v for c in r))
            blocks.append({"title": title, "columns": [c.replace("_", " ") for c in cols],
                           "rows": [[_cell(r.get(c)) for c in cols] for r in v]})
        elif isinstance(v, dict):
            blocks.append({"title": title, "columns": ["item", "value"], "rows": [[str(a), _cell(b)] for a, b in v.items()]})
        elif isinstance(v, list):
            blocks.append({"title": title, "columns": ["item"], "rows": [[_cell(x)] for x in v] or [["none"]]})
        else:
            kv.append([title, _cell(v)])
    if kv:
        blocks.insert(0, {"title": "Summary", "columns": ["item", "value"], "rows": kv})
    return blocks


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return fmt_num(v)
    if v is None:
        return "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{a}: {_cell(b)}" for a, b in v.items())
    return str(v)


def _context(weekly: pd.DataFrame, kept_teams: int, *, unit: str | None, cost_basis: str | None, rostered: bool | None, k: int) -> str:
    w = pd.to_datetime(weekly["week"])
    if w.empty:
        return (f"Cost to serve software (CTS-SW) is what this organisation spends per unit of software that reaches "
                f"customers. This store has no team-weeks yet, so there is no period to describe; the sections below say "
                f"what is missing and which command supplies it. Privacy floor: nothing in this file describes fewer "
                f"than {k} builders.")
    unit = unit or (str(weekly["unit"].iloc[0]) if "unit" in weekly and len(weekly) else "deployment")
    unit_text = {"deployment": "production deployment", "change": "merged change", "commit": "commit that reached production"}.get(unit, unit)
    teams = f"{fmt_num(weekly['team_id'].nunique())} teams ({'from a roster' if rostered else 'inferred from activity, not from a roster' if rostered is False else 'rostered or inferred as the store records'})"
    return (
        f"Cost to serve software (CTS-SW) is what this organisation spends per unit of software that reaches customers; "
        f"the unit here is one {unit_text}. Cost is {cost_basis or 'loaded labour (builder-weeks at the loaded rate) plus licences and infrastructure'}. "
        f"Period: {w.min():%d %b %Y} to {w.max():%d %b %Y} ({fmt_num(w.nunique())} weeks), {teams}. "
        f"Organisation and group figures are ratios of sums, never averages of team ratios. "
        f"Privacy floor: nothing in this file describes fewer than {k} builders; {fmt_num(kept_teams)} teams reach it."
    )


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("ctssw.report", "templates"), autoescape=jinja2.select_autoescape(["html"]))


def interactive_report(
    *,
    weekly: pd.DataFrame,
    teams: pd.DataFrame | None = None,
    teams_meta: pd.DataFrame | None = None,
    impact: dict | None = None,
    drivers: Any = None,
    adoption: pd.DataFrame | None = None,
    status: dict | None = None,
    waterfall: list[dict] | None = None,
    tools: dict | None = None,
    truth: dict | None = None,
    title: str = "Cost to serve software",
    subtitle: str = "",
    unit: str | None = None,
    cost_basis: str | None = None,
    rostered: bool | None = None,
    missing: dict[str, str] | None = None,
    k: int = DEFAULT_K,
) -> str:
    """The report page as one HTML string.

    Parameters
    ----------
    weekly : DataFrame
        ``ctssw.metrics.team_week_metrics(con)``: the panel with DORA columns, one row per team-week.
    teams : DataFrame, optional
        ``ctssw.metrics.period_metrics(con, by="team")``, for the team table.
    teams_meta : DataFrame, optional
        The store's ``teams`` table (names for the selector).
    impact : dict, optional
        :func:`ctssw.pipeline.impact` output.
    drivers : DriversResult, optional
    adoption : DataFrame, optional
        Weekly ``week, tool, feature, active, headcount``: builders active with each tool feature.
    status : dict, optional
        What the store knows about its own health (coverage per source, quarantine by reason,
        inferred teams, what could not be computed): any plain dict; lists of dicts become tables.
    waterfall : list of dict, optional
        Value waterfall steps (``label, value, low, high, total``); by default the headline's value.
    tools : dict, optional
        Several tools in one model (:func:`ctssw.pipeline.attribute_tools` output): each tool's
        effect, and with ``decompose=True`` its ``explain``, drawn as the waterfall of what moved
        CTS-SW (observed, counterfactual trend, each tool, team composition, cost per
        builder-week, residual, observed).
    truth : dict, optional
        A simulation's ``truth.json``: the true effect is drawn on the forest plot.
    missing : dict, optional
        Section → one sentence saying why it cannot be computed and which command supplies
        the data (sections ``headline``, ``cts``, ``dora``, ``adoption``, ``event_study``,
        ``drivers``, ``waterfall``, ``tools``, ``explain``, ``teams``); shown in the section's place.
    k : int
        Privacy floor.
    """
    k = check_k(k)
    data = series(weekly, k=k, teams_meta=teams_meta)
    missing = {s: m for s, m in (missing or {}).items() if m}
    if not data["keys"]:
        floor = (f"no week has at least {k} builders in the store, the privacy floor "
                 f"(lower it to at least 3 with --k, or add teams' members: ctssw ingest roster)")
        for sec in ("cts", "dora"):
            missing.setdefault(sec, floor if len(weekly) else "the store has no team-weeks (see ctssw status)")
    names = dict(zip(teams_meta["team_id"], teams_meta["name"], strict=False)) if teams_meta is not None and "name" in teams_meta else None
    cols, rows, dropped_teams = team_rows(teams, k=k, names=names, weekly=weekly) if teams is not None else ([], [], 0)
    kept = len([key for key in data["keys"] if key.startswith("team:")])
    if impact and impact.get("credible") is False and not waterfall:
        missing.setdefault("waterfall", "the estimate is not credible, so its value is withheld (the headline says why)")
    if not rows and dropped_teams:
        missing.setdefault("teams", f"every team has fewer than {k} builders over the period, the privacy floor "
                                    "(lower it to at least 3 with --k)")
    head = headline(impact)
    explained = explain_steps((tools or {}).get("explain"), k=k)
    if tools and not explained:
        why = tools.get("explain_withheld")
        missing.setdefault("explain", why or f"a window of the decomposition has a week with fewer than {k} builders, the privacy floor")
    payload = {
        "k": k,
        "series": data,
        "tiers": {m: s["text"] for m, s in DORA_TIERS.items()},
        "tier_bounds": tier_bounds(),
        "teams": {"columns": cols, "rows": rows, "percent": [TEAM_COLUMNS[c] for c in PERCENT_COLUMNS if TEAM_COLUMNS[c] in cols],
                  "dropped": dropped_teams},
        "headline": head,
        "truth": (truth or {}).get("effect"),
        "event_study": _event_study(impact),
        "did_verdict": ((impact or {}).get("did") or {}).get("verdict"),
        "drivers": _drivers(drivers),
        "waterfall": _waterfall(impact, waterfall),
        "tool_effects": tool_effects(tools),
        "explain": explained,
        "adoption": _adoption(adoption, k),
        "status": _status(status),
        "tool": (impact or {}).get("tool"),
        "has_series": bool(data["keys"]),
    }
    js = resources.files("ctssw.report").joinpath("templates/report.js").read_text(encoding="utf-8")
    return _ENV.get_template("interactive.html").render(
        title=title, subtitle=subtitle, context=_context(weekly, kept, unit=unit, cost_basis=cost_basis, rostered=rostered, k=k),
        headline=head, plotly=plotly_js(), app=js,
        data=json.dumps(payload, allow_nan=False, separators=(",", ":")).replace("</", "<\\/"),
        k=k, suppressed=data["suppressed"], dropped_teams=dropped_teams, missing=missing,
    )


def write_interactive_report(path: str | Path, **kw: Any) -> Path:
    """Write :func:`interactive_report` to ``path`` and return it."""
    path = Path(path)
    path.write_text(interactive_report(**kw), encoding="utf-8")
    return path
