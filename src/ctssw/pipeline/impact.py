"""A tool's effect: fit the estimator families, run their checks, value the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..estimators import Estimate, dynamic_panel, translate
from ..estimators.results import jsonable
from ..simulate import TOOL
from ._did_impact import impact_did
from ._dynamic_impact import impact_dynamic

__all__ = ["DEFAULT_COVARIATES", "DEFAULT_OUTCOME", "ToolEffect", "impact", "impact_from_store", "tool_effect"]

DEFAULT_OUTCOME = "deploys_per_builder_norm"
DEFAULT_COVARIATES = ("rollback_rate", "interventions_per_deploy")


@dataclass(frozen=True)
class ToolEffect:
    """The first causal estimate: the article's dynamic two-way FE model and its value."""

    fit: object  # DynamicResult
    long_run: Estimate
    short_run: Estimate
    value: object  # ValueTranslation
    outcome: str
    treatment: str

    def to_dict(self) -> dict:
        return {
            "model": self.fit.to_dict(),
            "short_run": self.short_run.to_dict(),
            "long_run": self.long_run.to_dict(),
            "value": self.value.to_dict(),
            "outcome": self.outcome,
            "treatment": self.treatment,
        }


def tool_effect(
    panel: pd.DataFrame,
    *,
    treatment: str = "ai_share",
    outcome: str = DEFAULT_OUTCOME,
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    loaded_annual_cost: float = 200_000.0,
    weeks_per_year: float = 52.0,
) -> ToolEffect:
    """Fit ``outcome ~ L.outcome + treatment + covariates | team + week`` and value the effect.

    The outcome is normalised to each team's pre-adoption mean, so the long-run
    coefficient is the relative change in units per builder-week at full
    adoption, which the value translation turns into CTS-SW, engineering-years
    and dollars (net of the licence cost in the panel).
    """
    fit = dynamic_panel(panel, y=outcome, x=[treatment, *covariates], unit="team_id", time="week", method="fe")
    lr = fit.long_run[treatment]
    ci = fit.conf_int(0.95).loc[treatment]
    sr = Estimate(float(fit.params[treatment]), float(fit.std_errors[treatment]), float(ci["lower"]), float(ci["upper"]))
    treated_bw = float((panel["builder_weeks"] * panel[treatment].fillna(0)).sum())
    value = translate(
        lr,
        baseline_units_per_builder_week=1.0,
        treated_builder_weeks=treated_bw,
        weeks_per_year=weeks_per_year,
        loaded_annual_cost=loaded_annual_cost,
        license_cost=float(panel["license_cost"].sum()),
    )
    return ToolEffect(fit=fit, long_run=lr, short_run=sr, value=value, outcome=outcome, treatment=treatment)


def impact(
    panel: pd.DataFrame,
    *,
    tool: str = TOOL,
    dynamic: str | None = "all",
    did: str | None = "all",
    outcome: str = DEFAULT_OUTCOME,
    threshold: float = 0.5,
    loaded_annual_cost: float = 200_000.0,
    weeks_per_year: float = 52.0,
) -> dict:
    """A tool's effect by the dynamic panel model and by staggered DiD, checked and valued.

    ``dynamic`` and ``did`` name a method of each family, ``"all"``, or ``None``
    to skip the family. The DiD average effect on the adopted team-weeks is
    valued like the dynamic model's: the outcome is normalised, so the ATT is a
    relative change in units per builder-week.
    """
    res: dict = {"tool": tool, "outcome": outcome}
    costs = {"loaded_annual_cost": loaded_annual_cost, "weeks_per_year": weeks_per_year,
             "license_cost": float(panel["license_cost"].sum())}
    if dynamic:
        res["dynamic"] = impact_dynamic(panel, tool=tool, method=dynamic, outcome=outcome, costs=costs)
    if did:
        d = impact_did(panel, tool=tool, method=did, outcome=outcome, threshold=threshold)
        res["did"] = d
        first = "cs" if "cs" in d["estimates"] else next(iter(d["estimates"]))
        att = d["estimates"][first].get("att")
        if att and att.get("estimate") is not None:
            adopted = panel.groupby("team_id")["ai_share"].transform(lambda s: (s >= threshold).cummax())
            res["did_value"] = translate(
                Estimate(att["estimate"], att["std_error"], att["ci_low"], att["ci_high"], att["level"]),
                baseline_units_per_builder_week=1.0,
                treated_builder_weeks=float(panel.loc[adopted, "builder_weeks"].sum()),
                weeks_per_year=weeks_per_year,
                loaded_annual_cost=loaded_annual_cost,
                license_cost=float(panel.loc[adopted, "license_cost"].sum()),
            ).to_dict()
            res["did_value"]["method"] = first
    return jsonable(res)




def impact_from_store(
    db: str | Path,
    *,
    tool: str = "assistant",
    panel_file: str | Path | None = None,
    loaded_annual_cost: float = 200_000.0,
    weeks_per_year: float = 52.0,
    backend: str = "duckdb",
    spark_url: str | None = None,
    **kw,
) -> dict:
    """:func:`impact` on the panel of the store at ``db`` (or a panel file written by ``ctssw panel``);
    ``backend`` builds the panel on DuckDB or Spark, and the estimators receive it as pandas either way."""
    from ..panel import panel, read_panel
    from ..store import Store

    if panel_file is not None:
        p = read_panel(panel_file)
    elif backend != "duckdb":
        from ..panel.backend import connect

        con, close = connect(backend, db=db, spark_url=spark_url)
        try:
            p = panel(con, tool=tool, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year)
        finally:
            close()
    else:
        with Store(db, read_only=True) as store:
            p = panel(store.ibis(), tool=tool, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year)
    if p.empty:
        raise ConfigError(f"the store {db} holds no team-weeks")
    if p["ai_active"].sum() == 0:
        raise ConfigError(f"no usage of tool {tool!r} in the store")
    return impact(p, tool=tool, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year, **kw)
