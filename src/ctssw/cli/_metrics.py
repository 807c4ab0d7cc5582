"""``ctssw metrics`` and ``ctssw dora ...``: team-level metrics and DORA exports.

Every table printed or written passes the privacy floor: rows describing fewer
than k builders are suppressed and the count of suppressed rows is reported.
No command takes a builder as a grouping key.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CtsswError


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
LakeReadOpt = Annotated[
    str | None,
    typer.Option(
        "--lake",
        help="The store's Parquet lake, when not where the store recorded it; with --backend spark, any path "
        "the executors read (a folder, hdfs://..., s3a://...), read without going through the --db file.",
    ),
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


def _note(n: int, k: int) -> str:
    return f"{n} row(s) suppressed: they describe fewer than {k} builders (privacy floor)."


def register(app: typer.Typer) -> None:
    """Add ``metrics`` and the ``dora`` group to ``app``."""
    from rich.table import Table

    from ._app import _fail, console, out
    from ._common import emit_json, print_table, working

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
        lake: LakeReadOpt = None,
    ) -> None:
        """DORA, CTS-SW, velocity, delivery health and pages per team over a period."""
        try:
            from ..pipeline.metrics import metrics_table

            with working("computing metrics"):
                rows, dropped, unknown = metrics_table(
                    db, team=team, since=since, until=until, by=by.value, backend=backend.value,
                    spark_url=spark_url, k=k, unit=unit, incident_window_hours=window, lake=lake,
                )
        except CtsswError as e:
            _fail(e)
        if as_json:
            emit_json("metrics", {
                "rows": json.loads(rows.to_json(orient="records")),
                "suppressed_rows": dropped, "k": k, "unknown": unknown,
            })
            return
        t = Table(title=f"Metrics per {by.value}" + (f", {since or '…'} to {until or '…'}" if since or until else ""))
        for c, label in SHOWN:
            label = by.value if c == "group" else label
            t.add_column(label, justify="left" if c == "group" else "right")
        for r in rows.to_dict("records"):
            cells = [_fmt(r.get(c)) for c, _ in SHOWN]
            if r.get("inferred"):
                cells[0] += " (inferred)"
            t.add_row(*cells)
        if len(rows):
            print_table(t)
        else:
            out.print(f"No row to show: every {by.value} describes fewer than {k} builders.", highlight=False)
        out.print("Organisation rows are ratios of sums: builders and deployments per week are totals over its teams.",
                  highlight=False)
        if dropped:
            console.print(_note(dropped, k))
        labels = dict(SHOWN)
        for col, why in unknown.items():
            if col in labels:
                console.print(f"note: {labels[col]} is {why}", highlight=False, soft_wrap=True)

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
            from ..pipeline.metrics import pr_metrics_export

            df, dropped, note = pr_metrics_export(out_file, devlake_compatible, from_devlake, project, db, k)
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
            from ..pipeline.metrics import incident_deployments_export

            df, dropped, note = incident_deployments_export(out_file, devlake_compatible, from_devlake, project, db, k, window)
        except CtsswError as e:
            _fail(e)
        out.print(f"wrote {len(df)} rows to {out_file}")
        for n in ([_note(dropped, k)] if dropped else []) + ([note] if note else []):
            console.print(n)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


