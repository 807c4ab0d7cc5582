"""Profiled (RE)ML deviance for any number of grouping factors, crossed or nested.

The general case of Bates et al. (2015) §3: with ``Z`` the sparse n × q
random-effects design (each factor's columns, level-major), ``Λθ`` block
diagonal with one copy of the factor's relative factor ``T`` per level, the
penalised system is ``A = Λ'Z'ZΛ + I``. The factor with the most random
effects is ordered first; its block of ``A`` is block diagonal, so its
Cholesky factor is a batch of small ones, and the rest of ``A`` is factored
densely through the Schur complement (the blocked Cholesky of MixedModels.jl).
When the rest is too large to hold densely, the whole ``A`` goes to a sparse
factorisation (SuperLU in symmetric mode with no pivoting off the diagonal,
which for a symmetric positive-definite ``A`` is the Cholesky factorisation up
to a diagonal scaling). ``Z'Z``, ``Z'X`` and ``Z'y`` are formed once, so an
evaluation never touches the rows again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import splu

from ._core import (
    Evaluation,
    _add_eye,
    _finish,
    _logdiag2,
    chol_batch,
    fsolve_batch,
    lc,
    rc,
)

#: above this many random effects outside the largest factor, the whole system goes to SuperLU
MAX_DENSE = 6000
#: the coupling block is multiplied densely when more than this share of its entries are nonzero
DENSE_SHARE = 0.05


@dataclass(frozen=True)
class SparseStats:
    """Cross-products of the whole random-effects design.

    The factor with the most random effects comes first ("1", block diagonal:
    ``G1`` blocks of ``q1 × q1``); the rest ("2", ``m`` effects) is handled
    densely through its Schur complement when ``m <= MAX_DENSE``. ``z1z1
    (q1, q1, G1)``; ``z2z1`` ``(m, G1·q1)``, sparse, or dense when most pairs of
    levels occur together (teams × weeks); ``z2z2`` sparse ``(m, m)``;
    ``ztx (q, p)``, ``zty (q,)`` and ``ztz`` (sparse, the whole ``Z'Z``) in
    that order; ``lam_rows``/``lam_cols``/``lam_idx`` give each structural
    nonzero of ``Λθ`` and the θ entry it takes; ``sizes`` holds
    ``(levels, q_k)`` per factor in that order and ``order`` the design's
    factor index of each.
    """

    ztz: sparse.csc_matrix
    z1z1: np.ndarray
    z2z1: sparse.csr_matrix | np.ndarray
    z2z2: sparse.csr_matrix
    ztx: np.ndarray
    zty: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: float
    n: int
    lam_rows: np.ndarray
    lam_cols: np.ndarray
    lam_idx: np.ndarray
    pattern1: np.ndarray
    sizes: tuple[tuple[int, int], ...]
    order: tuple[int, ...]

    @property
    def n1(self) -> int:
        return self.sizes[0][0] * self.sizes[0][1]


def build_sparse(
    X: np.ndarray,
    y: np.ndarray,
    factors: list[tuple[np.ndarray, int, list[np.ndarray], np.ndarray]],
) -> SparseStats:
    """Cross-products from the fixed design and, per factor, ``(codes, levels, Z columns, pattern)``.

    ``pattern`` is the factor's lower-triangular θ-index template (-1 where
    ``T`` is structurally zero).
    """
    n = y.size
    order = sorted(range(len(factors)), key=lambda k: -factors[k][1] * len(factors[k][2]))
    rows, cols, vals = [], [], []
    lr, lc, li = [], [], []
    sizes = []
    offset = 0
    for k in order:
        codes, levels, zcols, pattern = factors[k]
        qk = len(zcols)
        for j, z in enumerate(zcols):
            rows.append(np.arange(n))
            cols.append(offset + codes * qk + j)
            vals.append(z)
        r, c = np.nonzero(pattern >= 0)
        base = offset + np.arange(levels)[:, None] * qk
        lr.append((base + r[None, :]).ravel())
        lc.append((base + c[None, :]).ravel())
        li.append(np.tile(pattern[r, c], levels))
        sizes.append((levels, qk))
        offset += levels * qk
    Z = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, offset)
    )
    ztz = (Z.T @ Z).tocsc()
    g1, q1 = sizes[0]
    n1 = g1 * q1
    I, J = _pairs(q1)
    base = np.arange(g1) * q1
    z1z1 = np.asarray(ztz[(base[None, :] + I[:, None]).ravel(), (base[None, :] + J[:, None]).ravel()])
    z1z1 = z1z1.reshape(q1, q1, g1)
    rest = ztz[n1:, :].tocsr()
    z2z1 = rest[:, :n1].tocsr()
    if z2z1.nnz > DENSE_SHARE * z2z1.shape[0] * z2z1.shape[1] and z2z1.shape[0] * z2z1.shape[1] <= 2e7:
        z2z1 = z2z1.toarray()
    return SparseStats(
        ztz=ztz,
        z1z1=z1z1,
        z2z1=z2z1,
        z2z2=rest[:, n1:].tocsr(),
        ztx=np.asarray(Z.T @ X),
        zty=np.asarray(Z.T @ y).ravel(),
        xx=X.T @ X,
        xy=X.T @ y,
        yy=float(y @ y),
        n=n,
        lam_rows=np.concatenate(lr),
        lam_cols=np.concatenate(lc),
        lam_idx=np.concatenate(li),
        pattern1=factors[order[0]][3],
        sizes=tuple(sizes),
        order=tuple(order),
    )


def _pairs(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every entry of a q × q block, row-major."""
    return np.repeat(np.arange(q), q), np.tile(np.arange(q), q)


