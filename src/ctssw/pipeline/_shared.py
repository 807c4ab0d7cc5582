"""The panel of a connection several sections of one command share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pandas as pd


@contextmanager
def sections_connection(**where) -> Iterator[object]:
    """:func:`ctssw.panel.backend.shared_connection` for a command's sections, and the rows
    ``ctssw.metrics`` kept for that connection forgotten when the block ends (on an error too),
    while the connection is still open to drop them."""
    from ..metrics import clear_cache
    from ..panel.backend import shared_connection

    with shared_connection(**where) as con:
        try:
            yield con
        finally:
            clear_cache()


def section_panel(con, **kw) -> pd.DataFrame:
    """``ctssw.panel.panel(con, **kw)``, built once per command where that pays.

    On the connection a :func:`ctssw.panel.backend.shared_connection` block holds (``ctssw report``
    on Spark: drivers, the tools, the impact and the metrics each want a unit's panel), the plain
    panel is the rows :func:`ctssw.metrics.metrics_panel` materialises and keeps, so it is built
    once; a tool's panel is those rows with the columns a tool changes (``TOOL_COLUMNS``) built
    for it alone. Any other panel (other costs, dates) and any other connection build it anew: a
    connection nobody shares is closed by its caller, and what it kept would outlive it.
    """
    from ..metrics import metrics_panel
    from ..panel import TOOL_COLUMNS, panel, panel_config

    cfg = panel_config(**kw)
    if not _kept_here(con, cfg):
        return panel(con, **kw)
    base = metrics_panel(con, unit=cfg.unit)
    if cfg.tool is None and cfg.feature is None:
        return base
    own = tool_columns(con, **kw)
    return base.drop(columns=list(TOOL_COLUMNS)).merge(own, on=["team_id", "week"], how="left")[list(base.columns)]


def tool_columns(con, columns: tuple[str, ...] | None = None, **kw) -> pd.DataFrame:
    """``team_id``, ``week`` and ``columns`` (default and at most: the columns a tool changes,
    ``TOOL_COLUMNS``) of the panel ``ctssw.panel.panel(con, **kw)`` for the tool (and feature)
    ``kw`` names.

    On a shared connection (see :func:`section_panel`), with the plain panel's costs, all of
    ``TOOL_COLUMNS`` are built once per tool and kept with the metrics' rows until
    ``ctssw.metrics.clear_cache``: the report's tools section and its impact section read one
    tool's columns. Elsewhere only ``columns`` are built.
    """
    from ..metrics import kept
    from ..panel import TOOL_COLUMNS, panel, panel_config

    columns = TOOL_COLUMNS if columns is None else columns
    cfg = panel_config(**kw)
    if not _kept_here(con, cfg):
        return panel(con, columns=columns, **kw)
    got = kept(con, "tool columns", cfg.unit, cfg.tool, cfg.feature)
    if "rows" not in got:
        got["rows"] = panel(con, columns=TOOL_COLUMNS, **kw)
    return got["rows"][["team_id", "week", *columns]]


def _kept_here(con, cfg) -> bool:
    """Whether ``con`` is shared and ``cfg`` is its unit's plain panel, or that panel for one tool."""
    from ..panel import panel_config
    from ..panel.backend import is_shared

    return is_shared(con) and replace(cfg, tool=None, feature=None) == panel_config(unit=cfg.unit)
