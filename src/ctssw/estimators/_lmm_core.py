"""Profiled (RE)ML deviance of a Gaussian LMM from per-group sufficient statistics.

Notation follows Bates, Mächler, Bolker & Walker (2015), "Fitting Linear
Mixed-Effects Models Using lme4", J. Stat. Soft. 67(1), §3: the random
effects are ``b = Λθ u`` with ``u ~ N(0, σ² I)``; ``Λθ`` is block diagonal
with one lower-triangular ``q × q`` block ``T`` per group.  β and σ² are
profiled out, so the deviance is a function of θ alone, and with the data
reduced to per-group cross-products each evaluation costs O(groups · q³).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg

_LOG2PI = math.log(2.0 * math.pi)


# -- structure ---------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """Lower-triangular template of one grouping factor's relative factor ``T``.

    ``pattern[i, j]`` is the index into θ of ``T[i, j]``, or -1 where ``T`` is
    structurally zero (above the diagonal, or between uncorrelated terms).
    ``offset`` is where this block's θ entries start in the full θ vector.
    """

    pattern: np.ndarray
    offset: int

    @property
    def q(self) -> int:
        return self.pattern.shape[0]

    @property
    def n_theta(self) -> int:
        return int((self.pattern >= 0).sum())

    def T(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros((self.q, self.q))
        mask = self.pattern >= 0
        out[mask] = theta[self.pattern[mask]]
        return out

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of each θ entry of this block, in θ order."""
        rows, cols = np.nonzero(self.pattern >= 0)
        order = np.argsort(self.pattern[rows, cols])
        return rows[order], cols[order]

    def columns(self) -> list[tuple[int, np.ndarray]]:
        """For each diagonal θ index, the θ indices below it in the same column."""
        out = []
        for j in range(self.q):
            below = self.pattern[j + 1 :, j]
            out.append((int(self.pattern[j, j]), below[below >= 0]))
        return out

    def lower_bounds(self) -> np.ndarray:
        rows, cols = self.positions()
        return np.where(rows == cols, 0.0, -np.inf)

    def start(self) -> np.ndarray:
        rows, cols = self.positions()
        return np.where(rows == cols, 1.0, 0.0)


def block_pattern(sizes: list[int], correlated: list[bool], offset: int) -> Block:
    """Template for terms of sizes ``sizes`` sharing one factor; θ in lme4 order.

    A correlated term gets a full lower triangle (column-major, as lme4);
    an uncorrelated one only its diagonal.
    """
    q = sum(sizes)
    pattern = -np.ones((q, q), dtype=np.int64)
    k = offset
    start = 0
    for size, corr in zip(sizes, correlated):
        for j in range(size):
            for i in range(j, size):
                if i == j or corr:
                    pattern[start + i, start + j] = k
                    k += 1
        start += size
    return Block(pattern=pattern, offset=offset)


