"""Metrics over the store and the panel: linkage, DORA and flow, CTS-SW roll-ups.

Team-week and period metrics are Ibis expressions over any backend holding the
canonical tables (DuckDB store or Spark); org and hierarchy figures are ratios of
sums, never means of ratios.
"""

from __future__ import annotations

from ._api import (
    change_links,
    clear_cache,
    deployment_links,
    incident_links,
    kept,
    metrics_panel,
    period_metrics,
    period_metrics_many,
    store_gaps,
    team_week_metrics,
)
from ._dora import PERIOD_COLUMNS, WEEKLY_COLUMNS, DoraConfig, dora_config
from .rollup import cts_change, org_weekly

__all__ = [
    "PERIOD_COLUMNS",
    "WEEKLY_COLUMNS",
    "DoraConfig",
    "change_links",
    "clear_cache",
    "cts_change",
    "deployment_links",
    "dora_config",
    "incident_links",
    "kept",
    "metrics_panel",
    "org_weekly",
    "period_metrics",
    "period_metrics_many",
    "store_gaps",
    "team_week_metrics",
]
