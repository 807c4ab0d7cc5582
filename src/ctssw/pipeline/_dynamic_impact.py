"""The dynamic panel family of ``ctssw impact``: every method side by side, checks, value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..errors import ConfigError, CtsswError, EstimationError
from ..estimators import exogeneity_checks as exo_checks
from ..estimators.dynamic import (
    METHODS,
    DynamicResult,
    compare_rows,
    compare_text,
    dynamic_panel,
)
from ..estimators.results import jsonable
from ..estimators.value import LOADED_ANNUAL_COST, WEEKS_PER_YEAR
from ..estimators.value import translate as _translate

__all__ = ["IMPACT_METHODS", "RECOMMENDED", "impact_dynamic", "render_impact"]

IMPACT_METHODS = ("fe", "jackknife", "diff-gmm", "sys-gmm", "all")
RECOMMENDED = "jackknife"


def impact_dynamic(
    panel_df: pd.DataFrame,
    *,
    tool: str = "assistant",
    method: str = "fe",
    outcome: str = "deploys_per_builder_norm",
    treatment: str = "ai_share",
    covariates: Sequence[str] = ("rollback_rate", "interventions_per_deploy"),
    costs: dict[str, float] | None = None,
    unit: str = "team_id",
    time: str = "week",
    level: float = 0.95,
) -> dict[str, Any]:
    """Estimate a tool's effect on delivery with the dynamic model, check it, and value it.

    Parameters
    ----------
    panel_df : pandas.DataFrame
        Team-week panel with ``outcome``, ``treatment``, ``covariates``,
        ``builders``, ``unit`` and ``time`` columns.
    tool : str
        Name of the tool, for labels.
    method : {"fe", "jackknife", "diff-gmm", "sys-gmm", "all"}
        ``"all"`` fits every method side by side and values the recommended one
        (:data:`RECOMMENDED`).
    outcome : str
        Units per builder-week; an outcome ending in ``_norm`` is taken as
        normalised to the pre-adoption mean (baseline 1.0), any other is
        divided by its mean over weeks without the tool.
    treatment : str
        Adoption share column.
    covariates : sequence of str
    costs : dict, optional
        ``loaded_annual_cost`` (default 200,000), ``weeks_per_year`` (52),
        ``license_cost`` (total dollars, default 0) or ``license_per_seat_month``
        (dollars per seat-month, with seat-weeks from a ``seats`` column or
        ``builders * treatment``, and 52/12 weeks per month).
    unit, time : str
    level : float

    Returns
    -------
    dict
        JSON-safe: ``tool``, ``method``, ``estimates`` (one entry per method,
        each the result's ``to_dict()``), ``comparison`` (rows of
        :func:`compare`), ``checks`` (exogeneity), ``value`` (of the valued
        method's long-run effect), ``settings``.
    """

    if method not in IMPACT_METHODS:
        raise ConfigError(f"unknown method {method!r}; allowed: {list(IMPACT_METHODS)}")
    costs = dict(costs or {})
    allowed_costs = {"loaded_annual_cost", "weeks_per_year", "license_cost", "license_per_seat_month"}
    extra = sorted(set(costs) - allowed_costs)
    if extra:
        raise ConfigError(f"unknown cost settings {extra}; allowed: {sorted(allowed_costs)}")
    if "license_cost" in costs and "license_per_seat_month" in costs:
        raise ConfigError("give license_cost or license_per_seat_month, not both")
    for c in ("builders",):
        if c not in panel_df.columns:
            raise ConfigError(f"column {c!r} not in the panel")
    x = [treatment, *covariates]
    methods = list(METHODS) if method == "all" else [method]
    kw = dict(y=outcome, x=x, unit=unit, time=time, level=level, treatment=treatment)
    fits: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for m in methods:
        try:
            fits[m] = dynamic_panel(panel_df, method=m, **kw)
        except EstimationError as exc:
            errors[m] = str(exc)
    valued = RECOMMENDED if method == "all" else method
    if valued not in fits and method == "all" and fits:
        valued = next(iter(fits))  # the recommended method failed; value the first that ran
    if valued not in fits:
        raise EstimationError(f"method {valued!r} failed: {errors.get(valued)}")
    exo = exo_checks(panel_df, treatment=treatment, covariates=list(covariates), y=outcome, unit=unit, time=time)

    share = panel_df[treatment].fillna(0).clip(lower=0).to_numpy(dtype=float)
    builders = panel_df["builders"].fillna(0).to_numpy(dtype=float)
    treated_weeks = float((builders * share).sum())
    weeks_per_year = float(costs.get("weeks_per_year", WEEKS_PER_YEAR))
    if "license_per_seat_month" in costs:
        seat_weeks = float(panel_df["seats"].sum()) if "seats" in panel_df.columns else treated_weeks
        license_cost = float(costs["license_per_seat_month"]) * seat_weeks * 12 / 52
    else:
        license_cost = float(costs.get("license_cost", 0.0))
    if outcome.endswith("_norm"):
        baseline = 1.0
    else:
        base = panel_df.loc[share == 0, outcome]
        baseline = float(base.mean())
    try:
        value = _translate(
            fits[valued].long_run[treatment],
            baseline_units_per_builder_week=baseline,
            treated_builder_weeks=treated_weeks,
            weeks_per_year=weeks_per_year,
            loaded_annual_cost=float(costs.get("loaded_annual_cost", LOADED_ANNUAL_COST)),
            license_cost=license_cost,
        )
    except CtsswError as e:  # e.g. an effect at or below -100% leaves CTS-SW undefined
        value = None
        errors["value"] = str(e)
    comparison = compare_rows(fits)
    return jsonable(
        {
            "tool": tool,
            "method": method,
            "valued_method": valued,
            "outcome": outcome,
            "treatment": treatment,
            "covariates": list(covariates),
            "estimates": {m: f.to_dict() for m, f in fits.items()},
            "errors": errors,
            "comparison": comparison.to_dict(orient="records"),
            "checks": exo.to_dict(),
            "value": value.to_dict() if value is not None else None,
            "settings": {"level": level, "unit": unit, "time": time, "baseline_units_per_builder_week": baseline},
            "text": render_impact(fits, exo, value, tool=tool, valued=valued),
        }
    )



def render_impact(fits: dict[str, DynamicResult], exo, value, *, tool: str, valued: str) -> str:
    """Plain-text report of :func:`impact_dynamic`."""
    lines = [f"Impact of {tool} on delivery (dynamic two-way panel model)", ""]
    lines.append(compare_text(compare_rows(fits)))
    for m, fit in fits.items():
        for name, est in fit.long_run.items():
            lines.append(f"{m}: long-run effect of full {name} = {est.estimate:+.4f} [{est.ci_low:+.4f}, {est.ci_high:+.4f}]")
        for w in fit.warnings:
            lines.append(f"{m}: warning: {w}")
    lines += ["", exo.summary()]
    if value is not None:
        lines += ["", f"Valued with {valued}:", value.summary()]
    return "\n".join(lines)
