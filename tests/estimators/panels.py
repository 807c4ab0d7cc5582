"""Synthetic panels with a known answer, shared by the estimator tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def linear_ar1_panel(*, seed: int, n: int, t: int, beta: float, gamma: float) -> pd.DataFrame:
    """y_it = a_i + beta y_i,t-1 + gamma x_it + e_it, started near its stationary mean."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    x = rng.normal(size=(n, t))
    y = np.zeros((n, t))
    y[:, 0] = a / (1 - beta) + rng.normal(size=n)
    for s in range(1, t):
        y[:, s] = a + beta * y[:, s - 1] + gamma * x[:, s] + rng.normal(size=n)
    return pd.DataFrame({"u": np.repeat(np.arange(n), t), "t": np.tile(np.arange(t), n), "y": y.ravel(), "x": x.ravel()})
