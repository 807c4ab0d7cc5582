"""Arellano–Bond and Blundell–Bond GMM for dynamic panels.

:func:`gmm` takes R plm::pgmm's formula syntax and reproduces its estimates,
standard errors and tests, for difference and system GMM, one- and two-step,
``effect="twoways"`` and ``"individual"`` (checked against plm 2.6 on the
Arellano–Bond EmplUK data)::

    gmm("n ~ lag(n, 1:2) + lag(w, 0:1) + k + lag(ys, 0:1) | lag(n, 2:99)",
        data, unit="firm", time="year", model="twostep")

The formula has two or three parts separated by ``|``: the model; the GMM-style
instruments (``lag(v, a:b)``: levels of ``v`` lagged ``a`` to ``b`` periods,
one column per period and lag unless collapsed); and optionally the IV-style
("normal") instruments. Without a third part, every regressor whose variable
has no GMM-style instruments is its own IV-style instrument, as in plm.
Variables may be transformed as in R (``log(emp)``, ``log(capital + 1)``,
``lag(log(output + 1), 0:1)``; see :mod:`._formula`), and coefficients are
named as plm names them.

``dynamic_panel(..., method="diff-gmm" | "sys-gmm")`` builds the same models
from column names, with collapsed instruments by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError
from ..results import Result, jsonable
from ._formula import columns_of, deparse, evaluate, parse_expression, split_top
from ._gmm_build import GMMModel, build_system
from ._gmm_core import GMMFit, fit_gmm
from ._result import finish
from ._within import index_panel

__all__ = ["GMMResult", "gmm", "parse_formula"]

MODELS = ("onestep", "twostep")
TRANSFORMATIONS = {"d": "difference GMM (Arellano-Bond)", "ld": "system GMM (Blundell-Bond)"}
EFFECTS = ("individual", "twoways")
TIME_EFFECTS = ("demean", "dummies", "none")
DEFAULT_MAX_LAG = 8


@dataclass
class GMMResult(Result):
    """A fitted panel GMM model.

    Attributes
    ----------
    vcov : pandas.DataFrame
        Robust covariance (one-step sandwich or Windmeijer-corrected two-step).
    vcov_nonrobust : pandas.DataFrame
    params_onestep : pandas.Series
    hansen, sargan : dict
        ``statistic``, ``df``, ``p_value``. ``hansen`` is the over-identification
        statistic with the two-step weight (what plm prints as "Sargan test");
        ``sargan`` is the non-robust one-step version (difference GMM only).
    ar : dict
        ``{"AR(1)": {"statistic", "p_value"}, "AR(2)": ...}``, robust.
    n_instruments, n_units : int
    time_effects : list of str
        Names of the period-effect parameters in ``params``.
    """

    vcov: pd.DataFrame | None = None
    vcov_nonrobust: pd.DataFrame | None = None
    params_onestep: pd.Series | None = None
    hansen: dict[str, float] = field(default_factory=dict)
    sargan: dict[str, float] = field(default_factory=dict)
    ar: dict[str, dict[str, float]] = field(default_factory=dict)
    ar_nonrobust: dict[str, dict[str, float]] = field(default_factory=dict)
    n_instruments: int = 0
    n_units: int = 0
    time_effects: list[str] = field(default_factory=list)

    def _extra_lines(self) -> list[str]:
        h = self.hansen
        lines = [
            f"Units: {self.n_units}  Instruments: {self.n_instruments}",
            f"Hansen test: chisq({h['df']}) = {h['statistic']:.6g} (p = {h['p_value']:.4g})",
        ]
        if np.isfinite(self.sargan.get("statistic", np.nan)):
            s = self.sargan
            lines.append(f"Sargan test (non-robust): chisq({s['df']}) = {s['statistic']:.6g} (p = {s['p_value']:.4g})")
        for k, v in self.ar.items():
            lines.append(f"Arellano-Bond {k}: z = {v['statistic']:.6g} (p = {v['p_value']:.4g})")
        return lines

    def _hidden_terms(self) -> list[str]:
        return list(self.time_effects)

    def _blocks(self) -> list:
        from ..presentation import gmm_blocks

        base = super()._blocks()
        return gmm_blocks(self, base[:2]) + base[2:]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            hansen=jsonable(self.hansen),
            sargan=jsonable(self.sargan),
            ar=jsonable(self.ar),
            n_instruments=int(self.n_instruments),
            n_units=int(self.n_units),
            time_effects=list(self.time_effects),
        )
        return out


# -- formula -----------------------------------------------------------------

_LAG = re.compile(r"^lag\(\s*(.+)\s*,\s*([^,()]+|c\([^()]*\))\s*\)$")
_NAME = re.compile(r"^[A-Za-z_.][\w.]*$")


def _lags(spec: str, term: str) -> list[int]:
    s = spec.replace(" ", "")
    try:
        if re.fullmatch(r"-?\d+:-?\d+", s):
            a, b = (int(v) for v in s.split(":"))
            return list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))
        if re.fullmatch(r"-?\d+", s):
            return [int(s)]
        m = re.fullmatch(r"c\(([-\d,]+)\)", s)
        if m:
            return [int(v) for v in m.group(1).split(",")]
    except ValueError:
        pass
    raise ConfigError(f"cannot read the lags in {term!r}; use lag(v, k), lag(v, a:b) or lag(v, c(a, b))")


def _variable(text: str) -> str:
    """A column name, or a transformed column (``log(x + 1)``) spelled as R prints it."""
    t = text.strip()
    if _NAME.match(t):
        return t
    return deparse(parse_expression(t))


def _terms(part: str) -> list[tuple[str, list[int], str]]:
    """``(variable, lags, plm label)`` for each ``+``-separated term."""
    out = []
    for raw in split_top(part, "+"):
        t = raw.strip()
        if not t:
            raise ConfigError(f"empty term in {part!r}")
        m = _LAG.match(t)
        if m:
            var, spec = _variable(m.group(1)), m.group(2)
            out.append((var, _lags(spec, t), f"lag({var}, {spec.replace(' ', '').replace(',', ', ')})"))
        else:
            out.append((_variable(t), [0], _variable(t)))
    return out


def parse_formula(formula: str, *, effect: str = "twoways", transformation: str = "d", collapse: bool = False, intercept: bool = False) -> GMMModel:
    """Read a plm::pgmm formula into a :class:`GMMModel`.

    Regressor names follow plm: ``lag(n, 1:2)1``, ``lag(n, 1:2)2`` for a term
    with several lags, ``lag(n, 1)`` or ``k`` for a single one.
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise ConfigError("formula must be a string 'y ~ terms | gmm instruments [| iv instruments]'")
    lhs, rhs = formula.split("~", 1)
    response = _variable(lhs)
    parts = split_top(rhs, "|")
    if len(parts) not in (2, 3):
        raise ConfigError("the formula needs 2 or 3 parts separated by '|': model | GMM instruments [| IV instruments]")
    regressors = []
    for var, lags, label in _terms(parts[0]):
        for l in lags:
            if l < 0:
                raise ConfigError(f"leads are not allowed in the model: {label}")
            regressors.append((var, l, label + (str(l) if len(lags) > 1 else "")))
    gmm_terms = []
    for var, lags, _ in _terms(parts[1]):
        gmm_terms.append((var, min(lags), max(lags)))
    if len(parts) == 3:
        normal = [(var, l) for var, lags, _ in _terms(parts[2]) for l in lags]
    else:
        gvars = {v for v, _, _ in gmm_terms}
        normal = [(v, l) for v, l, _ in regressors if v not in gvars and v != response]
    if not isinstance(collapse, bool):
        raise ConfigError(f"collapse must be True or False, got {collapse!r}")
    return GMMModel(response, tuple(regressors), tuple(gmm_terms), tuple(normal), effect, transformation, collapse, intercept)


