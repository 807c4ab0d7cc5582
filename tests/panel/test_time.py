"""Calendar keys of zoned timestamps: DuckDB's path through the epoch microseconds."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from ctssw.panel import day_of, week_of

TIMES = [
    "1969-12-28 23:59:59.999999+00",  # a Sunday before the epoch: negative microseconds
    "1970-01-01 00:00:00+00",
    "2024-03-03 23:59:59.999999+00",  # Sunday, the last instant of its week
    "2024-03-04 00:00:00+00",  # Monday
    "2024-03-04 00:30:00+01",  # Sunday 23:30 UTC
    None,
]


@pytest.fixture()
def con():
    c = ibis.duckdb.connect()
    c.raw_sql("SET TimeZone = 'UTC'")
    values = ", ".join("(NULL::TIMESTAMPTZ)" if t is None else f"(TIMESTAMPTZ '{t}')" for t in TIMES)
    c.raw_sql(f"CREATE TABLE t AS SELECT * FROM (VALUES {values}) v(ts)")
    return c


def _keys(c, fast: bool):
    t = c.table("t")
    arg = c if fast else None
    return c.to_pyarrow(t.select(d=day_of(t.ts, arg), w=week_of(t.ts, arg))).to_pylist()


def test_the_fast_path_gives_the_portable_days_and_weeks(con):
    got = _keys(con, fast=True)
    assert got == _keys(con, fast=False)
    assert got[2] == {"d": dt.date(2024, 3, 3), "w": dt.date(2024, 2, 26)}
    assert got[3] == {"d": dt.date(2024, 3, 4), "w": dt.date(2024, 3, 4)}
    assert got[4] == {"d": dt.date(2024, 3, 3), "w": dt.date(2024, 2, 26)}
    assert got[0] == {"d": dt.date(1969, 12, 28), "w": dt.date(1969, 12, 22)}
    assert got[-1] == {"d": None, "w": None}


def test_the_fast_path_is_utc_whatever_the_session_zone(con):
    want = _keys(con, fast=True)
    con.raw_sql("SET TimeZone = 'Pacific/Kiritimati'")  # UTC+14: every instant above is a day later there
    assert _keys(con, fast=True) == want
    assert _keys(con, fast=False) != want


def test_a_plain_timestamp_is_taken_as_it_is(con):
    t = con.table("t")
    plain = t.select(p=t.ts.cast("timestamp"))
    assert plain.p.type().timezone is None
    assert str(con.compile(plain.select(w=week_of(plain.p, con)))).count("EPOCH_US") == 0
