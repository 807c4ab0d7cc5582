"""GitHub Copilot usage exports → tool_usage.

The user-level usage report is NDJSON (or a JSON array): one record per user per day with
``user_login``, ``day`` and activity counts such as ``user_initiated_interaction_count``,
``code_generation_activity_count``, ``code_acceptance_activity_count``, ``loc_added_sum``,
``used_chat`` and ``used_agent``. Each record becomes one ``tool_usage`` row:

- builder = ``user_login`` (a GitHub login; map it to a person in the roster's identities);
- tool = ``copilot``; day = ``day``;
- active = any interaction, generation or acceptance, or chat/agent use that day;
- events = ``user_initiated_interaction_count`` + ``code_generation_activity_count``
  + ``code_acceptance_activity_count``;
- accepted_lines = ``loc_added_sum`` when the export has it.

The older organisation-level metrics (``/orgs/{org}/copilot/metrics`` days with
``total_active_users``, or the ``/copilot/usage`` summaries) hold only organisation totals:
nothing can be attributed to a builder, so nothing is loaded and a note says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...errors import SchemaError
from ..common import (
    Progress,
    Tables,
    day,
    get,
    note,
    paths_of,
    read_each,
    read_json,
    records,
    table,
    whole,
)

__all__ = ["TOOL", "read"]

TOOL = "copilot"
EXPECTED = "Copilot user-level usage NDJSON (one record per user per day with user_login and day)"
ORG_KEYS = ("total_active_users", "total_engaged_users", "total_suggestions_count", "total_acceptances_count")


def _num(v: object) -> int | None:
    """A count as an int; None for one that is not a whole number ≥ 0 (negative, fractional,
    NaN, infinite), which is then passed on as it came so the store quarantines its row:
    never summed away or rounded."""
    n = whole(v)
    return n if n is not None and n >= 0 else None


def _row(r: object) -> dict:
    if not isinstance(r, dict):
        return {"builder": None, "tool": TOOL, "day": None, "events": str(r)[:60]}
    counts = [r.get(k) for k in ("user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count")]
    nums = [_num(c) for c in counts]
    bad = next((c for c, n in zip(counts, nums) if c is not None and n is None), None)
    events = bad if bad is not None else (sum(n for n in nums if n is not None) if any(n is not None for n in nums) else None)
    active = any((n or 0) > 0 for n in nums) or bool(r.get("used_chat")) or bool(r.get("used_agent"))
    lines = r.get("loc_added_sum")
    return {
        "builder": r.get("user_login") or get(r, "user", "login"),
        "tool": TOOL,
        "day": day(r.get("day") or r.get("date")),
        "active": active,
        "events": events,
        "accepted_lines": lines if _num(lines) is None else _num(lines),
    }


def read_file(path: str | Path) -> Tables:
    p = Path(path)
    recs = records(read_json(p, EXPECTED), p, EXPECTED, ("usage", "records", "data"))
    dicts = [r for r in recs if isinstance(r, dict)]
    if dicts and not any("user_login" in r or "user" in r for r in dicts):
        if any(any(k in r for k in ORG_KEYS) for r in dicts):
            note(
                f"{p}: organisation-level Copilot metrics (totals per day, no user_login): nothing can be "
                "attributed to a builder, so no tool_usage was loaded; export the user-level usage report instead"
            )
            return {}
        raise SchemaError(f"{p}: records lack user_login and day; expected {EXPECTED}")
    return {"tool_usage": table("tool_usage", [_row(r) for r in recs])}


def read(paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> Tables:
    """Read Copilot usage exports (see the module docstring)."""
    return read_each(paths_of(paths), read_file, progress)
