"""Reports: the interactive, self-contained HTML report (no fitting here).

``interactive``  the report: one HTML file, plotly.js inlined, charts drawn from embedded JSON
``_data``     the privacy-floored series and tables that report embeds
The privacy floor itself is :mod:`ctssw.privacy` (re-exported here).
"""

from __future__ import annotations

from ..privacy import DEFAULT_K, MIN_K, suppress_small_groups
from .interactive import headline, interactive_report, write_interactive_report

__all__ = [
    "DEFAULT_K",
    "MIN_K",
    "headline",
    "interactive_report",
    "suppress_small_groups",
    "write_interactive_report",
]
