"""Path ownership rules in CODEOWNERS form, for commits of monorepos (used by :mod:`ctssw.sources.git`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["CODEOWNERS_PLACES", "OwnerRules"]

CODEOWNERS_PLACES = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")


def _glob_re(pattern: str) -> re.Pattern:
    p = pattern.strip()
    anchored = p.startswith("/") or "/" in p.rstrip("/")
    dir_only = p.endswith("/")
    p = p.strip("/")
    out, i = [], 0
    while i < len(p):
        if p.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif p.startswith("**", i):
            out.append(".*")
            i += 2
        elif p[i] == "*":
            out.append("[^/]*")
            i += 1
        elif p[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(p[i]))
            i += 1
    body = "".join(out)
    return re.compile(("^" if anchored else "^(?:.*/)?") + body + ("/.*$" if dir_only else "(?:/.*)?$"))


def _owner_team(owner: str) -> str:
    """``@org/payments`` → ``payments``; ``@alice`` → ``alice``; a bare team id stays."""
    o = owner.strip().lstrip("@")
    return o.split("/", 1)[1] if "/" in o else o


@dataclass
class OwnerRules:
    """Path → team rules in CODEOWNERS form (``pattern owner...``); the last matching rule wins.

    An owner ``@org/team`` names team ``team``; a plain word names a team id as is.
    """

    rules: list[tuple[str, str]]
    _compiled: list[tuple[re.Pattern, str]] = field(default_factory=list, repr=False)
    _cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._compiled = [(_glob_re(p), t) for p, t in self.rules]

    @classmethod
    def parse(cls, text: str, origin: str = "rules") -> OwnerRules:
        rules = []
        for ln in text.splitlines():
            ln = ln.split(" #", 1)[0].strip() if not ln.lstrip().startswith("#") else ""
            if not ln:
                continue
            parts = ln.split()
            if len(parts) < 2:
                continue  # a pattern with no owner un-owns paths in CODEOWNERS
            rules.append((parts[0], _owner_team(parts[1])))
        return cls(rules)

    def owner(self, path: str) -> str | None:
        try:
            return self._cache[path]
        except KeyError:
            pass
        hit = None
        for rx, team in reversed(self._compiled):
            if rx.match(path):
                hit = team
                break
        self._cache[path] = hit
        return hit

    def to_json(self) -> str:
        return json.dumps(self.rules)


