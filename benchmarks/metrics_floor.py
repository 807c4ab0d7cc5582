"""The floor for the metrics' linkage: the same facts in hand-written DuckDB SQL.

``ctssw metrics`` spends most of its time building three tables of event-level facts from the
store (``ctssw.metrics._api.fact_tables``): the production deployments with their team and target,
each shipped change with the first deployment that shipped it and its durations, and each
deployment with its incidents, recovery and rework. This module builds the same three tables
with plain SQL on the same store, written for speed and nothing else (no Ibis, no backend
neutrality, no cache), so a benchmark can put ctssw's time beside the floor's.

Deployment commits a store lacks are derived from the commit history, as ctssw derives them there
(a DevLake database read in place, with its ``commits_diffs`` table, is not covered). ``tests/metrics/test_metrics_floor.py``
checks that the floor's tables equal ctssw's on the simulated organisation and on DevLake's own
test data, so the two compute the same thing.
"""

from __future__ import annotations

import re
import time

# the week's Monday and a span in hours, as ctssw defines them (DESIGN §3, docs/metrics.md)
WEEK = "CAST(date_trunc('week', CAST(CAST({x} AS DATE) AS TIMESTAMP)) AS DATE)"
HOURS = (
    "CASE WHEN epoch_us({b}) // 1000000 - epoch_us({a}) // 1000000 >= 0 "
    "THEN (epoch_us({b}) // 1000000 - epoch_us({a}) // 1000000) / 3600.0 END"
)


def _h(a: str, b: str) -> str:
    return HOURS.format(a=a, b=b)


DEPLOYMENTS = """
CREATE TEMP TABLE floor_deployments AS
SELECT d.deployment_id,
       coalesce(d.service_id, d.repo_id, 'team:' || d.team_id) AS target,
       coalesce(d.team_id, s.team_id, r.team_id) AS team_id,
       coalesce(d.repo_id, s.repo_id) AS repo_id,
       d.finished_at, d.result, d.is_rollback, d.result = 'success' AND NOT d.is_rollback AS ok, d.sha
FROM deployments d
LEFT JOIN services s ON d.service_id = s.service_id
LEFT JOIN repos r ON d.repo_id = r.repo_id
WHERE coalesce(d.is_production, d.environment = 'production')
"""

CHANGE_FACTS = f"""
CREATE TEMP TABLE floor_change_facts AS
-- deployment commits: the stored ones, and for a successful deployment with none stored, the
-- commits between the previous success and it, from the commit history
WITH cand AS (
    SELECT n.deployment_id, n.repo_id, n.target, hi.committed_at AS hi
    FROM floor_deployments n
    ANTI JOIN deployment_commits dc ON dc.deployment_id = n.deployment_id
    JOIN commits hi ON hi.repo_id = n.repo_id AND hi.sha = n.sha
    WHERE n.result = 'success' AND n.sha IS NOT NULL
), prev AS (  -- the previous success of each candidate, from its target's successes only
    SELECT deployment_id, lag(sha) OVER (PARTITION BY target ORDER BY finished_at, deployment_id) AS prev_sha
    FROM floor_deployments WHERE result = 'success' AND target IN (SELECT target FROM cand)
), bounds AS (
    SELECT c.deployment_id, c.repo_id, c.hi, lo.committed_at AS lo
    FROM cand c
    JOIN prev p ON p.deployment_id = c.deployment_id
    LEFT JOIN commits lo ON lo.repo_id = c.repo_id AND lo.sha = p.prev_sha
), dc AS (
    SELECT deployment_id, sha FROM deployment_commits
    UNION ALL
    SELECT DISTINCT b.deployment_id, c.sha FROM bounds b
    JOIN commits c ON c.repo_id = b.repo_id AND c.committed_at <= b.hi AND (b.lo IS NULL OR c.committed_at > b.lo)
), shipped AS (
    SELECT dc.sha, d.deployment_id, d.finished_at AS fin
    FROM dc
    SEMI JOIN (SELECT merge_sha FROM changes WHERE merged_at IS NOT NULL) m ON dc.sha = m.merge_sha
    JOIN floor_deployments d ON d.deployment_id = dc.deployment_id
    WHERE d.ok
), span AS (
    SELECT sha, min(fin) AS f_at, max(fin) AS l_at, min(deployment_id) AS f_id FROM shipped GROUP BY sha
), first AS (  -- the first by (finish, id); only a commit shipped at several times needs its ties
    SELECT sha, f_id AS deployment_id, f_at AS deployed_at FROM span WHERE f_at = l_at
    UNION ALL
    SELECT s.sha, min(s.deployment_id), min(s.fin) FROM shipped s
    JOIN span ON s.sha = span.sha AND s.fin = span.f_at WHERE span.f_at != span.l_at GROUP BY s.sha
)
SELECT ch.change_id, coalesce(ch.team_id, r.team_id) AS team_id, f.deployment_id, f.deployed_at,
       {WEEK.format(x="f.deployed_at")} AS week,
       {_h("coalesce(ch.first_commit_at, ch.created_at)", "f.deployed_at")} AS lead_time,
       {_h("ch.first_commit_at", "ch.created_at")} AS coding,
       {_h("ch.created_at", "ch.first_review_at")} AS pickup,
       {_h("ch.first_review_at", "ch.merged_at")} AS review,
       {_h("ch.merged_at", "f.deployed_at")} AS deploy
FROM changes ch
LEFT JOIN repos r ON ch.repo_id = r.repo_id
JOIN first f ON ch.merge_sha = f.sha
WHERE ch.merged_at IS NOT NULL AND f.deployed_at IS NOT NULL
"""

