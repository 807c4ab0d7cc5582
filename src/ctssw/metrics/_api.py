"""Public entry points: each builds its config once, then calls the Ibis builders."""

from __future__ import annotations

import pandas as pd

from ..panel import panel_expr
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
    p = panel_expr(con, unit=unit)
    w = D.dora_weekly(con, cfg, p)
    j = p.left_join(w, ["team_id", "week"]).drop("team_id_right", "week_right")
    j = D._in_period(j, "week", cfg).order_by(["team_id", "week"])
    if expr:
        return j
    df = j.to_pandas()
    df["week"] = pd.to_datetime(df["week"])
    return df.reset_index(drop=True)


def period_metrics(con, *, by: str = "team", unit: str = "deployment", expr: bool = False, **kw):
    """DORA, CTS-SW, velocity, delivery health and pages over a period, per team, parent or org.

    ``since``/``until`` (dates, inclusive, compared with the Monday of each week)
    bound the period; rates are ratios of sums over the team-weeks in it.
    """
    cfg = D.dora_config(**kw)
    t = D.dora_period(con, cfg, panel_expr(con, unit=unit), by=by)
    return t if expr else t.to_pandas().reset_index(drop=True)
