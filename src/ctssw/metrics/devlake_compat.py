"""DevLake-compatible DORA tables, computed the way Apache DevLake's ``dora`` plugin does.

Inputs are DevLake domain-layer tables as pandas DataFrames (every column may be a
string, as in DevLake's CSV exports); outputs have DevLake's columns, so a
project that compares ctssw with DevLake can diff the two cell for cell.

The rules (each one is reproduced on purpose, including the ones ctssw's
default mode changes; see ``docs/metrics.md``):

- Times are whole minutes rounded up; a negative span is NULL.
- The previous successful deployment is looked up per (cicd_scope_id, repo_url,
  environment), ordered by finish time; failed deployments and rows with no
  environment or repo are ignored.
- A PR ships with the first successful PRODUCTION deployment of its project that
  has a previous successful deployment and whose commit range in ``commits_diffs``
  (previous sha -> this sha) holds the PR's merge commit.
- cycle = coding + (created -> merged) + deploy, each left out when NULL.
- An incident belongs to the latest successful PRODUCTION deployment of its
  project that finished before the incident was created (no time window).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, SchemaError

__all__ = [
    "INCIDENT_DEPLOYMENT_COLUMNS",
    "PR_METRICS_COLUMNS",
    "format_devlake",
    "incident_deployments",
    "pr_metrics",
    "pr_metrics_from_links",
    "prev_success_deployment_commits",
    "read_devlake_dir",
]

PR_METRICS_COLUMNS = (
    "id", "project_name", "first_commit_sha", "pr_coding_time", "first_review_id", "pr_pickup_time",
    "pr_review_time", "deployment_commit_id", "pr_deploy_time", "pr_cycle_time",
    "first_commit_authored_date", "first_comment_date", "pr_created_date", "pr_merged_date",
    "pr_deployed_date",
)
INCIDENT_DEPLOYMENT_COLUMNS = ("id", "project_name", "deployment_id")

SUCCESS = "SUCCESS"
PRODUCTION = "PRODUCTION"


# -- reading ----------------------------------------------------------------------------------
def read_devlake_dir(path: str | Path) -> dict[str, pd.DataFrame]:
    """Every ``*.csv`` under ``path`` (recursively) as a string DataFrame keyed by file stem.

    Where a stem occurs twice, the shallower file wins (``cicd_deployment_commits.csv``
    next to the inputs, not one in a sub-folder of expected outputs).
    """
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder of DevLake CSV tables")
    out: dict[str, pd.DataFrame] = {}
    for f in sorted(root.rglob("*.csv"), key=lambda p: (len(p.relative_to(root).parts), str(p))):
        out.setdefault(f.stem, pd.read_csv(f, dtype=str, keep_default_na=False))
    return out


def _ts(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip().replace("", pd.NA)
    return pd.to_datetime(s, format="mixed", utc=True)


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("string").str.strip() == "")


def _need(df: pd.DataFrame, name: str, cols: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise SchemaError(f"DevLake table {name} lacks column(s) {', '.join(missing)}")
    return df.copy()


def _minutes(start, end) -> int | None:
    """DevLake's span: whole minutes rounded up; NULL when either end is missing or it is negative."""
    if pd.isna(start) or pd.isna(end):
        return None
    m = math.ceil((end - start).total_seconds() / 60.0)
    return None if m < 0 else int(m)


def _projects(mapping: pd.DataFrame, table: str) -> pd.DataFrame:
    m = _need(mapping, "project_mapping", ("project_name", "table", "row_id"))
    return m.loc[m["table"] == table, ["project_name", "row_id"]]


def _project_list(mapping: pd.DataFrame, project_name: str | None) -> list[str]:
    names = sorted(mapping["project_name"].unique())
    if project_name is None:
        return names
    if project_name not in names:
        raise ConfigError(f"project {project_name!r} is not in project_mapping; known: {', '.join(names)}")
    return [project_name]


# -- previous successful deployment ------------------------------------------------------------
def prev_success_deployment_commits(deployment_commits: pd.DataFrame) -> pd.DataFrame:
    """``deployment_commits`` with ``prev_success_deployment_commit_id`` filled in.

    For each successful row with a finish time, an environment and a repo_url, the id
    of the previous successful row of the same (cicd_scope_id, repo_url, environment)
    by finish time; empty otherwise.
    """
    dc = _need(
        deployment_commits, "cicd_deployment_commits",
        ("id", "result", "finished_date", "cicd_scope_id", "repo_url", "environment"),
    )
    fin = _ts(dc["finished_date"])
    ok = (dc["result"] == SUCCESS) & fin.notna() & ~_blank(dc["environment"]) & ~_blank(dc["repo_url"])
    s = dc.loc[ok, ["id", "cicd_scope_id", "repo_url", "environment"]].assign(_fin=fin[ok])
    s = s.sort_values(["cicd_scope_id", "repo_url", "environment", "_fin", "id"], kind="stable")
    prev = s.groupby(["cicd_scope_id", "repo_url", "environment"], sort=False)["id"].shift(1)
    out = dc.copy()
    out["prev_success_deployment_commit_id"] = ""
    out.loc[prev.index, "prev_success_deployment_commit_id"] = prev.fillna("").astype(str)
    return out


