"""The ``ingest_runs`` journal: every load writes a row when it starts and completes it when it ends.

A run whose row has no ``finished_at`` was stopped (killed, power lost) before it ended.
Loads are one transaction, so such a run wrote nothing, but what the store holds is then
not what its user expects: every reader names the run until a later run of the same
source finishes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator

import duckdb

DDL = """CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id BIGINT, kind VARCHAR, source VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    status VARCHAR, files VARCHAR, counts VARCHAR, pid INTEGER, message VARCHAR)"""


def create(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def _exists(con) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'ingest_runs' AND schema_name = 'main'"
    ).fetchall()[0][0])


@contextlib.contextmanager
def run(store, kind: str, source: str, files: list[str] | None = None) -> Iterator[dict]:
    """Record a run around a load. The row is committed before the load starts, so a run
    killed part-way is visible afterwards; ``info['counts']`` set by the caller is kept."""
    con = store.con
    now = dt.datetime.now(dt.UTC)
    rid = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM ingest_runs").fetchall()[0][0]
    con.execute(
        "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, NULL, 'running', ?, NULL, ?, NULL)",
        [rid, kind, source, now, json.dumps(files or []), os.getpid()],
    )
    def finish() -> None:
        con.execute(
            "UPDATE ingest_runs SET finished_at = ?, status = 'finished', counts = ? WHERE run_id = ?",
            [dt.datetime.now(dt.UTC), json.dumps(info["counts"]), rid],
        )

    # ``info['finish']()`` inside the load's own transaction marks the run finished in the same
    # commit as its data, so no kill can leave the data written and the run unfinished
    info: dict = {"run_id": rid, "counts": None, "finish": finish}
    try:
        yield info
    except BaseException as e:
        with contextlib.suppress(duckdb.Error):
            con.execute(
                "UPDATE ingest_runs SET finished_at = ?, status = 'failed', message = ? WHERE run_id = ?",
                [dt.datetime.now(dt.UTC), str(e).splitlines()[0][:500] if str(e) else type(e).__name__, rid],
            )
        raise
    finish()


def record_finished(con, kind: str, source: str, counts: dict) -> None:
    """Journal, as finished, work its caller does in one transaction of its own (``ctssw rekey``,
    ``ctssw copy-to-lake``): the row commits with what the work wrote, or not at all."""
    now = dt.datetime.now(dt.UTC)
    con.execute(
        """INSERT INTO ingest_runs SELECT coalesce(max(run_id), 0) + 1, ?, ?, ?, ?, 'finished', '[]', ?, ?, NULL
           FROM ingest_runs""",
        [kind, source, now, now, json.dumps(counts), os.getpid()],
    )


def incomplete(con) -> list[tuple]:
    """``(run_id, kind, source, started_at)`` of each source whose latest run never finished."""
    if not _exists(con):
        return []
    return con.execute(
        """SELECT run_id, kind, source, started_at FROM (
               SELECT *, row_number() OVER (PARTITION BY source ORDER BY run_id DESC) AS n FROM ingest_runs)
           WHERE n = 1 AND status = 'running' ORDER BY run_id"""
    ).fetchall()


def incomplete_warnings(store) -> list[str]:
    """One sentence per unfinished run, naming it and what to do."""
    out = []
    for rid, kind, source, started in incomplete(store.con):
        command = f"ctssw {kind}" if str(kind).startswith("collect ") else f"ctssw ingest {kind}"
        out.append(
            f"INCOMPLETE LOAD in {store.path}: run {rid} (`{command}`, {source}, started "
            f"{started:%Y-%m-%d %H:%M:%S} UTC) never finished, so nothing of it is in the store and these numbers "
            f"are from before it: run it again (re-loading is harmless)"
        )
    return out


def runs(con) -> list[dict]:
    """Every run, newest first."""
    if not _exists(con):
        return []
    cur = con.execute("SELECT * FROM ingest_runs ORDER BY run_id DESC")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
