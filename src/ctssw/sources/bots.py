"""Which identities are bots or agents: they are never builders and are counted apart.

An identity is a git e-mail, a forge login or a name as an export gives it. It is a bot when,
after lower-casing and dropping GitHub's ``12345+`` no-reply prefix and ``@users.noreply.github.com``
suffix, it matches one rule of :data:`RULES` (checked in order; the first match names the rule).
The table is data: extend it with :func:`is_bot`'s ``extra`` argument.

====================  ==================================================================
rule                  matches
====================  ==================================================================
``[bot]``             any identity containing ``[bot]`` (``dependabot[bot]``, ``claude[bot]``)
``dependabot``        ``dependabot``, ``dependabot-preview``
``renovate``          ``renovate``, ``renovate-bot``, ``bot@renovateapp.com``
``pre-commit-ci``     ``pre-commit-ci``
``github-actions``    ``github-actions``, ``action@github.com``, ``actions@github.com``
``agent``             ``copilot-swe-agent``, ``copilot`` (GitHub's agent no-reply id),
                      ``devin-ai-integration``, ``claude``, ``openhands-agent``, ``sweep-ai``
``service``           ``greenkeeper``, ``snyk-bot``, ``mergify``, ``imgbot``, ``allcontributors``,
                      ``codecov``, ``pyup-bot``, ``web-flow``, ``noreply@github.com``
====================  ==================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["RULES", "bot_rule", "is_bot"]

RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("[bot]", re.compile(r"\[bot\]")),
    ("dependabot", re.compile(r"^dependabot(-preview)?(@|$)")),
    ("renovate", re.compile(r"^(renovate(-bot)?(@|$)|bot@renovateapp\.com$)")),
    ("pre-commit-ci", re.compile(r"^pre-commit-ci(@|$)")),
    ("github-actions", re.compile(r"^(github-actions(@|$)|actions?@github\.com$)")),
    ("agent", re.compile(r"^(copilot-swe-agent|copilot|devin-ai-integration|claude|openhands-agent|sweep-ai)(@|$)")),
    ("service", re.compile(r"^(greenkeeper|snyk-bot|mergify|imgbot|allcontributors|codecov|pyup-bot|web-flow)(@|$)|^noreply@github\.com$")),
)
_NOREPLY = re.compile(r"^(\d+\+)?(?P<login>[^@]+)@users\.noreply\.github\.com$")


def _norm(identity: str) -> str:
    v = identity.strip().lower()
    m = _NOREPLY.match(v)
    return m.group("login") if m else v


def bot_rule(identity: str | None, extra: Iterable[tuple[str, re.Pattern]] = ()) -> str | None:
    """The name of the first rule ``identity`` matches, or None for a person."""
    if not identity:
        return None
    v = _norm(identity)
    for name, rx in (*RULES, *extra):
        if rx.search(v):
            return name
    return None


def is_bot(identity: str | None, extra: Iterable[tuple[str, re.Pattern]] = ()) -> bool:
    """True when ``identity`` is a bot or an agent under :data:`RULES` (and ``extra``)."""
    return bot_rule(identity, extra) is not None
