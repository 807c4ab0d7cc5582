"""What each result type shows when printed or displayed in a notebook.

One function per result type returns a list of :class:`~ctssw.estimators.display.Block`;
the classes call them from ``_blocks()``. Nothing here fits a model: each function
reads the fields a result already holds (and the aggregations it caches).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import display as d

__all__ = [
    "Comparison",
    "did_aggregate_blocks",
    "did_blocks",
    "drivers_blocks",
    "dynamic_blocks",
    "exogeneity_blocks",
    "gmm_blocks",
    "lmm_blocks",
    "value_blocks",
]

#: event times shown by ``print(did_result)``: this many before adoption and after
EVENT_WINDOW = (-5, 10)


def _settings(res: Any, keys: tuple[str, ...] | None = None) -> dict[str, str]:
    out = {"Model": res.formula, "Observations": d.fmt_num(res.nobs)}
    for k, v in res.settings.items():
        if (keys is None or k in keys) and isinstance(v, (str, int, float, bool, np.integer, np.floating)):
            out[d.readable(k)] = v if isinstance(v, str) else d.fmt_num(v)
    return out


def _estimate_row(label: str, e: Any, f=None) -> dict[str, str]:
    f = f or (lambda v: d.fmt_num(v, 4))
    p = np.nan
    if e.std_error and np.isfinite(e.std_error) and e.std_error > 0:
        from scipy import stats

        p = 2 * stats.norm.sf(abs(e.estimate / e.std_error))
    return {
        "": label,
        "Estimate": f(e.estimate),
        "Std. error": f(e.std_error).lstrip("+"),
        f"{e.level:.0%} CI": d.fmt_ci(e.ci_low, e.ci_high, f),
        "p-value": d.fmt_p(p),
        "Reading": d.verdict(e.ci_low, e.ci_high),
    }


def _rows(rows: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows).set_index("").rename_axis("")


def did_aggregate_blocks(agg: Any, *, window: tuple[int, int] | None = EVENT_WINDOW) -> list[d.Block]:
    """An aggregation: its overall effect, the components (event times in ``window``), the pre-trend test."""
    blocks = [d.Block(f"Overall effect ({agg.kind} aggregation)", _rows([_estimate_row("ATT", agg.overall)]))]
    tab = agg.table
    if agg.kind != "simple" and tab is not None and len(tab):
        shown = tab
        if agg.kind == "dynamic" and window is not None:
            shown = tab[(tab["event_time"] >= window[0]) & (tab["event_time"] <= window[1])]
        lv = f"{agg.overall.level:.0%}"
        key = tab.columns[0]
        f = lambda v: d.fmt_num(v, 4)  # noqa: E731
        frame = pd.DataFrame(
            {
                "Estimate": [f(v) for v in shown["att"]],
                "Std. error": [f(v) for v in shown["se"]],
                f"{lv} CI": [d.fmt_ci(a, b, f) for a, b in zip(shown["ci_low"], shown["ci_high"], strict=True)],
                f"Uniform {lv} band": [d.fmt_ci(a, b, f) for a, b in zip(shown["band_low"], shown["band_high"], strict=True)],
            },
            index=pd.Index([str(v) for v in shown[key]], name=d.readable("weeks since adoption" if key == "event_time" else key)),
        )
        lines = ()
        if len(shown) < len(tab):
            lines = (f"{len(tab) - len(shown)} more rows: .aggregate('{agg.kind}').table",)
        blocks.append(d.Block({"dynamic": "Event study", "group": "By cohort", "calendar": "By period"}[agg.kind], frame, lines))
    if agg.pretest:
        p = agg.pretest
        blocks.append(d.Block("Pre-trend test", lines=(
            f"Wald χ²({p['df']}) = {d.fmt_num(p['statistic'], 2)}, p {_peq(p['p_value'])} "
            f"({p['tested']} jointly zero)",)))
    return blocks


def did_blocks(res: Any) -> list[d.Block]:
    """A staggered DiD fit: the overall effect, the event study and the pre-trend test, not every ATT(g,t)."""
    info = _settings(res, ("method", "control", "units", "periods", "cohorts", "never_treated", "covariates"))
    blocks = [d.Block(frame=d.kv_frame(info))]
    if res.config.method == "twfe":
        blocks.append(d.Block("Static two-way fixed effects (for contrast only)",
                              _rows([_estimate_row("D", res.aggregate("simple").overall)])))
    else:
        simple = res.aggregate("simple")
        blocks.append(d.Block("Overall effect (average over adopted team-weeks)", _rows([_estimate_row("ATT", simple.overall)])))
        dyn = res.aggregate("dynamic")
        for b in did_aggregate_blocks(dyn)[1:]:
            blocks.append(b)
        n = len(res.att_gt)
        blocks.append(d.Block(lines=(f"{d.fmt_num(n)} group-time effects ATT(g,t) in .att_gt; "
                                     "other aggregations: .aggregate('group' | 'calendar').",)))
    if res.warnings:
        blocks.append(d.Block("Notes", lines=tuple(res.warnings)))
    return blocks


def dynamic_blocks(res: Any, coef: list[d.Block]) -> list[d.Block]:
    """A dynamic panel fit: coefficients, long-run effects with their reading, diagnostics."""
    rows = [_estimate_row(f"long-run: {k}", e) for k, e in res.long_run.items()]
    out = list(coef)
    if rows:
        out.append(d.Block("Long-run effect γ/(1−β) (delta-method interval)", _rows(rows)))
    info = {"Units": d.fmt_num(res.n_units), "Periods": d.fmt_num(res.n_periods), "Rows dropped": d.fmt_num(res.n_dropped)}
    for k, v in res.diagnostics.items():
        info[d.readable(k)] = _short(v)
    out.append(d.Block("Sample and diagnostics", d.kv_frame(info)))
    return out


def _peq(p: float) -> str:
    s = d.fmt_p(p)
    return s.replace("<", "< ") if s.startswith("<") else f"= {s}"


def _short(v: Any) -> str:
    if isinstance(v, dict):
        if "statistic" in v and "p_value" in v:
            return f"{d.fmt_num(v['statistic'], 3)} (p {_peq(v['p_value'])})"
        return ", ".join(f"{k} {_short(x)}" for k, x in v.items())
    if isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool):
        return d.fmt_num(v, 4 if isinstance(v, (float, np.floating)) and abs(v) < 1000 and v != int(v) else None)
    return str(v)


def gmm_blocks(res: Any, coef: list[d.Block]) -> list[d.Block]:
    """A panel GMM fit: coefficients (period effects hidden) and the specification tests."""
    rows = []
    h = res.hansen
    rows.append({"": "Hansen (over-identification)", "Statistic": d.fmt_num(h.get("statistic"), 3),
                 "df": d.fmt_num(h.get("df")), "p-value": d.fmt_p(h.get("p_value"))})
    if np.isfinite(res.sargan.get("statistic", np.nan)):
        s = res.sargan
        rows.append({"": "Sargan (non-robust)", "Statistic": d.fmt_num(s["statistic"], 3), "df": d.fmt_num(s["df"]),
                     "p-value": d.fmt_p(s["p_value"])})
    for k, v in res.ar.items():
        rows.append({"": f"Arellano–Bond {k} (z)", "Statistic": d.fmt_num(v["statistic"], 3), "df": "—",
                     "p-value": d.fmt_p(v["p_value"])})
    info = {"Units": d.fmt_num(res.n_units), "Instruments": d.fmt_num(res.n_instruments)}
    return [*coef, d.Block("Specification tests", _rows(rows)), d.Block(frame=d.kv_frame(info))]


def _none(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def lmm_blocks(res: Any, coef: list[d.Block]) -> list[d.Block]:
    """A mixed model: fixed effects, variance components, fit criteria."""
    vc = res.var_components()
    frame = pd.DataFrame(
        {
            "Group": [str(g) for g in vc["grp"]],
            "Term": ["" if _none(v) else str(v) + ("" if _none(w) else f" × {w}") for v, w in zip(vc["var1"], vc["var2"], strict=True)],
            "Variance / cov.": [d.fmt_num(v, 4) for v in vc["vcov"]],
            "SD / corr.": [d.fmt_num(v, 4) for v in vc["sdcor"]],
        }
    )
    crit = ("REML criterion", res.reml_criterion) if res.reml else ("Deviance", res.deviance)
    info = {
        "Groups": ", ".join(f"{k}: {d.fmt_num(v)}" for k, v in res.n_groups.items()),
        crit[0]: d.fmt_num(crit[1], 2),
        "Log-likelihood": d.fmt_num(res.loglik, 2),
        "Converged": f"{'yes' if res.converged else 'no'} ({res.n_iter} iterations)",
        "Singular": "yes" if res.singular else "no",
    }
    return [*coef, d.Block("Random effects", frame), d.Block(frame=d.kv_frame(info))]


def drivers_blocks(res: Any) -> list[d.Block]:
    """Drivers of CTS-SW: the ranked % effects and the variance explained."""
    pct = f"{res.level:.0%}"
    e = res.effects
    f = lambda v: d.fmt_num(v, 1) + "%" if not pd.isna(v) else "—"  # noqa: E731
    frame = pd.DataFrame(
        {
            "% per +1 SD": [("+" if v > 0 else "") + f(v) for v in e["pct_per_sd"]],
            f"{pct} CI": [f"[{f(a)}, {f(b)}]" for a, b in zip(e["pct_per_sd_low"], e["pct_per_sd_high"], strict=True)],
            "% per +10%": [("+" if v > 0 else "") + f(v) for v in e["pct_per_10pct"]],
            "Reading": [d.verdict(a, b) for a, b in zip(e["pct_per_sd_low"], e["pct_per_sd_high"], strict=True)],
        },
        index=pd.Index([d.readable(x) for x in e["driver"]], name="Driver"),
    )
    v = res.variance
    info = {"Teams": d.fmt_num(res.n_teams), "Team-weeks": d.fmt_num(res.nobs), "Random part": res.random_effects}
    for k in ("r2_marginal", "r2_conditional"):
        if k in v:
            info[{"r2_marginal": "Marginal R²", "r2_conditional": "Conditional R²"}[k]] = d.fmt_num(v[k], 3)
    for k, name in (("within_team_explained", "Within-team variance explained"), ("between_team_explained", "Between-team variance explained")):
        if k in v:
            info[name] = d.fmt_pct(v[k], 1, signed=False)
    blocks = [
        d.Block(frame=d.kv_frame(info)),
        d.Block("Predicted change in CTS-SW, largest first (associations, not causal effects)", frame),
    ]
    notes = (*res.warnings, *res.notes)
    if notes:
        blocks.append(d.Block("Notes", lines=tuple(notes)))
    return blocks


def value_blocks(v: Any) -> list[d.Block]:
    """A value translation: effect, CTS-SW change, engineering-years and dollars, each with its interval."""
    lv = f"{v.relative_effect.level:.0%}"
    spec = [
        ("Units per builder-week", v.relative_effect, d.fmt_pct),
        ("CTS-SW", v.cts_change, d.fmt_pct),
        ("Engineering-years saved", v.engineering_years, lambda x: d.fmt_num(x, 1)),
        ("Dollars saved (gross)", v.gross_dollars, d.fmt_money),
        ("Dollars saved (net of licences)", v.net_dollars, d.fmt_money),
    ]
    frame = pd.DataFrame(
        {
            "Estimate": [f(e.estimate) for _, e, f in spec],
            f"{lv} CI": [d.fmt_ci(e.ci_low, e.ci_high, f) for _, e, f in spec],
            "Reading": [d.verdict(e.ci_low, e.ci_high) for _, e, _ in spec],
        },
        index=pd.Index([n for n, _, _ in spec], name=""),
    )
    s = v.settings
    lines = (
        f"Over {d.fmt_num(s.treated_builder_weeks)} builder-weeks with the tool, {d.fmt_num(s.weeks_per_year)} weeks "
        f"per engineering-year, {d.fmt_money(s.loaded_annual_cost)} loaded cost per year, licences {d.fmt_money(s.license_cost)}.",
    )
    blocks = [d.Block("", frame, lines)]
    if v.warnings:
        blocks.append(d.Block("Warnings", lines=tuple(v.warnings)))
    return blocks


def exogeneity_blocks(x: Any) -> list[d.Block]:
    """Exogeneity checks: one row per check with its verdict."""
    t = x.table
    frame = pd.DataFrame(
        {
            "Variable": [str(v) for v in t["variable"]],
            "Estimate": [d.fmt_num(v, 4) for v in t["estimate"]],
            "Std. error": [d.fmt_num(v, 4) for v in t["std_error"]],
            "p-value": [d.fmt_p(v) for v in t["p_value"]],
            "Flag": ["!" if f else "ok" for f in t["flag"]],
            "Verdict": [str(v) for v in t["verdict"]],
        },
        index=pd.Index([str(c) for c in t["check"]], name="Check"),
    )
    return [d.Block(f"Flagged at α = {x.alpha:g}: {int(t['flag'].sum())} of {len(t)}", frame)]


class Comparison(pd.DataFrame):
    """The table :func:`~ctssw.estimators.compare` returns: one row per method and term.

    A plain DataFrame in every way except ``plot()``, which draws the estimators side by
    side (a forest of the long-run effects), and ``print()``, which puts terms down and
    methods across. Frames derived from it (slices, merges) are plain DataFrames.
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def plot(self, terms: list[str] | None = None, title: str = "Estimators side by side"):  # type: ignore[override]
        """Forest plot of each method's estimate of ``terms`` (default: the long-run effects).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plots import compare_plot

        return compare_plot(self, terms=terms, title=title)

    def __str__(self) -> str:
        t = self.dropna(subset=["term"])
        cell = [f"{d.fmt_num(e, 4)} ({d.fmt_num(s, 4)})" for e, s in zip(t["estimate"], t["std_error"], strict=True)]
        wide = t.assign(cell=cell).pivot(index="term", columns="method", values="cell")
        order = [m for m in dict.fromkeys(t["method"]) if m in wide.columns]
        lines = [d.Block("Cells: estimate (standard error)", wide[order].fillna("").rename_axis("Term").rename_axis(None, axis=1))]
        notes = [f"{m}: {n}" for m, n in zip(self["method"], self["note"], strict=True) if isinstance(n, str) and n]
        if notes:
            lines.append(d.Block("Failed", lines=tuple(notes)))
        return d.render_text("Estimators side by side", lines)
