"""Public entry points: each builds its config once, then calls the Ibis builders."""

from __future__ import annotations

import functools
import itertools

import ibis
import pandas as pd

from ..panel import panel_expr, panel_frame, to_arrow, to_frame
from . import _dora as D
from . import _linkage as L

RULES = ("default", "devlake")


def _rule(rule: str) -> str:
    if rule not in RULES:
        from ..errors import ConfigError

        raise ConfigError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    return rule


def deployment_links(con, *, environment: str | None = "production"):
    """Deployments with team, target and previous successful deployment (Ibis table)."""
    return L.deployments(con, environment)


def change_links(con, *, environment: str = "production", rule: str = "default"):
    """Merged changes with the first successful production deployment that shipped them (Ibis table)."""
    return L.change_deployments(con, environment, rule=_rule(rule))


def incident_links(con, *, window_hours: float | None = None, environment: str = "production", rule: str = "default"):
    """Incidents with the deployment they are attributed to (Ibis table)."""
    return L.incident_deployments(con, window_hours=window_hours, environment=environment, rule=_rule(rule))


_CACHE: dict = {}
_SERIAL = itertools.count()


# what the linkage and the facts read of the deployments (the previous successes are found only
# for the deployments whose commits are derived, by the linkage itself)
FACT_DEPLOYMENT_COLUMNS = (
    "deployment_id", "target", "team_id", "repo_id", "finished_at", "result", "is_rollback", "ok", "sha",
)


def kept(con, *key) -> dict:
    """What is kept for ``con`` under ``key`` until :func:`clear_cache` (a new dict for a key not
    seen): the materialised panel and facts here, and what a caller keeps beside them."""
    hit = _CACHE.get((id(con), *key))
    if hit is None or hit[0] is not con:
        hit = _CACHE[(id(con), *key)] = (con, {})
    return hit[1]


def _panel_rows(con, unit: str, *, full: bool = True):
    """The panel, materialised once per backend and unit (it does not depend on the DORA settings).

    ``full=False`` (the period roll-ups) takes the whole panel when it is built already, and
    otherwise builds only the columns the roll-ups read (``PERIOD_PANEL``), without the commit
    count and the AI-use columns.
    """
    got = kept(con, "panel", unit)
    if "full" not in got and (full or "period" not in got):
        which = "full" if full else "period"
        cols = None if full else D.PERIOD_PANEL
        got[which] = _materialise(con, panel_expr(con, unit=unit, columns=cols), f"ctssw_panel_{next(_SERIAL)}")
    return got["full"] if full else got.get("full", got.get("period"))


def _facts(con, unit: str, cfg: D.DoraConfig, *, full: bool = True):
    """The panel, the change and deployment facts (materialised) and the store's source gaps,
    once per backend and settings.

    Materialising keeps each later query small: Spark otherwise re-plans and re-runs the whole
    linkage inside every aggregate.
    """
    p = _panel_rows(con, unit, full=full)
    got = kept(con, "facts", cfg.environment, cfg.incident_window_hours)
    if "facts" not in got:
        got["facts"] = fact_tables(con, cfg, rollup=True)
    return (p, *got["facts"], store_gaps(con))


def store_gaps(con) -> dict[str, str]:
    """Metric column → why it is unknown in the store behind ``con`` (``store.gaps.source_gaps``),
    read once per backend until :func:`clear_cache`."""
    got = kept(con, "gaps")
    if "gaps" not in got:
        from ..store.gaps import source_gaps

        got["gaps"] = source_gaps(con)
    return got["gaps"]


def fact_tables(con, cfg: D.DoraConfig, *, step=None, rollup: bool = False):
    """The change and deployment facts for ``cfg``'s environment and incident window, materialised
    (all time: the period bounds apply later). ``rollup=True`` keeps only the columns the roll-ups
    read (``ROLLUP_CHANGE_COLUMNS``, ``ROLLUP_DEPLOYMENT_COLUMNS``): writing 28M change and 22M
    deployment rows is a large part of each step, and at 10,000 teams ``ctssw metrics`` took
    57.4-61.6 s with these columns against 64.0-65.1 s with every column (three runs each,
    interleaved). ``step(name, build)`` runs each of the three steps
    ("deployments", "deployment facts", "change facts") and returns what ``build()`` returns; the
    benchmarks pass one that times them. The deployments are dropped before this returns: a
    ``step`` that wants their rows reads them when it gets them."""
    run = step or (lambda name, build: build())
    n = next(_SERIAL)
    all_time = D.DoraConfig(environment=cfg.environment, incident_window_hours=cfg.incident_window_hours)
    # the production deployments with their team and target, shared by the change linkage, the
    # incident attribution and the rework flag
    # with the stored key of each id where the store keeps them (the change linkage joins those)
    keys = L.stored_keys(con)
    cols = FACT_DEPLOYMENT_COLUMNS + (L.DEPLOYMENT_KEYS if keys else ())
    deps = run("deployments", lambda: _materialise(
        con, L.deployments(con, cfg.environment, previous=False, keys=keys).select(*cols), f"ctssw_deployments_{n}"))

    def change_facts():
        # the deployments whose commits are derived, found once: where there are none (every
        # success has stored commits, or names none the history knows) nothing more is derived
        cand = _materialise(con, L.derivation_candidates(con, deps, L.sha_key(con)), f"ctssw_candidates_{n}")
        some = bool(cand.limit(1).count().to_pyarrow().as_py())
        # each merge commit's production deployments: the deployment_commits rows are read once
        shipped = _materialise(
            con, L.shipped_merges(con, cfg.environment, deps=deps, candidates=cand, derive=some), f"ctssw_shipped_{n}"
        )
        c = D.change_facts(con, all_time, deps, shipped)
        return _materialise(con, c.select(*D.ROLLUP_CHANGE_COLUMNS) if rollup else c, f"ctssw_change_facts_{n}")

    def deployment_facts():
        d = D.deployment_facts(con, all_time, deps)
        return _materialise(con, d.select(*D.ROLLUP_DEPLOYMENT_COLUMNS) if rollup else d, f"ctssw_deployment_facts_{n}")

    # the deployment facts first: built while less is held in memory, their window and as-of join
    # took 14.1 s at 10,000 teams against 15.6-20.0 s after the change facts
    d = run("deployment facts", deployment_facts)
    c = run("change facts", change_facts)
    # the facts hold what the roll-ups read: the rows they were built from leave memory now (at
    # 10,000 teams, 3-4 GB; kept, DuckDB spilled up to 2 GB to disk under the store's memory
    # limit, though the command's wall time changed within the noise)
    _release(con, f"ctssw_deployments_{n}", f"ctssw_candidates_{n}", f"ctssw_shipped_{n}")
    return c, d


