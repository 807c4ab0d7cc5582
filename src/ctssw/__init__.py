"""ctssw: cost to serve software.

Measure what an engineering organisation spends per unit of software reaching
customers, find what drives it, and estimate what tools and practices change it.

Names are imported on first use, so ``ctssw --help`` and small commands start
without loading Ibis, SciPy or the estimators.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from .errors import CtsswError

__version__ = "0.1.0"

__all__ = [
    "CtsswError",
    "Store",
    "__version__",
    "attribute",
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

_LAZY = {
    "Store": ".store",
    "ingest_canonical": ".store",
    "panel": ".panel",
    "panel_expr": ".panel",
    "attribute": ".estimators",
    "compare": ".estimators",
    "dynamic_panel": ".estimators",
    "gmm": ".estimators",
    "lmm": ".estimators",
    "sensitivity": ".estimators",
    "staggered_did": ".estimators",
    "simulate": ".simulate",
    "simulate_panel": ".simulate",
}

if TYPE_CHECKING:
    from .estimators import (
        attribute,
        compare,
        dynamic_panel,
        gmm,
        lmm,
        sensitivity,
        staggered_did,
    )
    from .panel import panel, panel_expr
    from .simulate import simulate, simulate_panel
    from .store import Store, ingest_canonical


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ctssw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    # ``ctssw.panel`` and ``ctssw.simulate`` are both a subpackage and a function.
    # Importing the subpackage would bind its module over the lazy function, so
    # the function keeps the name, as an eager ``from .panel import panel`` did.
    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("panel", "simulate") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
