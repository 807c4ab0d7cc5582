"""Calendar keys of a timestamp: its UTC day and the Monday of its week."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir

from .backend import on_duckdb


@ibis.udf.scalar.builtin(name="epoch_us")
def epoch_us(x) -> idt.Int64:  # DuckDB: microseconds since the epoch, of a timestamp with or without zone
    ...


@ibis.udf.scalar.builtin(name="make_timestamp")
def _make_timestamp(us: idt.int64) -> idt.Timestamp():  # DuckDB's plain timestamp of those microseconds
    ...


def _utc(ts: ir.TimestampValue, con) -> ir.TimestampValue:
    """``ts`` as a plain UTC timestamp on DuckDB, as itself elsewhere.

    DuckDB takes the date of a zoned timestamp through the ICU calendar of the session's time
    zone: over the 22M production deployments of a 10,000-team organisation, 0.74 s for the day
    and 0.85 s for the week's Monday, against 0.30 and 0.37 s through the microseconds (the rows'
    identifiers alone: 0.23 s). The microseconds are UTC whatever the session's zone; the store
    sets UTC, so the two agree on every row there.
    """
    if con is None or not on_duckdb(con) or ts.type().timezone is None:  # a plain one needs no calendar
        return ts
    return _make_timestamp(epoch_us(ts))


def day_of(ts: ir.Value, con=None) -> ir.Value:
    """The UTC date of ``ts`` (a timestamp; ``con`` is its backend, for DuckDB's faster path)."""
    return _utc(ts, con).date()


def week_of(ts: ir.Value, con=None) -> ir.Value:
    """The Monday of ``ts``'s week (UTC). Through the date: truncating a zoned timestamp goes
    through the calendar of its time zone, a plain one does not (and the result stays a date)."""
    return _utc(ts, con).date().cast("timestamp").truncate("W").date()