DEPLOYMENT_FACTS = f"""
CREATE TEMP TABLE floor_deployment_facts AS
WITH inc AS (
    SELECT i.incident_id, i.created_at, i.resolved_at, i.deployment_id AS given,
           coalesce(i.service_id, 'team:' || coalesce(i.team_id, s.team_id)) AS target
    FROM incidents i LEFT JOIN services s ON i.service_id = s.service_id
), ok AS (
    SELECT target, finished_at, deployment_id, team_id FROM floor_deployments
    WHERE result = 'success' AND finished_at IS NOT NULL
), cand AS (
    SELECT target, {{'f': CAST(finished_at AS TIMESTAMP), 'id': deployment_id}} AS k FROM ok
    WHERE target IN (SELECT target FROM inc)
    UNION ALL
    SELECT 'team:' || team_id, {{'f': CAST(finished_at AS TIMESTAMP), 'id': deployment_id}} FROM ok
    WHERE team_id IS NOT NULL AND 'team:' || team_id IN (SELECT target FROM inc)
), attributed AS (
    SELECT i.incident_id, i.resolved_at, coalesce(i.given, c.k.id) AS deployment_id
    FROM inc i ASOF LEFT JOIN cand c
      ON i.target = c.target AND {{'f': CAST(i.created_at AS TIMESTAMP), 'id': ''}} > c.k
), per AS (
    SELECT deployment_id, count(incident_id) AS incidents,
           count(incident_id) FILTER (WHERE resolved_at IS NULL) AS unresolved,
           max(resolved_at) AS last_resolved
    FROM attributed WHERE deployment_id IS NOT NULL GROUP BY deployment_id
), d AS (
    SELECT d.*, d.result = 'success' AS success,
           d.result = 'success' AND coalesce(p.incidents, 0) > 0 AS failed_change,
           p.unresolved, p.last_resolved
    FROM floor_deployments d LEFT JOIN per p ON d.deployment_id = p.deployment_id
), w AS (
    SELECT *, coalesce(lag(result = 'failure' OR failed_change)
                       OVER (PARTITION BY target ORDER BY finished_at, deployment_id), false) AS after_wrong
    FROM d
)
SELECT deployment_id, team_id, target, finished_at, result, is_rollback, ok, success, failed_change,
       CASE WHEN failed_change AND coalesce(unresolved, 0) = 0 THEN {_h("finished_at", "last_resolved")} END AS recovery,
       success AND (is_rollback OR after_wrong) AS rework,
       {WEEK.format(x="finished_at")} AS week, CAST(finished_at AS DATE) AS day
FROM w
"""

# each step builds the table floor_<name, with underscores>
STEPS = (
    ("deployments", DEPLOYMENTS),
    ("change facts", CHANGE_FACTS),
    ("deployment facts", DEPLOYMENT_FACTS),
)


def build(con) -> dict[str, float]:
    """Build ``floor_deployments``, ``floor_change_facts`` and ``floor_deployment_facts`` on a
    DuckDB connection to the store; seconds per step."""
    _refuse_diffs(con)
    return _steps(con, keyed=False)