# -- estimation ---------------------------------------------------------------


def _grid(data: pd.DataFrame, unit: str, time: str, columns: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    idx = index_panel(data[unit], data[time])
    N, T = idx.n_units, idx.n_times
    grid = {}
    for c in columns:
        g = np.full((N, T), np.nan)
        g[idx.unit, idx.time] = data[c].to_numpy(dtype=float)
        grid[c] = g
    labels = [str(v.date()) if isinstance(v, pd.Timestamp) else str(v) for v in pd.Index(idx.time_labels)]
    return grid, labels


def _check(data: pd.DataFrame, columns: list[str], unit: str, time: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ConfigError("data must be a pandas DataFrame")
    missing = [c for c in dict.fromkeys([*columns, unit, time]) if c not in data.columns]
    if missing:
        raise ConfigError(f"columns not in data: {missing}")
    for c in columns:
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise ConfigError(f"column {c!r} must be numeric")


def fit_model(model: GMMModel, data: pd.DataFrame, unit: str, time: str, steps: int) -> tuple[GMMFit, list[str], list[str]]:
    """Fit ``model`` on ``data``; returns the numbers, parameter names and period-effect names."""
    cols = list(dict.fromkeys([model.response, *(v for v, _, _ in model.regressors), *(v for v, _, _ in model.gmm), *(v for v, _ in model.normal)]))
    derived = {c: parse_expression(c) for c in cols if not _NAME.match(c)}
    base = [c for c in cols if c not in derived] + [b for e in derived.values() for b in columns_of(e)]
    _check(data, list(dict.fromkeys(base)), unit, time)
    if derived:
        data = data.assign(**{c: evaluate(e, data) for c, e in derived.items()})
    grid, labels = _grid(data, unit, time, cols)
    built = build_system(model, grid, labels)
    return fit_gmm(built.system, steps=steps), built.names, built.time_names


def gmm(
    formula: str,
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    effect: str = "twoways",
    model: str = "onestep",
    transformation: str = "d",
    collapse: bool = False,
    intercept: bool = False,
) -> GMMResult:
    """Dynamic panel GMM with plm::pgmm's formula and defaults.

    Parameters
    ----------
    formula : str
        ``"y ~ lag(y, 1:2) + x + lag(z, 0:1) | lag(y, 2:99) [| iv terms]"``.
    data : pandas.DataFrame
        One row per unit and period; periods are the sorted distinct values of
        ``time`` and a unit missing a period has a gap there.
    unit, time : str
    effect : {"twoways", "individual"}
        ``"twoways"`` adds period effects (and, in system GMM, a constant in
        the level equations), as plm does. ``"individual"`` has neither, as
        plm: the level equations of system GMM have no constant.
    model : {"onestep", "twostep"}
        ``"twosteps"`` (plm's spelling) is accepted.
    transformation : {"d", "ld"}
        ``"d"``: difference GMM; ``"ld"``: system GMM (differences and levels).
    collapse : bool
        One instrument column per lag instead of per period and lag.
    intercept : bool, default False
        System GMM with ``effect="individual"`` only: add a constant to the
        level equations, instrumented by itself, named ``"(Intercept)"``.
        plm::pgmm has no such option; the default matches it.

    Returns
    -------
    GMMResult
        Robust standard errors (plm's ``summary(robust=TRUE)``): the one-step
        sandwich, or Windmeijer's corrected two-step covariance.
    """
    if model == "twosteps":
        model = "twostep"
    if model not in MODELS:
        raise ConfigError(f"model must be one of {list(MODELS)}, got {model!r}")
    if effect not in EFFECTS:
        raise ConfigError(f"effect must be one of {list(EFFECTS)}, got {effect!r}")
    if transformation not in TRANSFORMATIONS:
        raise ConfigError(f"transformation must be one of {sorted(TRANSFORMATIONS)}, got {transformation!r}")
    if not isinstance(intercept, bool):
        raise ConfigError(f"intercept must be True or False, got {intercept!r}")
    if intercept and (effect != "individual" or transformation != "ld"):
        raise ConfigError("intercept=True applies to system GMM (transformation='ld') with effect='individual' only; effect='twoways' has its own constant")
    spec = parse_formula(formula, effect=effect, transformation=transformation, collapse=collapse, intercept=intercept)
    steps = 1 if model == "onestep" else 2
    fit, names, tnames = fit_model(spec, data, unit, time, steps)
    return _result(fit, names, tnames, formula, {"model": model, "effect": effect, "transformation": transformation, "collapse": collapse, **({"intercept": True} if intercept else {})}, TRANSFORMATIONS[transformation])


def _result(fit: GMMFit, names: list[str], tnames: list[str], formula: str, settings: dict, title: str) -> GMMResult:
    V = pd.DataFrame(fit.vcov, index=names, columns=names)
    return GMMResult(
        params=pd.Series(fit.params, index=names, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.clip(np.diag(fit.vcov), 0, None)), index=names, name="std_error"),
        nobs=fit.n_obs,
        formula=formula,
        settings={**settings, "vcov": "Windmeijer-corrected two-step" if settings.get("model") == "twostep" else "robust one-step"},
        warnings=list(fit.warnings),
        df_resid=None,
        title=title[0].upper() + title[1:],
        vcov=V,
        vcov_nonrobust=pd.DataFrame(fit.vcov_nonrobust, index=names, columns=names),
        params_onestep=pd.Series(fit.params_onestep, index=names),
        hansen=_test(fit.hansen),
        sargan=_test(fit.sargan),
        ar={f"AR({m})": {"statistic": s, "p_value": p} for m, (s, p) in fit.ar.items()},
        ar_nonrobust={f"AR({m})": {"statistic": s, "p_value": p} for m, (s, p) in fit.ar_nonrobust.items()},
        n_instruments=fit.n_instruments,
        n_units=fit.n_units,
        time_effects=list(tnames),
    )


def _test(t: tuple[float, int, float]) -> dict[str, float]:
    return {"statistic": t[0], "df": int(t[1]), "p_value": t[2]}


# -- dynamic_panel path ------------------------------------------------------------


def dynamic_gmm(data: pd.DataFrame, spec, kind: str):
    """Difference (``"diff-gmm"``) or system (``"sys-gmm"``) GMM for :func:`ctssw.estimators.dynamic.dynamic_panel`.

    The outcome's lags are instrumented GMM-style by its levels lagged
    ``min_lag..max_lag`` (default 2..8; differences lagged once in the level
    equations); columns in ``endogenous`` likewise; columns in
    ``predetermined`` one lag earlier (``min_lag-1..max_lag-1``); the other
    regressors are strictly exogenous and instrument themselves. Period effects
    (``time_effects``): ``"demean"`` (default) subtracts each period's mean from
    the outcome and regressors, which keeps the instrument count low when there
    are many periods; ``"dummies"`` adds period dummies as plm does; ``"none"``.
    System GMM with ``"demean"`` or ``"none"`` keeps a constant in the level
    equations (``gmm(..., intercept=True)``); plm's ``effect="individual"``
    has none.
    """

    steps = spec.option("steps", 2)
    if steps not in (1, 2):
        raise ConfigError(f"steps must be 1 or 2, got {steps!r}")
    collapse = spec.option("collapse", True)
    min_lag = spec.option("min_lag", 2)
    if isinstance(min_lag, bool) or not isinstance(min_lag, (int, np.integer)) or min_lag < 2:
        raise ConfigError(f"min_lag must be an integer of at least 2, got {min_lag!r}")
    max_lag = spec.option("max_lag", DEFAULT_MAX_LAG)
    if max_lag is not None and (isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < min_lag):
        raise ConfigError(f"max_lag must be None or an integer of at least min_lag ({min_lag}), got {max_lag!r}")
    endogenous = spec.option("endogenous", ())
    endogenous = (endogenous,) if isinstance(endogenous, str) else tuple(endogenous)
    predetermined = spec.option("predetermined", ())
    predetermined = (predetermined,) if isinstance(predetermined, str) else tuple(predetermined)
    bad = [e for e in (*endogenous, *predetermined) if e not in spec.x]
    if bad:
        raise ConfigError(f"endogenous/predetermined {bad} must be among x {list(spec.x)}")
    if set(endogenous) & set(predetermined):
        raise ConfigError(f"{sorted(set(endogenous) & set(predetermined))} cannot be both endogenous and predetermined")
    time_effects = spec.option("time_effects", "demean")
    if time_effects not in TIME_EFFECTS:
        raise ConfigError(f"time_effects must be one of {list(TIME_EFFECTS)}, got {time_effects!r}")
    transformation = "d" if kind == "diff-gmm" else "ld"
    effect = "twoways" if time_effects == "dummies" else "individual"
    last = int(max_lag) if max_lag is not None else 10**6
    regs = [(spec.y, l, n) for l, n in zip(range(1, spec.lags + 1), spec.lag_names, strict=False)] + [(x, 0, x) for x in spec.x]
    gmm_terms = [(spec.y, int(min_lag), last)] + [(e, int(min_lag), last) for e in endogenous]
    gmm_terms += [(e, int(min_lag) - 1, max(last - 1, int(min_lag) - 1)) for e in predetermined]
    normal = [(x, 0) for x in spec.x if x not in endogenous and x not in predetermined]
    model = GMMModel(spec.y, tuple(regs), tuple(gmm_terms), tuple(normal), effect, transformation, bool(collapse), intercept=True)
    _check(data, [spec.y, *spec.x], spec.unit, spec.time)
    if time_effects == "demean":
        data = _demean_periods(data, [spec.y, *spec.x], spec.time)
    fit, names, tnames = fit_model(model, data, spec.unit, spec.time, steps)
    k = len(spec.names)
    diagnostics = {
        "instruments": fit.n_instruments,
        "hansen": _test(fit.hansen),
        **({"sargan": _test(fit.sargan)} if np.isfinite(fit.sargan[0]) else {}),
        **{f"AR({m})": {"statistic": s, "p_value": p} for m, (s, p) in fit.ar.items()},
    }
    warns = list(fit.warnings)
    if fit.n_instruments > fit.n_units:
        warns.append(f"{fit.n_instruments} instruments exceed {fit.n_units} units; the Hansen test is weak and two-step errors unreliable")
    return finish(
        spec,
        kind,
        fit.params[:k],
        fit.vcov[:k, :k],
        nobs=fit.n_obs,
        df_resid=None,
        n_units=fit.n_units,
        n_periods=fit.n_diff_periods,
        n_dropped=len(data) - fit.n_diff_obs,
        settings={
            "estimator": TRANSFORMATIONS[transformation],
            "steps": steps,
            "collapse": bool(collapse),
            "instrument_lags": f"{min_lag}..{max_lag if max_lag is not None else 'all'}",
            "time_effects": time_effects,
            "endogenous": list(endogenous),
            "predetermined": list(predetermined),
            "vcov": "Windmeijer-corrected two-step" if steps == 2 else "robust one-step",
        },
        diagnostics=diagnostics,
        warnings=warns,
        title=f"Dynamic panel, {TRANSFORMATIONS[transformation]}",
    )


def _demean_periods(data: pd.DataFrame, columns: list[str], time: str) -> pd.DataFrame:
    """Subtract each period's mean over rows complete in ``columns``."""
    out = data.copy()
    block = out[columns].astype(float)
    complete = block.notna().all(axis=1)
    means = block[complete].groupby(out.loc[complete, time]).transform("mean")
    out.loc[complete, columns] = block[complete] - means
    out.loc[~complete, columns] = np.nan
    return out
