"""Turn a long team-week table into the balanced unit x period arrays the DiD
estimators work on.

Periods are recoded to 0..T-1 in sorted order (the R ``did`` package does the
same), so event time is counted in periods; the panel is assumed regular.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import DataWarning, EstimationError, SchemaError

NEVER = -1  # cohort code of never-treated units


@dataclass(frozen=True)
class DidPanel:
    """Balanced panel as arrays.

    Attributes
    ----------
    y : ndarray, shape (n, T)
        Outcome.
    cohort : ndarray of int, shape (n,)
        Index of the first treated period, or ``NEVER`` (-1).
    times : ndarray, shape (T,)
        Period labels in the caller's units.
    units : ndarray, shape (n,)
        Unit labels.
    x : ndarray or None, shape (n, T, k)
        Covariates (without intercept).
    covariates : tuple of str
        Covariate names.
    dose : ndarray or None, shape (n, T)
        Optional continuous treatment intensity.
    """

    y: np.ndarray
    cohort: np.ndarray
    times: np.ndarray
    units: np.ndarray
    x: np.ndarray | None = None
    covariates: tuple[str, ...] = ()
    dose: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.y.shape[0]

    @property
    def T(self) -> int:
        return self.y.shape[1]

    @property
    def groups(self) -> np.ndarray:
        """Treated cohorts (period indices), sorted."""
        g = np.unique(self.cohort)
        return g[g != NEVER]

    def cohort_label(self, g: int) -> object:
        return _label(self.times[g])

    def subset(self, keep: np.ndarray) -> DidPanel:
        """Units where ``keep`` is True."""
        return DidPanel(
            y=self.y[keep],
            cohort=self.cohort[keep],
            times=self.times,
            units=self.units[keep],
            x=None if self.x is None else self.x[keep],
            covariates=self.covariates,
            dose=None if self.dose is None else self.dose[keep],
        )

    def with_cohort(self, cohort: np.ndarray) -> DidPanel:
        return DidPanel(self.y, np.asarray(cohort, dtype=np.int64), self.times, self.units, self.x, self.covariates, self.dose)

    def with_y(self, y: np.ndarray) -> DidPanel:
        return DidPanel(np.asarray(y, dtype=float), self.cohort, self.times, self.units, self.x, self.covariates, self.dose)


def _label(v: object) -> object:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        f = float(v)
        return int(f) if f.is_integer() else f
    if isinstance(v, np.datetime64):
        return pd.Timestamp(v).date().isoformat()
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return v


def _cohort_index(values: pd.Series, times: np.ndarray) -> np.ndarray:
    """Map first-treated values to period indices; never-treated -> NEVER.

    Never-treated is a missing value, an infinite value, or (for numeric
    periods) a value <= 0, as in the R ``did`` package (0) and the simulator (-1).
    Cohorts after the last period are never treated within the window.
    """
    T = len(times)
    if np.issubdtype(times.dtype, np.datetime64):
        v = pd.to_datetime(values)
        never = v.isna().to_numpy()
        vv = v.to_numpy(dtype="datetime64[ns]")
        idx = np.searchsorted(times.astype("datetime64[ns]"), np.where(never, times[0], vv), side="left")
    else:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        never = ~np.isfinite(v) | (v <= 0)
        idx = np.searchsorted(times.astype(float), np.where(never, times[0], v), side="left")
    idx = np.where(never | (idx >= T), NEVER, idx)
    return idx.astype(np.int64)


def prepare_panel(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: tuple[str, ...] = (),
    dose: str | None = None,
) -> DidPanel:
    """Pivot ``data`` to a balanced panel.

    Units with a missing outcome or covariate in any period are dropped with a
    :class:`DataWarning`, as are units treated in the first period (no
    pre-period to compare with).
    """
    cols = [unit, time, y, cohort, *covariates] + ([dose] if dose else [])
    missing = [c for c in dict.fromkeys(cols) if c not in data.columns]
    if missing:
        raise SchemaError(f"data lacks column(s) {missing}; it has {list(data.columns)}")
    d = data[list(dict.fromkeys(cols))]
    if d.duplicated([unit, time]).any():
        raise SchemaError(f"more than one row per ({unit}, {time})")
    times = np.sort(d[time].unique())
    if np.issubdtype(np.asarray(times).dtype, np.datetime64):
        times = np.asarray(times, dtype="datetime64[ns]")
    else:
        times = np.asarray(times)
    T = len(times)
    if T < 2:
        raise EstimationError("need at least two periods")
    units, uidx = np.unique(d[unit].to_numpy(), return_inverse=True)
    tidx = np.searchsorted(times, d[time].to_numpy(dtype=times.dtype))
    n = len(units)

    def grid(col: str) -> np.ndarray:
        m = np.full((n, T), np.nan)
        m[uidx, tidx] = pd.to_numeric(d[col], errors="coerce").to_numpy(dtype=float)
        return m

    Y = grid(y)
    ok = np.isfinite(Y).all(axis=1)
    X = None
    if covariates:
        X = np.stack([grid(c) for c in covariates], axis=2)
        ok &= np.isfinite(X).all(axis=(1, 2))
    D = grid(dose) if dose else None
    if D is not None:
        ok &= np.isfinite(D).all(axis=1)
    # one cohort per unit
    first = d.groupby(uidx, sort=True)[cohort]
    if (first.nunique(dropna=False) > 1).any():
        raise SchemaError(f"column {cohort!r} must be constant within each unit")
    c = _cohort_index(first.first().reindex(range(n)), times)
    always = c == 0
    if always.any():
        warnings.warn(f"dropped {int(always.sum())} unit(s) treated in the first period", DataWarning, stacklevel=3)
    if (~ok).any():
        warnings.warn(
            f"dropped {int((~ok).sum())} unit(s) with missing values (the estimators need a balanced panel)",
            DataWarning,
            stacklevel=3,
        )
    keep = ok & ~always
    if keep.sum() < 2:
        raise EstimationError("fewer than two usable units")
    return DidPanel(
        y=Y[keep],
        cohort=c[keep],
        times=times,
        units=units[keep],
        x=None if X is None else X[keep],
        covariates=tuple(covariates),
        dose=None if D is None else D[keep],
    )
