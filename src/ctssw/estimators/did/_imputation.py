"""Imputation estimator (Borusyak, Jaravel and Spiess 2024).

Unit and period effects (and covariate slopes, when given) are fitted on
untreated observations only; treated outcomes minus their imputed untreated
outcomes are averaged into ATT(g,t) cells. The fixed-effect normal equations
are solved through the Schur complement on the period block (T x T), see
:mod:`._fe`, so the fit and every variance weight cost O(n T) plus one small
dense solve, on balanced and unbalanced panels alike.

Written here: diff-diff's ImputationDiD and pyfixest's did2s fit a long-format
regression; on a units x periods grid the closed form is shorter and gives the
BJS conservative variance (their Theorem 3, with the cohort x period cell
means as the auxiliary tau-bar) for any set of cell weights at once. With
covariates the untreated-observation weights gain the covariate part by
Frisch-Waugh-Lovell (checked against diff-diff on the Favara-Imbs panel).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ...errors import DataWarning, EstimationError
from ._cs import rows_by
from ._data import NEVER, DidPanel
from ._fe import TwoWay, twoway


@dataclass(frozen=True)
class ImputationFit:
    """Shapes: cells (K,); ``tau`` (n, T) with NaN outside treated observations;
    ``resid0`` (n, T) zero outside the fitting sample; ``tw`` the two-way
    fixed effects factorised on the fitting sample. With covariates, ``beta``
    (k,) are their first-stage coefficients, ``x`` (n, T, k) their values (zero
    where unobserved), ``xr0`` (n, T, k) their residuals on the fixed effects
    over the fitting sample and ``xtx_inv`` (k, k) the inverse of ``xr0``'s
    cross-product."""

    g: np.ndarray
    t: np.ndarray
    att: np.ndarray
    n_treated: np.ndarray
    n: int
    cohort: np.ndarray
    tau: np.ndarray
    resid0: np.ndarray
    tw: TwoWay
    beta: np.ndarray | None = None
    x: np.ndarray | None = None
    xr0: np.ndarray | None = None
    xtx_inv: np.ndarray | None = None

    @property
    def mask0(self) -> np.ndarray:
        return self.tw.mask

    @property
    def event(self) -> np.ndarray:
        return self.t - self.g


def fit_imputation(panel: DidPanel, *, anticipation: int = 0, lead: int = 0) -> ImputationFit:
    """Fit on observations before ``g - anticipation - lead``; impute from there on.

    The panel may be unbalanced (a missing outcome or covariate is a cell
    without an observation). Covariates enter the first stage,
    ``y_it = a_i + l_t + x_it' beta`` on the untreated observations, as in R
    ``didimputation`` and diff-diff's ``ImputationDiD``.
    """
    y = panel.y
    n, T = y.shape
    g = panel.cohort
    obs = panel.observed
    treated_unit = g != NEVER
    start = np.where(treated_unit, g - anticipation - lead, T)
    tt = np.arange(T)[None, :]
    mask0 = (tt < start[:, None]) & obs
    treat = (tt >= start[:, None]) & treated_unit[:, None] & obs
    no_base = treated_unit & (mask0.sum(axis=1) == 0) & treat.any(axis=1)
    if no_base.any():
        warnings.warn(f"{int(no_base.sum())} unit(s) have no untreated period and are left out", DataWarning, stacklevel=3)
        treat[no_base] = False
    ident = mask0.sum(axis=0) > 0
    lost = treat & ~ident[None, :]
    if lost.any():
        warnings.warn(
            f"{int(lost.sum())} treated observation(s) fall in periods with no untreated unit and are left out",
            DataWarning,
            stacklevel=3,
        )
        treat &= ident[None, :]
    tw = twoway(mask0)
    beta = xr0 = xtx_inv = x = None
    if panel.x is not None and panel.x.shape[2]:
        x = np.where(obs[:, :, None], panel.x, 0.0)
        xr0 = tw.residualise(x)
        yr0 = tw.residualise(np.where(obs, y, 0.0)[:, :, None])[:, :, 0]
        A = xr0[mask0]
        xtx = A.T @ A
        if A.shape[0] <= A.shape[1] or np.linalg.matrix_rank(xtx) < xtx.shape[0]:
            raise EstimationError(
                f"the covariates {list(panel.covariates)} are collinear with the unit and period effects on the untreated observations"
            )
        xtx_inv = np.linalg.inv(xtx)
        beta = xtx_inv @ (A.T @ yr0[mask0])
        y = y - x @ beta
    alpha, lam = tw.fit(np.where(obs, y, 0.0)[:, :, None])
    fitted = alpha[:, 0][:, None] + lam[:, 0][None, :]
    resid0 = np.where(mask0, y - fitted, 0.0)
    tau = np.where(treat, y - fitted, np.nan)
    # cells
    G, Tc, A_, N1 = [], [], [], []
    for c in np.unique(g[treated_unit & ~no_base]):
        rows = g == c
        for t in range(max(c - anticipation - lead, 0), T):
            col = tau[rows, t]
            col = col[np.isfinite(col)]
            if col.size == 0:
                continue
            G.append(c)
            Tc.append(t)
            A_.append(col.mean())
            N1.append(col.size)
    if not G:
        raise EstimationError("no treated observation can be imputed")
    return ImputationFit(
        np.asarray(G), np.asarray(Tc), np.asarray(A_), np.asarray(N1, dtype=float), n, g, tau, resid0, tw, beta, x, xr0, xtx_inv
    )


def imputation_inf(fit: ImputationFit, W: np.ndarray) -> np.ndarray:
    """Unit scores (n, P) of the targets ``att @ W``, scaled like an influence
    function (``se = sqrt(sum(IF^2)) / n``), from the BJS conservative variance."""
    W = np.asarray(W, dtype=float)
    n, T = fit.tau.shape
    P = W.shape[1]
    wc = W / fit.n_treated[:, None]  # weight of each treated observation in cell k
    ru = np.zeros((n, P))
    rt = rows_by(fit.t, W, T)
    s = np.zeros((n, P))
    for c in np.unique(fit.g):
        ks = np.flatnonzero(fit.g == c)
        rows = np.flatnonzero(fit.cohort == c)
        eps = fit.tau[np.ix_(rows, fit.t[ks])] - fit.att[ks][None, :]
        present = np.isfinite(eps)
        ru[rows] = present.astype(float) @ wc[ks]
        s[rows] += np.where(present, eps, 0.0) @ wc[ks]
    alpha, beta_t = fit.tw.effects(ru, rt)
    # untreated-observation weights v0 = -(alpha_i + beta_t), plus the covariate part;
    # sum_t resid0_it alpha_i vanishes because residuals sum to zero within each unit
    s -= fit.resid0 @ beta_t
    if fit.xr0 is not None:
        k = fit.xr0.shape[2]
        x1w = np.zeros((k, P))
        for c in np.unique(fit.g):
            ks = np.flatnonzero(fit.g == c)
            rows = np.flatnonzero(fit.cohort == c)
            present = np.isfinite(fit.tau[np.ix_(rows, fit.t[ks])]).astype(float)
            xs = fit.x[np.ix_(rows, fit.t[ks])]  # (rows, cells, k)
            x1w += np.einsum("rcj,rc,cp->jp", xs, present, wc[ks])
        x0 = np.where(fit.mask0[:, :, None], fit.x, 0.0)
        x0v = -(np.einsum("itj,ip->jp", x0, alpha) + np.einsum("itj,tp->jp", x0, beta_t))
        c_ = fit.xtx_inv @ (-x1w - x0v)  # (k, P)
        s += np.einsum("it,itj,jp->ip", fit.resid0, fit.xr0, c_)
    return s * n
