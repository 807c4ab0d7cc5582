"""Report pipelines: read a store for the interactive report and write it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import report
from ..estimators import DriversResult

__all__ = ["adoption_by_feature", "store_report_inputs", "tools_for_report", "write_store_report"]


def adoption_by_feature(con) -> pd.DataFrame:
    """Builders active with each tool and feature per week, summed over teams.

    From :func:`ctssw.panel.tool_shares` (``claude:git`` counts as ``claude``; a builder is counted
    on the teams they belong to that week). A tool's ``all`` row becomes "any feature", kept only
    when the tool records more than one feature (with one, it repeats that feature's line).
    Columns ``week, tool, feature, active``; empty when the store has no members or no usage.
    """
    from ..errors import CtsswError
    from ..panel import tool_shares

    empty = pd.DataFrame({"week": pd.Series(dtype="datetime64[ns]"), "tool": pd.Series(dtype=str),
                          "feature": pd.Series(dtype=str), "active": pd.Series(dtype=float)})
    try:
        sh = tool_shares(con)
    except CtsswError:
        return empty
    if sh.empty:
        return empty
    a = sh.groupby(["week", "tool", "feature"], as_index=False)["active_builders"].sum().rename(columns={"active_builders": "active"})
    features = a[a["feature"] != "all"].groupby("tool")["feature"].nunique()
    keep_all = a["tool"].map(features).fillna(0) != 1
    a = a[(a["feature"] != "all") | keep_all].copy()
    a["feature"] = a["feature"].replace({"all": "any feature"})
    return a.reset_index(drop=True)


def store_report_inputs(store, panel: pd.DataFrame | None = None) -> dict:
    """What the interactive report reads from a store besides the metrics.

    Returns ``teams_meta`` (the teams table), ``adoption`` (builders active with each
    tool, and each feature where the store records one, per week, beside the
    organisation's headcount) and ``status``: a plain dict of the store's health
    (rows per table, quarantined rows by reason, teams inferred from activity, and
    team-weeks where CTS-SW could not be computed, with why).
    """
    con = store.ibis()
    teams_meta = con.table("teams").to_pandas()
    adoption = adoption_by_feature(con)
    status: dict = {"rows_per_table": [{"table": t, "rows": n} for t, n in store.counts().items()]}
    q = store.con.execute("SELECT table_name, reason, count(*) AS n FROM quarantine GROUP BY ALL ORDER BY n DESC").fetchall()
    status["quarantined_rows_by_reason"] = [{"table": t, "reason": r, "rows": n} for t, r, n in q] or ["none"]
    rostered = int(store.con.execute("SELECT count(*) FROM teams").fetchall()[0][0])
    status["teams_in_roster"] = rostered
    if panel is not None and len(panel):
        hc = panel.groupby("week")["headcount"].sum().rename("headcount").reset_index()
        adoption = adoption.assign(week=pd.to_datetime(adoption["week"])).merge(hc.assign(week=pd.to_datetime(hc["week"])), on="week")
        status["teams_in_panel"] = int(panel["team_id"].nunique())
        status["teams_inferred_from_activity"] = int(len(set(panel["team_id"]) - set(teams_meta["team_id"])))
        why = panel["cts_sw_reason"].dropna().value_counts()
        status["cts_sw_not_computed"] = [{"reason": r, "team_weeks": int(n)} for r, n in why.items()] or ["none"]
    else:
        adoption = adoption.iloc[0:0].assign(headcount=[])
    return {"teams_meta": teams_meta, "adoption": adoption, "status": status}


def tools_for_report(db: str | Path, tools: list[str], *, method: str = "jackknife", k: int = report.DEFAULT_K,
                     **kw) -> tuple[dict | None, dict[str, str]]:
    """Several tools in one model with the baseline decomposition, for the report's two sections.

    :func:`ctssw.pipeline.attribute_from_store` with ``decompose=True``; ``kw`` passes on
    (``panel_file``, ``license``, ``since``, ``until``, ``window``, ...). When the
    half-panel jackknife cannot be fitted (a tool not used in both halves of the history),
    the within estimator is used instead. Returns the result, or None, and the sentences
    for the sections it cannot fill (``tools``, ``explain``).
    """
    from ..errors import CtsswError, EstimationError
    from .attribution import attribute_from_store

    try:
        try:
            res = attribute_from_store(db, tools, method=method, decompose=True, k=k, **kw)
        except EstimationError:
            if method != "jackknife":
                raise
            res = attribute_from_store(db, tools, method="fe", decompose=True, k=k, **kw)
    except CtsswError as e:
        why = f"{', '.join(tools)} in one model: {e}"
        return None, {"tools": why, "explain": f"it needs the tools' effects, and {why}"}
    return res, {}


def write_store_report(
    db: str | Path,
    path: str | Path,
    *,
    impact: dict | None = None,
    drivers: DriversResult | None = None,
    tools: dict | None = None,
    status: dict | None = None,
    missing: dict[str, str] | None = None,
    title: str = "Cost to serve software",
    subtitle: str = "",
    unit: str = "deployment",
    k: int = report.DEFAULT_K,
    backend: str = "duckdb",
    spark_url: str | None = None,
    lake: str | Path | None = None,
) -> Path:
    """Write the interactive report for the store at ``db`` to ``path``.

    The store gives the team-week metrics, the team table, adoption and its own health;
    ``impact`` (:func:`ctssw.pipeline.impact` output), ``drivers`` and ``tools``
    (:func:`tools_for_report`: each tool's effect and the decomposition of the change)
    add their sections when given. ``status`` (for instance what ``ctssw status`` reports) is merged over the
    health the store reports itself. ``missing`` maps a section (``headline``, ``cts``,
    ``dora``, ``adoption``, ``event_study``, ``drivers``, ``waterfall``, ``tools``, ``explain``, ``teams``) to the
    sentence shown in its place when it cannot be computed. A store with no panel at all
    still gets a page: its time sections say why they are empty. ``backend``, ``spark_url`` and
    ``lake`` choose where the panel and the metrics are computed, as for ``ctssw metrics``; the
    store's own health, teams and adoption are read from the store file.
    """
    from ..errors import CtsswError
    from ..metrics import clear_cache, metrics_panel, period_metrics, team_week_metrics
    from ..panel.backend import connect
    from ..store import check_lake, open_lake

    missing = dict(missing or {})
    p = weekly = teams = None
    inputs: dict = {"teams_meta": None, "adoption": None, "status": {}}
    if not Path(db).exists():
        for sec in ("cts", "dora", "teams"):
            missing.setdefault(sec, f"there is no store at {db} yet; ctssw ingest git REPO... --deployments tags creates one")
    else:
        check_lake(backend, lake)
        try:
            con, close = connect(backend, db=db, spark_url=spark_url, lake=lake)
            try:
                weekly = team_week_metrics(con, unit=unit)
                teams = period_metrics(con, by="team", unit=unit)
                p = metrics_panel(con, unit=unit)
            finally:
                clear_cache()
                close()
        except CtsswError as e:
            for sec in ("cts", "dora", "teams"):
                missing.setdefault(sec, str(e))
        with open_lake(lake, db=db) as store:
            inputs = store_report_inputs(store, p)
    if weekly is None:
        weekly = pd.DataFrame({"team_id": pd.Series(dtype=str), "week": pd.Series(dtype="datetime64[ns]"),
                               "headcount": pd.Series(dtype=float), "unit": pd.Series(dtype=str)})
    if status:
        inputs["status"] = {**inputs["status"], **status}
    rostered = None if p is None else not (set(p["team_id"]) - set(inputs["teams_meta"]["team_id"]))
    return report.write_interactive_report(
        path, weekly=weekly, teams=teams, impact=impact, drivers=drivers, tools=tools, title=title, subtitle=subtitle,
        rostered=rostered, unit=unit, missing=missing, k=k, **inputs,
    )
