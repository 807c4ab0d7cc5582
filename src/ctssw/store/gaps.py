"""Which metrics the store's sources cannot tell: unknown is not zero (DESIGN §3).

A metric whose source is absent from the whole store is NULL with a reason, never a measured 0:

- change failure rate and recovery time need incidents (``ctssw ingest pagerduty`` or ``devlake``);
- rollback rate, interventions per deployment and rework need deployments that record their
  outcome (``ctssw ingest github`` or ``gitlab`` deployments, ``devlake``); release tags record none;
- pages per on-call builder needs pages and an on-call roster (``ctssw ingest pagerduty`` and
  ``roster``);
- the AI share needs tool usage (``ctssw ingest copilot``, ``qdev``, ...).
"""

from __future__ import annotations

__all__ = ["UNKNOWN_WITHOUT", "source_gaps"]

# metric column -> (what is missing, the command that supplies it)
UNKNOWN_WITHOUT: dict[str, tuple[str, str]] = {
    "change_failure_rate": ("incidents", "ctssw ingest pagerduty (or devlake)"),
    "recovery_median_h": ("incidents", "ctssw ingest pagerduty (or devlake)"),
    "rollback_rate": ("deployments that record their outcome", "ctssw ingest github or gitlab (deployments)"),
    "interventions_per_deploy": ("deployments that record their outcome", "ctssw ingest github or gitlab (deployments)"),
    "rework_rate": ("deployments that record their outcome", "ctssw ingest github or gitlab (deployments)"),
    "pages_per_oncall_builder": ("pages", "ctssw ingest pagerduty"),
    "ai_share": ("tool usage", "ctssw ingest copilot (or qdev)"),
}


def source_gaps(con) -> dict[str, str]:
    """Metric column → why it is unknown in this store (empty when every source is present).

    ``con`` is an Ibis backend, or a DuckDB connection to the store (no Ibis needed).
    """
    import duckdb

    if isinstance(con, duckdb.DuckDBPyConnection):
        one = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
        have_kind = bool(one("SELECT count(*) FROM information_schema.columns "
                             "WHERE table_name = 'deployments' AND column_name = 'kind'"))
        present = {
            "incidents": one("SELECT count(*) FROM incidents") > 0,
            "deployments that record their outcome": one(
                "SELECT count(*) FROM deployments" + (" WHERE kind IS NULL OR kind NOT IN ('tag', 'release')" if have_kind else "")
            ) > 0,
            "pages": one("SELECT count(*) FROM pages") > 0,
            "tool usage": one("SELECT count(*) FROM tool_usage") > 0,
        }
        return _gaps(present)
    d = con.table("deployments")
    outcome = d.filter(d.kind.isnull() | ~d.kind.isin(("tag", "release"))) if "kind" in d.columns else d
    # one query with a scalar subquery per source: on Spark each query costs a job
    n = outcome.aggregate(outcome=outcome.count()).mutate(
        incidents=con.table("incidents").count().as_scalar(),
        pages=con.table("pages").count().as_scalar(),
        usage=con.table("tool_usage").count().as_scalar(),
    ).to_pyarrow().to_pylist()[0]
    present = {
        "incidents": n["incidents"] > 0, "deployments that record their outcome": n["outcome"] > 0,
        "pages": n["pages"] > 0, "tool usage": n["usage"] > 0,
    }
    return _gaps(present)


def _gaps(present: dict[str, bool]) -> dict[str, str]:
    return {
        col: f"unknown: the store has no {what}; {cmd} supplies them"
        for col, (what, cmd) in UNKNOWN_WITHOUT.items()
        if not present[what]
    }
