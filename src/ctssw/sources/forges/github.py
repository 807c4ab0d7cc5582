"""GitHub REST API JSON → changes, deployments.

Give the JSON responses as files (a page's array, several pages concatenated as NDJSON, or
the wrapping object such as ``{"workflow_runs": [...]}``). Each record's kind is recognised
by its fields, so one file may mix kinds and the order of files does not matter:

- pull requests (``GET /repos/{o}/{r}/pulls``, ``/pulls/{n}``): ``number``, ``head``, ``base``;
  optional embedded ``reviews``, ``review_comments`` or ``comments`` lists, and ``commits``;
- pull commits (``/pulls/{n}/commits``): ``sha``, ``commit``, ``parents``;
- reviews (``/pulls/{n}/reviews``): ``submitted_at`` and ``pull_request_url``;
- review comments (``/pulls/comments``, ``/pulls/{n}/comments``): ``pull_request_url`` and
  ``diff_hunk``; issue comments (``/issues/comments``): ``issue_url``;
- deployments (``/deployments``): ``environment``, ``sha``, ``url`` with ``/deployments/``;
  optional embedded ``statuses``; GraphQL deployment nodes: ``commitOid``, ``environment``,
  ``statuses.nodes`` (any key case);
- deployment statuses (``/deployments/{id}/statuses``): ``state`` and ``deployment_url``;
- releases (``/releases``): ``tag_name`` and ``published_at``;
- Actions workflow runs (``/actions/runs``): ``workflow_id`` and ``run_number``;
  workflow jobs (``/actions/runs/{id}/jobs``): ``run_id`` and ``steps``;
- team members (``/orgs/{org}/teams/{slug}/members``): a page of users saved as
  ``teams/<slug>/members.json``, or ``{"team": {...}, "members": [...]}`` as ``ctssw collect
  github`` caches it.

Mapping:

- a pull request → ``changes`` row ``<owner>/<repo>#<number>``: author = ``user.login``;
  ``first_review_at`` = the earliest review (or review comment) by a person other than the
  author, else the earliest such issue comment; bots never review (``type: Bot``, ``[bot]``
  logins, ``bots``); ``first_commit_at`` = the earliest commit's author date (embedded, or
  from a ``/pulls/N/commits`` page named ``pulls_N_commits.json``); ``agent`` /
  ``review_agent`` from the rules of :mod:`ctssw.sources.agents`;
- a deployment (REST, or a GraphQL node) → ``deployments`` row ``<owner>/<repo>:deployment:<id>``;
  its first terminal status by time (success; failure/error → failure) gives ``result`` and
  ``finished_at`` (a later ``inactive`` only says a newer deployment replaced it); without one,
  the latest status (queued/pending/in_progress → running); without any, running at its
  creation; ``is_production`` = the ``production_environment`` flag, else the name matches
  ``production_env``;
- a published release that is neither a draft nor a prerelease → a production ``deployments`` row
  ``<owner>/<repo>@<tag>`` of kind ``release`` at ``published_at`` (the id ``ctssw ingest git
  --deployments tags`` gives the same tag, so loading both keeps one deployment; its sha and the
  commits it shipped come from git when ``target_commitish`` is a branch name);
- a team's members → a ``teams`` row ``<slug>`` (parent from ``team.parent``) and ``memberships``
  rows (builder = ``login``, bots left out) from ``membership_start``: GitHub keeps no dates of
  joining, so the loader starts them at the earliest activity the store holds unless told;
- a workflow run counts as a deployment when its workflow name or path matches ``workflow``
  (a regular expression), or, with ``job``, when one of its jobs matches ``job``; it gets
  environment ``environment`` (default production), ``result`` from its conclusion and
  ``finished_at`` from ``updated_at`` (a job's ``completed_at``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError, SchemaError
from ..agents import Rules, is_bot, rules
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
from .github_teams import team_members, teams_tables

__all__ = ["read"]

EXPECTED = "GitHub REST API JSON (pulls, reviews, comments, deployments, statuses, workflow runs)"
WRAPPERS = ("workflow_runs", "jobs", "deployments", "statuses", "items", "pull_requests", "data")
KINDS = ("pull", "review", "review_comment", "issue_comment", "status", "run", "job", "deployment", "gql_deployment", "commit", "release")
PR_COMMITS_FILE = re.compile(r"pulls?[-_.]?(\d+)[-_.]commits", re.IGNORECASE)
TERMINAL = ("success", "failure", "error")
# environments that count as production unless a deployment's production_environment flag says otherwise
PRODUCTION_ENV = r"(prod|production|live)([-_. ].*)?"
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
    bots: tuple[str, ...] = ()
    production: re.Pattern | None = None
    rules: Rules = field(default_factory=rules)
    by_repo: Mapping[str, re.Pattern] = field(default_factory=dict)

    def is_production(self, env: str | None, repo: str | None = None) -> bool | None:
        rx = self.by_repo.get(repo, self.production) if repo else self.production
        return None if env is None or rx is None else bool(rx.fullmatch(env))


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
    low = {k.lower() for k in r}
    if {"commitoid", "environment"} <= low and ("statuses" in low or "lateststatus" in low):
        return "gql_deployment"
    if "sha" in r and isinstance(r.get("commit"), dict) and "parents" in r:
        return "commit"
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
    kinds: dict[str, list] = {k: [] for k in (*KINDS, "team", None)}
    files = list(expand(paths, (".json", ".ndjson", ".jsonl")))
    skipped: list[str] = []
    for i, p in enumerate(files):
        if progress:
            progress(f"reading {p}", i, len(files))
        doc = read_json(p, EXPECTED)
        team = team_members(doc, p, _kind)
        if team is not None:
            kinds["team"].append(team)
            continue
        pr_no = PR_COMMITS_FILE.search(p.name)
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
            if kd == "commit":
                x = {**x, "_pull_number": int(pr_no.group(1)) if pr_no else None}
            kinds[kd].append(x)
        if flat and not known:
            skipped.append(p.name)
    if skipped and not any(kinds[k] for k in (*KINDS, "team")):
        raise SchemaError(f"{files[0] if len(files) == 1 else paths[0]}: no GitHub records recognised; expected {EXPECTED}")
    if skipped:
        shown = ", ".join(skipped[:5]) + (" …" if len(skipped) > 5 else "")
        note(f"github: {len(skipped)} file(s) hold no GitHub records ctssw reads and were skipped: {shown}")
    unattached = sum(1 for c in kinds["commit"] if c["_pull_number"] is None)
    if unattached:
        note(f"github: {unattached} commit record(s) not attached to a pull request: name a /pulls/N/commits "
             "page pulls_N_commits.json so its commits fill first_commit_at")
    if kinds[None]:
        note(f"github: {len(kinds[None])} record(s) of no known kind were skipped (not pulls, reviews, comments, deployments, statuses, runs or jobs)")
    return kinds


def _person(x: object) -> tuple[object, object]:
    return get(x, "user", "login"), get(x, "user", "type")


def _changes(k: dict[str, list], cfg: _Config) -> list[dict]:
    # (login, user type, time) per pull request; reviews (with their comments) apart from issue comments
    reviews: dict[str, list[tuple]] = {}
    comments: dict[str, list[tuple]] = {}
    for kind, when, into in (("review", "submitted_at", reviews), ("review_comment", "created_at", reviews),
                             ("issue_comment", "created_at", comments)):
        for r in k[kind]:
            key = _pr_key(r)
            if key:
                into.setdefault(key, []).append((*_person(r), r.get(when)))
    commits: dict[tuple[str | None, str], list[dict]] = {}
    for c in k["commit"]:
        if c["_pull_number"] is not None:
            commits.setdefault((_repo_of(c), str(c["_pull_number"])), []).append(c)
    rows, no_lines, bot_first = [], 0, set()
    for pr in k["pull"]:
        repo = _repo_of(pr)
        key = f"{repo}#{pr.get('number')}"
        author = get(pr, "user", "login")
        rv, cm = list(reviews.get(key, [])), list(comments.get(key, []))
        for emb, when, into in (("reviews", "submitted_at", rv), ("review_comments", "created_at", rv),
                                ("comments", "created_at", cm)):
            if isinstance(pr.get(emb), list):
                into += [(*_person(x), get(x, when)) for x in pr[emb] if isinstance(x, dict)]

        def human(seen: list[tuple]) -> list:
            return [t for who, typ, t in seen if who and who != author and not is_bot(who, typ, cfg.bots)]

        first_review = _earliest(human(rv)) or _earliest(human(cm))
        others = sorted((parse_ts(t), is_bot(who, typ, cfg.bots)) for who, typ, t in rv + cm
                        if who and who != author and parse_ts(t) is not None)
        if others and others[0][1]:
            bot_first.add(key)
        review_agent = next((r.tool for r in (cfg.rules.match("reviewer", w) for w, _t, _x in sorted(
            rv, key=lambda x: str(x[2] or ""))) if r is not None), None)
        embedded = pr.get("commits") if isinstance(pr.get("commits"), list) else []
        pcs = embedded + commits.get((repo, text(pr.get("number"))), [])
        first_commit = _earliest(get(c, "commit", "author", "date") for c in pcs)
        adds, dels = pr.get("additions"), pr.get("deletions")
        if adds is None and pcs and all(isinstance(get(c, "stats", "additions"), int) for c in pcs):
            adds = sum(get(c, "stats", "additions") for c in pcs)
            dels = sum(get(c, "stats", "deletions") or 0 for c in pcs)
        no_lines += adds is None
        agent = cfg.rules.match("bot", author)
        if agent is None:  # an agent's commits on a person's pull request (co-authored or generated)
            agent = next((r for c in pcs for r in cfg.rules.message(str(get(c, "commit", "message") or ""))), None)
        rows.append({
            "change_id": key if repo and pr.get("number") is not None else None,
            "repo_id": repo, "author": author, "created_at": utc(pr.get("created_at")),
            "merged_at": utc(pr.get("merged_at")), "closed_at": utc(pr.get("closed_at")),
            "merge_sha": pr.get("merge_commit_sha") if pr.get("merged_at") else None,
            "first_commit_at": first_commit, "first_review_at": first_review,
            "additions": adds, "deletions": dels, "team_id": cfg.team,
            "agent": agent.tool if agent else None, "review_agent": review_agent,
        })
    if no_lines:
        note(f"github: {no_lines} pull request(s) without additions/deletions (list pages do not carry them): "
             "left empty; export /pulls/N details, or commits with stats, to fill them")
    if bot_first:
        note(f"github: on {len(bot_first)} pull request(s) a bot commented first; first_review_at is the first "
             "person's review or comment instead (bots never count as reviewers)")
    return rows


def _finish(statuses: list[dict]) -> tuple[str | None, object]:
    """(result, finished_at) from a deployment's statuses: the first terminal status (success,
    failure, error) by time; GitHub appends ``inactive`` when a later deployment replaces this
    one, which is not when it finished. With no terminal status, the latest one (running)."""
    timed = []
    for s in statuses:
        when = s.get("updated_at") or s.get("created_at") or s.get("updatedAt") or s.get("createdAt")
        t = parse_ts(when)
        timed.append((t.timestamp() if t else float("-inf"), s.get("id") if isinstance(s.get("id"), int) else 0,
                      str(s.get("state") or "").lower(), when))
    timed.sort(key=lambda x: (x[0], x[1]))
    for _t, _i, state, when in timed:
        if state in TERMINAL:
            return STATE[state], when
    if timed:
        state, when = timed[-1][2], timed[-1][3]
        return (STATE.get(state, state) or None), when
    return None, None


def _gql(d: dict) -> dict:
    """A GraphQL deployment node as GitHub returns it or as DevLake stores it (capitalised keys)."""
    low = {k[:1].lower() + k[1:]: v for k, v in d.items()}
    nodes = get(low, "statuses", "nodes") or get(low, "statuses", "Nodes") or []
    repo = get(low, "repository", "nameWithOwner")
    url = get(low, "repository", "url") or get(low, "repository", "Url")
    if not repo and url:
        m = re.search(r"github\.com/([^/]+/[^/]+?)/?$", str(url))
        repo = m.group(1) if m else None
    return {"id": low.get("databaseId") or low.get("id"), "repo": repo, "environment": low.get("environment"),
            "sha": low.get("commitOid"), "created_at": low.get("createdAt"),
            "statuses": [{"state": get(n, "state") or get(n, "State"),
                          "updated_at": get(n, "updatedAt") or get(n, "UpdatedAt")} for n in nodes if isinstance(n, dict)]}


def _deployments(k: dict[str, list], cfg: _Config) -> list[dict]:
    by_dep: dict[str, list[dict]] = {}
    for s in k["status"]:
        by_dep.setdefault(str(s.get("deployment_url")), []).append(s)
    found = []
    for d in k["deployment"]:
        sts = by_dep.get(str(d.get("url")), []) + [x for x in (d.get("statuses") or []) if isinstance(x, dict)]
        flag = d.get("production_environment")
        found.append((_repo_of(d), d.get("id"), d.get("environment"), d.get("sha"), d.get("created_at"), sts,
                      flag if isinstance(flag, bool) else None))
    for d in k["gql_deployment"]:
        g = _gql(d)
        found.append((g["repo"], g["id"], g["environment"], g["sha"], g["created_at"], g["statuses"], None))
    rows, waiting = [], 0
    for repo, did, env, sha, created, sts, flag in found:
        result, finished = _finish(sts)
        if result is None:  # no status yet: it has been created and is waiting to run
            result, finished, waiting = "running", created, waiting + 1
        env_name = str(env).lower() if text(env) else None
        rows.append({
            "deployment_id": f"{repo}:deployment:{did}" if repo and did is not None else None,
            "repo_id": repo, "environment": env_name, "started_at": utc(created), "finished_at": utc(finished),
            "result": result, "sha": sha, "team_id": cfg.team,
            "is_production": flag if flag is not None else cfg.is_production(env_name, repo),
        })
    if waiting:
        note(f"github: {waiting} deployment(s) have no status yet: loaded as running (finished_at = created_at)")
    if cfg.workflow is None and cfg.job is None:
        return rows
    jobs: dict[str, list[dict]] = {}
    for j in k["job"]:
        jobs.setdefault(str(j.get("run_id")), []).append(j)
    job_hits = 0
    for r in k["run"]:
        repo = _repo_of(r)
        names = " ".join(str(r.get(x) or "") for x in ("name", "path", "display_title"))
        if cfg.job is not None:
            hits = [j for j in jobs.get(str(r.get("id")), []) if cfg.job.search(str(j.get("name") or ""))]
            job_hits += bool(hits)
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
            "is_production": cfg.is_production(cfg.environment, repo),
        })
    if cfg.job is not None and not job_hits:
        named = [j for js in jobs.values() for j in js if cfg.job.search(str(j.get("name") or ""))]
        why = (f"{len(named)} job(s) match but none belongs to one of the {len(k['run'])} run(s) given (export "
               "/actions/runs for the same runs)" if named else
               f"it matched no job of the {sum(len(v) for v in jobs.values())} job(s) given"
               + ("" if jobs else " (export /actions/runs/ID/jobs too)"))
        note(f"github: --job {cfg.job.pattern!r}: {why}; no deployments counted from workflow runs")
    return rows


def _config(workflow: str | None, job: str | None, environment: str, team: str | None,
            bots: Iterable[str] = (), production_env: str | None = None, agent_rules: object = None,
            production_env_by_repo: Mapping[str, str] | None = None) -> _Config:
    def comp(p: str | None, what: str) -> re.Pattern | None:
        return None if p is None else pattern(p, what)

    if not environment:
        raise ConfigError("environment must be a non-empty name such as production")
    prod = comp(production_env if production_env is not None else PRODUCTION_ENV, "production_env")
    by_repo = {} if production_env is not None else {
        r: comp(p, f"production_env of {r}") for r, p in (production_env_by_repo or {}).items()}
    return _Config(comp(workflow, "workflow"), comp(job, "job"), environment.lower(), team,
                   tuple(bots), prod, rules(agent_rules), by_repo)  # type: ignore[arg-type]


def read(
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
    bots : iterable of str
        Logins of automation accounts that GitHub lists as ``type: User`` (``golangcibot``);
        ``type: Bot`` accounts and ``[bot]`` logins never count as reviewers anyway.
    production_env : str, optional
        Regular expression (whole name, any case) for production environment names; default
        ``(prod|production|live)([-_. ].*)?``. A deployment's ``production_environment`` flag wins.
    production_env_by_repo : mapping of str to str, optional
        Patterns stored earlier for single repositories; used where ``production_env`` is not given.
    agent_rules : str or Path, optional
        A CSV of extra agent detection rules (see :mod:`ctssw.sources.agents`).
    """
    cfg = _config(workflow, job, environment, team, bots, production_env, agent_rules, production_env_by_repo)
    k = _collect(paths_of(paths), progress)
    out: Tables = {}
    if k["pull"]:
        out["changes"] = table("changes", _changes(k, cfg))
    if k["team"]:
        out.update(teams_tables(k["team"], cfg.bots))
    deps = _deployments(k, cfg) + _releases(k, cfg)
    if deps:
        out["deployments"] = table("deployments", deps)
        left = {}
        for d in deps:
            if d["is_production"] is False:
                left[d["environment"]] = left.get(d["environment"], 0) + 1
        if left:
            shown = ", ".join(f"{e} {n}" for e, n in sorted(left.items(), key=lambda x: -x[1])[:6])
            note(f"github: {sum(left.values())} deployment(s) to non-production environments ({shown}) loaded "
                 "with is_production false and left out of production counts; --production-env REGEX widens it")
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
            "team_id": cfg.team, "kind": "release", "is_production": True,
        })
    if skipped:
        note(f"github: {skipped} draft, prerelease or unpublished release(s) are not deployments")
    return rows
