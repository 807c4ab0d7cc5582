"""Reports: self-contained HTML and JSON from result objects (no fitting here)."""

from __future__ import annotations

from ._html import Section, render_html, table_html, write_report
from ._privacy import DEFAULT_K, MIN_K, suppress_small_groups

__all__ = ["DEFAULT_K", "MIN_K", "Section", "render_html", "suppress_small_groups", "table_html", "write_report"]
