"""Roster CSVs → teams, memberships, identities, costs.

Each file's kind is taken from its name (``teams``, ``memberships``, ``identities``,
``costs`` in the file name) or, failing that, from its header:

- teams: ``team_id`` (or ``id``), ``name``, ``parent_id`` (or ``parent``), ``architecture``,
  ``unit_of_software``;
- memberships: a person column (``builder``, ``email``, ``person``), ``team_id`` (or ``team``),
  ``start``, ``end``, ``fte``, ``oncall`` (or ``on_call``);
- identities, long form: ``kind``, ``value``, and the person (``builder`` / ``email`` / ``person``);
  wide form: the person column plus one column per identity kind (``github_login``,
  ``git_email``, ``pagerduty_user``, ``copilot_login``, ``qdev_user_id``, ...), several values in
  one cell separated by ``;`` or ``|``;
- costs: ``scope`` (default ``team``), ``scope_id`` (or ``team_id``), ``kind``, ``period_start``
  (or ``month``/``week``/``start``), ``amount``, ``currency``, ``tool``.

Files load in the order teams, identities, memberships, costs, so references resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import SchemaError
from .common import (
    Progress,
    Tables,
    expand,
    paths_of,
    read_csv,
    read_each,
    table,
)
from .common import day as _day

__all__ = ["KINDS", "read"]

KINDS = ("teams", "identities", "memberships", "costs")
PERSON = ("builder", "person", "email", "work_email", "user", "primary_email")
EXPECTED = "a roster CSV (teams, memberships, identities or costs, with a header row)"


def _norm(h: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", h.strip().lower()).strip("_")


def _pick(rec: dict, *names: str) -> object:
    for n in names:
        if rec.get(n) not in (None, ""):
            return rec[n]
    return None


def _kind_of(path: Path, header: list[str]) -> str:
    stem = path.stem.lower()
    for k in KINDS:
        if k.rstrip("s") in stem:
            return k
    if "member" in stem:
        return "memberships"
    h = set(header)
    if "amount" in h:
        return "costs"
    if {"kind", "value"} <= h:
        return "identities"
    if ("start" in h or "start_date" in h) and ("team_id" in h or "team" in h):
        return "memberships"
    if ("team_id" in h or "id" in h) and ("name" in h or "parent_id" in h or "architecture" in h):
        return "teams"
    if any(p in h for p in PERSON) and len(h) > 1:
        return "identities"
    raise SchemaError(
        f"{path}: cannot tell which roster table this is (header: {', '.join(header[:8])}); expected {EXPECTED}"
    )


def _bool(v: object) -> object:
    if v is None:
        return None
    s = str(v).strip().lower()
    return {"y": "true", "yes": "true", "1": "true", "x": "true", "n": "false", "no": "false", "0": "false"}.get(s, s)


def _person(rec: dict) -> object:
    return _pick(rec, *PERSON)


def read_file(path: str | Path, kind: str | None = None, *, date_format: str | None = None) -> Tables:
    p = Path(path)

    def day(v: object) -> str | None:
        return _day(v, date_format, month_first=None)  # a hand-made file: an ambiguous date is refused

    header, rows = read_csv(p, EXPECTED)
    norm = [_norm(h) for h in header]
    recs = [{_norm(k): v for k, v in r.items()} for r in rows]
    kind = kind or _kind_of(p, norm)
    out: list[dict] = []
    if kind == "teams":
        for r in recs:
            arch = _pick(r, "architecture")
            out.append({
                "team_id": _pick(r, "team_id", "id", "team"), "name": _pick(r, "name", "team_name"),
                "parent_id": _pick(r, "parent_id", "parent", "parent_team"),
                "architecture": arch.lower() if isinstance(arch, str) else arch,
                "unit_of_software": _pick(r, "unit_of_software", "unit"),
            })
    elif kind == "memberships":
        for r in recs:
            out.append({
                "builder": _person(r), "team_id": _pick(r, "team_id", "team"),
                "start": day(_pick(r, "start", "start_date", "from", "joined")),
                "end": day(_pick(r, "end", "end_date", "to", "left")),
                "fte": _pick(r, "fte"), "oncall": _bool(_pick(r, "oncall", "on_call")),
            })
    elif kind == "identities":
        if {"kind", "value"} <= set(norm):
            for r in recs:
                out.append({"kind": r.get("kind"), "value": r.get("value"), "builder": _person(r)})
        else:
            pcol = next((c for c in norm if c in PERSON), None)
            if pcol is None:
                raise SchemaError(f"{p}: identities without a person column ({', '.join(PERSON)}); expected {EXPECTED}")
            for r in recs:
                person = r.get(pcol)
                out.append({"kind": pcol, "value": person, "builder": person})
                for col in norm:
                    if col == pcol or r.get(col) is None:
                        continue
                    for v in re.split(r"[;|]", str(r[col])):
                        if v.strip():
                            out.append({"kind": col, "value": v.strip(), "builder": person})
    elif kind == "costs":
        for r in recs:
            out.append({
                "scope": _pick(r, "scope") or ("team" if _pick(r, "team_id", "team") else None),
                "scope_id": _pick(r, "scope_id", "team_id", "team"),
                "kind": (_pick(r, "kind", "cost_kind", "type") or "").lower() or None,
                "period_start": day(_pick(r, "period_start", "month", "week", "start", "date")),
                "amount": _pick(r, "amount", "cost"), "currency": _pick(r, "currency"), "tool": _pick(r, "tool"),
            })
    else:
        raise SchemaError(f"{p}: unknown roster kind {kind!r}; expected one of {', '.join(KINDS)}")
    return {kind: table(kind, out)}


def read(
    paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None, date_format: str | None = None
) -> Tables:
    """Read roster CSVs, files or folders of them; see the module docstring for the accepted headers.

    ``date_format`` (``strptime`` codes such as ``%d/%m/%Y``) reads dates that are not ISO;
    without it a date such as ``01/10/2025`` is refused as ambiguous.
    """
    files = list(expand(paths_of(paths), (".csv",)))
    return read_each(files, lambda p: read_file(p, date_format=date_format), progress)
