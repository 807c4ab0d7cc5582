"""GitLab REST API JSON → changes, deployments.

Files hold API responses (arrays, NDJSON of pages); each record's kind is recognised by its
fields:

- merge requests (``GET /projects/:id/merge_requests``): ``iid``, ``source_branch``,
  ``target_branch``; optional embedded ``notes``;
- notes (``/merge_requests/:iid/notes``): ``noteable_type`` ``MergeRequest``, ``noteable_id`` /
  ``noteable_iid``, ``author``, ``system``;
- deployments (``/projects/:id/deployments``): ``iid``, ``environment``, ``deployable`` or ``sha``
  with ``status``;
- pipelines (``/projects/:id/pipelines``): ``sha``, ``ref``, ``status`` and no ``environment``.

Mapping:

- a merge request → ``changes`` row ``<group/project>!<iid>`` (the path from
  ``references.full`` or ``web_url``, else the ``project_id``): author = ``author.username``;
  ``merge_sha`` = ``merge_commit_sha`` or ``squash_commit_sha``; ``first_review_at`` = the
  first non-system note by someone other than the author;
- a deployment → ``deployments`` row ``<project>:deployment:<id>``: environment =
  ``environment.name`` (lower case); result from ``status`` (success; failed → failure;
  canceled/skipped → cancelled; created/running/blocked → running); finished_at =
  ``finished_at``, else ``updated_at``;
- a pipeline counts as a deployment only when its ``ref`` matches ``pipeline_ref`` (a regular
  expression); it then deploys to ``environment`` (default production).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

EXPECTED = "GitLab REST API JSON (merge requests, notes, deployments, pipelines)"
STATUS = {"success": "success", "failed": "failure", "canceled": "cancelled", "cancelled": "cancelled",
          "skipped": "cancelled", "created": "running", "running": "running", "blocked": "running",
          "pending": "running", "manual": "running", "waiting_for_resource": "running", "preparing": "running",
          "scheduled": "running"}
PROJECT = re.compile(r"https?://[^/]+/(.+?)/-/(?:merge_requests|pipelines|environments|deployments)")


def _kind(r: object) -> str | None:
    if not isinstance(r, dict):
        return None
    if "iid" in r and "source_branch" in r and "target_branch" in r:
        return "mr"
    if "noteable_type" in r and "author" in r:
        return "note"
    if "iid" in r and "environment" in r and ("deployable" in r or "sha" in r):
        return "deployment"
    if "sha" in r and "ref" in r and "status" in r and "environment" not in r:
        return "pipeline"
    return None


def _project(r: dict) -> str | None:
    full = get(r, "references", "full")
    if full:
        return re.split(r"[!#]", str(full))[0] or None
    m = PROJECT.search(str(r.get("web_url") or get(r, "deployable", "pipeline", "web_url") or ""))
    if m:
        return m.group(1)
    pid = r.get("project_id") or get(r, "deployable", "pipeline", "project_id")
    return str(pid) if pid is not None else None


def _collect(paths: list[Path], progress: Progress | None) -> dict:
    kinds: dict = {k: [] for k in ("mr", "note", "deployment", "pipeline", None)}
    files = list(expand(paths, (".json", ".ndjson", ".jsonl")))
    for i, p in enumerate(files):
        if progress:
            progress(f"reading {p}", i, len(files))
        flat = []
        for r in records(read_json(p, EXPECTED), p, EXPECTED, ("merge_requests", "deployments", "pipelines", "notes", "data")):
            flat += r if isinstance(r, list) else [r]
        known = 0
        for x in flat:
            kd = _kind(x)
            known += kd is not None
            kinds[kd].append(x)
        if flat and not known:
            raise SchemaError(f"{p}: no GitLab records recognised; expected {EXPECTED}")
    if kinds[None]:
        note(f"gitlab: {len(kinds[None])} record(s) of no known kind were skipped")
    return kinds


def _first_review(notes: list, author: object) -> str | None:
    best, bt = None, None
    for n in notes:
        if not isinstance(n, dict) or n.get("system") is True:
            continue
        who = get(n, "author", "username")
        t = parse_ts(n.get("created_at"))
        if who and who != author and t is not None and (bt is None or t < bt):
            best, bt = n.get("created_at"), t
    return utc(best) if best is not None else None


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    pipeline_ref: str | None = None,
    environment: str = "production",
    team: str | None = None,
    progress: Progress | None = None,
) -> Tables:
    """Read GitLab REST JSON files (or folders of them); see the module docstring.

    Parameters
    ----------
    pipeline_ref : str, optional
        Regular expression on a pipeline's ``ref``: matching pipelines count as deployments.
    environment : str
        The environment a counted pipeline deployed to.
    team : str, optional
        The team owning these projects.
    """
    try:
        ref_rx = re.compile(pipeline_ref) if pipeline_ref is not None else None
    except re.error as e:
        raise ConfigError(f"pipeline_ref pattern {pipeline_ref!r} is not a regular expression ({e})") from None
    if not environment:
        raise ConfigError("environment must be a non-empty name such as production")
    k = _collect(paths_of(paths), progress)
    notes_by: dict[object, list] = {}
    for n in k["note"]:
        if n.get("noteable_type") == "MergeRequest":
            notes_by.setdefault(("id", text(n.get("noteable_id"))), []).append(n)
            notes_by.setdefault(("iid", text(n.get("project_id")), text(n.get("noteable_iid"))), []).append(n)
    changes = []
    for mr in k["mr"]:
        proj = _project(mr)
        author = get(mr, "author", "username")
        notes = list(notes_by.get(("id", text(mr.get("id"))), [])) or list(
            notes_by.get(("iid", text(mr.get("project_id")), text(mr.get("iid"))), [])
        )
        if isinstance(mr.get("notes"), list):
            notes += mr["notes"]
        merged = mr.get("merged_at")
        changes.append({
            "change_id": f"{proj}!{mr.get('iid')}" if proj and mr.get("iid") is not None else None,
            "repo_id": proj, "author": author, "created_at": utc(mr.get("created_at")),
            "merged_at": utc(merged), "closed_at": utc(mr.get("closed_at") or merged),
            "merge_sha": (mr.get("merge_commit_sha") or mr.get("squash_commit_sha")) if merged else None,
            "first_review_at": _first_review(notes, author), "team_id": team,
        })
    deps = []
    for d in k["deployment"]:
        proj = _project(d)
        status = str(d.get("status") or "").lower() or None
        env = get(d, "environment", "name") if isinstance(d.get("environment"), dict) else d.get("environment")
        deps.append({
            "deployment_id": f"{proj}:deployment:{d.get('id')}" if proj and d.get("id") is not None else None,
            "repo_id": proj, "environment": str(env).lower() if env else None,
            "started_at": utc(d.get("created_at")), "finished_at": utc(d.get("finished_at") or d.get("updated_at")),
            "result": STATUS.get(status, status) if status else None, "sha": d.get("sha"), "team_id": team,
        })
    counted = 0
    for pl in k["pipeline"]:
        if ref_rx is None or not ref_rx.search(str(pl.get("ref") or "")):
            continue
        counted += 1
        proj = _project(pl)
        status = str(pl.get("status") or "").lower() or None
        deps.append({
            "deployment_id": f"{proj}:pipeline:{pl.get('id')}" if proj and pl.get("id") is not None else None,
            "repo_id": proj, "environment": environment.lower(),
            "started_at": utc(pl.get("created_at")), "finished_at": utc(pl.get("finished_at") or pl.get("updated_at")),
            "result": STATUS.get(status, status) if status else None, "sha": pl.get("sha"), "team_id": team,
        })
    if k["pipeline"] and ref_rx is None:
        note(f"gitlab: {len(k['pipeline'])} pipeline(s) read; none counted as deployments (give pipeline_ref to count them)")
    out: Tables = {}
    if changes:
        out["changes"] = table("changes", changes)
    if deps:
        out["deployments"] = table("deployments", deps)
    return out
