"""Translate an effect on delivery into CTS-SW, engineering-years and dollars (DESIGN §4).

An effect ``D`` is a relative change in units of software per builder-week
(``D = 0.08``: 8% more deployments per builder-week). Then

* CTS-SW (builder-weeks per unit) changes by ``1 / (1 + D) - 1``;
* the treated builder-weeks would have needed ``1 / (1 + D)`` as many weeks for
  the same output, so engineering-years saved are
  ``treated_builder_weeks * (1 - 1 / (1 + D)) / weeks_per_year``;
* dollars saved are ``engineering_years * loaded_annual_cost - license_cost``.

All three are monotone in ``D``, so each interval is the effect's interval
mapped through the transform (endpoints swap where the transform decreases);
the reported standard errors are delta-method approximations, for reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, EstimationError
from .results import Estimate, jsonable

__all__ = ["ValueSettings", "ValueTranslation", "translate"]

WEEKS_PER_YEAR = 52
LOADED_ANNUAL_COST = 200_000.0


@dataclass(frozen=True)
class ValueSettings:
    """Inputs of the translation.

    Attributes
    ----------
    baseline_units_per_builder_week : float
        Units per builder-week without the tool. An effect in absolute units is
        divided by it; for an outcome normalised to each team's pre-adoption mean
        it is 1.0.
    treated_builder_weeks : float
        Builder-weeks worked with the tool (calendar weeks of membership).
    weeks_per_year : float, default 52
        Builder-weeks in an engineering-year. Builder-weeks count calendar
        weeks of team membership, so a year is 52 of them; holidays are in the
        loaded cost, not here.
    loaded_annual_cost : float, default 200,000
        Fully loaded cost of one engineering-year, in dollars.
    license_cost : float, default 0
        Total licence cost of the tool over the same builder-weeks, in dollars.
    """

    baseline_units_per_builder_week: float
    treated_builder_weeks: float
    weeks_per_year: float = WEEKS_PER_YEAR
    loaded_annual_cost: float = LOADED_ANNUAL_COST
    license_cost: float = 0.0


@dataclass(frozen=True)
class ValueTranslation:
    """An effect expressed as CTS-SW change, capacity and money.

    Attributes
    ----------
    relative_effect : Estimate
        ``D``, the relative change in units per builder-week.
    cts_change : Estimate
        Relative change in CTS-SW, ``1/(1+D) - 1`` (negative is cheaper).
    engineering_years : Estimate
        Engineering-years saved over the treated builder-weeks.
    gross_dollars, net_dollars : Estimate
        Value of those years at the loaded cost, before and after licences.
    settings : ValueSettings
    warnings : list of str
    """

    relative_effect: Estimate
    cts_change: Estimate
    engineering_years: Estimate
    gross_dollars: Estimate
    net_dollars: Estimate
    settings: ValueSettings
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relative_effect": self.relative_effect.to_dict(),
            "cts_change": self.cts_change.to_dict(),
            "engineering_years": self.engineering_years.to_dict(),
            "gross_dollars": self.gross_dollars.to_dict(),
            "net_dollars": self.net_dollars.to_dict(),
            "settings": jsonable(dict(self.settings.__dict__)),
            "interval_method": "effect interval mapped through monotone transforms; std_error by the delta method",
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        s = self.settings
        lv = self.relative_effect.level

        def row(name: str, e: Estimate, fmt: str) -> str:
            return f"  {name:<28}{format(e.estimate, fmt):>16}   [{format(e.ci_low, fmt)}, {format(e.ci_high, fmt)}]"

        lines = [
            f"Value of the effect ({lv:.0%} intervals)",
            row("Units per builder-week", self.relative_effect, "+.2%"),
            row("CTS-SW", self.cts_change, "+.2%"),
            row("Engineering-years saved", self.engineering_years, ",.1f"),
            row("Dollars saved (gross)", self.gross_dollars, ",.0f"),
            row("Dollars saved (net)", self.net_dollars, ",.0f"),
            f"  over {s.treated_builder_weeks:,.0f} treated builder-weeks, {s.weeks_per_year:g} weeks per year, "
            f"${s.loaded_annual_cost:,.0f} loaded per year, licences ${s.license_cost:,.0f}",
        ]
        lines.extend(f"  Warning: {w}" for w in self.warnings)
        return "\n".join(lines)


    def _blocks(self) -> list:
        from .presentation import value_blocks

        return value_blocks(self)

    def __str__(self) -> str:
        from .display import render_text

        return render_text("Value of the effect", self._blocks())

    def _repr_html_(self) -> str:
        from .display import render_html

        return render_html("Value of the effect", self._blocks())

    def plot(self):
        """Waterfall in dollars: capacity freed (gross, with its interval), licences, net value.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plots import value_steps, waterfall

        return waterfall(value_steps(self), ylabel="dollars over the period", title="Value of the effect")


