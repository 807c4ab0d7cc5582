"""The canonical schema (DESIGN §2), as data the loader and the panel both read."""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 2
# the versions this ctssw opens: 1 has no identifier keys (store._idkeys), which its first
# writable open adds; read-only, the metrics join its strings
READS = (1, 2)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    required: bool = False  # must be present in the input and non-null
    person: bool = False  # raw identity in the input, pseudonymous builder id in the store
    default: str | None = None  # SQL default when the input lacks the column


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # (sql condition that must hold, reason when it does not); NULLs pass
    checks: tuple[tuple[str, str], ...] = ()
    team_refs: tuple[str, ...] = ()  # SQL expressions that, when not NULL, must name a known team
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # identifiers stored with a 64-bit key beside them (``<name>_key``; see store._idkeys)
    keyed: tuple[str, ...] = ()

    def stored_name(self, c: Column) -> str:
        return c.name + "_id" if c.person else c.name

    @property
    def stored_columns(self) -> list[str]:
        return [self.stored_name(c) for c in self.columns]

    @property
    def key_columns(self) -> list[str]:
        return [c + "_key" for c in self.keyed]

    @property
    def stored_key(self) -> list[str]:
        by_input = {c.name: self.stored_name(c) for c in self.columns}
        return [by_input[k] for k in self.key]


def _c(name: str, type_: str, **kw) -> Column:
    return Column(name, type_, **kw)