# -- PR metrics ----------------------------------------------------------------------------------
def pr_metrics(
    pull_requests: pd.DataFrame,
    pull_request_commits: pd.DataFrame,
    pull_request_comments: pd.DataFrame,
    deployment_commits: pd.DataFrame,
    commits_diffs: pd.DataFrame,
    project_mapping: pd.DataFrame,
    *,
    project_name: str | None = None,
) -> pd.DataFrame:
    """DevLake's ``project_pr_metrics``: one row per merged PR of each project.

    ``prev_success_deployment_commit_id`` is recomputed from ``deployment_commits``
    (DevLake's own earlier step), so inputs need not carry it.
    """
    prs = _need(pull_requests, "pull_requests", ("id", "base_repo_id", "author_id", "merge_commit_sha", "created_date", "merged_date"))
    pc = _need(pull_request_commits, "pull_request_commits", ("commit_sha", "pull_request_id", "commit_authored_date"))
    cm = _need(pull_request_comments, "pull_request_comments", ("id", "pull_request_id", "created_date", "account_id"))
    cd = _need(commits_diffs, "commits_diffs", ("old_commit_sha", "new_commit_sha", "commit_sha"))
    dc = prev_success_deployment_commits(deployment_commits)

    prs["_created"], prs["_merged"] = _ts(prs["created_date"]), _ts(prs["merged_date"])
    pc["_at"] = _ts(pc["commit_authored_date"])
    cm["_at"] = _ts(cm["created_date"])
    dc["_fin"], dc["_start"] = _ts(dc["finished_date"]), _ts(dc["started_date"]) if "started_date" in dc else pd.NaT

    first_commit = pc.sort_values(["pull_request_id", "_at", "commit_sha"], kind="stable").groupby("pull_request_id").head(1)
    first_commit = first_commit.set_index("pull_request_id")
    cm = cm.sort_values(["pull_request_id", "_at", "id"], kind="stable")

    # deployments eligible to ship a commit: successful production rows with a predecessor
    sha_of = dict(zip(dc["id"], dc["commit_sha"]))
    elig = dc[(dc["result"] == SUCCESS) & (dc["environment"] == PRODUCTION) & ~_blank(dc["prev_success_deployment_commit_id"])].copy()
    elig["_prev_sha"] = elig["prev_success_deployment_commit_id"].map(sha_of)
    ranges = elig.merge(cd, left_on="commit_sha", right_on="new_commit_sha", suffixes=("", "_diff"))
    ranges = ranges[ranges["_prev_sha"].isna() | (ranges["old_commit_sha"] == ranges["_prev_sha"])]
    scopes = _projects(project_mapping, "cicd_scopes")
    ranges = ranges.merge(scopes, left_on="cicd_scope_id", right_on="row_id")
    ranges = ranges.sort_values(["_fin", "_start", "id"], kind="stable")
    shipped = ranges.groupby(["project_name", "commit_sha_diff"], sort=False).head(1)
    shipped = shipped.set_index(["project_name", "commit_sha_diff"])

    repos = _projects(project_mapping, "repos")
    rows = []
    for project in _project_list(project_mapping, project_name):
        mine = prs.merge(repos[repos["project_name"] == project], left_on="base_repo_id", right_on="row_id")
        mine = mine[mine["_merged"].notna()].sort_values(["_merged", "id"], kind="stable")
        for pr in mine.to_dict("records"):
            r = dict.fromkeys(PR_METRICS_COLUMNS)
            r.update(id=pr["id"], project_name=project, pr_created_date=pr["_created"], pr_merged_date=pr["_merged"])
            if pr["id"] in first_commit.index:
                fc = first_commit.loc[pr["id"]]
                r.update(
                    first_commit_sha=fc["commit_sha"],
                    first_commit_authored_date=fc["_at"],
                    pr_coding_time=_minutes(fc["_at"], pr["_created"]),
                )
            c = cm[(cm["pull_request_id"] == pr["id"]) & (cm["account_id"] != pr["author_id"])].head(1)
            if len(c):
                at = c["_at"].iloc[0]
                r.update(
                    first_review_id=c["id"].iloc[0],
                    first_comment_date=at,
                    pr_pickup_time=_minutes(pr["_created"], at),
                    pr_review_time=_minutes(at, pr["_merged"]),
                )
            key = (project, pr["merge_commit_sha"])
            if key in shipped.index and pd.notna(shipped.loc[key, "_fin"]):
                d = shipped.loc[key]
                r.update(
                    deployment_commit_id=d["id"],
                    pr_deployed_date=d["_fin"],
                    pr_deploy_time=_minutes(pr["_merged"], d["_fin"]),
                )
            parts = (r["pr_coding_time"], _minutes(pr["_created"], pr["_merged"]), r["pr_deploy_time"])
            r["pr_cycle_time"] = sum(p for p in parts if p is not None)
            rows.append(r)
    out = pd.DataFrame(rows, columns=list(PR_METRICS_COLUMNS))
    for c in ("pr_coding_time", "pr_pickup_time", "pr_review_time", "pr_deploy_time", "pr_cycle_time"):
        out[c] = out[c].astype("Int64")
    return out.sort_values(["project_name", "id"], kind="stable").reset_index(drop=True)


