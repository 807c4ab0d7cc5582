"""Callaway-Sant'Anna cells with covariates on an unbalanced panel.

Each (g,t) cell is a repeated-cross-section 2x2 DiD (Sant'Anna and Zhao 2020;
R ``DRDID``'s ``reg_did_rc``, ``std_ipw_did_rc`` and ``drdid_rc``) on the
observations of the cell's two periods, as R ``did`` with
``allow_unbalanced_panel=TRUE`` (and moderndid) fit it: each observation
carries its own period's covariates, a unit observed in only one of the two
periods still counts, and the per-observation influence function, scaled by
``n_units / n_obs``, is summed by unit, so standard errors and the bootstrap
are clustered by unit. On a balanced panel the estimators differ from the
panel ones (the covariates of both periods enter), which is why the balanced
path in ``_cs`` is kept for balanced panels.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...errors import DataWarning
from ._cs import (
    CellSet,
    CellSkipped,
    code_index,
    define_cells,
    propensity_logit,
    trimmed,
)
from ._data import DidPanel


def _ols(y: np.ndarray, X: np.ndarray, mask: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """OLS of ``y`` on ``X`` over ``mask``: fitted values on every row and the
    asymptotic linear representation of the coefficients (n, k)."""
    n, k = X.shape
    Xm = X[mask]
    if mask.sum() < k or np.linalg.cond(Xm.T @ Xm) > 1 / np.finfo(float).eps:
        raise CellSkipped(f"not enough {what} observations to run the outcome regression")
    beta = np.linalg.lstsq(Xm, y[mask], rcond=None)[0]
    fitted = X @ beta
    w = mask.astype(float)
    xpx_inv = np.linalg.inv((w[:, None] * X).T @ X / n)
    return fitted, (w * (y - fitted))[:, None] * X @ xpx_inv


def _mean_ratio(w: np.ndarray, v: np.ndarray) -> tuple[float, np.ndarray]:
    """``E[w v] / E[w]`` and its influence function (the leading term)."""
    mw = np.mean(w)
    if mw <= 0:
        raise CellSkipped("an empty treated or control group in one of the two periods")
    est = float(np.mean(w * v) / mw)
    return est, w * (v - est) / mw


def _moment(w: np.ndarray, X: np.ndarray, v: np.ndarray | float = 1.0) -> np.ndarray:
    """``E[w v X] / E[w]``."""
    return np.mean((w * v)[:, None] * X, axis=0) / np.mean(w)


def reg_did_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for repeated cross sections (R DRDID ``reg_did_rc``):
    ATT and its influence function per observation."""

    def ols(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if mask.sum() <= X.shape[1]:
            raise CellSkipped("not enough control observations to run the outcome regression")
        return _ols(y, X, mask, "control")

    out_pre, lin_pre = ols((D == 0) & (post == 0))
    out_post, lin_post = ols((D == 0) & (post == 1))
    eta_tpre, inf_tpre = _mean_ratio(D * (1 - post), y)
    eta_tpost, inf_tpost = _mean_ratio(D * post, y)
    w_c = D
    reg_c = w_c * (out_post - out_pre)
    eta_c = np.mean(reg_c) / np.mean(w_c)
    M1 = np.mean(w_c[:, None] * X, axis=0)
    inf_c = (reg_c - w_c * eta_c + lin_post @ M1 - lin_pre @ M1) / np.mean(w_c)
    return float((eta_tpost - eta_tpre) - eta_c), (inf_tpost - inf_tpre) - inf_c


def ipw_did_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Standardised (Hajek) IPW DiD for repeated cross sections (R DRDID
    ``std_ipw_did_rc``), controls with a propensity score at or above
    ``TRIM_LEVEL`` trimmed: ATT and its influence function per observation."""
    ps, lin_ps = propensity_logit(D, X)
    trim = trimmed(D, ps)
    odds = ps / (1 - ps)
    a_tpre, i_tpre = _mean_ratio(trim * D * (1 - post), y)
    a_tpost, i_tpost = _mean_ratio(trim * D * post, y)
    w_cpre = trim * odds * (1 - D) * (1 - post)
    w_cpost = trim * odds * (1 - D) * post
    a_cpre, i_cpre = _mean_ratio(w_cpre, y)
    a_cpost, i_cpost = _mean_ratio(w_cpost, y)
    m_ps = _moment(w_cpost, X, y - a_cpost) - _moment(w_cpre, X, y - a_cpre)
    inf_c = i_cpost - i_cpre + lin_ps @ m_ps
    return (a_tpost - a_tpre) - (a_cpost - a_cpre), (i_tpost - i_tpre) - inf_c


def dr_did_rc(y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD for repeated cross sections (R DRDID
    ``drdid_rc``; Sant'Anna and Zhao 2020, eq. 3.4): a logit propensity score
    and outcome regressions for each group and period; ATT and its influence
    function per observation."""
    ps, lin_ps = propensity_logit(D, X)
    trim = trimmed(D, ps)
    pre, c = (post == 0), (D == 0)
    mu_c0, l_c0 = _ols(y, X, c & pre, "control")
    mu_c1, l_c1 = _ols(y, X, c & ~pre, "control")
    mu_t0, l_t0 = _ols(y, X, ~c & pre, "treated")
    mu_t1, l_t1 = _ols(y, X, ~c & ~pre, "treated")
    r = y - np.where(pre, mu_c0, mu_c1)
    odds = ps / (1 - ps)
    w_tpre, w_tpost = trim * D * (1 - post), trim * D * post
    w_cpre, w_cpost = trim * odds * (1 - D) * (1 - post), trim * odds * (1 - D) * post
    w_d = trim * D
    a_tpre, i_tpre = _mean_ratio(w_tpre, r)
    a_tpost, i_tpost = _mean_ratio(w_tpost, r)
    a_cpre, i_cpre = _mean_ratio(w_cpre, r)
    a_cpost, i_cpost = _mean_ratio(w_cpost, r)
    a_d1, i_d1 = _mean_ratio(w_d, mu_t1 - mu_c1)
    a_dt1, i_dt1 = _mean_ratio(w_tpost, mu_t1 - mu_c1)
    a_d0, i_d0 = _mean_ratio(w_d, mu_t0 - mu_c0)
    a_dt0, i_dt0 = _mean_ratio(w_tpre, mu_t0 - mu_c0)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_d1 - a_dt1) - (a_d0 - a_dt0)
    # estimation effect of the control outcome regressions on the treated and control terms
    inf_t = i_tpost - i_tpre - l_c1 @ _moment(w_tpost, X) - l_c0 @ _moment(w_tpre, X)
    m_ps = _moment(w_cpost, X, r - a_cpost) - _moment(w_cpre, X, r - a_cpre)
    inf_c = i_cpost - i_cpre + lin_ps @ m_ps - l_c1 @ _moment(w_cpost, X) - l_c0 @ _moment(w_cpre, X)
    # the locally efficient adjustment and the estimation effect of all four regressions
    inf_eff = (i_d1 - i_dt1) - (i_d0 - i_dt0)
    share = w_d / np.mean(w_d)
    m1 = np.mean((share - w_tpost / np.mean(w_tpost))[:, None] * X, axis=0)
    m0 = np.mean((share - w_tpre / np.mean(w_tpre))[:, None] * X, axis=0)
    inf_or = (l_t1 - l_c1) @ m1 - (l_t0 - l_c0) @ m0
    return float(att), inf_t - inf_c + inf_eff + inf_or


