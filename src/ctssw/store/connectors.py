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

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pyarrow as pa

from ..sources import devlake, git, git_agents, roster
from ..sources.ai import claude, copilot, cursor, kiro, otel
from ..sources.common import (
    Progress,
    Tables,
    blank_unknown_teams,
    fill_teams,
    note,
    paths_of,
    source_name,
    table,
)
from ..sources.forges import github, gitlab
from ..sources.ops import pagerduty
from ._db import LoadCounts, Store
from ._schema import TABLES
from .inference import (
    default_teams,
    infer_memberships,
    register_bots,
    roster_owned_repos,
)
from .ingest import ingest_tables

__all__ = [
    "LOADERS",
    "load_claude",
    "load_copilot",
    "load_cursor",
    "load_devlake",
    "load_git",
    "load_github",
    "load_gitlab",
    "load_kiro",
    "load_otel",
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
            register_bots(store, tables)
            out = ingest_tables(store, tables, source)
            infer_memberships(store)
            run["counts"] = [c.as_row() for c in out]
            run["finish"]()  # finished in the commit of the data (a lake's files are moved in after it)
    if progress:
        progress(f"loaded {source}", 1, 1)
    return out


def drop_unknown_teams(store: Store, tables: Tables, origin: str) -> None:
    """Empty optional team ids the roster does not know, with a note, rather than quarantine rows."""
    known = {r[0] for r in store.con.execute("SELECT team_id FROM teams").fetchall()}
    blank_unknown_teams(tables, known, _TEAM_REQUIRED, origin)


def stored_production_envs(store: Store) -> dict[str, str]:
    """The ``--production-env`` pattern given earlier for each service, by repository."""
    return dict(store.con.execute(
        "SELECT coalesce(repo_id, service_id), production_env FROM services WHERE production_env IS NOT NULL").fetchall())


def remember_production_env(store: Store, tables: Tables, pattern: str | None) -> None:
    """Store ``pattern`` on the service of every repository these deployments belong to, so a
    later load of the same service without ``--production-env`` classifies environments alike.
    A service row the store has already keeps its team."""
    d = tables.get("deployments")
    if pattern is None or d is None or d.num_rows == 0:
        return
    repos = sorted({r for r in d.column("repo_id").to_pylist() if r})
    if not repos:
        return
    have = {r[0]: r[1:] for r in store.con.execute(
        "SELECT service_id, team_id, repo_id FROM services WHERE service_id IN (SELECT unnest(?))", [repos]).fetchall()}
    rows = [{"service_id": r, "team_id": have.get(r, (None, None))[0], "repo_id": have.get(r, (None, r))[1] or r,
             "production_env": pattern} for r in repos]
    old = tables.get("services")
    extra = old.to_pylist() if old is not None else []
    known = {x["service_id"] for x in extra}
    tables["services"] = table("services", extra + [x for x in rows if x["service_id"] not in known])


def keep_agents(store: Store, tables: Tables) -> None:
    """Keep the agent flags another connector stored for the same change when this export has
    none (git finds trailers a forge list page does not show, and the other way round)."""
    t = tables.get("changes")
    if t is None or t.num_rows == 0 or "agent" not in t.column_names:
        return
    ids = pa.table({"change_id": t.column("change_id")})
    store.con.register("_chg", ids)
    try:
        known = {r[0]: (r[1], r[2]) for r in store.con.execute(
            """SELECT c.change_id, c.agent, c.review_agent FROM changes c JOIN _chg USING (change_id)
               WHERE c.agent IS NOT NULL OR c.review_agent IS NOT NULL""").fetchall()}
    finally:
        store.con.unregister("_chg")
    if not known:
        return
    cid = t.column("change_id").to_pylist()
    for i, col in enumerate(("agent", "review_agent")):
        vals = t.column(col).to_pylist()
        vals = [v if v is not None or c not in known else known[c][i] for v, c in zip(vals, cid)]
        t = t.set_column(t.schema.get_field_index(col), col, pa.array(vals, pa.string()))
    tables["changes"] = t


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
    agents: bool = True,
    agent_rules: str | Path | None = None,
    renames: bool = True,
    deployments: str | None = None,
    repo_id_from: str = "auto",
    progress: Progress | None = None,
) -> list[LoadCounts]:
    """Read repositories (see :func:`ctssw.sources.git.read`) and load them in one transaction.

    With ``roster_teams`` a commit no rule or repository team claims gets its author's team
    from the memberships already in the store. Without a team, rules or a roster, each
    repository is a team of its own and its members are inferred (:mod:`ctssw.store.inference`).
    With ``agents`` (the default) AI assistants and
    agents are detected in the history too (see :mod:`ctssw.sources.git_agents`): tool_usage
    rows ``<tool>:git``, ``agent_configs`` and ``changes.agent``.
    """
    ps = paths_of(repos)
    tables = git.read(
        ps, all_refs=all_refs, repo_id=repo_id, team=team, owners=owners, codeowners=codeowners, jobs=jobs,
        renames=renames, deployments=deployments, repo_id_from=repo_id_from, progress=progress,
    )
    if agents:
        ids = dict(zip(map(str, ps), tables["repos"].column("repo_id").to_pylist()))
        found_tables, found = git_agents.read(ps, repo_ids=ids, all_refs=all_refs, agent_rules=agent_rules, progress=progress)
        tables["changes"] = git_agents.tag_changes(tables["changes"], found)
        tables.update(found_tables)
    keep_agents(store, tables)
    if roster_teams:
        teams_from_roster(store, tables, {"commits": ("author", "committed_at"), "changes": ("author", "merged_at")})
    if team is None and owners is None and not codeowners:
        default_teams(store, tables)
    if roster_teams:
        roster_owned_repos(store, tables)
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
    bots: Iterable[str] = (),
    production_env: str | None = None,
    agent_rules: str | Path | None = None,
    progress: Progress | None = None,
    production_env_by_repo: Mapping[str, str] | None = None,
    membership_start: str | None = None,
) -> list[LoadCounts]:
    """Read GitHub REST JSON (see :func:`ctssw.sources.forges.github.read`) and load it in one transaction.

    Team member lists become teams and memberships from ``membership_start``; by default from
    the earliest activity in the store (or in this load), kept for later loads so a member keeps
    one start.

    A ``production_env`` given is stored on each repository's service and used for it in later loads
    that give none (``production_env_by_repo`` overrides the stored ones)."""
    ps = paths_of(paths)
    tables = github.read(ps, workflow=workflow, job=job, environment=environment, team=team, bots=bots,
                         production_env=production_env, agent_rules=agent_rules, progress=progress,
                         production_env_by_repo=stored_production_envs(store) | dict(production_env_by_repo or {}))
    remember_production_env(store, tables, production_env)
    _member_starts(store, tables, membership_start)
    keep_agents(store, tables)
    _release_shas(store, tables)
    drop_unknown_teams(store, tables, "github")
    return load_tables(store, tables, source_name("github", ps), progress)


