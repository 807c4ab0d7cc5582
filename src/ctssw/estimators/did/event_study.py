"""The event-study table of a staggered-DiD fit, for plots and reports."""

from __future__ import annotations

import pandas as pd

from ...errors import ConfigError
from .model import DidAggregate, DidResult

__all__ = ["event_study_frame"]


def event_study_frame(result: DidResult | DidAggregate, *, min_e: int | None = None, max_e: int | None = None) -> pd.DataFrame:
    """Event-study data ready to plot.

    Returns
    -------
    DataFrame
        Columns ``event_time``, ``att``, ``se``, ``ci_low``, ``ci_high``,
        ``band_low``, ``band_high`` (uniform band), one row per event time.
    """
    agg = result if isinstance(result, DidAggregate) else result.aggregate("dynamic", min_e=min_e, max_e=max_e)
    if agg.kind != "dynamic":
        raise ConfigError(f"an event study needs the 'dynamic' aggregation, got {agg.kind!r}")
    return agg.table[["event_time", "att", "se", "ci_low", "ci_high", "band_low", "band_high"]].reset_index(drop=True)

