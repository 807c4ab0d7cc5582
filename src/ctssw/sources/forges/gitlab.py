"""GitLab REST API JSON → changes, deployments.

Files hold API responses (arrays, NDJSON of pages); each record's kind is recognised by its
fields:

- merge requests (``GET /projects/:id/merge_requests``): ``iid``, ``source_branch``,
  ``target_branch``; optional embedded ``notes``;
- notes (``/merge_requests/:iid/notes``): ``noteable_type`` ``MergeRequest``, ``noteable_id`` /
  ``noteable_iid``, ``author``, ``system``;
- deployments (``/projects/:id/deployments``): ``iid``, ``environment``, ``deployable`` or ``sha``
  with ``status``;
- pipelines (``/projects/:id/pipelines``): ``sha``, ``ref``, ``status`` and no ``environment``;
- merge request commits (``/merge_requests/:iid/commits``, a file named
  ``merge_requests_<iid>_commits.json``): ``short_id``, ``authored_date``, ``parent_ids``.

Mapping:

- a merge request → ``changes`` row ``<group/project>!<iid>`` (the path from
  ``references.full`` or ``web_url``, else the ``project_id``): author = ``author.username``;
  ``merge_sha`` = ``merge_commit_sha`` or ``squash_commit_sha``; ``first_review_at`` = the
  first non-system note by someone other than the author;
- a deployment → ``deployments`` row ``<project>:deployment:<id>``: environment =
  ``environment.name`` (lower case); result from ``status`` (success; failed → failure;
  canceled/skipped → cancelled; created/running/blocked or none → running); started_at = the
  job's ``deployable.started_at`` (queue time excluded), else ``created_at``; finished_at =
  ``finished_at``, else the job's, else ``updated_at``; ``is_production`` = the environment's
  ``tier`` is production, else its name matches ``production_env``;
- a merge request's commits give ``first_commit_at`` and, with the author, ``agent``;
- a pipeline counts as a deployment only when its ``ref`` matches ``pipeline_ref`` (a regular
  expression); it then deploys to ``environment`` (default production).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ...errors import ConfigError, SchemaError
from ..agents import is_bot, rules
from ..common import (
    Progress,
    Tables,
    expand,
    get,
    note,
    parse_ts,
    paths_of,
    pattern,
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
MR_COMMITS_FILE = re.compile(r"merge_requests?[-_.]?(\d+)[-_.]commits", re.IGNORECASE)
COMMIT_PROJECT = re.compile(r"https?://[^/]+/(.+?)/-/commit/")
# environment names that count as production unless the environment's tier says otherwise
PRODUCTION_ENV = r"(prod|production|live)([-_. ].*)?"
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
    if "short_id" in r and "authored_date" in r and "parent_ids" in r:
        return "commit"
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
    kinds: dict = {k: [] for k in ("mr", "note", "deployment", "pipeline", "commit", None)}
    files = list(expand(paths, (".json", ".ndjson", ".jsonl")))
    for i, p in enumerate(files):
        if progress:
            progress(f"reading {p}", i, len(files))
        flat = []
        for r in records(read_json(p, EXPECTED), p, EXPECTED, ("merge_requests", "deployments", "pipelines", "notes", "data")):
            flat += r if isinstance(r, list) else [r]
        known = 0
        iid = MR_COMMITS_FILE.search(p.name)
        for x in flat:
            kd = _kind(x)
            known += kd is not None
            if kd == "commit":
                x = {**x, "_mr_iid": int(iid.group(1)) if iid else None}
            kinds[kd].append(x)
        if flat and not known:
            raise SchemaError(f"{p}: no GitLab records recognised; expected {EXPECTED}")
    if kinds[None]:
        note(f"gitlab: {len(kinds[None])} record(s) of no known kind were skipped")
    loose = sum(1 for c in kinds["commit"] if c["_mr_iid"] is None)
    if loose:
        note(f"gitlab: {loose} commit record(s) not attached to a merge request: name a "
             "/merge_requests/IID/commits page merge_requests_IID_commits.json so its commits fill first_commit_at")
    return kinds


GITLAB_BOT = re.compile(r"^(project|group)_\d+_bot(_\w+)?$|^ghost$", re.IGNORECASE)


def _is_bot(author: object) -> bool:
    """GitLab bot users: ``bot: true``, project/group access-token bots, ``[bot]`` names."""
    if get(author, "bot") is True:
        return True
    name = str(get(author, "username") or "")
    return bool(GITLAB_BOT.match(name)) or is_bot(name)


def _first_review(notes: list, author: object) -> str | None:
    best, bt = None, None
    for n in notes:
        if not isinstance(n, dict) or n.get("system") is True or _is_bot(n.get("author")):
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
    production_env: str | None = None,
    agent_rules: str | Path | None = None,
    progress: Progress | None = None,
    production_env_by_repo: Mapping[str, str] | None = None,
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
    production_env : str, optional
        Regular expression (whole name, any case) for production environment names; default
        ``(prod|production|live)([-_. ].*)?``. An environment's ``tier`` wins where the export has it.
    production_env_by_repo : mapping of str to str, optional
        Patterns stored earlier for single projects; used where ``production_env`` is not given.
    agent_rules : str or Path, optional
        A CSV of extra agent detection rules (see :mod:`ctssw.sources.agents`).
    """
    ref_rx = pattern(pipeline_ref, "pipeline_ref", 0) if pipeline_ref is not None else None
    prod_rx = pattern(production_env if production_env is not None else PRODUCTION_ENV, "production_env")
    by_repo = {} if production_env is not None else {
        r: pattern(p, f"production_env of {r}") for r, p in (production_env_by_repo or {}).items()}
    agent_rules_ = rules(agent_rules)

    def is_prod(env: str | None, tier: object = None, proj: str | None = None) -> bool | None:
        if isinstance(tier, str) and tier:
            return tier.lower() == "production"
        return None if env is None else bool(by_repo.get(proj, prod_rx).fullmatch(env))
    if not environment:
        raise ConfigError("environment must be a non-empty name such as production")
    k = _collect(paths_of(paths), progress)
    notes_by: dict[object, list] = {}
    for n in k["note"]:
        if n.get("noteable_type") == "MergeRequest":
            notes_by.setdefault(("id", text(n.get("noteable_id"))), []).append(n)
            notes_by.setdefault(("iid", text(n.get("project_id")), text(n.get("noteable_iid"))), []).append(n)
    commits: dict[tuple, list[dict]] = {}
    for c in k["commit"]:
        if c["_mr_iid"] is not None:
            m = COMMIT_PROJECT.search(str(c.get("web_url") or ""))
            commits.setdefault((m.group(1) if m else None, str(c["_mr_iid"])), []).append(c)
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
        mcs = commits.get((proj, text(mr.get("iid"))), [])
        agent = agent_rules_.match("bot", author)
        if agent is None:
            agent = next((r for c in mcs for r in agent_rules_.message(str(c.get("message") or ""))), None)
        first_commit = None
        for c in mcs:
            t = parse_ts(c.get("authored_date"))
            if t is not None and (first_commit is None or t < parse_ts(first_commit)):
                first_commit = c.get("authored_date")
        changes.append({
            "change_id": f"{proj}!{mr.get('iid')}" if proj and mr.get("iid") is not None else None,
            "repo_id": proj, "author": author, "created_at": utc(mr.get("created_at")),
            "merged_at": utc(merged), "closed_at": utc(mr.get("closed_at") or merged),
            "merge_sha": (mr.get("merge_commit_sha") or mr.get("squash_commit_sha")) if merged else None,
            "first_review_at": _first_review(notes, author), "team_id": team,
            "first_commit_at": utc(first_commit), "agent": agent.tool if agent else None,
            "review_agent": next((r.tool for r in (agent_rules_.match("reviewer", get(n, "author", "username"))
                                                   for n in notes if isinstance(n, dict)) if r), None),
        })
    deps, waiting = [], 0
    for d in k["deployment"]:
        proj = _project(d)
        status = str(d.get("status") or "").lower() or None
        if status is None:
            waiting += 1
        env = get(d, "environment", "name") if isinstance(d.get("environment"), dict) else d.get("environment")
        env = str(env).lower() if env else None
        # the job's start excludes the time queued before it ran; the deployment's creation does not
        started = get(d, "deployable", "started_at") or d.get("created_at")
        deps.append({
            "deployment_id": f"{proj}:deployment:{d.get('id')}" if proj and d.get("id") is not None else None,
            "repo_id": proj, "environment": env,
            "started_at": utc(started),
            "finished_at": utc(d.get("finished_at") or get(d, "deployable", "finished_at") or d.get("updated_at")
                               or d.get("created_at")),
            "result": STATUS.get(status, status) if status else "running", "sha": d.get("sha"), "team_id": team,
            "is_production": is_prod(env, get(d, "environment", "tier"), proj),
        })
    if waiting:
        note(f"gitlab: {waiting} deployment(s) without a status: loaded as running")
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
            "result": STATUS.get(status, status) if status else "running", "sha": pl.get("sha"), "team_id": team,
            "is_production": is_prod(environment.lower(), None, proj),
        })
    if k["pipeline"] and ref_rx is None:
        note(f"gitlab: {len(k['pipeline'])} pipeline(s) read; none counted as deployments (give pipeline_ref to count them)")
    out: Tables = {}
    if changes:
        out["changes"] = table("changes", changes)
    if deps:
        out["deployments"] = table("deployments", deps)
        left: dict[str, int] = {}
        for d in deps:
            if d["is_production"] is False:
                left[d["environment"]] = left.get(d["environment"], 0) + 1
        if left:
            shown = ", ".join(f"{e} {n}" for e, n in sorted(left.items(), key=lambda x: -x[1])[:6])
            note(f"gitlab: {sum(left.values())} deployment(s) to non-production environments ({shown}) loaded "
                 "with is_production false and left out of production counts; --production-env REGEX widens it")
    return out
