"""Shared plumbing for the connectors: reading files with clear errors, timestamps, tables.

Connectors map an export onto the canonical *input* form: every column a string (or
an integer count), person columns holding the raw identity. The store validates,
pseudonymises and quarantines; a value a connector cannot interpret is passed on
as it came, so the store quarantines its row with the reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from ..errors import ConfigError, DataError, DataWarning, SchemaError

Progress = Callable[[str, int, int], None]
Tables = dict[str, pa.Table]

# The input columns of every canonical table (DESIGN §2), in schema order; the store's schema
# is the authority and a test keeps the two the same.
COLUMNS: dict[str, tuple[str, ...]] = {
    "teams": ("team_id", "name", "parent_id", "architecture", "unit_of_software"),
    "identities": ("kind", "value", "builder"),
    "memberships": ("builder", "team_id", "start", "end", "fte", "oncall", "inferred"),
    "repos": ("repo_id", "team_id", "name", "ownership"),
    "services": ("service_id", "team_id", "repo_id", "production_env"),
    "commits": (
        "repo_id", "sha", "author", "authored_at", "committed_at", "additions", "deletions", "is_merge", "parents", "team_id",
    ),
    "changes": (
        "change_id", "repo_id", "author", "created_at", "merged_at", "closed_at", "merge_sha", "first_commit_at",
        "first_review_at", "first_commit_sha", "first_review_id", "additions", "deletions", "team_id", "agent",
        "review_agent",
    ),
    "deployments": (
        "deployment_id", "service_id", "repo_id", "environment", "started_at", "finished_at", "result", "is_rollback",
        "manual_interventions", "sha", "team_id", "is_production", "kind", "pipeline_id",
    ),
    "deployment_commits": ("deployment_id", "sha", "repo_id"),
    "incidents": ("incident_id", "team_id", "service_id", "created_at", "resolved_at", "severity", "deployment_id"),
    "pages": ("page_id", "team_id", "builder", "triggered_at", "incident_id", "off_hours"),
    "tool_usage": (
        "builder", "tool", "day", "active", "events", "accepted_lines", "feature", "agent_requests", "cost", "credits",
    ),
    "agent_configs": ("repo_id", "tool", "path", "rule", "first_added_at", "sha"),
    "tool_totals": (
        "scope", "scope_id", "tool", "feature", "day", "active_users", "events", "accepted_lines", "changes_merged",
        "agent_changes_merged",
    ),
    "costs": ("scope", "scope_id", "kind", "period_start", "amount", "currency", "tool"),
}

# -- reading files ---------------------------------------------------------------------------


def read_text(path: str | Path, expected: str) -> str:
    """The file's text as UTF-8 (a BOM is dropped); anything else is one clear error."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e}); expected {expected}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SchemaError(f"{p}: not UTF-8 text (byte {e.start}); expected {expected}") from None


def read_json(path: str | Path, expected: str) -> object:
    """A JSON document, or NDJSON (one JSON value per line) returned as a list."""
    text = read_text(path, expected)
    if not text.strip():
        raise SchemaError(f"{path}: empty file; expected {expected}")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as first:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) > 1 and _is_json(lines[0]):
            out = []
            for i, ln in enumerate(lines, 1):
                try:
                    out.append(json.loads(ln))
                except (json.JSONDecodeError, RecursionError) as e:
                    raise SchemaError(f"{path}: line {i} is not JSON ({e}); expected {expected}") from None
            return out
        raise SchemaError(f"{path}: not valid JSON ({first}); expected {expected}") from None


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def read_csv(path: str | Path, expected: str, *, text: str | None = None) -> tuple[list[str], list[dict]]:
    """Header and rows of a CSV file; every value a string (empty cells become None)."""
    text = read_text(path, expected) if text is None else text
    if "\x00" in text:
        raise SchemaError(f"{path}: binary data (NUL bytes); expected {expected}")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        rows = list(reader)
    except csv.Error as e:
        raise SchemaError(f"{path}: malformed CSV ({e}); expected {expected}") from None
    if not rows or not any(h.strip() for h in rows[0]):
        raise SchemaError(f"{path}: no header row; expected {expected}")
    header = [h.strip() for h in rows[0]]
    out = []
    for r in rows[1:]:
        if not r or all(not v.strip() for v in r):
            continue
        rec = {h: (v if v != "" else None) for h, v in zip(header, r)}
        if len(r) != len(header):
            rec["_malformed"] = f"{len(r)} fields where the header has {len(header)}"
        out.append(rec)
    return header, out


