"""Turn a long team-week table into the unit x period arrays the DiD
estimators work on (balanced for Sun-Abraham; otherwise unobserved cells are
NaN).

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
    """Unit x period panel as arrays (unobserved cells are NaN).

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

    n_input_units: int = 0

    @property
    def n(self) -> int:
        return self.y.shape[0]

    @property
    def observed(self) -> np.ndarray:
        """Cells (n, T) with the outcome and every covariate observed."""
        ok = np.isfinite(self.y)
        if self.x is not None and self.x.shape[2]:
            ok &= np.isfinite(self.x).all(axis=2)
        return ok

    @property
    def balanced(self) -> bool:
        return bool(self.observed.all())

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
            n_input_units=self.n_input_units,
        )

    def with_cohort(self, cohort: np.ndarray) -> DidPanel:
        return DidPanel(self.y, np.asarray(cohort, dtype=np.int64), self.times, self.units, self.x, self.covariates, self.dose, self.n_input_units)

    def with_y(self, y: np.ndarray) -> DidPanel:
        return DidPanel(np.asarray(y, dtype=float), self.cohort, self.times, self.units, self.x, self.covariates, self.dose, self.n_input_units)


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
        num = pd.to_numeric(values, errors="coerce")
        coded_never = num.notna() & ~(num > 0)  # 0 or negative: never treated, as with numeric periods
        v = _parse_dates(values.where(~coded_never), "cohort")
        never = v.isna().to_numpy()
        vv = v.to_numpy(dtype="datetime64[ns]")
        idx = np.searchsorted(times.astype("datetime64[ns]"), np.where(never, times[0], vv), side="left")
    else:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        never = ~np.isfinite(v) | (v <= 0)
        idx = np.searchsorted(times.astype(float), np.where(never, times[0], v), side="left")
    idx = np.where(never | (idx >= T), NEVER, idx)
    return idx.astype(np.int64)


def _parse_dates(values: pd.Series, what: str) -> pd.Series:
    """Dates from datetime values or date strings ('2024-03', '2024-03-01'); missing stays NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(values, copy=False).dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
    text = values.dropna().astype(str)
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    bad = parsed.isna()
    if bad.any():
        raise SchemaError(f"{what} values must be numbers or dates; {text[bad].iloc[0]!r} is neither")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    out[parsed.index] = parsed.astype("datetime64[ns]")
    return out


def _periods(col: pd.Series, name: str) -> pd.Series:
    """The period column as numbers or datetimes: date strings ('YYYY-MM', ISO dates) are parsed."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
        if pd.api.types.is_datetime64_any_dtype(col):
            return _parse_dates(col, f"period column {name!r}").astype("datetime64[ns]")
        return col
    if col.isna().any():
        raise SchemaError(f"period column {name!r} has missing values")
    return _parse_dates(col, f"period column {name!r}")


def prepare_panel(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: tuple[str, ...] = (),
    dose: str | None = None,
    balance: bool = True,
) -> DidPanel:
    """Pivot ``data`` to a units x periods panel.

    With ``balance`` (Sun-Abraham), units
    with a missing outcome or covariate in any period are dropped; without it
    they are kept and the missing cells are NaN, and only units with no
    observed cell are dropped. Units treated in the first period (no
    pre-period to compare with) are dropped. Every drop is a
    :class:`DataWarning` that says how many of how many units.
    """
    cols = [unit, time, y, cohort, *covariates] + ([dose] if dose else [])
    missing = [c for c in dict.fromkeys(cols) if c not in data.columns]
    if missing:
        raise SchemaError(f"data lacks column(s) {missing}; it has {list(data.columns)}")
    d = data[list(dict.fromkeys(cols))].copy()
    d[time] = _periods(d[time], time)
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
    cell = np.isfinite(Y)
    X = None
    if covariates:
        X = np.stack([grid(c) for c in covariates], axis=2)
        cell &= np.isfinite(X).all(axis=2)
    D = grid(dose) if dose else None
    if D is not None:
        cell &= np.isfinite(D)
    ok = cell.all(axis=1) if balance else cell.any(axis=1)
    # one cohort per unit
    first = d.groupby(uidx, sort=True)[cohort]
    if (first.nunique(dropna=False) > 1).any():
        raise SchemaError(f"column {cohort!r} must be constant within each unit")
    c = _cohort_index(first.first().reindex(range(n)), times)
    always = c == 0
    if always.any():
        warnings.warn(f"dropped {int(always.sum())} of {n} unit(s): treated in the first period", DataWarning, stacklevel=3)
    if (~ok).any():
        if balance:
            why = (
                "not observed in every period (Sun-Abraham uses a balanced panel; "
                "'imputation', 'twfe' and 'cs' use every observation)"
            )
        else:
            why = "no period with the outcome and covariates observed"
        warnings.warn(f"dropped {int((~ok).sum())} of {n} unit(s): {why}", DataWarning, stacklevel=3)
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
        n_input_units=n,
    )