def _member_starts(store: Store, tables: Tables, start: str | None) -> None:
    """Fill the start of team memberships read from GitHub member lists (see :func:`load_github`)."""
    m = tables.get("memberships")
    if m is None or m.num_rows == 0:
        return
    kept = store.con.execute("SELECT value FROM ctssw_meta WHERE key = 'github_membership_start'").fetchall()
    if start is None and kept:
        start = kept[0][0]
    if start is None:
        days = [r[0] for r in store.con.execute(
            "SELECT min(committed_at)::DATE FROM commits UNION ALL SELECT min(created_at)::DATE FROM changes").fetchall()]
        ch = tables.get("changes")
        if ch is not None and ch.num_rows:
            days += [dt.date.fromisoformat(v[:10]) for v in ch.column("created_at").to_pylist() if v]
        days = [d for d in days if d is not None]
        start = (min(days) if days else dt.datetime.now(dt.UTC).date()).isoformat()
        note(f"github: team members start on {start} (GitHub keeps no joining dates; the earliest activity "
             "loaded); --membership-start DATE sets it")
    if not kept:
        store.con.execute("INSERT INTO ctssw_meta VALUES ('github_membership_start', ?)", [start])
    tables["memberships"] = m.set_column(m.column_names.index("start"), "start", pa.array([start] * m.num_rows, pa.string()))


