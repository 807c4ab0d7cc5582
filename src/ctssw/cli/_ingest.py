"""``ctssw ingest KIND PATH...``: one command per connector, each calling its ``ctssw.store.load_<kind>``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CtsswError, DataWarning
from . import _common as A
from ._common import emit_json, print_table

Paths = Annotated[list[Path], typer.Argument(help="Export files or folders.", show_default=False)]
AgentRulesOpt = Annotated[Path | None, typer.Option("--agent-rules", help="CSV of extra AI agent detection rules: tool,kind,pattern.")]
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
        emit_json("ingest", {"counts": rows, "notes": notes})
        return
    if rows:
        print_table(A._counts_table(rows))
    else:
        A.out.print(f"{kind}: nothing loaded.", highlight=False)
    for n in notes:
        A.out.print(f"note: {n}", highlight=False, soft_wrap=True)
    q = sum(r["quarantined"] for r in rows)
    if q:
        A.out.print(f"{q} row(s) quarantined; see the quarantine table in {db} for each reason.", highlight=False)
    u = max((r["unmapped identities"] for r in rows), default=0)
    if u:
        A.out.print(
            f"at least {u} identit(y/ies) not on a roster: stored under stable pseudonymous ids, members inferred from "
            "activity where there is no roster (ctssw status shows which teams); load the roster's identities to map them.",
            highlight=False,
        )


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
        jobs: Annotated[int | None, typer.Option("--jobs", help="git log processes at once (default: one per core, at most 4).")] = None,
        renames: Annotated[bool, typer.Option("--renames/--no-renames", help="Rename detection in line counts, as git log --numstat does.")] = True,
        deployments: Annotated[str | None, typer.Option("--deployments", help="tags or tags=PATTERN: each release tag is a production deployment.")] = None,
        repo_id_from: Annotated[str, typer.Option("--repo-id-from", help="Repository ids from: auto (remote, else folder), remote, dir, parent.")] = "auto",
        agents: Annotated[bool, typer.Option("--agents/--no-agents", help="Detect AI assistants and agents (trailers, agent authors, footers, config files).")] = True,
        agent_rules: AgentRulesOpt = None,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """Local git repositories (bare mirrors too): commits, merged changes, repos, release tags."""
        from ..store import load_git

        t = team[0] if team and len(team) == 1 and "=" not in team[0] else team
        _run("git", db, as_json, lambda s, tick: load_git(
            s, paths, all_refs=all_refs, repo_id=repo_id, team=t, owners=owners, codeowners=codeowners,
            roster_teams=roster_teams, jobs=jobs, renames=renames, deployments=deployments,
            repo_id_from=repo_id_from, agents=agents, agent_rules=agent_rules, progress=tick))

    @ingest_app.command("github")
    def github_cmd(
        paths: Paths,
        workflow: Annotated[str | None, typer.Option(help="Regex on workflow name/path: matching Actions runs are deployments.")] = None,
        job: Annotated[str | None, typer.Option(help="Regex on job names: a run deploys through its matching job.")] = None,
        environment: Annotated[str, typer.Option(help="Environment of deployments counted from Actions runs.")] = "production",
        team: TeamOpt = None,
        bot: Annotated[list[str] | None, typer.Option("--bot", help="Login of an automation account that is not marked as a bot (repeatable).")] = None,
        production_env: Annotated[str | None, typer.Option("--production-env", help="Regex for production environment names (default: prod, production, live and their -suffixed forms).")] = None,
        agent_rules: AgentRulesOpt = None,
        membership_start: Annotated[str | None, typer.Option("--membership-start", help="First day of the members of team member lists (default: the earliest activity).")] = None,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """GitHub REST JSON: pulls, reviews, comments, commits, deployments, statuses, workflow runs, team members."""
        from ..store import load_github

        _run("github", db, as_json, lambda s, tick: load_github(
            s, paths, workflow=workflow, job=job, environment=environment, team=team, bots=bot or (),
            production_env=production_env, agent_rules=agent_rules, membership_start=membership_start, progress=tick))

    @ingest_app.command("gitlab")
    def gitlab_cmd(
        paths: Paths,
        pipeline_ref: Annotated[str | None, typer.Option("--pipeline-ref", help="Regex on pipeline ref: matching pipelines are deployments.")] = None,
        environment: Annotated[str, typer.Option(help="Environment of deployments counted from pipelines.")] = "production",
        team: TeamOpt = None,
        production_env: Annotated[str | None, typer.Option("--production-env", help="Regex for production environment names (default: prod, production, live and their -suffixed forms).")] = None,
        agent_rules: AgentRulesOpt = None,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """GitLab REST JSON: merge requests (with notes and commits), deployments, pipelines."""
        from ..store import load_gitlab

        _run("gitlab", db, as_json, lambda s, tick: load_gitlab(
            s, paths, pipeline_ref=pipeline_ref, environment=environment, team=team,
            production_env=production_env, agent_rules=agent_rules, progress=tick))

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
        """GitHub Copilot usage-metrics report NDJSON → tool_usage (organisation reports → tool_totals)."""
        from ..store import load_copilot

        _run("copilot", db, as_json, lambda s, tick: load_copilot(s, paths, progress=tick))

    def _tool_cmd(kind: str, doc: str) -> None:
        def cmd(paths: Paths, db: A.DbOpt = Path("ctssw.duckdb"), as_json: A.JsonOpt = False) -> None:
            from .. import store

            load = getattr(store, f"load_{kind}")
            _run(kind, db, as_json, lambda s, tick: load(s, paths, progress=tick))

        cmd.__doc__ = doc
        ingest_app.command(kind)(cmd)

    _tool_cmd("kiro", "Kiro user_report CSVs (per client type) and by_user_analytic CSVs → tool_usage.")
    _tool_cmd("qdev", "Amazon Q Developer by_user_analytic CSVs (single or part_N); the same reader as kiro.")
    _tool_cmd("claude", "Claude Admin API usage_report/claude_code JSON → tool_usage.")
    _tool_cmd("cursor", "Cursor Admin API daily usage and AI code tracking JSON → tool_usage.")
    _tool_cmd("otel", "OpenTelemetry metrics of AI coding tools (OTLP JSON files from the collector) → tool_usage.")

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
