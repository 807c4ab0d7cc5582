"""Loading folders of canonical tables into the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..sources import canonical
from ._db import LoadCounts, Store
from ._schema import LOAD_ORDER


def ingest_canonical(
    store: Store,
    directory: str | Path,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[LoadCounts]:
    """Load every canonical table found in ``directory`` (referenced tables first).

    Each table loads in its own transaction; a file that cannot be read raises
    :class:`~ctssw.errors.SchemaError` naming it, after the tables before it
    have loaded and with nothing of it written.
    """
    scans = canonical.find(directory, LOAD_ORDER)
    out = []
    for i, scan in enumerate(scans):
        if progress:
            progress(scan.table, i, len(scans))
        canonical.probe(store.con, scan)
        out.append(store.load(scan.table, scan.sql, scan.source, row_ref_sql=scan.row_ref))
    if progress:
        progress("", len(scans), len(scans))
    return out
