"""Linear mixed models (lme4 syntax) and the drivers-of-CTS-SW sensitivity analysis.

``model``           ``lmm``, ``LMMResult``, ``fit_lmm_file``
``_formula``        parsing ``y ~ x + (1 + x | g)``, ``(1 | a/b/c)``, ``(1 | a) + (1 | b)``
``_data``           the design and the one-pass sufficient statistics for each path
``_core``           the profiled (RE)ML criterion for one factor (with its gradient) and two nested ones
``_sparse``         the criterion for crossed or many factors (blocked sparse Cholesky)
``_optim``          the bounded search over θ, restarts off zero variances, the local-optimum check
``_satterthwaite``  lmerTest's Satterthwaite df for the fixed effects
``drivers``         ``sensitivity``: % change in CTS-SW per +1 SD of each driver, ranked
"""

from __future__ import annotations

from .drivers import DEFAULT_DRIVERS, DriversResult, sensitivity
from .model import LMMResult, fit_lmm_file, lmm

__all__ = ["DEFAULT_DRIVERS", "DriversResult", "LMMResult", "fit_lmm_file", "lmm", "sensitivity"]
