"""The panel written by hand: one DuckDB query (the floor) and a polars peer.

Both compute the same team-week columns as ``ctssw.panel`` for the simulated
organisations the benchmarks use (deployments as the unit, the default loaded
cost, no tool or feature filter); ``bench_pipeline.py`` checks their values
against the Ibis panel before it reports a time.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

RATE = 200_000 / 52

# every column of the panel the floor computes (all but unit, cts_sw_reason and architecture's unit)
FLOOR_COLUMNS = [
    "builders", "builder_weeks", "headcount", "oncall_builders", "new_members", "labor_cost", "license_cost",
    "infra_cost", "cost", "units", "cts_sw", "cts_hours", "cts_sw_4w", "deployments", "rollbacks",
    "failed_deployments", "interventions", "changes_merged", "commits_to_prod", "pages", "incidents", "ai_active",
    "velocity", "deploys_per_builder", "deploys_per_builder_norm", "rollback_rate", "interventions_per_deploy",
    "pages_per_oncall_builder", "ai_share", "new_member_share", "agent_changes", "agent_share",
]

FLOOR_SQL = f"""
WITH
bounds AS (
  SELECT (SELECT min(start) FROM memberships) AS lo,
         greatest((SELECT max(start) FROM memberships), (SELECT max("end") FROM memberships),
                  (SELECT max(finished_at)::DATE FROM deployments), (SELECT max(merged_at)::DATE FROM changes),
                  (SELECT max(triggered_at)::DATE FROM pages), (SELECT max(day) FROM tool_usage)) AS hi
),
cal AS (
  SELECT CAST(r AS DATE) AS week FROM bounds, range(CAST(date_trunc('week', lo) AS TIMESTAMP),
                                                    CAST(hi AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 7 DAY) t(r)
),
last_week AS (SELECT max(week) AS lw FROM cal),
m AS (SELECT *, min(start) OVER (PARTITION BY team_id) AS team_first FROM memberships),
mw AS (
  SELECT m.team_id, c.week, m.builder_id, m.fte, m.oncall,
         (least(coalesce(m."end", c.week + 6), c.week + 6) - greatest(m.start, c.week) + 1)::DOUBLE AS overlap,
         m.start > m.team_first AND m.start > c.week - 56 AS is_new
  FROM m, last_week, cal c
  WHERE c.week <= coalesce(m."end", lw + 6) AND c.week + 6 >= m.start
),
mwb AS (
  SELECT team_id, week, builder_id, sum(w) AS w, bool_or(oncall) AS oncall, bool_or(is_new) AS is_new
  FROM (SELECT *, fte / sum(fte) OVER (PARTITION BY builder_id, week) AS w FROM mw)
  GROUP BY ALL
),
people AS (
  SELECT a.*, b.headcount, b.oncall_builders, b.new_members, b.heads_attributed FROM
    (SELECT team_id, week, sum(fte) AS builders, sum(fte * overlap / 7.0) AS builder_weeks FROM mw GROUP BY ALL) a
  JOIN (SELECT team_id, week, count(*) AS headcount, count(*) FILTER (WHERE oncall) AS oncall_builders,
               count(*) FILTER (WHERE is_new) AS new_members, sum(w) AS heads_attributed FROM mwb GROUP BY ALL) b
  USING (team_id, week)
),
costs AS (
  SELECT scope_id AS team_id, CAST(date_trunc('week', period_start) AS DATE) AS week,
         sum(amount) FILTER (WHERE kind = 'labor') AS labor_actual,
         sum(amount) FILTER (WHERE kind = 'license') AS license_cost,
         sum(amount) FILTER (WHERE kind = 'infra') AS infra_cost
  FROM costs WHERE scope = 'team' GROUP BY ALL
),
spine AS (
  SELECT team_id, c.week FROM (SELECT team_id, min(week) AS w0, max(week) AS w1 FROM people GROUP BY ALL) s
  JOIN cal c ON c.week BETWEEN s.w0 AND s.w1
  UNION SELECT team_id, week FROM costs
),
dep AS (
  SELECT d.deployment_id, d.result, d.is_rollback, d.manual_interventions,
         coalesce(d.team_id, s.team_id, r.team_id) AS team_id, CAST(date_trunc('week', d.finished_at) AS DATE) AS week
  FROM deployments d LEFT JOIN services s ON s.service_id = d.service_id LEFT JOIN repos r ON r.repo_id = d.repo_id
  WHERE coalesce(d.is_production, d.environment = 'production')
),
deploys AS (
  SELECT team_id, week,
         count(*) FILTER (WHERE result = 'success' AND NOT is_rollback) AS deployments,
         count(*) FILTER (WHERE result = 'success' AND is_rollback) AS rollbacks,
         count(*) FILTER (WHERE result = 'failure') AS failed_deployments,
         sum(manual_interventions) AS interventions
  FROM dep GROUP BY ALL
),
commits AS (
  SELECT team_id, week, count(DISTINCT dc.sha) AS commits_to_prod
  FROM deployment_commits dc JOIN dep USING (deployment_id)
  WHERE dep.result = 'success' AND NOT dep.is_rollback GROUP BY ALL
),
chg AS (
  SELECT coalesce(c.team_id, r.team_id) AS team_id, CAST(date_trunc('week', c.merged_at) AS DATE) AS week,
         count(*) AS changes_merged, count(*) FILTER (WHERE c.agent IS NOT NULL) AS agent_changes
  FROM changes c LEFT JOIN repos r ON r.repo_id = c.repo_id WHERE c.merged_at IS NOT NULL GROUP BY ALL
),
pg AS (SELECT team_id, CAST(date_trunc('week', triggered_at) AS DATE) AS week, count(*) AS pages FROM pages GROUP BY ALL),
inc AS (
  SELECT coalesce(i.team_id, s.team_id) AS team_id, CAST(date_trunc('week', i.created_at) AS DATE) AS week,
         count(*) AS incidents
  FROM incidents i LEFT JOIN services s ON s.service_id = i.service_id GROUP BY ALL
),
act AS (
  SELECT DISTINCT m.team_id, CAST(date_trunc('week', t.day) AS DATE) AS week, t.builder_id
  FROM tool_usage t JOIN memberships m
    ON m.builder_id = t.builder_id AND m.start <= t.day AND (m."end" IS NULL OR m."end" >= t.day)
  WHERE t.active
),
ai AS (
  SELECT team_id, week, count(*) AS ai_active, sum(mwb.w) AS ai_attributed
  FROM act LEFT JOIN mwb USING (team_id, week, builder_id) GROUP BY ALL
),
p AS (
  SELECT s.team_id, s.week, t.parent_id, t.architecture,
         coalesce(builders, 0) AS builders, coalesce(builder_weeks, 0) AS builder_weeks,
         coalesce(headcount, 0) AS headcount, coalesce(oncall_builders, 0) AS oncall_builders,
         coalesce(new_members, 0) AS new_members, coalesce(heads_attributed, 0) AS heads_attributed,
         coalesce(labor_actual, coalesce(builder_weeks, 0) * {RATE!r}) AS labor_cost,
         coalesce(license_cost, 0) AS license_cost, coalesce(infra_cost, 0) AS infra_cost,
         coalesce(deployments, 0) AS deployments, coalesce(rollbacks, 0) AS rollbacks,
         coalesce(failed_deployments, 0) AS failed_deployments, coalesce(interventions, 0) AS interventions,
         coalesce(changes_merged, 0) AS changes_merged, coalesce(agent_changes, 0) AS agent_changes,
         coalesce(commits_to_prod, 0) AS commits_to_prod, coalesce(pages, 0) AS pages,
         coalesce(incidents, 0) AS incidents, coalesce(ai_active, 0) AS ai_active,
         coalesce(ai_attributed, 0) AS ai_attributed
  FROM spine s
  LEFT JOIN people USING (team_id, week) LEFT JOIN costs USING (team_id, week)
  LEFT JOIN deploys USING (team_id, week) LEFT JOIN commits USING (team_id, week)
  LEFT JOIN chg USING (team_id, week) LEFT JOIN pg USING (team_id, week) LEFT JOIN inc USING (team_id, week)
  LEFT JOIN ai USING (team_id, week) LEFT JOIN teams t ON t.team_id = s.team_id
),
q AS (
  SELECT *, labor_cost + license_cost + infra_cost AS cost, deployments AS units,
         CASE WHEN builders > 0 THEN deployments / builders END AS deploys_per_builder,
         min(week) FILTER (WHERE ai_active > 0) OVER (PARTITION BY team_id) AS first_ai
  FROM p
)
SELECT team_id, week, parent_id, architecture, builders, builder_weeks, headcount, oncall_builders, new_members,
       labor_cost, license_cost, infra_cost, cost, units,
       CASE WHEN builders > 0 AND units > 0 THEN cost / units END AS cts_sw,
       CASE WHEN builders > 0 AND units > 0 THEN builder_weeks * 40.0 / units END AS cts_hours,
       CASE WHEN sum(units) OVER w4 > 0 THEN sum(cost) OVER w4 / sum(units) OVER w4 END AS cts_sw_4w,
       deployments, rollbacks, failed_deployments, interventions, changes_merged, commits_to_prod, pages,
       incidents, ai_active,
       CASE WHEN builders > 0 THEN changes_merged / builders END AS velocity,
       deploys_per_builder,
       deploys_per_builder / nullif(avg(deploys_per_builder) FILTER (WHERE week < coalesce(first_ai, DATE '9999-12-31'))
                                    OVER (PARTITION BY team_id), 0) AS deploys_per_builder_norm,
       CASE WHEN deployments + rollbacks > 0 THEN rollbacks / (deployments + rollbacks) END AS rollback_rate,
       CASE WHEN deployments > 0 THEN interventions / deployments END AS interventions_per_deploy,
       CASE WHEN oncall_builders > 0 THEN pages / oncall_builders END AS pages_per_oncall_builder,
       CASE WHEN heads_attributed > 0 THEN ai_attributed / heads_attributed END AS ai_share,
       CASE WHEN headcount > 0 THEN new_members / headcount END AS new_member_share,
       agent_changes,
       CASE WHEN changes_merged > 0 THEN agent_changes / changes_merged END AS agent_share
FROM q
WINDOW w4 AS (PARTITION BY team_id ORDER BY week ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)
ORDER BY team_id, week
"""


def floor_panel(db: Path):
    """The panel's columns from one hand-written DuckDB query over the store (a pandas DataFrame)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        # the store's own memory limit (half the machine), so both spill at the same point
        half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2 // 2**20
        con.execute(f"SET memory_limit = '{half}MB'")
        return con.sql(FLOOR_SQL).df()
    finally:
        con.close()


def polars_panel(d: Path):
    """The pandas peer's columns (``bench_pipeline.CHECK``) with polars, from the simulated Parquet tables."""
    import polars as pl

    def read(t: str, cols: list[str] | None = None) -> pl.LazyFrame:
        return pl.scan_parquet(str(d / t / "*.parquet")).select(cols) if cols else pl.scan_parquet(str(d / t / "*.parquet"))

    def monday(c: str) -> pl.Expr:
        day = pl.col(c).dt.replace_time_zone(None).dt.date() if c != "day" else pl.col(c).cast(pl.Date)
        return day.dt.truncate("1w").alias("week")

    mem = read("memberships").collect()
    dep = read("deployments", ["deployment_id", "service_id", "environment", "finished_at", "result", "is_rollback"])
    last = dep.select(monday("finished_at").max()).collect().item()
    first = mem["start"].min()
    weeks = pl.DataFrame({"week": pl.date_range(first, last, "7d", eager=True)})
    mw = (
        mem.lazy().with_columns(pl.col("end").fill_null(last + dt.timedelta(days=6)))
        .join(weeks.lazy(), how="cross")
        .filter((pl.col("week") <= pl.col("end")) & (pl.col("week") + pl.duration(days=6) >= pl.col("start")))
    )
    people = mw.group_by("team_id", "week").agg(
        builders=pl.col("fte").sum(),
        headcount=pl.col("builder").n_unique(),
        oncall_builders=pl.col("builder").filter(pl.col("oncall")).n_unique(),
    )
    svc = read("services", ["service_id", "team_id"])
    dep = (
        dep.filter(pl.col("environment") == "production").join(svc, on="service_id")
        .with_columns(monday("finished_at"), ok=(pl.col("result") == "success") & ~pl.col("is_rollback"),
                      rb=(pl.col("result") == "success") & pl.col("is_rollback"))
    )
    deploys = dep.group_by("team_id", "week").agg(deployments=pl.col("ok").sum(), rollbacks=pl.col("rb").sum())
    repos = read("repos", ["repo_id", "team_id"])
    changes = (
        read("changes", ["repo_id", "merged_at"]).filter(pl.col("merged_at").is_not_null()).join(repos, on="repo_id")
        .with_columns(monday("merged_at")).group_by("team_id", "week").agg(changes_merged=pl.len())
    )
    pages = read("pages", ["team_id", "triggered_at"]).with_columns(monday("triggered_at"))
    pages = pages.group_by("team_id", "week").agg(pages=pl.len())
    ident = read("identities", ["value", "builder"])
    tu = (
        read("tool_usage", ["builder", "day", "active"]).filter(pl.col("active"))
        .join(ident, left_on="builder", right_on="value", suffix="_id")  # the login's builder
        .select(pl.col("builder_id").alias("builder"), monday("day")).unique()
    )
    ai = mw.select("team_id", "week", "builder").join(tu, on=["builder", "week"])
    ai = ai.group_by("team_id", "week").agg(ai_active=pl.col("builder").n_unique())
    ok = dep.filter(pl.col("ok")).select("deployment_id", "team_id", "week")
    commits = (
        read("deployment_commits", ["deployment_id", "sha"]).join(ok, on="deployment_id")
        .group_by("team_id", "week").agg(commits_to_prod=pl.col("sha").n_unique())
    )
    incidents = (
        read("incidents", ["service_id", "created_at"]).join(svc, on="service_id").with_columns(monday("created_at"))
        .group_by("team_id", "week").agg(incidents=pl.len())
    )
    lic = (
        read("costs").filter(pl.col("kind") == "license")
        .with_columns(pl.col("period_start").cast(pl.Date).alias("week"))
        .group_by(pl.col("scope_id").alias("team_id"), "week").agg(license_cost=pl.col("amount").sum())
    )
    p = people
    for part in (deploys, changes, commits, pages, incidents, ai, lic):
        p = p.join(part, on=["team_id", "week"], how="left")
    zero = ["deployments", "rollbacks", "changes_merged", "commits_to_prod", "pages", "incidents", "ai_active"]
    p = p.with_columns(pl.col(zero).fill_null(0), pl.col("license_cost").fill_null(0.0))
    p = p.with_columns(cost=pl.col("builders") * RATE + pl.col("license_cost"), units=pl.col("deployments"))
    tot = pl.col("deployments") + pl.col("rollbacks")
    p = p.with_columns(
        cts_sw=pl.when(pl.col("units") > 0).then(pl.col("cost") / pl.col("units")),
        velocity=pl.when(pl.col("builders") > 0).then(pl.col("changes_merged") / pl.col("builders")),
        rollback_rate=pl.when(tot > 0).then(pl.col("rollbacks") / tot),
    )
    return p.sort("team_id", "week").collect(engine="streaming").to_pandas()
