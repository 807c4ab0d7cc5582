"""End-to-end jobs: each CLI command calls one function here.

Pipelines orchestrate; estimators estimate and report code renders.

``impact``   a tool's effect: the dynamic panel and DiD families, their checks, value
``attribution``  several tools at once (``impact --tools``), the baseline decomposition (``explain``), rollout power (``plan``)
``drivers``  the drivers of CTS-SW from a store
``report``   the demo report's own sections
``demo``     simulate → ingest → panel → estimate → report
"""

from __future__ import annotations

from ._did_impact import impact_did, render_impact_text
from ._dynamic_impact import impact_dynamic
from .attribution import (
    attribute_from_store,
    attribute_tools,
    explain_change,
    explain_from_store,
    plan_from_store,
    tools_panel_from_store,
)
from .demo import run_demo, summary_lines
from .drivers import drivers_from_store
from .impact import (
    DEFAULT_COVARIATES,
    DEFAULT_OUTCOME,
    ToolEffect,
    impact,
    impact_from_store,
    tool_effect,
)
from .report import demo_report_sections

__all__ = [
    "DEFAULT_COVARIATES",
    "DEFAULT_OUTCOME",
    "ToolEffect",
    "attribute_from_store",
    "attribute_tools",
    "demo_report_sections",
    "drivers_from_store",
    "explain_change",
    "explain_from_store",
    "impact",
    "impact_did",
    "impact_dynamic",
    "impact_from_store",
    "plan_from_store",
    "render_impact_text",
    "run_demo",
    "summary_lines",
    "tool_effect",
    "tools_panel_from_store",
]
