"""GitHub Copilot usage metrics → tool_usage (per builder) and tool_totals (organisation totals).

The usage-metrics **reports** API (API version 2026-03-10) answers with signed download links
(``{"download_links": [...], "report_day": ...}``) to NDJSON files; give ctssw the downloaded
NDJSON files. Records are recognised by their fields, so all five report kinds may be mixed:

- ``users-1-day`` / ``users-28-day``: one record per user per day with ``user_login``, ``day``,
  ``user_initiated_interaction_count``, ``code_generation_activity_count``,
  ``code_acceptance_activity_count``, ``loc_added_sum``, ``used_chat``, ``used_agent``,
  ``used_cli``, ``totals_by_feature``, ``totals_by_cli``, ``totals_by_ide``, ... Each becomes a
  ``tool_usage`` row with feature ``all`` (the day's totals: events = interactions + generations
  + acceptances, accepted_lines = ``loc_added_sum``, active = any of them or chat/agent/CLI
  use) and one row per feature it breaks down into (``totals_by_feature``: code_completion →
  completion; chat and edit modes → chat; agent modes and the coding agent → agent; code review
  → review; ``totals_by_cli`` → cli, events = its ``request_count``). ``agent_requests`` counts
  the agent feature's interactions, and ``totals_by_3rd_party_agent`` entries (``agent_id`` such
  as Claude or Codex) become rows of tool ``copilot:<agent_id>``, feature agent.
- ``organization-1-day`` / ``enterprise-1-day`` (records with ``day_totals`` or with
  ``daily_active_users`` and no user): organisation totals, kept in ``tool_totals`` (scope org or
  enterprise) with ``pull_requests.total_merged`` and ``total_merged_created_by_copilot``;
  nothing is attributed to a builder.
- ``user-teams-1-day`` (``user_login``, ``day``, ``team_id``, ``slug``): which GitHub teams a user
  was in that day. ctssw takes teams from the roster, so these rows are counted in a note.
- The retired metrics API (``/orgs/{org}/copilot/metrics``: days with ``total_active_users``
  and ``copilot_ide_code_completions`` ...; closed 2026-04-02) holds organisation totals only:
  ``tool_totals`` rows (scope org, scope_id ``all``), feature ``all``.
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

__all__ = ["TOOL", "feature_of", "read"]

TOOL = "copilot"
EXPECTED = "Copilot usage metrics report NDJSON (users, organization, enterprise or user-teams reports)"
ORG_KEYS = ("total_active_users", "total_engaged_users", "total_suggestions_count", "total_acceptances_count")
COUNTS = ("user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count")


def _num(v: object) -> int | None:
    """A count as an int; None for one that is not a whole number ≥ 0 (negative, fractional,
    NaN, infinite), which is then passed on as it came so the store quarantines its row:
    never summed away or rounded."""
    n = whole(v)
    return n if n is not None and n >= 0 else None


def feature_of(name: object) -> str | None:
    """The canonical feature of a Copilot ``totals_by_feature`` name (None when unknown)."""
    f = str(name or "").lower()
    if "review" in f:
        return "review"
    if "agent" in f:
        return "agent"
    if "completion" in f:
        return "completion"
    if "cli" in f:
        return "cli"
    if "chat" in f or "edit" in f or "inline" in f or "ask" in f:
        return "chat"
    return None


def _events(r: dict) -> object:
    counts = [r.get(k) for k in COUNTS]
    nums = [_num(c) for c in counts]
    bad = next((c for c, n in zip(counts, nums) if c is not None and n is None), None)
    if bad is not None:
        return bad  # not a number: the store quarantines the row
    return sum(n for n in nums if n is not None) if any(n is not None for n in nums) else None


def _add(a: object, b: object) -> object:
    """a + b for counts where either may be missing (None); a value that is not a number wins,
    so the store quarantines the row."""
    if b is None:
        return a
    if a is None or _num(b) is None:  # a negative or fractional count is kept as it came, never added
        return b
    return _num(a) + _num(b) if _num(a) is not None else a  # type: ignore[operator]


def _lines(v: object) -> object:
    return v if _num(v) is None else _num(v)


def _user_rows(r: dict, unknown: set[str]) -> list[dict]:
    who = r.get("user_login") or get(r, "user", "login") or r.get("login")
    d = day(r.get("day") or r.get("date"))
    nums = [_num(r.get(k)) for k in COUNTS]
    active = any((n or 0) > 0 for n in nums) or any(bool(r.get(k)) for k in ("used_chat", "used_agent", "used_cli"))
    feats: dict[str, dict] = {}
    for f in r.get("totals_by_feature") or []:
        if not isinstance(f, dict):
            continue
        name = feature_of(f.get("feature"))
        if name is None:
            unknown.add(str(f.get("feature")))
            continue
        acc = feats.setdefault(name, {"events": None, "accepted_lines": None})
        acc["events"] = _add(acc["events"], _events(f))
        acc["accepted_lines"] = _add(acc["accepted_lines"], _lines(f.get("loc_added_sum")))
    cli = r.get("totals_by_cli")
    if isinstance(cli, dict) and (cli.get("request_count") is not None or cli.get("session_count") is not None):
        feats["cli"] = {"events": cli.get("request_count"), "accepted_lines": None}
    for flag, name in (("used_cli", "cli"), ("used_chat", "chat"), ("used_agent", "agent")):
        if r.get(flag) is True and name not in feats:  # used that day, with no counts broken down
            feats[name] = {"events": None, "accepted_lines": None}
    agent_req = feats.get("agent", {}).get("events")
    base = {"builder": who, "tool": TOOL, "day": d}
    rows = [{**base, "feature": "all", "active": active, "events": _events(r), "accepted_lines": _lines(r.get("loc_added_sum")),
             "agent_requests": agent_req}]
    for name, acc in sorted(feats.items()):
        ev = acc["events"]
        rows.append({**base, "feature": name, "active": True, "events": ev, "accepted_lines": acc["accepted_lines"],
                     "agent_requests": ev if name == "agent" else None})
    for a in r.get("totals_by_3rd_party_agent") or []:
        if isinstance(a, dict) and (a.get("agent_id") or a.get("agent_name")):
            aid = str(a.get("agent_id") or a.get("agent_name")).strip().lower()
            ev = a.get("user_initiated_interaction_count")
            rows.append({**base, "tool": f"{TOOL}:{aid}", "feature": "agent", "active": True, "events": ev,
                         "agent_requests": ev})
    return rows


def _total_rows(r: dict, scope: str, scope_id: object) -> list[dict]:
    out = []
    for t in r.get("day_totals") if isinstance(r.get("day_totals"), list) else [r]:
        if not isinstance(t, dict):
            continue
        d = day(t.get("day") or t.get("date"))
        sid = t.get("enterprise_id") or t.get("organization_id") or scope_id
        out.append({
            "scope": scope, "scope_id": sid, "tool": TOOL, "feature": "all", "day": d,
            "active_users": t.get("daily_active_users", t.get("total_active_users")),
            "events": _events(t) if any(k in t for k in COUNTS) else None,
            "accepted_lines": _lines(t.get("loc_added_sum")),
            "changes_merged": get(t, "pull_requests", "total_merged"),
            "agent_changes_merged": get(t, "pull_requests", "total_merged_created_by_copilot"),
        })
        for f in t.get("totals_by_feature") or []:
            name = feature_of(get(f, "feature"))
            if isinstance(f, dict) and name:
                out.append({"scope": scope, "scope_id": sid, "tool": TOOL, "feature": name, "day": d,
                            "events": _events(f), "accepted_lines": _lines(f.get("loc_added_sum"))})
    return out


def _merge_features(rows: list[dict]) -> list[dict]:
    """Feature rows of one record that map to the same feature were summed already; rows of
    organisation totals for the same key (two chat modes) are summed here."""
    out: dict[tuple, dict] = {}
    for r in rows:
        k = (r["scope"], str(r["scope_id"]), r["feature"], r["day"])
        if k in out and r["feature"] != "all":
            for c in ("events", "accepted_lines"):
                out[k][c] = _add(out[k].get(c), r.get(c))
        else:
            out[k] = dict(r)
    return list(out.values())


def read_file(path: str | Path) -> Tables:
    p = Path(path)
    recs = records(read_json(p, EXPECTED), p, EXPECTED, ("usage", "records", "data"))
    dicts = [r for r in recs if isinstance(r, dict)]
    if dicts and all("download_links" in r for r in dicts):
        links = sum(len(r["download_links"]) for r in dicts if isinstance(r["download_links"], list))
        note(f"{p}: a Copilot reports API response listing {links} download link(s), not a report: download "
             "the NDJSON files it links (the links expire) and ingest those")
        return {}
    usage, totals, teams, unknown = [], [], 0, set()
    for r in recs:
        if not isinstance(r, dict):
            usage.append({"builder": None, "tool": TOOL, "day": None, "events": str(r)[:60]})
        elif "slug" in r and "team_id" in r and not any(k in r for k in COUNTS):
            teams += 1
        elif r.get("user_login") or get(r, "user", "login") or ("user_id" in r and any(k in r for k in COUNTS)):
            usage += _user_rows(r, unknown)
        elif "day_totals" in r:
            totals += _total_rows(r, "enterprise" if r.get("enterprise_id") and not r.get("organization_id") else "org",
                                  r.get("organization_id") or r.get("enterprise_id"))
        elif "daily_active_users" in r or any(k in r for k in ORG_KEYS):
            totals += _total_rows(r, "enterprise" if r.get("enterprise_id") and not r.get("organization_id") else "org",
                                  r.get("organization_id") or r.get("enterprise_id") or "all")
        else:
            usage.append({"builder": None, "tool": TOOL, "day": day(r.get("day") or r.get("date")), "events": None})
    if dicts and not usage and not totals and not teams:
        raise SchemaError(f"{p}: records lack user_login and day; expected {EXPECTED}")
    if unknown:
        note(f"{p}: Copilot feature(s) {', '.join(sorted(unknown))} map to no ctssw feature: counted in the day's totals only")
    if teams:
        note(f"{p}: {teams} user-team row(s) (the user-teams report): ctssw takes teams and members from the "
             "roster (ctssw ingest roster), so they were read and not loaded")
    if totals:
        note(f"{p}: {len(totals)} organisation-level Copilot row(s) kept as organisation totals (tool_totals): "
             "nothing can be attributed to a builder; the users report gives per-builder use")
    out: Tables = {}
    if usage:
        out["tool_usage"] = table("tool_usage", usage)
    if totals:
        out["tool_totals"] = table("tool_totals", _merge_features(totals))
    return out


def read(paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> Tables:
    """Read Copilot usage metrics reports (see the module docstring)."""
    return read_each(paths_of(paths), read_file, progress)
