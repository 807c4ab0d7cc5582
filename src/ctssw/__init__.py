"""ctssw: cost to serve software.

Measure what an engineering organisation spends per unit of software reaching
customers, find what drives it, and estimate what tools and practices change it.
"""

from __future__ import annotations

from .errors import CtsswError
from .estimators import compare, dynamic_panel, gmm, lmm, sensitivity, staggered_did
from .panel import panel, panel_expr
from .simulate import simulate, simulate_panel
from .store import Store, ingest_canonical

__version__ = "0.1.0"

__all__ = [
    "CtsswError",
    "Store",
    "__version__",
    "compare",
    "dynamic_panel",
    "gmm",
    "ingest_canonical",
    "lmm",
    "panel",
    "panel_expr",
    "sensitivity",
    "simulate",
    "simulate_panel",
    "staggered_did",
]
