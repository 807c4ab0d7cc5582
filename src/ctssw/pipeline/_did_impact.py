"""``impact_did``: from a team-week panel to a JSON-safe impact summary.

Adoption cohorts from the tool share, the outcome normalised by each team's
own pre-adoption mean, the chosen estimators side by side, the event study
with uniform bands and its pre-trend test, and the placebo / robustness checks.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataWarning, EstimationError, SchemaError
from ..estimators.adoption import adoption_cohorts
from ..estimators.did import (
    METHODS,
    NEVER,
    event_study_frame,
    prepare_panel,
    staggered_did,
)
from ..estimators.did.continuous import did_multiplegt, dose_bins
from ..estimators.did.robust import (
    honest_bounds,
    leave_one_cohort_out,
    permutation_test,
    simple_att,
    subgroup_panels,
)
from ..estimators.results import jsonable

NORM_SUFFIX = "_norm"
DOSE_BINS = (0.0, 0.5, 0.75, 0.9, 1.0)


def normalise_outcome(panel: pd.DataFrame, base: str, *, unit: str, time: str, cohort: str, out: str) -> pd.DataFrame:
    """``base`` divided by the unit's mean over the baseline: the periods before the
    first adoption in the panel (the same calendar weeks for every unit).

    A unit-specific window (each team's own pre-adoption weeks) would bias the
    DiD: a team's pre-adoption values then average exactly 1 while its later
    values are divided by a noisy mean (E[1/mean] > 1/E[mean]), which reads as
    a positive effect even under no effect. A common window leaves that ratio
    effect equal across treated and comparison units in every period, so it
    cancels in the differences.
    """
    p = panel.copy()
    first = p[cohort].min()
    times = np.sort(p[time].unique())
    if pd.isna(first) or (times < first).sum() < 2:
        window = p[time] <= times[min(len(times) - 1, 7)]
        warnings.warn("fewer than two periods before the first adoption: the baseline is the first 8 periods", DataWarning, stacklevel=3)
    else:
        window = p[time] < first
    m = p[base].where(window).groupby(p[unit]).transform("mean")
    bad = ~(m > 0)
    if bad.any():
        n_bad = p.loc[bad, unit].nunique()
        warnings.warn(f"{n_bad} team(s) have no positive baseline {base} and are left out", DataWarning, stacklevel=3)
    p[out] = (p[base] / m).where(~bad)
    return p


def impact_did(
    panel_df: pd.DataFrame,
    *,
    tool: str = "assistant",
    method: str = "cs",
    outcome: str = "deploys_per_builder_norm",
    threshold: float = 0.5,
    sustain: int = 1,
    unit: str = "team_id",
    time: str = "week",
    tool_col: str | None = None,
    control: str | None = None,
    anticipation: int = 2,
    bootstrap: int = 499,
    seed: int | None = 0,
    window: tuple[int, int] = (-12, 26),
    permutations: int | None = None,
    placebo_outcome: str | None = None,
    honest: bool = True,
    by: tuple[str, ...] = ("architecture", "team_size"),
    level: float = 0.95,
) -> dict[str, Any]:
    """Estimate the tool's effect on delivery by staggered DiD.

    Parameters
    ----------
    panel_df : DataFrame
        Team-week panel with ``unit``, ``time``, the tool share and the outcome.
    tool : str
        Tool name; its share is ``ai_share_<tool>`` if present, else ``ai_share``.
    method : {"cs", "sun-abraham", "imputation", "twfe", "all"}
        Estimator; "all" fits every method and reports them side by side (the
        headline and checks use "cs").
    outcome : str
        Outcome column. ``<col>_norm`` is built from ``<col>`` when absent, by
        dividing by each team's mean over the weeks before the first adoption
        in the panel, so effects read as relative changes.
    threshold, sustain : float, int
        Adoption definition (see :func:`adoption_cohorts`).
    anticipation : int
        Weeks before the adoption week excluded from the comparison. Usage
        ramps up over a couple of weeks before a team's share crosses the
        threshold, so the week just before adoption is already partly treated;
        the default of 2 removed that bias in the validation
        (docs/validation.md), while 0 biased CS towards zero by about half.
    window : (int, int)
        Event times shown in the event study.
    permutations : int, optional
        Randomisation-inference draws (0 to skip). By default 99, or 19 when
        the panel has over a million team-weeks, where each draw is a full
        refit; the output states the number of draws.
    placebo_outcome : str, optional
        An outcome the tool should not move; its ATT is reported.
    honest : bool
        Compute Rambachan-Roth bounds through diff-diff.
    by : tuple of str
        Subgroups: team-level columns, plus ``"team_size"`` (terciles of mean builders).

    Returns
    -------
    dict
        JSON-safe: ``estimates`` (per method), ``event_study`` (rows with
        event_time, att, se, band_low, band_high), ``pretest``, ``checks``,
        ``verdict`` and the settings used.
    """
    methods = METHODS if method == "all" else (method,)
    if method != "all" and method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS + ('all',)}, got {method!r}")
    tool_col = tool_col or (f"ai_share_{tool}" if f"ai_share_{tool}" in panel_df.columns else "ai_share")
    for c in (unit, time, tool_col):
        if c not in panel_df.columns:
            raise SchemaError(f"panel lacks column {c!r}")
    notes: list[str] = []
    coh = adoption_cohorts(panel_df, tool_col=tool_col, threshold=threshold, sustain=sustain, unit=unit, time=time, out_col="_adoption")
    p = panel_df.drop(columns=[c for c in ("_adoption",) if c in panel_df.columns]).merge(coh, on=unit, how="left")
    if outcome not in p.columns:
        if outcome.endswith(NORM_SUFFIX) and outcome[: -len(NORM_SUFFIX)] in p.columns:
            p = normalise_outcome(p, outcome[: -len(NORM_SUFFIX)], unit=unit, time=time, cohort="_adoption", out=outcome)
            notes.append(f"{outcome} = {outcome[: -len(NORM_SUFFIX)]} / the team's mean over the weeks before the first adoption in the panel")
        else:
            raise SchemaError(f"panel lacks outcome column {outcome!r}")
    main = "cs" if method == "all" else method
    kw = dict(y=outcome, unit=unit, time=time, cohort="_adoption", anticipation=anticipation, bootstrap=bootstrap, seed=seed, level=level)
    estimates: dict[str, Any] = {}
    results = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for m in methods:
            try:
                r = staggered_did(p, method=m, control=control if m == main else None, **kw)
            except (EstimationError, ConfigError) as e:
                estimates[m] = {"error": str(e)}
                continue
            results[m] = r
            s = r.aggregate("simple")
            estimates[m] = {"att": s.overall.to_dict(), "settings": jsonable(r.settings)}
    notes += sorted({str(w.message) for w in caught})
    if main not in results:
        err = estimates.get(main, {}).get("error", "no result")
        why = "; ".join(n for n in notes if "dropped" in n)
        raise EstimationError(f"the {main} estimator failed: {err}" + (f" ({why})" if why else ""))
    res = results[main]
    panel = res.panel
    es_tab = None
    pretest = None
    if main != "twfe":
        es = res.aggregate("dynamic", min_e=window[0], max_e=window[1])
        es_tab = event_study_frame(es)
        pretest = es.pretest
    checks: dict[str, Any] = {}
    cfg = res.config
    if permutations is None:
        permutations = 99 if len(p) <= 1_000_000 else 19
    if permutations > 0:
        perm = permutation_test(panel, cfg, reps=permutations, seed=seed)
        checks["randomisation_inference"] = {"p_value": perm.p_value, "draws": int(perm.draws.size), "observed": perm.observed}
    if len(panel.groups) > 1:
        checks["leave_one_cohort_out"] = leave_one_cohort_out(panel, cfg).to_dict(orient="records")
    if placebo_outcome:
        try:
            pr = staggered_did(p, y=placebo_outcome, method=main, **{k: v for k, v in kw.items() if k != "y"}).aggregate("simple")
            checks["placebo_outcome"] = {"outcome": placebo_outcome, "att": pr.overall.to_dict()}
        except (EstimationError, SchemaError) as e:
            checks["placebo_outcome"] = {"outcome": placebo_outcome, "error": str(e)}
    if honest and main == "cs":
        checks["honest_bounds"] = honest_bounds(p, y=outcome, unit=unit, time=time, cohort="_adoption", control=cfg.control, anticipation=anticipation, level=level)
    checks["continuous"] = _continuous(p, outcome, unit, time, tool_col, cfg, kw)
    checks["subgroups"] = _subgroups(p, panel, res, by, unit, cfg)
    verdict = _verdict(tool, outcome, threshold, estimates, main, pretest, checks, panel)
    out = {
        "tool": tool,
        "outcome": outcome,
        "adoption": {"column": tool_col, "threshold": threshold, "sustain": sustain, "adopted_teams": int((panel.cohort != NEVER).sum()), "never_adopted_teams": int((panel.cohort == NEVER).sum()), "cohorts": len(panel.groups)},
        "method": main,
        "estimates": estimates,
        "event_study": None if es_tab is None else es_tab.to_dict(orient="records"),
        "pretest": pretest,
        "checks": checks,
        "verdict": verdict,
        "notes": notes,
    }
    return jsonable(out)


def _continuous(p: pd.DataFrame, outcome: str, unit: str, time: str, tool_col: str, cfg, kw) -> dict:
    out: dict[str, Any] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dp = prepare_panel(p, y=outcome, unit=unit, time=time, cohort="_adoption", dose=tool_col)
        m = did_multiplegt(dp.y, dp.dose)
        out["did_m"] = {"effect_per_full_share": m.estimate, "std_error": m.std_error, "switchers": m.switchers, "note": "instantaneous effect of going from 0% to 100% usage, from week-to-week share changes"}
        bins = dose_bins(dp, DOSE_BINS)
        rows = []
        for b in range(len(DOSE_BINS) - 1):
            sub = dp.subset((bins == b) | (dp.cohort == NEVER))
            if (sub.cohort != NEVER).sum() < 2:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    att = simple_att(sub, cfg)
                except EstimationError:
                    continue
            rows.append({"share_bin": f"{DOSE_BINS[b]:.2f}-{DOSE_BINS[b + 1]:.2f}", "teams": int((sub.cohort != NEVER).sum()), "att": att})
        out["dose_response"] = rows
    except (EstimationError, SchemaError) as e:
        out["error"] = str(e)
    return out


def _subgroups(p: pd.DataFrame, panel, res, by, unit: str, cfg) -> dict:
    out: dict[str, Any] = {}
    units = pd.Index(panel.units)
    for col in by:
        if col == "team_size":
            size_col = "builders" if "builders" in p.columns else None
            if size_col is None:
                continue
            mean_size = p.groupby(unit)[size_col].mean().reindex(units)
            labels = pd.qcut(mean_size.rank(method="first"), 3, labels=["small", "medium", "large"]).astype(str).to_numpy()
        elif col in p.columns:
            labels = p.groupby(unit)[col].first().reindex(units).astype(str).to_numpy()
        else:
            continue
        rows = []
        for v, sub in subgroup_panels(panel, labels).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    att = simple_att(sub, cfg)
                except EstimationError:
                    continue
            rows.append({"group": v, "teams": sub.n, "adopted": int((sub.cohort != NEVER).sum()), "att": att})
        out[col] = rows
    return out


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def _verdict(tool, outcome, threshold, estimates, main, pretest, checks, panel) -> str:
    e = estimates[main]["att"]
    est, lo, hi = e["estimate"], e["ci_low"], e["ci_high"]
    rel = outcome.endswith(NORM_SUFFIX)
    fmt = _pct if rel else (lambda x: f"{x:+.3g}")
    sig = lo is not None and hi is not None and (lo > 0 or hi < 0)
    parts = [
        f"Teams that adopted {tool} (share of builders >= {threshold:.0%}) changed {outcome} by {fmt(est)} "
        f"(95% CI {fmt(lo)} to {fmt(hi)}) on average after adoption, estimated by {main} over "
        f"{int((panel.cohort != NEVER).sum())} adopting and {int((panel.cohort == NEVER).sum())} never-adopting teams."
    ]
    parts.append("The effect is statistically distinguishable from zero." if sig else "The data cannot distinguish the effect from zero.")
    if pretest:
        pv = pretest["p_value"]
        if pv is not None and pv < 0.05:
            parts.append(f"Caution: pre-adoption trends differ (joint pre-trend test p = {pv:.3f}), so the comparison may be biased.")
        else:
            parts.append(f"No evidence of differing pre-adoption trends (p = {pv:.2f}).")
    ri = checks.get("randomisation_inference")
    if ri:
        if ri["p_value"] <= 1 / (ri["draws"] + 1) + 1e-12:
            parts.append(
                f"None of {ri['draws']} random reassignments of adoption dates gives an effect this large "
                f"(p = {ri['p_value']:.3f}, the smallest possible with that many draws)."
            )
        else:
            parts.append(f"Randomly reassigning adoption dates gives an effect this large in {ri['p_value']:.0%} of draws.")
    if main != "twfe" and "twfe" in estimates and "att" in estimates["twfe"]:
        parts.append(f"A naive two-way fixed-effects regression would say {fmt(estimates['twfe']['att']['estimate'])}.")
    return " ".join(parts)


def render_impact_text(summary: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`impact_did` output."""
    lines = [f"Impact of {summary['tool']} on {summary['outcome']} (staggered DiD)", ""]
    lines.append(summary["verdict"])
    lines.append("")
    lines.append(f"{'method':<14}{'ATT':>10}{'SE':>10}{'95% CI':>24}")
    for m, e in summary["estimates"].items():
        if "att" not in e:
            lines.append(f"{m:<14}{'failed: ' + e.get('error', '')[:60]}")
            continue
        a = e["att"]
        f = lambda x: "nan" if x is None else f"{x:.4f}"
        lines.append(f"{m:<14}{f(a['estimate']):>10}{f(a['std_error']):>10}{'[' + f(a['ci_low']) + ', ' + f(a['ci_high']) + ']':>24}")
    if summary.get("event_study"):
        lines += ["", "Event study (uniform band):", f"{'e':>5}{'ATT':>10}{'SE':>10}{'band':>24}"]
        for r in summary["event_study"]:
            f = lambda x: "nan" if x is None else f"{x:.4f}"
            lines.append(f"{r['event_time']:>5}{f(r['att']):>10}{f(r['se']):>10}{'[' + f(r['band_low']) + ', ' + f(r['band_high']) + ']':>24}")
    pt = summary.get("pretest")
    if pt:
        lines.append(f"Pre-trend test: chi2({pt['df']}) = {pt['statistic']:.3f}, p = {pt['p_value']:.3f}")
    ch = summary.get("checks", {})
    if "randomisation_inference" in ch:
        lines.append(f"Randomisation inference: p = {ch['randomisation_inference']['p_value']:.3f} ({ch['randomisation_inference']['draws']} draws)")
    if "honest_bounds" in ch:
        h = ch["honest_bounds"]
        lines.append(f"Honest bounds (Mbar={h['Mbar']}): [{h['ci_low']:.4f}, {h['ci_high']:.4f}]" if h.get("available") else f"Honest bounds: not available ({h.get('reason')})")
    if "placebo_outcome" in ch and "att" in ch["placebo_outcome"]:
        a = ch["placebo_outcome"]["att"]
        lines.append(f"Placebo outcome {ch['placebo_outcome']['outcome']}: {a['estimate']:.4f} (SE {a['std_error']:.4f})")
    if ch.get("continuous", {}).get("did_m"):
        m = ch["continuous"]["did_m"]
        lines.append(f"DID_M per full share (instantaneous): {m['effect_per_full_share']:.4f} (SE {m['std_error']:.4f})")
    for k, rows in ch.get("subgroups", {}).items():
        if rows:
            lines.append(f"By {k}: " + "; ".join(f"{r['group']} {r['att']:.4f} (n={r['teams']})" for r in rows))
    return "\n".join(lines)


__all__ = ["impact_did", "normalise_outcome", "render_impact_text"]
