"""Live collectors: pull from the services' APIs into a raw cache, then ingest it with the connectors.

Each ``collect_<service>`` writes the responses in the layouts the connectors read (one file per
record under ``<cache>/<service>/``), loads them with :data:`ctssw.store.LOADERS`, and saves its
per-resource watermarks in the store in the same transaction, so a second run fetches only what
changed and a killed run resumes without gaps or duplicates.
"""

from __future__ import annotations

from ._base import Result
from ._http import AuthError, CollectError
from .ai import collect_claude, collect_cursor
from .github import collect_github
from .gitlab import collect_gitlab
from .pagerduty import collect_pagerduty

__all__ = [
    "AuthError",
    "COLLECTORS",
    "CollectError",
    "Result",
    "collect_claude",
    "collect_cursor",
    "collect_github",
    "collect_gitlab",
    "collect_pagerduty",
]

COLLECTORS = {
    "claude": collect_claude,
    "cursor": collect_cursor,
    "github": collect_github,
    "gitlab": collect_gitlab,
    "pagerduty": collect_pagerduty,
}
