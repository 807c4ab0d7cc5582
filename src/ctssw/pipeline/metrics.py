"""``ctssw metrics`` and ``ctssw dora ...``: the rows they print or write, after the privacy floor.

Every table passes the privacy floor: rows describing fewer than k builders are suppressed and
the count of suppressed rows is reported. No output takes a builder as a grouping key.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ..errors import ConfigError

__all__ = ["MetricsRows", "incident_deployments_export", "metrics_table", "pr_metrics_export"]


def _date(v: str | None, name: str) -> dt.date | None:
    if v is None:
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD; got {v!r}") from None


class MetricsRows(NamedTuple):
    """What ``ctssw metrics`` shows: its rows, the count of rows the privacy floor suppressed, and
    metric column → why it is unknown in this store (its source is absent)."""

    rows: pd.DataFrame
    suppressed: int
    unknown: dict[str, str]


def metrics_table(
    db: Path, *, team: str | None = None, since: str | None = None, until: str | None = None,
    by: str = "team", backend: str = "duckdb", spark_url: str | None = None, k: int = 5,
    unit: str = "deployment", incident_window_hours: float | None = None, lake: str | Path | None = None,
) -> MetricsRows:
    """The rows ``ctssw metrics`` prints, after the privacy floor, how many were suppressed and
    why metrics are unknown (``lake``: where the store's lake is read, when not where the store
    recorded it)."""
    from ..metrics import clear_cache, period_metrics, period_metrics_many, store_gaps
    from ..panel.backend import connect
    from ..privacy import suppress_small_groups

    kw = dict(since=_date(since, "--since"), until=_date(until, "--until"), incident_window_hours=incident_window_hours)
    if team is not None and by != "team":
        raise ConfigError("--team selects one team; use it with --by team")
    con, close = connect(backend, db=db, spark_url=spark_url, lake=lake)
    try:
        if by == "team" and team is None:
            got = period_metrics_many(con, by=("team", "org"), unit=unit, **kw)
            rows = pd.concat([got["team"], got["org"].assign(group="(all teams)")], ignore_index=True)
        else:
            rows = period_metrics(con, by=by, unit=unit, **kw)
            if team is not None:
                rows = rows[rows["group"] == team]
                if rows.empty:
                    raise ConfigError(f"no team {team!r} with weeks in the period")
        inferred = _inferred_teams(con)
        # from the same connection as the rows (the roll-ups read them already)
        unknown = store_gaps(con)
    finally:
        clear_cache()
        close()
    rows = rows.assign(headcount=rows["headcount"].fillna(0))
    if by == "team":  # teams inferred from activity say so in every output
        rows = rows.assign(inferred=[g in inferred if g != "(all teams)" else None for g in rows["group"]])
    return MetricsRows(*suppress_small_groups(rows, builders="headcount", k=k), unknown)


def _inferred_teams(con) -> set[str]:
    m = con.table("memberships")
    if "inferred" not in m.columns:
        return set()
    t = m.group_by("team_id").aggregate(all_inferred=m.inferred.fill_null(False).all())
    return set(t.filter(t.all_inferred).team_id.to_pyarrow().to_pylist())


def _team_headcount(con, k: int) -> pd.Series | None:
    """Each team's headcount for the privacy floor; None when the store holds no members at all."""
    from ..metrics import period_metrics

    m = con.table("memberships")
    if int(m.count().to_pyarrow().as_py()) == 0:
        return None
    t = period_metrics(con, by="team")
    return t.set_index("group")["headcount"].fillna(0)


def _floor_by_team(df: pd.DataFrame, team_col: str, heads: pd.Series, k: int) -> tuple[pd.DataFrame, int]:
    from ..privacy import suppress_small_groups

    df = df.assign(_builders=df[team_col].map(heads).fillna(0))
    kept, dropped = suppress_small_groups(df, builders="_builders", k=k)
    return kept.drop(columns="_builders"), dropped


_NO_PEOPLE = "DevLake tables carry no team memberships, so the privacy floor could not be evaluated for these rows."


def _devlake_tables(folder: Path) -> dict[str, pd.DataFrame]:
    from ..metrics.devlake_compat import read_devlake_dir

    return read_devlake_dir(folder)


