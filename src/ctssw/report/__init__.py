"""Reports: self-contained HTML and JSON from result objects (no fitting here).

``_html``     the page, its sections and tables
``charts``    inline SVG charts (matplotlib, no scripts)
``_dora``     DORA trend section
``_impact``   impact section (estimators side by side, event study, value)
``_drivers``  drivers section (forest plot and table)
``interactive``  the interactive report: one HTML file, plotly.js inlined, charts drawn from embedded JSON
``_data``     the privacy-floored series and tables that report embeds
The privacy floor itself is :mod:`ctssw.privacy` (re-exported here).
"""

from __future__ import annotations

from ..privacy import DEFAULT_K, MIN_K, suppress_small_groups
from . import charts
from ._dora import dora_sections
from ._drivers import drivers_section
from ._html import Section, render_html, table_html, write_report
from ._impact import impact_sections
from .interactive import headline, interactive_report, write_interactive_report

__all__ = [
    "DEFAULT_K",
    "MIN_K",
    "Section",
    "charts",
    "dora_sections",
    "drivers_section",
    "headline",
    "impact_sections",
    "interactive_report",
    "render_html",
    "suppress_small_groups",
    "table_html",
    "write_interactive_report",
    "write_report",
]
