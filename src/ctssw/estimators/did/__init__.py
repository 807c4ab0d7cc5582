"""Staggered-adoption difference-in-differences.

``model``       ``staggered_did``, ``DidResult``, aggregation and the event study
``_fit``        settings (``DidConfig``) and the dispatch to one estimator
``_data``       the balanced unit × period arrays every estimator works on
``_cs``         Callaway–Sant'Anna 2x2 cells (regression, IPW, doubly robust)
``_imputation`` Borusyak–Jaravel–Spiess
``_twfe``       the naive static TWFE coefficient, for contrast
``_agg``        simple / dynamic / group / calendar aggregation, bootstrap bands
``robust``      placebo permutation, leave-one-cohort-out, honest bounds, subgroups
``continuous``  de Chaisemartin–D'Haultfœuille for a continuous dose
"""

from __future__ import annotations

from ._data import NEVER, DidPanel, prepare_panel
from ._fit import CONTROLS, EST_METHODS, METHODS, DidConfig
from .model import (
    AGGREGATIONS,
    DidAggregate,
    DidResult,
    event_study_frame,
    staggered_did,
)

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
