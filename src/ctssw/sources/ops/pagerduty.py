"""PagerDuty incidents (REST JSON or the web CSV export) with assignments and log entries
→ incidents, pages.

REST JSON: ``GET /incidents`` (``{"incidents": [...]}`` or arrays) with ``id``,
``incident_number``, ``created_at``, ``status``, ``urgency``, ``priority``, ``service``,
``teams``, ``assignments`` (``at``, ``assignee``), ``resolved_at`` / ``last_status_change_at``;
and ``GET /log_entries`` (``{"log_entries": [...]}``, or embedded in incidents fetched with
``include[]=log_entries``) whose ``notify_log_entry`` records give the ``incident`` and the time.
The person paged is the entry's ``user`` when present; current exports carry no ``user`` on
notify entries, so the name in the ``summary`` ("Notified Keon Amini by email.") is resolved to
a user id through the user references elsewhere in the export (assignees, agents), else kept
as the name (map it in the roster).

CSV (the web app's incident export): one row per incident; headers are matched loosely
(case, spaces): ``id`` / ``incident_id``, ``incident_number``, ``created_on`` / ``created_at``,
``resolved_on`` / ``resolved_at``, ``urgency`` / ``priority`` / ``severity``, ``service_name`` /
``service_id``, ``team`` / ``team_name``, ``assigned_to`` / ``assigned_to_user`` / ``assignee``
(several separated by ``;`` or ``,``).

Mapping:

- an incident → ``incidents`` row ``pd:<id>``: severity = priority name, else urgency;
  service_id = the service name (or id); resolved_at = ``resolved_at``, else the last status
  change of a resolved incident;
- a page → ``pages`` row: each ``notify_log_entry`` (page id ``pd:<log entry id>``); an
  incident with no notify entries pages each assignee once (``pd:<incident>:assignment:<n>``,
  the n-th assignment: ids never carry a person);
  builder = the PagerDuty user id (CSV: the assignee as written), map it in the roster;
  off_hours = outside ``workday`` hours (default 9–18) or on a weekend in time zone ``tz``;
- team_id comes from ``team_map`` (PagerDuty team or service, by id or name → team id),
  else the paged person's team on that day from the roster (:func:`ctssw.store.load_pagerduty`
  fills that in).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...errors import ConfigError, SchemaError
from ..common import (
    Progress,
    Tables,
    expand,
    get,
    note,
    parse_ts,
    paths_of,
    read_csv,
    read_json,
    records,
    table,
    utc,
)

__all__ = ["read"]

EXPECTED_JSON = "PagerDuty REST JSON (incidents with assignments, or log_entries)"
EXPECTED_CSV = "a PagerDuty incidents CSV export (id, created_on, ... with a header row)"


def _norm(h: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", h.strip().lower()).strip("_")


def _pick(r: dict, *names: str) -> object:
    for n in names:
        if r.get(n) not in (None, ""):
            return r[n]
    return None


class _Ctx:
    def __init__(self, team_map: dict[str, str], tz: ZoneInfo, workday: tuple[int, int]) -> None:
        self.team_map = {k.lower(): v for k, v in team_map.items()}
        self.tz, self.workday = tz, workday

    def team(self, *keys: object) -> str | None:
        for k in keys:
            if k is not None and str(k).lower() in self.team_map:
                return self.team_map[str(k).lower()]
        return None

    def off_hours(self, when: object) -> bool | None:
        t = parse_ts(when)
        if t is None:
            return None
        local = t.astimezone(self.tz)
        return local.weekday() >= 5 or not (self.workday[0] <= local.hour < self.workday[1])


def _list(v: object) -> list:
    return v if isinstance(v, list) else []


NOTIFIED = re.compile(r"^\s*Notified\s+(.+?)\s+(?:by|via)\s+\S", re.IGNORECASE)


def _people(recs: list, logs: list) -> dict[str, str]:
    """PagerDuty user names (as in log entry summaries) → user ids, from every user reference seen."""
    names: dict[str, str] = {}

    def walk(o: object) -> None:
        if isinstance(o, dict):
            if o.get("type") in ("user_reference", "user") and o.get("id") and o.get("summary"):
                names.setdefault(str(o["summary"]).strip().lower(), str(o["id"]))
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(recs)
    walk(logs)
    return names


def _notified(le: dict, names: dict[str, str]) -> object:
    """The person a notify log entry paged: its ``user``, the channel's user, the name in its
    summary ("Notified Keon Amini by email.") resolved to a user id, else the user agent."""
    who = get(le, "user", "id") or get(le, "user", "email") or get(le, "channel", "user", "id")
    if who:
        return who
    m = NOTIFIED.match(str(le.get("summary") or ""))
    if m:
        name = m.group(1).strip()
        return names.get(name.lower(), name)
    if get(le, "agent", "type") == "user_reference":
        return get(le, "agent", "id")
    return None


def _json_incidents(recs: list, logs: list, ctx: _Ctx) -> tuple[list[dict], list[dict]]:
    incidents, pages = [], []
    team_of: dict[str, str | None] = {}
    logs = list(logs)
    for r in recs:  # log entries embedded in incidents (``include[]=log_entries``)
        logs += [x for x in _list(r.get("log_entries")) if isinstance(x, dict)]
    seen_ids: set[str] = set()
    uniq = []
    for le in logs:
        key = str(le.get("id")) if isinstance(le, dict) and le.get("id") is not None else None
        if key is None or key not in seen_ids:
            uniq.append(le)
            if key is not None:
                seen_ids.add(key)
    logs = uniq
    names = _people(recs, logs)
    paged: set[str] = set()
    for le in logs:
        if isinstance(le, dict) and le.get("type") == "notify_log_entry":
            paged.add(str(get(le, "incident", "id")))
    for r in recs:
        iid = r.get("id")
        teams = _list(r.get("teams"))
        team = ctx.team(*(get(t, k) for t in teams for k in ("id", "summary", "name")),
                        get(r, "service", "id"), get(r, "service", "summary"))
        team_of[str(iid)] = team
        resolved = r.get("resolved_at") or (r.get("last_status_change_at") if r.get("status") == "resolved" else None)
        incidents.append({
            "incident_id": f"pd:{iid}" if iid is not None else None, "team_id": team,
            "service_id": get(r, "service", "summary") or get(r, "service", "id"),
            "created_at": utc(r.get("created_at")), "resolved_at": utc(resolved),
            "severity": get(r, "priority", "summary") or r.get("urgency"),
        })
        if str(iid) in paged:
            continue
        assignments = r.get("assignments") if isinstance(r.get("assignments"), list) else []
        for n, a in enumerate(assignments, 1):
            who = get(a, "assignee", "id") or get(a, "assignee", "email")
            at = get(a, "at") or r.get("created_at")
            pages.append({  # ids never carry the person: the n-th assignment of the incident
                "page_id": f"pd:{iid}:assignment:{n}", "team_id": team, "builder": who,
                "triggered_at": utc(at), "incident_id": f"pd:{iid}", "off_hours": ctx.off_hours(at),
            })
        if not assignments and r.get("status") == "resolved":
            note(f"pagerduty: resolved incident {iid} has no assignments and no notify log entries: no pages "
                 "(PagerDuty clears assignments on resolve; export its log entries too)")
    nobody = 0
    for le in logs:
        if not isinstance(le, dict) or le.get("type") != "notify_log_entry":
            continue
        inc = get(le, "incident", "id")
        who = _notified(le, names)
        nobody += who is None
        team = team_of.get(str(inc)) or ctx.team(*(get(t, "id") for t in _list(le.get("teams"))), get(le, "service", "id"))
        pages.append({
            "page_id": f"pd:{le.get('id')}" if le.get("id") is not None else None, "team_id": team, "builder": who,
            "triggered_at": utc(le.get("created_at")), "incident_id": f"pd:{inc}" if inc is not None else None,
            "off_hours": ctx.off_hours(le.get("created_at")),
        })
    if nobody:
        note(f"pagerduty: {nobody} notify log entr(y/ies) name no person (no user, channel user or 'Notified NAME' "
             "summary): loaded as pages without a builder")
    return incidents, pages


def _csv_incidents(path: Path, ctx: _Ctx) -> tuple[list[dict], list[dict]]:
    header, rows = read_csv(path, EXPECTED_CSV)
    norm = {_norm(h) for h in header}
    if not ({"id", "incident_id", "incident_number"} & norm) or not ({"created_on", "created_at", "created"} & norm):
        raise SchemaError(f"{path}: no incident id and creation time columns (header: {', '.join(header[:6])}); expected {EXPECTED_CSV}")
    incidents, pages = [], []
    for raw in rows:
        r = {_norm(k): v for k, v in raw.items()}
        iid = _pick(r, "id", "incident_id", "incident_number")
        created = _pick(r, "created_on", "created_at", "created")
        service = _pick(r, "service_name", "service", "service_id")
        team = ctx.team(_pick(r, "team", "team_name", "teams", "team_id"), service, _pick(r, "service_id"))
        incidents.append({
            "incident_id": f"pd:{iid}" if iid else None, "team_id": team, "service_id": service,
            "created_at": utc(created) if "malformed" not in r else "<malformed row>",
            "resolved_at": utc(_pick(r, "resolved_on", "resolved_at", "resolved")),
            "severity": _pick(r, "priority", "urgency", "severity"),
        })
        who_all = _pick(r, "assigned_to_user", "assigned_to", "assignee", "assignees", "assigned_to_users")
        assignees = [w.strip() for w in re.split(r"[;,]", str(who_all)) if w.strip()] if who_all else []
        for n, who in enumerate(assignees, 1):
            if who:
                pages.append({
                    "page_id": f"pd:{iid}:assignment:{n}", "team_id": team, "builder": who, "triggered_at": utc(created),
                    "incident_id": f"pd:{iid}" if iid else None, "off_hours": ctx.off_hours(created),
                })
    return incidents, pages


def _team_map(team_map: dict[str, str] | Iterable[str] | None) -> dict[str, str]:
    if team_map is None:
        return {}
    if isinstance(team_map, dict):
        return dict(team_map)
    out = {}
    for pair in team_map:
        k, sep, v = pair.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise ConfigError(f"team mapping {pair!r}: expected PAGERDUTY_TEAM_OR_SERVICE=TEAM_ID")
        out[k.strip()] = v.strip()
    return out


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    team_map: dict[str, str] | Iterable[str] | None = None,
    tz: str = "UTC",
    workday: tuple[int, int] = (9, 18),
    progress: Progress | None = None,
) -> Tables:
    """Read PagerDuty JSON and CSV exports (files or folders); see the module docstring."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {tz!r}; expected an IANA name such as Europe/Berlin") from None
    if not (0 <= workday[0] < workday[1] <= 24):
        raise ConfigError(f"workday {workday}: expected (start hour, end hour) with 0 <= start < end <= 24")
    ctx = _Ctx(_team_map(team_map), zone, workday)
    files = list(expand(paths_of(paths), (".json", ".ndjson", ".jsonl", ".csv")))
    incs, logs, incidents, pages = [], [], [], []
    for i, p in enumerate(files):
        if progress:
            progress(f"reading {p}", i, len(files))
        if p.suffix.lower() == ".csv":
            a, b = _csv_incidents(p, ctx)
            incidents += a
            pages += b
            continue
        doc = read_json(p, EXPECTED_JSON)
        known = 0
        for r in records(doc, p, EXPECTED_JSON, ("incidents", "log_entries")):
            if isinstance(r, dict) and "incident_number" in r and "created_at" in r:
                incs.append(r)
                known += 1
            elif isinstance(r, dict) and str(r.get("type", "")).endswith("log_entry"):
                logs.append(r)
                known += 1
        if not known:
            raise SchemaError(f"{p}: no incidents or log entries recognised; expected {EXPECTED_JSON}")
    a, b = _json_incidents(incs, logs, ctx)
    incidents += a
    pages += b
    if logs and not any(isinstance(x, dict) and x.get("type") == "notify_log_entry" for x in logs):
        note("pagerduty: log entries were given but none is a notify_log_entry; pages come from assignments")
    out: Tables = {}
    if incidents:
        out["incidents"] = table("incidents", incidents)
    if pages:
        out["pages"] = table("pages", pages)
    return out
