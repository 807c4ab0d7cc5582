"""Value of each tool and of all of them together, net of each tool's licence.

Each tool's effect goes through :func:`ctssw.estimators.value.translate` over
the builder-weeks that used it. The total is the sum of the tools'
engineering-years (and dollars); its interval comes from the delta method on
the covariance of the per-tool effects, since engineering-years are
``treated_builder_weeks_k / weeks_per_year * D_k / (1 + D_k)`` for a relative
effect ``D_k``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import ConfigError
from ..results import Estimate
from ..value import LOADED_ANNUAL_COST, WEEKS_PER_YEAR, ValueTranslation, translate
from ._result import AttributionResult

__all__ = ["ToolsValue", "value_tools"]


@dataclass(frozen=True)
class ToolsValue:
    """Per-tool :class:`ValueTranslation` and the totals across tools.

    Attributes
    ----------
    per_tool : dict of str to ValueTranslation
    engineering_years, gross_dollars, net_dollars : Estimate
        Totals over the tools, intervals accounting for the covariance of the effects.
    license_cost : dict of str to float
        Each tool's licence cost over the period.
    """

    per_tool: dict[str, ValueTranslation]
    engineering_years: Estimate
    gross_dollars: Estimate
    net_dollars: Estimate
    license_cost: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_tool": {k: v.to_dict() for k, v in self.per_tool.items()},
            "total": {
                "engineering_years": self.engineering_years.to_dict(),
                "gross_dollars": self.gross_dollars.to_dict(),
                "net_dollars": self.net_dollars.to_dict(),
                "license_cost": float(sum(self.license_cost.values())),
                "interval_method": "delta method on the covariance of the per-tool effects",
            },
            "license_cost": dict(self.license_cost),
        }

    def summary(self) -> str:
        lv = self.engineering_years.level
        lines = [f"Value per tool ({lv:.0%} intervals)",
                 f"  {'tool':<18}{'CTS-SW':>8}{'eng-years':>10}  {'interval':<18}{'net dollars':>12}"]
        for k, v in self.per_tool.items():
            e = v.engineering_years
            lines.append(f"  {k:<18}{v.cts_change.estimate:>+8.1%}{e.estimate:>10,.1f}  " + f"[{e.ci_low:,.1f}, {e.ci_high:,.1f}]".ljust(18)
                         + f"{v.net_dollars.estimate:>12,.0f}")
        e, n = self.engineering_years, self.net_dollars
        lines.append(f"  {'all tools':<18}{'':>8}{e.estimate:>10,.1f}  " + f"[{e.ci_low:,.1f}, {e.ci_high:,.1f}]".ljust(18) + f"{n.estimate:>12,.0f}")
        lines.append(f"  net dollars of all tools: {n.estimate:,.0f} [{n.ci_low:,.0f}, {n.ci_high:,.0f}] after licences of {sum(self.license_cost.values()):,.0f}")
        return "\n".join(lines)


def value_tools(
    result: AttributionResult,
    panel: pd.DataFrame,
    *,
    builders: str = "builders",
    baseline_units_per_builder_week: float = 1.0,
    license_per_seat_month: Mapping[str, float] | None = None,
    license_cost: Mapping[str, float] | None = None,
    weeks_per_year: float = WEEKS_PER_YEAR,
    loaded_annual_cost: float = LOADED_ANNUAL_COST,
) -> ToolsValue:
    """Value each tool's effect and the total.

    Parameters
    ----------
    result : AttributionResult
    panel : pandas.DataFrame
        The panel the effects were estimated on; ``builders`` times each tool's
        share gives its treated builder-weeks.
    baseline_units_per_builder_week : float, default 1.0
        1.0 for an outcome normalised to the pre-tool mean.
    license_per_seat_month : mapping of tool to dollars, optional
        Licence price per seat-month; seat-weeks are builder-weeks times share,
        52/12 weeks per month.
    license_cost : mapping of tool to dollars, optional
        Total licence cost of a tool over the period (overrides the price).
    weeks_per_year, loaded_annual_cost : float
    """
    if builders not in panel.columns:
        raise ConfigError(f"column {builders!r} not in the panel")
    prices = dict(license_per_seat_month or {})
    totals = dict(license_cost or {})
    unknown = sorted((set(prices) | set(totals)) - set(result.tools))
    if unknown:
        raise ConfigError(f"licence given for {unknown}, which are not among the tools {result.tools}")
    b = panel[builders].fillna(0).to_numpy(dtype=float)
    per_tool: dict[str, ValueTranslation] = {}
    lic: dict[str, float] = {}
    tbw = {}
    for t in result.tools:
        tbw[t] = float((b * panel[t].fillna(0).clip(0, 1).to_numpy(dtype=float)).sum())
        lic[t] = float(totals[t]) if t in totals else float(prices.get(t, 0.0)) * tbw[t] * 12 / 52
        per_tool[t] = translate(result.effect(t), baseline_units_per_builder_week=baseline_units_per_builder_week,
                                treated_builder_weeks=tbw[t], weeks_per_year=weeks_per_year,
                                loaded_annual_cost=loaded_annual_cost, license_cost=lic[t])
    D = result.params[result.tools].to_numpy(dtype=float) / baseline_units_per_builder_week
    V = result.vcov.loc[result.tools, result.tools].to_numpy(dtype=float) / baseline_units_per_builder_week**2
    scale = np.array([tbw[t] for t in result.tools]) / weeks_per_year
    years = float(np.sum(scale * D / (1 + D)))
    grad = scale / (1 + D) ** 2
    se = float(np.sqrt(max(grad @ V @ grad, 0.0)))
    crit = float(stats.t.ppf(0.5 + result.level / 2, result.df_resid)) if result.df_resid else float(stats.norm.ppf(0.5 + result.level / 2))
    lv = result.level
    ey = Estimate(years, se, years - crit * se, years + crit * se, lv)
    gross = Estimate(years * loaded_annual_cost, se * loaded_annual_cost, ey.ci_low * loaded_annual_cost, ey.ci_high * loaded_annual_cost, lv)
    L = sum(lic.values())
    net = Estimate(gross.estimate - L, gross.std_error, gross.ci_low - L, gross.ci_high - L, lv)
    return ToolsValue(per_tool, ey, gross, net, lic)
