"""Unit and period fixed effects on any subset of a units x periods grid.

The normal equations of ``z_it = a_i + l_t`` over the cells where ``mask`` is
True are solved through the Schur complement on the period block (T x T), so a
fit costs O(n T) plus one small dense factorisation, for balanced and
unbalanced panels alike. Shared by the imputation estimator (fit on untreated
cells), TWFE and the leads regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg


def factor(S: np.ndarray) -> tuple:
    """Cholesky factor of the reduced period block; a least-squares fallback when
    the cells do not connect every period."""
    try:
        return ("chol", linalg.cho_factor(S))
    except linalg.LinAlgError:
        return ("pinv", linalg.pinvh(S))


def solve(fac: tuple, rhs: np.ndarray) -> np.ndarray:
    kind, f = fac
    if rhs.size == 0:
        return rhs
    return linalg.cho_solve(f, rhs) if kind == "chol" else f @ rhs


@dataclass(frozen=True)
class TwoWay:
    """Factorised two-way fixed effects over ``mask`` (n, T).

    ``Ti`` (n,) and ``Nt`` (T,) count the cells per unit and period; ``free``
    are the periods whose effect is estimated (the first period with a cell is
    the normalisation).
    """

    mask: np.ndarray
    Ti: np.ndarray
    Nt: np.ndarray
    free: np.ndarray
    fac: tuple

    @property
    def Ti_safe(self) -> np.ndarray:
        return np.where(self.Ti > 0, self.Ti, 1.0)

    def effects(self, ru: np.ndarray, rt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit and period effects (n, P), (T, P) from the sums ``ru`` (n, P) over each
        unit's cells and ``rt`` (T, P) over each period's cells."""
        M = self.mask.astype(float)
        lam = np.zeros_like(rt, dtype=float)
        lam[self.free] = solve(self.fac, (rt - M.T @ (ru / self.Ti_safe[:, None]))[self.free])
        alpha = (ru - M @ lam) / self.Ti_safe[:, None]
        return alpha, lam

    def fit(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Effects of each column of ``Z`` (n, T, P) fitted on the cells of the mask."""
        Zm = np.where(self.mask[:, :, None], Z, 0.0)
        return self.effects(Zm.sum(axis=1), Zm.sum(axis=0))

    def residualise(self, Z: np.ndarray) -> np.ndarray:
        """``Z`` (n, T, P) less its fitted unit and period effects; zero off the mask."""
        alpha, lam = self.fit(Z)
        R = Z - alpha[:, None, :] - lam[None, :, :]
        return np.where(self.mask[:, :, None], R, 0.0)


def twoway(mask: np.ndarray) -> TwoWay:
    """Factorise the two-way fixed-effects normal equations on the cells of ``mask``."""
    M = mask.astype(float)
    Ti = M.sum(axis=1)
    Nt = M.sum(axis=0)
    free = np.flatnonzero(Nt > 0)[1:]
    Ti_safe = np.where(Ti > 0, Ti, 1.0)
    S = np.diag(Nt) - M.T @ (M / Ti_safe[:, None])
    return TwoWay(mask, Ti, Nt, free, factor(S[np.ix_(free, free)]))


def n_fixed_effects(tw: TwoWay) -> int:
    """Fixed effects counted in k under unit clusters (fixest/pyfixest ``k_fixef="nonnested"``):
    the unit effects are nested in the clusters, every period with a cell counts."""
    return int((tw.Nt > 0).sum())


def cr1(X: np.ndarray, e: np.ndarray, unit: np.ndarray, k_extra: int) -> tuple[np.ndarray, np.ndarray, int]:
    """OLS bread, CR1 covariance clustered by ``unit`` and the number of clusters.

    ``X`` (N, k) and ``e`` (N,) are the demeaned regressors and residuals of
    the cells; ``k_extra`` the fixed effects counted in k. The factor is
    ``G/(G-1) * (N-1)/(N-k-k_extra)``, pyfixest's default.
    """
    N, k = X.shape
    bread = np.linalg.pinv(X.T @ X)
    codes, u = np.unique(unit, return_inverse=True)
    G = codes.size
    scores = np.zeros((G, k))
    for j in range(k):
        scores[:, j] = np.bincount(u, weights=X[:, j] * e, minlength=G)
    meat = scores.T @ scores
    adj = G / (G - 1) * (N - 1) / (N - k - k_extra)
    return bread, adj * bread @ meat @ bread, G
