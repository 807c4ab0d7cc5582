"""Naive static two-way fixed effects: y_it = a_i + l_t + beta * D_it.

Shown beside the heterogeneity-robust estimators to make its bias visible. On
a balanced panel the two-way within transform is exact, so the fit is a
closed form; errors are clustered by unit (CR1, factor G/(G-1)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import EstimationError
from ._data import NEVER, DidPanel


@dataclass(frozen=True)
class TwfeFit:
    """beta, its clustered standard error, the unit scores (n,) scaled like an
    influence function, and the number of units."""

    beta: float
    se: float
    inf: np.ndarray
    n: int


def _within(a: np.ndarray) -> np.ndarray:
    return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()


def fit_twfe(panel: DidPanel, *, treatment: np.ndarray | None = None) -> TwfeFit:
    """Static TWFE with D_it = 1{t >= g_i}, or a given (n, T) treatment array."""
    n, T = panel.y.shape
    if treatment is None:
        tt = np.arange(T)[None, :]
        treatment = ((panel.cohort[:, None] != NEVER) & (tt >= panel.cohort[:, None])).astype(float)
    d = _within(np.asarray(treatment, dtype=float))
    sdd = float((d * d).sum())
    if sdd <= 0:
        raise EstimationError("the treatment has no variation after removing unit and period effects")
    yw = _within(panel.y)
    beta = float((d * yw).sum() / sdd)
    e = yw - beta * d
    score = (d * e).sum(axis=1) / sdd  # (n,)
    se = float(np.sqrt(n / (n - 1) * (score**2).sum()))
    return TwfeFit(beta, se, score * n, n)
