"""The result of :func:`ctssw.estimators.attribution.attribute`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..results import Estimate, Result, jsonable

__all__ = ["AttributionResult", "AttributionSpec", "linear_combination"]


@dataclass(frozen=True)
class AttributionSpec:
    """Validated settings of one :func:`attribute` call."""

    tools: tuple[str, ...]
    y: str
    unit: str
    time: str
    method: str
    covariates: tuple[str, ...]
    level: float
    threshold: float
    naive: bool
    k: int = 5


def linear_combination(params: pd.Series, vcov: pd.DataFrame, weights: pd.Series, crit: float, level: float) -> Estimate:
    """``weights' params`` with the interval ``estimate +/- crit * sqrt(w' V w)``."""
    w = weights.reindex(params.index).fillna(0.0).to_numpy(dtype=float)
    est = float(w @ params.to_numpy(dtype=float))
    var = float(w @ vcov.loc[params.index, params.index].to_numpy(dtype=float) @ w)
    se = float(np.sqrt(max(var, 0.0)))
    return Estimate(est, se, est - crit * se, est + crit * se, level)


@dataclass
class AttributionResult(Result):
    """Several tools' effects estimated in one model.

    ``params`` holds one effect per tool: the long-run effect of full use of
    that tool (dynamic methods) or its average effect on the team-weeks where
    it alone is adopted (``"did"``), in the outcome's units.

    Attributes
    ----------
    tools : list of str
        The share columns, in the order given.
    vcov : pandas.DataFrame
        Covariance of the per-tool effects (tools x tools).
    total : Estimate
        Sum of the per-tool effects, its standard error from ``vcov`` (so the
        covariance between tools counts).
    naive : pandas.DataFrame
        One row per tool fitted in its own model (the others left out), with
        ``estimate, std_error, ci_low, ci_high``; ``naive_total`` is their sum.
    naive_total : float
        Sum of the one-model-per-tool effects. No interval: the separate
        models' covariance is not estimated, which is the point of the joint model.
    method : str
    fit : object
        The underlying fit (a ``DynamicResult`` for the dynamic methods).
    diagnostics : dict
        Method-specific counts (cells, clusters, interaction of tools, ...).
    level : float
    """

    tools: list[str] = field(default_factory=list)
    vcov: pd.DataFrame | None = None
    total: Estimate | None = None
    naive: pd.DataFrame | None = None
    naive_total: float = float("nan")
    method: str = "fe"
    fit: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    level: float = 0.95
    df_params: pd.Series | None = None  # degrees of freedom per tool, where they differ (``"did"``)

    def _df(self) -> np.ndarray:
        if self.df_params is None:
            return np.full(len(self.params), np.inf if self.df_resid is None else float(self.df_resid))
        return self.df_params.reindex(self.params.index).to_numpy(dtype=float)

    @property
    def pvalues(self) -> pd.Series:
        t = np.abs(self.tstats.to_numpy(dtype=float))
        return pd.Series(2 * stats.t.sf(t, self._df()), index=self.params.index, name="pvalue")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        c = stats.t.ppf(0.5 + level / 2, self._df())
        return pd.DataFrame({"lower": self.params - c * self.std_errors, "upper": self.params + c * self.std_errors})

    def effect(self, tool: str) -> Estimate:
        """One tool's effect as an :class:`Estimate` at the result's level."""
        ci = self.conf_int(self.level).loc[tool]
        return Estimate(float(self.params[tool]), float(self.std_errors[tool]), float(ci["lower"]), float(ci["upper"]), self.level)

    def table(self) -> pd.DataFrame:
        """Per tool: joint estimate and interval beside the one-model-per-tool estimate; then the sums."""
        ci = self.conf_int(self.level)
        rows = []
        for t in self.tools:
            n = self.naive.loc[t] if self.naive is not None and t in self.naive.index else None
            rows.append({
                "tool": t, "estimate": float(self.params[t]), "std_error": float(self.std_errors[t]),
                "ci_low": float(ci.loc[t, "lower"]), "ci_high": float(ci.loc[t, "upper"]),
                "p_value": float(self.pvalues[t]),
                "naive_estimate": float(n["estimate"]) if n is not None else np.nan,
            })
        tot = self.total
        rows.append({
            "tool": "sum", "estimate": tot.estimate, "std_error": tot.std_error, "ci_low": tot.ci_low,
            "ci_high": tot.ci_high, "p_value": np.nan, "naive_estimate": self.naive_total,
        })
        return pd.DataFrame(rows)

    def _extra_lines(self) -> list[str]:
        t = self.table()
        lines = [f"Per-tool effects, joint model ({self.level:.0%} intervals) beside one model per tool:"]
        for r in t.itertuples():
            lines.append(f"  {r.tool:<24}{r.estimate:+.4f}  [{r.ci_low:+.4f}, {r.ci_high:+.4f}]   one model per tool: {r.naive_estimate:+.4f}")
        lines.append("The sum's interval uses the covariance of the per-tool effects; the one-model-per-tool sum has none.")
        for k, v in self.diagnostics.items():
            if k == "interactions":
                lines.append("Interactions (effect of the combination minus the sum of its tools' alone effects):")
                for label, d in v.items():
                    lines.append(f"  {label:<40}{d['interaction_estimate']:+.4f}  [{d['interaction_ci_low']:+.4f}, "
                                 f"{d['interaction_ci_high']:+.4f}]  over {d['team_weeks']} team-weeks")
            elif isinstance(v, dict):
                lines.append(f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items()))
            else:
                lines.append(f"{k}: {v}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            method=self.method,
            tools=list(self.tools),
            level=self.level,
            effects={t: self.effect(t).to_dict() for t in self.tools},
            total=self.total.to_dict() if self.total else None,
            vcov=jsonable({r: dict(self.vcov.loc[r]) for r in self.vcov.index}) if self.vcov is not None else None,
            naive=jsonable(self.naive.reset_index().to_dict(orient="records")) if self.naive is not None else None,
            naive_total=jsonable(self.naive_total),
            diagnostics=jsonable(self.diagnostics),
        )
        return out
