"""A change of architecture studied as a staggered DiD event: ``ctssw impact --event architecture:FROM->TO``.

The teams table holds one architecture per team, with no dates. Dated changes come from an
architecture CSV (like the rollout CSV), one row per change::

    team,date,from,to
    payments,2025-03-03,monolith,service

The event ``architecture:monolith->service`` treats each team with that change from the week of its
date (absorbing); teams that never change, and those that change later (not yet), are the controls;
teams with any other change are left out (they are neither treated by this event nor clean
controls). The effect is estimated by the staggered DiD engine (Callaway-Sant'Anna with
not-yet-treated controls by default, or the imputation estimator) on an outcome whose meaning does
not change with the architecture (deployments per builder-week by default; CTS-SW itself changes
unit when a monolith becomes services, so compare it per architecture with ``--by-architecture``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, SchemaError
from ..estimators.results import jsonable

__all__ = ["architecture_event", "architecture_event_from_store", "parse_event", "read_architecture_changes"]

ARCHITECTURES = ("service", "monolith", "trunk")


def parse_event(event: str) -> tuple[str, str]:
    """``"architecture:monolith->service"`` as ``("monolith", "service")``."""
    kind, sep, rest = str(event).partition(":")
    src, arrow, dst = rest.partition("->")
    if kind != "architecture" or not sep or not arrow or src not in ARCHITECTURES or dst not in ARCHITECTURES or src == dst:
        raise ConfigError(f"--event must be architecture:FROM->TO with FROM and TO two of {', '.join(ARCHITECTURES)}; got {event!r}")
    return src, dst


def read_architecture_changes(path: str | Path) -> pd.DataFrame:
    """The architecture CSV (``team,date,from,to``), dates moved to their week's Monday."""
    try:
        f = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as e:
        raise SchemaError(f"{path}: cannot read the architecture CSV ({e})") from None
    need = ["team", "date", "from", "to"]
    if not set(need) <= set(f.columns):
        raise SchemaError(f"{path}: expected columns team,date,from,to; got {list(f.columns)}")
    d = pd.to_datetime(f["date"], errors="coerce")
    if d.isna().any():
        raise SchemaError(f"{path}: unparseable date(s) in rows {list(np.flatnonzero(d.isna())[:5])}")
    bad = sorted(set(f["from"]).union(f["to"]) - set(ARCHITECTURES))
    if bad:
        raise SchemaError(f"{path}: unknown architecture(s) {bad}; expected {', '.join(ARCHITECTURES)}")
    return pd.DataFrame({"team": f["team"].astype(str), "week": d.dt.normalize() - pd.to_timedelta(d.dt.day_of_week, unit="D"),
                         "from": f["from"], "to": f["to"]})


def architecture_event(panel_df: pd.DataFrame, changes: pd.DataFrame, event: str, *, outcome: str = "deploys_per_builder",
                       method: str = "cs", level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """The effect of the change ``event`` on ``outcome``, and relative to the changing teams' level after
    the change without it (their mean over the weeks after it, less the effect)."""
    from ..estimators import staggered_did

    src, dst = parse_event(event)
    if method not in ("cs", "imputation"):
        raise ConfigError(f"with --event, method must be cs or imputation; got {method!r}")
    if outcome not in panel_df.columns:
        raise ConfigError(f"column {outcome!r} not in the panel")
    hit = changes[(changes["from"] == src) & (changes["to"] == dst)]
    first = hit.groupby("team")["week"].min()
    other = sorted(set(changes["team"]) - set(first.index))
    teams = set(panel_df["team_id"].astype(str))
    unknown = sorted(set(first.index) - teams)
    if first.empty or not set(first.index) & teams:
        raise ConfigError(f"no team of the panel changes {src} -> {dst} in the architecture CSV")
    p = panel_df.assign(team_id=panel_df["team_id"].astype(str), week=pd.to_datetime(panel_df["week"]))
    p = p[~p["team_id"].isin(other)].copy()
    p["cohort"] = p["team_id"].map(first)
    never = p["cohort"].isna()
    p["cohort"] = p["cohort"].fillna(pd.Timestamp.max.normalize())
    p = p[p[outcome].notna()]
    if p.loc[~never, "team_id"].nunique() < 2 or p.loc[never | (p["week"] < p["cohort"]), "team_id"].nunique() < 2:
        raise ConfigError("too few changing or comparison teams for a DiD")
    res = staggered_did(p.assign(cohort=p["cohort"].where(~never, np.nan)), y=outcome, unit="team_id", time="week", cohort="cohort",
                        method=method, control="notyet", level=level, seed=seed)
    att = res.aggregate("simple").overall
    # the changing teams' counterfactual level after the change: their observed mean there less the effect
    post = p[~never & (p["week"] >= p["cohort"])]
    base = float(post[outcome].mean()) - float(att.estimate)
    rel = {k: (float(v) / base if base > 0 else None) for k, v in (("estimate", att.estimate), ("ci_low", att.ci_low), ("ci_high", att.ci_high))}
    text = [f"Architecture change {src} -> {dst}: {first.size} team(s) changing, {int(never.groupby(p['team_id']).first().sum())} never "
            f"changing; {len(other)} team(s) with other changes left out",
            f"  effect on {outcome}: {att.estimate:+.4f} ({level:.0%} CI {att.ci_low:+.4f} to {att.ci_high:+.4f}; {method}, not-yet-changed controls)"]
    if rel["estimate"] is not None:
        text.append(f"  relative to the changing teams' level without it ({base:.4f}): {rel['estimate']:+.1%} "
                    f"({rel['ci_low']:+.1%} to {rel['ci_high']:+.1%})")
    if unknown:
        text.append(f"  note: {len(unknown)} team(s) of the CSV are not in the panel: {', '.join(unknown[:5])}")
    return jsonable({"event": event, "from": src, "to": dst, "method": method, "outcome": outcome,
                     "teams_changing": int(first.size), "teams_left_out": other, "teams_not_in_panel": unknown,
                     "effect": att.to_dict(), "baseline": base, "relative_effect": rel,
                     "cohorts": {str(k.date()): int(v) for k, v in first.value_counts().sort_index().items()},
                     "text": "\n".join(text)})


def architecture_event_from_store(db: str | Path, event: str, changes: str | Path, *, panel_file: str | Path | None = None,
                                  backend: str = "duckdb", spark_url: str | None = None, lake: str | Path | None = None,
                                  **kw) -> dict[str, Any]:
    """:func:`architecture_event` on the store's panel (or a panel file) with the architecture CSV ``changes``;
    ``backend``, ``spark_url`` and ``lake`` choose where the panel is built, as for ``ctssw panel``."""
    from ..panel import panel, read_panel
    from ..panel.backend import connect

    parse_event(event)
    ch = read_architecture_changes(changes)
    if panel_file is not None:
        p = read_panel(panel_file)
    else:
        con, close = connect(backend, db=db, spark_url=spark_url, lake=lake)
        try:
            p = panel(con)
        finally:
            close()
    if p.empty:
        raise ConfigError(f"the store {db} holds no team-weeks")
    return architecture_event(p, ch, event, **kw)
