"""Drivers of CTS-SW: a linear mixed model of log CTS-SW and its sensitivity analysis.

One row per team-week. The model is

    log(cts_sw)_it = b0 + sum_k b_k z_k,it + u_0i + u_1i z_velocity,it + e_it

where ``z_k`` is driver ``k`` standardised over the rows fitted (mean 0, SD 1),
``u_i`` are team random effects (intercept, and a slope for velocity where
the data support it) and ``e_it`` is the residual. Because the drivers are
standardised, ``b_k`` is the change in log CTS-SW for a +1 SD change in the
driver, holding the others fixed; ``exp(b_k) - 1`` is the % change. A +10%
change at the driver's mean is ``0.1 * mean_k / sd_k`` SD. Intervals are Wald
intervals on the log scale (the fixed-effect covariance), exponentiated.

The random part is chosen by a ladder, stopping at the first fit that is
neither singular nor unconverged: correlated intercept and slope
``(1 + velocity | team)``, uncorrelated ``(1 + velocity || team)``, then
intercept only ``(1 | team)``. The result says which was used and why.

>>> from ctssw.simulate import simulate_panel
>>> p, truth = simulate_panel(teams=60, weeks=52, seed=1)
>>> p["cts_sw"] = (p["builders"] * 200_000 / 52 / p["deployments"]).where(p["deployments"] > 0)
>>> res = sensitivity(p)
>>> res.effects["driver"].iloc[0]
'velocity'
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import (
    ConfigError,
    ConvergenceWarning,
    DataWarning,
    EstimationError,
    SingularFitWarning,
)
from ...privacy import check_k
from ..results import Result, jsonable
from .model import LMMResult, lmm

__all__ = ["DEFAULT_DRIVERS", "DriversResult", "sensitivity"]

#: the article's candidate drivers, in the panel's column names
DEFAULT_DRIVERS: tuple[str, ...] = (
    "velocity",
    "interventions_per_deploy",
    "rollback_rate",
    "pages_per_oncall_builder",
    "builders",
    "new_member_share",
    "ai_share",
)

#: random-effect structures tried in order; the first clean fit is kept
LADDER = ("correlated slope", "uncorrelated slope", "intercept only")

_Y = "log_outcome"


@dataclass(frozen=True)
class _Config:
    drivers: tuple[str, ...]
    outcome: str
    unit: str
    random_slope: str | None
    level: float
    k: int | None


@dataclass
class DriversResult(Result):
    """Sensitivity of CTS-SW to its candidate drivers.

    ``params`` and ``std_errors`` are the fixed effects of the chosen model on
    the log scale, per SD of each driver (``tidy()`` and ``conf_int()`` follow
    the :class:`Result` contract).

    Attributes
    ----------
    effects : pandas.DataFrame
        One row per driver, ranked by ``|pct_per_sd|``: ``driver``, ``pct_per_sd``,
        ``pct_per_sd_low``, ``pct_per_sd_high``, ``pct_per_10pct``,
        ``pct_per_10pct_low``, ``pct_per_10pct_high`` (all in %, the predicted
        change in CTS-SW), ``rank``, plus ``mean``, ``sd`` (the driver's scale
        on the rows fitted), ``coef_log`` and ``se_log``.
    variance : dict
        Variance explained (see :func:`variance_explained`).
    random_effects : str
        The random part used: one of ``"correlated slope"``, ``"uncorrelated
        slope"``, ``"intercept only"``.
    attempts : list of dict
        Each random part tried, with whether it was singular or converged.
    fit, null_fit : LMMResult
        The chosen model and the intercept-only null model on the same rows.
    notes : list of str
        How the rows and the random part were chosen.
    singular, converged : bool
        The chosen fit's status; a singular or unconverged final fit also
        appears in ``warnings`` and raises a warning.
    n_teams : int
        Teams in the fit.
    dropped : dict
        Rows left out: ``outcome`` (CTS-SW missing, zero or negative),
        ``drivers`` (a driver missing), ``privacy`` (below the privacy floor).
    """

    effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    variance: dict[str, float] = field(default_factory=dict)
    random_effects: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    fit: LMMResult | None = None
    null_fit: LMMResult | None = None
    notes: list[str] = field(default_factory=list)
    singular: bool = False
    converged: bool = True
    n_teams: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    level: float = 0.95

    def ranking(self) -> list[str]:
        """Drivers from the largest to the smallest effect, by |log change per SD|."""
        return list(self.effects["driver"])

    def effects_table(self, digits: int = 1) -> pd.DataFrame:
        """The ranked effects, rounded, for display."""
        cols = ["rank", "driver", "pct_per_sd", "pct_per_sd_low", "pct_per_sd_high",
                "pct_per_10pct", "pct_per_10pct_low", "pct_per_10pct_high"]
        return self.effects[cols].round(digits)

    def _extra_lines(self) -> list[str]:
        pct = round(self.level * 100)
        lines = [
            f"Random effects: {self.random_effects}   teams: {self.n_teams}",
            "",
            f"Predicted % change in CTS-SW ({pct}% intervals):",
            self.effects_table().to_string(index=False),
            "",
            "Variance explained:",
        ]
        for k, v in self.variance.items():
            lines.append(f"  {k}: {v:.4f}" if isinstance(v, float) and not math.isnan(v) else f"  {k}: {v}")
        lines.extend(f"Note: {n}" for n in self.notes)
        return lines

    def _blocks(self) -> list:
        from ..presentation import drivers_blocks

        return drivers_blocks(self)

    def plot(self, level: float | None = None):
        """Forest plot: predicted % change in CTS-SW for +1 SD of each driver, largest first.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import forest

        e = self.effects
        rows = pd.DataFrame({"label": e["driver"], "estimate": e["pct_per_sd"] / 100,
                             "ci_low": e["pct_per_sd_low"] / 100, "ci_high": e["pct_per_sd_high"] / 100})
        return forest(rows, xlabel=f"change in CTS-SW for +1 SD of the driver ({self.level:.0%} interval)",
                      title="Drivers of CTS-SW (associations)", percent=True)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            {
                "effects": [{k: jsonable(v) for k, v in r.items()} for r in self.effects.to_dict(orient="records")],
                "ranking": self.ranking(),
                "variance_explained": jsonable(self.variance),
                "random_effects": self.random_effects,
                "attempts": jsonable(self.attempts),
                "notes": list(self.notes),
                "singular": bool(self.singular),
                "converged": bool(self.converged),
                "n_teams": int(self.n_teams),
                "dropped": {k: int(v) for k, v in self.dropped.items()},
                "level": self.level,
                "var_components": [
                    {k: jsonable(v) for k, v in r.items()}
                    for r in self.fit.var_components().to_dict(orient="records")
                ],
            }
        )
        return out


