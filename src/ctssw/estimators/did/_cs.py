"""Group-time ATT(g,t) cells and their influence functions (Callaway-Sant'Anna).

Written here rather than delegated to diff-diff or moderndid: those fit each
(g,t) cell with a loop over a long table, while without covariates every
cell is a difference of cohort means of a period difference. We compute all
cells at once from the units x periods matrix and never form the dense
influence-function matrix; an aggregate's influence function is built
directly from per-cohort linear maps (``combine``). With covariates each cell
is a 2x2 DRDID fit (outcome regression, IPW or doubly robust, as in the R
``DRDID`` package) and the influence functions are kept densely; on an
unbalanced panel the cells come from the repeated-cross-section fits in
``_rc``.

Influence functions follow the R ``did`` convention: ``se = sqrt(sum(IF^2)) / n``
with ``IF`` scaled by ``n / n_cell``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from ...errors import DataWarning, EstimationError
from ._data import NEVER, DidPanel

_CHUNK = 512  # cells per block when differencing, bounds memory at n * _CHUNK floats


@dataclass(frozen=True)
class CellSet:
    """ATT(g,t) cells with what is needed to build aggregate influence functions.

    Shapes: cell arrays (K,); ``codes`` (C,) cohort codes (the last is ``NEVER``
    when present); ``ucode`` (n,) index into ``codes``; ``ctrl`` (K, C) control
    membership; ``a`` and ``m`` (C, K) per-cohort IF slope and mean; ``inf``
    (n, K) dense influence functions (covariate fits) or ``None``.
    """

    g: np.ndarray
    t: np.ndarray
    b: np.ndarray
    post: np.ndarray
    att: np.ndarray
    se: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray
    n: int
    codes: np.ndarray
    ucode: np.ndarray
    ctrl: np.ndarray
    a: np.ndarray | None = None
    m: np.ndarray | None = None
    yc: np.ndarray | None = None
    inf: np.ndarray | None = None

    @property
    def K(self) -> int:
        return len(self.g)

    @property
    def event(self) -> np.ndarray:
        return self.t - self.g


def define_cells(panel: DidPanel, *, control: str, anticipation: int, base: str) -> tuple[np.ndarray, ...]:
    """The (g, t, base) triples and their control sets.

    ``base="varying"``: post cells (t >= g) compare t with g-1-anticipation, pre
    cells compare t with t-1 (the R ``did`` default). ``base="universal"``: every
    cell compares with g-1-anticipation (Sun-Abraham's reference period).
    Not-yet-treated controls are cohorts first treated after
    max(t, base) + anticipation, plus the never treated.
    """
    groups = panel.groups
    has_never = bool((panel.cohort == NEVER).any())
    codes = np.r_[groups, [NEVER]] if has_never else groups.copy()
    T = panel.T
    G, Tt, B = [], [], []
    for g in groups:
        bg = g - 1 - anticipation
        if bg < 0:
            continue
        for t in range(T):
            if base == "universal":
                if t == bg:
                    continue
                b = bg
            else:
                if t == 0:
                    continue
                b = bg if t >= g else t - 1
            G.append(g)
            Tt.append(t)
            B.append(b)
    g = np.asarray(G, dtype=np.int64)
    t = np.asarray(Tt, dtype=np.int64)
    b = np.asarray(B, dtype=np.int64)
    if g.size == 0:
        raise EstimationError("no estimable (g,t) cell: every cohort is treated too early for a base period")
    is_never = codes == NEVER
    if control == "never":
        ctrl = np.broadcast_to(is_never, (len(g), len(codes))).copy()
    else:
        horizon = np.maximum(t, b) + anticipation
        ctrl = is_never[None, :] | ((codes[None, :] > horizon[:, None]) & (codes[None, :] != g[:, None]))
    return g, t, b, t >= g, codes, ctrl


def code_index(codes: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Each unit's index into ``codes`` (which are not sorted when NEVER is last)."""
    order = np.argsort(codes)
    return order[np.searchsorted(codes[order], cohort)]


def cells_linear(panel: DidPanel, *, control: str, anticipation: int, base: str) -> CellSet:
    """All cells without covariates, vectorised over cells."""
    g, t, b, post, codes, ctrl = define_cells(panel, control=control, anticipation=anticipation, base=base)
    n = panel.n
    ucode = code_index(codes, panel.cohort)
    yc = panel.y - panel.y.mean(axis=0)
    C, K = len(codes), len(g)
    s1 = np.zeros((C, K))
    s2 = np.zeros((C, K))
    cnt = np.bincount(ucode, minlength=C).astype(float)
    rows = [np.flatnonzero(ucode == c) for c in range(C)]
    for c in range(C):
        yr = yc[rows[c]]
        for lo in range(0, K, _CHUNK):
            hi = min(lo + _CHUNK, K)
            d = yr[:, t[lo:hi]] - yr[:, b[lo:hi]]
            s1[c, lo:hi] = d.sum(axis=0)
            s2[c, lo:hi] = np.einsum("ij,ij->j", d, d)
    gi = np.searchsorted(codes[: len(panel.groups)], g)  # treated cohorts come first in codes
    kk = np.arange(K)
    n1 = cnt[gi]
    m1 = s1[gi, kk] / n1
    ss1 = s2[gi, kk] - n1 * m1**2
    cm = ctrl.astype(float)
    n0 = cm @ cnt
    with np.errstate(invalid="ignore", divide="ignore"):
        m0 = np.einsum("kc,ck->k", cm, s1) / n0
        ss0 = np.einsum("kc,ck->k", cm, s2) - n0 * m0**2
        att = m1 - m0
        se = np.sqrt(np.maximum(ss1, 0) / n1**2 + np.maximum(ss0, 0) / n0**2)
    empty = n0 == 0
    if empty.any():
        warnings.warn(f"{int(empty.sum())} (g,t) cell(s) have no control units; they are left out", DataWarning, stacklevel=4)
        att[empty] = np.nan
        se[empty] = np.nan
    a = np.zeros((C, K))
    m = np.zeros((C, K))
    with np.errstate(invalid="ignore", divide="ignore"):
        a[:, :] = np.where(ctrl.T, -n / n0[None, :], 0.0)
        m[:, :] = np.where(ctrl.T, m0[None, :], 0.0)
    a[gi, kk] = n / n1
    m[gi, kk] = m1
    a[:, empty] = 0.0
    m[:, empty] = 0.0
    return CellSet(g, t, b, post, att, se, n1, n0, n, codes, ucode, ctrl, a=a, m=m, yc=yc)


# -- 2x2 estimators with covariates (R DRDID: reg_did_panel, std_ipw_did_panel, drdid_panel)


def _ols_control(dy: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = D == 0
    if np.linalg.cond(X[c].T @ X[c]) > 1 / np.finfo(float).eps:
        raise CellSkipped("not enough control units to run the outcome regression")
    beta, *_ = np.linalg.lstsq(X[c], dy[c], rcond=None)
    fitted = X @ beta
    n = len(dy)
    w = (1 - D)[:, None] * X
    xpx_inv = np.linalg.pinv(w.T @ X / n)
    lin_rep = ((1 - D) * (dy - fitted))[:, None] * X @ xpx_inv
    return fitted, lin_rep


TRIM_LEVEL = 0.995  # controls with a propensity score at or above this get no weight (R DRDID)
OVERLAP_MAX = 0.999  # a cell whose largest propensity score reaches this is left out (R did)


class CellSkipped(Exception):
    """A (g,t) cell that cannot be estimated; the message says why."""


def _propensity(D: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Logit fitted values by Newton-Raphson; :class:`CellSkipped` when the fit
    fails or the overlap condition is violated (as R did / moderndid)."""
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        p = special.expit(X @ beta)
        W = p * (1 - p)
        H = X.T @ (W[:, None] * X)
        try:
            step = np.linalg.solve(H, X.T @ (D - p))
        except np.linalg.LinAlgError as exc:
            raise CellSkipped("the propensity-score logit is singular (too few treated units for the covariates)") from exc
        if not np.all(np.isfinite(step)):
            raise CellSkipped("the propensity-score logit did not converge")
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = special.expit(X @ beta)
    if p.max() >= OVERLAP_MAX:
        raise CellSkipped(f"overlap violated (a propensity score of {p.max():.4f})")
    return p


def propensity_logit(D: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.clip(_propensity(D, X), 1e-6, 1 - 1e-6)
    W = p * (1 - p)
    try:
        hess_inv_n = np.linalg.inv(X.T @ (W[:, None] * X)) * len(D)
    except np.linalg.LinAlgError as exc:
        raise CellSkipped("the propensity-score logit is singular") from exc
    lin_rep = ((D - p)[:, None] * X) @ hess_inv_n
    return p, lin_rep


def trimmed(D: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """1 for treated units and for controls with ``ps < TRIM_LEVEL``, else 0."""
    keep = np.ones_like(D)
    c = D == 0
    keep[c] = (ps[c] < TRIM_LEVEL).astype(float)
    if not (keep * (1 - D)).any():
        raise CellSkipped("no control unit left after propensity trimming")
    return keep


def did_reg(dy: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    fitted, lin_ols = _ols_control(dy, D, X)
    w_t = D
    w_c = D
    eta_t = np.mean(w_t * dy) / np.mean(w_t)
    eta_c = np.mean(w_c * fitted) / np.mean(w_c)
    inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
    inf_c1 = w_c * fitted - w_c * eta_c
    inf_c2 = lin_ols @ np.mean(w_c[:, None] * X, axis=0)
    inf_c = (inf_c1 + inf_c2) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


def did_ipw(dy: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    ps, lin_ps = propensity_logit(D, X)
    trim = trimmed(D, ps)
    w_t = trim * D
    w_c = trim * ps * (1 - D) / (1 - ps)
    eta_t = np.mean(w_t * dy) / np.mean(w_t)
    eta_c = np.mean(w_c * dy) / np.mean(w_c)
    inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
    inf_c1 = w_c * dy - w_c * eta_c
    inf_c2 = lin_ps @ np.mean((w_c * (dy - eta_c))[:, None] * X, axis=0)
    inf_c = (inf_c1 + inf_c2) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


def did_dr(dy: np.ndarray, D: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    ps, lin_ps = propensity_logit(D, X)
    fitted, lin_ols = _ols_control(dy, D, X)
    trim = trimmed(D, ps)
    w_t = trim * D
    w_c = trim * ps * (1 - D) / (1 - ps)
    r = dy - fitted
    eta_t = np.mean(w_t * r) / np.mean(w_t)
    eta_c = np.mean(w_c * r) / np.mean(w_c)
    inf_t1 = w_t * r - w_t * eta_t
    inf_t2 = lin_ols @ np.mean(w_t[:, None] * X, axis=0)
    inf_t = (inf_t1 - inf_t2) / np.mean(w_t)
    inf_c1 = w_c * r - w_c * eta_c
    inf_c2 = lin_ps @ np.mean((w_c * (r - eta_c))[:, None] * X, axis=0)
    inf_c3 = lin_ols @ np.mean(w_c[:, None] * X, axis=0)
    inf_c = (inf_c1 + inf_c2 - inf_c3) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


TWO_BY_TWO = {"reg": did_reg, "ipw": did_ipw, "dr": did_dr}


def cells_covariates(panel: DidPanel, *, control: str, anticipation: int, base: str, est_method: str) -> CellSet:
    """Cells fitted one by one with covariates taken at the base period."""
    g, t, b, post, codes, ctrl = define_cells(panel, control=control, anticipation=anticipation, base=base)
    n, K = panel.n, len(g)
    ucode = code_index(codes, panel.cohort)
    fit = TWO_BY_TWO[est_method]
    skipped: list[str] = []
    att = np.full(K, np.nan)
    inf = np.zeros((n, K))
    n1 = np.zeros(K)
    n0 = np.zeros(K)
    for k in range(K):
        treated = panel.cohort == g[k]
        controls = ctrl[k][ucode]
        sub = treated | controls
        n1[k], n0[k] = treated.sum(), controls.sum()
        if n0[k] == 0:
            continue
        dy = panel.y[sub, t[k]] - panel.y[sub, b[k]]
        X = np.column_stack([np.ones(sub.sum()), panel.x[sub, b[k], :]])
        D = treated[sub].astype(float)
        try:
            att[k], phi = fit(dy, D, X)
        except CellSkipped as why:
            skipped.append(f"(g={panel.cohort_label(int(g[k]))}, t={panel.cohort_label(int(t[k]))}): {why}")
            continue
        inf[sub, k] = phi * n / sub.sum()
    if skipped:
        shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"{len(skipped)} (g,t) cell(s) left out, as R did does: {shown}", DataWarning, stacklevel=4)
    if (n0 == 0).any():
        warnings.warn(f"{int((n0 == 0).sum())} (g,t) cell(s) have no control units; they are left out", DataWarning, stacklevel=4)
    se = np.sqrt((inf**2).sum(axis=0)) / n
    se[np.isnan(att)] = np.nan
    return CellSet(g, t, b, post, att, se, n1, n0, n, codes, ucode, ctrl, inf=inf)


def rows_by(idx: np.ndarray, A: np.ndarray, T: int) -> np.ndarray:
    """Sum the rows of ``A`` (K, P) into ``T`` bins given by ``idx`` (K,)."""
    out = np.zeros((T, A.shape[1]))
    if idx.size == 0:
        return out
    order = np.argsort(idx, kind="stable")
    si = idx[order]
    starts = np.flatnonzero(np.r_[True, si[1:] != si[:-1]])
    out[si[starts]] = np.add.reduceat(A[order], starts, axis=0)
    return out


def combine(cells: CellSet, W: np.ndarray) -> np.ndarray:
    """Influence functions (n, P) of the linear combinations ``att @ W`` (W is (K, P))."""
    W = np.asarray(W, dtype=float)
    if cells.inf is not None:
        return cells.inf @ W
    n, T = cells.yc.shape
    P = W.shape[1]
    out = np.empty((n, P))
    for c in range(len(cells.codes)):
        rows = np.flatnonzero(cells.ucode == c)
        if rows.size == 0:
            continue
        A = cells.a[c][:, None] * W
        live = np.flatnonzero(np.any(A != 0, axis=1))
        if live.size == 0:
            out[rows] = 0.0
            continue
        Bc = rows_by(cells.t[live], A[live], T) - rows_by(cells.b[live], A[live], T)
        const = -(cells.a[c] * cells.m[c]) @ W
        out[rows] = cells.yc[rows] @ Bc + const
    return out


def cell_influence(cells: CellSet, cols: np.ndarray) -> np.ndarray:
    """Influence functions (n, len(cols)) of the cells ``cols`` themselves: ``combine`` with the
    identity's columns, without its (K, K) matrices. Cell k's map has ``a`` at its period and
    ``-a`` at its base, so a unit's value is ``a * (y_t - y_b) - a * m`` of its cohort."""
    cols = np.asarray(cols, dtype=int)
    if cells.inf is not None:
        return cells.inf[:, cols]
    n = cells.yc.shape[0]
    out = np.empty((n, cols.size))
    t, b = cells.t[cols], cells.b[cols]
    for c in range(len(cells.codes)):
        rows = np.flatnonzero(cells.ucode == c)
        if rows.size == 0:
            continue
        a, m = cells.a[c][cols], cells.m[c][cols]
        y = cells.yc[rows]
        v = y[:, t] * a - y[:, b] * a - a * m
        v[:, a == 0] = 0.0
        out[rows] = v
    return out


def cells_unbalanced(panel: DidPanel, *, control: str, anticipation: int, base: str) -> CellSet:
    """All cells without covariates on an unbalanced panel, as R ``did`` with
    ``allow_unbalanced_panel=TRUE`` (and moderndid) compute them.

    Each cell is the repeated-cross-section 2x2 estimator on the observations
    of its two periods: ``(mean_t - mean_b)`` over the treated cohort's
    observed units minus the same over the controls'. A unit's influence is
    the sum over its observations, ``n * (y_is - mean_s) / n_s`` with the sign
    of its group and period, so on a balanced panel this is the panel estimator.
    """
    g, t, b, post, codes, ctrl = define_cells(panel, control=control, anticipation=anticipation, base=base)
    n, K = panel.n, len(g)
    ucode = code_index(codes, panel.cohort)
    obs = np.isfinite(panel.y)
    y0 = np.where(obs, panel.y, 0.0)
    att = np.full(K, np.nan)
    inf = np.zeros((n, K))
    n1 = np.zeros(K)
    n0 = np.zeros(K)
    empty = 0
    for k in range(K):
        groups = ((panel.cohort == g[k]), ctrl[k][ucode])
        n1[k], n0[k] = groups[0].sum(), groups[1].sum()
        means, parts = [], []
        for sign, members in zip((1.0, -1.0), groups, strict=True):
            for s, ps in ((t[k], 1.0), (b[k], -1.0)):
                seen = members & obs[:, s]
                cnt = seen.sum()
                if cnt == 0:
                    break
                m = y0[seen, s].mean()
                means.append(sign * ps * m)
                parts.append((seen, s, m, cnt, sign * ps))
        if len(parts) < 4:
            empty += 1
            continue
        att[k] = sum(means)
        for seen, s, m, cnt, w in parts:
            inf[seen, k] += w * n * (y0[seen, s] - m) / cnt
    if empty:
        warnings.warn(f"{empty} (g,t) cell(s) have no observed treated or control unit in one of their periods; they are left out", DataWarning, stacklevel=4)
    se = np.sqrt((inf**2).sum(axis=0)) / n
    se[np.isnan(att)] = np.nan
    return CellSet(g, t, b, post, att, se, n1, n0, n, codes, ucode, ctrl, inf=inf)
