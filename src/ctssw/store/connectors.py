"""Connectors into the store: read an export with its parser in :mod:`ctssw.sources`, then load it.

Each ``load_<kind>`` reads every file of a run first, fills in what the store already knows
(teams from the roster, known team ids), then writes every table in **one transaction**, so a
failed run leaves the store as it was. ``LOADERS`` maps a connector's name to its function.

Examples
--------
>>> from ctssw.store import Store, load_github                      # doctest: +SKIP
>>> with Store("ctssw.duckdb") as store:                            # doctest: +SKIP
...     counts = load_github(store, ["exports/github"], workflow="^Deploy")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa

from ..sources import devlake, git, roster
from ..sources.ai import copilot, qdev
from ..sources.common import (
    Progress,
    Tables,
    blank_unknown_teams,
    fill_teams,
    paths_of,
    source_name,
)
from ..sources.forges import github, gitlab
from ..sources.ops import pagerduty
from ._db import LoadCounts, Store
from ._schema import TABLES
from .ingest import ingest_tables

__all__ = [
    "LOADERS",
    "load_copilot",
    "load_devlake",
    "load_git",
    "load_github",
    "load_gitlab",
    "load_pagerduty",
    "load_qdev",
    "load_roster",
]

# tables whose team id is required: an unknown one is quarantined with its name, not blanked
_TEAM_REQUIRED = frozenset(
    name for name, t in TABLES.items() if any(c.name == "team_id" and c.required for c in t.columns)
)


def load_tables(store: Store, tables: Tables, source: str, progress: Progress | None = None) -> list[LoadCounts]:
    """Load connector output in one transaction: every table of it is written, or none."""
    if progress:
        progress(f"loading {source}", 0, 1)
    tables = {k: v for k, v in tables.items() if v is not None}
    with store.run(source.split(":", 1)[0], source) as run:
        with store.transaction():
            out = ingest_tables(store, tables, source)
        run["counts"] = [c.as_row() for c in out]
    if progress:
        progress(f"loaded {source}", 1, 1)
    return out


def drop_unknown_teams(store: Store, tables: Tables, origin: str) -> None:
    """Empty optional team ids the roster does not know, with a note, rather than quarantine rows."""
    known = {r[0] for r in store.con.execute("SELECT team_id FROM teams").fetchall()}
    blank_unknown_teams(tables, known, _TEAM_REQUIRED, origin)


def _membership_spans(store: Store, people: Iterable[str | None]) -> dict[str, list[tuple[str, str, str]]]:
    """Each raw identity's team memberships in the store as ``(start, end, team)``, by start."""
    authors = pa.table({"a": pa.array(sorted({x for x in people if x}), pa.string())})
    store.con.register("_authors", authors)
    try:
        rows = store.con.execute(
            f"""SELECT a.a, m.team_id, CAST(m.start AS VARCHAR), CAST(m."end" AS VARCHAR), m.fte
                FROM _authors a JOIN memberships m ON m.builder_id = {store.builder_sql('a.a')}
                ORDER BY 1, 3"""
        ).fetchall()
    finally:
        store.con.unregister("_authors")
    spans: dict[str, list[tuple[str, str, str]]] = {}
    for a, team, start, end, _fte in rows:
        spans.setdefault(a, []).append((start, end or "9999-12-31", team))
    return spans


def teams_from_roster(store: Store, tables: Tables, which: dict[str, tuple[str, str]]) -> None:
    """Fill empty team ids with the person's team on that day, from the memberships in the store.

    ``which`` maps a table to its (person column, time column).
    """
    for name, (person, when) in which.items():
        t = tables.get(name)
        if t is None or t.num_rows == 0:
            continue
        spans = _membership_spans(store, t.column(person).to_pylist())
        if spans:
            tables[name] = fill_teams(t, person, when, spans)


# -- one function per connector --------------------------------------------------------------------