TS = "TIMESTAMPTZ"
TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "teams",
            ("team_id",),
            (
                _c("team_id", "VARCHAR", required=True),
                _c("name", "VARCHAR"),
                _c("parent_id", "VARCHAR"),
                _c("architecture", "VARCHAR"),
                _c("unit_of_software", "VARCHAR"),
            ),
            allowed={
                "architecture": ("service", "monolith", "trunk"),
                "unit_of_software": ("deployment", "change", "commit"),
            },
        ),
        Table(
            "identities",
            ("kind", "value"),
            (
                _c("kind", "VARCHAR", required=True),
                _c("value", "VARCHAR", required=True, person=True),
                _c("builder", "VARCHAR", required=True, person=True),
            ),
        ),
        Table(
            "memberships",
            ("builder", "team_id", "start"),
            (
                _c("builder", "VARCHAR", required=True, person=True),
                _c("team_id", "VARCHAR", required=True),
                _c("start", "DATE", required=True),
                _c("end", "DATE"),
                _c("fte", "DOUBLE", default="1.0"),
                _c("oncall", "BOOLEAN", default="false"),
                _c("inferred", "BOOLEAN", default="false"),
            ),
            checks=(
                ('"end" >= start', "negative duration: end before start"),
                ("fte > 0 AND fte <= 1.5", "fte outside (0, 1.5]"),
            ),
            team_refs=("team_id",),
        ),
        Table(
            "repos",
            ("repo_id",),
            (
                _c("repo_id", "VARCHAR", required=True),
                _c("team_id", "VARCHAR"),
                _c("name", "VARCHAR"),
                _c("ownership", "VARCHAR"),
            ),
            team_refs=("team_id",),
        ),
        Table(
            "services",
            ("service_id",),
            (
                _c("service_id", "VARCHAR", required=True),
                _c("team_id", "VARCHAR"),
                _c("repo_id", "VARCHAR"),
                # the --production-env pattern last given for this service's deployments
                _c("production_env", "VARCHAR"),
            ),
            team_refs=("team_id",),
        ),
        Table(
            "commits",
            ("repo_id", "sha"),
            (
                _c("repo_id", "VARCHAR", required=True),
                _c("sha", "VARCHAR", required=True),
                _c("author", "VARCHAR", person=True),
                _c("authored_at", TS),
                _c("committed_at", TS, required=True),
                _c("additions", "BIGINT"),  # NULL when unknown (e.g. missing blobs), never 0
                _c("deletions", "BIGINT"),
                _c("is_merge", "BOOLEAN", default="false"),
                _c("parents", "INTEGER"),
                _c("team_id", "VARCHAR"),
            ),
            checks=(("additions >= 0 AND deletions >= 0", "negative line count"),),
            team_refs=("team_id",),
        ),
        Table(
            "changes",
            ("change_id",),
            (
                _c("change_id", "VARCHAR", required=True),
                _c("repo_id", "VARCHAR", required=True),
                _c("author", "VARCHAR", person=True),
                _c("created_at", TS, required=True),
                _c("merged_at", TS),
                _c("closed_at", TS),
                _c("merge_sha", "VARCHAR"),
                _c("first_commit_at", TS),
                _c("first_review_at", TS),
                _c("first_commit_sha", "VARCHAR"),
                _c("first_review_id", "VARCHAR"),
                _c("additions", "BIGINT"),
                _c("deletions", "BIGINT"),
                _c("team_id", "VARCHAR"),
                _c("agent", "VARCHAR"),  # the AI agent that authored or co-authored the change
                _c("review_agent", "VARCHAR"),  # the AI agent that reviewed it
            ),
            checks=(
                ("merged_at >= created_at", "negative duration: merged before created"),
                ("closed_at >= created_at", "negative duration: closed before created"),
                ("additions >= 0 AND deletions >= 0", "negative line count"),
            ),
            team_refs=("team_id",),
            keyed=("merge_sha",),
        ),
        Table(
            "deployments",
            ("deployment_id",),
            (
                _c("deployment_id", "VARCHAR", required=True),
                _c("service_id", "VARCHAR"),
                _c("repo_id", "VARCHAR"),
                _c("environment", "VARCHAR", required=True),
                _c("started_at", TS),
                _c("finished_at", TS, required=True),
                _c("result", "VARCHAR", required=True),
                _c("is_rollback", "BOOLEAN", default="false"),
                _c("manual_interventions", "INTEGER", default="0"),
                _c("sha", "VARCHAR"),
                _c("team_id", "VARCHAR"),
                _c("is_production", "BOOLEAN"),  # NULL: decided by the environment's name
                _c("kind", "VARCHAR"),
                _c("pipeline_id", "VARCHAR"),  # the CI/CD run this deployment is part of (DevLake's cicd_deployment_id)
            ),
            checks=(
                ("finished_at >= started_at", "negative duration: finished before started"),
                ("manual_interventions >= 0", "negative manual_interventions"),
                ("service_id IS NOT NULL OR repo_id IS NOT NULL OR team_id IS NOT NULL", "no service, repo or team"),
            ),
            team_refs=("team_id",),
            allowed={
                "result": ("success", "failure", "cancelled", "running"),
                "kind": ("deployment", "release", "tag", "workflow_run"),
            },
            keyed=("deployment_id",),
        ),
        Table(
            "deployment_commits",
            ("deployment_id", "sha"),
            (
                _c("deployment_id", "VARCHAR", required=True),
                _c("sha", "VARCHAR", required=True),
                _c("repo_id", "VARCHAR"),
            ),
            keyed=("deployment_id", "sha"),
        ),
        Table(
            "incidents",
            ("incident_id",),
            (
                _c("incident_id", "VARCHAR", required=True),
                _c("team_id", "VARCHAR"),
                _c("service_id", "VARCHAR"),
                _c("created_at", TS, required=True),
                _c("resolved_at", TS),
                _c("severity", "VARCHAR"),
                _c("deployment_id", "VARCHAR"),
            ),
            checks=(("resolved_at >= created_at", "negative duration: resolved before created"),),
            team_refs=("team_id",),
        ),
        Table(
            "pages",
            ("page_id",),
            (
                _c("page_id", "VARCHAR", required=True),
                _c("team_id", "VARCHAR", required=True),
                _c("builder", "VARCHAR", person=True),
                _c("triggered_at", TS, required=True),
                _c("incident_id", "VARCHAR"),
                _c("off_hours", "BOOLEAN"),
            ),
            team_refs=("team_id",),
        ),
        Table(
            "tool_usage",
            ("builder", "tool", "feature", "day"),
            (
                _c("builder", "VARCHAR", required=True, person=True),
                _c("tool", "VARCHAR", required=True),
                _c("day", "DATE", required=True),
                _c("active", "BOOLEAN", default="true"),
                _c("events", "BIGINT"),
                _c("accepted_lines", "BIGINT"),
                _c("feature", "VARCHAR", default="'all'"),  # all = not broken down by feature
                _c("agent_requests", "BIGINT"),
                _c("cost", "DOUBLE"),  # USD
                _c("credits", "DOUBLE"),
            ),
            checks=(
                ("events >= 0 AND accepted_lines >= 0", "negative usage count"),
                ("agent_requests >= 0 AND cost >= 0 AND credits >= 0", "negative usage count"),
            ),
            allowed={"feature": ("all", "completion", "chat", "agent", "cli", "review")},
        ),
        Table(
            # the first time an AI tool's configuration file appeared in a repository (a rollout date)
            "agent_configs",
            ("repo_id", "tool", "rule"),
            (
                _c("repo_id", "VARCHAR", required=True),
                _c("tool", "VARCHAR", required=True),
                _c("path", "VARCHAR"),
                _c("rule", "VARCHAR", required=True),
                _c("first_added_at", TS, required=True),
                _c("sha", "VARCHAR"),
            ),
        ),
        Table(
            # organisation-, enterprise- or team-level AI usage that cannot be attributed to a builder
            "tool_totals",
            ("scope", "scope_id", "tool", "feature", "day"),
            (
                _c("scope", "VARCHAR", required=True),
                _c("scope_id", "VARCHAR", required=True),
                _c("tool", "VARCHAR", required=True),
                _c("feature", "VARCHAR", default="'all'"),
                _c("day", "DATE", required=True),
                _c("active_users", "BIGINT"),
                _c("events", "BIGINT"),
                _c("accepted_lines", "BIGINT"),
                _c("changes_merged", "BIGINT"),
                _c("agent_changes_merged", "BIGINT"),
            ),
            checks=(("active_users >= 0 AND events >= 0 AND accepted_lines >= 0", "negative usage count"),),
            allowed={"scope": ("org", "enterprise", "team"),
                     "feature": ("all", "completion", "chat", "agent", "cli", "review")},
        ),
        Table(
            # tool is in the key (NULL for a cost of no tool): two tools' licences in one period are two rows
            "costs",
            ("scope", "scope_id", "kind", "period_start", "tool"),
            (
                _c("scope", "VARCHAR", required=True),
                _c("scope_id", "VARCHAR", required=True),
                _c("kind", "VARCHAR", required=True),
                _c("period_start", "DATE", required=True),
                _c("amount", "DOUBLE", required=True),
                _c("currency", "VARCHAR", default="'USD'"),
                _c("tool", "VARCHAR"),
            ),
            checks=(("amount >= 0", "negative amount"),),
            team_refs=("CASE WHEN scope = 'team' THEN scope_id END",),
            allowed={"scope": ("org", "team"), "kind": ("labor", "license", "infra")},
        ),
    ]
}

# The order a folder of canonical tables is loaded in: referenced tables first.
LOAD_ORDER = tuple(TABLES)
