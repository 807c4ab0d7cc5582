"""When did each team adopt a tool?

``adoption_cohorts`` derives the adoption week from usage: the first week the
team's tool share reaches a threshold (optionally held for several weeks);
teams that never get there are never treated. ``rollout_cohorts`` reads
explicit rollout dates from a CSV of ``team,date`` instead.

Examples
--------
>>> import pandas as pd
>>> p = pd.DataFrame({"team_id": ["a"] * 4 + ["b"] * 4, "week": list(range(4)) * 2,
...                   "ai_share": [0, .2, .6, .7, 0, .1, .2, .1]})
>>> adoption_cohorts(p)
  team_id  adoption_week
0       a            2.0
1       b            NaN
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, SchemaError

__all__ = ["adoption_cohorts", "rollout_cohorts"]


def adoption_cohorts(
    panel: pd.DataFrame,
    *,
    tool_col: str = "ai_share",
    threshold: float = 0.5,
    sustain: int = 1,
    unit: str = "team_id",
    time: str = "week",
    out_col: str = "adoption_week",
) -> pd.DataFrame:
    """First week each unit's tool share reaches ``threshold`` for ``sustain`` weeks in a row.

    Parameters
    ----------
    panel : DataFrame
        Team-week panel with ``unit``, ``time`` and ``tool_col``.
    tool_col : str
        Share of the team's builders using the tool (0..1).
    threshold : float
        Share that counts as adopted, in (0, 1].
    sustain : int
        Consecutive weeks at or above the threshold required; the adoption week
        is the first of them.
    unit, time : str
        Unit and period columns.
    out_col : str
        Name of the returned adoption column.

    Returns
    -------
    DataFrame
        One row per unit: ``unit`` and ``out_col`` (the adoption period, NaN or
        NaT when never adopted).
    """
    if not 0 < threshold <= 1:
        raise ConfigError(f"threshold must be in (0, 1], got {threshold!r}")
    if not isinstance(sustain, (int, np.integer)) or sustain < 1:
        raise ConfigError(f"sustain must be a positive integer, got {sustain!r}")
    missing = [c for c in (unit, time, tool_col) if c not in panel.columns]
    if missing:
        raise SchemaError(f"panel lacks column(s) {missing}")
    d = panel[[unit, time, tool_col]].sort_values([unit, time])
    hit = (d[tool_col].fillna(0).to_numpy(dtype=float) >= threshold).astype(np.int64)
    units = d[unit].to_numpy()
    # run length of consecutive hits ending at each row, restarting at each unit
    new_unit = np.r_[True, units[1:] != units[:-1]]
    block = np.cumsum((hit == 0) | new_unit)
    run = pd.Series(hit).groupby(block).cumsum().to_numpy()
    ok = run >= sustain
    start_idx = np.arange(len(hit)) - sustain + 1
    times = d[time].to_numpy()
    first = pd.DataFrame({unit: units[ok], out_col: times[start_idx[ok]]}).groupby(unit, sort=True)[out_col].min()
    all_units = pd.Index(pd.unique(units), name=unit).sort_values()
    out = first.reindex(all_units).reset_index()
    return out


def rollout_cohorts(
    path: str | Path,
    *,
    unit: str = "team_id",
    out_col: str = "adoption_week",
    week_start: bool = True,
) -> pd.DataFrame:
    """Explicit rollout dates from a CSV with columns ``team,date``.

    Dates are moved to the Monday of their ISO week (``week_start=True``) so they
    line up with the panel's weeks. Teams listed more than once keep their
    earliest date.
    """
    f = pd.read_csv(path)
    if list(f.columns[:2]) != ["team", "date"] and not {"team", "date"} <= set(f.columns):
        raise SchemaError(f"{path}: expected columns team,date; got {list(f.columns)}")
    d = pd.to_datetime(f["date"], errors="coerce")
    if d.isna().any():
        raise SchemaError(f"{path}: unparseable date(s) in rows {list(np.flatnonzero(d.isna())[:5])}")
    if week_start:
        d = d.dt.normalize() - pd.to_timedelta(d.dt.day_of_week, unit="D")
    out = pd.DataFrame({unit: f["team"].astype(str), out_col: d}).groupby(unit, as_index=False)[out_col].min()
    return out
