"""Typer application. Options are defined once here; each command calls one pipeline function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CtsswError, first_line

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Cost to serve software: measure it, find its drivers, value the tools that lower it.")
ingest_app = typer.Typer(no_args_is_help=True, help="Load exports into the store.")
app.add_typer(ingest_app, name="ingest")
from ._common import (
    DbOpt,
    Exit,
    JsonOpt,
    _counts_table,
    _fail,
    _progress,
    console,
    emit_json,
    out,
    print_table,
    working,
)
from ._ingest import register as _register_connectors
from ._metrics import Backend, BackendOpt, LakeReadOpt, SparkUrlOpt

_register_connectors(ingest_app)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        out.print(f"ctssw {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Cost to serve software: measure it, find its drivers, value the tools that lower it."""

__all__ = ["DbOpt", "Exit", "JsonOpt", "_counts_table", "_fail", "_progress", "app", "console", "main", "out"]

@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the canonical Parquet tables.")] = Path("ctssw-sim"),
    teams: Annotated[int, typer.Option(help="Number of teams.")] = 200,
    weeks: Annotated[int, typer.Option(help="Number of weeks.")] = 104,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    effect: Annotated[float, typer.Option(help="True long-run effect of full adoption on deployments per builder-week.")] = 0.08,
    confounded: Annotated[bool, typer.Option(help="Let teams already on the rise adopt first.")] = False,
    extra_tools: Annotated[
        str | None, typer.Option(help="More tools beside the assistant, name=effect comma-separated (e.g. review_agent=0.03,build_fix=0).")
    ] = None,
    org_trend: Annotated[float, typer.Option(help="Organisation-wide trend per year on the log deployment rate.")] = 0.0,
) -> None:
    """Write a simulated organisation's canonical tables with truth.json beside them."""
    from ..simulate import parse_tools
    from ..simulate import simulate as run

    try:
        more = {"extra_tools": parse_tools(extra_tools)} if extra_tools else {}
        if org_trend:
            more["org_trend"] = org_trend
        with _progress() as p:
            task = p.add_task("simulating", total=None)

            def tick(done: int, total: int) -> None:
                p.update(task, completed=done, total=total)

            truth = run(out_dir, teams=teams, weeks=weeks, seed=seed, effect=effect, confounded=confounded, progress=tick, **more)
    except CtsswError as e:
        _fail(e)
    rows = truth["rows"]
    out.print(f"wrote {sum(rows.values()):,} rows in {len(rows)} tables to {out_dir}; truth in {out_dir / 'truth.json'}")


from ._common import (
    FloorOpt,
    IdentityKeyOpt,
    RatesOpt,
    add_store_options,
    ingest_store,
    store_options,
)


@ingest_app.command("canonical")
def ingest_canonical(
    directory: Annotated[Path, typer.Argument(help="Folder of canonical tables (Parquet or CSV).")],
    db: DbOpt = Path("ctssw.duckdb"),
    as_json: JsonOpt = False,
    rates: RatesOpt = None,
) -> None:
    """Load canonical tables in one transaction; re-loading the same folder changes nothing."""
    from ..store import ingest_canonical as run

    try:
        with ingest_store(db, **store_options(), rates=rates) as store, _progress() as p:
            task = p.add_task("ingesting", total=None)

            def tick(table: str, done: int, total: int) -> None:
                p.update(task, description=f"ingesting {table}", completed=done, total=total)

            counts = run(store, directory, progress=tick)
    except CtsswError as e:
        _fail(e)
    rows = [c.as_row() for c in counts]
    if as_json:
        emit_json("ingest", {"counts": rows, "notes": []})
    else:
        print_table(_counts_table(rows))
        q = sum(r["quarantined"] for r in rows)
        if q:
            out.print(f"{q} row(s) quarantined; see the quarantine table in {db} for each reason.")


# every ingest command (the connectors registered above, and canonical) takes --identity-key and --not-before
add_store_options(ingest_app)