def records(doc: object, path: str | Path, expected: str, keys: Iterable[str] = ()) -> list:
    """The list of records in a JSON export: a list, or an object wrapping one under ``keys``."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for k in keys:
            if isinstance(doc.get(k), list):
                return doc[k]
        return [doc]
    raise SchemaError(f"{path}: a JSON {type(doc).__name__} at the top level; expected {expected}")


def get(obj: object, *path: str | int) -> object:
    """``obj[p0][p1]...`` or None when any step is missing or of the wrong kind."""
    for p in path:
        if isinstance(p, int):
            obj = obj[p] if isinstance(obj, list) and -len(obj) <= p < len(obj) else None
        else:
            obj = obj.get(p) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def text(v: object) -> str | None:
    """A scalar as text for the store; containers and empty strings become None."""
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    s = str(v).strip()
    return s or None


# -- timestamps --------------------------------------------------------------------------------

_TS = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$",
    re.IGNORECASE,
)
_US_DATE = re.compile(r"^\s*(\d{1,2})[-/](\d{1,2})[-/](\d{4})\s*$")


def parse_ts(v: object) -> dt.datetime | None:
    """A timezone-aware UTC datetime from ISO 8601 (any offset), DevLake's ``2023-4-10 6:51:47``,
    epoch seconds or milliseconds; naive times are UTC. None when it cannot be read."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, dt.datetime):
        return (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    if isinstance(v, (int, float)):
        x = float(v)
        if math.isnan(x) or abs(x) > 1e14:
            return None
        if abs(x) > 1e11:
            x /= 1000.0
        try:
            return dt.datetime.fromtimestamp(x, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    s = str(v)
    m = _TS.match(s)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    try:
        t = dt.datetime(
            int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0), int((frac or "0")[:6].ljust(6, "0"))
        )
    except ValueError:
        return None
    off = dt.UTC
    if tz and tz.upper() not in ("Z", "UTC", "GMT"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hh, mm = int(digits[:2]), int(digits[2:4] or 0)
        if hh > 23 or mm > 59:
            return None
        off = dt.timezone(sign * dt.timedelta(hours=hh, minutes=mm))
    try:
        return t.replace(tzinfo=off).astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def utc(v: object) -> str | None:
    """A timestamp normalised to ISO 8601 UTC text; an unreadable value passes through as text
    (the store then quarantines its row as the wrong type)."""
    if v is None or v == "":
        return None
    t = parse_ts(v)
    if t is None:
        return text(v) or "<unreadable>"
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class AmbiguousDate(DataError):
    """A date such as ``01/10/2025`` that reads as two different days."""


def day(v: object, date_format: str | None = None, *, month_first: bool | None = True) -> str | None:
    """A calendar date as ``YYYY-MM-DD``.

    Accepts ISO dates and times, and ``MM/DD/YYYY`` (``-`` too), the order the exports read
    here document. Files people write by hand pass ``month_first=None``: the value must then
    settle the order itself (``13/01/2025``), and one such as ``01/10/2025`` raises
    :class:`AmbiguousDate`. ``date_format`` (``strptime`` codes) reads every value one way.
    """
    if v is None or v == "":
        return None
    if date_format:
        try:
            return dt.datetime.strptime(str(v).strip(), date_format).date().isoformat()
        except ValueError:
            return text(v)
    m = _US_DATE.match(str(v))
    if m:
        a, b, y = (int(x) for x in m.groups())
        if month_first is None:
            if a <= 12 and b <= 12 and a != b:
                raise AmbiguousDate(
                    f"ambiguous date {str(v).strip()!r} (day or month first?): give --date-format "
                    f"(%d/%m/%Y or %m/%d/%Y; Python: date_format=...)"
                )
            month_first = a <= 12
        mo, d = (a, b) if month_first else (b, a)
        try:
            return dt.date(y, mo, d).isoformat()
        except ValueError:
            return text(v)
    s = str(v).strip()
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", s):
        try:
            y, mo, d = (int(x) for x in s.split("-"))
            return dt.date(y, mo, d).isoformat()
        except ValueError:
            return s
    t = parse_ts(v)
    return t.date().isoformat() if t else (text(v) or "<unreadable>")


def minutes_between(a: str | None, b: str | None) -> float | None:
    ta, tb = parse_ts(a), parse_ts(b)
    return None if ta is None or tb is None else (tb - ta).total_seconds() / 60


# -- building tables -------------------------------------------------------------------------


def table(name: str, rows: list[dict], extra: tuple[str, ...] = ()) -> pa.Table:
    """Rows as an Arrow table with the canonical input columns of ``name`` (all text)."""
    cols = list(COLUMNS[name]) + list(extra)
    return pa.table({c: pa.array([text(r.get(c)) for r in rows], pa.string()) for c in cols})


def concat(parts: Iterable[Tables]) -> Tables:
    out: dict[str, list[pa.Table]] = {}
    for p in parts:
        for k, v in p.items():
            out.setdefault(k, []).append(v)
    return {k: pa.concat_tables(v) if len(v) > 1 else v[0] for k, v in out.items()}


DATA_SUFFIXES = (".json", ".ndjson", ".jsonl", ".csv")


def read_each(paths: list[Path], read_file, progress: Progress | None = None) -> Tables:
    """``read_file`` on each path in turn, with progress, and the tables joined. A folder
    stands for its export files (``.json``, ``.ndjson``, ``.jsonl``, ``.csv``)."""
    paths = list(expand(paths, DATA_SUFFIXES))
    parts = []
    for i, p in enumerate(paths):
        if progress:
            progress(f"reading {p}", i, len(paths))
        try:
            parts.append(read_file(p))
        except AmbiguousDate as e:
            raise AmbiguousDate(f"{p}: {e}") from None
    return concat(parts)


def count_sum(values: Iterable[object]) -> int | str | None:
    """The sum of usage counts, or, when one is not a whole number ≥ 0 (negative, fractional,
    NaN, infinite, overflowing, text), that value as text so the store quarantines the row
    with its reason: a bad count is never summed away or rounded. None when all are missing."""
    total, seen = 0, False
    for v in values:
        if v is None or v == "":
            continue
        n = whole(v)
        if n is None or n < 0:
            return text(v) if not isinstance(v, float) else repr(v)
        total += n
        seen = True
    return total if seen else None


def whole(v: object) -> int | None:
    """``v`` as an int when it is exactly a whole number (``3``, ``3.0``, ``"3"``), else None."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v
    try:
        x = float(v) if not isinstance(v, str) else float(v.strip())
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(x) or x != int(x) or abs(x) > 2**62:
        return None
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        return int(v)
    return int(x)


def pattern(p: str, what: str, flags: int = re.IGNORECASE) -> re.Pattern:
    """``p`` compiled, or a one-line ConfigError naming ``what`` when it is not a regular expression."""
    try:
        return re.compile(p, flags)
    except re.error as e:
        raise ConfigError(f"{what} pattern {p!r} is not a regular expression ({e})") from None


def note(msg: str) -> None:
    """Tell the user something about the input that changes what was loaded."""
    warnings.warn(msg, DataWarning, stacklevel=2)


def paths_of(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = [Path(p) for p in paths]
    if not out:
        raise ConfigError("no input paths given")
    return out


def input_file(p: Path) -> bool:
    """Whether ``p`` is a file to read: a regular file, or a symbolic link to nothing, which is
    kept so that its reader says it cannot be read rather than the file being passed over."""
    return p.is_file() or (p.is_symlink() and not p.exists())


def expand(paths: Iterable[Path], suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Files as given, and the files with one of ``suffixes`` inside folders given (symbolic
    links are followed once: a link loop is skipped, never walked forever; a link to nothing is
    yielded, for its reader to refuse)."""
    for p in paths:
        if p.is_dir():
            found = []
            try:
                walk = list(os.walk(p, followlinks=False))
            except OSError as e:
                raise DataError(f"{p}: cannot list the folder ({e.strerror or e})") from None
            for root, _dirs, files in walk:
                for f in files:
                    q = Path(root) / f
                    if q.suffix.lower() in suffixes and input_file(q):
                        found.append(q)
            if not found:
                raise DataError(f"{p}: no {'/'.join(suffixes)} files in the folder")
            yield from sorted(found)
        else:
            yield p


def source_name(kind: str, paths: list[Path]) -> str:
    names = ", ".join(str(p) for p in paths[:3]) + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "")
    return f"{kind}:{names}"


def blank_unknown_teams(tables: Tables, known: set[str], required: Iterable[str], origin: str) -> None:
    """Empty optional team ids that neither ``known`` nor the tables' own teams hold, with a note,
    rather than quarantine rows. Tables named in ``required`` (a required team id) keep theirs."""
    known = set(known)
    if "teams" in tables:
        known |= {v for v in tables["teams"].column("team_id").to_pylist() if v is not None}
    required = set(required)
    unknown: set[str] = set()
    for name, t in list(tables.items()):
        if "team_id" not in t.column_names or name == "teams" or t.num_rows == 0:
            continue
        if name in required:
            continue  # a required team stays, and an unknown one is quarantined with its name
        vals = t.column("team_id").to_pylist()
        bad = {v for v in vals if v is not None and v not in known}
        if bad:
            unknown |= bad
            fixed = [None if v in bad else v for v in vals]
            tables[name] = t.set_column(t.schema.get_field_index("team_id"), "team_id", pa.array(fixed, pa.string()))
    if unknown:
        shown = ", ".join(sorted(unknown)[:8]) + (" …" if len(unknown) > 8 else "")
        note(f"{origin}: team(s) not in the roster, left empty: {shown} (load the roster first, or map owners to team ids)")


def fill_teams(t: pa.Table, person: str, when: str, spans: dict[str, list[tuple[str, str, str]]]) -> pa.Table:
    """Empty team ids filled with the person's team on the row's day.

    ``spans`` maps a person (as in column ``person``) to their ``(start, end, team)`` date spans,
    sorted by start; ``when`` is the column whose first ten characters are the day.
    """
    import bisect

    teams = t.column("team_id").to_pylist()
    who = t.column(person).to_pylist()
    days = [(w or "")[:10] for w in t.column(when).to_pylist()]
    for i, (team, a, d) in enumerate(zip(teams, who, days)):
        if team is None and a in spans:
            s = spans[a]
            k = bisect.bisect_right([x[0] for x in s], d) - 1
            while k >= 0:
                if s[k][0] <= d <= s[k][1]:
                    teams[i] = s[k][2]
                    break
                k -= 1
    return t.set_column(t.schema.get_field_index("team_id"), "team_id", pa.array(teams, pa.string()))
