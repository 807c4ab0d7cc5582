"""``ctssw status``: what the store holds, what can be computed from it, and what to run next.

Every error line that says something is missing points here. The answer names teams (never
builders): counts of builders, bots and quarantined rows, teams inferred from activity against
teams from a roster, each table's rows and date range, and for each metric or estimate whether
it can be computed, and if not, why and which command supplies what it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..store import TABLES, open_lake

__all__ = ["Capability", "StoreStatus", "store_status"]

# table -> the column whose range is shown
_WHEN = {
    "commits": "committed_at", "changes": "merged_at", "deployments": "finished_at", "incidents": "created_at",
    "pages": "triggered_at", "tool_usage": "day", "memberships": "start", "costs": "period_start",
}


@dataclass(frozen=True)
class Capability:
    """One thing ctssw can compute: whether this store supports it, and if not why and how to fix it."""

    name: str
    ok: bool
    why: str = ""
    fix: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "why": self.why or None, "fix": self.fix or None}


@dataclass(frozen=True)
class StoreStatus:
    """The answer of :func:`store_status`."""

    path: str
    tables: dict[str, dict]
    teams: int
    inferred_teams: list[str]
    rostered_teams: int
    builders: int
    bots: int
    quarantined: int
    capabilities: list[Capability] = field(default_factory=list)
    next_command: str = ""
    warnings: list[str] = field(default_factory=list)
    lake: str | None = None  # the folder of the store's lake, when its tables live there

    def to_dict(self) -> dict:
        return {
            "path": self.path, "lake": self.lake, "tables": self.tables, "teams": self.teams, "inferred_teams": self.inferred_teams,
            "rostered_teams": self.rostered_teams, "builders": self.builders, "bots": self.bots,
            "quarantined": self.quarantined, "capabilities": [c.to_dict() for c in self.capabilities],
            "next_command": self.next_command, "warnings": self.warnings,
        }


def _one(con, sql: str):
    return con.execute(sql).fetchall()[0][0]


def store_status(db: str | Path, *, lake: str | Path | None = None) -> StoreStatus:
    """Describe the store at ``db`` (its tables read from ``lake`` when given, else where the
    store keeps them): contents, what can be computed and the next command."""
    from ..store import check_lake
    from ..store.gaps import source_gaps

    check_lake("duckdb", lake)

    if not Path(db).exists():
        tables = {name: {"rows": 0} for name in TABLES}
        caps = _capabilities(tables, {})
        return StoreStatus(path=str(db), tables=tables, teams=0, inferred_teams=[], rostered_teams=0, builders=0,
                           bots=0, quarantined=0, capabilities=caps, next_command=_next(tables, caps),
                           warnings=[f"no store at {db} yet"])
    with open_lake(lake, db=db) as store:
        where = str(store.lake.root) if store.lake is not None else None
        c = store.con
        tables = {}
        for name in TABLES:
            n = store.count(name)
            row = {"rows": n}
            col = _WHEN.get(name)
            if col and n:
                lo, hi = c.execute(f'SELECT min("{col}"), max("{col}") FROM "{name}"').fetchall()[0]
                row.update(first=str(lo)[:10] if lo is not None else None, last=str(hi)[:10] if hi is not None else None)
            tables[name] = row
        cols = {r[0] for r in c.execute("DESCRIBE memberships").fetchall()}
        inf = "coalesce(inferred, false)" if "inferred" in cols else "false"
        inferred = [r[0] for r in c.execute(
            f"SELECT team_id FROM memberships GROUP BY team_id HAVING bool_and({inf}) ORDER BY 1").fetchall()]
        rostered = _one(c, f"SELECT count(DISTINCT team_id) FROM memberships WHERE NOT {inf}")
        has_bots = bool(_one(c, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'bots'"))
        bots = _one(c, "SELECT count(DISTINCT builder_id) FROM bots") if has_bots else 0
        builders = _one(c, "SELECT count(DISTINCT builder_id) FROM memberships"
                           + (" WHERE builder_id NOT IN (SELECT builder_id FROM bots)" if has_bots else ""))
        teams = _one(c, "SELECT count(*) FROM teams")
        over = _one(c, """SELECT count(DISTINCT a.builder_id) FROM memberships a JOIN memberships b
            ON a.builder_id = b.builder_id AND a.team_id < b.team_id
            AND a.start <= coalesce(b."end", DATE '9999-12-31') AND b.start <= coalesce(a."end", DATE '9999-12-31')
            WHERE a.fte + b.fte > 1.0001""")
        outside = _one(c, """SELECT count(*) FROM deployments d LEFT JOIN repos r USING (repo_id)
            LEFT JOIN services s USING (service_id)
            WHERE coalesce(d.is_production, d.environment = 'production') AND NOT EXISTS (
                SELECT 1 FROM memberships m WHERE m.team_id = coalesce(d.team_id, s.team_id, r.team_id)
                AND m.start <= CAST(d.finished_at AS DATE) + 6
                AND coalesce(m."end", DATE '9999-12-31') >= CAST(d.finished_at AS DATE) - 6)""")
        nonprod = c.execute("""SELECT environment, count(*) FROM deployments
            WHERE NOT coalesce(is_production, environment = 'production') GROUP BY 1 ORDER BY 2 DESC, 1""").fetchall()
        if nonprod:
            tables["deployments"]["non_production"] = sum(n for _, n in nonprod)
        patterns = _one(c, "SELECT count(*) FROM services WHERE production_env IS NOT NULL")
        quarantined = store.count("quarantine")
        gaps = source_gaps(store.con)
        caps = _capabilities(tables, gaps)
    warnings = []
    if over:
        warnings.append(f"{over} builder(s) have more than 1.0 FTE across teams in some weeks (check the roster)")
    if nonprod:
        shown = ", ".join(f"{e} {n}" for e, n in nonprod[:6]) + (", …" if len(nonprod) > 6 else "")
        kept = f" (patterns stored for {patterns} service(s))" if patterns else ""
        warnings.append(f"{sum(n for _, n in nonprod)} deployment(s) to non-production environments ({shown}) are left "
                        f"out of production counts{kept}; ctssw ingest github/gitlab --production-env REGEX counts them")
    if outside:
        warnings.append(f"{outside} production deployment(s) have no team with members that week; the panel "
                        "leaves them out (give their repository a team: ctssw ingest git --team, or load a roster)")
    return StoreStatus(
        path=str(db), lake=where, tables=tables, teams=teams, inferred_teams=inferred, rostered_teams=rostered, builders=builders,
        bots=bots, quarantined=quarantined, capabilities=caps, next_command=_next(tables, caps), warnings=warnings,
    )


def _capabilities(t: dict[str, dict], gaps: dict[str, str]) -> list[Capability]:
    n = {k: v["rows"] for k, v in t.items()}
    members = n["memberships"] > 0
    act = "ctssw ingest git REPO... (teams and members are inferred), or ctssw ingest roster"
    out = [Capability("team × week panel", members, "" if members else "no team members", "" if members else act)]
    for unit, need, fix in (
        ("deployment", n["deployments"], "ctssw ingest git REPO... --deployments tags, or ctssw ingest github/gitlab"),
        ("change", n["changes"], "ctssw ingest git, github or gitlab"),
        ("commit", n["deployment_commits"] or (n["deployments"] and n["commits"]), "ctssw ingest git REPO... --deployments tags"),
    ):
        ok = members and bool(need)
        out.append(Capability(f"CTS-SW per {unit}", ok, "" if ok else ("no team members" if not members else f"no {unit}s"),
                              "" if ok else (act if not members else fix)))
    # the DORA metrics are per team-week (ctssw metrics), so they need members too; without them
    # only DevLake's per-PR and per-incident exports answer, which the reason names
    per_pr = "no team members (per pull request: ctssw dora pr-metrics --devlake-compatible)"
    lt = bool(n["changes"] and n["deployments"])
    if lt and not members:
        out.append(Capability("change lead time", False, per_pr, act))
    else:
        out.append(Capability("change lead time", lt, "" if lt else "needs merged changes and deployments",
                              "" if lt else "ctssw ingest git REPO... --deployments tags"))
    for col, label in (("change_failure_rate", "change failure rate and recovery time"),
                       ("rollback_rate", "rollback rate, interventions and rework"),
                       ("pages_per_oncall_builder", "pages per on-call builder")):
        why = gaps.get(col, "")
        what, _, fix = why.partition("; ")
        if not why and not members:
            what, fix = "no team members", act
        out.append(Capability(label, not what, what, fix.removesuffix(" supplies them")))
    ai = n["tool_usage"] > 0
    out.append(Capability("drivers (mixed model)", members and lt, "" if members and lt else "needs the panel and deployments",
                          "" if members and lt else "ctssw ingest git REPO... --deployments tags"))
    if not ai:
        why, fix = "no AI tool usage in the store", "ctssw ingest copilot (or qdev), or impact --rollout FILE with rollout dates"
    else:
        why, fix = ("", "") if members else ("no team members", act)
    out.append(Capability("a tool's effect (ctssw impact)", not why, why, fix))
    return out


def _next(t: dict[str, dict], caps: list[Capability]) -> str:
    if not any(v["rows"] for v in t.values()):
        return "ctssw ingest git REPO... --deployments tags"
    for c in caps:
        if not c.ok and c.fix:
            return c.fix
    return "ctssw report"
