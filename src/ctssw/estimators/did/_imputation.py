"""Imputation estimator (Borusyak, Jaravel and Spiess 2024).

Unit and period effects are fitted on untreated observations only; treated
outcomes minus their imputed untreated outcomes are averaged into ATT(g,t)
cells. The fixed-effect normal equations are solved through the Schur
complement on the period block (T x T), so the fit and every variance weight
cost O(n T) plus one small dense solve.

Written here: diff-diff's ImputationDiD and pyfixest's did2s fit a long-format
regression; on a balanced units x periods matrix the closed form is shorter and
gives the BJS conservative variance (their Theorem 3, with the cohort x period
cell means as the auxiliary tau-bar) for any set of cell weights at once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ...errors import DataWarning, EstimationError
from ._cs import rows_by
from ._data import NEVER, DidPanel


@dataclass(frozen=True)
class ImputationFit:
    """Shapes: cells (K,); ``tau`` (n, T) with NaN outside treated observations;
    ``resid0`` (n, T) zero outside the fitting sample; ``S`` the (T, T) Schur
    complement on identified periods."""

    g: np.ndarray
    t: np.ndarray
    att: np.ndarray
    n_treated: np.ndarray
    n: int
    cohort: np.ndarray
    tau: np.ndarray
    resid0: np.ndarray
    mask0: np.ndarray
    Ti: np.ndarray
    S_fac: tuple
    free: np.ndarray

    @property
    def event(self) -> np.ndarray:
        return self.t - self.g


def _factor(S: np.ndarray) -> tuple:
    """Cholesky factor of the reduced period block; a least-squares fallback when
    the untreated observations do not connect every period."""
    try:
        return ("chol", linalg.cho_factor(S))
    except linalg.LinAlgError:
        return ("pinv", linalg.pinvh(S))


def _solve(fac: tuple, rhs: np.ndarray) -> np.ndarray:
    kind, f = fac
    if rhs.size == 0:
        return rhs
    return linalg.cho_solve(f, rhs) if kind == "chol" else f @ rhs


def fit_imputation(panel: DidPanel, *, anticipation: int = 0, lead: int = 0) -> ImputationFit:
    """Fit on observations before ``g - anticipation - lead``; impute from there on."""
    y = panel.y
    n, T = y.shape
    g = panel.cohort
    treated_unit = g != NEVER
    start = np.where(treated_unit, g - anticipation - lead, T)
    tt = np.arange(T)[None, :]
    mask0 = tt < start[:, None]
    treat = (tt >= start[:, None]) & treated_unit[:, None]
    Ti = mask0.sum(axis=1).astype(float)
    no_base = treated_unit & (Ti == 0)
    if no_base.any():
        warnings.warn(f"{int(no_base.sum())} unit(s) have no untreated period and are left out", DataWarning, stacklevel=3)
        treat[no_base] = False
    Nt = mask0.sum(axis=0).astype(float)
    ident = Nt > 0
    lost = treat & ~ident[None, :]
    if lost.any():
        warnings.warn(
            f"{int(lost.sum())} treated observation(s) fall in periods with no untreated unit and are left out",
            DataWarning,
            stacklevel=3,
        )
        treat &= ident[None, :]
    M = mask0.astype(float)
    Ti_safe = np.where(Ti > 0, Ti, 1.0)
    free = np.flatnonzero(ident)[1:]  # first identified period is the normalisation
    S = np.diag(Nt) - M.T @ (M / Ti_safe[:, None])
    S_fac = _factor(S[np.ix_(free, free)])
    ym = np.where(mask0, y, 0.0)
    ru = ym.sum(axis=1)
    rt = ym.sum(axis=0)
    lam = np.zeros(T)
    lam[free] = _solve(S_fac, (rt - M.T @ (ru / Ti_safe))[free])
    alpha = (ru - M @ lam) / Ti_safe
    fitted = alpha[:, None] + lam[None, :]
    resid0 = np.where(mask0, y - fitted, 0.0)
    tau = np.where(treat, y - fitted, np.nan)
    # cells
    G, Tc, A, N1 = [], [], [], []
    for c in np.unique(g[treated_unit & ~no_base]):
        rows = g == c
        for t in range(max(c - anticipation - lead, 0), T):
            col = tau[rows, t]
            col = col[np.isfinite(col)]
            if col.size == 0:
                continue
            G.append(c)
            Tc.append(t)
            A.append(col.mean())
            N1.append(col.size)
    if not G:
        raise EstimationError("no treated observation can be imputed")
    return ImputationFit(
        np.asarray(G), np.asarray(Tc), np.asarray(A), np.asarray(N1, dtype=float), n, g, tau, resid0, mask0, Ti, S_fac, free
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
    M = fit.mask0.astype(float)
    Ti_safe = np.where(fit.Ti > 0, fit.Ti, 1.0)
    rhs = rt - M.T @ (ru / Ti_safe[:, None])
    beta_t = np.zeros((T, P))
    beta_t[fit.free] = _solve(fit.S_fac, rhs[fit.free])
    s -= fit.resid0 @ beta_t
    return s * n
