"""``ctssw collect github``: an organisation's repositories, teams and Copilot reports, incrementally.

Per repository (``--repo``, else every repository of the organisation):

- pull requests (``/pulls?state=all&sort=updated&direction=desc``), walked newest-updated first and
  stopped at the watermark; for each new or changed one, the pull itself (for additions and
  deletions), its reviews, review comments, issue comments and commits, cached as one file
  ``repos/<owner>__<repo>/pulls/<n>.json`` (``[pull]`` with those lists embedded);
- deployments, each with its statuses (``deployments/<id>.json``: ``[deployment, *statuses]``);
  deployments whose latest status was not final (queued, pending, in progress) are re-read on
  the next run;
- releases (``releases/<id>.json``);
- Actions workflow runs created since the watermark (or since the oldest run that had not
  completed), each with its jobs (``runs/<id>.json``: ``[run, *jobs]``).

For the organisation: teams and their members (``teams/<slug>.json``, and ``roster/teams.csv``,
``roster/memberships.csv`` for the roster connector: GitHub keeps no membership dates, so
memberships start on the first collect's ``--since``), and the Copilot usage-metrics reports
``users-1-day`` and ``user-teams-1-day`` for each day since the watermark (the NDJSON behind
their signed download links, ``copilot/<report>/<day>-<n>.ndjson``).

The cache is then ingested with ``load_roster``, ``load_github`` and ``load_copilot``, and the
watermarks saved, in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from ..errors import ConfigError, CtsswError
from ..sources.forges.github_teams import team_slug
from ..store import Store
from ._base import (
    Options,
    Result,
    Run,
    Tick,
    check_common,
    check_patterns,
    iso_day,
    token_from,
)
from ._http import CollectError

__all__ = ["collect_github"]

FINAL = {"success", "failure", "error", "inactive"}
COPILOT_REPORTS = ("users-1-day", "user-teams-1-day")
COPILOT_FIRST_DAY = dt.date(2025, 10, 10)  # the reports API has nothing earlier
READY_DAYS = dt.timedelta(days=3)  # a missing report this recent may still be in the making


def _first(doc: object) -> dict | None:
    """The main record of a cached file (``[record, *its parts]``)."""
    return doc[0] if isinstance(doc, list) and doc and isinstance(doc[0], dict) else None


def _safe(name: str) -> str:
    return name.replace("/", "__")


class _GitHub:
    def __init__(self, run: Run, org: str, membership_start: dt.date | None) -> None:
        self.run, self.org = run, org
        self.since = f"{run.opts.since.isoformat()}T00:00:00Z"
        self.membership_start = membership_start

    # -- repositories -------------------------------------------------------------------
    def repos(self) -> list[str]:
        self.run.start("repositories")
        out = []
        for r in self.run.items(f"/orgs/{self.org}/repos", params={"type": "all", "per_page": 100}):
            if r.get("full_name") and not r.get("archived"):
                out.append(r["full_name"])
                self.run.tick("repositories")
        return out

    def _all(self, path: str, key: str | None = None) -> list[dict]:
        return list(self.run.items(path, params={"per_page": 100}, key=key))

    def pulls(self, repo: str) -> None:
        run, res = self.run, "pulls"
        run.start(res)
        folder = run.cache.root / "repos" / _safe(repo) / "pulls"
        mark = run.state.watermark(repo, res, folder) or self.since
        params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100}
        walk = run.newest_first(f"/repos/{repo}/pulls", repo, res, folder, mark, "updated_at", params)
        for pr in walk:
            path = folder / f"{pr['number']}.json"
            cached = _first(run.cache.read_json(path))
            if cached and str(cached.get("updated_at") or "") >= str(pr.get("updated_at") or ""):
                continue  # fetched whole by an earlier (interrupted) run
            n = pr["number"]
            full = run.client.get(f"/repos/{repo}/pulls/{n}").data
            full = full if isinstance(full, dict) else pr
            full["reviews"] = self._all(f"/repos/{repo}/pulls/{n}/reviews")
            full["review_comments"] = self._all(f"/repos/{repo}/pulls/{n}/comments")
            full["comments"] = self._all(f"/repos/{repo}/issues/{n}/comments")
            full["commits"] = self._all(f"/repos/{repo}/pulls/{n}/commits")
            run.cache.write_json(path, [full])
            run.tick(res)
        walk.advance()

    def deployments(self, repo: str) -> None:
        run, res = self.run, "deployments"
        run.start(res)
        folder = run.cache.root / "repos" / _safe(repo) / "deployments"
        mark = run.state.watermark(repo, res, folder) or self.since
        seen = set()
        walk = run.newest_first(f"/repos/{repo}/deployments", repo, res, folder, mark, "created_at")
        for d in walk:
            seen.add(d["id"])
            self._deployment(repo, folder, d)
        # deployments whose last known status was not final get their statuses again
        for p in sorted(folder.glob("*.json")) if folder.exists() else []:
            doc = run.cache.read_json(p)
            d = _first(doc)
            if d and d.get("id") not in seen and not self._final(doc):
                self._deployment(repo, folder, d, force=True)
        walk.advance()

    @staticmethod
    def _final(doc: object) -> bool:
        """Whether a cached ``[deployment, *statuses]`` ends in a final status."""
        sts = [s for s in doc[1:] if isinstance(s, dict)] if isinstance(doc, list) else []
        if not sts:
            return False
        last = max(sts, key=lambda s: (str(s.get("created_at") or ""), s.get("id") or 0))
        return str(last.get("state")) in FINAL

    def _deployment(self, repo: str, folder: Path, d: dict, force: bool = False) -> None:
        path = folder / f"{d['id']}.json"
        if not force and self._final(self.run.cache.read_json(path)):
            return
        statuses = self._all(f"/repos/{repo}/deployments/{d['id']}/statuses")
        self.run.cache.write_json(path, [d, *statuses])
        self.run.tick("deployments")

    def releases(self, repo: str) -> None:
        run, res = self.run, "releases"
        run.start(res)
        folder = run.cache.root / "repos" / _safe(repo) / "releases"
        mark = run.state.watermark(repo, res, folder) or self.since
        walk = run.newest_first(f"/repos/{repo}/releases", repo, res, folder, mark, "created_at")
        for rel in walk:
            run.cache.write_json(folder / f"{rel['id']}.json", rel)
            run.tick(res)
        walk.advance()

    def runs(self, repo: str) -> None:
        run, res = self.run, "workflow runs"
        run.start(res)
        folder = run.cache.root / "repos" / _safe(repo) / "runs"
        floor = run.state.watermark(repo, "runs", folder) or self.since
        for p in sorted(folder.glob("*.json")) if folder.exists() else []:
            r0 = _first(run.cache.read_json(p))
            if r0 and r0.get("status") != "completed":
                floor = min(floor, str(r0.get("created_at") or floor))
        newest, first_etag = None, None
        params = {"per_page": 100, "created": f">={floor[:10]}"}
        for page in run.client.pages(f"/repos/{repo}/actions/runs", params=params, etag=run.state.etag(repo, "runs", folder)):
            if page.not_modified:
                break
            first_etag = first_etag or page.etag
            for r in (page.data or {}).get("workflow_runs") or [] if isinstance(page.data, dict) else []:
                created = str(r.get("created_at") or "")
                newest = max(newest or created, created)
                path = folder / f"{r['id']}.json"
                cached = _first(run.cache.read_json(path))
                if cached and cached.get("updated_at") == r.get("updated_at"):
                    continue
                jobs = self._all(f"/repos/{repo}/actions/runs/{r['id']}/jobs", key="jobs")
                run.cache.write_json(path, [r, *jobs])
                run.tick(res)
        run.state.advance(repo, "runs", newest, first_etag)

    # -- organisation -------------------------------------------------------------------
    def teams(self) -> Path | None:
        run = self.run
        run.start("teams")
        folder = run.cache.root / "teams"
        teams, first_etag = [], None
        for page in run.client.pages(f"/orgs/{self.org}/teams", params={"per_page": 100}, etag=run.state.etag(self.org, "teams", folder)):
            if page.not_modified:  # the same teams as last time: their members may still have changed
                teams = [d["team"] for p in sorted(folder.glob("*.json")) if isinstance(d := run.cache.read_json(p), dict)]
                break
            first_etag = first_etag or page.etag
            teams += [t for t in page.data if isinstance(t, dict)] if isinstance(page.data, list) else []
        for t in teams:
            slug = team_slug(t)
            path, scope = folder / f"{slug}.json", f"{self.org}/{slug}"
            cached = run.cache.read_json(path)
            page = run.client.get(f"/orgs/{self.org}/teams/{slug}/members", params={"per_page": 100},
                                  etag=run.state.etag(scope, "members") if isinstance(cached, dict) else None)
            if not page.not_modified:
                members = page.data if isinstance(page.data, list) else []
                nxt = page.links.get("next")
                if nxt:
                    members += self._all(nxt)
                run.cache.write_json(path, {"team": t, "members": members})
                run.state.advance(scope, "members", None, page.etag)
            run.tick("teams")
        start = run.state.watermark(self.org, "teams") or (self.membership_start or run.opts.since).isoformat()
        run.state.advance(self.org, "teams", start, first_etag)
        return self._roster(folder, start)

    def _roster(self, folder: Path, start: str) -> Path | None:
        docs = [self.run.cache.read_json(p) for p in sorted(folder.glob("*.json"))] if folder.exists() else []
        docs = [d for d in docs if isinstance(d, dict) and isinstance(d.get("team"), dict)]
        if not docs:
            return None
        teams, members = io.StringIO(), io.StringIO()
        tw, mw = csv.writer(teams, lineterminator="\n"), csv.writer(members, lineterminator="\n")
        tw.writerow(["team_id", "name", "parent_id"])
        mw.writerow(["builder", "team_id", "start"])
        for d in docs:
            t = d["team"]
            parent = t.get("parent")
            tw.writerow([team_slug(t), t.get("name") or team_slug(t), team_slug(parent) if isinstance(parent, dict) else ""])
            for m in d.get("members") or []:
                if isinstance(m, dict) and m.get("login") and m.get("type") != "Bot":
                    mw.writerow([m["login"], team_slug(t), start])
        out = self.run.cache.root / "roster"
        self.run.cache.write_text(out / "teams.csv", teams.getvalue())
        self.run.cache.write_text(out / "memberships.csv", members.getvalue())
        return out

    def copilot(self) -> Path | None:
        run = self.run
        run.start("copilot reports")
        today = dt.datetime.now(dt.UTC).date()
        mark = run.state.watermark(self.org, "copilot", run.cache.root / "copilot")
        first = max(run.opts.since, COPILOT_FIRST_DAY, today - dt.timedelta(days=365))
        if mark:
            first = max(first, dt.date.fromisoformat(mark) + dt.timedelta(days=1))
        day, skipped = first, None
        while day < today:
            found = [self._report(report, day) for report in COPILOT_REPORTS]
            if not all(found) and today - day <= READY_DAYS:
                run.note(f"copilot: no report for {self.org} on {day} yet (HTTP 404); the next run asks again from this day")
                break
            if not all(found) and skipped is None:
                skipped = day
                run.note(f"copilot: no report for {self.org} on some days (HTTP 404, first {day}): the Copilot usage "
                         "metrics policy was off, or Copilot was not in use")
            run.state.advance(self.org, "copilot", day.isoformat(), None)
            day += dt.timedelta(days=1)
        return self._copilot_paths()

    def _copilot_paths(self) -> Path | None:
        p = self.run.cache.root / "copilot" / "users-1-day"
        return p if p.exists() else None

    def _report(self, report: str, day: dt.date) -> bool:
        run = self.run
        path = f"/orgs/{self.org}/copilot/metrics/reports/{report}"
        try:
            meta = run.client.get(path, params={"day": day.isoformat()}).data
        except CollectError as e:
            if e.status == 404:
                return False
            raise
        links = (meta or {}).get("download_links") if isinstance(meta, dict) else None
        for i in range(len(links or [])):
            text = None
            for attempt in range(2):
                try:
                    text = run.client.download(links[i]).text
                    break
                except CollectError:
                    if attempt:
                        raise
                    # signed links expire: ask for fresh ones once
                    fresh = run.client.get(path, params={"day": day.isoformat()}).data
                    links = fresh.get("download_links") if isinstance(fresh, dict) else links
            run.cache.write_text(run.cache.root / "copilot" / report / f"{day.isoformat()}-{i + 1}.ndjson", text or "")
            run.tick("copilot reports")
        return True


def collect_github(
    store: Store,
    *,
    org: str,
    since: str,
    cache: str | Path = "ctssw-cache",
    repos: list[str] | None = None,
    token_env: str = "GITHUB_TOKEN",
    token_file: str | Path | None = None,
    api_url: str = "https://api.github.com",
    teams: bool = True,
    copilot: bool = True,
    membership_start: str | None = None,
    workflow: str | None = None,
    job: str | None = None,
    environment: str = "production",
    timeout: float = 30.0,
    retries: int = 5,
    max_wait: float = 900.0,
    progress: Tick | None = None,
    _client: dict | None = None,
) -> Result:
    """Collect an organisation from the GitHub REST API into ``cache``, then ingest it into ``store``.

    Parameters
    ----------
    org : str
        The organisation (its teams and Copilot reports; its repositories unless ``repos``).
    since : str
        YYYY-MM-DD: the first run's start; later runs start from each resource's watermark.
    cache : str or Path
        Folder for the raw responses (``<cache>/github/...``); re-ingest it any time with
        ``ctssw ingest github <cache>/github/repos``.
    repos : list of str, optional
        ``owner/name`` repositories (default: every unarchived repository of ``org``).
    token_env, token_file
        Where the token is read from (an environment variable, or the first line of a file).
    api_url : str
        The API root; GitHub Enterprise Server is ``https://HOST/api/v3``.
    teams, copilot : bool
        Collect teams and members, and the Copilot usage-metrics reports.
    membership_start : str, optional
        YYYY-MM-DD start of team memberships (default: the first run's ``since``).
    workflow, job, environment
        Passed to :func:`ctssw.store.load_github`: which Actions runs count as deployments.
    timeout, retries, max_wait
        Per-request timeout (s), retries after 5xx/connection errors, longest rate-limit wait (s).
    progress : callable, optional
        ``progress(resource, items, waiting, requests)`` after each item, each response (page)
        and around each wait: items of ``resource`` so far, what the client waits for (or ""),
        and the responses received while reading ``resource``.

    Returns
    -------
    Result
        Requests made, pages fetched and not modified, files written, the ingest's counts, notes.
    """
    if not isinstance(org, str) or not org.strip() or "/" in org:
        raise ConfigError(f"github: --org {org!r}: expected an organisation login such as octo-org")
    bad = [r for r in repos or [] if r.count("/") != 1 or not all(r.split("/"))]
    if bad:
        raise ConfigError(f"github: --repo {bad[0]!r}: expected owner/name")
    opts: Options = check_common("github", since=since, cache=cache, api_url=api_url, timeout=timeout, retries=retries, max_wait=max_wait)
    start = iso_day(membership_start, "--membership-start") if membership_start else None
    check_patterns("github", workflow=workflow, job=job)
    token = token_from("github", token_env, token_file)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "ctssw-collect"}
    run = Run("github", store, opts, headers, progress, _client)
    try:
        gh = _GitHub(run, org, start)
        for repo in gh.repos() if repos is None else repos:
            gh.pulls(repo)
            gh.deployments(repo)
            gh.releases(repo)
            gh.runs(repo)
        roster = gh.teams() if teams else None
        users = gh.copilot() if copilot else None
        teams_dir = run.cache.root / "copilot" / "user-teams-1-day"
        if teams_dir.exists():
            run.note(f"copilot: user-teams reports kept in {teams_dir} (the copilot connector reads per-user rows only)")
        if any((run.cache.root / "repos").rglob("releases/*.json")):
            run.note("github: releases are kept in the cache (repos/*/releases); the github connector does not read releases yet")
        steps = []
        if roster:
            steps.append(("roster", [roster / "teams.csv", roster / "memberships.csv"], {}))
        forge = sorted(p for p in (run.cache.root / "repos").glob("*/*") if p.name in ("pulls", "deployments", "runs"))
        steps.append(("github", forge, {"workflow": workflow, "job": job, "environment": environment}))
        if users:
            # a day without active users downloads empty: nothing to load, and the connector refuses empty files
            files = [p for p in sorted(users.glob("*.ndjson")) if p.read_text(encoding="utf-8").strip()]
            if files:
                steps.append(("copilot", files, {}))
        return run.ingest(steps)
    except CtsswError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise run.shape_error(e) from None
    finally:
        run.close()
