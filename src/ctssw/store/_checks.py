"""What makes a row unfit to store: wrong types, implausible times, non-finite or fractional numbers.

Each check is SQL producing a reason (or NULL) per row, so the loader quarantines the row
with every reason that applies and loads the rest.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ._schema import Table
from ._sql import ident as _q

EARLIEST = dt.date(1990, 1, 1)
INTEGER_TYPES = ("BIGINT", "INTEGER")
TIME_TYPES = ("TIMESTAMPTZ", "DATE")


def _date(v: dt.date | str | None, what: str) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v.date() if isinstance(v, dt.datetime) else v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise ConfigError(f"{what} must be a date YYYY-MM-DD; got {v!r}") from None


@dataclass(frozen=True)
class TimeWindow:
    """Plausible times: from ``not_before`` (default 1990-01-01) to ``not_after`` (default: one day after the load)."""

    not_before: dt.date = EARLIEST
    not_after: dt.date | None = None

    @classmethod
    def of(cls, not_before: dt.date | str | None, not_after: dt.date | str | None) -> TimeWindow:
        a = _date(not_before, "not_before") or EARLIEST
        b = _date(not_after, "not_after")
        if b is not None and b < a:
            raise ConfigError(f"the plausible window is empty: {a} is after {b}")
        return cls(a, b)

    def bounds(self, now: dt.datetime) -> tuple[dt.date, dt.date]:
        return self.not_before, self.not_after or (now + dt.timedelta(days=1)).date()


# DuckDB's names for input types that need no cast to a column's type
SAME_TYPE = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
WHOLE_INPUTS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")


def type_reasons(t: Table, cols_in: list[str], types: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """The typed projection of ``_raw`` and the SQL reasons a value cannot take its column's type.

    With ``types`` (each input column's DuckDB type), checks that cannot fail for that type
    are left out: a column already of its type is never the wrong type, an integer input is
    never fractional.
    """
    types = types or {}
    typed, reasons = [], []
    for col in t.columns:
        if col.name in cols_in:
            src = f"_raw.{_q(col.name)}"
            have = types.get(col.name)
            if have in (col.type, SAME_TYPE.get(col.type)):
                cast = src
            else:
                cast = f"TRY_CAST({src} AS {col.type})"
                reasons.append(
                    f"CASE WHEN {src} IS NOT NULL AND {cast} IS NULL "
                    f"THEN 'wrong type in {col.name}: expected {col.type}' END"
                )
            if col.type in INTEGER_TYPES and have not in WHOLE_INPUTS:
                # DuckDB rounds '2.5' to 3: a fractional count is kept out, never rounded
                reasons.append(
                    f"CASE WHEN {cast} IS NOT NULL AND TRY_CAST({src} AS DOUBLE) <> {cast} "
                    f"THEN 'not a whole number in {col.name}' END"
                )
        else:
            cast = f"CAST({col.default or 'NULL'} AS {col.type})"
        if col.default is not None:
            cast = f"COALESCE({cast}, {col.default})"
        if col.required:
            reasons.append(f"CASE WHEN {cast} IS NULL THEN 'missing {col.name}' END")
        typed.append(f"{cast} AS {_q(col.name)}")
    return typed, reasons


def late_checks(t: Table, window: tuple[dt.date, dt.date]) -> list[str]:
    """SQL reasons over typed rows: the table's own checks, allowed values, known teams,
    finite numbers and plausible times."""
    late = []
    for col in t.columns:
        n = _q(col.name)
        if col.type == "DOUBLE":
            late.append(f"CASE WHEN {n} IS NOT NULL AND NOT isfinite({n}) THEN 'not a finite number in {col.name}' END")
        elif col.type in TIME_TYPES:
            a, b = window
            if col.type == "DATE":
                # the same bounds as dates (the store's session is UTC): a date cast to a zoned
                # timestamp goes through the ICU calendar, 0.2 s of 2.4M tool-usage days
                lo, hi = f"DATE '{a.isoformat()}'", f"DATE '{(b + dt.timedelta(days=1)).isoformat()}'"
            else:
                lo = f"TIMESTAMPTZ '{a.isoformat()} 00:00:00+00'"
                hi = f"(TIMESTAMPTZ '{b.isoformat()} 00:00:00+00' + INTERVAL 1 DAY)"
            late.append(
                f"CASE WHEN {n} IS NOT NULL AND ({n} < {lo} OR {n} > {hi}) "
                f"THEN 'implausible {col.name}: outside {a} to {b}' END"
            )
    for cond, why in t.checks:
        late.append(f"CASE WHEN NOT COALESCE({cond}, true) THEN '{why}' END")
    for col, allowed in t.allowed.items():
        vals = ", ".join(f"'{v}'" for v in allowed)
        late.append(
            f"CASE WHEN {_q(col)} IS NOT NULL AND {_q(col)} NOT IN ({vals}) "
            f"THEN 'unknown {col}: expected one of {'/'.join(allowed)}' END"
        )
    for ref in t.team_refs:
        late.append(
            f"CASE WHEN ({ref}) IS NOT NULL AND ({ref}) NOT IN (SELECT team_id FROM teams) "
            f"THEN 'unknown team ' || ({ref}) END"
        )
    return late


def load_rates(rates: str | Path | dict | None) -> dict[str, tuple[str, float]]:
    """Currency rates as ``{CURRENCY: (TO, rate)}`` from a dict or a ``currency,to,rate`` CSV."""
    if rates is None:
        return {}
    if isinstance(rates, dict):
        rows = [(k, *v) for k, v in rates.items()]
        where = "rates"
    else:
        where = str(rates)
        try:
            with open(rates, newline="", encoding="utf-8-sig") as f:
                rd = csv.DictReader(f)
                if not rd.fieldnames or not {"currency", "to", "rate"} <= {h.strip().lower() for h in rd.fieldnames}:
                    raise DataError(f"{where}: expected a CSV with columns currency,to,rate")
                rows = [tuple((r.get(h) or "").strip() for h in rd.fieldnames) for r in rd]
                idx = [h.strip().lower() for h in rd.fieldnames]
                rows = [(r[idx.index("currency")], r[idx.index("to")], r[idx.index("rate")]) for r in rows]
        except OSError as e:
            raise DataError(f"{where}: cannot read ({e.strerror or e}); expected a CSV with columns currency,to,rate") from None
        except (UnicodeDecodeError, csv.Error):
            raise DataError(f"{where}: not a readable CSV; expected columns currency,to,rate") from None
    out: dict[str, tuple[str, float]] = {}
    for cur, to, rate in rows:
        try:
            x = float(rate)
        except (TypeError, ValueError):
            x = float("nan")
        if not cur or not to or not (0 < x < 1e9):
            raise DataError(f"{where}: rate {rate!r} for {cur or '?'} → {to or '?'} is not a positive number")
        out[str(cur).upper()] = (str(to).upper(), x)
    targets = {v[0] for v in out.values()}
    if len(targets) > 1:
        raise DataError(f"{where}: rates convert to several currencies ({', '.join(sorted(targets))}); use one")
    return out


def check_currencies(con, source: str) -> None:
    """Costs in several currencies are never added as one: stop the load (it rolls back)."""
    cur = [r[0] for r in con.execute("SELECT DISTINCT upper(currency) FROM costs ORDER BY 1").fetchall()]
    if len(cur) > 1:
        raise DataError(
            f"{source}: costs in several currencies ({', '.join(str(x) for x in cur)}) cannot be added: "
            "give a rates table (--rates FILE with columns currency,to,rate) to convert them to one"
        )
