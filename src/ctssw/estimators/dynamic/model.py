"""Dynamic panel models of a team outcome (DESIGN §4, the article's model).

    y_it = a_i + lambda_t + sum_l beta_l y_i,t-l + gamma' x_it + e_it

The long-run effect of a regressor is ``gamma / (1 - sum beta)``: the change in
the outcome's steady state when the regressor moves by one unit for good.

Methods (string-keyed, see :data:`METHODS`):

``"fe"``
    The within estimator with unit and time fixed effects and unit-clustered
    CR1 errors. Biased by about ``-(1 + beta) / (T - 1)`` in beta (Nickell).
``"jackknife"``
    Half-panel jackknife (Dhaene & Jochmans 2015): ``2 * fe(all) - mean(fe(first
    half), fe(second half))``, which removes the ``1/T`` bias term.
``"diff-gmm"``, ``"sys-gmm"``
    Arellano–Bond difference GMM and Blundell–Bond system GMM with collapsed
    instruments (see :mod:`ctssw.estimators.gmm`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError, EstimationError
from ..blas import one_blas_thread
from ..presentation import Comparison
from ._result import DynamicResult, DynamicSpec, finish, long_run_effect
from ._within import (
    clustered_ols_rows,
    cr1_factor,
    demean_rows,
    dense_codes,
    drop_singletons,
    index_panel,
    row_lookup,
    shift,
)
from .gmm import dynamic_gmm

__all__ = ["METHODS", "DynamicResult", "compare", "compare_rows", "compare_text", "dynamic_panel", "long_run_effect", "normalise_pre_adoption"]


# -- public entry points -----------------------------------------------------


def dynamic_panel(
    data: pd.DataFrame,
    *,
    y: str,
    x: Sequence[str] | str,
    unit: str,
    time: str,
    lags: int = 1,
    method: str = "fe",
    level: float = 0.95,
    treatment: Sequence[str] | str | None = None,
    cluster: str | None = None,
    **options: Any,
) -> DynamicResult:
    """Fit ``y_it = a_i + lambda_t + sum_l beta_l y_i,t-l + gamma' x_it + e_it``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit and period.
    y : str
        Outcome column.
    x : str or sequence of str
        Regressor columns (the tool's adoption share and covariates).
    unit, time : str
        Panel identifiers. Periods are the distinct values of ``time`` in
        ascending order; a lag is taken from the same unit's previous period, and
        is missing (the row dropped) when the unit skipped that period.
    lags : int, default 1
        Number of lags of ``y``.
    method : {"fe", "jackknife", "diff-gmm", "sys-gmm"}
    level : float, default 0.95
        Confidence level of the long-run intervals.
    treatment : str or sequence of str, optional
        Regressors whose long-run effect is reported; default the first of ``x``.
    cluster : str, optional
        Cluster column for ``"fe"`` and ``"jackknife"``; default ``unit``.
    **options
        Method settings: for the GMM methods ``steps`` (1 or 2, default 2),
        ``collapse`` (default True), ``min_lag`` and ``max_lag`` (instrument lags,
        default 2 and 8), ``endogenous`` (columns of ``x`` instrumented like the
        outcome's lag), ``predetermined`` (instrumented from one lag earlier;
        others are treated as strictly exogenous),
        ``time_effects`` (``"demean"``, the default, ``"dummies"`` or ``"none"``);
        see :func:`ctssw.estimators.gmm.dynamic_gmm`.

    Returns
    -------
    DynamicResult

    Notes
    -----
    Standard errors for ``"fe"`` are CR1 clustered by ``cluster``, with the
    small-sample factor of fixest and pyfixest's default
    (``ssc(k_adj=True, k_fixef="nonnested", G_adj=True)``): ``G/(G-1) *
    (n-1)/(n-k)``, where ``k`` counts the slopes and the fixed effects not
    nested in the clusters (every period effect; the unit effects are nested in
    unit clusters). t-statistics use
    ``G - 1`` degrees of freedom, as pyfixest does. Rows with a missing value
    in any column used, or without the lags, are dropped and counted, as are
    singletons (units or periods left with one row).

    Examples
    --------
    >>> from ctssw.simulate import simulate_panel
    >>> panel, truth = simulate_panel(teams=50, weeks=52, seed=1)
    >>> fit = dynamic_panel(panel, y="deploys_per_builder", x=["ai_share"], unit="team_id", time="week")
    >>> sorted(fit.params.index)
    ['L1.deploys_per_builder', 'ai_share']
    """
    spec = _validate(data, y=y, x=x, unit=unit, time=time, lags=lags, method=method, level=level, treatment=treatment, cluster=cluster, options=options)
    return METHODS[method](data, spec)


def compare(
    data: pd.DataFrame,
    methods: Sequence[str] = ("fe", "jackknife", "diff-gmm", "sys-gmm"),
    **kw: Any,
) -> pd.DataFrame:
    """Fit several methods and put them side by side.

    Returns a :class:`~ctssw.estimators.presentation.Comparison` (a DataFrame
    whose ``plot()`` draws the estimators side by side) with one row per method and term (coefficients and the
    long-run effects, the latter with ``term`` = ``"long-run: <treatment>"``),
    columns ``method, term, estimate, std_error, ci_low, ci_high, nobs``. A method
    that fails leaves a row with NaNs and the error in ``note``.
    The text table is :func:`compare_text` of the result.
    """
    if isinstance(methods, str):
        methods = [methods]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ConfigError(f"unknown method(s) {bad}; allowed: {sorted(METHODS)}")
    fits: dict[str, DynamicResult] = {}
    failed = []
    for m in methods:
        try:
            fits[m] = dynamic_panel(data, method=m, **kw)
        except (EstimationError, np.linalg.LinAlgError) as exc:
            failed.append({"method": m, "term": None, "estimate": np.nan, "std_error": np.nan, "ci_low": np.nan, "ci_high": np.nan, "nobs": 0, "note": str(exc)})
    table = compare_rows(fits, kw.get("level", 0.95))
    rows = []
    for m in methods:  # keep the requested order, failures in place
        rows += [r for r in failed if r["method"] == m] or table[table["method"] == m].to_dict(orient="records")
    return Comparison(pd.DataFrame(rows, columns=["method", "term", "estimate", "std_error", "ci_low", "ci_high", "nobs", "note"]))


def compare_text(table: pd.DataFrame) -> str:
    """Render :func:`compare` output as a fixed-width table, terms down, methods across."""
    t = table.dropna(subset=["term"])
    cell = t.assign(cell=[f"{e:.4f} ({s:.4f})" for e, s in zip(t["estimate"], t["std_error"], strict=False)])
    wide = cell.pivot(index="term", columns="method", values="cell")
    order = list(dict.fromkeys(t["method"]))
    wide = wide[[m for m in order if m in wide.columns]].fillna("")
    lines = [wide.to_string(), "", "Cells: estimate (standard error)."]
    for _, r in table[table["note"].astype(bool)].iterrows():
        lines.append(f"{r['method']}: {r['note']}")
    return "\n".join(lines)


# -- validation ----------------------------------------------------------------


def _validate(data, *, y, x, unit, time, lags, method, level, treatment, cluster, options) -> DynamicSpec:
    if not isinstance(data, pd.DataFrame):
        raise ConfigError("data must be a pandas DataFrame")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; allowed: {sorted(METHODS)}")
    xs = (x,) if isinstance(x, str) else tuple(x)
    if not xs:
        raise ConfigError("x must name at least one regressor")
    if len(set(xs)) != len(xs):
        raise ConfigError(f"x has duplicates: {list(xs)}")
    if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 1:
        raise ConfigError(f"lags must be a positive integer, got {lags!r}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be between 0 and 1, got {level!r}")
    cluster = cluster or unit
    if cluster != unit and method not in ("fe", "jackknife"):
        raise ConfigError(f"cluster other than the unit is supported for methods ['fe', 'jackknife'], not {method!r}")
    need = [y, *xs, unit, time, cluster]
    missing = [c for c in dict.fromkeys(need) if c not in data.columns]
    if missing:
        raise ConfigError(f"columns not in data: {missing}")
    if y in xs:
        raise ConfigError(f"the outcome {y!r} is also in x; its lags are added by `lags`")
    tr = xs[:1] if treatment is None else ((treatment,) if isinstance(treatment, str) else tuple(treatment))
    bad = [t for t in tr if t not in xs]
    if bad:
        raise ConfigError(f"treatment {bad} must be among x {list(xs)}")
    allowed = _OPTIONS[method]
    extra = sorted(set(options) - set(allowed))
    if extra:
        raise ConfigError(f"options {extra} do not apply to method {method!r}; allowed: {sorted(allowed)}")
    for c in (y, *xs):
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise ConfigError(f"column {c!r} must be numeric")
    return DynamicSpec(y, xs, unit, time, int(lags), float(level), tr, cluster, tuple(sorted(options.items())))


# -- within estimator -------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """Estimation sample of the within estimators.

    ``unit``, ``time`` and ``cluster`` are dense codes (every level present).
    """

    Z: np.ndarray  # (1 + k, n), C-ordered: y, its lags, then x
    unit: np.ndarray
    time: np.ndarray
    cluster: np.ndarray
    n_units: int
    n_times: int
    G: int
    n_dropped: int
    n_input: int

    def subset(self, rows: np.ndarray) -> _Prepared:
        """The rows ``rows`` (a mask or positions), codes made dense again; ``cluster`` keeps its codes."""
        unit, nu = dense_codes(self.unit[rows])
        time, nt = dense_codes(self.time[rows])
        return _Prepared(np.ascontiguousarray(self.Z[:, rows]), unit, time, self.cluster[rows], nu, nt, self.G, 0, 0)


def _prepare_within(data: pd.DataFrame, spec: DynamicSpec) -> _Prepared:
    idx = index_panel(data[spec.unit], data[spec.time])
    n = len(data)
    yv = data[spec.y].to_numpy(dtype=float)
    find = None if idx.ordered else row_lookup(idx)
    columns = [yv, *(shift(yv, idx, l, find) for l in range(1, spec.lags + 1)), *(data[c].to_numpy(dtype=float) for c in spec.x)]
    ok = np.isfinite(yv)
    for col in columns[1:]:
        ok &= np.isfinite(col)
    cl = idx.unit if spec.cluster == spec.unit else pd.factorize(data[spec.cluster], sort=True)[0]
    if spec.cluster != spec.unit:
        ok &= cl >= 0
    rows = np.flatnonzero(ok)
    unit, time = idx.unit[rows], idx.time[rows]
    keep = drop_singletons(unit, time)
    if not keep.all():
        rows, unit, time = rows[keep], unit[keep], time[keep]
    if rows.size == 0:
        raise EstimationError("no rows left after dropping missing values and missing lags")
    Z = np.empty((len(columns), rows.size))
    for j, col in enumerate(columns):
        if rows.size == n:
            Z[j] = col
        else:
            col.take(rows, out=Z[j])
    unit, nu = dense_codes(unit)
    time, nt = dense_codes(time)
    cluster, G = (unit, nu) if cl is idx.unit else dense_codes(cl[rows])
    return _Prepared(Z, unit, time, cluster, nu, nt, G, n - rows.size, n)


def _within_fit(p: _Prepared, cluster: np.ndarray | None = None, G: int | None = None, *, overwrite: bool = False):
    """Demean ``p.Z`` (in place with ``overwrite``) and fit OLS clustered by ``cluster`` (default ``p.cluster``, dense)."""
    Zt = demean_rows(p.Z if overwrite else p.Z.copy(), p.unit, p.n_units, p.time, p.n_times)
    if cluster is None:
        cluster, G = p.cluster, p.G
    return clustered_ols_rows(Zt[0], Zt[1:], cluster, G)


def _nested(fe: np.ndarray, n_fe: int, cluster: np.ndarray) -> bool:
    """True when every level of ``fe`` (dense codes) lies within a single cluster."""
    first = np.empty(n_fe, dtype=cluster.dtype)
    first[fe] = cluster  # one cluster seen with each level
    return bool((first.take(fe) == cluster).all())


def _n_fixed_effects(p: _Prepared, cluster_is_unit: bool = False) -> int:
    """Fixed effects counted in k, as fixest and pyfixest do by default (``k_fixef="nonnested"``).

    Both sets of effects have all their levels, less one for the second set
    (``n_units + n_periods - 1``). A set nested in the clusters (every level
    inside one cluster: the unit effects under unit clusters, the period
    effects under period clusters) is not counted, except for one level per
    nested set::

        k_fe = n_units + n_periods - 1 - sum(levels of nested sets) + (number of nested sets)

    So unit clusters count the period effects (``n_periods``), period clusters
    count the unit effects (``n_units``), and a cluster that nests neither
    (say a department holding several teams, observed in every period) counts
    ``n_units + n_periods - 1``.
    """
    levels = {"unit": p.n_units, "time": p.n_times}
    k_fe = levels["unit"] + levels["time"] - 1
    nested = [
        name
        for name, fe in (("unit", p.unit), ("time", p.time))
        if (name == "unit" and cluster_is_unit) or _nested(fe, levels[name], p.cluster)
    ]
    if not nested:
        return k_fe
    return k_fe - sum(levels[name] for name in nested) + len(nested)


def _fit_fe(data: pd.DataFrame, spec: DynamicSpec) -> DynamicResult:
    with one_blas_thread():
        p = _prepare_within(data, spec)
        k_fe = _n_fixed_effects(p, spec.cluster == spec.unit)
        fit = _within_fit(p, overwrite=True)  # p.Z is not used again
        k = fit.k + k_fe
    vcov = fit.vcov / fit.ssc * cr1_factor(fit.n, k, fit.G)
    T = p.n_times
    return finish(
        spec,
        "fe",
        fit.params,
        vcov,
        nobs=fit.n,
        df_resid=fit.G - 1,
        n_units=p.n_units,
        n_periods=T,
        n_dropped=p.n_dropped,
        settings={"fixed_effects": f"{spec.unit} + {spec.time}", "vcov": f"CR1 clustered by {spec.cluster}", "small_sample": "G/(G-1)*(n-1)/(n-k), k = slopes + fixed effects not nested in the clusters (fixest/pyfixest default)"},
        diagnostics={"clusters": fit.G, "nickell_bias_approx": float(-(1 + fit.params[0]) / max(T - 1, 1))},
        title="Dynamic two-way fixed effects (within)",
    )


def _fit_jackknife(data: pd.DataFrame, spec: DynamicSpec) -> DynamicResult:
    """Half-panel jackknife with a cluster-robust sandwich of its linearisation.

    Each team's influence on the jackknife estimate is ``2 psi_full - (psi_a +
    psi_b)/2`` (``psi`` the per-team OLS influence ``(X'X)^-1 X_g'e_g`` in each
    fit); the covariance is the CR1-scaled sum of their outer products.
    For an odd number of periods the two splits (middle period in the first or
    in the second half) are averaged.
    """
    with one_blas_thread():
        return _jackknife(data, spec)


def _jackknife(data: pd.DataFrame, spec: DynamicSpec) -> DynamicResult:
    p = _prepare_within(data, spec)
    full = _within_fit(p)
    T = p.n_times
    if T < 4:
        raise EstimationError(f"the half-panel jackknife needs at least 4 periods, got {T}")
    splits = [T // 2] if T % 2 == 0 else [T // 2, T // 2 + 1]
    G = p.G
    half_params = np.zeros_like(full.params)
    half_infl = np.zeros((G, full.k))
    for cut in splits:
        first = p.time < cut
        for mask in (first, ~first):
            sub = p.subset(mask)
            sub = sub.subset(drop_singletons(sub.unit, sub.time))
            # clusters present in this half, in the full sample's order
            present = np.flatnonzero(np.bincount(sub.cluster, minlength=G))
            cl = np.searchsorted(present, sub.cluster)
            try:
                h = _within_fit(sub, cl, present.size)
            except EstimationError as exc:
                half = "first" if mask is first else "second"
                raise EstimationError(f"half-panel jackknife, {half} half of the periods: {exc} (does every regressor vary within each half?)") from exc
            half_params += h.params / (2 * len(splits))
            half_infl[present] += h.influence / (2 * len(splits))
    params = 2 * full.params - half_params
    psi = 2 * full.influence - half_infl
    k = full.k + _n_fixed_effects(p, spec.cluster == spec.unit)
    vcov = cr1_factor(full.n, k, G) * (psi.T @ psi)
    return finish(
        spec,
        "jackknife",
        params,
        vcov,
        nobs=full.n,
        df_resid=G - 1,
        n_units=p.n_units,
        n_periods=T,
        n_dropped=p.n_dropped,
        settings={
            "fixed_effects": f"{spec.unit} + {spec.time} (each half with its own)",
            "correction": "half-panel jackknife (Dhaene-Jochmans 2015)",
            "vcov": f"CR1 sandwich of the jackknife's per-{spec.cluster} influence",
        },
        diagnostics={"clusters": G, "fe_estimate": dict(zip(spec.names, map(float, full.params), strict=False))},
        title="Dynamic two-way fixed effects, half-panel jackknife",
    )


def _fit_gmm(kind: str) -> Callable[[pd.DataFrame, DynamicSpec], DynamicResult]:
    def fit(data: pd.DataFrame, spec: DynamicSpec) -> DynamicResult:
        return dynamic_gmm(data, spec, kind)

    fit.__name__ = f"_fit_{kind}"
    return fit


METHODS: dict[str, Callable[[pd.DataFrame, DynamicSpec], DynamicResult]] = {
    "fe": _fit_fe,
    "jackknife": _fit_jackknife,
    "diff-gmm": _fit_gmm("diff-gmm"),
    "sys-gmm": _fit_gmm("sys-gmm"),
}

_GMM_OPTIONS = frozenset({"steps", "collapse", "min_lag", "max_lag", "endogenous", "predetermined", "time_effects"})
_OPTIONS: dict[str, frozenset[str]] = {
    "fe": frozenset(),
    "jackknife": frozenset(),
    "diff-gmm": _GMM_OPTIONS,
    "sys-gmm": _GMM_OPTIONS,
}


def normalise_pre_adoption(data: pd.DataFrame, column: str, *, unit: str, time: str, treatment: str) -> pd.Series:
    """``column`` divided by its unit's mean over periods before the first with ``treatment > 0``.

    Units that never use the tool are divided by their mean over all periods.
    This is how the store defines ``deploys_per_builder_norm``. Units whose
    baseline mean is zero or missing get NaN.
    """
    for c in (column, unit, time, treatment):
        if c not in data.columns:
            raise ConfigError(f"column {c!r} not in data")
    used = data[treatment].fillna(0) > 0
    first = data[time].where(used).groupby(data[unit]).transform("min")
    pre = first.isna() | (data[time] < first)
    base = data[column].where(pre).groupby(data[unit]).transform("mean")
    return (data[column] / base.where(base > 0)).rename(f"{column}_norm")


def compare_rows(fits: dict[str, DynamicResult], level: float | None = None) -> pd.DataFrame:
    """The :func:`compare` table from already fitted results (``level`` defaults to the fits' own)."""
    rows = []
    for m, fit in fits.items():
        lv = level if level is not None else (next(iter(fit.long_run.values())).level if fit.long_run else 0.95)
        ci = fit.conf_int(lv)
        for term in fit.params.index:
            rows.append({"method": m, "term": term, "estimate": float(fit.params[term]), "std_error": float(fit.std_errors[term]), "ci_low": float(ci.loc[term, "lower"]), "ci_high": float(ci.loc[term, "upper"]), "nobs": fit.nobs, "note": ""})
        for name, est in fit.long_run.items():
            rows.append({"method": m, "term": f"long-run: {name}", "estimate": est.estimate, "std_error": est.std_error, "ci_low": est.ci_low, "ci_high": est.ci_high, "nobs": fit.nobs, "note": ""})
    return pd.DataFrame(rows)

