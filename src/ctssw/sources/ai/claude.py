"""Claude Code usage from the Claude Admin API → tool_usage.

``GET /v1/organizations/usage_report/claude_code`` (``anthropic-version: 2023-06-01``) returns
pages ``{"data": [...], "has_more", "next_page"}``; each record is one actor and day:

- ``actor``: ``{"type": "user_actor", "email_address"}`` or ``{"type": "api_actor", "api_key_name"}``;
- ``date`` (the UTC day), ``core_metrics`` (``num_sessions``, ``lines_of_code.added`` /
  ``removed``, ``commits_by_claude_code``, ``pull_requests_by_claude_code``),
  ``tool_actions`` (``edit_tool`` / ``multi_edit_tool`` / ``notebook_edit_tool`` /
  ``write_tool``: ``accepted``, ``rejected``), ``model_breakdown[].estimated_cost``
  (``amount`` in cents, ``currency``).

Each record becomes two ``tool_usage`` rows, tool ``claude``: feature ``all`` and feature
``agent`` (Claude Code is an agent), both with events = accepted tool actions, accepted_lines
= ``lines_of_code.added``, agent_requests = ``num_sessions`` and cost = the sum of the
estimated costs in US dollars (cents / 100). Records of ``api_actor`` name an API key, not a
person: they are counted in a note and not loaded.
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
)
from ._counts import amount_sum, count_sum

__all__ = ["TOOL", "read"]

TOOL = "claude"
EXPECTED = "Claude Admin API usage_report/claude_code JSON ({'data': [...]} pages, one record per actor and day)"


def _row(r: dict) -> dict:
    actions = r.get("tool_actions") if isinstance(r.get("tool_actions"), dict) else {}
    models = r.get("model_breakdown") if isinstance(r.get("model_breakdown"), list) else []
    return {
        "builder": get(r, "actor", "email_address"), "tool": TOOL, "day": day(r.get("date")), "active": True,
        "events": count_sum(get(a, "accepted") for a in actions.values()),
        "accepted_lines": count_sum([get(r, "core_metrics", "lines_of_code", "added")]),
        "agent_requests": count_sum([get(r, "core_metrics", "num_sessions")]),
        "cost": amount_sum((get(m, "estimated_cost", "amount") for m in models), per=100),
    }


def read_file(path: str | Path) -> Tables:
    p = Path(path)
    recs = records(read_json(p, EXPECTED), p, EXPECTED, ("data",))
    dicts = [r for r in recs if isinstance(r, dict)]
    if dicts and not any("actor" in r or "core_metrics" in r for r in dicts):
        raise SchemaError(f"{p}: records lack actor and core_metrics; expected {EXPECTED}")
    rows, keys = [], 0
    for r in recs:
        if isinstance(r, dict) and get(r, "actor", "type") == "api_actor":
            keys += 1
            continue
        base = _row(r) if isinstance(r, dict) else {"builder": None, "tool": TOOL, "day": None}
        rows += [{**base, "feature": "all"}, {**base, "feature": "agent"}]
    if keys:
        note(f"{p}: {keys} Claude Code record(s) of an API key (api_actor), not a person: not loaded")
    return {"tool_usage": table("tool_usage", rows)} if rows else {}


def read(paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> Tables:
    """Read Claude Admin API Claude Code usage reports (files or pages); see the module docstring."""
    return read_each(paths_of(paths), read_file, progress)