RC_TWO_BY_TWO = {"reg": reg_did_rc, "ipw": ipw_did_rc, "dr": dr_did_rc}


def cells_unbalanced_covariates(panel: DidPanel, *, control: str, anticipation: int, base: str, est_method: str) -> CellSet:
    """All cells with covariates on an unbalanced panel by the repeated-cross-section
    estimator ``est_method`` ("reg", "ipw" or "dr") on every observation with the
    outcome and covariates; influence functions are summed by unit."""
    g, t, b, post, codes, ctrl = define_cells(panel, control=control, anticipation=anticipation, base=base)
    n, K = panel.n, len(g)
    ucode = code_index(codes, panel.cohort)
    obs = panel.observed
    fit = RC_TWO_BY_TWO[est_method]
    att = np.full(K, np.nan)
    inf = np.zeros((n, K))
    n1 = np.zeros(K)
    n0 = np.zeros(K)
    skipped: list[str] = []
    for k in range(K):
        treated = panel.cohort == g[k]
        members = treated | ctrl[k][ucode]
        n1[k], n0[k] = treated.sum(), ctrl[k][ucode].sum()
        u0 = np.flatnonzero(members & obs[:, b[k]])
        u1 = np.flatnonzero(members & obs[:, t[k]])
        u = np.concatenate([u0, u1])
        s_idx = np.concatenate([np.full(u0.size, b[k]), np.full(u1.size, t[k])])
        pst = np.concatenate([np.zeros(u0.size), np.ones(u1.size)])
        y = panel.y[u, s_idx]
        X = np.column_stack([np.ones(u.size), panel.x[u, s_idx, :]])
        D = treated[u].astype(float)
        try:
            if not (D[pst == 0].any() and D[pst == 1].any() and (D[pst == 0] == 0).any() and (D[pst == 1] == 0).any()):
                raise CellSkipped("no observed treated or control unit in one of the two periods")
            att[k], phi = fit(y, pst, D, X)
        except CellSkipped as why:
            skipped.append(f"(g={panel.cohort_label(int(g[k]))}, t={panel.cohort_label(int(t[k]))}): {why}")
            continue
        inf[:, k] = np.bincount(u, weights=phi * n / u.size, minlength=n)
    if skipped:
        shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"{len(skipped)} (g,t) cell(s) left out, as R did does: {shown}", DataWarning, stacklevel=4)
    se = np.sqrt((inf**2).sum(axis=0)) / n
    se[np.isnan(att)] = np.nan
    return CellSet(g, t, b, post, att, se, n1, n0, n, codes, ucode, ctrl, inf=inf)
