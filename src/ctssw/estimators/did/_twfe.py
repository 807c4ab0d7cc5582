"""Static two-way fixed effects: y_it = a_i + l_t + beta * D_it + x_it' delta.

Shown beside the heterogeneity-robust estimators to make its bias visible, and
the regression to run for a treatment that switches on and off (a non-absorbing
indicator or an intensity the user gives). Balanced or not, the unit and
period effects are removed exactly on the observed cells; errors are clustered
by unit with pyfixest's CR1 factor ``G/(G-1) * (N-1)/(N-k)``, ``k`` counting the
slopes and the period effects (the unit effects are nested in the clusters).
Singletons (a unit or period with one observed cell) are dropped first, as
pyfixest does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import EstimationError
from ._data import NEVER, DidPanel
from ._fe import cr1, n_fixed_effects, twoway


@dataclass(frozen=True)
class TwfeFit:
    """beta (the treatment coefficient), its clustered standard error, the unit
    scores (n,) scaled like an influence function (``se = sqrt(sum IF^2) / n``),
    the number of units, the covariate coefficients ``delta`` with their
    standard errors (empty without covariates), the observations used and the
    number of clusters ``G`` (units with observations)."""

    beta: float
    se: float
    inf: np.ndarray
    n: int
    delta: np.ndarray
    delta_se: np.ndarray
    nobs: int = 0
    G: int = 0


def _drop_singletons(mask: np.ndarray) -> np.ndarray:
    """Remove cells of units or periods left with one cell, repeatedly (as pyfixest and
    fixest with singleton removal: such a cell is fitted exactly and only inflates N)."""
    mask = mask.copy()
    while True:
        bad = mask & ((mask.sum(axis=1) == 1)[:, None] | (mask.sum(axis=0) == 1)[None, :])
        if not bad.any():
            return mask
        mask &= ~bad


def fit_twfe(panel: DidPanel, *, treatment: np.ndarray | None = None) -> TwfeFit:
    """Static TWFE with D_it = 1{t >= g_i}, or a given (n, T) treatment array."""
    n, T = panel.y.shape
    if treatment is None:
        tt = np.arange(T)[None, :]
        treatment = ((panel.cohort[:, None] != NEVER) & (tt >= panel.cohort[:, None])).astype(float)
    D = np.asarray(treatment, dtype=float)
    mask = _drop_singletons(panel.observed & np.isfinite(D))
    cols = [np.where(mask, D, 0.0)[:, :, None]]
    if panel.x is not None and panel.x.shape[2]:
        cols.append(np.where(mask[:, :, None], panel.x, 0.0))
    Z = np.concatenate([np.where(mask, panel.y, 0.0)[:, :, None], *cols], axis=2)
    tw = twoway(mask)
    R = tw.residualise(Z)[mask]  # (N, 1 + k)
    y, X = R[:, 0], R[:, 1:]
    N, k = X.shape
    scale = np.sqrt((X**2).sum(axis=0))
    if scale[0] <= 1e-12 * max(1.0, np.sqrt((Z[:, :, 1][mask] ** 2).sum())):
        raise EstimationError("the treatment has no variation after removing unit and period effects")
    if np.linalg.matrix_rank(X / np.where(scale > 0, scale, 1.0)) < k:
        raise EstimationError("the treatment and covariates are collinear after removing unit and period effects")
    k_fe = n_fixed_effects(tw)
    if N <= k + k_fe:
        raise EstimationError(f"{N} observations for {k} slopes and {k_fe} period effects")
    unit = np.broadcast_to(np.arange(n)[:, None], (n, T))[mask]
    bread = np.linalg.inv(X.T @ X)
    coef = bread @ (X.T @ y)
    e = y - X @ coef
    _, V, G = cr1(X, e, unit, k_fe)
    if G < 2:
        raise EstimationError("clustered standard errors need at least two units")
    se = np.sqrt(np.diag(V))
    # unit scores of beta, scaled so that sqrt(sum score^2) / n is its standard error
    psi = np.zeros((n, k))
    for j in range(k):
        psi[:, j] = np.bincount(unit, weights=X[:, j] * e, minlength=n)
    u = psi @ bread[:, 0]
    s = u * np.sqrt(V[0, 0] / max(float(u @ u), 1e-300))
    return TwfeFit(float(coef[0]), float(se[0]), s * n, n, coef[1:], se[1:], int(N), int(G))