# -- incidents -> deployments ---------------------------------------------------------------------
def incident_deployments(
    incidents: pd.DataFrame,
    deployment_commits: pd.DataFrame,
    project_mapping: pd.DataFrame,
    *,
    project_name: str | None = None,
) -> pd.DataFrame:
    """DevLake's ``project_incident_deployment_relationships``.

    An incident belongs to a project through ``project_mapping`` (its ``table`` and
    ``scope_id``); it is linked to the ``cicd_deployment_id`` of the latest successful
    PRODUCTION deployment row of a project scope that finished strictly before the
    incident was created. Incidents with no such deployment get no row.
    """
    inc = _need(incidents, "incidents", ("id", "created_date", "table", "scope_id"))
    dc = _need(deployment_commits, "cicd_deployment_commits", ("id", "result", "finished_date", "cicd_scope_id", "environment", "cicd_deployment_id"))
    inc["_at"] = _ts(inc["created_date"])
    dc["_fin"] = _ts(dc["finished_date"])
    dc = dc[(dc["result"] == SUCCESS) & (dc["environment"] == PRODUCTION) & dc["_fin"].notna()]
    pm = _need(project_mapping, "project_mapping", ("project_name", "table", "row_id"))
    scopes = _projects(pm, "cicd_scopes")
    rows = []
    for project in _project_list(pm, project_name):
        mine = inc.merge(pm[pm["project_name"] == project], left_on=["table", "scope_id"], right_on=["table", "row_id"])
        deps = dc.merge(scopes[scopes["project_name"] == project], left_on="cicd_scope_id", right_on="row_id")
        deps = deps.sort_values(["_fin", "id"], kind="stable")
        for i in mine.to_dict("records"):
            before = deps[deps["_fin"] < i["_at"]]
            if len(before):
                rows.append({"id": i["id"], "project_name": project, "deployment_id": before["cicd_deployment_id"].iloc[-1]})
    out = pd.DataFrame(rows, columns=list(INCIDENT_DEPLOYMENT_COLUMNS))
    return out.sort_values(["project_name", "id"], kind="stable").reset_index(drop=True)


# -- writing ------------------------------------------------------------------------------------
def format_devlake(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as DevLake writes them: ``2023-04-10T06:51:47.000+00:00``, integers bare, NULL empty."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        s = df[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or s.map(lambda v: isinstance(v, pd.Timestamp)).any():
            t = pd.to_datetime(s, utc=True)
            out[c] = t.dt.strftime("%Y-%m-%dT%H:%M:%S.") + (t.dt.microsecond // 1000).astype("Int64").astype("string").str.zfill(3) + "+00:00"
            out[c] = out[c].fillna("")
        else:
            out[c] = s.map(lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
    return out


def pr_metrics_from_links(links: pd.DataFrame) -> pd.DataFrame:
    """``project_pr_metrics`` from ctssw's change links (``change_links(con, rule="devlake")``).

    The project is the change's team (``ctssw ingest devlake`` makes one team per DevLake
    project from ``project_mapping``); the first commit's sha and the first review's id are
    those the store holds.
    """
    rows = []
    for c in links.to_dict("records"):
        created, merged = c["created_at"], c["merged_at"]
        dep = c.get("deployed_at")
        coding = _minutes(c.get("first_commit_at"), created)
        deploy = _minutes(merged, dep) if c.get("deployment_id") is not None and pd.notna(dep) else None
        parts = (coding, _minutes(created, merged), deploy)
        rows.append(dict(
            id=c["change_id"], project_name=c.get("team_id"), first_commit_sha=c.get("first_commit_sha"), pr_coding_time=coding,
            first_review_id=c.get("first_review_id"),
            pr_pickup_time=_minutes(created, c.get("first_review_at")),
            pr_review_time=_minutes(c.get("first_review_at"), merged),
            deployment_commit_id=c.get("deployment_id"), pr_deploy_time=deploy,
            pr_cycle_time=sum(p for p in parts if p is not None),
            first_commit_authored_date=c.get("first_commit_at"), first_comment_date=c.get("first_review_at"),
            pr_created_date=created, pr_merged_date=merged, pr_deployed_date=dep,
        ))
    out = pd.DataFrame(rows, columns=list(PR_METRICS_COLUMNS))
    for col in ("pr_coding_time", "pr_pickup_time", "pr_review_time", "pr_deploy_time", "pr_cycle_time"):
        out[col] = out[col].astype("Int64")
    return out.sort_values(["project_name", "id"], kind="stable").reset_index(drop=True)
