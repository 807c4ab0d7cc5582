"""``ctssw collect gitlab``: a group's projects (merge requests, deployments, pipelines), incrementally.

Per project (``--project``, else every project of ``--group`` and its subgroups):

- merge requests updated after the watermark (``updated_after``, newest first), each with its
  notes and commits: ``projects/<id>/merge_requests/<iid>.json`` (``[mr]`` with ``notes`` and
  ``commits`` embedded);
- deployments updated after the watermark: ``deployments/<id>.json``;
- pipelines updated after the watermark: ``pipelines/<id>.json``, and each one's jobs in
  ``jobs/<pipeline id>.json`` (kept in the cache; the gitlab connector does not read jobs).

For the group: its members (``/groups/:id/members/all``), written as a roster
(``roster/teams.csv``: the group; ``roster/memberships.csv``: usernames from the first run's
``--since``: GitLab's ``created_at`` of a membership is when it was granted, not when the person
joined the team, so it is not used).

The cache is ingested with ``load_roster`` and ``load_gitlab`` and the watermarks saved in one
transaction.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import quote

from ..errors import ConfigError, CtsswError
from ..store import Store
from ._base import Result, Run, Tick, check_common, check_patterns, token_from

__all__ = ["collect_gitlab"]


class _GitLab:
    def __init__(self, run: Run, group: str) -> None:
        self.run, self.group = run, group
        self.gid = quote(group, safe="")
        self.since = f"{run.opts.since.isoformat()}T00:00:00Z"

    def projects(self) -> list[str]:
        self.run.start("projects")
        out = []
        params = {"include_subgroups": "true", "archived": "false", "per_page": 100}
        for p in self.run.items(f"/groups/{self.gid}/projects", params=params):
            out.append(str(p["id"]))
            self.run.tick("projects")
        return out

    def _updated(self, pid: str, resource: str, path: str, folder: Path, parts) -> None:
        """Walk ``path`` (updated after the watermark, newest first), caching each new or changed record."""
        run = self.run
        run.start(resource)
        mark = run.state.watermark(pid, resource, folder) or self.since
        newest = None
        params = {"updated_after": mark, "order_by": "updated_at", "sort": "desc", "per_page": 100}
        if resource == "merge requests":
            params.update(scope="all", state="all")
        for rec in run.items(f"/projects/{pid}/{path}", params=params):
            upd = str(rec.get("updated_at") or "")
            newest = max(newest or upd, upd)
            key = rec.get("iid") if resource == "merge requests" else rec.get("id")
            file = folder / f"{key}.json"
            cached = run.cache.read_json(file)
            if isinstance(cached, list) and cached and isinstance(cached[0], dict) and str(cached[0].get("updated_at") or "") >= upd:
                continue
            run.cache.write_json(file, parts(rec))
            run.tick(resource)
        run.state.advance(pid, resource, newest, None)

    def project(self, pid: str) -> None:
        root = self.run.cache.root / "projects" / pid

        def mr(rec: dict) -> list:
            base = f"/projects/{pid}/merge_requests/{rec['iid']}"
            rec = dict(rec)
            rec["notes"] = list(self.run.items(f"{base}/notes", params={"per_page": 100}))
            rec["commits"] = list(self.run.items(f"{base}/commits", params={"per_page": 100}))
            return [rec]

        def pipeline(rec: dict) -> list:
            jobs = list(self.run.items(f"/projects/{pid}/pipelines/{rec['id']}/jobs", params={"per_page": 100}))
            self.run.cache.write_json(root / "jobs" / f"{rec['id']}.json", jobs)
            return [rec]

        self._updated(pid, "merge requests", "merge_requests", root / "merge_requests", mr)
        self._updated(pid, "deployments", "deployments", root / "deployments", lambda r: [r])
        self._updated(pid, "pipelines", "pipelines", root / "pipelines", pipeline)

    def members(self) -> Path | None:
        run = self.run
        run.start("members")
        members = [m for m in run.items(f"/groups/{self.gid}/members/all", params={"per_page": 100})
                   if m.get("username") and m.get("bot") is not True and m.get("state", "active") == "active"]
        run.cache.write_json(run.cache.root / "group" / "members.json", members)
        run.tick("members", len(members))
        start = run.state.watermark(self.group, "members") or run.opts.since.isoformat()
        run.state.advance(self.group, "members", start, None)
        teams, ms = io.StringIO(), io.StringIO()
        csv.writer(teams, lineterminator="\n").writerows([["team_id", "name"], [self.group, self.group]])
        w = csv.writer(ms, lineterminator="\n")
        w.writerow(["builder", "team_id", "start"])
        w.writerows([m["username"], self.group, start] for m in members)
        out = run.cache.root / "roster"
        run.cache.write_text(out / "teams.csv", teams.getvalue())
        run.cache.write_text(out / "memberships.csv", ms.getvalue())
        return out


def collect_gitlab(
    store: Store,
    *,
    group: str,
    since: str,
    cache: str | Path = "ctssw-cache",
    projects: list[str] | None = None,
    token_env: str = "GITLAB_TOKEN",
    token_file: str | Path | None = None,
    api_url: str = "https://gitlab.com/api/v4",
    members: bool = True,
    pipeline_ref: str | None = None,
    environment: str = "production",
    timeout: float = 30.0,
    retries: int = 5,
    max_wait: float = 900.0,
    progress: Tick | None = None,
    _client: dict | None = None,
) -> Result:
    """Collect a GitLab group into ``cache`` and ingest it into ``store``.

    Parameters
    ----------
    group : str
        The group's full path (``gitlab-org/ci``) or numeric id.
    since : str
        YYYY-MM-DD: the first run's start; later runs start from each resource's watermark.
    projects : list of str, optional
        Project ids or full paths (default: every unarchived project of the group and its subgroups).
    token_env, token_file
        Where the token (``read_api`` scope) is read from.
    api_url : str
        The API root; self-managed GitLab is ``https://HOST/api/v4``.
    members : bool
        Collect the group's members as a roster.
    pipeline_ref, environment
        Passed to :func:`ctssw.store.load_gitlab`: which pipelines count as deployments.
    timeout, retries, max_wait, progress
        As for :func:`ctssw.collect.collect_github`.
    """
    if not isinstance(group, str) or not group.strip():
        raise ConfigError("gitlab: --group is empty: give the group's full path or id")
    opts = check_common("gitlab", since=since, cache=cache, api_url=api_url, timeout=timeout, retries=retries, max_wait=max_wait)
    check_patterns("gitlab", pipeline_ref=pipeline_ref)
    token = token_from("gitlab", token_env, token_file)
    run = Run("gitlab", store, opts, {"PRIVATE-TOKEN": token, "User-Agent": "ctssw-collect"}, progress, _client)
    try:
        gl = _GitLab(run, group.strip())
        for pid in gl.projects() if projects is None else [quote(p, safe="") for p in projects]:
            gl.project(pid)
        roster = gl.members() if members else None
        forge = sorted(p for p in (run.cache.root / "projects").glob("*/*")
                       if p.name in ("merge_requests", "deployments", "pipelines") and any(p.glob("*.json")))
        if any((run.cache.root / "projects").glob("*/jobs/*.json")):
            run.note("gitlab: pipeline jobs are kept in the cache (projects/*/jobs); the gitlab connector does not read jobs")
        steps = []
        if roster:
            steps.append(("roster", [roster / "teams.csv", roster / "memberships.csv"], {}))
        steps.append(("gitlab", forge, {"pipeline_ref": pipeline_ref, "environment": environment}))
        return run.ingest(steps)
    except CtsswError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise run.shape_error(e) from None
    finally:
        run.close()