def _map(e: Estimate, f, df) -> Estimate:
    lo, hi = f(e.ci_low), f(e.ci_high)
    if lo > hi:
        lo, hi = hi, lo
    return Estimate(f(e.estimate), abs(df(e.estimate)) * e.std_error, lo, hi, e.level)


def translate(
    effect: Estimate,
    *,
    baseline_units_per_builder_week: float,
    treated_builder_weeks: float,
    weeks_per_year: float = WEEKS_PER_YEAR,
    loaded_annual_cost: float = LOADED_ANNUAL_COST,
    license_cost: float = 0.0,
) -> ValueTranslation:
    """Express an effect on units per builder-week as CTS-SW, engineering-years and dollars.

    Parameters
    ----------
    effect : Estimate
        Effect on units per builder-week in the outcome's own units (e.g. the
        long-run effect from :func:`ctssw.estimators.dynamic.dynamic_panel`).
        It is divided by ``baseline_units_per_builder_week`` to give the
        relative effect ``D``; pass 1.0 for an outcome normalised to its
        pre-adoption mean, or for an effect that is already relative.
    baseline_units_per_builder_week : float
        Positive.
    treated_builder_weeks : float
        Builder-weeks worked with the tool; calendar weeks of membership.
    weeks_per_year : float, default 52
    loaded_annual_cost : float, default 200,000
    license_cost : float, default 0
        Licence cost over the same builder-weeks, subtracted from the gross value.

    Returns
    -------
    ValueTranslation

    Examples
    --------
    >>> v = translate(Estimate(0.08, 0.02, 0.04, 0.12), baseline_units_per_builder_week=1.0,
    ...               treated_builder_weeks=52_000)
    >>> round(v.engineering_years.estimate, 2)
    74.07
    """
    for name, val, lo in (
        ("baseline_units_per_builder_week", baseline_units_per_builder_week, 0.0),
        ("weeks_per_year", weeks_per_year, 0.0),
    ):
        if not isinstance(val, (int, float)) or not val > lo or not math.isfinite(val):
            raise ConfigError(f"{name} must be a positive number, got {val!r}")
    for name, val in (("treated_builder_weeks", treated_builder_weeks), ("loaded_annual_cost", loaded_annual_cost), ("license_cost", license_cost)):
        if not isinstance(val, (int, float)) or val < 0 or not math.isfinite(val):
            raise ConfigError(f"{name} must be a non-negative number, got {val!r}")
    if not isinstance(effect, Estimate):
        raise ConfigError("effect must be an Estimate")
    settings = ValueSettings(float(baseline_units_per_builder_week), float(treated_builder_weeks), float(weeks_per_year), float(loaded_annual_cost), float(license_cost))
    b = settings.baseline_units_per_builder_week
    rel = Estimate(effect.estimate / b, effect.std_error / b, effect.ci_low / b, effect.ci_high / b, effect.level)
    if not math.isfinite(rel.estimate) or rel.estimate <= -1:
        raise EstimationError(f"a relative effect of {rel.estimate:.4g} leaves no output; CTS-SW is undefined")
    warnings: list[str] = []
    if rel.ci_low <= -1:
        warnings.append("the effect's interval reaches -100%; the upper bound on the CTS-SW change is unbounded")

    def cts(d: float) -> float:
        return 1.0 / (1.0 + d) - 1.0 if d > -1 else math.inf

    def dcts(d: float) -> float:
        return -1.0 / (1.0 + d) ** 2

    years_per_saving = settings.treated_builder_weeks / settings.weeks_per_year

    def years(d: float) -> float:
        return -cts(d) * years_per_saving

    def dyears(d: float) -> float:
        return -dcts(d) * years_per_saving

    cts_e = _map(rel, cts, dcts)
    years_e = _map(rel, years, dyears)
    cost = settings.loaded_annual_cost
    gross = Estimate(years_e.estimate * cost, years_e.std_error * cost, years_e.ci_low * cost, years_e.ci_high * cost, rel.level)
    lic = settings.license_cost
    net = Estimate(gross.estimate - lic, gross.std_error, gross.ci_low - lic, gross.ci_high - lic, rel.level)
    return ValueTranslation(rel, cts_e, years_e, gross, net, settings, tuple(warnings))
