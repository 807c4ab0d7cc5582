"""The team × week panel (DESIGN §3), built with Ibis over the store."""

from __future__ import annotations

import pandas as pd

from ._build import PANEL_COLUMNS, UNITS, PanelConfig, build_panel, panel_config

__all__ = ["PANEL_COLUMNS", "UNITS", "PanelConfig", "panel", "panel_expr"]


def panel_expr(con, **kw):
    """The panel as an Ibis table expression over backend ``con``.

    Parameters
    ----------
    con : ibis backend
        Holds the canonical tables (``Store.ibis()`` for the DuckDB store).
    **kw
        :class:`PanelConfig` fields: ``unit`` ("deployment", "change", "commit" or
        "team" for each team's own unit), ``tool``, ``loaded_annual_cost``, ...
    """
    return build_panel(con, panel_config(**kw))


def panel(con, **kw) -> pd.DataFrame:
    """The panel materialised as a pandas DataFrame (the seam to the estimators)."""
    df = panel_expr(con, **kw).to_pandas()
    df["week"] = pd.to_datetime(df["week"])
    return df.reset_index(drop=True)
