"""``ctssw drivers``: the panel from a store, then the sensitivity analysis.

A driver without data in the store (its source absent, e.g. pages without PagerDuty) is left out
with a note naming the command that would supply it, so one missing source never drops every
row; ``drivers`` chooses them explicitly.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import ConfigError, MissingDataError
from ..estimators import DriversResult, sensitivity
from ..estimators.lmm.drivers import DEFAULT_DRIVERS
from ..panel.backend import connect
from ..store import open_lake
from ..store.gaps import source_gaps
from ._shared import section_panel

__all__ = ["choose_drivers", "drivers_from_store"]


def choose_drivers(df, candidates, gaps: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """The candidate drivers with data in the team-weeks where CTS-SW is defined, and notes on the rest."""
    gaps = gaps or {}
    missing = [c for c in candidates if c not in df.columns]
    if missing:
        raise ConfigError(f"unknown driver(s) {', '.join(missing)}; the panel's columns include {', '.join(DEFAULT_DRIVERS)}")
    rows = df[df["cts_sw"].notna()] if "cts_sw" in df.columns else df
    keep, notes = [], []
    for c in candidates:
        v = rows[c]
        if v.notna().sum() == 0:
            notes.append(f"driver {c} left out: {gaps.get(c) or 'no value in any team-week with CTS-SW defined'}")
        elif v.dropna().nunique() < 2:
            notes.append(f"driver {c} left out: the same value in every team-week with CTS-SW defined")
        else:
            keep.append(c)
    return keep, notes


def drivers_from_store(
    db: str | Path, *, k: int = 5, unit: str = "deployment", level: float = 0.95, drivers: list[str] | None = None,
    backend: str = "duckdb", spark_url: str | None = None, lake: str | Path | None = None,
) -> DriversResult:
    """Build the panel from the store at ``db`` (on ``backend``) and run the sensitivity analysis on the
    drivers with data. Which sources the store lacks is always read from the DuckDB store itself."""
    from ..store import check_lake

    check_lake(backend, lake)
    with open_lake(lake, db=db) as store:
        gaps = source_gaps(store.ibis())
    scon, close = connect(backend, db=db, spark_url=spark_url, lake=lake)
    try:
        df = section_panel(scon, unit=unit)
    finally:
        close()
    keep, notes = choose_drivers(df, tuple(drivers) if drivers else DEFAULT_DRIVERS, gaps)
    if not keep:
        raise MissingDataError(
            "no driver has data in the team-weeks where CTS-SW is defined (" + "; ".join(notes) + "); see ctssw status"
        )
    if df["cts_sw"].notna().sum() == 0:
        raise MissingDataError(
            f"CTS-SW is undefined in every team-week (no {unit}s): ingest deployments "
            "(ctssw ingest git REPO... --deployments tags) or choose --unit change; see ctssw status"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # they are in res.warnings and res.notes, printed by the command
        res = sensitivity(df, drivers=tuple(keep), k=k, level=level,
                          random_slope="velocity" if "velocity" in keep else None)
    res.notes[:0] = notes
    return res
