"""``ctssw collect SERVICE``: one command per live collector, each calling its ``ctssw.collect`` function."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ..errors import CtsswError, DataWarning
from . import _common as A

SinceOpt = Annotated[str, typer.Option("--since", help="First day to collect (YYYY-MM-DD); later runs continue from the watermarks.")]
CacheOpt = Annotated[Path, typer.Option("--cache", help="Folder for the raw responses (re-ingest it with `ctssw ingest`).")]
TokenFileOpt = Annotated[Path | None, typer.Option("--token-file", help="File whose first line is the token (instead of --token-env).")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds per request.")]
RetriesOpt = Annotated[int, typer.Option("--retries", help="Retries after a 5xx, a dropped connection or a truncated body.")]
MaxWaitOpt = Annotated[float, typer.Option("--max-wait", help="Longest rate-limit wait in seconds; a longer one stops the run.")]


def _run(service: str, db: Path, as_json: bool, fn: Callable) -> None:
    """Open the store, run one collector with a progress line per resource, print the summary.

    Each resource's line counts its items and the responses (pages) fetched for it, and says what
    the run waits for (a rate limit, a retry); on standard error, on a terminal, never with --json.
    """
    from ..store import Store

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            with Store(db) as store, A._progress(quiet=as_json) as p:
                tasks: dict[str, int] = {}

                def tick(resource: str, n: int, waiting: str, pages: int) -> None:
                    desc = resource if resource.startswith("ingest ") else f"{service} {resource}"
                    desc += f", {pages} page{'s' if pages != 1 else ''}" if pages else ""
                    desc += f" ({waiting})" if waiting else ""
                    if resource not in tasks:
                        tasks[resource] = p.add_task(desc, total=None)
                    p.update(tasks[resource], description=desc, completed=n)

                res = fn(store, tick)
        except CtsswError as e:
            A._fail(e)
    notes = list(dict.fromkeys([*res.notes, *(str(w.message) for w in caught if issubclass(w.category, DataWarning))]))
    if as_json:
        A.emit_json("collect", {**res.as_dict(), "notes": notes})
        return
    items = ", ".join(f"{v} {k}" for k, v in res.items.items())
    A.out.print(
        f"{service}: {res.requests} requests ({res.fetched} fetched, {res.not_modified} not modified), "
        f"{res.waited_s:.0f} s waiting; {res.files_written} files written to {res.cache}; {items or 'nothing new'}",
        highlight=False, soft_wrap=True,
    )
    rows = [c.as_row() for c in res.counts]
    if rows:
        A.out.print(A._counts_table(rows))
    for n in notes:
        A.out.print(f"note: {n}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``ctssw collect`` and its services to the app."""
    collect_app = typer.Typer(no_args_is_help=True, help="Collect from live APIs into a raw cache, then ingest it.")
    app.add_typer(collect_app, name="collect")

    @collect_app.command("github")
    def github_cmd(
        org: Annotated[str, typer.Option("--org", help="Organisation login.")],
        since: SinceOpt,
        repo: Annotated[list[str] | None, typer.Option("--repo", help="owner/name (repeatable; default: every repository of --org).")] = None,
        token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding the token.")] = "GITHUB_TOKEN",
        token_file: TokenFileOpt = None,
        api_url: Annotated[str, typer.Option("--api-url", help="API root (GitHub Enterprise Server: https://HOST/api/v3).")] = "https://api.github.com",
        cache: CacheOpt = Path("ctssw-cache"),
        teams: Annotated[bool, typer.Option("--teams/--no-teams", help="Collect teams and members (a roster).")] = True,
        copilot: Annotated[bool, typer.Option("--copilot/--no-copilot", help="Collect the Copilot usage-metrics reports.")] = True,
        membership_start: Annotated[str | None, typer.Option("--membership-start", help="Start date of team memberships (default: the first --since).")] = None,
        workflow: Annotated[str | None, typer.Option(help="Regex on workflow name/path: matching Actions runs are deployments.")] = None,
        job: Annotated[str | None, typer.Option(help="Regex on job names: a run deploys through its matching job.")] = None,
        environment: Annotated[str, typer.Option(help="Environment of deployments counted from Actions runs.")] = "production",
        timeout: TimeoutOpt = 30.0,
        retries: RetriesOpt = 5,
        max_wait: MaxWaitOpt = 900.0,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """GitHub: pulls with reviews, comments and commits; deployments, releases, Actions runs; teams; Copilot reports."""
        from ..collect import collect_github

        _run("github", db, as_json, lambda s, tick: collect_github(
            s, org=org, since=since, repos=repo or None, token_env=token_env, token_file=token_file, api_url=api_url,
            cache=cache, teams=teams, copilot=copilot, membership_start=membership_start, workflow=workflow, job=job,
            environment=environment, timeout=timeout, retries=retries, max_wait=max_wait, progress=tick))

    @collect_app.command("gitlab")
    def gitlab_cmd(
        group: Annotated[str, typer.Option("--group", help="Group full path or id.")],
        since: SinceOpt,
        project: Annotated[list[str] | None, typer.Option("--project", help="Project id or full path (repeatable; default: every project of --group).")] = None,
        token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding the token (read_api).")] = "GITLAB_TOKEN",
        token_file: TokenFileOpt = None,
        api_url: Annotated[str, typer.Option("--api-url", help="API root (self-managed: https://HOST/api/v4).")] = "https://gitlab.com/api/v4",
        cache: CacheOpt = Path("ctssw-cache"),
        members: Annotated[bool, typer.Option("--members/--no-members", help="Collect the group's members (a roster).")] = True,
        pipeline_ref: Annotated[str | None, typer.Option("--pipeline-ref", help="Regex on pipeline ref: matching pipelines are deployments.")] = None,
        environment: Annotated[str, typer.Option(help="Environment of deployments counted from pipelines.")] = "production",
        timeout: TimeoutOpt = 30.0,
        retries: RetriesOpt = 5,
        max_wait: MaxWaitOpt = 900.0,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """GitLab: merge requests with notes and commits, deployments, pipelines and jobs, group members."""
        from ..collect import collect_gitlab

        _run("gitlab", db, as_json, lambda s, tick: collect_gitlab(
            s, group=group, since=since, projects=project or None, token_env=token_env, token_file=token_file,
            api_url=api_url, cache=cache, members=members, pipeline_ref=pipeline_ref, environment=environment,
            timeout=timeout, retries=retries, max_wait=max_wait, progress=tick))

    @collect_app.command("pagerduty")
    def pagerduty_cmd(
        since: SinceOpt,
        token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding the REST API key.")] = "PAGERDUTY_TOKEN",
        token_file: TokenFileOpt = None,
        api_url: Annotated[str, typer.Option("--api-url", help="API root (EU: https://api.eu.pagerduty.com).")] = "https://api.pagerduty.com",
        cache: CacheOpt = Path("ctssw-cache"),
        oncalls: Annotated[bool, typer.Option("--oncalls/--no-oncalls", help="Collect on-call shifts too.")] = True,
        team_map: Annotated[list[str] | None, typer.Option("--team-map", help="PD_TEAM_OR_SERVICE=TEAM (repeatable).")] = None,
        tz: Annotated[str, typer.Option("--tz", help="Time zone for off-hours pages.")] = "UTC",
        workday: Annotated[str, typer.Option(help="Working hours START-END for off-hours pages.")] = "9-18",
        timeout: TimeoutOpt = 30.0,
        retries: RetriesOpt = 5,
        max_wait: MaxWaitOpt = 900.0,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """PagerDuty: incidents with their log entries, on-call shifts."""
        from ..collect import collect_pagerduty
        from ..errors import ConfigError

        try:
            a, b = (int(x) for x in workday.split("-"))
        except ValueError:
            A._fail(ConfigError(f"--workday {workday!r}: expected START-END hours such as 9-18"))
        _run("pagerduty", db, as_json, lambda s, tick: collect_pagerduty(
            s, since=since, token_env=token_env, token_file=token_file, api_url=api_url, cache=cache, oncalls=oncalls,
            team_map=team_map or None, tz=tz, workday=(a, b), timeout=timeout, retries=retries, max_wait=max_wait,
            progress=tick))

    @collect_app.command("claude")
    def claude_cmd(
        since: SinceOpt,
        token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding the Admin API key.")] = "ANTHROPIC_ADMIN_KEY",
        token_file: TokenFileOpt = None,
        api_url: Annotated[str, typer.Option("--api-url", help="API root.")] = "https://api.anthropic.com",
        cache: CacheOpt = Path("ctssw-cache"),
        timeout: TimeoutOpt = 30.0,
        retries: RetriesOpt = 5,
        max_wait: MaxWaitOpt = 900.0,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """Claude Code usage report (Admin API), one file per day."""
        from ..collect import collect_claude

        _run("claude", db, as_json, lambda s, tick: collect_claude(
            s, since=since, token_env=token_env, token_file=token_file, api_url=api_url, cache=cache,
            timeout=timeout, retries=retries, max_wait=max_wait, progress=tick))

    @collect_app.command("cursor")
    def cursor_cmd(
        since: SinceOpt,
        token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding the Admin API key.")] = "CURSOR_API_KEY",
        token_file: TokenFileOpt = None,
        api_url: Annotated[str, typer.Option("--api-url", help="API root.")] = "https://api.cursor.com",
        cache: CacheOpt = Path("ctssw-cache"),
        commits: Annotated[bool, typer.Option("--commits/--no-commits", help="Collect AI code tracking commits (Enterprise).")] = True,
        timeout: TimeoutOpt = 30.0,
        retries: RetriesOpt = 5,
        max_wait: MaxWaitOpt = 900.0,
        db: A.DbOpt = Path("ctssw.duckdb"),
        as_json: A.JsonOpt = False,
    ) -> None:
        """Cursor: daily usage data and AI code tracking commits (Admin API)."""
        from ..collect import collect_cursor

        _run("cursor", db, as_json, lambda s, tick: collect_cursor(
            s, since=since, token_env=token_env, token_file=token_file, api_url=api_url, cache=cache, commits=commits,
            timeout=timeout, retries=retries, max_wait=max_wait, progress=tick))
