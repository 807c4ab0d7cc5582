"""Apache DevLake domain-layer tables → changes, commits, deployments, deployment_commits,
incidents, teams, memberships, identities.

Input is either CSV dumps (files named after their table, e.g. ``pull_requests.csv``, or
folders of them) or a live DevLake database URL (``mysql://user:pass@host:3306/lake`` or
``postgresql://...``) read through Ibis. The tables read, and where they go:

====================== ===============================================================
pull_requests          changes: ``id``, ``base_repo_id``, ``author_id``, ``created_date``,
                       ``merged_date``, ``closed_date``, ``merge_commit_sha``, ``additions``,
                       ``deletions``
pull_request_commits   changes.first_commit_at = earliest ``commit_authored_date``
pull_request_comments  changes.first_review_at = earliest ``created_date`` by an
                       ``account_id`` other than the author
commits                commits: ``sha``, ``author_email`` (or ``author_id``), ``authored_date``,
                       ``committed_date``, ``additions``, ``deletions``; the repository from
                       ``repo_commits`` when given, else ``repo_id`` (default ``devlake``)
cicd_deployment_commits deployments (one per row ``id``, ``cicd_deployment_id`` as pipeline_id):
                       ``cicd_scope_id`` → service,
                       ``repo_id``/``repo_url``, ``environment``, ``result``, ``started_date``,
                       ``finished_date``, ``commit_sha``
commits_diffs          deployment_commits: each ``commit_sha`` shipped by the deployments
                       whose ``commit_sha`` is the diff's ``new_commit_sha``
incidents              incidents: ``id``, ``created_date``, ``resolution_date``, ``severity``
                       (or ``priority``), ``scope_id`` → service
teams, team_users      teams (``id``, ``name``, ``parent_id``) and memberships (``team_id``,
                       ``user_id``, starting ``membership_start``: DevLake keeps no dates)
accounts, user_accounts identities: each account's id, ``email`` and ``user_name`` map to its
                       user (``user_accounts``), else to the account itself
project_mapping        one team per DevLake project: its ``repos`` rows own repositories, its
                       ``cicd_scopes`` rows own services (deployments), and an incident whose
                       (``table``, ``scope_id``) a project maps belongs to that team
====================== ===============================================================

DevLake's timestamps mix ``2023-4-10 6:51:47`` and ISO 8601 with offsets; all are UTC.
Results ``SUCCESS`` / ``FAILURE`` / ``ABORT`` become success / failure / cancelled; an
empty result is a deployment still running. Environments are lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from ..errors import ConfigError, DataError, SchemaError
from .common import (
    Progress,
    Tables,
    day,
    expand,
    note,
    parse_ts,
    paths_of,
    read_csv,
    table,
    utc,
)

__all__ = ["TABLES_READ", "read", "source_label"]

TABLES_READ = (
    "pull_requests", "pull_request_commits", "pull_request_comments", "commits", "repo_commits",
    "cicd_deployment_commits", "commits_diffs", "incidents", "teams", "team_users", "accounts", "user_accounts",
    "project_mapping",
)
EXPECTED = "DevLake domain-layer table dumps (CSV named after their table, e.g. pull_requests.csv)"
RESULT = {"success": "success", "failure": "failure", "failed": "failure", "abort": "cancelled",
          "aborted": "cancelled", "cancelled": "cancelled", "canceled": "cancelled"}
URL = re.compile(r"^(mysql|mariadb|postgres|postgresql)://", re.IGNORECASE)


def _earliest(pairs: Iterable[tuple[str, object]]) -> dict[str, str]:
    best: dict[str, tuple] = {}
    for key, v in pairs:
        t = parse_ts(v)
        if t is not None and (key not in best or t < best[key][0]):
            best[key] = (t, v)
    return {k: utc(v) for k, (_, v) in best.items()}


def _first(rows: Iterable[tuple[str, object, str]]) -> dict[str, tuple[str, str]]:
    """Per key, the (time, id) of the earliest row; ties go to the smallest id (DevLake's order)."""
    best: dict[str, tuple] = {}
    for key, v, ident in rows:
        t = parse_ts(v)
        if t is not None and (key not in best or (t, ident or "") < best[key][:2]):
            best[key] = (t, ident or "", v)
    return {k: (utc(v), ident) for k, (_, ident, v) in best.items()}


def _s(v: object) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _map(raw: dict[str, list[dict]], *, repo_id: str, membership_start: str) -> Tables:
    out: Tables = {}
    user_of = {_s(r.get("account_id")): _s(r.get("user_id")) for r in raw.get("user_accounts", []) if _s(r.get("account_id"))}
    ident = []
    for acc, user in user_of.items():
        ident.append({"kind": "devlake_account", "value": acc, "builder": user})
    for a in raw.get("accounts", []):
        aid = _s(a.get("id"))
        person = user_of.get(aid) or aid
        for kind, col in (("email", "email"), ("login", "user_name")):
            if _s(a.get(col)):
                ident.append({"kind": kind, "value": a.get(col), "builder": person})
    if ident:
        out["identities"] = table("identities", ident)
    if raw.get("teams"):
        out["teams"] = table("teams", [
            {"team_id": _s(t.get("id")), "name": t.get("name"), "parent_id": _s(t.get("parent_id"))} for t in raw["teams"]
        ])
    if raw.get("team_users"):
        out["memberships"] = table("memberships", [
            {"builder": _s(m.get("user_id")), "team_id": _s(m.get("team_id")), "start": membership_start} for m in raw["team_users"]
        ])
    project_of: dict[tuple[str, str], str] = {}
    for m in raw.get("project_mapping", []):
        key = (_s(m.get("table")) or "", _s(m.get("row_id")) or "")
        if _s(m.get("project_name")) and key not in project_of:
            project_of[key] = _s(m.get("project_name"))
    if project_of:
        known = {r["team_id"] for r in out["teams"].to_pylist()} if "teams" in out else set()
        projects = sorted(set(project_of.values()) - known)
        rows = [{"team_id": p, "name": p} for p in projects]
        out["teams"] = table("teams", (out["teams"].to_pylist() if "teams" in out else []) + rows)
        out["repos"] = table("repos", [{"repo_id": r, "team_id": p, "name": r} for (t, r), p in project_of.items() if t == "repos"])
        out["services"] = table("services", [{"service_id": r, "team_id": p} for (t, r), p in project_of.items() if t == "cicd_scopes"])
    if raw.get("pull_requests"):
        fc = _first(
            (_s(c.get("pull_request_id")), c.get("commit_authored_date"), _s(c.get("commit_sha")))
            for c in raw.get("pull_request_commits", [])
        )
        first_commit = {k: v[0] for k, v in fc.items()}
        authors = {_s(p.get("id")): _s(p.get("author_id")) for p in raw["pull_requests"]}
        fr = _first(
            (_s(c.get("pull_request_id")), c.get("created_date"), _s(c.get("id")))
            for c in raw.get("pull_request_comments", [])
            if _s(c.get("account_id")) != authors.get(_s(c.get("pull_request_id")))
        )
        first_review = {k: v[0] for k, v in fr.items()}
        rows = []
        for p in raw["pull_requests"]:
            pid = _s(p.get("id"))
            merged = p.get("merged_date")
            rows.append({
                "change_id": pid, "repo_id": _s(p.get("base_repo_id")), "author": _s(p.get("author_id")),
                "created_at": utc(p.get("created_date")), "merged_at": utc(merged),
                "closed_at": utc(p.get("closed_date")), "merge_sha": _s(p.get("merge_commit_sha")) if _s(merged) else None,
                "first_commit_at": first_commit.get(pid), "first_review_at": first_review.get(pid),
                "first_commit_sha": fc.get(pid, (None, None))[1], "first_review_id": fr.get(pid, (None, None))[1],
                "additions": p.get("additions"), "deletions": p.get("deletions"),
            })
        out["changes"] = table("changes", rows)
    if raw.get("commits"):
        repo_of = {_s(r.get("commit_sha")): _s(r.get("repo_id")) for r in raw.get("repo_commits", [])}
        out["commits"] = table("commits", [
            {
                "repo_id": repo_of.get(_s(c.get("sha"))) or repo_id, "sha": _s(c.get("sha")),
                "author": _s(c.get("author_email")) or _s(c.get("author_id")),
                "authored_at": utc(c.get("authored_date")), "committed_at": utc(c.get("committed_date") or c.get("authored_date")),
                "additions": c.get("additions"), "deletions": c.get("deletions"),
            }
            for c in raw["commits"]
        ])
    deps = raw.get("cicd_deployment_commits", [])
    if deps:
        rows = []
        for d in deps:
            res = (_s(d.get("result")) or "").lower()
            rows.append({
                "deployment_id": _s(d.get("id")), "service_id": _s(d.get("cicd_scope_id")),
                "repo_id": _s(d.get("repo_id")) or _s(d.get("repo_url")),
                "environment": (_s(d.get("environment")) or "").lower() or None,
                "started_at": utc(d.get("started_date")), "finished_at": utc(d.get("finished_date")),
                "result": RESULT.get(res, res) if res else "running", "sha": _s(d.get("commit_sha")),
                "kind": "deployment", "pipeline_id": _s(d.get("cicd_deployment_id")),
            })
        out["deployments"] = table("deployments", rows)
    if raw.get("commits_diffs") and deps:
        by_sha: dict[str, list[dict]] = {}
        for d in deps:
            by_sha.setdefault(_s(d.get("commit_sha")), []).append(d)
        seen, rows = set(), []
        for cd in raw["commits_diffs"]:
            for d in by_sha.get(_s(cd.get("new_commit_sha")), []):
                key = (_s(d.get("id")), _s(cd.get("commit_sha")))
                if key not in seen:
                    seen.add(key)
                    rows.append({"deployment_id": key[0], "sha": key[1], "repo_id": _s(d.get("repo_id")) or _s(d.get("repo_url"))})
        out["deployment_commits"] = table("deployment_commits", rows)
    elif raw.get("commits_diffs"):
        note("devlake: commits_diffs given without cicd_deployment_commits; no deployment_commits could be formed")
    if raw.get("incidents"):
        out["incidents"] = table("incidents", [
            {
                "incident_id": _s(i.get("id")), "service_id": _s(i.get("scope_id")),
                "created_at": utc(i.get("created_date")), "resolved_at": utc(i.get("resolution_date")),
                "severity": _s(i.get("severity")) or _s(i.get("priority")),
                "team_id": project_of.get((_s(i.get("table")) or "", _s(i.get("scope_id")) or "")),
            }
            for i in raw["incidents"]
        ])
    return out


def _table_of(p: Path) -> str | None:
    """The DevLake table a CSV file holds, from its name: the table's name, with DevLake's schema
    (``lake.`` or ``lake_``) before it or a suffix after it (``cicd_deployment_commits_after``).

    Any other prefix names another table: DevLake's ``cicd_pipeline_commits``, ``issue_commits``
    and ``refs_commits_diffs`` are not ``commits`` or ``commits_diffs``.
    """
    stem = p.stem.lower()
    for schema in ("lake.", "lake_"):
        if stem.startswith(schema):
            stem = stem[len(schema):]
            break
    if stem in TABLES_READ:
        return stem
    for t in sorted(TABLES_READ, key=len, reverse=True):
        if stem.startswith(t + "_"):
            return t
    return None


def _read_csvs(paths: list[Path], progress: Progress | None) -> dict[str, list[dict]]:
    raw: dict[str, list[dict]] = {}
    files = list(expand(paths, (".csv",)))
    skipped = []
    for i, p in enumerate(files):
        if progress:
            progress(f"reading {p}", i, len(files))
        name = _table_of(p)
        if name is None:
            if p in paths:
                raise SchemaError(f"{p}: not a DevLake table this connector reads (expected one of {', '.join(TABLES_READ)})")
            skipped.append(p.name)
            continue
        _, rows = read_csv(p, EXPECTED)
        raw.setdefault(name, []).extend(rows)
    if skipped:
        note(f"devlake: skipped files that are not tables it reads: {', '.join(sorted(set(skipped))[:8])}")
    if not raw:
        raise SchemaError(f"{', '.join(map(str, paths))}: no DevLake tables found; expected {EXPECTED}")
    return raw


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _read_url(url: str, progress: Progress | None) -> dict[str, list[dict]]:
    if not URL.match(url):
        raise ConfigError(f"{_redact(url)}: unsupported database URL; expected mysql://... or postgresql://...")
    try:
        import ibis
    except ImportError:  # pragma: no cover
        raise ConfigError("reading a DevLake database needs ibis-framework") from None
    url = re.sub(r"^(postgres)://", "postgresql://", url, flags=re.IGNORECASE)
    try:
        con = ibis.connect(url)
    except ImportError as e:
        raise ConfigError(f"{_redact(url)}: the Ibis backend for this database is not installed ({e}); "
                          "install ibis-framework[mysql] or ibis-framework[postgres]") from None
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{_redact(url)}: cannot connect to the DevLake database ({first})") from None
    present = set(con.list_tables())
    raw = {}
    wanted = [t for t in TABLES_READ if t in present]
    for i, t in enumerate(wanted):
        if progress:
            progress(f"reading {t}", i, len(wanted))
        raw[t] = con.table(t).to_pyarrow().to_pylist()
    if not raw:
        raise SchemaError(f"{_redact(url)}: none of the DevLake tables {', '.join(TABLES_READ)} is in this database")
    return raw


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    repo_id: str = "devlake",
    membership_start: str | None = None,
    progress: Progress | None = None,
) -> Tables:
    """Read DevLake tables from CSV dumps (files or folders) or one database URL.

    Parameters
    ----------
    repo_id : str
        The repository of commits that ``repo_commits`` does not place.
    membership_start : str, optional
        The start date given to ``team_users`` memberships (DevLake records none). Default:
        the first day with any activity in the tables read, so the team-week panel starts
        where the data does.
    """
    start = None
    if membership_start is not None:
        start = day(membership_start)
        if start is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", start):
            raise ConfigError(f"membership_start {membership_start!r}: expected a date such as 2024-01-01")
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    urls = [str(p) for p in items if isinstance(p, str) and "://" in p]
    if urls:
        if len(items) != 1:
            raise ConfigError("give one database URL, or CSV files and folders, not both")
        raw = _read_url(urls[0], progress)
    else:
        raw = _read_csvs(paths_of(items), progress)
    out = _map(raw, repo_id=repo_id, membership_start=start or "")
    if start is None and "memberships" in out:
        first = _first_day(out)
        m = out["memberships"]
        out["memberships"] = m.set_column(m.schema.get_field_index("start"), "start", pa.array([first] * m.num_rows, pa.string()))
    return out


def _first_day(tables: Tables) -> str | None:
    """The earliest day any activity in ``tables`` happened (ISO text), None without any."""
    cols = {"changes": "created_at", "commits": "authored_at", "deployments": "finished_at", "incidents": "created_at"}
    days = []
    for name, col in cols.items():
        t = tables.get(name)
        if t is not None and col in t.column_names:
            days += [v[:10] for v in t.column(col).to_pylist() if isinstance(v, str) and re.match(r"\d{4}-\d{2}-\d{2}", v)]
    plausible = [d for d in days if d >= "1990-01-01"]
    return min(plausible) if plausible else None


def source_label(paths: str | Path | Iterable[str | Path]) -> str:
    """How a run over ``paths`` is named to users: ``devlake:`` and the first few inputs, with
    any password in a database URL masked."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    shown = [_redact(str(p)) for p in items]
    return "devlake:" + ", ".join(shown[:3]) + (f" (+{len(shown) - 3} more)" if len(shown) > 3 else "")
