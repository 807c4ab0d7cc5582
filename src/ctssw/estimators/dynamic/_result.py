"""Result and settings of a dynamic panel fit, shared by the within and GMM paths."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..results import Estimate, Result, jsonable

__all__ = ["DynamicResult", "DynamicSpec", "finish", "long_run_effect"]


@dataclass
class DynamicResult(Result):
    """A fitted dynamic panel model.

    Attributes
    ----------
    long_run : dict of str to Estimate
        Long-run effect ``gamma / (1 - sum beta)`` of each treatment, with a
        delta-method interval from the full covariance matrix.
    vcov : pandas.DataFrame
        Covariance of ``params``.
    method : str
    n_units, n_periods : int
        Units and periods in the estimation sample.
    n_dropped : int
        Input rows not used: missing values, missing lags, singletons.
    diagnostics : dict
        Method-specific tests and counts (instrument count, AR tests, Hansen...).
    """

    long_run: dict[str, Estimate] = field(default_factory=dict)
    vcov: pd.DataFrame | None = None
    method: str = "fe"
    n_units: int = 0
    n_periods: int = 0
    n_dropped: int = 0
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def _extra_lines(self) -> list[str]:
        lines = [f"Units: {self.n_units}  Periods: {self.n_periods}  Rows dropped: {self.n_dropped}"]
        for name, est in self.long_run.items():
            lines.append(
                f"Long-run effect of {name}: {est.estimate:.6g} (SE {est.std_error:.4g}; "
                f"{est.level:.0%} CI {est.ci_low:.6g} to {est.ci_high:.6g})"
            )
        for k, v in self.diagnostics.items():
            lines.append(f"{k}: {_fmt(v)}")
        return lines

    def _blocks(self) -> list:
        from ..presentation import dynamic_blocks

        base = super()._blocks()
        return dynamic_blocks(self, base[:2]) + base[2:]

    def plot(self, level: float = 0.95):
        """Forest plot of the coefficients and the long-run effects.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import forest

        ci = self.conf_int(level)
        rows = [{"label": t, "estimate": self.params[t], "ci_low": ci.loc[t, "lower"], "ci_high": ci.loc[t, "upper"], "group": "coefficient"}
                for t in self.params.index]
        rows += [{"label": f"long-run: {k}", "estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "group": "long-run γ/(1−β)"}
                 for k, e in self.long_run.items()]
        return forest(pd.DataFrame(rows), xlabel=f"estimate ({level:.0%} interval)", title=self.title or f"Dynamic panel ({self.method})", group="group")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            method=self.method,
            n_units=int(self.n_units),
            n_periods=int(self.n_periods),
            n_dropped=int(self.n_dropped),
            long_run={k: v.to_dict() for k, v in self.long_run.items()},
            diagnostics=jsonable(self.diagnostics),
        )
        return out


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@dataclass(frozen=True)
class DynamicSpec:
    """Validated settings of one dynamic panel fit."""

    y: str
    x: tuple[str, ...]
    unit: str
    time: str
    lags: int
    level: float
    treatment: tuple[str, ...]
    cluster: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def lag_names(self) -> list[str]:
        return [f"L{l}.{self.y}" for l in range(1, self.lags + 1)]

    @property
    def names(self) -> list[str]:
        return self.lag_names + list(self.x)

    @property
    def formula(self) -> str:
        rhs = " + ".join(self.names)
        return f"{self.y} ~ {rhs} | {self.unit} + {self.time}"

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)


def long_run_effect(
    params: pd.Series, vcov: pd.DataFrame, treatment: str, lag_names: Sequence[str], crit: float, level: float
) -> Estimate:
    """``gamma / (1 - sum beta)`` with a delta-method interval.

    The gradient is ``1 / (1 - sum beta)`` in gamma and ``gamma / (1 - sum
    beta)^2`` in each beta; the interval is ``estimate +/- crit * SE``.
    """
    s = 1.0 - float(sum(params[n] for n in lag_names))
    g = float(params[treatment])
    if s <= 0:
        return Estimate(np.nan, np.nan, np.nan, np.nan, level)
    lr = g / s
    grad = pd.Series(0.0, index=params.index)
    grad[treatment] = 1.0 / s
    for n in lag_names:
        grad[n] += g / s**2
    gv = grad.to_numpy()
    var = float(gv @ vcov.loc[params.index, params.index].to_numpy() @ gv)
    se = float(np.sqrt(max(var, 0.0)))
    return Estimate(lr, se, lr - crit * se, lr + crit * se, level)



def finish(spec: DynamicSpec, method: str, params: np.ndarray, vcov: np.ndarray, *, nobs: int, df_resid: float | None, n_units: int, n_periods: int, n_dropped: int, settings: dict, diagnostics: dict | None = None, warnings: list[str] | None = None, title: str = "") -> DynamicResult:
    names = spec.names
    ps = pd.Series(params, index=names, name="estimate")
    V = pd.DataFrame(vcov, index=names, columns=names)
    se = pd.Series(np.sqrt(np.clip(np.diag(vcov), 0, None)), index=names, name="std_error")
    crit = float(stats.norm.ppf(0.5 + spec.level / 2) if df_resid is None else stats.t.ppf(0.5 + spec.level / 2, df_resid))
    lr = {t: long_run_effect(ps, V, t, spec.lag_names, crit, spec.level) for t in spec.treatment}
    warns = list(warnings or [])
    if sum(params[: spec.lags]) >= 1:
        warns.append("the lags of the outcome sum to 1 or more; the long-run effect is undefined")
    return DynamicResult(
        params=ps,
        std_errors=se,
        nobs=int(nobs),
        formula=spec.formula,
        settings={"method": method, **settings},
        warnings=warns,
        df_resid=df_resid,
        title=title or f"Dynamic panel ({method})",
        long_run=lr,
        vcov=V,
        method=method,
        n_units=int(n_units),
        n_periods=int(n_periods),
        n_dropped=int(n_dropped),
        diagnostics=diagnostics or {},
    )

