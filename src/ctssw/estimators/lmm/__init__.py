"""Linear mixed models (lme4 syntax) and the drivers-of-CTS-SW sensitivity analysis.

``model``     ``lmm``, ``LMMResult``, ``fit_lmm_file``
``_formula``  parsing ``y ~ x + (1 + x | g)``
``_data``     the design and the one-pass per-group sufficient statistics
``_core``     the profiled (RE)ML criterion, its gradient and the optimiser
``drivers``   ``sensitivity``: % change in CTS-SW per +1 SD of each driver, ranked
"""

from __future__ import annotations

from .drivers import DEFAULT_DRIVERS, DriversResult, sensitivity
from .model import LMMResult, fit_lmm_file, lmm

__all__ = ["DEFAULT_DRIVERS", "DriversResult", "LMMResult", "fit_lmm_file", "lmm", "sensitivity"]
