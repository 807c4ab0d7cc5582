"""``ctssw ingest KIND PATH...``: one command per connector, each calling its ``ctssw.store.load_<kind>``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CtsswError, DataWarning
from . import _common as A

Paths = Annotated[list[Path], typer.Argument(help="Export files or folders.", show_default=False)]
TeamOpt = Annotated[str | None, typer.Option("--team", help="Team id owning everything in these files.")]


def _run(kind: str, db: Path, as_json: bool, fn: Callable, **store_opts) -> None:
    """Open the store, run one connector with a progress bar, print the summary and notes.

    The store opens with the command's store options (``--identity-key``, ``--not-before``,
    added to every ingest command by :func:`ctssw.cli._common.add_store_options`) and
    ``store_opts``; a store file this run created is removed again when the run fails.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            with A.ingest_store(db, **{**A.store_options(), **store_opts}) as store, A._progress() as p:
                task = p.add_task(f"ingesting {kind}", total=None)

                def tick(desc: str, done: int, total: int) -> None:
                    p.update(task, description=desc, completed=done, total=total or None)

                counts = fn(store, tick)
        except CtsswError as e:
            for w in caught:
                if issubclass(w.category, DataWarning):
                    A.console.print(A.label("note", "yellow", w.message), soft_wrap=True)
            A._fail(e)
    notes = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, DataWarning)))
    rows = [c.as_row() for c in counts]
    if as_json:
        A.out.print_json(json.dumps({"counts": rows, "notes": notes}))
        return
    if rows:
        A.out.print(A._counts_table(rows))
    else:
        A.out.print(f"{kind}: nothing loaded.", highlight=False)
    for n in notes:
        A.out.print(f"note: {n}", highlight=False, soft_wrap=True)
    q = sum(r["quarantined"] for r in rows)
    if q:
        A.out.print(f"{q} row(s) quarantined; see the quarantine table in {db} for each reason.", highlight=False)
    u = sum(r["unmapped identities"] for r in rows)
    if u:
        A.out.print(f"{u} identit(y/ies) not on the roster: stored under stable pseudonymous ids; load the roster's identities to map them.", highlight=False)


