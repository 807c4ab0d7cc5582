"""Files in the canonical schema: ``DIR/<table>.parquet|.csv`` or ``DIR/<table>/*.parquet|*.csv``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import DataError, SchemaError

SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class Scan:
    """One input: the SQL that reads it, and how to name each of its rows."""

    table: str
    source: str  # shown to users and kept in the store
    sql: str
    row_ref: str


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def find(directory: str | Path, tables: tuple[str, ...]) -> list[Scan]:
    """The scans for every canonical table found under ``directory``, in load order."""
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: not a directory of canonical tables")
    scans: list[Scan] = []
    for t in tables:
        files = [d / f"{t}{s}" for s in SUFFIXES if (d / f"{t}{s}").is_file()]
        if (d / t).is_dir():
            files += sorted(p for p in (d / t).iterdir() if p.suffix in SUFFIXES)
        parquet = [f for f in files if f.suffix == ".parquet"]
        csv = [f for f in files if f.suffix == ".csv"]
        for f in parquet:
            # one transaction per file keeps memory bounded by the largest part
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


def probe(con: duckdb.DuckDBPyConnection, scan: Scan) -> None:
    """Read the input's header so an unreadable file fails with one clear line."""
    try:
        con.execute(f"DESCRIBE {scan.sql}").fetchall()
        con.execute(f"SELECT count(*) FROM ({scan.sql})").fetchall()
    except duckdb.Error as e:
        kind = "Parquet" if ".parquet" in scan.sql else "CSV with a header row"
        first = str(e).strip().splitlines()[0]
        raise SchemaError(f"{scan.source}: cannot read as {kind} ({first})") from None