def _block_diag(blocks: np.ndarray) -> sparse.csr_matrix:
    """Sparse block-diagonal matrix from ``(q, q, G)`` blocks."""
    q, _, g = blocks.shape
    I, J = _pairs(q)
    base = np.arange(g) * q
    rows = (base[None, :] + I[:, None]).ravel()
    cols = (base[None, :] + J[:, None]).ravel()
    return sparse.csr_matrix((blocks.reshape(q * q, g).ravel(), (rows, cols)), shape=(g * q, g * q))


def _modes(u: np.ndarray, st: SparseStats) -> list[np.ndarray]:
    """Spherical modes per factor, in the design's factor order."""
    out: list[np.ndarray | None] = [None] * len(st.sizes)
    k = 0
    for (levels, qk), idx in zip(st.sizes, st.order):
        out[idx] = u[k : k + levels * qk].reshape(levels, qk)
        k += levels * qk
    return out


def evaluate_sparse(theta: np.ndarray, st: SparseStats, reml: bool) -> Evaluation | None:
    """Profiled deviance at θ (no gradient); None where it cannot be evaluated."""
    q = st.ztz.shape[0]
    if q - st.n1 > MAX_DENSE:
        return _evaluate_lu(theta, st, reml)
    p = st.ztx.shape[1]
    n1 = st.n1
    first = st.lam_rows < n1
    vals = theta[st.lam_idx]
    lam1 = sparse.csr_matrix((vals[first], (st.lam_rows[first], st.lam_cols[first])), shape=(n1, n1))
    rest = ~first
    lam2 = sparse.csr_matrix(
        (vals[rest], (st.lam_rows[rest] - n1, st.lam_cols[rest] - n1)), shape=(q - n1, q - n1)
    )
    T1 = np.where(st.pattern1 >= 0, theta[np.maximum(st.pattern1, 0)], 0.0)
    L11 = chol_batch(_add_eye(lc(T1.T, rc(st.z1z1, T1))))
    if not np.all(np.isfinite(L11)) or np.any(np.concatenate([L11[i, i] for i in range(T1.shape[0])]) <= 0):
        return None
    Linv1 = _block_diag(fsolve_batch(L11, _add_eye(np.zeros_like(L11))))
    L21 = (lam2.T @ st.z2z1 @ lam1) @ Linv1.T
    if not sparse.issparse(L21):
        # e.g. teams crossed with weeks: nearly every pair occurs, dense products are far faster
        L21 = np.asarray(L21)
        LL = L21 @ L21.T
    else:
        LL = (L21 @ L21.T).toarray()
    S = (lam2.T @ st.z2z2 @ lam2).toarray() - LL
    S[np.diag_indices_from(S)] += 1.0
    if not np.all(np.isfinite(S)):
        return None
    try:
        L22 = linalg.cholesky(S, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    ldL2 = _logdiag2(L11) + 2.0 * float(np.log(np.diag(L22)).sum())
    B = np.column_stack([st.ztx, st.zty])
    B1 = lam1.T @ B[:n1]
    B2 = lam2.T @ B[n1:]
    c1 = Linv1 @ B1
    c2 = linalg.solve_triangular(L22, B2 - L21 @ c1, lower=True, check_finite=False)
    C = np.vstack([c1, c2])
    G = C.T @ C
    tail = _finish(ldL2, st.xx, st.xy, st.yy, st.n, p, reml, G[:p, :p], G[:p, p], float(G[p, p]))
    if tail is None:
        return None
    dev, beta, r2, ldRX2, RX = tail
    r = C[:, p] - C[:, :p] @ beta
    u2 = linalg.solve_triangular(L22.T, r[n1:], lower=False, check_finite=False)
    u1 = Linv1.T @ (r[:n1] - L21.T @ u2)
    return Evaluation(dev, beta, r2, ldL2, ldRX2, RX, _modes(np.concatenate([u1, u2]), st), None)


def _evaluate_lu(theta: np.ndarray, st: SparseStats, reml: bool) -> Evaluation | None:
    """The whole system through SuperLU, for designs too large for the dense Schur complement."""
    q = st.ztz.shape[0]
    p = st.ztx.shape[1]
    lam = sparse.csc_matrix((theta[st.lam_idx], (st.lam_rows, st.lam_cols)), shape=(q, q))
    A = (lam.T @ st.ztz @ lam + sparse.identity(q, format="csc")).tocsc()
    try:
        lu = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    except RuntimeError:
        return None
    d = lu.U.diagonal()
    if np.any(d <= 0) or not np.all(np.isfinite(d)):
        return None
    ldL2 = float(np.log(d).sum())
    B = np.column_stack([lam.T @ st.ztx, lam.T @ st.zty]) if p else (lam.T @ st.zty)[:, None]
    W = lu.solve(B)
    Bx, by = B[:, :p], B[:, p]
    Wx, wy = W[:, :p], W[:, p]
    tail = _finish(ldL2, st.xx, st.xy, st.yy, st.n, p, reml, Bx.T @ Wx, Bx.T @ wy, float(by @ wy))
    if tail is None:
        return None
    dev, beta, r2, ldRX2, RX = tail
    return Evaluation(dev, beta, r2, ldL2, ldRX2, RX, _modes(wy - Wx @ beta, st), None)
