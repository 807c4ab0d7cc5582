"""Panel indexing, within-unit lags, exact two-way demeaning and clustered OLS.

Pure array functions shared by the dynamic panel estimators. A panel is
described by integer codes: ``unit`` in ``0..n_units-1`` and ``time`` in
``0..n_times-1``, the position of the row's period among all distinct periods
in order. Consecutive periods are consecutive positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import ConfigError, EstimationError

# Above this many levels in the smaller factor, the dense solve gives way to
# conjugate gradients.
_DENSE_LEVELS = 3000
# Up to this many (larger x smaller factor) cells their counts are a dense
# array; beyond, a sparse matrix.
_DENSE_CELLS = 50_000_000

@dataclass(frozen=True)
class PanelIndex:
    """Integer codes of a panel's rows.

    Attributes
    ----------
    unit, time : ndarray of int64, shape (n,)
        Unit code and period position of each row.
    unit_labels, time_labels : ndarray, shapes (n_units,), (n_times,)
        The original values behind the codes, time in ascending order.
    ordered : bool
        The rows are sorted by unit, then time (lags need no lookup table).
    """

    unit: np.ndarray
    time: np.ndarray
    unit_labels: np.ndarray
    time_labels: np.ndarray
    ordered: bool = False

    @property
    def n_units(self) -> int:
        return len(self.unit_labels)

    @property
    def n_times(self) -> int:
        return len(self.time_labels)


def index_panel(unit: pd.Series | np.ndarray, time: pd.Series | np.ndarray) -> PanelIndex:
    """Code units and periods; raises :class:`ConfigError` on duplicate (unit, time) rows."""
    u_codes, u_labels = pd.factorize(np.asarray(unit), sort=True)
    t_codes, t_labels = pd.factorize(np.asarray(time), sort=True)
    if (u_codes < 0).any() or (t_codes < 0).any():
        raise ConfigError("unit and time must not contain missing values")
    u_codes = u_codes.astype(np.int64)
    t_codes = t_codes.astype(np.int64)
    key = u_codes * len(t_labels) + t_codes
    # strictly increasing keys: sorted by (unit, time) and no pair twice
    ordered = bool((key[1:] > key[:-1]).all())
    if ordered:
        dup = False
    elif len(u_labels) * len(t_labels) <= 50_000_000:
        dup = key.size and np.bincount(key).max() > 1
    else:
        sk = np.sort(key)
        dup = bool((sk[1:] == sk[:-1]).any())
    if dup:
        raise ConfigError("the panel has more than one row for some (unit, time) pair")
    return PanelIndex(u_codes, t_codes, np.asarray(u_labels), np.asarray(t_labels), ordered)


def row_lookup(idx: PanelIndex) -> callable:
    """Return ``find(unit, time) -> row`` (``-1`` where the unit has no such period)."""
    T = idx.n_times
    key = idx.unit * T + idx.time
    if idx.n_units * T <= 50_000_000:
        pos = np.full(idx.n_units * T, -1, dtype=np.int64)
        pos[key] = np.arange(key.size)

        def find(u: np.ndarray, t: np.ndarray) -> np.ndarray:
            ok = (t >= 0) & (t < T)
            out = np.full(u.shape, -1, dtype=np.int64)
            out[ok] = pos[u[ok] * T + t[ok]]
            return out

        return find
    order = np.argsort(key, kind="stable")
    skey = key[order]

    def find(u: np.ndarray, t: np.ndarray) -> np.ndarray:
        ok = (t >= 0) & (t < T)
        k = u * T + t
        j = np.clip(np.searchsorted(skey, k), 0, skey.size - 1)
        hit = ok & (skey[j] == k)
        return np.where(hit, order[j], -1)

    return find


def shift(values: np.ndarray, idx: PanelIndex, lag: int, find=None) -> np.ndarray:
    """Value of the same unit ``lag`` periods earlier (negative: later); NaN where absent.

    ``values`` has shape (n,) or (n, p); the result has the same shape, as float.
    ``find`` is a :func:`row_lookup` of ``idx`` to reuse across calls; without
    it, rows sorted by (unit, time) are matched by position.
    """
    v = np.asarray(values, dtype=float)
    if find is None and idx.ordered:
        return _ordered_shift(v, idx, lag)
    rows = (find or row_lookup(idx))(idx.unit, idx.time - lag)
    out = np.full(v.shape, np.nan)
    ok = rows >= 0
    out[ok] = v[rows[ok]]
    return out


def _ordered_shift(v: np.ndarray, idx: PanelIndex, lag: int) -> np.ndarray:
    """:func:`shift` when the rows are sorted by (unit, time) without repeats.

    The row ``lag`` periods away lies at most ``|lag|`` positions away (fewer
    when the unit skipped periods in between), so each offset is compared in turn.
    """
    if lag == 0:
        return v.copy()
    n = v.shape[0]
    u, t = idx.unit, idx.time
    out = np.full(v.shape, np.nan)
    pad = (slice(None),) + (None,) * (v.ndim - 1)
    for m in range(1, min(abs(lag), n - 1) + 1):
        # rows i (later) and i - m (earlier) of one unit, ``|lag|`` periods apart
        hit = (u[m:] == u[:-m]) & (t[m:] - t[:-m] == abs(lag))
        if lag > 0:
            np.copyto(out[m:], v[:-m], where=hit[pad])
        else:
            np.copyto(out[:-m], v[m:], where=hit[pad])
    return out


def dense_codes(g: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber non-negative integer codes to ``0..G-1`` keeping their order; returns (codes, G)."""
    g = np.asarray(g, dtype=np.int64)
    if g.size == 0:
        return g, 0
    present = np.bincount(g) > 0
    if present.all():
        return g, present.size
    remap = np.cumsum(present) - 1
    return remap[g], int(present.sum())


