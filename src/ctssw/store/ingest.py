"""Loading folders of canonical tables into the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..sources import canonical
from ._db import LoadCounts, Store
from ._schema import LOAD_ORDER, TABLES


def ingest_canonical(
    store: Store,
    directory: str | Path,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[LoadCounts]:
    """Load every canonical table found in ``directory`` (referenced tables first).

    Every file is probed before anything is written, and the tables load in one
    transaction journalled in ``ingest_runs``: a file that cannot be read raises
    :class:`~ctssw.errors.SchemaError` naming it and nothing is written, and a run
    killed part-way leaves the store as it was (readers then name the run).
    """
    scans = canonical.find(directory, LOAD_ORDER)
    shapes = [canonical.probe(store.con, scan) for scan in scans]
    batches = canonical.batches(scans, shapes)
    out: list[LoadCounts] = []
    with store.run("canonical", f"canonical:{directory}", [s.source for s in scans]) as run:
        with store.transaction():
            for i, batch in enumerate(batches):
                if progress:
                    progress(batch.table, len(out), len(scans))
                out += store.load_batch(batch)
                # on a lake, a table no later batch may change is staged now, not at the commit
                store.release(*(set(LOAD_ORDER) - _written(batches[i + 1:])))
            run["counts"] = [c.as_row() for c in out]
            run["finish"]()  # finished in the commit of the data (a lake's files are moved in after it)
    if progress:
        progress("", len(scans), len(scans))
    return out


def _written(batches: list) -> set[str]:
    """The tables loading ``batches`` may change: their own, and the tables naming people when
    identities load (their pseudonyms are remapped)."""
    out = {b.table for b in batches}
    if "identities" in out:
        out |= {t.name for t in TABLES.values() if any(c.person for c in t.columns)}
    return out


def ingest_tables(store: Store, tables: dict, source: str) -> list[LoadCounts]:
    """Load Arrow or pandas tables already in the canonical input form (connectors use this).

    ``tables`` maps canonical table names to tables; they load in the schema's
    order, each in its own transaction, with rows named ``source:table row N`` (one source's
    tables each count their rows from 1, so the name says which table's row it is).
    """
    import pyarrow as pa

    out = []
    for name in LOAD_ORDER:
        if name not in tables:
            continue
        data = tables[name]
        if not isinstance(data, pa.Table):
            data = pa.Table.from_pandas(data, preserve_index=False)
        data = data.append_column("_row", pa.array(range(1, data.num_rows + 1), pa.int64()))
        view = f"_in_{name}"
        store.con.register(view, data)
        try:
            lit = source.replace("'", "''")
            out.append(store.load(name, f"SELECT * FROM {view}", source, row_ref_sql=f"'{lit}:{name} row ' || _row"))
        finally:
            store.con.unregister(view)
    return out