def load_git(
    store: Store,
    repos: str | Path | Iterable[str | Path],
    *,
    all_refs: bool = False,
    repo_id: str | None = None,
    team: str | dict[str, str] | Iterable[str] | None = None,
    owners: str | Path | git.OwnerRules | None = None,
    codeowners: bool = False,
    roster_teams: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> list[LoadCounts]:
    """Read repositories (see :func:`ctssw.sources.git.read`) and load them in one transaction.

    With ``roster_teams`` a commit no rule or repository team claims gets its author's team
    from the memberships already in the store.
    """
    ps = paths_of(repos)
    tables = git.read(
        ps, all_refs=all_refs, repo_id=repo_id, team=team, owners=owners, codeowners=codeowners, jobs=jobs, progress=progress
    )
    if roster_teams:
        teams_from_roster(store, tables, {"commits": ("author", "committed_at"), "changes": ("author", "merged_at")})
    drop_unknown_teams(store, tables, "git")
    return load_tables(store, tables, source_name("git", ps), progress)


def load_github(
    store: Store,
    paths: str | Path | Iterable[str | Path],
    *,
    workflow: str | None = None,
    job: str | None = None,
    environment: str = "production",
    team: str | None = None,
    progress: Progress | None = None,
) -> list[LoadCounts]:
    """Read GitHub REST JSON (see :func:`ctssw.sources.forges.github.read`) and load it in one transaction."""
    ps = paths_of(paths)
    tables = github.read(ps, workflow=workflow, job=job, environment=environment, team=team, progress=progress)
    drop_unknown_teams(store, tables, "github")
    return load_tables(store, tables, source_name("github", ps), progress)


def load_gitlab(
    store: Store,
    paths: str | Path | Iterable[str | Path],
    *,
    pipeline_ref: str | None = None,
    environment: str = "production",
    team: str | None = None,
    progress: Progress | None = None,
) -> list[LoadCounts]:
    """Read GitLab REST JSON (see :func:`ctssw.sources.forges.gitlab.read`) and load it in one transaction."""
    ps = paths_of(paths)
    tables = gitlab.read(ps, pipeline_ref=pipeline_ref, environment=environment, team=team, progress=progress)
    drop_unknown_teams(store, tables, "gitlab")
    return load_tables(store, tables, source_name("gitlab", ps), progress)


def load_pagerduty(
    store: Store,
    paths: str | Path | Iterable[str | Path],
    *,
    team_map: dict[str, str] | Iterable[str] | None = None,
    tz: str = "UTC",
    workday: tuple[int, int] = (9, 18),
    progress: Progress | None = None,
) -> list[LoadCounts]:
    """Read PagerDuty exports (see :func:`ctssw.sources.ops.pagerduty.read`) and load them in one
    transaction; pages without a mapped team take the paged person's team from the roster in the store."""
    ps = paths_of(paths)
    tables = pagerduty.read(ps, team_map=team_map, tz=tz, workday=workday, progress=progress)
    teams_from_roster(store, tables, {"pages": ("builder", "triggered_at")})
    drop_unknown_teams(store, tables, "pagerduty")
    return load_tables(store, tables, source_name("pagerduty", ps), progress)


def load_copilot(store: Store, paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> list[LoadCounts]:
    """Read Copilot usage exports (see :func:`ctssw.sources.ai.copilot.read`) and load them in one transaction."""
    ps = paths_of(paths)
    return load_tables(store, copilot.read(ps, progress=progress), source_name("copilot", ps), progress)


def load_qdev(store: Store, paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> list[LoadCounts]:
    """Read Q Developer user activity CSVs (see :func:`ctssw.sources.ai.qdev.read`) and load them in one transaction."""
    ps = paths_of(paths)
    return load_tables(store, qdev.read(ps, progress=progress), source_name("qdev", ps), progress)


def load_roster(
    store: Store,
    paths: str | Path | Iterable[str | Path],
    *,
    date_format: str | None = None,
    progress: Progress | None = None,
) -> list[LoadCounts]:
    """Read roster CSVs or folders of them (see :func:`ctssw.sources.roster.read`) and load them
    in one transaction (teams, identities, memberships, costs)."""
    ps = paths_of(paths)
    return load_tables(store, roster.read(ps, progress=progress, date_format=date_format), source_name("roster", ps), progress)


def load_devlake(
    store: Store,
    paths: str | Path | Iterable[str | Path],
    *,
    repo_id: str = "devlake",
    membership_start: str | None = None,
    progress: Progress | None = None,
) -> list[LoadCounts]:
    """Read DevLake tables (see :func:`ctssw.sources.devlake.read`) and load them in one transaction."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    tables = devlake.read(items, repo_id=repo_id, membership_start=membership_start, progress=progress)
    drop_unknown_teams(store, tables, "devlake")
    return load_tables(store, tables, devlake.source_label(items), progress)


# The parser module behind each connector (each has ``read``).
SOURCE_MODULES: dict[str, str] = {
    "copilot": "ctssw.sources.ai.copilot",
    "devlake": "ctssw.sources.devlake",
    "git": "ctssw.sources.git",
    "github": "ctssw.sources.forges.github",
    "gitlab": "ctssw.sources.forges.gitlab",
    "pagerduty": "ctssw.sources.ops.pagerduty",
    "qdev": "ctssw.sources.ai.qdev",
    "roster": "ctssw.sources.roster",
}

LOADERS: dict[str, Callable[..., list[LoadCounts]]] = {
    "copilot": load_copilot,
    "devlake": load_devlake,
    "git": load_git,
    "github": load_github,
    "gitlab": load_gitlab,
    "pagerduty": load_pagerduty,
    "qdev": load_qdev,
    "roster": load_roster,
}
