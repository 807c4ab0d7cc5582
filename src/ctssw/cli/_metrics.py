"""``ctssw metrics`` and ``ctssw dora ...``: team-level metrics and DORA exports.

Every table printed or written passes the privacy floor: rows describing fewer
than k builders are suppressed and the count of suppressed rows is reported.
No command takes a builder as a grouping key.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from ..errors import ConfigError, CtsswError


class Backend(str, enum.Enum):
    duckdb = "duckdb"
    spark = "spark"


class By(str, enum.Enum):
    team = "team"
    parent = "parent"
    org = "org"


DbOpt = Annotated[Path, typer.Option("--db", help="DuckDB store file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
KOpt = Annotated[int, typer.Option("--k", help="Privacy floor: suppress rows describing fewer builders (at least 3).")]
BackendOpt = Annotated[Backend, typer.Option("--backend", help="Engine for the panel and metrics.")]
SparkUrlOpt = Annotated[
    str | None, typer.Option("--spark-url", help="spark://host:port or sc://host:port (Spark Connect); local[2] when absent.")
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="First week (YYYY-MM-DD, inclusive).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Last week (YYYY-MM-DD, inclusive).")]
WindowOpt = Annotated[
    float | None, typer.Option("--incident-window-hours", help="Attribute an incident only to a deployment this recent.")
]

SHOWN = (
    ("group", "team"), ("headcount", "builders"), ("deployments_per_week", "deploys/wk"),
    ("deploy_days_per_week", "deploy days/wk"), ("lead_time_median_h", "lead time p50 h"),
    ("lead_time_p90_h", "lead time p90 h"), ("change_failure_rate", "CFR"), ("recovery_median_h", "recovery p50 h"),
    ("rework_rate", "rework"), ("cts_sw", "CTS-SW"), ("velocity", "velocity"), ("rollback_rate", "rollback rate"),
    ("interventions_per_deploy", "interventions/deploy"), ("pages_per_oncall_builder", "pages/on-call builder"),
)


def _date(v: str | None, name: str) -> dt.date | None:
    if v is None:
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD; got {v!r}") from None


def metrics_table(
    db: Path, *, team: str | None = None, since: str | None = None, until: str | None = None,
    by: str = "team", backend: str = "duckdb", spark_url: str | None = None, k: int = 5,
    unit: str = "deployment", incident_window_hours: float | None = None,
) -> tuple[pd.DataFrame, int]:
    """The rows ``ctssw metrics`` prints, after the privacy floor, and how many were suppressed."""
    from ..metrics import clear_cache, period_metrics
    from ..panel.backend import connect
    from ..report import suppress_small_groups

    kw = dict(since=_date(since, "--since"), until=_date(until, "--until"), incident_window_hours=incident_window_hours)
    con, close = connect(backend, db=db, spark_url=spark_url)
    try:
        rows = period_metrics(con, by=by, unit=unit, **kw)
        if team is not None:
            if by != "team":
                raise ConfigError("--team selects one team; use it with --by team")
            rows = rows[rows["group"] == team]
            if rows.empty:
                raise ConfigError(f"no team {team!r} with weeks in the period")
        elif by == "team":
            org = period_metrics(con, by="org", unit=unit, **kw)
            rows = pd.concat([rows, org.assign(group="(all teams)")], ignore_index=True)
    finally:
        clear_cache()
        close()
    rows = rows.assign(headcount=rows["headcount"].fillna(0))
    return suppress_small_groups(rows, builders="headcount", k=k)


def _note(n: int, k: int) -> str:
    return f"{n} row(s) suppressed: they describe fewer than {k} builders (privacy floor)."


def register(app: typer.Typer) -> None:
    """Add ``metrics`` and the ``dora`` group to ``app``."""
    from ._app import _fail, console, out

    @app.command("metrics")
    def metrics(
        db: DbOpt = Path("ctssw.duckdb"),
        team: Annotated[str | None, typer.Option("--team", help="One team's row.")] = None,
        since: SinceOpt = None,
        until: UntilOpt = None,
        by: Annotated[By, typer.Option("--by", help="Group rows by team, parent (hierarchy) or org.")] = By.team,
        unit: Annotated[str, typer.Option("--unit", help="Unit of software: deployment, change, commit or team.")] = "deployment",
        as_json: JsonOpt = False,
        backend: BackendOpt = Backend.duckdb,
        spark_url: SparkUrlOpt = None,
        k: KOpt = 5,
        window: WindowOpt = None,
    ) -> None:
        """DORA, CTS-SW, velocity, delivery health and pages per team over a period."""
        try:
            rows, dropped = metrics_table(
                db, team=team, since=since, until=until, by=by.value, backend=backend.value,
                spark_url=spark_url, k=k, unit=unit, incident_window_hours=window,
            )
        except CtsswError as e:
            _fail(e)
        if as_json:
            out.print_json(json.dumps({
                "rows": json.loads(rows.to_json(orient="records")),
                "suppressed_rows": dropped, "k": k,
            }))
            return
        t = Table(title=f"Metrics per {by.value}" + (f", {since or '…'} to {until or '…'}" if since or until else ""))
        for _, label in SHOWN:
            t.add_column(label, justify="left" if label == "team" else "right")
        for r in rows.to_dict("records"):
            t.add_row(*(_fmt(r.get(c)) for c, _ in SHOWN))
        out.print(t)
        if dropped:
            console.print(_note(dropped, k))

    dora = typer.Typer(no_args_is_help=True, help="DORA exports (DevLake-compatible on request).")
    app.add_typer(dora, name="dora")

    @dora.command("pr-metrics")
    def pr_metrics(
        out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
        devlake_compatible: Annotated[bool, typer.Option("--devlake-compatible", help="DevLake's project_pr_metrics, its rules and columns.")] = False,
        from_devlake: Annotated[Path | None, typer.Option("--from-devlake", help="Folder of DevLake domain tables (CSV) instead of the store.")] = None,
        project: Annotated[str | None, typer.Option("--project", help="DevLake project (default: every project).")] = None,
        db: DbOpt = Path("ctssw.duckdb"),
        k: KOpt = 5,
    ) -> None:
        """Change lead time and its parts: per team-week (default) or per PR as DevLake writes it."""
        try:
            df, dropped, note = _pr_metrics(out_file, devlake_compatible, from_devlake, project, db, k)
        except CtsswError as e:
            _fail(e)
        out.print(f"wrote {len(df)} rows to {out_file}")
        for n in ([_note(dropped, k)] if dropped else []) + ([note] if note else []):
            console.print(n)

    @dora.command("incident-deployments")
    def incident_deployments(
        out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
        devlake_compatible: Annotated[bool, typer.Option("--devlake-compatible", help="DevLake's rule and its project_incident_deployment_relationships columns.")] = False,
        from_devlake: Annotated[Path | None, typer.Option("--from-devlake", help="Folder of DevLake domain tables (CSV) instead of the store.")] = None,
        project: Annotated[str | None, typer.Option("--project", help="DevLake project (default: every project).")] = None,
        db: DbOpt = Path("ctssw.duckdb"),
        k: KOpt = 5,
        window: WindowOpt = None,
    ) -> None:
        """Which deployment each incident is attributed to."""
        try:
            df, dropped, note = _incidents(out_file, devlake_compatible, from_devlake, project, db, k, window)
        except CtsswError as e:
            _fail(e)
        out.print(f"wrote {len(df)} rows to {out_file}")
        for n in ([_note(dropped, k)] if dropped else []) + ([note] if note else []):
            console.print(n)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _team_headcount(con, k: int) -> pd.Series | None:
    """Each team's headcount for the privacy floor; None when the store holds no members at all."""
    from ..metrics import period_metrics

    m = con.table("memberships")
    if int(m.count().to_pyarrow().as_py()) == 0:
        return None
    t = period_metrics(con, by="team")
    return t.set_index("group")["headcount"].fillna(0)


def _floor_by_team(df: pd.DataFrame, team_col: str, heads: pd.Series, k: int) -> tuple[pd.DataFrame, int]:
    from ..report import suppress_small_groups

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


def _pr_metrics(out_file, devlake_compatible, from_devlake, project, db, k):
    from ..metrics import change_links, clear_cache, team_week_metrics
    from ..metrics import devlake_compat as dl
    from ..panel.backend import connect
    from ..report import suppress_small_groups

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


def _incidents(out_file, devlake_compatible, from_devlake, project, db, k, window):
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
