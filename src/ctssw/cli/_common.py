"""What every command shares: the consoles, options defined once, exit codes, error and progress output.

Both consoles print text as it is: markup and emoji codes are off, so a team name, a path
or an error message that looks like ``[/x]`` or ``:smile:`` is shown exactly and can never
break the output. Styled labels (``error:``, ``note:``) are added with :func:`label`.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ..errors import CtsswError, CtsswWarning

console = Console(stderr=True, markup=False, emoji=False, highlight=False)
out = Console(markup=False, emoji=False, highlight=False)


def label(tag: str, style: str, message: object) -> Text:
    """``tag: message`` with the tag styled and the message printed exactly as it is."""
    t = Text(f"{tag}: ", style=style)
    t.append(str(message))
    return t


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """ctssw's warnings as one plain ``warning:`` line on stderr (others as Python prints them).

    PySpark's own warnings keep only their first line: its Arrow fallback in ``toPandas`` carries
    the Java stack of a failed job, which the one-line error that follows names already.
    """
    if issubclass(category, CtsswWarning):
        console.print(label("warning", "bold yellow", message), soft_wrap=True)
    elif f"{os.sep}pyspark{os.sep}" in str(filename):
        first = next((ln.strip() for ln in str(message).splitlines() if ln.strip()), category.__name__)
        console.print(label("warning", "bold yellow", f"Spark: {first[:300]}"), soft_wrap=True)
    else:
        console.print(warnings.formatwarning(message, category, filename, lineno, line).rstrip(), soft_wrap=True)


class Exit(enum.IntEnum):
    OK = 0
    USAGE = 2
    DATA = 3
    STORE = 4
    ESTIMATION = 5
    FAILURE = 1


DbOpt = Annotated[Path, typer.Option("--db", help="DuckDB store file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
IdentityKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--identity-key",
        help="Key file pseudonymising identities (default: $CTSSW_IDENTITY_KEY, else ~/.config/ctssw/identity.key; "
        "created with mode 0600 on first use). Keep it apart from the store.",
    ),
]
LakeOpt = Annotated[
    str | None,  # a str: a URL given by mistake must reach the store intact to be refused (a Path folds its //)
    typer.Option(
        "--lake",
        help="Keep the canonical tables as a Parquet lake in this folder (the --db file then keeps only identities, "
        "quarantine, journal and metadata); needed only when the store is created: it records its lake.",
    ),
]
NotBeforeOpt = Annotated[
    str | None,
    typer.Option("--not-before", help="Quarantine timestamps before this date as implausible (default 1990-01-01)."),
]


def _check_floor(k: int) -> int:
    from ..privacy import MIN_K

    if k < MIN_K:
        raise typer.BadParameter(f"the privacy floor k must be at least {MIN_K}, got {k}")
    return k


FloorOpt = Annotated[
    int, typer.Option("--k", callback=_check_floor, help="Privacy floor: leave out rows describing fewer builders (at least 3).")
]
RatesOpt = Annotated[
    Path | None, typer.Option("--rates", help="CSV of currency,to,rate: convert costs to one currency.")
]
DateFormatOpt = Annotated[
    str | None, typer.Option("--date-format", help="How non-ISO dates are written, e.g. %d/%m/%Y (ambiguous dates are refused without it).")
]


_STORE_OPTIONS: contextvars.ContextVar[dict] = contextvars.ContextVar("store_options", default={})


def store_options() -> dict:
    """The store options (identity_key, not_before, lake) of the ingest command running now."""
    return dict(_STORE_OPTIONS.get())


def add_store_options(group: typer.Typer) -> None:
    """Give every command of ``group`` the options ``--identity-key``, ``--not-before`` and ``--lake``,
    defined once here; the command reads them through :func:`store_options`."""
    import functools
    import inspect

    for info in group.registered_commands:
        fn = info.callback
        sig = inspect.signature(fn, eval_str=True)
        if fn is None or "identity_key" in sig.parameters:
            continue
        extra = [
            inspect.Parameter("identity_key", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=IdentityKeyOpt),
            inspect.Parameter("not_before", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=NotBeforeOpt),
            inspect.Parameter("lake", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=LakeOpt),
        ]

        def wrapped(*args, identity_key=None, not_before=None, lake=None, _fn=fn, **kwargs):
            token = _STORE_OPTIONS.set({"identity_key": identity_key, "not_before": not_before, "lake": lake})
            try:
                return _fn(*args, **kwargs)
            finally:
                _STORE_OPTIONS.reset(token)

        functools.update_wrapper(wrapped, fn)
        del wrapped.__wrapped__
        params = [*sig.parameters.values(), *extra]
        wrapped.__signature__ = sig.replace(parameters=params)
        wrapped.__annotations__ = {p.name: p.annotation for p in params}
        info.callback = wrapped


@contextlib.contextmanager
def ingest_store(
    db: Path, *, identity_key: Path | None = None, not_before: str | None = None, rates: Path | None = None,
    lake: str | Path | None = None,
) -> Iterator:
    """The store opened for a load (its tables in the lake folder ``lake`` when given); a store file
    (and lake) this load created is removed again if the load fails."""
    from ..store import Store

    existed = db.exists()
    store = Store(db, identity_key=identity_key, not_before=not_before, rates=rates, lake=lake)
    try:
        yield store
    except BaseException:
        store.close()
        if not existed:
            for p in (db, Path(str(db) + ".wal")):
                with contextlib.suppress(OSError):
                    p.unlink()
            if store.lake is not None:
                store.lake.remove_if_unused()
        raise
    store.close()


def _fail(e: CtsswError) -> None:
    from ..errors import ConfigError, DataError, EstimationError, StoreError

    code = (
        Exit.USAGE if isinstance(e, ConfigError)
        else Exit.DATA if isinstance(e, DataError)
        else Exit.STORE if isinstance(e, StoreError)
        else Exit.ESTIMATION if isinstance(e, EstimationError)
        else Exit.FAILURE
    )
    console.print(label("error", "bold red", e), soft_wrap=True)
    raise typer.Exit(int(code))


@contextlib.contextmanager
def one_connection(db: Path, where: dict, wanted: bool = True) -> Iterator[None]:
    """A command whose sections each open the store (``impact --report``: the estimate, the tools, the
    metrics) gives them one connection, so the panel is built once and Spark starts once
    (``ctssw.pipeline.sections_connection``); a connection that cannot open is one error line."""
    if not wanted or not Path(db).exists():
        yield
        return
    from ..pipeline import sections_connection

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(sections_connection(**where, db=db))
        except CtsswError as e:
            _fail(e)
        yield


def _progress(quiet: bool = False):
    """Progress bars on standard error: shown only on a terminal, and never when ``quiet``
    (``--json``), so machine output and logs carry none of it. A task with no total counts up."""
    return Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True, disable=quiet or not console.is_terminal,
    )


def _counts_table(rows: list[dict]) -> Table:
    t = Table(title="Ingest summary")  # cells print as they are: the consoles have markup off
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
    import functools
    import json

    doc = {"schema": f"ctssw.{name}", "schema_version": JSON_SCHEMA_VERSION, **json_keys(payload)}
    if out.is_terminal:  # coloured for a person
        out.print_json(json.dumps(doc, default=str))
        return
    # for a pipe or a file, without rich's highlighting and wrapping (half a minute for the 10,000
    # rows of a large organisation's metrics); indented, except that a table's rows are one object
    # per line: Python indents only in its pure-Python encoder, 1.1 s for those rows
    one = functools.partial(json.dumps, default=str, ensure_ascii=False)
    parts = []
    for k, v in doc.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            body = "[\n" + ",\n".join("    " + one(x) for x in v) + "\n  ]"
        else:
            body = one(v, indent=2).replace("\n", "\n  ")
        parts.append(f"  {one(k)}: {body}")
    f = out.file
    f.write("{\n" + ",\n".join(parts) + "\n}\n")
    f.flush()


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
    lines = [str(t.title)] if t.title else []
    for i in range(len(cells[0]) if cells else 0):
        lines.append(f"{cols[0]}: {cells[0][i]}")
        lines.extend(f"  {c}: {col[i]}" for c, col in zip(cols[1:], cells[1:], strict=True))
    if out.is_terminal:
        out.print("\n".join(lines), highlight=False, soft_wrap=True)
    else:  # the same lines, without one rich render per line (seconds for 10,000 teams)
        out.file.write("\n".join(lines) + "\n")
        out.file.flush()


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


def spark_error(e: BaseException) -> str | None:
    """One line for an error a Spark job raised (None when ``e`` is not Spark's or Py4J's).

    Spark's own error keeps its Java stack in the message; the line kept is the deepest
    ``Caused by:`` in it, else the Java exception and its message (the line after Py4J's "An
    error occurred while calling ..."). Executors that died of ``OutOfMemoryError`` (exit code
    52) get the setting that gives them more.
    """
    kinds = tuple(
        getattr(sys.modules[m], k) for m, k in (("py4j.protocol", "Py4JError"), ("pyspark.errors", "PySparkException"))
        if m in sys.modules
    )
    if not kinds or not isinstance(e, kinds):
        return None
    try:
        text = str(e)
    except Exception:  # a Py4J error whose JVM is gone cannot render its Java exception
        text = type(e).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    causes = [ln.removeprefix("Caused by: ") for ln in lines if ln.startswith("Caused by: ")]
    cause = causes[-1] if causes else next((ln[2:] for ln in lines if ln.startswith(": ")), lines[0] if lines else type(e).__name__)
    msg = f"the Spark job failed: {cause[:300]}"
    if "OutOfMemoryError" in text or "exited with code 52" in text:
        msg += (" (its executors ran out of memory: give them more with spark.executor.memory in "
                "$SPARK_CONF_DIR/spark-defaults.conf)")
    return msg
