"""Aggregating ATT(g,t) cells: weights, influence functions, uniform bands, Wald tests.

Mirrors R ``did::aggte``: cohort-size weights whose estimation error enters
through the weight influence function (``wif``); overall dynamic and calendar
effects average the per-period effects; the group overall effect weights
cohorts by size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ...errors import EstimationError
from ._cs import CellSet, combine
from ._data import NEVER

AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


@dataclass(frozen=True)
class Aggregation:
    """Aggregated effects. ``labels``/``att``/``se`` (P,) per-component; the overall
    effect separately; ``inf`` (n, P) component influence functions."""

    kind: str
    labels: np.ndarray
    att: np.ndarray
    se: np.ndarray
    overall_att: float
    overall_se: float
    inf: np.ndarray
    overall_inf: np.ndarray
    n: int


def _wif(cells: CellSet, pg: np.ndarray, keep: np.ndarray, att: np.ndarray, cohort_of: np.ndarray) -> np.ndarray:
    """Per-cohort-code weight influence (C, P) for P keeper masks ``keep`` (K, P).

    ``cohort_of`` (K,) is the cohort of each item being averaged; ``pg`` (K,) its share.
    """
    ind = (cells.codes[:, None] == cohort_of[None, :]).astype(float)  # (C, K)
    dev = ind - pg[None, :]
    kf = keep.astype(float)
    S = pg @ kf  # (P,)
    term1 = dev @ (kf * att[:, None]) / S
    term2 = (dev @ kf) * ((att * pg) @ kf) / S**2
    return term1 - term2


def se_from_inf(inf: np.ndarray, n: int) -> np.ndarray:
    return np.sqrt((inf**2).sum(axis=0)) / n


def build_weights(
    g: np.ndarray,
    t: np.ndarray,
    post: np.ndarray,
    ok: np.ndarray,
    pg: np.ndarray,
    kind: str,
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Component labels (P,), keeper masks (K, P) and cell weights (K, P) of an aggregation."""
    ev = t - g
    post = post & ok & (ev <= max_e)
    if kind == "simple":
        keep = post[:, None]
        labels = np.array(["ATT"])
    elif kind == "dynamic":
        es = np.unique(ev[ok & (ev >= min_e) & (ev <= max_e)])
        keep = ok[:, None] & (ev[:, None] == es[None, :])
        labels = es
    elif kind == "calendar":
        ts = np.unique(t[post])
        keep = post[:, None] & (t[:, None] == ts[None, :])
        labels = ts
    elif kind == "group":
        gs = np.unique(g[post])
        keep = post[:, None] & (g[:, None] == gs[None, :])
        labels = gs
    else:  # pragma: no cover - validated upstream
        raise ValueError(kind)
    if keep.shape[1] == 0 or not keep.any():
        raise EstimationError(f"no cell to aggregate ({kind})")
    kf = keep.astype(float)
    if kind == "group":
        W = kf / kf.sum(axis=0)
    else:
        W = kf * pg[:, None] / (pg @ kf)[None, :]
    return labels, keep, W


def overall_weights(kind: str, labels: np.ndarray, group_share: np.ndarray | None = None) -> np.ndarray:
    """Weights (P,) that turn the components into the overall effect."""
    P = len(labels)
    if kind == "simple":
        return np.ones(1)
    if kind == "dynamic":
        pos = labels >= 0
        if not pos.any():
            raise EstimationError("no post-treatment event time to average")
        return pos / pos.sum()
    if kind == "calendar":
        return np.full(P, 1.0 / P)
    return group_share / group_share.sum()


def cohort_shares(cells: CellSet) -> tuple[np.ndarray, np.ndarray]:
    """Units per code, and each cell's cohort as a share of all units."""
    nt = int((cells.codes != NEVER).sum())
    cnt = np.bincount(cells.ucode, minlength=len(cells.codes)).astype(float)
    return cnt, cnt[np.searchsorted(cells.codes[:nt], cells.g)] / cells.n


def aggregate_cells(cells: CellSet, kind: str, *, min_e: float = -np.inf, max_e: float = np.inf) -> Aggregation:
    """Aggregate the cells of a CS (or Sun-Abraham) fit, with the weight influence function."""
    ok = np.isfinite(cells.att)
    att = np.where(ok, cells.att, 0.0)
    n = cells.n
    nt = int((cells.codes != NEVER).sum())
    cnt, pg = cohort_shares(cells)
    labels, keep, W = build_weights(cells.g, cells.t, cells.post, ok, pg, kind, min_e=min_e, max_e=max_e)
    if kind == "group":
        wif = np.zeros((len(cells.codes), W.shape[1]))
    else:
        wif = _wif(cells, pg, keep, att, cells.g)
    est = att @ W
    inf = combine(cells, W) + wif[cells.ucode]
    se = se_from_inf(inf, n)
    pgg = cnt[np.searchsorted(cells.codes[:nt], labels)] / n if kind == "group" else None
    ow = overall_weights(kind, labels, pgg)
    o_att = float(est @ ow)
    o_inf = inf @ ow
    if kind == "group":
        w_over = _wif(cells, pgg, np.ones((len(labels), 1), bool), est, labels)
        o_inf = o_inf + w_over[cells.ucode, 0]
    return Aggregation(kind, labels, est, se, o_att, float(se_from_inf(o_inf[:, None], n)[0]), inf, o_inf, n)


def uniform_band(inf: np.ndarray, se: np.ndarray, n: int, *, level: float, reps: int, seed: int | None) -> float:
    """Multiplier-bootstrap (Rademacher) critical value of the sup-t statistic.

    Draws ``reps`` sign vectors; ``sum_i v_i IF_i / n`` is the bootstrap deviation
    of each estimate, divided by its analytic standard error.
    """
    good = np.isfinite(se) & (se > 0)
    if reps <= 0 or not good.any():
        return float(stats.norm.ppf(0.5 + level / 2))
    F = inf[:, good]
    s = se[good]
    rng = np.random.default_rng(seed)
    tmax = np.empty(reps)
    step = max(1, min(reps, 2_000_000 // max(inf.shape[0], 1)))
    for lo in range(0, reps, step):
        hi = min(lo + step, reps)
        v = rng.integers(0, 2, size=(hi - lo, inf.shape[0]), dtype=np.int8).astype(float) * 2 - 1
        dev = (v @ F) / n
        tmax[lo:hi] = np.max(np.abs(dev) / s, axis=1)
    return float(np.quantile(tmax, level))


def wald(est: np.ndarray, inf: np.ndarray, n: int) -> tuple[float, int, float]:
    """Joint Wald test that ``est`` is zero, with covariance ``IF'IF / n^2``.

    Returns (statistic, degrees of freedom, p-value); a singular covariance is
    handled by its pseudo-inverse with df equal to its rank.
    """
    ok = np.isfinite(est)
    est, inf = est[ok], inf[:, ok]
    if est.size == 0:
        return float("nan"), 0, float("nan")
    V = inf.T @ inf / n**2
    w, U = np.linalg.eigh(V)
    tol = w.max() * max(V.shape) * np.finfo(float).eps * 10
    keep = w > tol
    z = U[:, keep].T @ est
    W = float(np.sum(z**2 / w[keep]))
    df = int(keep.sum())
    return W, df, float(stats.chi2.sf(W, df))
