"""The team × week panel (DESIGN §3), built with Ibis over the store."""

from __future__ import annotations

import pandas as pd

from ._build import (
    CHANGE_ROLES,
    FEATURES,
    PANEL_COLUMNS,
    TOOL_COLUMNS,
    UNITS,
    PanelConfig,
    build_panel,
    panel_config,
)
from ._build import change_shares as _change_shares
from ._build import tool_shares as _tool_shares
from ._commits import id_key, stored_keys
from ._frame import to_arrow, to_frame
from ._time import day_of, epoch_us, week_of

__all__ = ["CHANGE_ROLES", "FEATURES", "PANEL_COLUMNS", "TOOL_COLUMNS", "UNITS", "PanelConfig", "change_shares", "panel",
           "panel_expr", "panel_frame", "read_panel", "to_arrow", "to_frame", "tool_shares", "day_of", "epoch_us", "week_of",
           "id_key", "stored_keys"]


def panel_expr(con, *, columns: tuple[str, ...] | None = None, **kw):
    """The panel as an Ibis table expression over backend ``con``.

    Parameters
    ----------
    con : ibis backend
        Holds the canonical tables (``Store.ibis()`` for the DuckDB store).
    columns : tuple of str, optional
        Build only these of ``PANEL_COLUMNS`` (default: all), after ``team_id`` and ``week``;
        parts no selected column needs are skipped.
    **kw
        :class:`PanelConfig` fields: ``unit`` ("deployment", "change", "commit" or
        "team" for each team's own unit), ``tool``, ``loaded_annual_cost``, ...
    """
    return build_panel(con, panel_config(**kw), columns)


def panel(con, **kw) -> pd.DataFrame:
    """The panel materialised as a pandas DataFrame (the seam to the estimators)."""
    return panel_frame(to_arrow(panel_expr(con, **kw)))


def panel_frame(table) -> pd.DataFrame:
    """A panel fetched as Arrow (:func:`to_arrow` of :func:`panel_expr`) as :func:`panel` returns it."""
    df = table.to_pandas()
    df["week"] = pd.to_datetime(df["week"])
    return df.reset_index(drop=True)


def tool_shares(con, **kw) -> pd.DataFrame:
    """Per team, week, tool and feature: the share of the team's members active with it (ai_share[tool]
    and per feature), in long form; see :func:`ctssw.panel._build.tool_shares`.

    Parameters
    ----------
    con : ibis backend
        Holds the canonical tables (``Store.ibis()``).
    **kw
        :class:`PanelConfig` fields (``start``, ``end``, ...).
    """
    df = to_frame(_tool_shares(con, panel_config(**kw)))
    df["week"] = pd.to_datetime(df["week"])
    return df.reset_index(drop=True)


def change_shares(con, **kw) -> pd.DataFrame:
    """Per team, week, role (``agent``: authored or co-authored, ``review``: reviewed) and tool: the
    merged changes an AI agent took part in and their share of the team's merged changes, in long
    form; see :func:`ctssw.panel._build.change_shares`.
    """
    df = to_frame(_change_shares(con, panel_config(**kw)))
    df["week"] = pd.to_datetime(df["week"])
    return df.reset_index(drop=True)


def read_panel(path) -> pd.DataFrame:
    """A panel written by ``ctssw panel`` (Parquet or CSV), checked for the panel's columns."""
    from pathlib import Path

    from ..errors import SchemaError

    path = Path(path)
    try:
        df = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise SchemaError(f"{path}: cannot read as a panel file ({e})") from None
    missing = [c for c in PANEL_COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError(f"{path}: not a ctssw panel; missing column(s) {', '.join(missing)}")
    df["week"] = pd.to_datetime(df["week"])
    return df
