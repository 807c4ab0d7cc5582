"""A tool's effect: fit the estimator families, run their checks, value the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, CtsswError, EstimationError, MissingDataError
from ..estimators import Estimate, dynamic_panel, translate
from ..estimators.results import jsonable
from ..simulate import TOOL
from ._credible import MIN_ADOPTERS, credibility, usable_covariates, value_unit
from ._did_impact import impact_did
from ._dynamic_impact import impact_dynamic

__all__ = ["DEFAULT_COVARIATES", "DEFAULT_OUTCOME", "ToolEffect", "impact", "impact_from_store", "rollout_share", "tool_effect"]

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
    covariates: tuple[str, ...] = DEFAULT_COVARIATES,
    min_adopters: int = MIN_ADOPTERS,
) -> dict:
    """A tool's effect by the dynamic panel model and by staggered DiD, checked and valued.

    ``dynamic`` and ``did`` name a method of each family, ``"all"``, or ``None``
    to skip the family. Every estimator that runs is shown; one that cannot run is listed
    under ``skipped`` with its reason. Covariates without data or constant are dropped with a
    note. The estimates are valued (CTS-SW, engineering-years, dollars) only when they are
    credible and the outcome is in the CTS-SW unit (:mod:`._credible`); otherwise ``verdict``
    says why the value is withheld.
    """
    res: dict = {"tool": tool, "outcome": outcome, "skipped": {}, "notes": []}
    covs, notes = usable_covariates(panel, covariates, outcome)
    res["notes"] += notes
    costs = {"loaded_annual_cost": loaded_annual_cost, "weeks_per_year": weeks_per_year,
             "license_cost": float(panel["license_cost"].sum())}
    if dynamic:
        try:
            res["dynamic"] = impact_dynamic(panel, tool=tool, method=dynamic, outcome=outcome, costs=costs, covariates=covs)
            res["skipped"].update({f"dynamic {m}": e for m, e in res["dynamic"].get("errors", {}).items()})
        except CtsswError as e:
            res["skipped"]["dynamic" if dynamic == "all" else dynamic] = str(e)
    if did:
        try:
            d = impact_did(panel, tool=tool, method=did, outcome=outcome, threshold=threshold)
            res["did"] = d
            res["skipped"].update({f"DiD {m}": e["error"] for m, e in d["estimates"].items() if "error" in e})
        except CtsswError as e:
            res["skipped"]["DiD" if did == "all" else did] = str(e)
    if "dynamic" not in res and "did" not in res:
        raise EstimationError("no estimator ran: " + "; ".join(f"{k}: {v}" for k, v in res["skipped"].items()))
    why = credibility(res, panel, outcome, min_adopters=min_adopters)
    unit_why = value_unit(panel, outcome)
    res["credible"] = not why
    res["not_credible_because"] = why
    withheld = ("not credible: " + "; ".join(why)) if why else unit_why
    if withheld:
        res["value_withheld"] = withheld
        if "dynamic" in res:
            res["dynamic"]["value"] = None
            text = res["dynamic"]["text"]
            cut = text.find("\n\nValued with ")
            res["dynamic"]["text"] = (text[:cut] if cut >= 0 else text) + f"\n\nValue withheld: {withheld}."
    elif "did" in res:
        first = "cs" if "att" in res["did"]["estimates"].get("cs", {}) else next(
            (m for m, e in res["did"]["estimates"].items() if "att" in e), None)
        att = res["did"]["estimates"][first].get("att") if first else None
        if att and att.get("estimate") is not None:
            adopted = panel.groupby("team_id")["ai_share"].transform(lambda s: (s >= threshold).cummax())
            try:
                res["did_value"] = translate(
                    Estimate(att["estimate"], att["std_error"], att["ci_low"], att["ci_high"], att["level"]),
                    baseline_units_per_builder_week=1.0,
                    treated_builder_weeks=float(panel.loc[adopted, "builder_weeks"].sum()),
                    weeks_per_year=weeks_per_year,
                    loaded_annual_cost=loaded_annual_cost,
                    license_cost=float(panel.loc[adopted, "license_cost"].sum()),
                ).to_dict()
                res["did_value"]["method"] = first
            except CtsswError as e:
                res["value_withheld"] = str(e)
    res["verdict"] = _verdict(res)
    return jsonable(res)


def _verdict(res: dict) -> str:
    ran = [f"dynamic {m}" for m in (res.get("dynamic") or {}).get("estimates", {})]
    ran += [f"DiD {m}" for m, e in (res.get("did") or {}).get("estimates", {}).items() if "att" in e]
    head = f"Estimators that ran: {', '.join(ran) or 'none'}."
    did = res.get("did") or {}
    dropped = [n for n in did.get("notes", []) if "dropped" in n and "unit" in n]
    if did.get("adoption"):
        a = did["adoption"]
        head += (f" DiD compared {a['adopted_teams']} adopting and {a['never_adopted_teams']} never-adopting teams"
                 + (f" ({'; '.join(dropped)})." if dropped else "."))
    if res["skipped"]:
        head += " Not run: " + "; ".join(f"{k} ({v})" for k, v in res["skipped"].items()) + "."
    if not res["credible"]:
        return head + " Not credible: " + "; ".join(res["not_credible_because"]) + ". No value in engineering-years or dollars is given."
    if res.get("value_withheld"):
        return head + f" Value withheld: {res['value_withheld']}."
    return head + " The checks raise no objection to valuing the effect."


def rollout_share(panel: pd.DataFrame, rollout: pd.DataFrame) -> pd.DataFrame:
    """``ai_share`` from explicit rollout dates: 1 from each listed team's rollout week on, else 0."""
    if rollout.empty:
        raise ConfigError("the rollout file lists no team: expected rows of team,date")
    start = dict(zip(rollout["team_id"].astype(str), pd.to_datetime(rollout["adoption_week"])))
    unknown = sorted(set(start) - set(panel["team_id"].astype(str)))
    p = panel.copy()
    when = pd.to_datetime(p["team_id"].astype(str).map(start))
    p["ai_share"] = (when.notna() & (p["week"] >= when)).astype(float)
    p["ai_active"] = p["ai_share"] * p["builders"]
    if unknown:
        import warnings

        from ..errors import DataWarning

        warnings.warn(f"rollout file names team(s) not in the panel: {', '.join(unknown[:8])}", DataWarning, stacklevel=2)
    return p


