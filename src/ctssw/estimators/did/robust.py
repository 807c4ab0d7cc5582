"""Placebo and robustness checks around a staggered-DiD fit.

- randomisation inference: adoption dates permuted across units;
- leave-one-cohort-out refits;
- subgroup effects (architecture, team size);
- Rambachan-Roth honest bounds through diff-diff's ``HonestDiD``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import EstimationError
from ._agg import aggregate_cells, build_weights, cohort_shares
from ._cs import _CHUNK, cells_linear, code_index
from ._data import NEVER, DidPanel
from ._fit import fit_panel


@dataclass(frozen=True)
class Permutation:
    """Randomisation-inference result: observed simple ATT, the permutation
    draws (R,), and the two-sided p-value (1 + #|draw| >= |obs|) / (1 + R)."""

    observed: float
    draws: np.ndarray
    p_value: float


def simple_att(panel: DidPanel, cfg) -> float:

    fit, pre, _ = fit_panel(panel, cfg)
    if cfg.method == "twfe":
        return fit.beta
    if cfg.method == "imputation":
        post = fit.t >= fit.g
        w = np.where(post, fit.n_treated, 0.0)
        return float(fit.att @ (w / w.sum()))
    return aggregate_cells(fit, "simple").overall_att


def _linear_att(panel: DidPanel, cfg, observed: float):
    """``cohort -> simple ATT`` without a refit, where the fit is linear in the units' cohorts:
    Callaway-Sant'Anna on a balanced panel without covariates. None elsewhere.

    A permutation keeps every cohort's size, so the cells, their control groups and their
    weights stay as observed; only which units' outcome changes enter each cell's means. The
    simple ATT is then ``sum_i Q[i, cohort_i]``, with ``Q`` (units × cohorts) built once. The
    observed ATT must come out of ``Q`` too, else this gives None and each permutation is refitted.
    """
    if cfg.method != "cs" or cfg.covariates or not panel.balanced:
        return None
    cells = cells_linear(panel, control=cfg.control, anticipation=cfg.anticipation, base="varying")
    ok = np.isfinite(cells.att)
    pg = cohort_shares(cells)[1]
    w = np.where(ok, build_weights(cells.g, cells.t, cells.post, ok, pg, "simple")[2][:, 0], 0.0)
    # cell k's ATT is sum_i (y_i,t - y_i,b) * a[cohort_i, k] / n (a: +n/n1 treated, -n/n0 controls)
    coef = cells.a * (w / cells.n)[None, :]
    q = np.zeros((cells.n, len(cells.codes)))
    for lo in range(0, len(cells.g), _CHUNK):
        hi = min(lo + _CHUNK, len(cells.g))
        q += (cells.yc[:, cells.t[lo:hi]] - cells.yc[:, cells.b[lo:hi]]) @ coef[:, lo:hi].T
    rows = np.arange(cells.n)

    def att(cohort: np.ndarray) -> float:
        return float(q[rows, code_index(cells.codes, cohort)].sum())

    return att if np.isclose(att(panel.cohort), observed, rtol=1e-9, atol=1e-12) else None


def permutation_test(panel: DidPanel, cfg, *, reps: int = 199, seed: int | None = 0) -> Permutation:
    """Permute the adoption dates (cohorts, never-treated included) across units."""
    import warnings

    obs = simple_att(panel, cfg)
    rng = np.random.default_rng(seed)
    draws = np.full(reps, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linear = _linear_att(panel, cfg, obs)
        for r in range(reps):
            cohort = rng.permutation(panel.cohort)
            if linear is not None:
                draws[r] = linear(cohort)
                continue
            try:
                draws[r] = simple_att(panel.with_cohort(cohort), cfg)
            except EstimationError:
                continue
    d = draws[np.isfinite(draws)]
    p = (1 + np.sum(np.abs(d) >= abs(obs) - 1e-12)) / (1 + d.size)
    return Permutation(obs, d, float(p))


def leave_one_cohort_out(panel: DidPanel, cfg, *, max_cohorts: int = 8) -> pd.DataFrame:
    """Simple ATT with each treated cohort's units removed in turn.

    Adoption weeks make many small cohorts, so only the ``max_cohorts`` largest
    are dropped (each drop is a full refit); the smaller ones move the estimate least.
    """
    import warnings

    sizes = {g: int((panel.cohort == g).sum()) for g in panel.groups}
    largest = sorted(panel.groups, key=lambda g: -sizes[g])[:max_cohorts]
    rows = []
    for g in sorted(largest):
        sub = panel.subset(panel.cohort != g)
        if len(sub.groups) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est = simple_att(sub, cfg)
            except EstimationError:
                est = float("nan")
        rows.append({"dropped_cohort": panel.cohort_label(int(g)), "units_dropped": int((panel.cohort == g).sum()), "att": est})
    return pd.DataFrame(rows)


def honest_bounds(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    control: str,
    anticipation: int,
    Mbar: float = 1.0,
    level: float = 0.95,
    horizon: int = 4,
) -> dict:
    """Rambachan-Roth relative-magnitude bounds on the average effect over event
    times 0..horizon-1.

    Relative-magnitude bounds widen with the distance from adoption, so a
    short horizon is the informative target on weekly data.

    Delegated to diff-diff (``CallawaySantAnna`` then ``HonestDiD``), whose
    event study is the same CS estimator. Returns ``{"available": False,
    "reason": ...}`` when diff-diff is missing or fails on the data.
    """
    try:
        import diff_diff as dd
    except ImportError:
        return {"available": False, "reason": "diff-diff is not installed"}
    try:
        d = data[[unit, time, y, cohort]].copy()
        times = np.sort(d[time].unique())
        tmap = {t: i + 1 for i, t in enumerate(times)}
        d["_t"] = d[time].map(tmap)
        c = d[cohort]
        if np.issubdtype(c.dtype, np.datetime64):
            d["_g"] = np.searchsorted(times, c.to_numpy()) + 1
            d.loc[c.isna(), "_g"] = 0
        else:
            cv = pd.to_numeric(c, errors="coerce")
            d["_g"] = np.where(cv.isna() | (cv <= 0), 0, np.searchsorted(times, cv.fillna(0).to_numpy()) + 1)
        d["_u"] = pd.factorize(d[unit])[0]
        cs = dd.CallawaySantAnna(control_group="not_yet_treated" if control == "notyet" else "never_treated", anticipation=anticipation, base_period="universal")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = cs.fit(d, outcome=y, unit="_u", time="_t", first_treat="_g", aggregate="event_study")
        ref = -1 - anticipation
        post = [k for k in sorted(res.event_study_effects) if k > ref]
        target = [k for k in post if 0 <= k < horizon]
        l_vec = np.array([1.0 / len(target) if k in target else 0.0 for k in post])
        hd = dd.HonestDiD(method="relative_magnitude", M=Mbar, alpha=1 - level, l_vec=l_vec)
        out = hd.fit(res)
        return {
            "available": True,
            "method": "relative magnitudes (Rambachan-Roth), via diff-diff HonestDiD",
            "Mbar": Mbar,
            "target": f"average effect over event times 0..{horizon - 1}",
            "lower": float(out.lb) if hasattr(out, "lb") else float(out.ci_lb),
            "upper": float(out.ub) if hasattr(out, "ub") else float(out.ci_ub),
            "ci_low": float(out.ci_lb),
            "ci_high": float(out.ci_ub),
        }
    except Exception as e:  # diff-diff raises many kinds of errors on awkward data
        return {"available": False, "reason": f"diff-diff HonestDiD failed: {type(e).__name__}: {e}"[:300]}


def subgroup_panels(panel: DidPanel, labels: np.ndarray) -> dict[object, DidPanel]:
    """Split the panel by a unit-level label (never-treated units stay in their own group)."""
    out = {}
    for v in pd.unique(labels):
        keep = labels == v
        if (keep & (panel.cohort != NEVER)).sum() >= 2 and (keep).sum() >= 4:
            out[v] = panel.subset(keep)
    return out
