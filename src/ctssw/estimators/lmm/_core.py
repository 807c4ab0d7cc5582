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


# -- batched small dense linear algebra ------------------------------------------
# A stack of G small matrices is stored group-axis-last, shape (m, n, G), so each
# entry is one contiguous vector and every operation below is a handful of
# vector operations (loops run over the tiny matrix dimensions only). BLAS is
# avoided on purpose: threaded gemm on such thin shapes is slower than one core.
def chol_batch(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of SPD matrices ``A (q, q, G)``."""
    q = A.shape[0]
    L = np.zeros_like(A)
    for j in range(q):
        s = A[j, j] - (L[j, :j] ** 2).sum(axis=0)
        d = np.sqrt(s)
        L[j, j] = d
        for i in range(j + 1, q):
            L[i, j] = (A[i, j] - (L[i, :j] * L[j, :j]).sum(axis=0)) / d
    return L


def fsolve_batch(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L X = B`` for lower-triangular ``L (q, q, G)`` and ``B (q, k, G)``."""
    X = np.empty_like(B)
    for i in range(L.shape[0]):
        acc = B[i].copy()
        for j in range(i):
            acc -= L[i, j] * X[j]
        X[i] = acc / L[i, i]
    return X


def bsolve_batch(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L' X = B`` for lower-triangular ``L (q, q, G)`` and ``B (q, k, G)``."""
    q = L.shape[0]
    X = np.empty_like(B)
    for i in range(q - 1, -1, -1):
        acc = B[i].copy()
        for j in range(i + 1, q):
            acc -= L[j, i] * X[j]
        X[i] = acc / L[i, i]
    return X


def mm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Per-group product ``A B`` of ``(m, k, G)`` and ``(k, n, G)``."""
    out = A[:, 0, None, :] * B[None, 0, :, :]
    for k in range(1, A.shape[1]):
        out += A[:, k, None, :] * B[None, k, :, :]
    return out


def tmm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Per-group product ``A' B`` of ``(k, m, G)`` and ``(k, n, G)``."""
    return mm(A.transpose(1, 0, 2), B)


def lc(C: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Constant ``C (m, k)`` times each ``B (k, n, G)``."""
    out = C[:, 0, None, None] * B[None, 0]
    for k in range(1, B.shape[0]):
        out += C[:, k, None, None] * B[None, k]
    return out


def mv(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Each ``A (m, k, G)`` times a constant vector ``v (k,)``, as ``(m, 1, G)``."""
    out = A[:, 0, :] * v[0]
    for k in range(1, A.shape[1]):
        out += A[:, k, :] * v[k]
    return out[:, None, :]


def rc(B: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Each ``B (m, k, G)`` times a constant ``C (k, n)``."""
    out = B[:, 0, None, :] * C[0, None, :, None]
    for k in range(1, B.shape[1]):
        out += B[:, k, None, :] * C[k, None, :, None]
    return out


def gsum(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``Σ_g A_g' B_g`` for ``A (k, m, G)`` and ``B (k, n, G)``."""
    return tmm(A, B).sum(axis=-1)


def _add_eye(A: np.ndarray) -> np.ndarray:
    for i in range(A.shape[0]):
        A[i, i] += 1.0
    return A


# -- statistics ----------------------------------------------------------------
@dataclass(frozen=True)
class GroupStats:
    """Per-group cross-products for one grouping factor, group axis last.

    Shapes: ``zz (q, q, G)``, ``zx (q, p, G)``, ``zy (q, 1, G)``, ``xx (p, p)``,
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

    Inner cells ``(..., J)``: ``z2z2``, ``z2z1 (q2, q1, J)``, ``z2x``, ``z2y``;
    outer groups ``(..., A)``: ``z1z1``, ``z1x``, ``z1y``; ``starts`` holds the
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

    ``beta (p,)``; ``RX (p, p)`` with ``RX RX' = X'V⁻¹X`` (V relative to σ²);
    ``u`` the spherical conditional modes per factor (list of ``(G_k, q_k)``);
    ``pwrss`` the penalised residual sum of squares; ``ldL2``/``ldRX2`` the
    log-determinants in the deviance; ``grad`` (or None).
    """

    deviance: float
    beta: np.ndarray
    pwrss: float
    ldL2: float
    ldRX2: float
    RX: np.ndarray
    u: list[np.ndarray]
    grad: np.ndarray | None


def _finish(ldL2, xx, xy, yy, n, p, reml, sum_cx, sum_cy, cy_sq):
    """Shared tail: fixed-effects Cholesky, β, r² and the deviance."""
    M = xx - sum_cx
    M = 0.5 * (M + M.T)
    try:
        RX = linalg.cholesky(M, lower=True)
    except linalg.LinAlgError:
        return None
    cb = linalg.solve_triangular(RX, xy - sum_cy, lower=True)
    beta = linalg.solve_triangular(RX.T, cb, lower=False)
    r2 = yy - cy_sq - float(cb @ cb)
    ldRX2 = 2.0 * float(np.log(np.diag(RX)).sum())
    n_eff = n - p if reml else n
    if r2 <= 0:
        return None
    dev = ldL2 + n_eff * (1.0 + _LOG2PI + math.log(r2 / n_eff))
    if reml:
        dev += ldRX2
    return dev, beta, r2, ldRX2, RX


def _logdiag2(L: np.ndarray) -> float:
    return 2.0 * float(sum(np.log(L[i, i]).sum() for i in range(L.shape[0])))


def evaluate_single(theta: np.ndarray, st: GroupStats, block: Block, reml: bool, grad: bool) -> Evaluation | None:
    """Profiled deviance (and its gradient in θ) for one grouping factor."""
    T = block.T(theta)
    p = st.zx.shape[1]
    L = chol_batch(_add_eye(lc(T.T, rc(st.zz, T))))
    CX = fsolve_batch(L, lc(T.T, st.zx))
    cu = fsolve_batch(L, lc(T.T, st.zy))
    ldL2 = _logdiag2(L)
    tail = _finish(ldL2, st.xx, st.xy, st.yy, st.n, p, reml, gsum(CX, CX), gsum(CX, cu)[:, 0], float(np.vdot(cu, cu)))
    if tail is None:
        return None
    dev, beta, r2, ldRX2, RX = tail
    u = bsolve_batch(L, cu - mv(CX, beta))[:, 0, :]
    g = _gradient(T, st, block, reml, L, u, beta, r2, RX) if grad else None
    return Evaluation(dev, beta, r2, ldL2, ldRX2, RX, [u.T], g)


def _gradient(T, st: GroupStats, block: Block, reml: bool, L, u, beta, r2, RX) -> np.ndarray:
    """d deviance / d θ.

    With ``A_g = T'S_gT + I``: d log|A|/dT = 2 Σ S_g T A_g⁻¹; by the envelope
    theorem d r²/dT = -2 Σ (Z_g'r_g) u_g'; and for REML, with
    ``H_g = S_zx,g M⁻¹ S_xz,g`` and ``Q_g = A_g⁻¹T'``,
    d log|X'V⁻¹X|/dT = -2 Σ [(Q_g H_g)' - S_g T Q_g H_g Q_g'].
    """
    q, p, G = st.zx.shape
    n_eff = st.n - p if reml else st.n
    Linv = fsolve_batch(L, _add_eye(np.zeros((q, q, G))))
    Ainv = tmm(Linv, Linv)
    ST = rc(st.zz, T)
    D = 2.0 * gsum(ST.transpose(1, 0, 2), Ainv)
    zr = (st.zy - mv(st.zx, beta) - mm(ST, u[:, None, :]))[:, 0, :]
    D -= (2.0 * n_eff / r2) * (zr[:, None, :] * u[None, :, :]).sum(axis=-1)
    if reml:
        Minv = linalg.cho_solve((RX, True), np.eye(p))
        H = mm(rc(st.zx, Minv), st.zx.transpose(1, 0, 2))
        Q = rc(Ainv, T.T)
        QH = mm(Q, H)
        D -= 2.0 * (QH.sum(axis=-1).T - gsum(ST.transpose(1, 0, 2), mm(QH, Q.transpose(1, 0, 2))))
    rows, cols = block.positions()
    return D[rows, cols]


def evaluate_nested(theta: np.ndarray, st: NestedStats, outer: Block, inner: Block, reml: bool) -> Evaluation | None:
    """Profiled deviance for an inner factor nested in an outer one (no gradient)."""
    T1, T2 = outer.T(theta), inner.T(theta)
    p = st.z2x.shape[1]
    red = np.add.reduceat
    L2 = chol_batch(_add_eye(lc(T2.T, rc(st.z2z2, T2))))
    C21 = fsolve_batch(L2, lc(T2.T, rc(st.z2z1, T1)))
    C2x = fsolve_batch(L2, lc(T2.T, st.z2x))
    c2y = fsolve_batch(L2, lc(T2.T, st.z2y))
    A1 = _add_eye(lc(T1.T, rc(st.z1z1, T1)) - red(tmm(C21, C21), st.starts, axis=-1))
    L1 = chol_batch(A1)
    C1x = fsolve_batch(L1, lc(T1.T, st.z1x) - red(tmm(C21, C2x), st.starts, axis=-1))
    c1y = fsolve_batch(L1, lc(T1.T, st.z1y) - red(tmm(C21, c2y), st.starts, axis=-1))
    ldL2 = _logdiag2(L2) + _logdiag2(L1)
    tail = _finish(
        ldL2, st.xx, st.xy, st.yy, st.n, p, reml,
        gsum(C2x, C2x) + gsum(C1x, C1x),
        gsum(C2x, c2y)[:, 0] + gsum(C1x, c1y)[:, 0],
        float(np.vdot(c2y, c2y) + np.vdot(c1y, c1y)),
    )
    if tail is None:
        return None
    dev, beta, r2, ldRX2, RX = tail
    u1 = bsolve_batch(L1, c1y - mv(C1x, beta))
    counts = np.diff(np.append(st.starts, st.z2x.shape[2]))
    rhs2 = c2y - mv(C2x, beta) - mm(C21, np.repeat(u1, counts, axis=-1))
    u2 = bsolve_batch(L2, rhs2)
    return Evaluation(dev, beta, r2, ldL2, ldRX2, RX, [u1[:, 0, :].T, u2[:, 0, :].T], None)