def impact_from_store(
    db: str | Path,
    *,
    tool: str = "assistant",
    panel_file: str | Path | None = None,
    rollout: str | Path | None = None,
    loaded_annual_cost: float = 200_000.0,
    weeks_per_year: float = 52.0,
    backend: str = "duckdb",
    spark_url: str | None = None,
    lake: str | Path | None = None,
    **kw,
) -> dict:
    """:func:`impact` on the panel of the store at ``db`` (or a panel file written by ``ctssw panel``).

    ``rollout``: a CSV of ``team,date`` rollout dates (:func:`ctssw.estimators.rollout_cohorts`); the
    tool's adoption is then 1 from each listed team's rollout week on, whatever the usage data say.
    ``backend`` builds the panel on DuckDB or Spark; the estimators receive it as pandas either way.
    """
    from ..panel import panel, read_panel
    from ..store import check_lake, open_lake

    check_lake(backend, lake)
    if panel_file is not None:
        p = read_panel(panel_file)
    elif backend != "duckdb":
        from ..panel.backend import connect
        from ._shared import section_panel

        con, close = connect(backend, db=db, spark_url=spark_url, lake=lake)
        try:
            p = section_panel(con, tool=tool, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year)
        finally:
            close()
    else:
        with open_lake(lake, db=db) as store:
            p = panel(store.ibis(), tool=tool, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year)
    if p.empty:
        raise MissingDataError(f"the store {db} holds no team-weeks; see ctssw status")
    if rollout is not None:
        from ..estimators import rollout_cohorts

        p = rollout_share(p, rollout_cohorts(rollout, out_col="adoption_week"))
    if p["ai_active"].sum() == 0:
        raise ConfigError(_unused(tool, (db, lake), panel_file))
    return impact(p, tool=tool, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year, **kw)


def _unused(tool: str, store: tuple, panel_file=None) -> str:
    """Why no team-week has a member active with ``tool``, in one line: the panel file was built
    without it, the store ``(db, lake)`` holds no usage of it, or holds usage only by people in
    no team's roster on those days."""
    from ..store import open_lake

    then = "give rollout dates (ctssw impact --rollout FILE, a CSV of team,date); see ctssw status"
    if panel_file is not None:
        return (f"no team-week of {panel_file} has a member active with its tool: build it with "
                f"ctssw panel --tool {tool}, or {then}")
    days = people = 0
    try:
        with open_lake(store[1], db=store[0]) as s:
            days, people = s.con.execute(
                "SELECT count(DISTINCT day), count(DISTINCT builder_id) FROM tool_usage "
                "WHERE active AND (tool = ? OR starts_with(tool, ?))", [tool, tool + ":"]
            ).fetchall()[0]
    except CtsswError:  # a lake only Spark reads: the general sentence
        pass
    if days:
        return (
            f"tool {tool!r} was used on {days} day(s) by {people} person(s) in the store, but never by a member of "
            f"a team on those days: load a roster that covers them (ctssw ingest roster) or {then}"
        )
    return f"no usage of tool {tool!r} in the store: ingest it (ctssw ingest copilot or qdev) or {then}"
