"""Linear panel GMM on stacked per-unit blocks (Arellano–Bond / Blundell–Bond).

Every unit contributes ``R`` rows (missing ones are zero rows), so the data are
dense arrays ``y (N, R)``, ``X (N, R, K)``, ``Z (N, R, p)`` and the one-step
weight uses one ``R x R`` matrix ``H``. All sums over units are matrix
products of these arrays; no ``NR x NR`` matrix is formed.

The formulas follow R's plm::pgmm (version 2.6): the one-step weight is
``(sum Z_i' H Z_i / N)^-1``, the two-step weight ``(sum Z_i' e_i e_i' Z_i)^-1``
from one-step residuals, the non-robust covariances are the GMM "bread"
matrices, the robust two-step covariance is Windmeijer's (2005) correction,
and the AR(m) tests are Arellano and Bond's (1991) m-statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ...errors import EstimationError

_EPS = 1e-9


@dataclass(frozen=True)
class GMMSystem:
    """Stacked moment system of one model.

    Attributes
    ----------
    y : ndarray, shape (N, R)
    X : ndarray, shape (N, R, K)
    Z : ndarray, shape (N, R, p)
    H : ndarray, shape (R, R)
        One-step weight kernel (covariance of the transformed errors up to scale).
    n_diff : int
        Rows ``0..n_diff-1`` are differenced equations (AR tests use them only).
    used : ndarray of bool, shape (N, R)
        Rows with data (the others are all zero).
    """

    y: np.ndarray
    X: np.ndarray
    Z: np.ndarray
    H: np.ndarray
    n_diff: int
    used: np.ndarray


@dataclass(frozen=True)
class GMMFit:
    """Estimates and tests of one- or two-step GMM.

    Attributes
    ----------
    params, params_onestep : ndarray, shape (K,)
    vcov : ndarray, shape (K, K)
        Robust: one-step sandwich, or Windmeijer-corrected two-step.
    vcov_nonrobust : ndarray, shape (K, K)
        The bread ``(X'Z W Z'X)^-1`` (plm's ``vcov``).
    hansen : tuple (stat, df, p)
        ``(sum Z'e)' A2 (sum Z'e)``, A2 the two-step weight (plm's "Sargan test").
    sargan : tuple (stat, df, p)
        One-step criterion over the error variance (non-robust; differenced
        equations only); NaN for system GMM.
    ar : dict int -> (stat, p)
        Arellano–Bond AR(m) tests with the robust covariance.
    n_instruments, n_obs, n_units : int
        ``n_obs`` counts every equation used (differences and levels).
    n_diff_obs, n_diff_periods : int
        Differenced equations used, and the periods they cover.
    residuals : ndarray, shape (N, R)
    """

    params: np.ndarray
    params_onestep: np.ndarray
    vcov: np.ndarray
    vcov_nonrobust: np.ndarray
    hansen: tuple[float, int, float]
    sargan: tuple[float, int, float]
    ar: dict[int, tuple[float, float]]
    ar_nonrobust: dict[int, tuple[float, float]]
    n_instruments: int
    n_obs: int
    n_units: int
    residuals: np.ndarray
    n_diff_obs: int = 0
    n_diff_periods: int = 0
    warnings: tuple[str, ...] = ()


def _inv(M: np.ndarray, what: str, warns: list[str]) -> np.ndarray:
    M = (M + M.T) / 2
    if np.linalg.eigvalsh(M).min() < _EPS:
        warns.append(f"the {what} matrix is singular; a generalised inverse is used")
        return np.linalg.pinv(M)
    return np.linalg.inv(M)


def fit_gmm(s: GMMSystem, steps: int = 2, ar_orders: tuple[int, ...] = (1, 2)) -> GMMFit:
    """One- or two-step GMM of ``s``; see the module docstring for the formulas."""
    N, R, p = s.Z.shape
    K = s.X.shape[2]
    if p < K:
        raise EstimationError(f"{p} instruments for {K} parameters: the model is not identified")
    warns: list[str] = []
    Zf = s.Z.reshape(N * R, p)
    Xf = s.X.reshape(N * R, K)
    yf = s.y.reshape(N * R)
    ZX = Zf.T @ Xf
    Zy = Zf.T @ yf
    HZ = np.matmul(s.H, s.Z)
    A1 = _inv(Zf.T @ HZ.reshape(N * R, p), "first-step", warns) * N
    try:
        B1 = np.linalg.inv(ZX.T @ A1 @ ZX)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("the regressors are not identified by the instruments") from exc
    b1 = B1 @ (ZX.T @ A1 @ Zy)
    e1 = s.y - np.einsum("nrk,k->nr", s.X, b1)
    U1 = np.einsum("nrp,nr->np", s.Z, e1)
    S = U1.T @ U1
    A2 = _inv(S, "second-step", warns)
    if steps == 1:
        b, B, A, e = b1, B1, A1, e1
        vcov = B1 @ (ZX.T @ A1 @ S @ A1 @ ZX) @ B1
    else:
        B2 = np.linalg.inv(ZX.T @ A2 @ ZX)
        b2 = B2 @ (ZX.T @ A2 @ Zy)
        e2 = s.y - np.einsum("nrk,k->nr", s.X, b2)
        We = np.einsum("nrp,nr->p", s.Z, e2)
        vcov1 = B1 @ (ZX.T @ A1 @ S @ A1 @ ZX) @ B1
        # Windmeijer: D_k = -B2 X'Z A2 (sum Z_i' dOmega_i/db_k Z_i) A2 Z'e
        P = np.matmul(s.Z.transpose(0, 2, 1), s.X)  # (N, p, K): Z_i' x_ik
        v = A2 @ We
        u1v = U1 @ v  # (N,)
        inner = np.einsum("npk,n->pk", P, u1v) + U1.T @ np.einsum("npk,p->nk", P, v)
        D = (B2 @ ZX.T @ A2) @ inner
        vcov = B2 + D @ B2 + (D @ B2).T + D @ vcov1 @ D.T
        b, B, A, e = b2, B2, A2, e2
    vcov = (vcov + vcov.T) / 2
    z = np.einsum("nrp,nr->p", s.Z, e)
    df = p - K
    h = float(z @ A2 @ z)
    hansen = (h, df, float(stats.chi2.sf(h, df)) if df > 0 else float("nan"))
    sargan = _sargan(s, e1, U1, A1 / N, df)
    ar = {m: _mtest(s, e, B, A, vcov, ZX, m) for m in ar_orders if m < s.n_diff}
    ar_nr = {m: _mtest(s, e, B, A, B, ZX, m) for m in ar_orders if m < s.n_diff}
    return GMMFit(
        params=b,
        params_onestep=b1,
        vcov=vcov,
        vcov_nonrobust=B,
        hansen=hansen,
        sargan=sargan,
        ar=ar,
        ar_nonrobust=ar_nr,
        n_instruments=p,
        n_obs=int(s.used.sum()),
        n_units=int(s.used.any(axis=1).sum()),
        residuals=e,
        n_diff_obs=int(s.used[:, : s.n_diff].sum()),
        n_diff_periods=int(s.used[:, : s.n_diff].any(axis=0).sum()),
        warnings=tuple(dict.fromkeys(warns)),
    )


def _sargan(s: GMMSystem, e1: np.ndarray, U1: np.ndarray, A1: np.ndarray, df: int) -> tuple[float, int, float]:
    if s.n_diff != s.y.shape[1]:
        return (float("nan"), df, float("nan"))
    used = s.used[:, : s.n_diff]
    sigma2 = float((e1[:, : s.n_diff] ** 2).sum() / (2 * used.sum()))
    z = U1.sum(axis=0)
    stat = float(z @ A1 @ z) / sigma2
    return (stat, df, float(stats.chi2.sf(stat, df)) if df > 0 else float("nan"))


def _mtest(s: GMMSystem, e: np.ndarray, B: np.ndarray, A: np.ndarray, vv: np.ndarray, ZX: np.ndarray, m: int) -> tuple[float, float]:
    nd = s.n_diff
    r = np.zeros_like(e)
    r[:, :nd] = e[:, :nd]
    rl = np.zeros_like(e)
    rl[:, m:nd] = e[:, : nd - m]
    c = (r * rl).sum(axis=1)  # e_i' el_i
    EVE = float((c**2).sum())
    EX = np.einsum("nr,nrk->k", rl, s.X)
    ZVE = np.einsum("nrp,nr,n->p", s.Z, r, c)
    denom = EVE - 2 * EX @ B @ ZX.T @ A @ ZVE + EX @ vv @ EX
    stat = float(c.sum() / np.sqrt(denom)) if denom > 0 else float("nan")
    return (stat, float(2 * stats.norm.sf(abs(stat))))
