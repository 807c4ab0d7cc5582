"""Durations in hours at one-second resolution: DuckDB's fast path equals the portable one."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from ctssw.metrics._dora import _hours


def test_the_duckdb_seconds_equal_the_portable_seconds():
    a = pd.to_datetime(["2024-03-31 00:59:59.9", "2024-10-27 00:30:00.2", "2024-01-01 10:00:00.999999",
                        "1969-12-31 23:59:59.5", "2024-05-01 12:00:00", None], utc=True, format="ISO8601")
    b = pd.to_datetime(["2024-03-31 01:00:00.1", "2024-10-27 03:30:00.1", "2024-01-01 09:59:59.5",
                        "1970-01-01 00:00:00.5", None, "2024-05-01 12:00:00"], utc=True, format="ISO8601")
    con = ibis.duckdb.connect()
    t = ibis.memtable(pd.DataFrame({"a": a, "b": b}))
    fast = con.execute(t.select(h=_hours(t.a, t.b, con)))["h"].to_numpy(float)
    portable = con.execute(t.select(h=_hours(t.a, t.b)))["h"].to_numpy(float)
    # floored to whole seconds first: 00:59:59 → 01:00:00 is one second; a negative span is NULL
    want = np.array([1 / 3600, 3.0, np.nan, 1 / 3600, np.nan, np.nan])
    np.testing.assert_allclose(fast, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(portable, want, rtol=1e-12, atol=0)
