"""GitHub team member lists → teams and memberships (see :mod:`ctssw.sources.forges.github`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from ..agents import is_bot
from ..common import Tables, get, note, table, text

MEMBERS_FILE = re.compile(r"(?:^|/)teams/([^/]+)/members[^/]*\.json$")


def team_members(doc: object, p: Path, kind: Callable[[object], str | None]) -> tuple[dict, list] | None:
    """(team, members) when ``doc`` is a team's member list (see the module docstring)."""
    if isinstance(doc, dict) and isinstance(doc.get("team"), dict) and isinstance(doc.get("members"), list):
        return doc["team"], doc["members"]
    m = MEMBERS_FILE.search(p.as_posix())
    if m and isinstance(doc, list) and all(isinstance(u, dict) and "login" in u and not kind(u) for u in doc):
        return {"slug": m.group(1)}, doc
    return None


def team_slug(t: object) -> str | None:
    """A team's slug (older API responses carry only the name: GitHub's slug is the name
    lower-cased with runs of other characters as one hyphen); None when there is nothing to name it by."""
    if text(get(t, "slug")):
        return text(get(t, "slug"))
    name = text(get(t, "name")) or text(get(t, "id"))
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-") or None if name else None


def teams_tables(found: list[tuple[dict, list]], bots: Iterable[str] = ()) -> Tables:
    """Teams and their members; ``start`` is left empty for the loader to fill."""
    teams, members, nbots = {}, [], 0
    for t, ms in found:
        slug = team_slug(t)
        if slug is None:
            continue
        parent = get(t, "parent")
        teams[slug] = {"team_id": slug, "name": text(get(t, "name")) or slug,
                       "parent_id": team_slug(parent) if isinstance(parent, dict) else None}
        for m in ms:
            login = get(m, "login")
            if not text(login):
                continue
            if is_bot(login, get(m, "type"), bots):
                nbots += 1
                continue
            members.append({"builder": login, "team_id": slug, "start": None})
    if nbots:
        note(f"github: {nbots} bot account(s) in team member lists are not builders")
    out: Tables = {}
    if teams:
        out["teams"] = table("teams", list(teams.values()))
    if members:
        out["memberships"] = table("memberships", members)
    return out
