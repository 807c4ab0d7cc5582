"""Estimators: each takes a DataFrame (the panel) and returns a result object (DESIGN §4).

Every result has ``params``, ``std_errors``, ``conf_int()``, ``pvalues``,
``tidy()``, ``summary()`` and ``to_dict()``.
"""

from __future__ import annotations

from ._results import Estimate, Result
from .adoption import adoption_cohorts, rollout_cohorts
from .did import DidAggregate, DidResult, event_study_frame, impact_did, staggered_did
from .drivers import DriversResult, sensitivity
from .dynamic import (
    DynamicResult,
    compare,
    dynamic_panel,
    impact_dynamic,
    normalise_pre_adoption,
)
from .exogeneity import ExogeneityChecks
from .exogeneity import checks as exogeneity_checks
from .gmm import GMMResult, gmm
from .lmm import LMMResult, fit_lmm_file, lmm
from .value import ValueSettings, ValueTranslation, translate

__all__ = [
    "DidAggregate",
    "DidResult",
    "DriversResult",
    "DynamicResult",
    "Estimate",
    "ExogeneityChecks",
    "GMMResult",
    "LMMResult",
    "Result",
    "ValueSettings",
    "ValueTranslation",
    "adoption_cohorts",
    "compare",
    "dynamic_panel",
    "event_study_frame",
    "exogeneity_checks",
    "fit_lmm_file",
    "gmm",
    "impact_did",
    "impact_dynamic",
    "lmm",
    "normalise_pre_adoption",
    "rollout_cohorts",
    "sensitivity",
    "staggered_did",
    "translate",
]