def _release_shas(store: Store, tables: Tables) -> None:
    """A release whose export names a branch keeps the sha git's tag gave the same deployment id."""
    d = tables.get("deployments")
    if d is None or d.num_rows == 0 or "kind" not in d.column_names:
        return
    rows = d.to_pylist()
    need = [r["deployment_id"] for r in rows if r.get("kind") == "release" and not r.get("sha")]
    if not need:
        return
    have = dict(store.con.execute(
        "SELECT deployment_id, sha FROM deployments WHERE sha IS NOT NULL AND deployment_id IN (SELECT unnest(?))", [need]
    ).fetchall())
    for r in rows:
        if r.get("kind") == "release" and not r.get("sha"):
            r["sha"] = have.get(r["deployment_id"])
    tables["deployments"] = pa.Table.from_pylist(rows, schema=d.schema)


def load_gitlab(
    store: Store,
    paths: str | Path | Iterable[str | Path],
    *,
    pipeline_ref: str | None = None,
    environment: str = "production",
    team: str | None = None,
    production_env: str | None = None,
    agent_rules: str | Path | None = None,
    progress: Progress | None = None,
    production_env_by_repo: Mapping[str, str] | None = None,
) -> list[LoadCounts]:
    """Read GitLab REST JSON (see :func:`ctssw.sources.forges.gitlab.read`) and load it in one transaction.

    A ``production_env`` given is stored on each repository's service and used for it in later loads
    that give none (``production_env_by_repo`` overrides the stored ones)."""
    ps = paths_of(paths)
    tables = gitlab.read(ps, pipeline_ref=pipeline_ref, environment=environment, team=team,
                         production_env=production_env, agent_rules=agent_rules, progress=progress,
                         production_env_by_repo=stored_production_envs(store) | dict(production_env_by_repo or {}))
    remember_production_env(store, tables, production_env)
    keep_agents(store, tables)
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


def load_kiro(store: Store, paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> list[LoadCounts]:
    """Read Kiro user reports and by_user_analytic CSVs (see :func:`ctssw.sources.ai.kiro.read`) and load them
    in one transaction."""
    ps = paths_of(paths)
    return load_tables(store, kiro.read(ps, progress=progress), source_name("kiro", ps), progress)


def load_qdev(store: Store, paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> list[LoadCounts]:
    """Amazon Q Developer user activity CSVs: the same reader as :func:`load_kiro` (``qdev`` is its alias)."""
    ps = paths_of(paths)
    return load_tables(store, kiro.read(ps, progress=progress), source_name("qdev", ps), progress)


def load_claude(store: Store, paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> list[LoadCounts]:
    """Read Claude Code usage reports (see :func:`ctssw.sources.ai.claude.read`) and load them in one transaction."""
    ps = paths_of(paths)
    return load_tables(store, claude.read(ps, progress=progress), source_name("claude", ps), progress)


def load_cursor(store: Store, paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> list[LoadCounts]:
    """Read Cursor Admin API exports (see :func:`ctssw.sources.ai.cursor.read`) and load them in one transaction."""
    ps = paths_of(paths)
    return load_tables(store, cursor.read(ps, progress=progress), source_name("cursor", ps), progress)


def load_otel(store: Store, paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> list[LoadCounts]:
    """Read OTLP JSON metric files (see :func:`ctssw.sources.ai.otel.read`) and load them in one transaction."""
    ps = paths_of(paths)
    return load_tables(store, otel.read(ps, progress=progress), source_name("otel", ps), progress)


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
    "claude": "ctssw.sources.ai.claude",
    "copilot": "ctssw.sources.ai.copilot",
    "cursor": "ctssw.sources.ai.cursor",
    "devlake": "ctssw.sources.devlake",
    "git": "ctssw.sources.git",
    "github": "ctssw.sources.forges.github",
    "gitlab": "ctssw.sources.forges.gitlab",
    "kiro": "ctssw.sources.ai.kiro",
    "otel": "ctssw.sources.ai.otel",
    "pagerduty": "ctssw.sources.ops.pagerduty",
    "qdev": "ctssw.sources.ai.kiro",
    "roster": "ctssw.sources.roster",
}

LOADERS: dict[str, Callable[..., list[LoadCounts]]] = {
    "claude": load_claude,
    "copilot": load_copilot,
    "cursor": load_cursor,
    "devlake": load_devlake,
    "git": load_git,
    "github": load_github,
    "gitlab": load_gitlab,
    "kiro": load_kiro,
    "otel": load_otel,
    "pagerduty": load_pagerduty,
    "qdev": load_qdev,
    "roster": load_roster,
}
