"""Tool names for ``ctssw impact --tools``, ``explain`` and ``plan``: usage, features, coding and review agents.

=========================  =====================================================  =========================
name                       the team-week share it stands for                      panel column
=========================  =====================================================  =========================
``copilot``                builders active with the tool (any feature, any        ``share_copilot``
                           sub-source: ``claude`` counts ``claude:git``)
``copilot/chat``           builders active with that feature of the tool          ``share_copilot/chat``
                           (completion, chat, agent, cli, review)
``agent:copilot``          merged changes the tool's agent authored or            ``agent_share_copilot``
                           co-authored (``changes.agent``)
``review:coderabbit``      merged changes the tool's agent reviewed               ``review_share_coderabbit``
                           (``changes.review_agent``)
``agent:any``,             any agent                                              ``agent_share_any``, ...
``review:any``
=========================  =====================================================  =========================

Usage shares are the panel's ``ai_share`` for one tool (and feature); change shares are its
``agent_share`` for one tool, and the same for reviews. A team-week with no merged change has a
change share of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..errors import ConfigError
from ..panel import CHANGE_ROLES, FEATURES

ANY = "any"


@dataclass(frozen=True)
class Selector:
    """One tool as named on the command line."""

    name: str
    kind: str  # "usage", "agent" or "review"
    tool: str
    feature: str | None = None

    @property
    def column(self) -> str:
        if self.kind == "usage":
            return f"share_{self.name}"
        return f"{self.kind}_share_{self.tool}"


def parse_selector(name: str) -> Selector:
    """``copilot``, ``copilot/chat``, ``agent:copilot``, ``review:coderabbit`` (see the module docstring)."""
    name = str(name).strip()
    role, sep, rest = name.partition(":")
    if sep and role in CHANGE_ROLES:
        if not rest.strip():
            raise ConfigError(f"{name!r}: name the agent after {role}:, e.g. {role}:copilot or {role}:any")
        return Selector(name, role, rest.strip())
    tool, sep, feature = name.partition("/")
    if sep:
        if feature not in FEATURES or feature == "all":
            raise ConfigError(f"{name!r}: the feature after / must be one of {', '.join(f for f in FEATURES if f != 'all')}")
        if not tool:
            raise ConfigError(f"{name!r}: name the tool before /{feature}")
        return Selector(name, "usage", tool, feature)
    if not name:
        raise ConfigError("a tool name is empty")
    return Selector(name, "usage", name)


def _base(tool: str) -> str:
    return tool.split(":")[0]


def check_known(sels: list[Selector], usage: pd.DataFrame, changes: pd.DataFrame) -> None:
    """Refuse, in one line naming what the store has, a tool the store records no use of.

    ``usage``: distinct ``tool, feature`` of ``tool_usage``; ``changes``: distinct ``role, tool``
    of :func:`ctssw.panel.change_shares`.
    """
    missing = []
    for s in sels:
        if s.kind == "usage":
            rows = usage[(usage["tool"] == s.tool) | usage["tool"].str.startswith(s.tool + ":")]
            if s.feature is not None:
                rows = rows[rows["feature"] == s.feature]
        else:
            rows = changes[changes["role"] == s.kind]
            if s.tool != ANY:
                rows = rows[rows["tool"] == s.tool]
        if rows.empty:
            missing.append(s.name)
    if missing:
        feats = sorted({f"{_base(t)}/{f}" for t, f in zip(usage["tool"], usage["feature"]) if f != "all"})
        have = sorted({_base(t) for t in usage["tool"]}) + feats
        have += sorted({f"{r}:{t}" for r, t in zip(changes["role"], changes["tool"])})
        raise ConfigError(f"no usage of {missing} in the store; tools with usage: {have or 'none'}")


def change_share(changes: pd.DataFrame, s: Selector) -> pd.DataFrame:
    """``team_id, week`` and ``s``'s share of merged changes, from :func:`ctssw.panel.change_shares`."""
    rows = changes[changes["role"] == s.kind]
    if s.tool != ANY:
        rows = rows[rows["tool"] == s.tool]
    g = rows.groupby(["team_id", "week"], as_index=False).agg(changes=("changes", "sum"), merged=("changes_merged", "first"))
    g[s.column] = g["changes"] / g["merged"]
    return g[["team_id", "week", s.column]]
