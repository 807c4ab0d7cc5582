"""Typer application. Options are defined once here; each command calls one pipeline function."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CtsswError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Cost to serve software: measure it, find its drivers, value the tools that lower it.")
ingest_app = typer.Typer(no_args_is_help=True, help="Load exports into the store.")
app.add_typer(ingest_app, name="ingest")
from ._common import DbOpt, Exit, JsonOpt, _counts_table, _fail, _progress, console, out
from ._ingest import register as _register_connectors
from ._metrics import Backend, BackendOpt, SparkUrlOpt

_register_connectors(ingest_app)

__all__ = ["DbOpt", "Exit", "JsonOpt", "_counts_table", "_fail", "_progress", "app", "console", "main", "out"]

@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the canonical Parquet tables.")] = Path("ctssw-sim"),
    teams: Annotated[int, typer.Option(help="Number of teams.")] = 200,
    weeks: Annotated[int, typer.Option(help="Number of weeks.")] = 104,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    effect: Annotated[float, typer.Option(help="True long-run effect of full adoption on deployments per builder-week.")] = 0.08,
    confounded: Annotated[bool, typer.Option(help="Let teams already on the rise adopt first.")] = False,
) -> None:
    """Write a simulated organisation's canonical tables with truth.json beside them."""
    from ..simulate import simulate as run

    try:
        with _progress() as p:
            task = p.add_task("simulating", total=None)

            def tick(done: int, total: int) -> None:
                p.update(task, completed=done, total=total)

            truth = run(out_dir, teams=teams, weeks=weeks, seed=seed, effect=effect, confounded=confounded, progress=tick)
    except CtsswError as e:
        _fail(e)
    rows = truth["rows"]
    out.print(f"wrote {sum(rows.values()):,} rows in {len(rows)} tables to {out_dir}; truth in {out_dir / 'truth.json'}")


@ingest_app.command("canonical")
def ingest_canonical(
    directory: Annotated[Path, typer.Argument(help="Folder of canonical tables (Parquet or CSV).")],
    db: DbOpt = Path("ctssw.duckdb"),
    as_json: JsonOpt = False,
) -> None:
    """Load canonical tables; re-loading the same folder changes nothing."""
    from ..store import Store
    from ..store import ingest_canonical as run

    try:
        with Store(db) as store, _progress() as p:
            task = p.add_task("ingesting", total=None)

            def tick(table: str, done: int, total: int) -> None:
                p.update(task, description=f"ingesting {table}", completed=done, total=total)

            counts = run(store, directory, progress=tick)
    except CtsswError as e:
        _fail(e)
    rows = [c.as_row() for c in counts]
    if as_json:
        out.print_json(json.dumps(rows))
    else:
        out.print(_counts_table(rows))
        q = sum(r["quarantined"] for r in rows)
        if q:
            out.print(f"{q} row(s) quarantined; see the quarantine table in {db} for each reason.")


@app.command()
def panel(
    db: DbOpt = Path("ctssw.duckdb"),
    unit: Annotated[str, typer.Option(help="Unit of software: deployment, change, commit, or team (each team's own).")] = "deployment",
    tool: Annotated[str | None, typer.Option(help="AI tool for ai_share (default: any).")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="Parquet (or .csv) file for the panel.")] = Path("panel.parquet"),
    backend: BackendOpt = Backend.duckdb,
    spark_url: SparkUrlOpt = None,
) -> None:
    """Build the team × week panel from the store."""
    from ..panel import panel as build
    from ..panel.backend import connect

    try:
        con, close = connect(backend.value, db=db, spark_url=spark_url)
        try:
            df = build(con, unit=unit, tool=tool)
        finally:
            close()
    except CtsswError as e:
        _fail(e)
    if out_file.suffix == ".csv":
        df.to_csv(out_file, index=False)
    else:
        df.to_parquet(out_file, index=False)
    undefined = int(df["cts_sw"].isna().sum())
    out.print(
        f"wrote {len(df):,} team-weeks ({df['team_id'].nunique()} teams × {df['week'].nunique()} weeks) to {out_file}; "
        f"CTS-SW undefined in {undefined} team-weeks (reason in cts_sw_reason)"
    )


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo's store, data and report.")] = Path("ctssw-demo"),
    teams: Annotated[int, typer.Option(help="Number of simulated teams.")] = 200,
    weeks: Annotated[int, typer.Option(help="Number of simulated weeks.")] = 104,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Simulate an organisation, ingest it, build the panel, estimate the AI assistant's effect, report."""
    from ..pipeline import run_demo, summary_lines

    try:
        with _progress() as p:
            task = p.add_task("demo", total=5)

            def step(s: str) -> None:
                p.update(task, description=s, advance=0 if p.tasks[0].description == "demo" else 1)

            res = run_demo(out_dir, teams=teams, weeks=weeks, seed=seed, step=step)
    except CtsswError as e:
        _fail(e)
    if as_json:
        out.print_json(json.dumps({k: res[k] for k in ("effect", "cts_sw", "engineering_years_saved")}, default=str))
        return
    for line in summary_lines(res):
        out.print(f"• {line}", highlight=False)
    out.print(f"Report: {out_dir / 'report.html'}   Results: {out_dir / 'results.json'}   ({res['elapsed_s']:.1f} s)")


from ._metrics import register as _register_metrics

_register_metrics(app)

from ._drivers import register as _register_drivers

_register_drivers(app)

from ._impact import register as _register_impact

_register_impact(app)

from ._collect import register as _register_collect

_register_collect(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