def sensitivity(
    panel_df: pd.DataFrame,
    *,
    drivers: tuple[str, ...] | list[str] = DEFAULT_DRIVERS,
    outcome: str = "cts_sw",
    unit: str = "team_id",
    random_slope: str | None = "velocity",
    level: float = 0.95,
    k: int | None = None,
) -> DriversResult:
    """Fit log CTS-SW on its drivers with team random effects and rank the drivers.

    Parameters
    ----------
    panel_df : pandas.DataFrame
        The team × week panel (:func:`ctssw.panel.panel`), one row per team-week.
    drivers : sequence of str
        Panel columns used as drivers. Drivers constant over the rows fitted
        are left out with a :class:`DataWarning`.
    outcome : str, default "cts_sw"
        Positive outcome column; the model is fitted to its log. Rows where it
        is missing, zero or negative are dropped and counted.
    unit : str, default "team_id"
        Grouping column for the random effects.
    random_slope : str or None, default "velocity"
        Driver given a random slope per team where the data support it; None
        fits a random intercept only.
    level : float, default 0.95
        Confidence level of the intervals.
    k : int, optional
        Privacy floor: team-weeks with fewer than ``k`` builders (``headcount``
        when the panel has it, else ``builders``) are left out of the fit.

    Returns
    -------
    DriversResult

    Raises
    ------
    ConfigError
        Unknown columns, a random slope that is not a driver, a level outside (0, 1).
    EstimationError
        Too few rows or teams to fit the model.
    """
    cfg = _validate(panel_df, drivers, outcome, unit, random_slope, level, k)
    data, dropped, notes, used = _prepare(panel_df, cfg)
    if data[unit].nunique() < 3:
        raise EstimationError(f"need at least 3 teams with usable rows; got {data[unit].nunique()}")
    slope = cfg.random_slope if cfg.random_slope in used else None
    if cfg.random_slope is not None and slope is None:
        notes.append(f"the random slope for {cfg.random_slope} was dropped with the driver")

    scale = pd.DataFrame({"mean": data[list(used)].mean(), "sd": data[list(used)].std(ddof=1)})
    z = data[[unit]].copy()
    z[_Y] = np.log(data[cfg.outcome].to_numpy(dtype=float))
    for c in used:
        z[c] = (data[c] - scale.at[c, "mean"]) / scale.at[c, "sd"]
    fixed = f"{_Y} ~ " + " + ".join(used)

    fit, chosen, attempts = _fit_ladder(fixed, z, unit, slope)
    if chosen != LADDER[0] and slope is not None:
        why = "; ".join(f"{a['random_effects']}: {a['problem']}" for a in attempts if a.get("problem"))
        notes.append(f"random slope for {slope} not supported by the data ({why}); used {chosen}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        null_fit = lmm(f"{_Y} ~ 1 + (1 | {unit})", z)

    msgs: list[str] = []
    if fit.singular:
        msgs.append(f"boundary (singular) fit with {chosen}: a team-level variance is estimated at zero")
        warnings.warn(msgs[-1], SingularFitWarning, stacklevel=2)
    if not fit.converged:
        msgs.append(f"the model did not converge ({fit.optimizer_message}); estimates may be unreliable")
        warnings.warn(msgs[-1], ConvergenceWarning, stacklevel=2)

    effects = _effects(fit, scale, used, cfg.level)
    variance = variance_explained(fit, null_fit, z, unit)
    return DriversResult(
        params=fit.params,
        std_errors=fit.std_errors,
        nobs=fit.nobs,
        formula=fit.formula.replace(_Y, f"log({cfg.outcome})"),
        settings={
            "outcome": f"log({cfg.outcome})",
            "drivers": "standardised (per SD over the rows fitted)",
            "method": "REML",
            "random effects": chosen,
            "inference": "Wald (normal); % effects are exp-transformed log-scale intervals",
        },
        warnings=msgs,
        df_resid=None,
        title="Drivers of CTS-SW: linear mixed model and sensitivity",
        effects=effects,
        variance=variance,
        random_effects=chosen,
        attempts=attempts,
        fit=fit,
        null_fit=null_fit,
        notes=notes,
        singular=fit.singular,
        converged=fit.converged,
        n_teams=int(z[unit].nunique()),
        dropped=dropped,
        level=cfg.level,
    )


def _validate(df, drivers, outcome, unit, random_slope, level, k) -> _Config:
    if not isinstance(df, pd.DataFrame):
        if hasattr(df, "to_pandas"):
            df = df.to_pandas()
        else:
            raise ConfigError(f"panel_df must be a pandas DataFrame; got {type(df).__name__}")
    if isinstance(drivers, str) or len(drivers) == 0:
        raise ConfigError(f"drivers must be a non-empty sequence of column names; default {list(DEFAULT_DRIVERS)}")
    drivers = tuple(dict.fromkeys(drivers))
    missing = [c for c in (*drivers, outcome, unit) if c not in df.columns]
    if missing:
        raise ConfigError(f"columns not in the panel: {missing}; drivers default to {list(DEFAULT_DRIVERS)}")
    if random_slope is not None and random_slope not in drivers:
        raise ConfigError(f"random_slope must be one of the drivers {list(drivers)} or None; got {random_slope!r}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ConfigError(f"level must be in (0, 1); got {level!r}")
    if k is not None:
        check_k(k)
    return _Config(drivers, outcome, unit, random_slope, float(level), None if k is None else int(k))


def _prepare(df: pd.DataFrame, cfg: _Config) -> tuple[pd.DataFrame, dict[str, int], list[str], tuple[str, ...]]:
    if not isinstance(df, pd.DataFrame):
        df = df.to_pandas()
    notes: list[str] = []
    dropped = {"privacy": 0, "outcome": 0, "drivers": 0}
    d = df
    if cfg.k is not None:
        size = "headcount" if "headcount" in d.columns else "builders"
        keep = d[size] >= cfg.k
        dropped["privacy"] = int((~keep).sum())
        d = d[keep]
        if dropped["privacy"]:
            notes.append(f"{dropped['privacy']} team-week(s) with fewer than {cfg.k} builders left out (privacy floor)")
    y = pd.to_numeric(d[cfg.outcome], errors="coerce")
    ok = y.notna() & (y > 0) & np.isfinite(y)
    dropped["outcome"] = int((~ok).sum())
    d = d[ok]
    if dropped["outcome"]:
        notes.append(f"{dropped['outcome']} team-week(s) with {cfg.outcome} missing or zero dropped (no units shipped)")
    X = d[list(cfg.drivers)].apply(pd.to_numeric, errors="coerce")
    ok = X.notna().all(axis=1) & np.isfinite(X).all(axis=1) & d[cfg.unit].notna()
    dropped["drivers"] = int((~ok).sum())
    d = pd.concat([d.loc[ok, [cfg.unit, cfg.outcome]], X[ok]], axis=1).reset_index(drop=True)
    if dropped["drivers"]:
        notes.append(f"{dropped['drivers']} team-week(s) with a driver undefined dropped")
    used = []
    for c in cfg.drivers:
        if len(d) and d[c].std(ddof=1) > 0:
            used.append(c)
        else:
            msg = f"driver {c} is constant over the rows fitted and was left out"
            notes.append(msg)
            warnings.warn(msg, DataWarning, stacklevel=3)
    if not used:
        raise EstimationError("no driver varies over the rows fitted")
    if len(d) <= len(used) + 3:
        raise EstimationError(f"too few usable team-weeks ({len(d)}) for {len(used)} drivers")
    return d, dropped, notes, tuple(used)


def _fit_ladder(fixed: str, z: pd.DataFrame, unit: str, slope: str | None) -> tuple[LMMResult, str, list[dict]]:
    parts = {
        "correlated slope": f"(1 + {slope} | {unit})",
        "uncorrelated slope": f"(1 + {slope} || {unit})",
        "intercept only": f"(1 | {unit})",
    }
    ladder = LADDER if slope is not None else LADDER[-1:]
    attempts: list[dict] = []
    fit = None
    for name in ladder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                fit = lmm(f"{fixed} + {parts[name]}", z)
            except EstimationError as e:
                if name == ladder[-1]:
                    raise
                attempts.append({"random_effects": name, "problem": f"not estimable: {e}"})
                continue
        problem = "; ".join(
            p for p, bad in (("singular", fit.singular), ("not converged", not fit.converged)) if bad
        )
        attempts.append(
            {"random_effects": name, "singular": fit.singular, "converged": fit.converged,
             "reml_criterion": fit.reml_criterion, "problem": problem}
        )
        if not problem:
            return fit, name, attempts
    return fit, ladder[-1], attempts


def _effects(fit: LMMResult, scale: pd.DataFrame, used: tuple[str, ...], level: float) -> pd.DataFrame:
    crit = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for c in used:
        b, se = float(fit.params[c]), float(fit.std_errors[c])
        mean, sd = float(scale.at[c, "mean"]), float(scale.at[c, "sd"])
        step = 0.1 * mean / sd  # +10% of the mean, in SD units
        lo, hi = b - crit * se, b + crit * se
        p10 = sorted((step * lo, step * hi))
        rows.append(
            {
                "driver": c,
                "pct_per_sd": 100 * math.expm1(b),
                "pct_per_sd_low": 100 * math.expm1(lo),
                "pct_per_sd_high": 100 * math.expm1(hi),
                "pct_per_10pct": 100 * math.expm1(step * b),
                "pct_per_10pct_low": 100 * math.expm1(p10[0]),
                "pct_per_10pct_high": 100 * math.expm1(p10[1]),
                "coef_log": b,
                "se_log": se,
                "mean": mean,
                "sd": sd,
            }
        )
    eff = pd.DataFrame(rows)
    # rank on |log effect|: % changes are asymmetric (+b gives a larger |%| than -b), so ranking on
    # them would favour drivers that raise CTS-SW over equally strong ones that lower it
    eff = eff.reindex(eff["coef_log"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)
    eff.insert(0, "rank", np.arange(1, len(eff) + 1))
    return eff


def variance_explained(fit: LMMResult, null_fit: LMMResult, z: pd.DataFrame, unit: str) -> dict[str, float]:
    """Variance explained by the drivers.

    Returns
    -------
    dict
        ``r2_marginal`` and ``r2_conditional``: Nakagawa & Schielzeth's R² (with
        Johnson's extension for random slopes): the share of the total variance
        of log CTS-SW (fixed + team + residual) explained by the drivers alone,
        and by the drivers and the team effects together.
        ``within_team_explained``: 1 − σ²/σ²_null, the proportional reduction of
        the residual (week-to-week, within-team) variance against the
        intercept-only model on the same rows. ``between_team_explained``:
        1 − τ₀²/τ₀²_null, the same for the team-intercept variance (at the
        drivers' means). Either can be slightly negative in finite samples.
        The variance components behind them are included.
    """
    X = np.column_stack([z[c].to_numpy(dtype=float) for c in fit.params.index if c != "(Intercept)"])
    beta = fit.params.drop("(Intercept)").to_numpy(dtype=float)
    var_f = float(np.var(X @ beta, ddof=0))
    cov = fit.cov_re.loc[unit, unit]
    terms = list(cov.index)
    Z = np.column_stack([np.ones(len(z)) if t == "(Intercept)" else z[t].to_numpy(dtype=float) for t in terms])
    var_team = float(np.mean(np.einsum("ij,jk,ik->i", Z, cov.to_numpy(), Z)))
    s2 = float(fit.sigma2)
    total = var_f + var_team + s2
    tau0 = float(cov.loc["(Intercept)", "(Intercept)"])
    tau0_null = float(null_fit.cov_re.loc[unit, unit].iloc[0, 0])
    s2_null = float(null_fit.sigma2)
    return {
        "r2_marginal": var_f / total,
        "r2_conditional": (var_f + var_team) / total,
        "within_team_explained": 1 - s2 / s2_null if s2_null > 0 else math.nan,
        "between_team_explained": 1 - tau0 / tau0_null if tau0_null > 0 else math.nan,
        "var_fixed": var_f,
        "var_team": var_team,
        "var_residual": s2,
        "var_team_null": tau0_null,
        "var_residual_null": s2_null,
    }
