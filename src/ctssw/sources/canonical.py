"""Files in the canonical schema: ``DIR/<table>.parquet|.csv`` or ``DIR/<table>/*.parquet|*.csv``.

:func:`find` gives one :class:`Scan` per file; :func:`batches` joins a table's Parquet files of
one shape into one :class:`Batch`, so the store loads them in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import DataError, SchemaError
from .common import input_file

SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class Scan:
    """One input: the SQL that reads it, and how to name each of its rows."""

    table: str
    source: str  # shown to users and kept in the store
    sql: str
    row_ref: str


@dataclass(frozen=True)
class Batch:
    """One table's input from one or more sources, read in one statement.

    ``sql`` yields the input columns plus ``_src`` (the index of the row's source in
    ``sources``) and ``_rid``, which names the row within its source the same way on every
    read; ``row_ref`` is SQL over the input naming the row for people (only rejected rows are
    named).
    """

    table: str
    sources: tuple[str, ...]
    sql: str
    row_ref: str
    # False: ``sql`` is one source's plain scan, which the store reads once into a table of its own
    stable: bool = True


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def find(directory: str | Path, tables: tuple[str, ...]) -> list[Scan]:
    """The scans for every canonical table found under ``directory``, in load order."""
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: not a directory of canonical tables")
    scans: list[Scan] = []
    for t in tables:
        files = [d / f"{t}{s}" for s in SUFFIXES if input_file(d / f"{t}{s}")]
        if (d / t).is_dir():
            files += sorted(p for p in (d / t).iterdir() if p.suffix in SUFFIXES)
        parquet = [f for f in files if f.suffix == ".parquet"]
        csv = [f for f in files if f.suffix == ".csv"]
        for f in parquet:
            scans.append(
                Scan(
                    t,
                    str(f),
                    f"SELECT * EXCLUDE (file_row_number), file_row_number AS _row "
                    f"FROM read_parquet({_lit(f)}, file_row_number = true)",
                    f"{_lit(Path(f.name))} || ':row ' || (_row + 1)",
                )
            )
        for f in csv:
            scans.append(
                Scan(
                    t,
                    str(f),
                    f"SELECT *, row_number() OVER () AS _row FROM read_csv({_lit(f)}, all_varchar = true, header = true)",
                    f"{_lit(Path(f.name))} || ':line ' || (_row + 1)"  # line 1 is the header,
                )
            )
    if not scans:
        raise DataError(
            f"{d}: no canonical tables found (expected files such as teams.csv, memberships.parquet "
            f"or folders such as deployments/)"
        )
    return scans


def probe(con: duckdb.DuckDBPyConnection, scan: Scan) -> list[tuple[str, str]]:
    """Read the input's header so an unreadable file fails with one clear line; its columns and types."""
    try:
        shape = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {scan.sql}").fetchall()]
        con.execute(f"SELECT count(*) FROM ({scan.sql})").fetchall()
    except duckdb.Error as e:
        kind = "Parquet" if ".parquet" in scan.sql else "CSV with a header row"
        first = str(e).strip().splitlines()[0]
        raise SchemaError(f"{scan.source}: cannot read as {kind} ({first})") from None
    return shape


def batches(scans: list[Scan], shapes: list[list[tuple[str, str]]]) -> list[Batch]:
    """The scans joined into batches, in order: consecutive Parquet files of one table with the same
    columns and types are read together (in parallel, with each file's own row numbers); any
    other file is a batch of its own."""
    out: list[Batch] = []
    group: list[Scan] = []
    shape: list[tuple[str, str]] | None = None

    def flush() -> None:
        if not group:
            return
        files = [Path(g.source) for g in group]
        names = "([" + ", ".join(_lit(Path(f.name)) for f in files) + "]::VARCHAR[])"
        out.append(Batch(
            group[0].table,
            tuple(g.source for g in group),
            f"SELECT * EXCLUDE (file_row_number), file_row_number AS _row, CAST(file_index AS BIGINT) AS _src, "
            f"file_row_number AS _rid FROM read_parquet([{', '.join(_lit(f) for f in files)}], file_row_number = true)",
            f"{names}[_src + 1] || ':row ' || (_row + 1)",
        ))
        group.clear()

    for scan, cols in zip(scans, shapes):
        if scan.source.endswith(".parquet"):
            if group and (group[0].table != scan.table or cols != shape):
                flush()
            group.append(scan)
            shape = cols
            continue
        flush()
        # a CSV's row numbers come from a window over the read, which need not give the rows in
        # the same order twice: the store reads it once
        out.append(Batch(scan.table, (scan.source,), scan.sql, scan.row_ref, stable=False))
    flush()
    return out
