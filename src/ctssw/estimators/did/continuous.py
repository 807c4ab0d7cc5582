"""Non-binary adoption: a team at 30% usage is partly treated, not untreated.

``did_multiplegt`` is a DID_M-style estimator (de Chaisemartin and
D'Haultfoeuille 2020, non-binary treatment): in each period, units whose usage
share changed are compared with units that kept the same share, and the
outcome changes are divided by the share changes. It estimates the effect of
one more unit of share (0 -> 100%) within the week of the change (an
instantaneous effect; persistence is not included). Shares are rounded to a
grid (``step``) so that stayers exist.

``dose_response`` bins treated units by their mean post-adoption share and
estimates the binary-adoption ATT in each bin against the never and
not-yet-treated.

Written here: diff-diff's ChaisemartinDHaultfoeuille targets binary or
discrete designs on a long table; this form works on the units x periods
matrix and handles any share grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import EstimationError
from ._data import DidPanel


@dataclass(frozen=True)
class DidM:
    """Effect per unit of share, its unit-clustered standard error, and counts."""

    estimate: float
    std_error: float
    switchers: int
    switches_used: int
    periods: int


def did_multiplegt(y: np.ndarray, dose: np.ndarray, *, step: float = 0.1) -> DidM:
    """DID_M for a continuous dose, normalised by the dose change.

    Parameters
    ----------
    y, dose : ndarray, shape (n, T)
    step : float
        Grid the dose is rounded to before matching switchers to stayers.
    """
    n, T = y.shape
    d = np.round(dose / step) * step
    a = np.zeros(n)
    b = np.zeros(n)
    used = 0
    periods = 0
    for t in range(1, T):
        dy = y[:, t] - y[:, t - 1]
        d0, d1 = d[:, t - 1], d[:, t]
        moved = ~np.isclose(d0, d1)
        if not moved.any():
            continue
        levels = np.unique(np.round(d0[moved] / step).astype(np.int64))
        any_cell = False
        for lv in levels:
            base = np.isclose(d0, lv * step)
            sw = base & moved
            st = base & ~moved
            ns, nr = sw.sum(), st.sum()
            if ns == 0 or nr == 0:
                continue
            any_cell = True
            used += int(ns)
            a[sw] += dy[sw]
            a[st] -= (ns / nr) * dy[st]
            b[sw] += (d1 - d0)[sw]
        periods += any_cell
    B = b.sum()
    if used == 0 or abs(B) < 1e-12:
        raise EstimationError("no switcher has a stayer with the same baseline share")
    theta = a.sum() / B
    se = float(np.sqrt(np.sum((a - theta * b) ** 2)) / abs(B))
    return DidM(float(theta), se, int((b != 0).sum()), used, periods)


def dose_bins(panel: DidPanel, bins: tuple[float, ...]) -> np.ndarray:
    """Bin index of each treated unit's mean post-adoption dose (-1 for never treated)."""
    if panel.dose is None:
        raise EstimationError("no dose column was given")
    T = panel.T
    tt = np.arange(T)[None, :]
    post = (panel.cohort[:, None] >= 0) & (tt >= panel.cohort[:, None])
    with np.errstate(invalid="ignore"):
        mean_dose = np.where(post, panel.dose, 0).sum(axis=1) / post.sum(axis=1)
    idx = np.digitize(mean_dose, bins[1:-1], right=False)
    return np.where(panel.cohort >= 0, idx, -1)