def n_levels(g: np.ndarray) -> int:
    """Number of distinct values among non-negative integer codes."""
    return int((np.bincount(g) > 0).sum()) if len(g) else 0


def drop_singletons(unit: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Boolean mask of rows kept after repeatedly removing units or periods seen once."""
    keep = np.ones(unit.size, dtype=bool)
    if unit.size:
        cu, ct = np.bincount(unit), np.bincount(time)
        if not ((cu == 1).any() or (ct == 1).any()):
            return keep
    while True:
        cu = np.bincount(unit[keep], minlength=unit.max() + 1 if unit.size else 0)
        ct = np.bincount(time[keep], minlength=time.max() + 1 if time.size else 0)
        bad = keep & ((cu[unit] == 1) | (ct[time] == 1))
        if not bad.any():
            return keep
        keep &= ~bad


def _group_means(Zt: np.ndarray, g: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Group means of the rows of ``Zt`` (p, n); shape (p, G)."""
    return _group_sums(Zt, g, counts.size) / counts


def _group_sums(Zt: np.ndarray, g: np.ndarray, G: int) -> np.ndarray:
    """Group sums of the rows of ``Zt`` (p, n); shape (p, G)."""
    out = np.empty((Zt.shape[0], G))
    for j in range(Zt.shape[0]):
        out[j] = np.bincount(g, weights=Zt[j], minlength=G)
    return out


def demean_twoway(Z: np.ndarray, g1: np.ndarray, g2: np.ndarray, *, tol: float = 1e-12, maxiter: int = 10_000) -> np.ndarray:
    """Residuals of each column of ``Z`` on two sets of fixed effects.

    Exact for any (unbalanced) panel: the factor with more levels is swept out by
    group means, and the other is solved for densely through its
    ``n2 x n2`` normal equations (a graph Laplacian, so a pseudo-inverse handles
    the one redundant level per connected component). When both factors have
    more than a few thousand levels the same equations are solved by
    conjugate gradients to a relative residual of ``tol``.

    Parameters
    ----------
    Z : ndarray, shape (n, p)
    g1, g2 : ndarray of int, shape (n,)
        Codes of the two factors (need not be dense).

    Returns
    -------
    ndarray, shape (n, p)
    """
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    # work on (p, n): every column contiguous for bincount and take
    Zt = np.array(Z.T, order="C")
    g1, n1 = dense_codes(g1)
    g2, n2 = dense_codes(g2)
    return demean_rows(Zt, g1, n1, g2, n2, tol=tol, maxiter=maxiter).T


def demean_rows(Zt: np.ndarray, g1: np.ndarray, n1: int, g2: np.ndarray, n2: int, *, tol: float = 1e-12, maxiter: int = 10_000) -> np.ndarray:
    """:func:`demean_twoway` in place on the rows of ``Zt`` (p, n), C-ordered.

    ``g1`` and ``g2`` are dense codes (``0..n1-1``, ``0..n2-1``, every level
    present), as :func:`dense_codes` gives. Returns ``Zt``.

    With ``m`` the means by the larger factor and ``S`` the sums by the smaller
    factor of the values less ``m``, the smaller factor's effects ``d`` solve
    ``A d = S`` (``A = diag(c2) - C' diag(1/c1) C``, ``C`` the n1 x n2 counts),
    and the residual is ``z - (m - C d / c1)[g1] - d[g2]``: one pass over the
    data for the sums and one to subtract.
    """
    c1 = np.bincount(g1, minlength=n1).astype(float)
    c2 = np.bincount(g2, minlength=n2).astype(float)
    if n1 < n2:
        g1, g2, n1, n2, c1, c2 = g2, g1, n2, n1, c2, c1
    m1 = _group_means(Zt, g1, c1)  # (p, n1)
    S = _group_sums(Zt, g2, n2)  # (p, n2)
    if n2 > _DENSE_LEVELS:
        for j in range(S.shape[0]):
            S[j] -= np.bincount(g2, weights=m1[j].take(g1), minlength=n2)
        delta = _solve_cg(S, g1, n1, g2, n2, c1, c2, tol, maxiter)
        for j in range(S.shape[0]):
            m1[j] -= np.bincount(g1, weights=delta[j].take(g2), minlength=n1) / c1
    else:
        if n1 * n2 <= _DENSE_CELLS:
            C = np.bincount(g1 * n2 + g2, minlength=n1 * n2).reshape(n1, n2).astype(float)
            A = np.diag(c2) - (C.T / c1) @ C
            S -= m1 @ C
        else:
            from scipy import sparse

            C = sparse.csr_matrix((np.ones(g1.size), (g1, g2)), shape=(n1, n2))
            A = np.diag(c2) - np.asarray((C.T @ sparse.diags(1 / c1) @ C).todense())
            S -= np.asarray(C.T @ m1.T).T
        w, V = np.linalg.eigh(A)
        keep = w > max(w.max(), 1.0) * 1e-10
        delta = ((V[:, keep] / w[keep]) @ (V[:, keep].T @ S.T)).T  # (p, n2)
        m1 -= np.asarray(C @ delta.T).T / c1  # the larger factor's effects, (p, n1)
    for j in range(Zt.shape[0]):
        Zt[j] -= m1[j].take(g1)
        Zt[j] -= delta[j].take(g2)
    return Zt


def _solve_cg(S, g1, n1, g2, n2, c1, c2, tol, maxiter):
    """Solve ``A d = S`` row by row by conjugate gradients, never forming ``A``.

    ``A = diag(c2) - C' diag(1/c1) C`` is positive semi-definite with one null
    direction per connected component of the panel; ``S`` is orthogonal to them
    (its sums within a component are zero), so the iteration converges, and the
    part of ``d`` it leaves undetermined cancels in the residuals. Jacobi
    preconditioning; stops when every row's residual norm is below ``tol`` times
    that of its right-hand side.
    """
    p = S.shape[0]
    key, cnt = np.unique(g1.astype(np.int64) * n2 + g2, return_counts=True)
    diag = c2 - np.bincount(key % n2, weights=cnt.astype(float) ** 2 / c1[key // n2], minlength=n2)
    diag[diag <= 0] = 1.0

    def apply(D):
        out = np.empty_like(D)
        for j in range(p):
            unit = np.bincount(g1, weights=D[j].take(g2), minlength=n1) / c1
            out[j] = c2 * D[j] - np.bincount(g2, weights=unit.take(g1), minlength=n2)
        return out

    X = np.zeros_like(S)
    R = S.copy()
    goal = tol * np.linalg.norm(S, axis=1)
    Zr = R / diag
    P = Zr.copy()
    rz = (R * Zr).sum(axis=1)
    for _ in range(maxiter):
        if (np.linalg.norm(R, axis=1) <= goal).all():
            return X
        AP = apply(P)
        pap = (P * AP).sum(axis=1)
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=pap > 0)
        X += alpha[:, None] * P
        R -= alpha[:, None] * AP
        Zr = R / diag
        rz_new = (R * Zr).sum(axis=1)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        P = Zr + beta[:, None] * P
        rz = rz_new
    import warnings

    from ...errors import ConvergenceWarning

    warnings.warn("two-way demeaning stopped before converging", ConvergenceWarning, stacklevel=4)
    return X


@dataclass(frozen=True)
class ClusteredOLS:
    """An OLS fit with its team-clustered sandwich.

    Attributes
    ----------
    params : ndarray, shape (k,)
    vcov : ndarray, shape (k, k)
        CR1: ``G/(G-1) * (n-1)/(n-k)`` times the sandwich.
    resid : ndarray, shape (n,)
    influence : ndarray, shape (G, k)
        Per-cluster ``(X'X)^-1 X_g' e_g``; ``influence.T @ influence`` is the
        unadjusted sandwich.
    n, k, G : int
    """

    params: np.ndarray
    vcov: np.ndarray
    resid: np.ndarray
    influence: np.ndarray
    n: int
    k: int
    G: int

    @property
    def ssc(self) -> float:
        return cr1_factor(self.n, self.k, self.G)


def cr1_factor(n: int, k: int, G: int) -> float:
    """Small-sample factor ``G/(G-1) * (n-1)/(n-k)``."""
    return G / (G - 1) * (n - 1) / (n - k)


def cluster_sums(M: np.ndarray, cluster: np.ndarray, G: int) -> np.ndarray:
    """Column sums of ``M`` (n, k) within each cluster code, shape (G, k)."""
    return _group_sums(np.ascontiguousarray(M.T), cluster, G).T


def clustered_ols(y: np.ndarray, X: np.ndarray, cluster: np.ndarray) -> ClusteredOLS:
    """OLS of ``y`` on ``X`` (already demeaned) with CR1 covariance by ``cluster``.

    ``cluster`` holds non-negative integer codes; the rows of ``influence``
    follow their sorted distinct values.
    """
    cl, G = dense_codes(cluster)
    return clustered_ols_rows(np.asarray(y, dtype=float), np.ascontiguousarray(np.asarray(X, dtype=float).T), cl, G)


def clustered_ols_rows(y: np.ndarray, Xt: np.ndarray, cluster: np.ndarray, G: int) -> ClusteredOLS:
    """:func:`clustered_ols` with the regressors as rows, ``Xt`` (k, n), and dense cluster codes ``0..G-1``."""
    k, n = Xt.shape
    if n <= k:
        raise EstimationError(f"{n} usable observations for {k} regressors")
    XtX = Xt @ Xt.T
    try:
        L = np.linalg.cholesky(XtX)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("regressors are collinear after removing the fixed effects") from exc
    bread = np.linalg.inv(L).T @ np.linalg.inv(L)
    if np.linalg.cond(XtX) > 1e12:
        raise EstimationError("regressors are (nearly) collinear after removing the fixed effects")
    beta = bread @ (Xt @ y)
    e = y - beta @ Xt
    if G < 2:
        raise EstimationError("clustered standard errors need at least two clusters")
    scores = np.empty((G, k))
    for j in range(k):
        scores[:, j] = np.bincount(cluster, weights=Xt[j] * e, minlength=G)
    infl = scores @ bread
    vcov = cr1_factor(n, k, G) * (infl.T @ infl)
    return ClusteredOLS(beta, vcov, e, infl, n, k, G)