def _materialise(con, expr, name: str):
    if getattr(con, "name", "") == "pyspark":
        # Ibis's cache() on Spark keeps a view over in-memory tables it later drops (and
        # dropping a view uncaches what was built on it); a local checkpoint computes the
        # rows once, keeps them in Spark's block store and forgets the plan behind them,
        # so the rows never travel through the driver.
        con._run_pre_execute_hooks(expr)
        df = con._session.sql(con.compile(expr)).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        _TEMP.append((con, name, df))
        return con.table(name)
    # a named temporary table: Ibis's cache() finaliser emits a DROP the pinned sqlglot cannot parse
    t = con.create_table(name, expr, temp=True)
    _TEMP.append((con, name, None))
    return t


_TEMP: list = []


def _release(con, *names: str) -> None:
    """Drop the materialised tables ``names`` of ``con`` (no expression may read them after)."""
    keep = []
    for entry in _TEMP:
        if entry[0] is con and entry[1] in names:
            _drop(*entry)
        else:
            keep.append(entry)
    _TEMP[:] = keep


def _drop(con, name: str, df) -> None:
    try:
        if df is None:
            con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        else:
            con._session.catalog.dropTempView(name)
            df.unpersist()
    except Exception:  # the connection (or Spark session) may already be closed
        pass


def clear_cache() -> None:
    """Forget materialised facts (after the store changed) and drop their temporary tables."""
    _CACHE.clear()
    while _TEMP:
        _drop(*_TEMP.pop())


def team_week_metrics(con, *, unit: str = "deployment", expr: bool = False, **kw):
    """The panel with DORA columns beside it, one row per team-week.

    Parameters
    ----------
    con : ibis backend
        Holds the canonical tables.
    unit : str
        The panel's unit of software ("deployment", "change", "commit" or "team").
    expr : bool
        Return the Ibis expression instead of a pandas DataFrame.
    **kw
        :class:`DoraConfig` fields (``incident_window_hours``, ``since``, ``until``).
    """
    cfg = D.dora_config(**kw)
    p, c, d, gaps = _facts(con, unit, cfg)
    w = D.dora_weekly(con, cfg, p, (c, d), gaps)
    j = p.left_join(w, ["team_id", "week"]).drop("team_id_right", "week_right")
    j = D._in_period(j, "week", cfg).order_by(["team_id", "week"])
    if expr:
        return j
    df = to_frame(j)
    df["week"] = pd.to_datetime(df["week"])
    return df.reset_index(drop=True)


def metrics_panel(con, *, unit: str = "deployment") -> pd.DataFrame:
    """The panel the metrics are built on, as ``ctssw.panel.panel(con, unit=unit)`` returns it,
    read from the rows :func:`team_week_metrics` materialised (built now when they are not, and
    kept for it): a caller that needs both the panel and the metrics builds the panel once."""
    p = _panel_rows(con, unit)
    return panel_frame(to_arrow(p.order_by(["team_id", "week"])))


def period_metrics(con, *, by: str = "team", unit: str = "deployment", expr: bool = False, **kw):
    """DORA, CTS-SW, velocity, delivery health and pages over a period, per team, parent or org.

    ``since``/``until`` (dates, inclusive, compared with the Monday of each week)
    bound the period; rates are ratios of sums over the team-weeks in it.
    """
    t = _period(con, by, unit, D.dora_config(**kw))
    return t if expr else to_frame(t).reset_index(drop=True)


def _period(con, by: str, unit: str, cfg: D.DoraConfig):
    p, c, d, gaps = _facts(con, unit, cfg, full=False)
    return D.dora_period(con, cfg, p, by=by, facts=(c, d), gaps=gaps)


def period_metrics_many(con, *, by: tuple[str, ...] = ("team", "org"), unit: str = "deployment", **kw) -> dict[str, pd.DataFrame]:
    """:func:`period_metrics` for each grouping in ``by``, from one query: ``{grouping: rows}``,
    each as :func:`period_metrics` returns it.

    DuckDB computes the groupings side by side. The org's medians over every change run on one
    thread, so beside the team rows they cost little: at 10,000 teams the team and org roll-ups took
    7.7–8.2 s together against 9.1–10.3 s one after the other.
    """
    cfg = D.dora_config(**kw)
    parts = [_period(con, b, unit, cfg).mutate(_by=ibis.literal(b)) for b in by]
    df = to_frame(functools.reduce(lambda a, b: a.union(b), parts))
    out = {}
    for b in by:
        rows = df[df["_by"] == b].drop(columns="_by")
        out[b] = rows.sort_values("group", kind="stable").reset_index(drop=True)
    return out
