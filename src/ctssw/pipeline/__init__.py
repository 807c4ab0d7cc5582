"""End-to-end jobs: each CLI command calls one function here.

Pipelines orchestrate; estimators estimate and report code renders.

``impact``   a tool's effect: the dynamic panel and DiD families, their checks, value
``attribution``  several tools at once (``impact --tools``), the baseline decomposition (``explain``), rollout power (``plan``)
``drivers``  the drivers of CTS-SW from a store
``report``   the interactive report's data from a store
``store_report``  ``ctssw report``: the interactive report from any store, with ``ctssw status`` as its data health
``demo``     simulate → ingest → panel → estimate → report
"""

from __future__ import annotations

import importlib
from typing import Any

# loaded on first use, so a light command (``ctssw status``) does not import the estimators
_LAZY = {
    "impact_did": "._did_impact", "render_impact_text": "._did_impact", "impact_dynamic": "._dynamic_impact",
    "run_demo": ".demo", "summary_lines": ".demo", "drivers_from_store": ".drivers",
    "DEFAULT_COVARIATES": ".impact", "DEFAULT_OUTCOME": ".impact", "ToolEffect": ".impact", "impact": ".impact",
    "impact_from_store": ".impact", "tool_effect": ".impact",
    "attribute_from_store": ".attribution", "attribute_tools": ".attribution", "explain_change": ".attribution",
    "explain_from_store": ".attribution", "plan_from_store": ".attribution", "tools_panel_from_store": ".attribution",
    "write_store_report": ".report", "report_from_store": ".store_report", "store_status": ".status",
    "sections_connection": "._shared",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_COVARIATES",
    "DEFAULT_OUTCOME",
    "ToolEffect",
    "attribute_from_store",
    "attribute_tools",
    "drivers_from_store",
    "explain_change",
    "explain_from_store",
    "impact",
    "impact_did",
    "impact_dynamic",
    "impact_from_store",
    "plan_from_store",
    "render_impact_text",
    "report_from_store",
    "run_demo",
    "sections_connection",
    "store_status",
    "summary_lines",
    "tool_effect",
    "tools_panel_from_store",
    "write_store_report",
]
