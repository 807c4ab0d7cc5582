"""What every command shares: the consoles, options defined once, exit codes, error and progress output."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..errors import CtsswError

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
