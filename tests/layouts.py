"""The store layouts the tests run on, and what each keeps on disk."""

from __future__ import annotations

from pathlib import Path

#: the two places a store keeps its canonical tables: inside its DuckDB file, or in a Parquet lake beside it
LAYOUTS = ("db", "lake")


def lake_of(path) -> Path:
    """The lake folder the tests give a store file ``path`` in the lake layout: beside the store's
    folder (never inside it, which tests fill with exports to ingest)."""
    path = Path(path).absolute()
    return path.parent.parent / f"{path.parent.name}-{path.stem}-lake"


def stored_bytes(path) -> bytes:
    """Every byte a store keeps: its file, its WAL and, in the lake layout, every file of its lake."""
    path = Path(path)
    out = b""
    for p in (path, Path(str(path) + ".wal")):
        if p.exists():
            out += p.read_bytes()
    lake = lake_of(path)
    if lake.is_dir():
        for f in sorted(lake.rglob("*")):
            if f.is_file():
                out += f.read_bytes()
    return out
