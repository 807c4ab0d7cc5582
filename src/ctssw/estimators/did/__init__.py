"""Staggered-adoption difference-in-differences.

``model``       ``staggered_did``, ``DidResult``, aggregation
``event_study`` the event-study table
``_fit``        settings (``DidConfig``) and the dispatch to one estimator
``_data``       the unit × period arrays (balanced for Sun-Abraham)
``_cs``         Callaway–Sant'Anna 2x2 cells (regression, IPW, doubly robust, trimming)
``_rc``         the same on an unbalanced panel: repeated-cross-section 2x2 estimators
``_fe``         unit and period effects on any subset of the grid (unbalanced panels)
``_imputation`` Borusyak–Jaravel–Spiess, with covariates in the first stage
``_pretrends``  imputation event-study windows and the leads-regression test
``_twfe``       static TWFE with covariates or a user-given treatment
``_agg``        simple / dynamic / group / calendar aggregation, bootstrap bands
``_inference``  analytic or small-sample intervals and the automatic choice
``robust``      placebo permutation, leave-one-cohort-out, honest bounds, subgroups
``continuous``  de Chaisemartin–D'Haultfœuille for a continuous dose
"""

from __future__ import annotations

from ._data import NEVER, DidPanel, prepare_panel
from ._fit import CONTROLS, EST_METHODS, METHODS, DidConfig
from .event_study import event_study_frame
from .model import AGGREGATIONS, DidAggregate, DidResult, staggered_did

__all__ = [
    "AGGREGATIONS",
    "CONTROLS",
    "EST_METHODS",
    "METHODS",
    "NEVER",
    "DidAggregate",
    "DidConfig",
    "DidPanel",
    "DidResult",
    "event_study_frame",
    "prepare_panel",
    "staggered_did",
]
