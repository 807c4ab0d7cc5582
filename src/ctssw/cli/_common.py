"""What every command shares: the consoles, options defined once, exit codes, error and progress output."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ..errors import CtsswError

if TYPE_CHECKING:
    from rich.table import Table

console = Console(stderr=True)
out = Console()


class Exit(enum.IntEnum):
    OK = 0
    USAGE = 2
    DATA = 3
    STORE = 4
    ESTIMATION = 5
    FAILURE = 1


DbOpt = Annotated[Path, typer.Option("--db", help="DuckDB store file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _fail(e: CtsswError) -> None:
    from ..errors import ConfigError, DataError, EstimationError, StoreError

    code = (
        Exit.USAGE if isinstance(e, ConfigError)
        else Exit.DATA if isinstance(e, DataError)
        else Exit.STORE if isinstance(e, StoreError)
        else Exit.ESTIMATION if isinstance(e, EstimationError)
        else Exit.FAILURE
    )
    console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
    raise typer.Exit(int(code))


def _progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
    )


def _counts_table(rows: list[dict]):
    from rich.table import Table

    t = Table(title="Ingest summary")
    for c in rows[0] if rows else []:
        t.add_column(c, justify="left" if c in ("table", "source") else "right")
    for r in rows:
        t.add_row(*(str(v) for v in r.values()))
    return t


#: version of every ``--json`` document; each command's JSON Schema is docs/schemas/<name>.schema.json
JSON_SCHEMA_VERSION = 1


def json_keys(obj):
    """Keys for machines: spaces and hyphens in dict keys become underscores, recursively."""
    if isinstance(obj, dict):
        return {str(k).replace(" ", "_").replace("-", "_") if isinstance(k, str) and " " in k else k: json_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_keys(v) for v in obj]
    return obj


def emit_json(name: str, payload: dict) -> None:
    """Print one ``--json`` document: always an object, tagged with its schema name and version."""
    import json

    doc = {"schema": f"ctssw.{name}", "schema_version": JSON_SCHEMA_VERSION, **json_keys(payload)}
    out.print_json(json.dumps(doc, default=str))


def print_table(t: Table) -> None:
    """Print a rich table; when it cannot fit the console (a pipe is 80 columns), print it long:
    one block per row, one ``column: value`` line per cell, so nothing is cut to ``…``."""
    from rich.measure import Measurement

    need = Measurement.get(out, out.options.update_width(10_000), t).maximum  # natural width; narrower folds or cuts
    if need <= out.width:
        out.print(t)
        return
    cols = [str(c.header) for c in t.columns]
    cells = [[str(x) for x in c.cells] for c in t.columns]
    if t.title:
        out.print(str(t.title), highlight=False)
    for i in range(len(cells[0]) if cells else 0):
        out.print(f"{cols[0]}: {cells[0][i]}", highlight=False, soft_wrap=True)
        for c, col in zip(cols[1:], cells[1:], strict=True):
            out.print(f"  {c}: {col[i]}", highlight=False, soft_wrap=True)


class working:
    """A progress line on standard error (a terminal only) while a long step runs: ``with working("building the panel"):``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.p = _progress()

    def __enter__(self) -> working:
        self.p.__enter__()
        self.task = self.p.add_task(self.what, total=None)
        return self

    def step(self, what: str) -> None:
        self.p.update(self.task, description=what)

    def __exit__(self, *exc) -> None:
        self.p.__exit__(*exc)