@app.command()
def rekey(
    new_key: Annotated[Path, typer.Option("--new-key", help="File for the new key (must not exist; written with mode 0600).")],
    db: DbOpt = Path("ctssw.duckdb"),
    identity_key: IdentityKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-pseudonymise the store under a new key (and move a key an older ctssw kept inside the store out of it)."""
    from ..store import rekey as run

    try:
        res = run(db, new_key, identity_key=identity_key)
    except CtsswError as e:
        _fail(e)
    if as_json:
        emit_json("rekey", res)
        return
    n = sum(res["rewritten"].values())
    out.print(
        f"re-keyed {db}: {n:,} rows with pseudonyms rewritten into a fresh file; new key {res['key']} "
        f"(fingerprint {res['fingerprint']}). Ingest with --identity-key {res['key']} or CTSSW_IDENTITY_KEY={res['key']} from now on."
    )


@app.command("copy-to-lake")
def copy_to_lake(
    to: Annotated[Path, typer.Option("--to", help="The new store file (must not exist); it records its lake.")],
    lake: Annotated[str, typer.Option("--lake", help="A new or empty folder for the lake of the new store.")],
    db: DbOpt = Path("ctssw.duckdb"),
    identity_key: IdentityKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy a store to a new store whose canonical tables live in a Parquet lake (the old store keeps its rows)."""
    from ..store import LAKE_TABLES
    from ..store import copy_to_lake as run

    try:
        res = run(db, to, lake, identity_key=identity_key)
    except CtsswError as e:
        _fail(e)
    if as_json:
        emit_json("copy-to-lake", res)
        return
    n = sum(v for t, v in res["rows"].items() if t in LAKE_TABLES)
    out.print(
        f"copied {db} to {res['db']}: {n:,} rows of the canonical tables now in the lake {res['lake']}; "
        f"{db} keeps its rows. Use --db {res['db']} from now on."
    )


@app.command()
def panel(
    db: DbOpt = Path("ctssw.duckdb"),
    unit: Annotated[str, typer.Option(help="Unit of software: deployment, change, commit, or team (each team's own).")] = "deployment",
    tool: Annotated[str | None, typer.Option(help="AI tool for ai_share (default: any).")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="Parquet (or .csv) file for the panel.")] = Path("panel.parquet"),
    k: FloorOpt = 5,
    backend: BackendOpt = Backend.duckdb,
    spark_url: SparkUrlOpt = None,
    lake: LakeReadOpt = None,
) -> None:
    """Build the team × week panel from the store (team-weeks below the privacy floor are left out)."""
    from ..panel import panel_expr, panel_frame, to_arrow
    from ..panel.backend import connect
    from ..privacy import suppress_small_groups

    try:
        with working("building the team × week panel"):
            con, close = connect(backend.value, db=db, spark_url=spark_url, lake=lake)
            try:
                table = to_arrow(panel_expr(con, unit=unit, tool=tool))
            finally:
                close()
        table, dropped = suppress_small_groups(table, builders="headcount", k=k)
    except CtsswError as e:
        _fail(e)
    if out_file.suffix == ".csv":
        panel_frame(table).to_csv(out_file, index=False)
    else:  # from Arrow: through pandas took 0.8 s more for a 10,000-team panel
        import pyarrow.parquet as pq

        pq.write_table(table, out_file)
    undefined = table["cts_sw"].null_count
    out.print(
        f"wrote {table.num_rows:,} team-weeks ({_distinct(table, 'team_id')} teams × {_distinct(table, 'week')} weeks) "
        f"to {out_file}; CTS-SW undefined in {undefined} team-weeks (reason in cts_sw_reason)"
    )
    if dropped:
        console.print(f"{dropped:,} team-week(s) left out: they describe fewer than {k} builders (privacy floor).")


def _distinct(table, col: str) -> int:
    import pyarrow.compute as pc

    return pc.count_distinct(table[col]).as_py()


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
        emit_json("demo", {k: res[k] for k in ("effect", "cts_sw", "engineering_years_saved", "headline")})
        return
    for line in summary_lines(res):
        out.print(f"• {line}", highlight=False)
    out.print(f"Report: {out_dir / 'report.html'}   Results: {out_dir / 'results.json'}   ({res['elapsed_s']:.1f} s)")


from ._status import register as _register_status
from ._status import register_report as _register_report

_register_status(app)
_register_report(app)

from ._metrics import register as _register_metrics

_register_metrics(app)

from ._drivers import register as _register_drivers

_register_drivers(app)

from ._impact import register as _register_impact

_register_impact(app)

from ._collect import register as _register_collect

_register_collect(app)
from ._attribution import register as _register_attribution

_register_attribution(app)



def _db_arg(argv: list[str]) -> str:
    for i, a in enumerate(argv):
        if a == "--db" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--db="):
            return a[5:]
    return "ctssw.duckdb"


def _run() -> int:
    """Run the command; a usage error (an unknown option, a missing one, a bad value the parser
    refuses) is one ``error:`` line naming the command's help, exit 2, like ctssw's own errors."""
    from ._common import label

    try:
        code = app(standalone_mode=False)
    except Exception as e:
        # the parser's errors, by class name: typer ships its own copy of click's classes
        kinds = {c.__name__ for c in type(e).__mro__}
        if "Abort" in kinds:
            return int(Exit.FAILURE)
        if "ClickException" not in kinds:
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # the help is printed already
            return e.exit_code
        ctx = getattr(e, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        console.print(label("error", "bold red", e.format_message() + hint), soft_wrap=True)
        return e.exit_code
    return code if isinstance(code, int) else 0


def main() -> None:
    import warnings

    from ._common import show_warning

    warnings.showwarning = show_warning  # ctssw's warnings as one plain line
    try:
        sys.exit(_run())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        from ._common import label, spark_error

        # a Spark job that fails (executors lost, a file gone) surfaces from PySpark or Py4J
        why = spark_error(e)
        if why is not None:
            console.print(label("error", "bold red", why), soft_wrap=True)
            sys.exit(int(Exit.STORE))
        # the file system refused a file the command reads or writes (--out in a missing folder, a
        # full disk, no permission): what it said, in one line
        if isinstance(e, OSError):
            console.print(label("error", "bold red", first_line(e)), soft_wrap=True)
            sys.exit(int(Exit.FAILURE))
        # a store damaged after it was opened fails deep inside DuckDB: one line, exit 4, no traceback
        import duckdb

        if not isinstance(e, duckdb.Error):
            raise
        console.print(label("error", "bold red", f"cannot read store {_db_arg(sys.argv[1:])}: {first_line(e)} "
                            "(the file is damaged: restore it from a copy, or ingest again into a new store)"), soft_wrap=True)
        sys.exit(int(Exit.STORE))


if __name__ == "__main__":
    main()
