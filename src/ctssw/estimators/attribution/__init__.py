"""Several tools at once: joint models, the baseline decomposition, rollout power.

``model``     ``attribute``: every tool's share in one dynamic two-way model, or a
              joint imputation DiD; per-tool effects, their sum, the naive sum
``did``       the joint imputation DiD with several treatments (dCDH 2023 design)
``baseline``  ``explain``: the change in CTS-SW split into trend, tools, composition, residual
``power``     ``plan``: power and minimum detectable effect by simulation on the history, a balanced schedule
``value``     each tool's and the total value, net of licences, with intervals
``architecture``  CTS-SW per architecture in its own unit; drivers and tool effects by architecture, equality tests
``_result``   ``AttributionResult``
"""

from __future__ import annotations

from ._result import AttributionResult
from .architecture import (
    ArchitectureDrivers,
    ArchitectureEffects,
    cts_by_architecture,
    drivers_by_architecture,
    effects_by_architecture,
)
from .baseline import Decomposition, explain
from .did import adoption_matrix, imputation_effects
from .model import METHODS, attribute, normalise_team_mean
from .power import PowerPlan, balanced_waves, plan
from .value import ToolsValue, value_tools

__all__ = [
    "METHODS",
    "ArchitectureDrivers",
    "ArchitectureEffects",
    "AttributionResult",
    "Decomposition",
    "PowerPlan",
    "ToolsValue",
    "adoption_matrix",
    "attribute",
    "balanced_waves",
    "cts_by_architecture",
    "drivers_by_architecture",
    "effects_by_architecture",
    "explain",
    "imputation_effects",
    "normalise_team_mean",
    "plan",
    "value_tools",
]