def _refuse_diffs(con) -> None:
    if con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'commits_diffs'"
    ).fetchone()[0]:  # a DevLake database read in place; ctssw's ingest turns the diffs into rows
        raise ValueError("the floor does not cover a store with a commits_diffs table")


def _steps(con, *, keyed: bool, teams: bool = True) -> dict[str, float]:
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    out = {}
    for name, sql in STEPS:
        t = time.perf_counter()
        con.execute(keyed_sql(sql, teams=teams) if keyed else sql)
        out[name] = time.perf_counter() - t
    return out


# -- the same SQL on 64-bit keys -------------------------------------------------------------------
# What integer keys in the store would buy: the tables the floor reads are copied into memory with
# every identifier (ids, shas), or the shas alone, replaced by DuckDB's 64-bit hash of it, as a
# store could keep them beside the strings, and the same three statements run on the copies. With
# every identifier keyed, only the two places that build or compare a string change. A tie in
# finish time is broken by the key, so on ties the hash order may pick another deployment than the
# string order; counts and sums of the facts are compared.

KEYED = {
    "deployments": "deployment_id environment finished_at result is_rollback sha repo_id service_id team_id is_production",
    "services": "service_id repo_id team_id",
    "repos": "repo_id team_id",
    "deployment_commits": "deployment_id sha",
    "commits": "repo_id sha committed_at",
    "changes": "change_id team_id repo_id merge_sha merged_at first_commit_at created_at first_review_at",
    "incidents": "incident_id created_at resolved_at deployment_id service_id team_id",
}
IDENTIFIERS = {"deployment_id", "sha", "repo_id", "service_id", "team_id", "merge_sha", "change_id", "incident_id"}
# which identifiers each kind of copy replaces by keys: none, the commit shas alone (the widest
# strings, which ctssw already hashes on the fly), or every one
KEYS = {"none": frozenset(), "sha": frozenset({"sha", "merge_sha"}), "all": frozenset(IDENTIFIERS)}


def copy_tables(con, *, keys: str = "none") -> float:
    """Copy the columns the floor reads into temporary tables of the same names (which the
    statements then read instead of the store's), the identifiers ``KEYS[keys]`` names as 64-bit
    hashes; the seconds it took."""
    t = time.perf_counter()
    for table in KEYED:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {keyed_select(table, KEYS[keys])} FROM main.{table}")
    return time.perf_counter() - t


def keyed_select(table: str, keyed) -> str:
    """The columns the floor reads of ``table`` (``KEYED``), the identifiers in ``keyed`` as
    their 64-bit hashes."""
    return ", ".join(
        f"CASE WHEN {c} IS NOT NULL THEN hash({c}) END AS {c}" if c in keyed else c for c in KEYED[table].split()
    )


def keyed_sql(sql: str, *, teams: bool = True) -> str:
    """A statement for copies with every identifier keyed: a team's target is its key xor 1
    (another 64-bit value, not 'team:' and a string), and the as-of probe's least id is 0. The
    shas appear only in comparisons with each other, so keys for them alone need no change.
    ``teams=False``: the team ids stay strings, and only the probe changes (the deployment ids keyed)."""
    if teams:
            sql = re.sub(r"'team:' \|\| (coalesce\([^)]*\)|[a-z_.]+)", r"xor(\1, 1)", sql)
    return sql.replace("'id': ''", "'id': CAST(0 AS UBIGINT)")


def build_copies(con, *, keys: str = "none") -> dict[str, float]:
    """The three tables from in-memory copies of the store's tables (``keys`` as for
    :func:`copy_tables`): ``copy`` (their seconds), then one entry per step as :func:`build` gives."""
    _refuse_diffs(con)
    copy = copy_tables(con, keys=keys)
    return {"copy": copy, **_steps(con, keyed=keys == "all")}


# what the keyed and the string-keyed facts must agree on: rows, and these sums
CHECKS = {
    "deployments": "count(*), count(sha), sum(ok::INT)",
    "change_facts": "count(*), count(deployment_id), sum(lead_time), sum(coding), sum(pickup), sum(review), sum(deploy)",
    "deployment_facts": "count(*), sum(failed_change::INT), sum(rework::INT), sum(recovery)",
}


def summary(con) -> dict[str, list]:
    """Counts and sums of the three built tables, for comparing the keyed build with the other."""
    return {t: list(con.execute(f"SELECT {q} FROM floor_{t}").fetchone()) for t, q in CHECKS.items()}