# -- batched small dense linear algebra (loops over q, vectorised over groups) --
def chol_batch(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack ``(G, q, q)`` of SPD matrices."""
    G, q, _ = A.shape
    L = np.zeros_like(A)
    for j in range(q):
        s = A[:, j, j] - np.einsum("gk,gk->g", L[:, j, :j], L[:, j, :j])
        d = np.sqrt(s)
        L[:, j, j] = d
        for i in range(j + 1, q):
            L[:, i, j] = (A[:, i, j] - np.einsum("gk,gk->g", L[:, i, :j], L[:, j, :j])) / d
    return L


def fsolve_batch(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L X = B`` for lower-triangular ``L (G,q,q)``, ``B (G,q,k)``."""
    q = L.shape[1]
    X = np.empty_like(B)
    for i in range(q):
        acc = B[:, i, :]
        if i:
            acc = acc - np.einsum("gj,gjk->gk", L[:, i, :i], X[:, :i, :])
        X[:, i, :] = acc / L[:, i, i, None]
    return X


def bsolve_batch(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L' X = B`` for lower-triangular ``L (G,q,q)``, ``B (G,q,k)``."""
    q = L.shape[1]
    X = np.empty_like(B)
    for i in range(q - 1, -1, -1):
        acc = B[:, i, :]
        if i < q - 1:
            acc = acc - np.einsum("gj,gjk->gk", L[:, i + 1 :, i], X[:, i + 1 :, :])
        X[:, i, :] = acc / L[:, i, i, None]
    return X


def _sandwich(T: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``T' S T`` for a stack S (G, q, q)."""
    return np.einsum("ai,gab,bj->gij", T, S, T, optimize=True)


# -- statistics ----------------------------------------------------------------
@dataclass(frozen=True)
class GroupStats:
    """Per-group cross-products for one grouping factor.

    Shapes: ``zz (G, q, q)``, ``zx (G, q, p)``, ``zy (G, q)``, ``xx (p, p)``,
    ``xy (p,)``; ``yy`` and ``n`` are scalars.
    """

    zz: np.ndarray
    zx: np.ndarray
    zy: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: float
    n: int


@dataclass(frozen=True)
class NestedStats:
    """Cross-products for an outer factor (1) and an inner factor (2) nested in it.

    Inner cells ``(J, ...)``: ``z2z2``, ``z2z1 (J, q2, q1)``, ``z2x``, ``z2y``;
    outer groups ``(A, ...)``: ``z1z1``, ``z1x``, ``z1y``; ``starts`` holds the
    first inner cell of each outer group (cells are sorted by outer group).
    """

    z2z2: np.ndarray
    z2z1: np.ndarray
    z2x: np.ndarray
    z2y: np.ndarray
    z1z1: np.ndarray
    z1x: np.ndarray
    z1y: np.ndarray
    starts: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: float
    n: int


# -- evaluations -----------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """Everything the deviance at one θ yields.

    ``beta (p,)``, ``vcov_unscaled (p, p)`` = (X'V⁻¹X)⁻¹ with V relative to σ²,
    ``u`` the spherical conditional modes per factor (list of ``(G_k, q_k)``),
    ``pwrss`` the penalised residual sum of squares, ``ldL2``/``ldRX2`` the
    log-determinants in the deviance, ``grad`` (or None).
    """

    deviance: float
    beta: np.ndarray
    pwrss: float
    ldL2: float
    ldRX2: float
    RX: np.ndarray
    u: list[np.ndarray]
    grad: np.ndarray | None


def _finish(dev_parts, xx, xy, yy, n, p, reml, sum_cx, sum_cy, cy_sq):
    """Shared tail: fixed-effects Cholesky, β, r² and the deviance."""
    M = xx - sum_cx
    M = 0.5 * (M + M.T)
    try:
        RX = linalg.cholesky(M, lower=True)
    except linalg.LinAlgError:
        return None
    rhs = xy - sum_cy
    cb = linalg.solve_triangular(RX, rhs, lower=True)
    beta = linalg.solve_triangular(RX.T, cb, lower=False)
    r2 = yy - cy_sq - float(cb @ cb)
    ldRX2 = 2.0 * float(np.log(np.diag(RX)).sum())
    n_eff = n - p if reml else n
    if r2 <= 0:
        return None
    dev = dev_parts + n_eff * (1.0 + _LOG2PI + math.log(r2 / n_eff))
    if reml:
        dev += ldRX2
    return dev, beta, r2, ldRX2, RX, M


def evaluate_single(theta: np.ndarray, st: GroupStats, block: Block, reml: bool, grad: bool) -> Evaluation | None:
    """Profiled deviance (and its gradient in θ) for one grouping factor."""
    T = block.T(theta)
    G, q, p = st.zx.shape
    A = _sandwich(T, st.zz)
    A[:, np.arange(q), np.arange(q)] += 1.0
    L = chol_batch(A)
    CX = fsolve_batch(L, np.einsum("ai,gap->gip", T, st.zx, optimize=True))
    cu = fsolve_batch(L, np.einsum("ai,ga->gi", T, st.zy)[:, :, None])[:, :, 0]
    flat = CX.reshape(-1, p)
    ldL2 = 2.0 * float(np.log(L[:, np.arange(q), np.arange(q)]).sum())
    tail = _finish(ldL2, st.xx, st.xy, st.yy, st.n, p, reml, flat.T @ flat, flat.T @ cu.reshape(-1), float((cu * cu).sum()))
    if tail is None:
        return None
    dev, beta, r2, ldRX2, RX, M = tail
    u = bsolve_batch(L, (cu - CX @ beta)[:, :, None])[:, :, 0]
    g = None
    if grad:
        n_eff = st.n - p if reml else st.n
        b = u @ T.T
        zr = st.zy - st.zx @ beta - np.einsum("gab,gb->ga", st.zz, b)
        Linv = fsolve_batch(L, np.broadcast_to(np.eye(q), (G, q, q)).copy())
        Ainv = np.einsum("gki,gkj->gij", Linv, Linv)
        ST = np.einsum("gab,bj->gaj", st.zz, T)
        D = 2.0 * np.einsum("gaj,gjk->ak", ST, Ainv)
        D -= (2.0 * n_eff / r2) * (zr.T @ u)
        if reml:
            Minv = linalg.cho_solve((RX, True), np.eye(p))
            H = np.einsum("gap,pr,gbr->gab", st.zx, Minv, st.zx, optimize=True)
            Q = np.einsum("gij,kj->gik", Ainv, T)
            QH = Q @ H
            D -= 2.0 * (QH.sum(axis=0).T - np.einsum("gaj,gjk,glk->al", ST, QH, Q, optimize=True))
        rows, cols = block.positions()
        g = D[rows, cols]
    return Evaluation(dev, beta, r2, ldL2, ldRX2, RX, [u], g)


def evaluate_nested(theta: np.ndarray, st: NestedStats, outer: Block, inner: Block, reml: bool) -> Evaluation | None:
    """Profiled deviance for an inner factor nested in an outer one (no gradient)."""
    T1, T2 = outer.T(theta), inner.T(theta)
    J, q2, p = st.z2x.shape
    q1 = st.z1z1.shape[1]
    A2 = _sandwich(T2, st.z2z2)
    A2[:, np.arange(q2), np.arange(q2)] += 1.0
    L2 = chol_batch(A2)
    C21 = fsolve_batch(L2, np.einsum("ai,gab,bj->gij", T2, st.z2z1, T1, optimize=True))
    C2x = fsolve_batch(L2, np.einsum("ai,gap->gip", T2, st.z2x, optimize=True))
    c2y = fsolve_batch(L2, np.einsum("ai,ga->gi", T2, st.z2y)[:, :, None])[:, :, 0]
    red = np.add.reduceat
    A1 = _sandwich(T1, st.z1z1) - red(np.einsum("gki,gkj->gij", C21, C21), st.starts, axis=0)
    A1[:, np.arange(q1), np.arange(q1)] += 1.0
    L1 = chol_batch(A1)
    B1x = np.einsum("ai,gap->gip", T1, st.z1x, optimize=True) - red(np.einsum("gki,gkp->gip", C21, C2x), st.starts, axis=0)
    B1y = np.einsum("ai,ga->gi", T1, st.z1y) - red(np.einsum("gki,gk->gi", C21, c2y), st.starts, axis=0)
    C1x = fsolve_batch(L1, B1x)
    c1y = fsolve_batch(L1, B1y[:, :, None])[:, :, 0]
    f2, f1 = C2x.reshape(-1, p), C1x.reshape(-1, p)
    ldL2 = 2.0 * float(np.log(L2[:, np.arange(q2), np.arange(q2)]).sum() + np.log(L1[:, np.arange(q1), np.arange(q1)]).sum())
    tail = _finish(
        ldL2, st.xx, st.xy, st.yy, st.n, p, reml,
        f2.T @ f2 + f1.T @ f1,
        f2.T @ c2y.reshape(-1) + f1.T @ c1y.reshape(-1),
        float((c2y * c2y).sum() + (c1y * c1y).sum()),
    )
    if tail is None:
        return None
    dev, beta, r2, ldRX2, RX, _ = tail
    u1 = bsolve_batch(L1, (c1y - C1x @ beta)[:, :, None])[:, :, 0]
    counts = np.diff(np.append(st.starts, J))
    u1_cells = np.repeat(u1, counts, axis=0)
    u2 = bsolve_batch(L2, (c2y - C2x @ beta - np.einsum("gij,gj->gi", C21, u1_cells))[:, :, None])[:, :, 0]
    return Evaluation(dev, beta, r2, ldL2, ldRX2, RX, [u1, u2], None)


# -- optimisation ------------------------------------------------------------------
@dataclass(frozen=True)
class Optimum:
    """The θ that minimises the profiled deviance, with the optimiser's report."""

    theta: np.ndarray
    evaluation: Evaluation
    converged: bool
    n_iter: int
    n_eval: int
    message: str


def _fd_grad(f, theta: np.ndarray, lower: np.ndarray, f0: float) -> np.ndarray:
    """Central differences, one-sided at a lower bound."""
    g = np.empty_like(theta)
    for k in range(theta.size):
        h = 1e-6 * max(1.0, abs(theta[k]))
        up = theta.copy()
        up[k] += h
        if theta[k] - h < lower[k]:
            g[k] = (f(up) - f0) / h
        else:
            dn = theta.copy()
            dn[k] -= h
            g[k] = (f(up) - f(dn)) / (2 * h)
    return g


def minimise(
    evaluate,
    theta0: np.ndarray,
    lower: np.ndarray,
    analytic: bool,
    columns: list[tuple[int, np.ndarray]] = (),
    max_iter: int = 2000,
) -> Optimum:
    """Minimise ``evaluate(θ, grad) -> Evaluation`` over θ with L-BFGS-B.

    ``evaluate`` must return an ``Evaluation`` (with ``grad`` filled when asked
    and ``analytic`` is True).  ``columns`` lists, for each diagonal θ, the θ
    indices below it in the same column of ``T``: when a diagonal ends at zero
    the sign of that column is free (it leaves ``ΛΛ'`` unchanged), and the
    optimiser is restarted from the reflected point if that opens a descent
    direction the bound had blocked.
    """
    from scipy.optimize import minimize

    n_eval = 0

    def dev(theta: np.ndarray) -> float:
        nonlocal n_eval
        n_eval += 1
        return evaluate(theta, False).deviance

    def fun(theta: np.ndarray):
        nonlocal n_eval
        n_eval += 1
        if analytic:
            ev = evaluate(theta, True)
            return ev.deviance, ev.grad
        f0 = evaluate(theta, False).deviance
        return f0, _fd_grad(dev, theta, lower, f0)

    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]

    def run(start: np.ndarray):
        return minimize(
            fun,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
        )

    res = run(theta0)
    nit = int(res.nit)
    for _ in range(3):
        start = _reflect(res.x, lower, columns, fun)
        if start is None:
            break
        again = run(start)
        nit += int(again.nit)
        if again.fun >= res.fun:
            break
        res = again
    theta = np.maximum(res.x, lower)
    final = evaluate(theta, analytic)
    message = res.message if isinstance(res.message, str) else str(res.message)
    converged = bool(res.success) or _stationary(final, theta, lower, evaluate, analytic)
    return Optimum(theta, final, converged, nit, n_eval + 1, message)


def _reflect(theta: np.ndarray, lower: np.ndarray, columns, fun) -> np.ndarray | None:
    """θ with the columns below zero diagonals negated, if that makes the bound loose."""
    out = theta.copy()
    flipped = False
    for diag, below in columns:
        if theta[diag] <= lower[diag] and below.size and np.any(theta[below] != 0):
            out[below] = -theta[below]
            flipped = True
    if not flipped:
        return None
    _, g = fun(out)
    return out if any(g[d] < 0 for d, _ in columns if out[d] <= lower[d]) else None


def _stationary(ev: Evaluation, theta: np.ndarray, lower: np.ndarray, evaluate, analytic: bool) -> bool:
    """Line-search stops near the optimum are fine if the projected gradient is tiny."""
    if analytic and ev.grad is not None:
        g = ev.grad
    else:
        g = _fd_grad(lambda t: evaluate(t, False).deviance, theta, lower, ev.deviance)
    g = np.where((theta <= lower) & (g > 0), 0.0, g)
    return bool(np.max(np.abs(g)) < 1e-3)