def _pick(t: dict[str, pd.DataFrame], *names: str) -> pd.DataFrame:
    for n in names:
        if n in t:
            return t[n]
    raise ConfigError(f"the DevLake folder has none of: {', '.join(n + '.csv' for n in names)}")


def pr_metrics_export(out_file, devlake_compatible, from_devlake, project, db, k):
    from ..metrics import change_links, clear_cache, team_week_metrics
    from ..metrics import devlake_compat as dl
    from ..panel.backend import connect
    from ..privacy import suppress_small_groups

    if from_devlake is not None:
        if not devlake_compatible:
            raise ConfigError("--from-devlake reads DevLake tables; use it with --devlake-compatible")
        t = _devlake_tables(from_devlake)
        df = dl.pr_metrics(
            _pick(t, "pull_requests"), _pick(t, "pull_request_commits"), _pick(t, "pull_request_comments"),
            _pick(t, "cicd_deployment_commits"), _pick(t, "commits_diffs"), _pick(t, "project_mapping"),
            project_name=project,
        )
        dl.format_devlake(df).to_csv(out_file, index=False)
        return df, 0, _NO_PEOPLE
    con, close = connect("duckdb", db=db)
    try:
        if devlake_compatible:
            links = change_links(con, rule="devlake").to_pandas()
            df = dl.pr_metrics_from_links(links)
            if project is not None:
                df = df[df["project_name"] == project]
            heads = _team_headcount(con, k)
            df, dropped = _floor_by_team(df, "project_name", heads, k) if heads is not None else (df, 0)
            dl.format_devlake(df).to_csv(out_file, index=False)
            return df, dropped, None if heads is not None else _NO_PEOPLE
        w = team_week_metrics(con)
        cols = ["team_id", "week", "headcount", "changes_deployed", "lead_time_median_h", "lead_time_p90_h",
                "coding_median_h", "pickup_median_h", "review_median_h", "deploy_median_h"]
        df, dropped = suppress_small_groups(w[cols], builders="headcount", k=k)
        df.to_csv(out_file, index=False)
        return df, dropped, None
    finally:
        clear_cache()
        close()


def incident_deployments_export(out_file, devlake_compatible, from_devlake, project, db, k, window):
    from ..metrics import clear_cache, incident_links
    from ..metrics import devlake_compat as dl
    from ..panel.backend import connect

    if from_devlake is not None:
        if not devlake_compatible:
            raise ConfigError("--from-devlake reads DevLake tables; use it with --devlake-compatible")
        t = _devlake_tables(from_devlake)
        dep = _pick(t, "cicd_deployment_commits_after", "cicd_deployment_commits")
        df = dl.incident_deployments(_pick(t, "incidents"), dep, _pick(t, "project_mapping"), project_name=project)
        dl.format_devlake(df).to_csv(out_file, index=False)
        return df, 0, _NO_PEOPLE
    if devlake_compatible and window is not None:
        raise ConfigError("DevLake's rule has no time window; drop --incident-window-hours or --devlake-compatible")
    con, close = connect("duckdb", db=db)
    try:
        rule = "devlake" if devlake_compatible else "default"
        links = incident_links(con, window_hours=window, rule=rule).to_pandas()
        heads = _team_headcount(con, k)
        links, dropped = _floor_by_team(links, "team_id", heads, k) if heads is not None else (links, 0)
        if devlake_compatible:
            df = links[links["deployment_id"].notna()].rename(columns={"incident_id": "id", "team_id": "project_name"})
            # DevLake names the deployment (pipeline) a deployment row belongs to
            dep = con.table("deployments").select("deployment_id", "pipeline_id").to_pandas()
            run = dict(zip(dep["deployment_id"], dep["pipeline_id"]))
            df["deployment_id"] = [run.get(d) or d for d in df["deployment_id"]]
            df = df[list(dl.INCIDENT_DEPLOYMENT_COLUMNS)].sort_values(["project_name", "id"])
            if project is not None:
                df = df[df["project_name"] == project]
            dl.format_devlake(df).to_csv(out_file, index=False)
            return df, dropped, None if heads is not None else _NO_PEOPLE
        else:
            df = links[["incident_id", "team_id", "service_id", "created_at", "resolved_at", "deployment_id", "attributed_by"]]
            df.sort_values("incident_id").to_csv(out_file, index=False)
        return df, dropped, None
    finally:
        clear_cache()
        close()

