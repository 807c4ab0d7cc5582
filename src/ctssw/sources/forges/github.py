"""GitHub REST API JSON → changes, deployments.

Give the JSON responses as files (a page's array, several pages concatenated as NDJSON, or
the wrapping object such as ``{"workflow_runs": [...]}``). Each record's kind is recognised
by its fields, so one file may mix kinds and the order of files does not matter:

- pull requests (``GET /repos/{o}/{r}/pulls``, ``/pulls/{n}``): ``number``, ``head``, ``base``;
  optional embedded ``reviews``, ``review_comments`` or ``comments`` lists, and ``commits``;
- reviews (``/pulls/{n}/reviews``): ``submitted_at`` and ``pull_request_url``;
- review comments (``/pulls/comments``, ``/pulls/{n}/comments``): ``pull_request_url`` and
  ``diff_hunk``; issue comments (``/issues/comments``): ``issue_url``;
- deployments (``/deployments``): ``environment``, ``sha``, ``url`` with ``/deployments/``;
  optional embedded ``statuses``;
- deployment statuses (``/deployments/{id}/statuses``): ``state`` and ``deployment_url``;
- releases (``/releases``): ``tag_name`` and ``published_at``;
- Actions workflow runs (``/actions/runs``): ``workflow_id`` and ``run_number``;
  workflow jobs (``/actions/runs/{id}/jobs``): ``run_id`` and ``steps``.

Mapping:

- a pull request → ``changes`` row ``<owner>/<repo>#<number>``: author = ``user.login``;
  ``first_review_at`` = the earliest review, review comment or issue comment by someone other
  than the author; ``first_commit_at`` = the earliest embedded commit's author date;
- a deployment → ``deployments`` row ``<owner>/<repo>:deployment:<id>``; its latest status
  (by time, then id) gives ``result`` (success; failure/error → failure; inactive → success,
  it was replaced; queued/pending/in_progress → running) and ``finished_at``;
- a published release that is neither a draft nor a prerelease → a production ``deployments`` row
  ``<owner>/<repo>@<tag>`` of kind ``release`` at ``published_at`` (the id ``ctssw ingest git
  --deployments tags`` gives the same tag, so loading both keeps one deployment; its sha and the
  commits it shipped come from git when ``target_commitish`` is a branch name);
- a workflow run counts as a deployment when its workflow name or path matches ``workflow``
  (a regular expression), or, with ``job``, when one of its jobs matches ``job``; it gets
  environment ``environment`` (default production), ``result`` from its conclusion and
  ``finished_at`` from ``updated_at`` (a job's ``completed_at``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, SchemaError
from ..common import (
    Progress,
    Tables,
    expand,
    get,
    note,
    parse_ts,
    paths_of,
    read_json,
    records,
    table,
    text,
    utc,
)

__all__ = ["read"]

EXPECTED = "GitHub REST API JSON (pulls, reviews, comments, deployments, statuses, workflow runs)"
WRAPPERS = ("workflow_runs", "jobs", "deployments", "statuses", "items", "pull_requests", "data")
REPO_URL = re.compile(r"/repos/([^/]+/[^/]+)")
PR_URL = re.compile(r"/repos/([^/]+/[^/]+)/(?:pulls|issues)/(\d+)")
STATE = {"success": "success", "failure": "failure", "error": "failure", "inactive": "success",
         "queued": "running", "pending": "running", "in_progress": "running", "waiting": "running"}
CONCLUSION = {"success": "success", "failure": "failure", "timed_out": "failure", "startup_failure": "failure",
              "cancelled": "cancelled", "action_required": "running", "neutral": "success", "stale": "cancelled"}


@dataclass(frozen=True)
class _Config:
    workflow: re.Pattern | None
    job: re.Pattern | None
    environment: str
    team: str | None


def _kind(r: object) -> str | None:
    if not isinstance(r, dict):
        return None
    if "number" in r and "head" in r and "base" in r:
        return "pull"
    if "submitted_at" in r and "pull_request_url" in r:
        return "review"
    if "pull_request_url" in r and ("diff_hunk" in r or "pull_request_review_id" in r):
        return "review_comment"
    if "issue_url" in r and "body" in r and "number" not in r:
        return "issue_comment"
    if "deployment_url" in r and "state" in r:
        return "status"
    if "workflow_id" in r and "run_number" in r:
        return "run"
    if "run_id" in r and ("steps" in r or "completed_at" in r) and "workflow_id" not in r:
        return "job"
    if "environment" in r and "sha" in r and "/deployments/" in str(r.get("url", "")):
        return "deployment"
    if "tag_name" in r and "published_at" in r:
        return "release"
    return None


def _repo_of(r: dict) -> str | None:
    for v in (get(r, "base", "repo", "full_name"), get(r, "repository", "full_name")):
        if v:
            return str(v)
    for k in ("repository_url", "url", "pull_request_url", "issue_url", "deployment_url", "html_url"):
        m = REPO_URL.search(str(r.get(k) or ""))
        if m:
            return m.group(1)
    return None


def _pr_key(r: dict) -> str | None:
    m = PR_URL.search(str(r.get("pull_request_url") or r.get("issue_url") or ""))
    return f"{m.group(1)}#{m.group(2)}" if m else None


def _earliest(times: Iterable[object]) -> str | None:
    best, best_t = None, None
    for v in times:
        t = parse_ts(v)
        if t is not None and (best_t is None or t < best_t):
            best, best_t = v, t
    return utc(best) if best is not None else None


def _collect(paths: list[Path], progress: Progress | None) -> dict[str, list]:
    kinds: dict[str, list] = {k: [] for k in ("pull", "review", "review_comment", "issue_comment", "status", "run", "job", "deployment", "release", None)}
    files = list(expand(paths, (".json", ".ndjson", ".jsonl")))
    for i, p in enumerate(files):
        if progress:
            progress(f"reading {p}", i, len(files))
        doc = read_json(p, EXPECTED)
        flat = []
        for r in records(doc, p, EXPECTED, WRAPPERS):
            flat += r if isinstance(r, list) else [r]  # NDJSON of pages
        known = 0
        for x in flat:
            if isinstance(x, dict) and not _kind(x):
                for w in WRAPPERS:  # NDJSON of wrapped pages
                    if isinstance(x.get(w), list):
                        flat += x[w]
                        x = None
                        break
            if x is None:
                continue
            kd = _kind(x)
            known += kd is not None
            kinds[kd].append(x)
        if flat and not known:
            raise SchemaError(f"{p}: no GitHub records recognised; expected {EXPECTED}")
    if kinds[None]:
        note(f"github: {len(kinds[None])} record(s) of no known kind were skipped (not pulls, reviews, comments, deployments, statuses, runs or jobs)")
    return kinds


def _changes(k: dict[str, list], cfg: _Config) -> list[dict]:
    reviews: dict[str, list[tuple[str | None, object]]] = {}
    for kind, when in (("review", "submitted_at"), ("review_comment", "created_at"), ("issue_comment", "created_at")):
        for r in k[kind]:
            key = _pr_key(r)
            if key:
                reviews.setdefault(key, []).append((get(r, "user", "login"), r.get(when)))
    rows = []
    for pr in k["pull"]:
        repo = _repo_of(pr)
        key = f"{repo}#{pr.get('number')}"
        author = get(pr, "user", "login")
        seen = list(reviews.get(key, []))
        for emb, when in (("reviews", "submitted_at"), ("review_comments", "created_at"), ("comments", "created_at")):
            if isinstance(pr.get(emb), list):
                seen += [(get(x, "user", "login"), get(x, when)) for x in pr[emb] if isinstance(x, dict)]
        first_review = _earliest(t for who, t in seen if who and who != author)
        commits = pr.get("commits") if isinstance(pr.get("commits"), list) else []
        first_commit = _earliest(get(c, "commit", "author", "date") for c in commits)
        rows.append({
            "change_id": key if repo and pr.get("number") is not None else None,
            "repo_id": repo, "author": author, "created_at": utc(pr.get("created_at")),
            "merged_at": utc(pr.get("merged_at")), "closed_at": utc(pr.get("closed_at")),
            "merge_sha": pr.get("merge_commit_sha") if pr.get("merged_at") else None,
            "first_commit_at": first_commit, "first_review_at": first_review,
            "additions": pr.get("additions"), "deletions": pr.get("deletions"), "team_id": cfg.team,
        })
    return rows


def _latest(statuses: list[dict]) -> dict | None:
    best, key = None, None
    for s in statuses:
        t = parse_ts(s.get("updated_at") or s.get("created_at"))
        k = (t.timestamp() if t else float("-inf"), s.get("id") if isinstance(s.get("id"), int) else 0)
        if key is None or k > key:
            best, key = s, k
    return best


def _deployments(k: dict[str, list], cfg: _Config) -> list[dict]:
    by_dep: dict[str, list[dict]] = {}
    for s in k["status"]:
        by_dep.setdefault(str(s.get("deployment_url")), []).append(s)
    rows = []
    for d in k["deployment"]:
        sts = by_dep.get(str(d.get("url")), []) + [x for x in (d.get("statuses") or []) if isinstance(x, dict)]
        last = _latest(sts)
        state = str(last.get("state")).lower() if last else None
        repo = _repo_of(d)
        rows.append({
            "deployment_id": f"{repo}:deployment:{d.get('id')}" if repo and d.get("id") is not None else None,
            "repo_id": repo, "environment": text(d.get("environment")) and str(d.get("environment")).lower(),
            "started_at": utc(d.get("created_at")),
            "finished_at": utc((last.get("updated_at") or last.get("created_at")) if last else None),
            "result": STATE.get(state, state) if state else None, "sha": d.get("sha"), "team_id": cfg.team,
        })
    if cfg.workflow is None and cfg.job is None:
        return rows
    jobs: dict[str, list[dict]] = {}
    for j in k["job"]:
        jobs.setdefault(str(j.get("run_id")), []).append(j)
    for r in k["run"]:
        repo = _repo_of(r)
        names = " ".join(str(r.get(x) or "") for x in ("name", "path", "display_title"))
        if cfg.job is not None:
            hits = [j for j in jobs.get(str(r.get("id")), []) if cfg.job.search(str(j.get("name") or ""))]
            if not hits or (cfg.workflow is not None and not cfg.workflow.search(names)):
                continue
            j = hits[-1]
            status, concl = j.get("status"), j.get("conclusion")
            started, finished = j.get("started_at"), j.get("completed_at")
            rid = f"{repo}:run:{r.get('id')}:job:{j.get('id')}"
        else:
            if not cfg.workflow.search(names):  # type: ignore[union-attr]
                continue
            status, concl = r.get("status"), r.get("conclusion")
            started, finished = r.get("run_started_at") or r.get("created_at"), r.get("updated_at")
            rid = f"{repo}:run:{r.get('id')}"
        if concl == "skipped":
            continue  # a skipped run deployed nothing
        result = CONCLUSION.get(str(concl), str(concl)) if status == "completed" else "running"
        rows.append({
            "deployment_id": rid if repo and r.get("id") is not None else None, "repo_id": repo,
            "environment": cfg.environment, "started_at": utc(started), "finished_at": utc(finished),
            "result": result, "sha": r.get("head_sha"), "team_id": cfg.team,
        })
    return rows


def _config(workflow: str | None, job: str | None, environment: str, team: str | None) -> _Config:
    def comp(p: str | None, what: str) -> re.Pattern | None:
        if p is None:
            return None
        try:
            return re.compile(p, re.IGNORECASE)
        except re.error as e:
            raise ConfigError(f"{what} pattern {p!r} is not a regular expression ({e})") from None

    if not environment:
        raise ConfigError("environment must be a non-empty name such as production")
    return _Config(comp(workflow, "workflow"), comp(job, "job"), environment.lower(), team)


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    workflow: str | None = None,
    job: str | None = None,
    environment: str = "production",
    team: str | None = None,
    progress: Progress | None = None,
) -> Tables:
    """Read GitHub REST JSON files (or folders of them); see the module docstring.

    Parameters
    ----------
    workflow : str, optional
        Regular expression on a workflow run's name/path: matching runs count as deployments.
    job : str, optional
        Regular expression on job names: a run counts through its matching job.
    environment : str
        The environment a counted workflow run deployed to.
    team : str, optional
        The team owning these repositories.
    """
    cfg = _config(workflow, job, environment, team)
    k = _collect(paths_of(paths), progress)
    out: Tables = {}
    if k["pull"]:
        out["changes"] = table("changes", _changes(k, cfg))
    deps = _deployments(k, cfg) + _releases(k, cfg)
    if deps:
        out["deployments"] = table("deployments", deps)
    return out


SHA = re.compile(r"^[0-9a-f]{40}$")


def _releases(k: dict[str, list], cfg: _Config) -> list[dict]:
    """Published releases (not drafts, not prereleases) as production deployments of kind ``release``."""
    rows, skipped = [], 0
    for r in k["release"]:
        repo, tag, when = _repo_of(r), text(r.get("tag_name")), r.get("published_at")
        if r.get("draft") or r.get("prerelease") or not when or not repo or not tag:
            skipped += 1
            continue
        target = text(r.get("target_commitish")) or ""
        rows.append({
            "deployment_id": f"{repo}@{tag}", "repo_id": repo, "environment": "production",
            "started_at": utc(r.get("created_at")) if r.get("created_at") and r.get("created_at") <= when else utc(when),
            "finished_at": utc(when), "result": "success", "sha": target if SHA.match(target) else None,
            "team_id": cfg.team, "kind": "release",
        })
    if skipped:
        note(f"github: {skipped} draft, prerelease or unpublished release(s) are not deployments")
    return rows
