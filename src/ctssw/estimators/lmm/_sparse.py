"""Profiled (RE)ML deviance for any number of grouping factors, crossed or nested.

The general case of Bates et al. (2015) §3: with ``Z`` the sparse n × q
random-effects design (each factor's columns, level-major), ``Λθ`` block
diagonal with one copy of the factor's relative factor ``T`` per level, the
penalised system is ``A = Λ'Z'ZΛ + I``. Its sparse factorisation (SuperLU in
symmetric mode with no pivoting off the diagonal, which for a symmetric
positive-definite ``A`` is the Cholesky factorisation up to a diagonal
scaling) gives ``log|A|`` and the solves; ``Z'Z``, ``Z'X`` and ``Z'y`` are
formed once, so an evaluation never touches the rows again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from ._core import Evaluation, _finish


@dataclass(frozen=True)
class SparseStats:
    """Cross-products of the whole random-effects design.

    ``ztz`` is ``Z'Z`` (sparse, q × q); ``ztx (q, p)``; ``zty (q,)``;
    ``lam_rows``/``lam_cols``/``lam_idx`` give each structural nonzero of
    ``Λθ`` and the θ entry it takes; ``sizes`` holds ``(levels, q_k)`` per
    factor in the order of ``u``.
    """

    ztz: sparse.csc_matrix
    ztx: np.ndarray
    zty: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: float
    n: int
    lam_rows: np.ndarray
    lam_cols: np.ndarray
    lam_idx: np.ndarray
    sizes: tuple[tuple[int, int], ...]


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
    rows, cols, vals = [], [], []
    lr, lc, li = [], [], []
    sizes = []
    offset = 0
    for codes, levels, zcols, pattern in factors:
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
    Z.eliminate_zeros()
    ztz = (Z.T @ Z).tocsc()
    return SparseStats(
        ztz=ztz,
        ztx=np.asarray(Z.T @ X),
        zty=np.asarray(Z.T @ y).ravel(),
        xx=X.T @ X,
        xy=X.T @ y,
        yy=float(y @ y),
        n=n,
        lam_rows=np.concatenate(lr),
        lam_cols=np.concatenate(lc),
        lam_idx=np.concatenate(li),
        sizes=tuple(sizes),
    )


def evaluate_sparse(theta: np.ndarray, st: SparseStats, reml: bool) -> Evaluation | None:
    """Profiled deviance at θ (no gradient); None where it cannot be evaluated."""
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
    u = wy - Wx @ beta
    out, k = [], 0
    for levels, qk in st.sizes:
        out.append(u[k : k + levels * qk].reshape(levels, qk))
        k += levels * qk
    return Evaluation(dev, beta, r2, ldL2, ldRX2, RX, out, None)
