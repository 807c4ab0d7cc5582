"""The team × week panel as Ibis expressions (DESIGN §3).

Nothing here is DuckDB-specific: the same expressions run on any Ibis backend
holding the canonical tables (DuckDB by default, PySpark at scale).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
from ibis import _

from ..errors import ConfigError, MissingDataError
from ._commits import commits_to_prod, stored_keys
from ._time import week_of
from .backend import on_duckdb

UNITS = ("deployment", "change", "commit", "team")
FEATURES = ("all", "completion", "chat", "agent", "cli", "review")
ARCH_UNIT = {"service": "deployment", "monolith": "change", "trunk": "commit"}
UNIT_COLUMN = {"deployment": "deployments", "change": "changes_merged", "commit": "commits_to_prod"}
HOURS_PER_WEEK = 40.0


@dataclass(frozen=True)
class PanelConfig:
    """Settings of a panel build, checked once by :func:`panel_config`."""

    unit: str = "deployment"
    tool: str | None = None
    feature: str | None = None
    loaded_annual_cost: float = 200_000.0
    weeks_per_year: float = 52.0
    environment: str = "production"
    onboarding_weeks: int = 8
    start: dt.date | None = None
    end: dt.date | None = None
    unknown: tuple[str, ...] = ()

    @property
    def week_rate(self) -> float:
        return self.loaded_annual_cost / self.weeks_per_year


def panel_config(**kw) -> PanelConfig:
    cfg = PanelConfig(**kw)
    if cfg.feature is not None and cfg.feature not in FEATURES:
        raise ConfigError(f"feature must be one of {', '.join(FEATURES)}; got {cfg.feature!r}")
    if cfg.unit not in UNITS:
        raise ConfigError(f"unit must be one of {', '.join(UNITS)}; got {cfg.unit!r}")
    if cfg.loaded_annual_cost <= 0 or cfg.weeks_per_year <= 0:
        raise ConfigError("loaded_annual_cost and weeks_per_year must be positive")
    return cfg


def _calendar(con, cfg: PanelConfig) -> ir.Table:
    """Mondays from the first membership to the last observed activity."""
    m = con.table("memberships")
    # one query for every bound: on Spark each query costs a job, whatever its size
    last = {
        f"{table}_{col}": con.table(table)[col].max().as_scalar()
        for table, col in (("deployments", "finished_at"), ("changes", "merged_at"), ("pages", "triggered_at"),
                           ("tool_usage", "day"))
    }
    bounds = m.aggregate(lo=m.start.min(), hi_start=m.start.max(), hi_end=m.end.max()).mutate(**last)
    bounds = bounds.to_pyarrow().to_pylist()[0]
    if bounds["lo"] is None:
        raise MissingDataError(
            "no team members in the store: load a roster (ctssw ingest roster) or activity to infer "
            "them from (ctssw ingest git, github, gitlab or devlake); see ctssw status"
        )
    his = [bounds["hi_start"], bounds["hi_end"]]
    for v in (bounds[k] for k in last):
        if v is not None:
            his.append(v.date() if isinstance(v, dt.datetime) else v)
    lo = cfg.start or bounds["lo"]
    hi = cfg.end or max(h for h in his if h is not None)
    lo = lo - dt.timedelta(days=lo.weekday())
    weeks = []
    w = lo
    while w <= hi:
        weeks.append(w)
        w += dt.timedelta(weeks=1)
    import pyarrow as pa

    return ibis.memtable(pa.table({"week": pa.array(weeks, pa.date32())}))


def _members(con, cal: ir.Table, cfg: PanelConfig) -> ir.Table:
    """One row per membership and week it overlaps, with the overlap in days."""
    m = con.table("memberships")
    last = cal.week.max().as_scalar() + ibis.interval(days=6)
    end = m.end.fill_null(last)
    j = m.join(cal, [cal.week <= end, (cal.week + ibis.interval(days=6)) >= m.start])
    first_start = m.group_by("team_id").aggregate(team_first=m.start.min())
    j = j.join(first_start, "team_id")
    lo = ibis.greatest(j.start, j.week)
    hi = ibis.least(j.end.fill_null(j.week + ibis.interval(days=6)), j.week + ibis.interval(days=6))
    days = hi.delta(lo, unit="day") + 1
    new = (j.start > j.team_first) & (j.start > j.week - ibis.interval(days=7 * cfg.onboarding_weeks))
    return j.select(
        "team_id",
        "week",
        "builder_id",
        "fte",
        "oncall",
        overlap=days.cast("float64"),
        new=new,
    )


def _deployments(con, cfg: PanelConfig, keys: bool = False) -> ir.Table:
    """The deployments to the panel's environment with their team and week; ``keys`` adds the
    stored key of each id (``_commits.stored_keys``)."""
    d = con.table("deployments")
    s = con.table("services").select(svc_id="service_id", svc_team="team_id")
    r = con.table("repos").select(rp_id="repo_id", repo_team="team_id")
    d = d.filter(_in_environment(d, cfg.environment))
    d = d.left_join(s, d.service_id == s.svc_id).left_join(r, d.repo_id == r.rp_id)
    return d.select(
        "deployment_id",
        *(["deployment_id_key"] if keys else []),
        "result",
        "is_rollback",
        "manual_interventions",
        team_id=ibis.coalesce(d.team_id, d.svc_team, d.repo_team),
        week=week_of(d.finished_at, con),
    )


def _in_environment(d: ir.Table, environment: str) -> ir.Value:
    """Deployments to ``environment``; for production, the connector's ``is_production`` decides
    (a flag or a name pattern such as ``prod-eu``) and the name only where it is unknown."""
    if environment == "production" and "is_production" in d.columns:  # absent in stores read-only from before it
        return d.is_production.fill_null(d.environment == environment)
    return d.environment == environment


def build_panel(con, cfg: PanelConfig, columns: tuple[str, ...] | None = None) -> ir.Table:
    """The team-week panel as one Ibis expression over ``con``'s canonical tables.

    ``columns`` (default: all of ``PANEL_COLUMNS``; ``team_id`` and ``week`` always come first)
    selects the columns built. The commit count and the AI-use columns are the panel's two
    costliest parts; a caller that needs neither (the period roll-ups of ``ctssw metrics``)
    skips them. The columns built have the same values either way.
    """
    from dataclasses import replace

    from ..store.gaps import source_gaps

    need = PANEL_COLUMNS if columns is None else tuple(dict.fromkeys(("team_id", "week", *columns)))
    if unknown_columns := set(need) - set(PANEL_COLUMNS):
        raise ConfigError(f"no panel column(s) {', '.join(sorted(unknown_columns))}")
    with_ai = bool({"ai_active", "ai_share", "deploys_per_builder_norm"} & set(need))
    with_commits = "commits_to_prod" in need or cfg.unit in ("commit", "team")
    cfg = replace(cfg, unknown=tuple(c for c in source_gaps(con) if c != "ai_share"))
    cal = _calendar(con, cfg)
    mw = _members(con, cal, cfg)
    people = _people(con, mw, _active(con, cfg) if with_ai else None)
    # the spine: every week between a team's first and last week with members
    span = people.group_by("team_id").aggregate(w0=people.week.min(), w1=people.week.max())
    spine = span.join(cal, [cal.week >= span.w0, cal.week <= span.w1]).select("team_id", "week")

    dep = _deployments(con, cfg, keys=with_commits and stored_keys(con))
    ok = (dep.result == "success") & ~dep.is_rollback
    deploys = dep.group_by(["team_id", "week"]).aggregate(
        deployments=dep.deployment_id.count(where=ok),
        rollbacks=dep.deployment_id.count(where=(dep.result == "success") & dep.is_rollback),
        failed_deployments=dep.deployment_id.count(where=dep.result == "failure"),
        interventions=dep.manual_interventions.sum(),
    )

    ch = con.table("changes")
    rp = con.table("repos").select(rp_id="repo_id", repo_team="team_id")
    ch = ch.filter(ch.merged_at.notnull()).left_join(rp, ch.repo_id == rp.rp_id)
    if "agent" not in ch.columns:  # a store read-only from before the column
        by_agent = ibis.literal(False)
    else:
        by_agent = ch.agent.notnull() if cfg.tool is None else _is_tool(ch.agent, cfg.tool).fill_null(False)
    changes = ch.group_by(
        team_id=ibis.coalesce(ch.team_id, ch.repo_team), week=week_of(ch.merged_at, con)
    ).aggregate(changes_merged=ch.change_id.count(), agent_changes=ch.change_id.count(where=by_agent))

    commits = commits_to_prod(con, dep.filter(ok)) if with_commits else None

    pg = con.table("pages")
    pages = pg.group_by(team_id=pg.team_id, week=week_of(pg.triggered_at, con)).aggregate(pages=pg.page_id.count())
    inc = con.table("incidents")
    sv = con.table("services").select(svc_id="service_id", svc_team="team_id")
    inc = inc.left_join(sv, inc.service_id == sv.svc_id)
    incidents = inc.group_by(
        team_id=ibis.coalesce(inc.team_id, inc.svc_team), week=week_of(inc.created_at, con)
    ).aggregate(incidents=inc.incident_id.count())

    costs = _costs(con, people)
    # a team with costs in a week without members keeps them (its CTS-SW is NULL with the reason)
    spine = spine.union(costs.select("team_id", "week"), distinct=True)

    p = spine
    for part in (people, deploys, changes, commits, pages, incidents, costs):
        p = p if part is None else _attach(p, part)
    if commits is None:  # not built: never selected below
        p = p.mutate(commits_to_prod=ibis.null("int64"))
    zero = {
        c: 0
        for c in (
            "builders", "builder_weeks", "headcount", "oncall_builders", "new_members",
            "deployments", "rollbacks", "failed_deployments", "interventions", "changes_merged",
            "commits_to_prod", "pages", "incidents", "ai_active", "license_cost", "infra_cost", "agent_changes",
            "ai_attributed", "heads_attributed",
        )
    }
    p = p.mutate(**{c: p[c].fill_null(v) for c, v in zero.items()})
    teams = con.table("teams").select("team_id", "architecture", "unit_of_software", "parent_id")
    p = _attach(p, teams, keys=("team_id",))
    return _metrics(p, cfg, need, on_duckdb(con))


def _active(con, cfg: PanelConfig) -> ir.Table:
    """(team_id, week, builder_id) once for each member active with the tool(s) in a day of the week."""
    tu = con.table("tool_usage")
    tu = tu.filter(tu.active)
    if cfg.tool is not None:
        tu = tu.filter(_is_tool(tu.tool, cfg.tool))
    if cfg.feature is not None and "feature" in tu.columns:
        tu = tu.filter(tu.feature == cfg.feature)
    tu = tu.select("builder_id", day=tu.day, week=week_of(tu.day.cast("timestamp"), con))
    m = con.table("memberships")
    tj = tu.join(
        m,
        [tu.builder_id == m.builder_id, m.start <= tu.day, m.end.isnull() | (m.end >= tu.day)],
    )
    return tj.select(a_team="team_id", a_week="week", a_builder="builder_id").distinct()


def _people(con, mw: ir.Table, act: ir.Table | None) -> ir.Table:
    """Members per team-week: FTE sums, head counts, and the AI-active among them.

    One row per team, week and member first, so head counts are counts rather than distinct
    counts. The AI share attributes a builder on several teams to each by their FTE share
    there (``_w``), so their use is never counted once per team (a builder on one team counts
    1, whatever their FTE); the FTE total of a builder's week is only summed for the few
    builders with more than one membership row (for the others it is the row's own FTE).
    """
    m = con.table("memberships")
    multi = m.group_by(mb="builder_id").aggregate(n=m.count())
    multi = multi.filter(multi.n > 1).select("mb")
    several = mw.semi_join(multi, mw.builder_id == multi.mb)
    tot = several.group_by(t_builder="builder_id", t_week="week").aggregate(_tot=several.fte.sum())
    j = several.left_join(tot, [several.builder_id == tot.t_builder, several.week == tot.t_week])
    grouped = j.group_by(["team_id", "week", "builder_id"]).aggregate(
        _fte=j.fte.sum(),
        _bw=(j.fte * j.overlap / 7.0).sum(),
        _w=(j.fte / ibis.coalesce(j._tot, j.fte)).sum(),
        _oncall=j.oncall.any(),
        _new=j.new.any(),
    )
    # a builder with one membership row has one row per team-week already: the same values
    # without grouping (most of the rows, and most of a large panel's time in this step)
    one = mw.anti_join(multi, mw.builder_id == multi.mb)
    one = one.select(
        "team_id", "week", "builder_id",
        _fte=one.fte, _bw=one.fte * one.overlap / 7.0, _w=one.fte / one.fte, _oncall=one.oncall, _new=one.new,
    )
    b = one.union(grouped)
    if act is None:  # AI use not asked for: nobody counted active
        on = ibis.literal(False)
    else:
        b = b.left_join(act, [b.team_id == act.a_team, b.week == act.a_week, b.builder_id == act.a_builder])
        on = b.a_builder.notnull()
    return b.group_by(["team_id", "week"]).aggregate(
        builders=b._fte.sum(),
        builder_weeks=b._bw.sum(),
        headcount=b.count(),
        oncall_builders=b.count(where=b._oncall),
        new_members=b.count(where=b._new),
        heads_attributed=b._w.sum(),
        ai_active=b.count(where=on),
        ai_attributed=b._w.sum(where=on),
    )


def _attach(p: ir.Table, part: ir.Table, keys: tuple[str, ...] = ("team_id", "week")) -> ir.Table:
    """Left join ``part`` onto ``p`` by ``keys``, keeping one copy of each key."""
    j = p.left_join(part, list(keys))
    return j.drop(*[f"{k}_right" for k in keys if f"{k}_right" in j.columns])


def _costs(con, people: ir.Table) -> ir.Table:
    """Labour, licence and infrastructure cost per team-week from the costs table.

    Team-scoped rows go to the week holding ``period_start``; org-scoped rows are
    shared among the org's teams (``scope_id`` = their ``parent_id``, or ``all``)
    in proportion to builder-weeks.
    """
    c = con.table("costs")
    c = c.mutate(week=week_of(c.period_start.cast("timestamp"), con))
    team = c.filter(c.scope == "team").group_by(team_id=c.scope_id, week=c.week)
    team = team.aggregate(
        labor_actual=c.amount.sum(where=c.kind == "labor"),
        license_cost=c.amount.sum(where=c.kind == "license"),
        infra_cost=c.amount.sum(where=c.kind == "infra"),
    )
    org = c.filter(c.scope == "org")
    if int(org.count().to_pyarrow().as_py()) == 0:
        # nothing to share out: the allocation below would join every team-week's builder-weeks for no row
        return team.select(
            "team_id", "week", "labor_actual",
            license_cost=team.license_cost.fill_null(0.0), infra_cost=team.infra_cost.fill_null(0.0),
        )
    teams = con.table("teams").select("team_id", "parent_id")
    bw = people.join(teams, "team_id").select("team_id", "week", "builder_weeks", "parent_id")
    share = bw.join(org, [(org.scope_id == bw.parent_id) | (org.scope_id == "all"), org.week == bw.week])
    tot = bw.join(org, [(org.scope_id == bw.parent_id) | (org.scope_id == "all"), org.week == bw.week])
    tot = tot.group_by(["scope_id", "kind", tot.week]).aggregate(bw_total=tot.builder_weeks.sum())
    share = share.join(tot, ["scope_id", "kind", "week"])
    alloc = share.amount * share.builder_weeks / share.bw_total
    share = share.group_by(["team_id", "week"]).aggregate(
        labor_org=alloc.sum(where=share.kind == "labor"),
        license_org=alloc.sum(where=share.kind == "license"),
        infra_org=alloc.sum(where=share.kind == "infra"),
    )
    j = team.outer_join(share, ["team_id", "week"])
    return j.select(
        team_id=ibis.coalesce(j.team_id, j.team_id_right),
        week=ibis.coalesce(j.week, j.week_right),
        labor_actual=_add(j.labor_actual, j.labor_org),
        license_cost=_add(j.license_cost, j.license_org).fill_null(0.0),
        infra_cost=_add(j.infra_cost, j.infra_org).fill_null(0.0),
    )


def _add(a: ir.Value, b: ir.Value) -> ir.Value:
    """a + b where either may be NULL; NULL only when both are."""
    return ibis.ifelse(a.isnull() & b.isnull(), ibis.null("float64"), a.fill_null(0.0) + b.fill_null(0.0))


def _ratio(num: ir.Value, den: ir.Value) -> ir.Value:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))


def _metrics(p: ir.Table, cfg: PanelConfig, need: tuple[str, ...], duckdb: bool) -> ir.Table:
    labor = p.labor_actual.fill_null(p.builder_weeks * cfg.week_rate)
    if cfg.unit == "team":
        unit = p.unit_of_software.fill_null(
            p.architecture.cases(*ARCH_UNIT.items(), else_="deployment")
        )
    else:
        unit = ibis.literal(cfg.unit)
    units = unit.cases(
        ("deployment", p.deployments), ("change", p.changes_merged), ("commit", p.commits_to_prod), else_=p.deployments
    )
    p = p.mutate(labor_cost=labor, unit=unit, units=units)
    p = p.mutate(cost=p.labor_cost + p.license_cost + p.infra_cost)
    reason = ibis.cases(
        (p.builders <= 0, "no builders this week"),
        (p.units <= 0, "no units (" + p.unit + "s) this week"),
        else_=ibis.null("string"),
    )
    w4 = ibis.window(group_by="team_id", order_by="week", preceding=3, following=0)
    p = p.mutate(
        cts_sw=ibis.ifelse(reason.isnull(), p.cost / p.units.cast("float64"), ibis.null("float64")),
        cts_sw_reason=reason,
        cts_hours=ibis.ifelse(
            reason.isnull(), p.builder_weeks * HOURS_PER_WEEK / p.units.cast("float64"), ibis.null("float64")
        ),
        velocity=_ratio(p.changes_merged, p.builders),
        deploys_per_builder=_ratio(p.deployments, p.builders),
        rollback_rate=_ratio(p.rollbacks, p.deployments + p.rollbacks),
        interventions_per_deploy=_ratio(p.interventions, p.deployments),
        pages_per_oncall_builder=_ratio(p.pages, p.oncall_builders),
        ai_share=_ratio(p.ai_attributed, p.heads_attributed),
        agent_share=_ratio(p.agent_changes, p.changes_merged),
        new_member_share=_ratio(p.new_members, p.headcount),
    )
    if "cts_sw_4w" in need:
        p = p.mutate(cts_sw_4w=_ratio(p.cost.sum().over(w4), p.units.sum().over(w4)))
    # normalised by the team's own mean before it first used the tool (all weeks if never)
    if "deploys_per_builder_norm" in need:
        p = _pre_ai_mean(p, duckdb)
        p = p.mutate(deploys_per_builder_norm=_ratio(p.deploys_per_builder, p._pre_mean))
    # a rate whose source the store lacks altogether is unknown, not zero (see ctssw.store.gaps)
    unknown = {c: ibis.null("float64") for c in cfg.unknown if c in need}
    if unknown:
        p = p.mutate(**unknown)
    return p.select(*need).order_by(["team_id", "week"])


def _pre_ai_mean(p: ir.Table, duckdb: bool) -> ir.Table:
    """``p`` with ``_pre_mean``: each team's mean deploys per builder before its first AI-active
    week (over all its weeks if it has none).

    On DuckDB by per-team aggregates joined back: a window over the team sorts every column of the
    panel through its partitions (3.4 s of CPU at 10,000 teams). On Spark the two joins add 39
    stages to a 200-team panel's 80 (9.2 s against 7.8 s warm), so Spark keeps the windows.
    """
    never = ibis.date(9999, 12, 31)
    if duckdb:
        first = p.group_by(f_team="team_id").aggregate(_first_ai=p.week.min(where=p.ai_active > 0))
        q = p.select("team_id", "week", "deploys_per_builder").left_join(first, _.team_id == first.f_team)
        pre = q.week < q._first_ai.fill_null(never)
        base = q.group_by(b_team="team_id").aggregate(_pre_mean=q.deploys_per_builder.mean(where=pre))
        return p.left_join(base, p.team_id == base.b_team).drop("b_team")
    team_w = ibis.window(group_by="team_id")
    p = p.mutate(_first_ai=p.week.min(where=p.ai_active > 0).over(team_w))
    pre = p.week < p._first_ai.fill_null(never)
    return p.mutate(_pre_mean=p.deploys_per_builder.mean(where=pre).over(team_w))


PANEL_COLUMNS = (
    "team_id", "week", "parent_id", "architecture", "unit",
    "builders", "builder_weeks", "headcount", "oncall_builders", "new_members",
    "labor_cost", "license_cost", "infra_cost", "cost", "units",
    "cts_sw", "cts_sw_reason", "cts_hours", "cts_sw_4w",
    "deployments", "rollbacks", "failed_deployments", "interventions",
    "changes_merged", "commits_to_prod", "pages", "incidents", "ai_active",
    "velocity", "deploys_per_builder", "deploys_per_builder_norm", "rollback_rate",
    "interventions_per_deploy", "pages_per_oncall_builder", "ai_share", "new_member_share",
    "agent_changes", "agent_share",
)
# the columns a panel's tool (and feature) changes; the rest of a panel is the same for every tool
TOOL_COLUMNS = ("ai_active", "ai_share", "agent_changes", "agent_share", "deploys_per_builder_norm")


def _is_tool(col: ir.Value, tool: str) -> ir.Value:
    """Rows of ``tool``, its sub-sources included (``claude:git``, ``cursor:code``, ``copilot:<agent>``)."""
    return (col == tool) | col.startswith(tool + ":")


def tool_shares(con, cfg: PanelConfig) -> ir.Table:
    """Per team, week, tool and feature: builders active with it and their share of the team's members.

    ``tool`` is the tool without its sub-source (``claude:git`` counts as ``claude``); feature
    ``all`` counts a builder active with any feature. Long form, one row per team-week-tool-feature
    with any use; a team-week missing for a tool means no member used it (share 0).
    """
    cal = _calendar(con, cfg)
    mw = _members(con, cal, cfg)
    heads = mw.group_by(["team_id", "week"]).aggregate(headcount=mw.builder_id.nunique())
    tu = con.table("tool_usage")
    tu = tu.filter(tu.active)
    base = tu.tool.split(":")[0]
    feature = tu.feature if "feature" in tu.columns else ibis.literal("all")
    tu = tu.select("builder_id", "day", tool=base, feature=feature, week=week_of(tu.day.cast("timestamp"), con))
    m = con.table("memberships")
    j = tu.join(m, [tu.builder_id == m.builder_id, m.start <= tu.day, m.end.isnull() | (m.end >= tu.day)])
    every = j.mutate(feature=ibis.literal("all"))
    both = j.select("team_id", "week", "tool", "feature", "builder_id").union(
        every.select("team_id", "week", "tool", "feature", "builder_id"), distinct=True)
    act = both.group_by(["team_id", "week", "tool", "feature"]).aggregate(active_builders=both.builder_id.nunique())
    act = act.join(heads, ["team_id", "week"])
    return act.select(
        "team_id", "week", "tool", "feature", "active_builders", "headcount",
        share=_ratio(act.active_builders, act.headcount),
    ).order_by(["team_id", "week", "tool", "feature"])


CHANGE_ROLES = {"agent": "agent", "review": "review_agent"}


def change_shares(con, cfg: PanelConfig) -> ir.Table:
    """Per team, week, role and tool: merged changes an AI agent authored (role ``agent``, from
    ``changes.agent``) or reviewed (role ``review``, from ``changes.review_agent``), and their share
    of the team's merged changes that week (``agent_share[tool]``; ``review_share[tool]``).

    Long form, one row per team-week-role-tool with any such change; a team-week missing for a tool
    means none of its merged changes had that agent (share 0). Teams and weeks as in the panel: the
    change's team, else its repository's; the week of ``merged_at``.
    """
    ch = con.table("changes")
    rp = con.table("repos").select(rp_id="repo_id", repo_team="team_id")
    ch = ch.filter(ch.merged_at.notnull()).left_join(rp, ch.repo_id == rp.rp_id)
    ch = ch.mutate(team_id=ibis.coalesce(ch.team_id, ch.repo_team), week=week_of(ch.merged_at, con))
    merged = ch.group_by(["team_id", "week"]).aggregate(changes_merged=ch.change_id.count())
    parts = []
    for role, col in CHANGE_ROLES.items():
        if col not in ch.columns:  # a store read-only from before the column
            continue
        one = ch.filter(ch[col].notnull())
        parts.append(one.group_by(["team_id", "week", one[col].name("tool")]).aggregate(
            changes=one.change_id.count()).mutate(role=ibis.literal(role)))
    if not parts:
        return merged.mutate(role=ibis.null("string"), tool=ibis.null("string"), changes=ibis.literal(0, "int64"),
                             share=ibis.null("float64")).limit(0)
    by_tool = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    j = by_tool.join(merged, ["team_id", "week"])
    return j.select("team_id", "week", "role", "tool", "changes", "changes_merged",
                    share=_ratio(j.changes, j.changes_merged)).order_by(["team_id", "week", "role", "tool"])
