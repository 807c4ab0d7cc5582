"""Several tools in one model: ``attribute``.

Estimating each tool in its own model double counts when tools roll out in
overlapping waves to the same teams: each coefficient absorbs the effects of
the tools left out. ``attribute`` puts every tool's usage share in one model.

Methods (string-keyed, see :data:`METHODS`):

``"fe"``, ``"jackknife"``
    The article's dynamic two-way fixed-effects model with a vector of shares,

        y_it = a_i + lambda_t + beta y_i,t-1 + gamma_1 s1_it + ... + gamma_K sK_it + delta' x_it + e_it

    fitted by :func:`ctssw.estimators.dynamic.dynamic_panel` (within with CR1
    team clusters, or its half-panel jackknife). Each tool's effect is its
    long-run effect ``gamma_k / (1 - beta)``; the covariance of the K long-run
    effects and of their sum comes from the delta method on the full
    covariance of (beta, gamma).
``"did"``
    A joint imputation difference-in-differences with several binary
    treatments (:mod:`ctssw.estimators.attribution.did`): the contamination-free
    design of de Chaisemartin and D'Haultfoeuille (2023), in imputation form.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import ConfigError, EstimationError
from ...privacy import DEFAULT_K, check_k
from ..dynamic import dynamic_panel
from ._result import AttributionResult, AttributionSpec, linear_combination
from .did import joint_did

__all__ = ["METHODS", "AttributionSpec", "attribute", "normalise_team_mean"]

METHODS = ("fe", "jackknife", "did")


def attribute(
    panel: pd.DataFrame,
    *,
    tools: Sequence[str],
    y: str = "deploys_per_builder_tm",
    unit: str = "team_id",
    time: str = "week",
    method: str = "jackknife",
    covariates: Sequence[str] = (),
    level: float = 0.95,
    threshold: float = 0.5,
    naive: bool = True,
    k: int = DEFAULT_K,
) -> AttributionResult:
    """Estimate several tools' effects jointly, with their sum and the one-model-per-tool sum beside it.

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per unit and period.
    tools : sequence of str
        Usage-share columns, one per tool (0..1: the share of the team's
        builders using it that week).
    y : str
        Outcome: units per builder-week divided by each team's mean (see
        :func:`normalise_team_mean`), so effects are relative changes.
    unit, time : str
        Panel identifiers.
    method : {"jackknife", "fe", "did"}
        ``"jackknife"`` (the default, recommended in docs/validation.md) and
        ``"fe"``: the joint dynamic two-way model (effects
        are long-run effects of full use of each tool). ``"did"``: the joint
        imputation DiD (effects are average effects on team-weeks where that
        tool alone is adopted; a team adopts a tool in the first week its share
        reaches ``threshold``).
    covariates : sequence of str
        Extra regressors of the dynamic model (e.g. ``rollback_rate``); unused by ``"did"``.
    level : float, default 0.95
    threshold : float, default 0.5
        Adoption threshold for ``"did"``.
    naive : bool, default True
        Also fit one model per tool, leaving the other tools out, to show the
        double counting.
    k : int, default 5
        Privacy floor for ``"did"``: a tool's alone cells, or a combination's,
        must cover at least ``k`` builders (the ``builders`` column, summed
        over the distinct teams in them); combinations below it are not
        reported, and a tool below it is an error.

    Returns
    -------
    AttributionResult

    Examples
    --------
    >>> from ctssw.simulate import simulate_panel
    >>> p, truth = simulate_panel(teams=60, weeks=52, seed=2, extra_tools=(("review_agent", 0.03),))
    >>> p["y"] = normalise_team_mean(p, "deploys_per_builder")
    >>> r = attribute(p, tools=["share_assistant", "share_review_agent"], y="y")
    >>> list(r.params.index)
    ['share_assistant', 'share_review_agent']
    """
    spec = _validate(panel, tools=tools, y=y, unit=unit, time=time, method=method, covariates=covariates, level=level, threshold=threshold, naive=naive, k=k)
    if spec.method == "did":
        return joint_did(panel, spec)
    return _dynamic(panel, spec)


def normalise_team_mean(panel: pd.DataFrame, column: str, *, unit: str = "team_id") -> pd.Series:
    """``column`` divided by its unit's mean over all periods (NaN where that mean is not positive).

    The recommended outcome for :func:`attribute`. Dividing by the mean before
    each team's first tool instead (``normalise_pre_adoption``) divides by a
    noisy short-window mean: its reciprocal is biased upward (Jensen), more so
    the shorter the pre-period, and on the simulator that inflated every
    tool's long-run effect by about a quarter (docs/validation.md). The team
    fixed effects absorb the level either way; this only sets the scale.
    """
    if column not in panel.columns or unit not in panel.columns:
        raise ConfigError(f"columns {column!r} and {unit!r} must be in the panel")
    m = panel.groupby(unit)[column].transform("mean")
    return (panel[column] / m.where(m > 0)).rename(f"{column}_tm")


def _validate(panel, *, tools, y, unit, time, method, covariates, level, threshold, naive, k) -> AttributionSpec:
    if not isinstance(panel, pd.DataFrame):
        raise ConfigError("panel must be a pandas DataFrame")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; allowed: {list(METHODS)}")
    tl = (tools,) if isinstance(tools, str) else tuple(tools)
    if not tl:
        raise ConfigError("tools must name at least one usage-share column")
    if len(set(tl)) != len(tl):
        raise ConfigError(f"tools has duplicates: {list(tl)}")
    cov = (covariates,) if isinstance(covariates, str) else tuple(covariates)
    missing = [c for c in dict.fromkeys([y, unit, time, *tl, *cov]) if c not in panel.columns]
    if missing:
        raise ConfigError(f"columns not in the panel: {missing}")
    overlap = sorted((set(tl) | set(cov)) & {y})
    if overlap:
        raise ConfigError(f"the outcome {y!r} cannot also be a tool or covariate")
    for c in (y, *tl, *cov):
        if not pd.api.types.is_numeric_dtype(panel[c]):
            raise ConfigError(f"column {c!r} must be numeric")
    for c in tl:
        s = panel[c].dropna()
        if ((s < 0) | (s > 1)).any():
            raise ConfigError(f"tool column {c!r} must be a share between 0 and 1")
        if not (s > 0).any():
            raise ConfigError(f"tool column {c!r} is never above 0: no team used that tool")
    if not 0 < level < 1:
        raise ConfigError(f"level must be between 0 and 1, got {level!r}")
    if not 0 < threshold <= 1:
        raise ConfigError(f"threshold must be in (0, 1], got {threshold!r}")
    return AttributionSpec(tl, y, unit, time, method, cov, float(level), float(threshold), bool(naive), check_k(k))


def _dynamic_fit(panel: pd.DataFrame, spec: AttributionSpec, tools: tuple[str, ...]):
    try:
        fit = dynamic_panel(panel, y=spec.y, x=[*tools, *spec.covariates], unit=spec.unit, time=spec.time,
                            method=spec.method, level=spec.level, treatment=list(tools))
    except EstimationError as exc:
        if spec.method != "jackknife":
            raise
        raise EstimationError(f"{exc}. A tool first used in the second half of the window cannot be fitted by the "
                              "half-panel jackknife; use method 'fe'") from None
    return _long_run(fit, tools)


def _long_run(fit, tools: tuple[str, ...]):
    lag = fit.params.index[0]
    s = 1.0 - float(fit.params[lag])
    g = fit.params[list(tools)].to_numpy(dtype=float)
    lr = g / s
    # Jacobian of the long-run effects in (beta, gamma_1..gamma_K)
    J = np.zeros((len(tools), len(fit.params)))
    names = list(fit.params.index)
    for k, t in enumerate(tools):
        J[k, names.index(t)] = 1.0 / s
        J[k, 0] = g[k] / s**2
    V = J @ fit.vcov.loc[names, names].to_numpy(dtype=float) @ J.T
    return fit, pd.Series(lr, index=list(tools)), pd.DataFrame(V, index=list(tools), columns=list(tools))


def _dynamic(panel: pd.DataFrame, spec: AttributionSpec) -> AttributionResult:
    fit, lr, V = _dynamic_fit(panel, spec, spec.tools)
    crit = float(stats.t.ppf(0.5 + spec.level / 2, fit.df_resid))
    total = linear_combination(lr, V, pd.Series(1.0, index=lr.index), crit, spec.level)
    naive_rows = {}
    if spec.naive and len(spec.tools) > 1:
        for t in spec.tools:
            f1, lr1, V1 = _dynamic_fit(panel, spec, (t,))
            se = float(np.sqrt(V1.iloc[0, 0]))
            c1 = float(stats.t.ppf(0.5 + spec.level / 2, f1.df_resid))
            naive_rows[t] = {"estimate": float(lr1[t]), "std_error": se, "ci_low": float(lr1[t]) - c1 * se, "ci_high": float(lr1[t]) + c1 * se}
    elif spec.naive:
        naive_rows[spec.tools[0]] = {"estimate": float(lr.iloc[0]), "std_error": float(np.sqrt(V.iloc[0, 0])),
                                     "ci_low": total.ci_low, "ci_high": total.ci_high}
    naive = pd.DataFrame.from_dict(naive_rows, orient="index") if naive_rows else None
    lag = fit.params.index[0]
    return AttributionResult(
        params=lr.rename("estimate"),
        std_errors=pd.Series(np.sqrt(np.clip(np.diag(V), 0, None)), index=lr.index, name="std_error"),
        nobs=fit.nobs,
        formula=fit.formula,
        settings={"method": spec.method, "effects": "long-run gamma_k / (1 - beta), delta method", **fit.settings, "threshold": spec.threshold},
        warnings=list(fit.warnings),
        df_resid=fit.df_resid,
        title=f"Joint dynamic two-way model of {len(spec.tools)} tools ({spec.method})",
        tools=list(spec.tools),
        vcov=V,
        total=total,
        naive=naive,
        naive_total=float(naive["estimate"].sum()) if naive is not None else float("nan"),
        method=spec.method,
        fit=fit,
        diagnostics={"persistence": round(float(fit.params[lag]), 4), "clusters": int(fit.df_resid + 1)},
        level=spec.level,
    )
