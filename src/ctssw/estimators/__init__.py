"""Estimators: each takes a DataFrame (the panel) and returns a result object (DESIGN §4).

Every result has ``params``, ``std_errors``, ``conf_int()``, ``pvalues``,
``tidy()``, ``summary()`` and ``to_dict()``.

Families, one subpackage each:

``lmm/``      linear mixed models and the drivers sensitivity analysis
``dynamic/``  the article's dynamic panel model: within, jackknife, GMM, exogeneity checks
``did/``      staggered difference-in-differences and its robustness checks
``attribution/``  several tools in one model, the baseline decomposition, rollout power
``value``     effect → CTS-SW change → engineering-years → dollars
``adoption``  adoption cohorts from usage shares or rollout dates
``results``   the result contract shared by every family
``display``, ``presentation``, ``plots``, ``etable``  how results print, show in notebooks and plot
"""

from __future__ import annotations

from .adoption import adoption_cohorts, rollout_cohorts
from .attribution import AttributionResult, attribute
from .did import DidAggregate, DidResult, event_study_frame, staggered_did
from .dynamic import (
    DynamicResult,
    ExogeneityChecks,
    GMMResult,
    compare,
    dynamic_panel,
    gmm,
    normalise_pre_adoption,
)
from .dynamic import checks as exogeneity_checks
from .etable import ETable, etable
from .lmm import DriversResult, LMMResult, fit_lmm_file, lmm, sensitivity
from .results import Estimate, Result
from .value import ValueSettings, ValueTranslation, translate

__all__ = [
    "AttributionResult",
    "DidAggregate",
    "DidResult",
    "DriversResult",
    "DynamicResult",
    "ETable",
    "Estimate",
    "ExogeneityChecks",
    "GMMResult",
    "LMMResult",
    "Result",
    "ValueSettings",
    "ValueTranslation",
    "adoption_cohorts",
    "attribute",
    "compare",
    "dynamic_panel",
    "etable",
    "event_study_frame",
    "exogeneity_checks",
    "fit_lmm_file",
    "gmm",
    "lmm",
    "normalise_pre_adoption",
    "rollout_cohorts",
    "sensitivity",
    "staggered_did",
    "translate",
]
