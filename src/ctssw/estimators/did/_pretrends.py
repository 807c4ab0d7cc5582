"""Imputation estimator: aggregation with pre-period event times, and the leads
regression pre-trend test (Borusyak, Jaravel and Spiess 2024, test 1; R
``didimputation``'s ``pretrends``, diff-diff's ``ImputationDiD.pretrend_test``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ...errors import EstimationError
from ._agg import Aggregation, build_weights, overall_weights, se_from_inf
from ._data import NEVER, DidPanel
from ._fe import cr1, n_fixed_effects
from ._imputation import ImputationFit, imputation_inf


def aggregate_imputation(fit: ImputationFit, pre_fit: ImputationFit | None, kind: str, lo: float, hi: float) -> Aggregation:
    """Aggregate imputation cells; with ``kind="dynamic"`` and ``lo < 0`` the
    pre-period event times come from the leave-out fit ``pre_fit``. A window
    entirely before adoption (``hi < 0``) gives the pre-period estimates alone,
    with no overall effect (NaN)."""
    n = fit.n
    if kind == "dynamic" and hi < 0:
        if pre_fit is None:
            raise EstimationError("no pre-period estimate: the fit has pre_periods=0, or no cohort has that many periods before adoption")
        pre = imputation_pre(pre_fit, None)
        keep = (pre.labels >= lo) & (pre.labels <= hi)
        if not keep.any():
            have = ", ".join(str(int(v)) for v in pre.labels)
            raise EstimationError(f"no pre-period event time in [{lo:g}, {hi:g}]; estimated: {have} (raise pre_periods for earlier ones)")
        inf = pre.inf[:, keep]
        return Aggregation(kind, pre.labels[keep], pre.att[keep], se_from_inf(inf, n), float("nan"), float("nan"), inf, np.zeros(n), n)
    ok = np.isfinite(fit.att)
    post = fit.t >= fit.g
    labels, _, W = build_weights(fit.g, fit.t, post, ok, fit.n_treated / n, kind, min_e=max(lo, 0), max_e=hi)
    est = fit.att @ W
    inf = imputation_inf(fit, W)
    gshare = None
    if kind == "group":
        gshare = np.array([np.sum(fit.cohort == g) for g in labels], dtype=float)
    ow = overall_weights(kind, labels, gshare)
    o_inf = inf @ ow
    o_att = float(est @ ow)
    if kind == "dynamic" and pre_fit is not None and lo < 0:
        pre = imputation_pre(pre_fit, None)
        keep = pre.labels >= lo
        labels = np.r_[pre.labels[keep], labels]
        est = np.r_[pre.att[keep], est]
        inf = np.column_stack([pre.inf[:, keep], inf])
    return Aggregation(kind, labels, est, se_from_inf(inf, n), o_att, float(se_from_inf(o_inf[:, None], n)[0]), inf, o_inf, n)


def imputation_pre(pre_fit: ImputationFit, anticipation: int | None) -> Aggregation:
    """Pre-period event-time estimates from the leave-out fit (cells before g - anticipation)."""
    cut = 0 if anticipation is None else anticipation
    ev = pre_fit.event
    pre = ev < -cut
    ok = np.isfinite(pre_fit.att) & pre
    es = np.unique(ev[ok])
    if es.size == 0:
        raise EstimationError("no pre-period event time could be estimated")
    keep = ok[:, None] & (ev[:, None] == es[None, :])
    W = keep * pre_fit.n_treated[:, None]
    W = W / W.sum(axis=0)
    est = pre_fit.att @ W
    inf = imputation_inf(pre_fit, W)
    return Aggregation("dynamic", es, est, se_from_inf(inf, pre_fit.n), float("nan"), float("nan"), inf, np.zeros(pre_fit.n), pre_fit.n)


def leads_test(panel: DidPanel, fit: ImputationFit, *, anticipation: int, leads: int | None) -> dict:
    """Leads regression on the untreated observations and its joint F test.

    ``y_it = a_i + l_t + sum_h gamma_h 1{t - g_i = h} + x_it' beta`` over the
    observations the imputation estimator fits on, for every pre-period
    event time ``h < -anticipation`` but the reference ``-1 - anticipation``
    (the ``leads`` closest to adoption when given). Errors are clustered by
    unit (CR1 with pyfixest's factor); ``F = gamma' V^-1 gamma / q`` is
    referred to ``F(q, G - 1)``, as diff-diff's ``pretrend_test``.

    Returns
    -------
    dict
        ``statistic`` (F), ``df`` (q, G - 1), ``p_value``, ``leads`` (one
        row per event time: ``event_time``, ``estimate``, ``std_error``),
        ``tested``.
    """
    mask = fit.mask0
    n, T = mask.shape
    rel = np.where(panel.cohort[:, None] != NEVER, np.arange(T)[None, :] - panel.cohort[:, None], np.iinfo(np.int64).min)
    hs = np.unique(rel[mask & (panel.cohort[:, None] != NEVER)])
    hs = hs[(hs < -anticipation) & (hs != -1 - anticipation)]
    if leads is not None:
        hs = np.sort(hs)[::-1][:leads][::-1]
    if hs.size == 0:
        raise EstimationError("no lead to test: no treated unit is observed untreated before the reference period")
    cols = [(rel == h).astype(float)[:, :, None] for h in hs]
    if fit.x is not None:
        cols.append(fit.x)
    Z = np.concatenate([np.where(mask, panel.y, 0.0)[:, :, None], *cols], axis=2)
    R = fit.tw.residualise(Z)[mask]
    y, X = R[:, 0], R[:, 1:]
    q = hs.size
    scale = np.sqrt((X**2).sum(axis=0))
    if np.any(scale[:q] <= 1e-12) or np.linalg.matrix_rank(X / np.where(scale > 0, scale, 1.0)) < X.shape[1]:
        raise EstimationError("the lead indicators are collinear with the unit and period effects (too few never- or not-yet-treated observations)")
    unit = np.broadcast_to(np.arange(n)[:, None], (n, T))[mask]
    bread, V, G = cr1(X, y - X @ (np.linalg.pinv(X.T @ X) @ (X.T @ y)), unit, n_fixed_effects(fit.tw))
    gamma = (bread @ (X.T @ y))[:q]
    Vg = V[:q, :q]
    W = float(gamma @ np.linalg.solve(Vg, gamma))
    F = W / q
    p = float(stats.f.sf(F, q, G - 1))
    se = np.sqrt(np.diag(Vg))
    rows = [{"event_time": int(h), "estimate": float(b), "std_error": float(s)} for h, b, s in zip(hs, gamma, se, strict=True)]
    return {"statistic": F, "df": (q, G - 1), "p_value": p, "leads": rows, "tested": f"leads regression on untreated observations (reference event time {-1 - anticipation})"}
