"""The panel of a connection several sections of one command share."""

from __future__ import annotations

import pandas as pd


def section_panel(con, **kw) -> pd.DataFrame:
    """``ctssw.panel.panel(con, **kw)``, built once per command where that pays.

    On the connection a :func:`ctssw.panel.backend.shared_connection` block holds (``ctssw report``
    on Spark: drivers, the tools and the metrics each want a unit's plain panel), the plain panel
    is the rows :func:`ctssw.metrics.metrics_panel` materialises and keeps, so it is built once.
    Any other panel (a tool's shares, other costs) and any other connection build it anew: a
    connection nobody shares is closed by its caller, and what it kept would outlive it.
    """
    from ..metrics import metrics_panel
    from ..panel import panel, panel_config
    from ..panel.backend import is_shared

    unit = kw.get("unit", "deployment")
    if is_shared(con) and panel_config(**kw) == panel_config(unit=unit):
        return metrics_panel(con, unit=unit)
    return panel(con, **kw)
