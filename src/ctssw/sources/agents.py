"""Recognising AI assistants and agents in forge and git records: one table of rules.

Each :class:`Rule` names a tool (as it appears in ``tool_usage.tool``), the kind of evidence it
reads and a case-insensitive regular expression:

======== ======================================================================================
kind     what the pattern is matched against
======== ======================================================================================
bot      the login or git author (name and email) of an account that *authors* work itself
         (``copilot-swe-agent[bot]``, ``devin-ai-integration[bot]``, ``claude[bot]``, ...)
reviewer the login of an account that *reviews* pull requests (``copilot-pull-request-reviewer[bot]``)
trailer  the value of a ``Co-authored-by:`` trailer (``Claude <noreply@anthropic.com>``)
footer   a line of the commit message (``🤖 Generated with [Claude Code](...)``)
config   the path of a file first added to a repository (``CLAUDE.md``, ``.cursor/rules/x.mdc``)
======== ======================================================================================

``RULES`` is the built-in table; :func:`rules` adds a user's own (a CSV with columns
``tool, kind, pattern``), so a new assistant needs no code. The first matching rule of a kind
wins, so a user's rules, which come first, override the built-in ones. Every detection carries
the rule that made it (``kind:pattern``), and outputs name it with its count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

__all__ = ["KINDS", "RULES", "Rule", "Rules", "is_bot", "rules"]

KINDS = ("bot", "reviewer", "trailer", "footer", "config")


@dataclass(frozen=True)
class Rule:
    """One detection rule: ``tool`` is named when ``pattern`` matches evidence of ``kind``."""

    tool: str
    kind: str
    pattern: str

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.pattern}"


def _r(tool: str, kind: str, *patterns: str) -> list[Rule]:
    return [Rule(tool, kind, p) for p in patterns]


RULES: tuple[Rule, ...] = tuple(
    # agents that author commits and pull requests under their own account
    _r("copilot", "bot", r"^copilot-swe-agent(\[bot\])?$", r"^copilot$", r"copilot@users\.noreply\.github\.com")
    + _r("devin", "bot", r"^devin-ai-integration(\[bot\])?$", r"devin-ai-integration\[bot\]@users\.noreply")
    + _r("claude", "bot", r"^claude(\[bot\])?$", r"^claude-code(\[bot\])?$")
    + _r("codex", "bot", r"^chatgpt-codex-connector(\[bot\])?$", r"^openai-codex(\[bot\])?$")
    + _r("cursor", "bot", r"^cursor(\[bot\])?$", r"^cursoragent$", r"cursoragent@cursor\.com")
    + _r("jules", "bot", r"^google-labs-jules(\[bot\])?$")
    + _r("amazon-q", "bot", r"^amazon-q-developer(\[bot\])?$")
    + _r("openhands", "bot", r"^openhands(-agent)?(\[bot\])?$")
    + _r("sweep", "bot", r"^sweep-ai(\[bot\])?$")
    # review agents
    + _r("copilot", "reviewer", r"^copilot-pull-request-reviewer(\[bot\])?$", r"^copilot$")
    + _r("coderabbit", "reviewer", r"^coderabbitai(\[bot\])?$")
    + _r("gemini", "reviewer", r"^gemini-code-assist(\[bot\])?$")
    + _r("cursor", "reviewer", r"^cursor(\[bot\])?$")
    + _r("codex", "reviewer", r"^chatgpt-codex-connector(\[bot\])?$")
    + _r("claude", "reviewer", r"^claude(\[bot\])?$")
    + _r("amazon-q", "reviewer", r"^amazon-q-developer(\[bot\])?$")
    + _r("devin", "reviewer", r"^devin-ai-integration(\[bot\])?$")
    # Co-authored-by trailers
    + _r("claude", "trailer", r"noreply@anthropic\.com", r"^claude\b")
    + _r("copilot", "trailer", r"\bcopilot\b")
    + _r("cursor", "trailer", r"cursoragent@cursor\.com", r"^cursor\b")
    + _r("codex", "trailer", r"\bcodex\b", r"@openai\.com")
    + _r("devin", "trailer", r"devin-ai-integration", r"^devin\b")
    + _r("gemini", "trailer", r"^gemini\b", r"gemini-code-assist")
    + _r("amazon-q", "trailer", r"^amazon q\b", r"amazon-q-developer")
    + _r("kiro", "trailer", r"^kiro\b", r"@kiro\.dev")
    + _r("aider", "trailer", r"^aider\b", r"aider\.chat")
    + _r("windsurf", "trailer", r"^windsurf\b", r"codeium")
    + _r("jules", "trailer", r"google-labs-jules")
    + _r("openhands", "trailer", r"^openhands\b", r"all-hands\.dev")
    # "Generated with ..." footers
    + _r("claude", "footer", r"generated (with|by) \[?claude( code)?\b")
    + _r("copilot", "footer", r"generated (with|by) \[?(github )?copilot\b")
    + _r("cursor", "footer", r"generated (with|by) \[?cursor\b")
    + _r("codex", "footer", r"generated (with|by) \[?(openai )?codex\b")
    + _r("gemini", "footer", r"generated (with|by) \[?gemini\b")
    + _r("aider", "footer", r"generated (with|by) \[?aider\b")
    + _r("kiro", "footer", r"generated (with|by) \[?kiro\b")
    + _r("devin", "footer", r"generated (with|by) \[?devin\b")
    # agent configuration files (their first appearance in a repository)
    + _r("cursor", "config", r"(^|/)\.cursorrules$", r"(^|/)\.cursor/rules/")
    + _r("claude", "config", r"(^|/)CLAUDE\.md$", r"(^|/)\.claude/")
    + _r("copilot", "config", r"(^|/)\.github/copilot-instructions\.md$", r"(^|/)\.github/instructions/.+\.instructions\.md$")
    + _r("codex", "config", r"(^|/)AGENTS\.md$")
    + _r("gemini", "config", r"(^|/)GEMINI\.md$", r"(^|/)\.gemini/")
    + _r("windsurf", "config", r"(^|/)\.windsurfrules$", r"(^|/)\.windsurf/rules/")
    + _r("kiro", "config", r"(^|/)\.kiro/")
    + _r("amazon-q", "config", r"(^|/)\.amazonq/rules/")
    + _r("aider", "config", r"(^|/)\.aider\.conf\.yml$")
    + _r("cline", "config", r"(^|/)\.clinerules")
)


class Rules:
    """A compiled rule table; ``match(kind, text)`` gives the first matching rule or None."""

    def __init__(self, table: Iterable[Rule]) -> None:
        self.table = tuple(table)
        self._by_kind: dict[str, list[tuple[re.Pattern, Rule]]] = {k: [] for k in KINDS}
        for r in self.table:
            if r.kind not in KINDS:
                raise ConfigError(f"agent rule for {r.tool!r}: kind {r.kind!r}; expected one of {', '.join(KINDS)}")
            try:
                rx = re.compile(r.pattern, re.IGNORECASE)
            except re.error as e:
                raise ConfigError(f"agent rule for {r.tool!r}: {r.pattern!r} is not a regular expression ({e})") from None
            self._by_kind[r.kind].append((rx, r))

    def match(self, kind: str, value: object) -> Rule | None:
        if value is None:
            return None
        s = str(value).strip()
        if not s:
            return None
        for rx, r in self._by_kind[kind]:
            if rx.search(s):
                return r
        return None

    def message(self, msg: str) -> list[Rule]:
        """The rules a commit message matches: its ``Co-authored-by`` trailers and its footer lines."""
        found: list[Rule] = []
        for line in msg.splitlines():
            m = CO_AUTHOR.match(line)
            r = self.match("trailer", m.group(1)) if m else self.match("footer", line)
            if r is not None and r.tool not in {x.tool for x in found}:
                found.append(r)
        return found


CO_AUTHOR = re.compile(r"^\s*co-authored-by:\s*(.+?)\s*$", re.IGNORECASE)
BOT_LOGIN = re.compile(r"\[bot\]$|^(dependabot|renovate|pre-commit-ci|github-actions)\b", re.IGNORECASE)


def rules(extra: str | Path | Iterable[Rule] | None = None) -> Rules:
    """The built-in rules, preceded by a user's own (a CSV file ``tool,kind,pattern`` or Rules)."""
    if extra is None:
        return Rules(RULES)
    if isinstance(extra, (str, Path)):
        from .common import read_csv

        header, rows = read_csv(extra, "agent rules CSV with columns tool, kind, pattern")
        if not {"tool", "kind", "pattern"} <= {h.lower() for h in header}:
            raise ConfigError(f"{extra}: expected columns tool, kind, pattern; got {', '.join(header)}")
        own = []
        for r in rows:
            r = {k.lower(): v for k, v in r.items()}
            if not r.get("tool") or not r.get("kind") or not r.get("pattern"):
                raise ConfigError(f"{extra}: a rule lacks tool, kind or pattern: {r}")
            own.append(Rule(r["tool"].strip(), r["kind"].strip().lower(), r["pattern"]))
        return Rules([*own, *RULES])
    return Rules([*extra, *RULES])


def is_bot(login: object, user_type: object = None, extra: Iterable[str] = ()) -> bool:
    """An account that is not a person: GitHub ``type: Bot``, a ``[bot]`` login, a well-known
    automation account, or one of ``extra`` (logins, compared case-insensitively)."""
    if str(user_type or "").lower() == "bot":
        return True
    s = str(login or "").strip()
    if not s:
        return False
    return bool(BOT_LOGIN.search(s)) or s.lower() in {x.lower() for x in extra}
