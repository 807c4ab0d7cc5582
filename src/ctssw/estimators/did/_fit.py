"""Settings and the dispatch from a prepared panel to one staggered-DiD estimator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ConfigError, EstimationError
from ._cs import cells_covariates, cells_linear, cells_unbalanced
from ._data import NEVER, DidPanel
from ._imputation import fit_imputation
from ._inference import INFERENCES
from ._rc import cells_unbalanced_covariates
from ._twfe import fit_twfe

__all__ = ["CONTROLS", "EST_METHODS", "METHODS", "DidConfig", "fit_panel"]

METHODS = ("cs", "sun-abraham", "imputation", "twfe")
CONTROLS = ("notyet", "never")
EST_METHODS = ("dr", "reg", "ipw")
_DEFAULT_CONTROL = {"cs": "notyet", "sun-abraham": "never", "imputation": "notyet", "twfe": "notyet"}


@dataclass(frozen=True)
class DidConfig:
    """Validated settings of one fit."""

    y: str
    unit: str
    time: str
    cohort: str
    method: str = "cs"
    control: str = "notyet"
    est_method: str = "dr"
    covariates: tuple[str, ...] = ()
    anticipation: int = 0
    bootstrap: int = 999
    level: float = 0.95
    seed: int | None = 0
    pre_periods: int = 5
    inference: str = "auto"
    treatment: str | None = None

    def panel_path(self, panel: DidPanel) -> str:
        """Which observations the fit used and how, for ``settings["panel"]``."""
        if self.method in ("imputation", "twfe"):
            return "every observation (unit and period effects fit on the observed cells)"
        if self.method == "sun-abraham":
            return "balanced subset: units observed in every period (the others are dropped with a warning)"
        if panel.balanced:
            return "balanced panel: panel 2x2 estimators"
        est = f" ('{self.est_method}', covariates of each observation's period)" if self.covariates else ""
        return (
            f"unbalanced panel: every observation, repeated-cross-section 2x2 estimator{est} in each (g,t) "
            "cell, influence functions summed by unit (R did's allow_unbalanced_panel=TRUE)"
        )


def _config(**kw: Any) -> DidConfig:
    method = kw["method"]
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    control = kw["control"] if kw["control"] is not None else _DEFAULT_CONTROL[method]
    if control not in CONTROLS:
        raise ConfigError(f"control must be one of {CONTROLS}, got {control!r}")
    if kw["est_method"] not in EST_METHODS:
        raise ConfigError(f"est_method must be one of {EST_METHODS}, got {kw['est_method']!r}")
    cov = kw["covariates"]
    cov = () if cov is None else ((cov,) if isinstance(cov, str) else tuple(cov))
    if cov and method == "sun-abraham":
        raise ConfigError("covariates are supported by methods 'cs', 'imputation' and 'twfe', not 'sun-abraham'")
    treatment = kw.get("treatment")
    if treatment is not None and (method != "twfe" or not isinstance(treatment, str)):
        raise ConfigError("treatment (a column name) is for method='twfe': the other methods define treatment by the cohort")
    if kw["cohort"] is None and treatment is None:
        raise ConfigError("cohort is required (the first treated period of each unit); only method='twfe' with treatment= can do without")
    if method == "sun-abraham" and control != "never":
        raise ConfigError("method='sun-abraham' compares with the never-treated (or last-treated) cohort: control must be 'never'")
    if method == "imputation" and control != "notyet":
        raise ConfigError("method='imputation' fits on every untreated observation: control must be 'notyet'")
    if method == "twfe" and control != "notyet":
        raise ConfigError("method='twfe' has no control-group choice: control must be 'notyet' or None")
    a = kw["anticipation"]
    if not isinstance(a, (int, np.integer)) or a < 0:
        raise ConfigError(f"anticipation must be a non-negative integer, got {a!r}")
    b = kw["bootstrap"]
    if not isinstance(b, (int, np.integer)) or b < 0:
        raise ConfigError(f"bootstrap must be a non-negative number of replications (0 = no bands), got {b!r}")
    lv = kw["level"]
    if not 0 < lv < 1:
        raise ConfigError(f"level must be in (0, 1), got {lv!r}")
    pp = kw["pre_periods"]
    if not isinstance(pp, (int, np.integer)) or pp < 0:
        raise ConfigError(f"pre_periods must be a non-negative integer, got {pp!r}")
    inf = kw.get("inference", "auto")
    if inf not in INFERENCES:
        raise ConfigError(f"inference must be one of {INFERENCES}, got {inf!r}")
    return DidConfig(
        inference=inf,
        treatment=treatment,
        y=kw["y"], unit=kw["unit"], time=kw["time"], cohort=kw["cohort"], method=method, control=control,
        est_method=kw["est_method"], covariates=cov, anticipation=int(a), bootstrap=int(b), level=float(lv),
        seed=kw["seed"], pre_periods=int(pp),
    )



def _sa_panel(panel: DidPanel, anticipation: int) -> tuple[DidPanel, list[str]]:
    """Sun-Abraham's control cohort: the never treated, else the last-treated cohort
    (periods from its adoption on are dropped)."""
    if (panel.cohort == NEVER).any():
        return panel, []
    last = int(panel.groups.max())
    keep_t = last - anticipation
    if keep_t < 2 or len(panel.groups) < 2:
        raise EstimationError("Sun-Abraham needs a never-treated or a last-treated control cohort")
    cohort = np.where(panel.cohort == last, NEVER, panel.cohort)
    p = DidPanel(panel.y[:, :keep_t], cohort, panel.times[:keep_t], panel.units, None if panel.x is None else panel.x[:, :keep_t], panel.covariates, None if panel.dose is None else panel.dose[:, :keep_t])
    msg = f"no never-treated units: the last-treated cohort ({panel.cohort_label(last)}) is the control, periods from its adoption on are dropped"
    return p, [msg]


def fit_panel(panel: DidPanel, cfg: DidConfig) -> tuple[Any, Any, list[str]]:
    """Fit ``cfg.method`` on a prepared panel; returns (fit, pre-period fit, notes)."""
    notes: list[str] = []
    if cfg.method == "twfe":
        return fit_twfe(panel, treatment=panel.dose if cfg.treatment else None), None, notes
    if cfg.method == "imputation":
        fit = fit_imputation(panel, anticipation=cfg.anticipation)
        pre = None
        if cfg.pre_periods > 0:
            try:
                pre = fit_imputation(panel, anticipation=cfg.anticipation, lead=cfg.pre_periods)
            except EstimationError:
                pre = None
        return fit, pre, notes
    if cfg.method == "sun-abraham":
        p, notes = _sa_panel(panel, cfg.anticipation)
        return cells_linear(p, control="never", anticipation=cfg.anticipation, base="universal"), None, notes
    if cfg.control == "never" and not (panel.cohort == NEVER).any():
        raise EstimationError("control='never' but no unit is never treated; use control='notyet'")
    if cfg.covariates and not panel.balanced:
        return cells_unbalanced_covariates(
            panel, control=cfg.control, anticipation=cfg.anticipation, base="varying", est_method=cfg.est_method
        ), None, notes
    if cfg.covariates:
        return cells_covariates(panel, control=cfg.control, anticipation=cfg.anticipation, base="varying", est_method=cfg.est_method), None, notes
    if not panel.balanced:
        return cells_unbalanced(panel, control=cfg.control, anticipation=cfg.anticipation, base="varying"), None, notes
    return cells_linear(panel, control=cfg.control, anticipation=cfg.anticipation, base="varying"), None, notes
