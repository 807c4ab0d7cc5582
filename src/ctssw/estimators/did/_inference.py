"""Interval choice for staggered DiD: the analytic influence-function variance
and its small-sample correction.

The analytic standard error of R ``did`` (``sqrt(sum IF^2) / n`` with a normal
critical value) treats each cohort's mean as known to first order. When a
cohort, or the never-treated group that serves as control, has few units, that
variance is too small and a normal critical value too narrow: with 10
never-treated units out of 100 its 95% intervals cover about 0.91.

``"small-sample"`` corrects both, stratum by stratum (a stratum is a cohort or
the never-treated group, the sampling units of the design):

* each stratum's within-stratum sum of squared influence is scaled by
  ``n_s / (n_s - 1)`` (the unbiased variance of a mean instead of the
  plug-in one; the between-stratum part from estimated cohort shares is kept);
* the critical value is Student's t with Welch-Satterthwaite degrees of
  freedom ``(sum_s V_s)^2 / sum_s V_s^2 / (n_s - 1)`` over the strata's
  within parts ``V_s``, so an estimate that leans on 10 control units gets
  about 9 to 20 degrees of freedom, and one on thousands gets a normal value.

``"auto"`` (the default) picks ``"small-sample"`` when any stratum has fewer
than :data:`AUTO_MIN_UNITS` units and ``"analytic"`` otherwise; both converge
to the same interval as strata grow. docs/validation.md has the Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._cs import CellSet, cell_influence

INFERENCES = ("auto", "analytic", "small-sample")
AUTO_MIN_UNITS = 50


@dataclass(frozen=True)
class Inference:
    """The interval a fit reports: ``kind`` ("analytic" or "small-sample"), why,
    and the stratum (cohort code) of each unit, shape (n,)."""

    kind: str
    reason: str
    strata: np.ndarray

    @property
    def label(self) -> str:
        if self.kind == "analytic":
            return "analytic (influence function, normal critical value)"
        if self.kind == "cr1":
            return "CR1 clustered by unit, t with G-1 df (as pyfixest)"
        return "small-sample (per-cohort n/(n-1) variance, Welch-Satterthwaite t critical value)"


def choose(requested: str, strata: np.ndarray) -> Inference:
    """Resolve ``requested`` ("auto", "analytic", "small-sample") for units in ``strata``."""
    _, counts = np.unique(strata, return_counts=True)
    smallest = int(counts.min()) if counts.size else 0
    if requested != "auto":
        return Inference(requested, "requested", np.asarray(strata))
    if smallest < AUTO_MIN_UNITS:
        why = f"auto: the smallest cohort or control group has {smallest} unit(s) (< {AUTO_MIN_UNITS})"
        return Inference("small-sample", why, np.asarray(strata))
    return Inference("analytic", f"auto: every cohort and control group has at least {AUTO_MIN_UNITS} units", np.asarray(strata))


def small_sample(inf: np.ndarray, strata: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Small-sample standard errors and Welch-Satterthwaite degrees of freedom.

    Parameters
    ----------
    inf : ndarray, shape (n, P)
        Influence functions scaled as in R ``did`` (``se = sqrt(sum IF^2) / n``).
    strata : ndarray, shape (n,)
        Stratum code of each unit.
    n : int

    Returns
    -------
    se, df : ndarray, shape (P,)
        ``df`` is ``inf`` where no stratum has within-stratum variation.
    """
    inf = np.asarray(inf, dtype=float)
    codes, s = np.unique(strata, return_inverse=True)
    S = codes.size
    cnt = np.bincount(s, minlength=S).astype(float)
    P = inf.shape[1]
    sums = np.zeros((S, P))
    sq = np.zeros((S, P))
    for j in range(P):
        sums[:, j] = np.bincount(s, weights=inf[:, j], minlength=S)
        sq[:, j] = np.bincount(s, weights=inf[:, j] ** 2, minlength=S)
    between = sums**2 / cnt[:, None]
    within = np.maximum(sq - between, 0.0)
    c = np.where(cnt > 1, cnt / np.maximum(cnt - 1, 1), 1.0)
    V = within * c[:, None]
    var = (V.sum(axis=0) + between.sum(axis=0)) / n**2
    denom = (V**2 / np.maximum(cnt - 1, 1)[:, None] * (cnt > 1)[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(denom > 0, V.sum(axis=0) ** 2 / denom, np.inf)
    return np.sqrt(var), df


def critical(level: float, df: np.ndarray | float) -> np.ndarray:
    """Two-sided critical value at ``level``: t with ``df`` degrees of freedom, normal where infinite."""
    df = np.asarray(df, dtype=float)
    q = 0.5 + level / 2
    out = np.full(df.shape, float(stats.norm.ppf(q)))
    fin = np.isfinite(df) & (df > 0)
    out[fin] = stats.t.ppf(q, df[fin])
    return out


def pvalue(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-values of t statistics with per-element degrees of freedom."""
    t = np.abs(np.asarray(t, dtype=float))
    df = np.broadcast_to(np.asarray(df, dtype=float), t.shape)
    out = 2 * stats.norm.sf(t)
    fin = np.isfinite(df) & (df > 0)
    out[fin] = 2 * stats.t.sf(t[fin], df[fin])
    return out


class PerTermT:
    """Mixin for results whose terms each have their own degrees of freedom.

    The host dataclass has ``params``, ``std_errors`` and ``dfs`` (a Series of
    degrees of freedom aligned with ``params``, or ``None`` for normal
    inference throughout).
    """

    def _df_array(self) -> np.ndarray:
        if getattr(self, "dfs", None) is None:
            return np.full(len(self.params), np.inf)
        return self.dfs.reindex(self.params.index).to_numpy(dtype=float)

    @property
    def pvalues(self) -> pd.Series:
        p = pvalue(self.tstats.to_numpy(dtype=float), self._df_array())
        return pd.Series(p, index=self.params.index, name="pvalue")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        c = critical(level, self._df_array())
        return pd.DataFrame({"lower": self.params - c * self.std_errors, "upper": self.params + c * self.std_errors})


def cells_small_sample(cells: CellSet, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Small-sample standard errors and degrees of freedom of every cell of a
    Callaway-Sant'Anna / Sun-Abraham fit, built in blocks of cells."""
    se = np.full(cells.K, np.nan)
    df = np.full(cells.K, np.inf)
    ok = np.flatnonzero(np.isfinite(cells.att))
    step = max(1, 4_000_000 // max(cells.n, 1))
    for lo in range(0, ok.size, step):
        cols = ok[lo : lo + step]
        se[cols], df[cols] = small_sample(cell_influence(cells, cols), strata, cells.n)
    return se, df
