"""``ctssw drivers``: the panel from a store, then the sensitivity analysis."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..estimators import DriversResult, sensitivity
from ..panel import panel
from ..store import Store

__all__ = ["drivers_from_store"]


def drivers_from_store(
    db: str | Path, *, k: int = 5, unit: str = "deployment", level: float = 0.95,
    backend: str = "duckdb", spark_url: str | None = None,
) -> DriversResult:
    """Build the panel from the store at ``db`` (on ``backend``) and run the sensitivity analysis."""
    if backend == "duckdb":
        with Store(db, read_only=True) as store:
            df = panel(store.ibis(), unit=unit)
    else:
        from ..panel.backend import connect

        con, close = connect(backend, db=db, spark_url=spark_url)
        try:
            df = panel(con, unit=unit)
        finally:
            close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # they are in res.warnings and res.notes, printed by the command
        return sensitivity(df, k=k, level=level)
