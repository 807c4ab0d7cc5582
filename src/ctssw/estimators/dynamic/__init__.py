"""Dynamic panel models of a team outcome (the article's model) and their checks.

``model``       ``dynamic_panel`` (fe, jackknife, diff-gmm, sys-gmm) and ``compare``
``_result``     ``DynamicResult``, the long-run effect and its delta-method interval
``_within``     two-way within transformation and clustered OLS
``gmm``         ``gmm``: plm::pgmm-style difference and system GMM
``_formula``    transformed variables in GMM formulas (``log(x + 1)``)
``_gmm_build``  instrument matrices (GMM-style, IV-style, collapsed)
``_gmm_core``   one- and two-step GMM, Windmeijer SEs, Sargan/Hansen, AR tests
``exogeneity``  mediator, strict-exogeneity and feedback checks
"""

from __future__ import annotations

from ._result import DynamicResult, long_run_effect
from .exogeneity import ExogeneityChecks, checks
from .gmm import GMMResult, gmm
from .model import (
    METHODS,
    compare,
    compare_rows,
    compare_text,
    dynamic_panel,
    normalise_pre_adoption,
)

__all__ = [
    "METHODS",
    "DynamicResult",
    "ExogeneityChecks",
    "GMMResult",
    "checks",
    "compare",
    "compare_rows",
    "compare_text",
    "dynamic_panel",
    "gmm",
    "long_run_effect",
    "normalise_pre_adoption",
]