def register(ingest_app: typer.Typer) -> None:
    """Add the connector commands to ``ctssw ingest``."""

    @ingest_app.command("git")
    def git_cmd(
        paths: Paths,
        all_refs: Annotated[bool, typer.Option("--all", help="Every ref, not only HEAD's history.")] = False,
        repo_id: Annotated[str | None, typer.Option("--repo-id", help="Repository id to store (one repository).")] = None,
        team: Annotated[list[str] | None, typer.Option("--team", help="TEAM for all repositories, or REPO=TEAM (repeatable).")] = None,
        owners: Annotated[Path | None, typer.Option("--owners", help="CODEOWNERS-style 'pattern team' rules file (monorepos).")] = None,
        codeowners: Annotated[bool, typer.Option("--codeowners", help="Use each repository's own CODEOWNERS file.")] = False,
        roster_teams: Annotated[bool, typer.Option("--roster-teams/--no-roster-teams", help="Fall back to the author's team in the roster.")] = True,
        jobs: Annotated[int | None, typer.Option("--jobs", help="git log processes for a large repository (default: up to 4).")] = None,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """Local git repositories (bare mirrors too): commits, merged changes, repos."""
        from ..store import load_git

        t = team[0] if team and len(team) == 1 and "=" not in team[0] else team
        _run("git", db, as_json, lambda s, tick: load_git(
            s, paths, all_refs=all_refs, repo_id=repo_id, team=t, owners=owners, codeowners=codeowners,
            roster_teams=roster_teams, jobs=jobs, progress=tick))

    @ingest_app.command("github")
    def github_cmd(
        paths: Paths,
        workflow: Annotated[str | None, typer.Option(help="Regex on workflow name/path: matching Actions runs are deployments.")] = None,
        job: Annotated[str | None, typer.Option(help="Regex on job names: a run deploys through its matching job.")] = None,
        environment: Annotated[str, typer.Option(help="Environment of deployments counted from Actions runs.")] = "production",
        team: TeamOpt = None,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """GitHub REST JSON: pulls, reviews, comments, deployments, statuses, workflow runs."""
        from ..store import load_github

        _run("github", db, as_json, lambda s, tick: load_github(
            s, paths, workflow=workflow, job=job, environment=environment, team=team, progress=tick))

    @ingest_app.command("gitlab")
    def gitlab_cmd(
        paths: Paths,
        pipeline_ref: Annotated[str | None, typer.Option("--pipeline-ref", help="Regex on pipeline ref: matching pipelines are deployments.")] = None,
        environment: Annotated[str, typer.Option(help="Environment of deployments counted from pipelines.")] = "production",
        team: TeamOpt = None,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """GitLab REST JSON: merge requests (with notes), deployments, pipelines."""
        from ..store import load_gitlab

        _run("gitlab", db, as_json, lambda s, tick: load_gitlab(
            s, paths, pipeline_ref=pipeline_ref, environment=environment, team=team, progress=tick))

    @ingest_app.command("pagerduty")
    def pagerduty_cmd(
        paths: Paths,
        team_map: Annotated[list[str] | None, typer.Option("--team-map", help="PD_TEAM_OR_SERVICE=TEAM (repeatable).")] = None,
        tz: Annotated[str, typer.Option("--tz", help="Time zone for off-hours pages.")] = "UTC",
        workday: Annotated[str, typer.Option(help="Working hours START-END for off-hours pages.")] = "9-18",
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """PagerDuty incidents (REST JSON or CSV export) with assignments and log entries."""
        from ..errors import ConfigError
        from ..store import load_pagerduty

        try:
            a, b = (int(x) for x in workday.split("-"))
        except ValueError:
            A._fail(ConfigError(f"--workday {workday!r}: expected START-END hours such as 9-18"))
        _run("pagerduty", db, as_json, lambda s, tick: load_pagerduty(
            s, paths, team_map=team_map or None, tz=tz, workday=(a, b), progress=tick))

    @ingest_app.command("copilot")
    def copilot_cmd(paths: Paths, db: A.DbOpt = Path("ctssw.duckdb"), as_json: A.JsonOpt = False) -> None:
        """GitHub Copilot user-level usage NDJSON → tool_usage (org-level metrics: nothing per builder)."""
        from ..store import load_copilot

        _run("copilot", db, as_json, lambda s, tick: load_copilot(s, paths, progress=tick))

    @ingest_app.command("qdev")
    def qdev_cmd(paths: Paths, db: A.DbOpt = Path("ctssw.duckdb"), as_json: A.JsonOpt = False) -> None:
        """Amazon Q Developer user activity report CSVs (single or part_N) → tool_usage."""
        from ..store import load_qdev

        _run("qdev", db, as_json, lambda s, tick: load_qdev(s, paths, progress=tick))

    @ingest_app.command("roster")
    def roster_cmd(
        paths: Paths, db: A.DbOpt = Path("ctssw.duckdb"), as_json: A.JsonOpt = False,
        rates: A.RatesOpt = None, date_format: A.DateFormatOpt = None,
    ) -> None:
        """Roster CSVs (files or folders): teams, memberships, identities, costs."""
        from ..store import load_roster

        _run("roster", db, as_json, lambda s, tick: load_roster(s, paths, date_format=date_format, progress=tick), rates=rates)

    @ingest_app.command("devlake")
    def devlake_cmd(
        paths: Annotated[list[str], typer.Argument(help="DevLake CSV dumps (files or folders), or one mysql:// / postgresql:// URL.", show_default=False)],
        repo_id: Annotated[str, typer.Option("--repo-id", help="Repository of commits repo_commits does not place.")] = "devlake",
        membership_start: Annotated[str | None, typer.Option("--membership-start", help="Start date for team_users memberships (default: the first day with activity).")] = None,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """Apache DevLake domain-layer tables from CSV dumps or a live database."""
        from ..store import load_devlake

        items = [p if "://" in p else Path(p) for p in paths]
        _run("devlake", db, as_json, lambda s, tick: load_devlake(
            s, items, repo_id=repo_id, membership_start=membership_start, progress=tick))
