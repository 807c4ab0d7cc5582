"""Cursor Admin API exports → tool_usage.

Two JSON responses are read (pages as files; records recognised by their fields):

- **Daily usage data** (``POST /teams/daily-usage-data``: ``{"data": [...], "period": ...}``), one
  record per member and day: ``email`` (else ``userId``), ``date`` (epoch milliseconds; a record
  carrying ``day`` as ``YYYY-MM-DD`` instead, as DevLake recorded one, is read the same), ``isActive``,
  ``acceptedLinesAdded``, ``totalAccepts``, ``totalTabsAccepted``, ``chatRequests``,
  ``composerRequests``, ``agentRequests``, ``cmdkUsages``, ``bugbotUsages``, ... Each becomes
  tool ``cursor`` rows: feature ``all`` (active = ``isActive``; events = tabs accepted + applies
  accepted + chat, composer, agent, Cmd-K and Bugbot requests; accepted_lines =
  ``acceptedLinesAdded``; agent_requests = ``agentRequests``) and one row per feature used that
  day: completion (tabs accepted), chat (chat requests + Cmd-K), agent (composer + agent
  requests), review (Bugbot).
- **AI code tracking** (``GET /analytics/ai-code/commits``: ``{"items": [...]}``), one record per
  commit: ``userEmail``, ``commitTs``, ``tabLinesAdded``, ``composerLinesAdded``,
  ``nonAiLinesAdded``, ... Summed per author and day into tool ``cursor:code`` rows (a tool of
  its own, so it never collides with the daily usage rows): feature ``all`` (events = commits
  with AI lines, accepted_lines = tab + composer lines), completion (tab lines) and agent
  (composer lines). Commits with no AI lines still count in a note (AI share of committed lines).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...errors import SchemaError
from ..common import (
    Progress,
    Tables,
    day,
    note,
    paths_of,
    read_each,
    read_json,
    records,
    table,
)
from ._counts import count_sum

__all__ = ["TOOL", "read"]

TOOL = "cursor"
EXPECTED = "Cursor Admin API JSON (daily-usage-data {'data': [...]} or ai-code/commits {'items': [...]})"
FEATURES = {
    "completion": ("totalTabsAccepted",),
    "chat": ("chatRequests", "cmdkUsages"),
    "agent": ("composerRequests", "agentRequests"),
    "review": ("bugbotUsages",),
}


def _daily(r: dict) -> list[dict]:
    when = r.get("date") if r.get("date") not in (None, "") else r.get("day")
    base = {"builder": r.get("email") or r.get("userEmail") or r.get("userId"), "tool": TOOL, "day": day(when)}
    events = count_sum(r.get(k) for k in ("totalTabsAccepted", "totalAccepts", "chatRequests", "composerRequests",
                                      "agentRequests", "cmdkUsages", "bugbotUsages"))
    active = r.get("isActive") if isinstance(r.get("isActive"), bool) else (isinstance(events, int) and events > 0)
    rows = [{**base, "feature": "all", "active": active, "events": events,
             "accepted_lines": count_sum([r.get("acceptedLinesAdded")]), "agent_requests": count_sum([r.get("agentRequests")])}]
    for feat, cols in FEATURES.items():
        ev = count_sum(r.get(c) for c in cols)
        if ev is None:  # none of the feature's fields in the record: nothing said about it
            continue
        if not isinstance(ev, (int, float)) or ev > 0:
            rows.append({**base, "feature": feat, "active": True, "events": ev,
                         "agent_requests": count_sum([r.get("agentRequests")]) if feat == "agent" else None})
    return rows


def _tracked(items: list[dict]) -> tuple[list[dict], int, int]:
    acc: dict[tuple, dict] = {}
    ai_lines = all_lines = 0
    for c in items:
        key = (c.get("userEmail") or c.get("userId"), day(c.get("commitTs") or c.get("createdAt")))
        a = acc.setdefault(key, {"commits": 0, "tab": None, "composer": None})
        tab, comp = count_sum([c.get("tabLinesAdded")]), count_sum([c.get("composerLinesAdded")])
        a["tab"], a["composer"] = count_sum([a["tab"], tab]), count_sum([a["composer"], comp])
        ai = count_sum([tab, comp])
        if isinstance(ai, int):
            a["commits"] += ai > 0
            ai_lines += ai
            rest = count_sum([c.get("nonAiLinesAdded")])
            all_lines += ai + (rest if isinstance(rest, int) else 0)
    rows = []
    for (who, d), a in acc.items():
        base = {"builder": who, "tool": f"{TOOL}:code", "day": d, "active": True}
        rows.append({**base, "feature": "all", "events": a["commits"], "accepted_lines": count_sum([a["tab"], a["composer"]])})
        rows.append({**base, "feature": "completion", "accepted_lines": a["tab"]})
        rows.append({**base, "feature": "agent", "accepted_lines": a["composer"]})
    return rows, ai_lines, all_lines


def read_file(path: str | Path) -> Tables:
    p = Path(path)
    recs = records(read_json(p, EXPECTED), p, EXPECTED, ("data", "items", "usageData", "teamMembers"))
    daily = [r for r in recs if isinstance(r, dict) and ("date" in r or "day" in r) and ("email" in r or "isActive" in r)]
    commits = [r for r in recs if isinstance(r, dict) and "commitHash" in r]
    other = [r for r in recs if not any(r is x for x in daily + commits)]
    if not daily and not commits:
        if isinstance(recs, list) and all(isinstance(r, dict) and "email" in r and "role" in r for r in recs) and recs:
            note(f"{p}: a Cursor team members list: ctssw takes people from the roster, so it was read and not loaded")
            return {}
        raise SchemaError(f"{p}: no Cursor daily usage or AI code tracking records; expected {EXPECTED}")
    rows = [row for r in daily for row in _daily(r)]
    rows += [{"builder": None, "tool": TOOL, "day": None, "events": str(r)[:60]} for r in other]  # quarantined
    if commits:
        tracked, ai, every = _tracked(commits)
        rows += tracked
        if every:
            note(f"{p}: {len(commits)} commit(s): {ai} of {every} added lines ({ai / every:.0%}) came from Cursor (tab or composer)")
    return {"tool_usage": table("tool_usage", rows)}


def read(paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> Tables:
    """Read Cursor Admin API daily usage and AI code tracking JSON (see the module docstring)."""
    return read_each(paths_of(paths), read_file, progress)
