"""Joint imputation difference-in-differences with several treatments.

Which estimator
---------------
de Chaisemartin and D'Haultfoeuille (2023, "Two-way fixed effects and
differences-in-differences estimators with several treatments", J.
Econometrics) show that a two-way regression on several treatments
contaminates each coefficient with the other treatments' effects, and that a
robust estimator of treatment k's effect compares cells where k switched on
while the other treatments did not change with cells where nothing changed.
We implement that comparison in imputation form (Borusyak, Jaravel and
Spiess 2024):

1. a team adopts tool k in the first week its share reaches ``threshold``
   and stays adopted (``D_k,it`` = 1 from then on);
2. the no-tool outcome ``Y_it(0) = a_i + lambda_t`` is fitted by two-way
   least squares on the team-weeks with no tool adopted (never- and
   not-yet-adopting teams, and every team's pre-periods);
3. each adopted team-week gets ``tau_it = Y_it - a_i - lambda_t``;
4. tool k's effect is the mean of ``tau_it`` over the team-weeks where tool k
   alone is adopted; the mean over team-weeks with a combination of tools,
   minus the sum of those tools' alone effects, is their interaction.

Where it departs from the reference: dCDH's ``DID_M``-type estimators compare
first differences of switchers and stayers period by period, which needs
parallel trends only between consecutive periods; imputation uses every
pre-adoption week, so it is more efficient but leans on parallel trends over
the whole pre-period. dCDH also weight cells to target effects of switching
on k whatever the other treatments' levels; here the target is the effect of
k alone, and the effects in combinations are reported as interactions.

Inference: each estimate is linear in the outcome, ``sum_it v_it Y_it``; the
variance is the team-clustered sum of ``(sum_t v_it e_it)^2`` with ``e`` the
untreated fit's residuals and, on adopted team-weeks, ``tau_it`` minus its
cell mean (BJS's conservative variance, without their leave-out refinement),
scaled by ``G / (G - 1)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.linalg import splu

from ...errors import EstimationError
from ._result import AttributionResult, AttributionSpec, linear_combination

__all__ = ["adoption_matrix", "imputation_effects", "joint_did"]


def adoption_matrix(panel: pd.DataFrame, tools, *, unit: str, time: str, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit codes, period codes and the (n, K) 0/1 matrix of absorbing adoption."""
    u, _ = pd.factorize(panel[unit], sort=True)
    t, _ = pd.factorize(panel[time], sort=True)
    D = np.zeros((len(panel), len(tools)), dtype=bool)
    for k, c in enumerate(tools):
        hit = panel[c].fillna(0).to_numpy(dtype=float) >= threshold
        first = pd.Series(np.where(hit, t, np.iinfo(np.int64).max)).groupby(u).transform("min").to_numpy()
        D[:, k] = t >= first
    return u.astype(np.int64), t.astype(np.int64), D


def _fe_solver(u: np.ndarray, t: np.ndarray, nu: int, nt: int):
    """Design and factorised normal equations of ``a_i + lambda_t`` on the given rows (first period dropped)."""
    Z = _design(u, t, nu, nt)
    try:
        return Z, splu((Z.T @ Z).tocsc())
    except RuntimeError:
        raise EstimationError("the team-weeks without any tool do not connect every team and week; "
                              "the no-tool outcome is not identified") from None


def _design(u: np.ndarray, t: np.ndarray, nu: int, nt: int) -> sp.csr_matrix:
    n = u.size
    Z = sp.csr_matrix((np.ones(2 * n), (np.r_[np.arange(n), np.arange(n)], np.r_[u, nu + t])), shape=(n, nu + nt))
    return Z[:, np.r_[np.arange(nu), nu + np.arange(1, nt)]]


def imputation_effects(Y: np.ndarray, u: np.ndarray, t: np.ndarray, D: np.ndarray, estimands: dict[str, np.ndarray],
                       optional: frozenset[str] = frozenset()) -> tuple[pd.Series, pd.DataFrame, dict]:
    """Estimates and clustered covariance of linear estimands of the imputed effects.

    Parameters
    ----------
    Y : ndarray (n,)
        Outcome.
    u, t : ndarray of int (n,)
        Unit and period codes.
    D : ndarray of bool (n, K)
        Adoption of each treatment.
    estimands : dict of str to ndarray (n,)
        Weights over rows; only rows with some treatment adopted may carry weight,
        and each estimand's weights sum to one.
    optional : set of str
        Estimands that may have no imputable row (NaN then); any other raises.

    Returns
    -------
    (estimates, covariance, info)
    """
    nu, nt = int(u.max()) + 1, int(t.max()) + 1
    untreated = ~D.any(axis=1)
    treated = ~untreated
    if untreated.sum() < 2:
        raise EstimationError("no team-weeks without a tool: the no-tool outcome cannot be fitted")
    has_u = np.bincount(u[untreated], minlength=nu) > 0
    has_t = np.bincount(t[untreated], minlength=nt) > 0
    ok = treated & has_u[u] & has_t[t]
    # units or periods absent from the untreated rows have empty columns: regularise them away
    if not has_u.all() or not has_t.all():
        keep_u = np.flatnonzero(has_u)
        keep_t = np.flatnonzero(has_t)
        remap_u = np.full(nu, -1)
        remap_u[keep_u] = np.arange(keep_u.size)
        remap_t = np.full(nt, -1)
        remap_t[keep_t] = np.arange(keep_t.size)
        uu, tt = remap_u[u], remap_t[t]
        nu2, nt2 = keep_u.size, keep_t.size
    else:
        uu, tt, nu2, nt2 = u, t, nu, nt
    Z0, lu = _fe_solver(uu[untreated], tt[untreated], nu2, nt2)
    y0 = Y[untreated]
    coef = lu.solve(np.asarray(Z0.T @ y0).ravel())
    resid0 = y0 - Z0 @ coef
    Z1 = _design(uu[ok], tt[ok], nu2, nt2)
    tau = Y[ok] - Z1 @ coef
    n_lost = int(treated.sum() - ok.sum())
    # cell of each adopted row: its combination of treatments
    combo = D[ok] @ (1 << np.arange(D.shape[1]))
    cell_mean = pd.Series(tau).groupby(combo).transform("mean").to_numpy()
    e = np.zeros(Y.size)
    e[untreated] = resid0
    e[ok] = tau - cell_mean
    G = int(np.unique(u).size)
    names = list(estimands)
    est = np.zeros(len(names))
    phi = np.zeros((nu, len(names)))
    for j, name in enumerate(names):
        a = estimands[name]
        a_ok = a[ok]
        if abs(a.sum() - a_ok.sum()) > 1e-9 and a_ok.sum() == 0 and name not in optional:
            raise EstimationError(f"{name}: no adopted team-week can be imputed")
        s = a_ok.sum()
        if s <= 0:
            est[j] = np.nan
            continue
        a_ok = a_ok / s
        est[j] = float(a_ok @ tau)
        b = lu.solve(np.asarray(Z1.T @ a_ok).ravel())
        v = np.zeros(Y.size)
        v[ok] = a_ok
        v[untreated] = -(Z0 @ b)
        phi[:, j] = np.bincount(u, weights=v * e, minlength=nu)
    # small-sample correction (Bell-McCaffrey): per estimand, the scale that makes the clustered
    # variance unbiased under independent homoskedastic errors, and Satterthwaite degrees of freedom
    small = _SmallSample(u, ok, untreated, Z0, Z1, lu, combo, nu)
    weights = {}
    dfs, scale = np.full(len(names), np.nan), np.ones(len(names))
    for j, name in enumerate(names):
        if np.isfinite(est[j]):
            weights[name] = _weights(estimands[name], ok, untreated, Z0, Z1, lu)
            scale[j], dfs[j] = small(weights[name])
    root = np.sqrt(scale)
    V = (phi.T @ phi) * np.outer(root, root)
    info = {"clusters": G, "untreated_rows": int(untreated.sum()), "adopted_rows": int(treated.sum()), "adopted_rows_not_imputable": n_lost,
            "df": dict(zip(names, dfs, strict=True)), "variance_scale": dict(zip(names, scale, strict=True)),
            "small_sample": small, "weights": weights}
    return pd.Series(est, index=names), pd.DataFrame(V, index=names, columns=names), info


def _weights(a: np.ndarray, ok: np.ndarray, untreated: np.ndarray, Z0, Z1, lu) -> np.ndarray:
    """The estimate as ``v' Y``: weight ``a`` (normalised) on imputed adopted rows, minus the imputation on untreated rows."""
    a_ok = a[ok] / a[ok].sum()
    v = np.zeros(a.size)
    v[ok] = a_ok
    v[untreated] = -(Z0 @ lu.solve(np.asarray(Z1.T @ a_ok).ravel()))
    return v


class _SmallSample:
    """Bell and McCaffrey's (2002) correction of a clustered variance, for an estimate ``v' Y``.

    The residuals are ``e = A Y``: on untreated rows ``(I - P0) Y0``, on imputed adopted rows
    ``C (Y1 - Z1 coef)`` with ``C`` the centring within cells of tool combinations. The variance
    estimate is ``sum_g (q_g' Y)^2`` with ``q_g = A' (v 1_g)``; under independent errors of equal
    variance its mean is ``s^2 tr(Q'Q)`` while the estimate's variance is ``s^2 |v|^2``. The scale
    ``|v|^2 / tr(Q'Q)`` removes that bias (CR2's aim, as one factor per estimate), and the
    Satterthwaite degrees of freedom are ``tr(Q'Q)^2 / |Q'Q|_F^2``: few when the estimate rests on
    few teams, as a tool adopted alone by a handful of teams does.
    """

    def __init__(self, u, ok, untreated, Z0, Z1, lu, combo, nu) -> None:
        self.u, self.ok, self.untreated, self.Z0, self.Z1, self.lu, self.nu = u, ok, untreated, Z0, Z1, lu, nu
        self.cells = pd.factorize(combo)[0]

    def __call__(self, v: np.ndarray) -> tuple[float, float]:
        u, ok, un = self.u, self.ok, self.untreated
        G = sp.csr_matrix
        U0 = G((v[un], (np.arange(un.sum()), u[un])), shape=(int(un.sum()), self.nu))
        U1 = G((v[ok], (np.arange(ok.sum()), u[ok])), shape=(int(ok.sum()), self.nu)).toarray()
        means = pd.DataFrame(U1).groupby(self.cells).transform("mean").to_numpy()
        CU1 = U1 - means
        rhs = np.asarray((self.Z0.T @ U0).todense()) + np.asarray(self.Z1.T @ CU1)
        part0 = U0.toarray() - self.Z0 @ self.lu.solve(rhs)
        S = part0.T @ part0 + CU1.T @ CU1
        tr = float(np.trace(S))
        if tr <= 0:
            return 1.0, float("nan")
        return float(v @ v) / tr, tr**2 / float(np.sum(S * S))


def joint_did(panel: pd.DataFrame, spec: AttributionSpec) -> AttributionResult:
    """:func:`ctssw.estimators.attribution.attribute` with ``method="did"``."""
    d = panel.loc[panel[spec.y].notna()]
    tools = list(spec.tools)
    u, t, D = adoption_matrix(d, tools, unit=spec.unit, time=spec.time, threshold=spec.threshold)
    Y = d[spec.y].to_numpy(dtype=float)
    K = len(tools)
    others = D.sum(axis=1)
    estimands = {}
    counts = {}
    size = d["builders"].fillna(0).to_numpy(dtype=float) if "builders" in d.columns else None

    def builders_in(mask: np.ndarray) -> float:
        """Builders a cell describes: each distinct team's mean builders over its rows in the cell."""
        if size is None:
            return float("inf")
        return float(pd.Series(size[mask]).groupby(u[mask]).mean().sum())

    for k, c in enumerate(tools):
        alone = D[:, k] & (others == 1)
        counts[c] = int(alone.sum())
        if not alone.any():
            raise EstimationError(f"no team-week has {c!r} adopted alone: its effect cannot be told apart from the other tools'")
        if builders_in(alone) < spec.k:
            raise EstimationError(f"the team-weeks with {c!r} alone cover fewer than {spec.k} builders (privacy floor)")
        estimands[c] = alone.astype(float)
    combos = {}
    suppressed = 0
    if K > 1:
        patterns, n_pat = np.unique(D[others > 1], axis=0, return_counts=True)
        for pat, m in zip(patterns, n_pat, strict=True):
            cell = (D == pat).all(axis=1)
            if builders_in(cell) < spec.k:
                suppressed += 1
                continue
            label = " + ".join(c for c, on in zip(tools, pat, strict=True) if on)
            combos[label] = (pat, int(m))
            estimands[f"combination: {label}"] = cell.astype(float)
    est, V, info = imputation_effects(Y, u, t, D, estimands, optional=frozenset(f"combination: {c}" for c in combos))
    not_imputable = [c for c in combos if not np.isfinite(est[f"combination: {c}"])]
    for c in not_imputable:  # its teams or weeks have no team-week without a tool
        del combos[c]
    keep = [n for n in est.index if np.isfinite(est[n])]
    est, V = est[keep], V.loc[keep, keep]
    G = info["clusters"]
    small, vw = info.pop("small_sample"), info.pop("weights")

    def crit_of(w: pd.Series) -> float:
        """t critical value with the Satterthwaite degrees of freedom of ``w' est`` (at least 1)."""
        _, df = small(sum(x * vw[n] for n, x in w.items() if x != 0))
        return float(stats.t.ppf(0.5 + spec.level / 2, max(df, 1.0) if np.isfinite(df) else G - 1))

    params = est[tools]
    Vt = V.loc[tools, tools]
    total_w = pd.Series(1.0, index=tools)
    df_total = small(sum(vw[c] for c in tools))[1]
    total = linear_combination(params, Vt, total_w, crit_of(total_w), spec.level)
    interactions = {}
    for label, (pat, m) in combos.items():
        w = pd.Series(0.0, index=est.index)
        w[f"combination: {label}"] = 1.0
        for c, on in zip(tools, pat, strict=True):
            if on:
                w[c] -= 1.0
        e_int = linear_combination(est, V, w, crit_of(w), spec.level)
        interactions[label] = {"team_weeks": m, "combined_effect": float(est[f"combination: {label}"]), **{f"interaction_{k}": v for k, v in e_int.to_dict().items()}}
    naive = None
    naive_total = float("nan")
    if spec.naive and K > 1:
        rows = {}
        for k, c in enumerate(tools):
            Dk = D[:, [k]]
            e1, V1, i1 = imputation_effects(Y, u, t, Dk, {c: Dk[:, 0].astype(float)})
            se = float(np.sqrt(V1.iloc[0, 0]))
            c1 = float(stats.t.ppf(0.5 + spec.level / 2, max(i1["df"][c], 1.0)))
            rows[c] = {"estimate": float(e1[c]), "std_error": se, "ci_low": float(e1[c]) - c1 * se, "ci_high": float(e1[c]) + c1 * se}
        naive = pd.DataFrame.from_dict(rows, orient="index")
        naive_total = float(naive["estimate"].sum())
    info.pop("small_sample", None)
    info["df"] = {**info["df"], "sum": df_total}
    return AttributionResult(
        params=params.rename("estimate"),
        std_errors=pd.Series(np.sqrt(np.clip(np.diag(Vt), 0, None)), index=tools, name="std_error"),
        df_params=pd.Series([max(info["df"][c], 1.0) for c in tools], index=tools),
        nobs=int(len(d)),
        formula=f"{spec.y} ~ adopted({', '.join(tools)}) | {spec.unit} + {spec.time}, imputed from team-weeks with no tool",
        settings={"method": "did", "estimator": "joint imputation DiD, effect of each tool alone (dCDH 2023 design, BJS imputation)",
                  "adoption": f"first week share >= {spec.threshold}, absorbing", "vcov": f"clustered by {spec.unit}, conservative, Bell-McCaffrey small-sample scale and Satterthwaite df", "threshold": spec.threshold},
        df_resid=G - 1,
        title=f"Joint imputation DiD of {K} tools",
        tools=tools,
        vcov=Vt,
        total=total,
        naive=naive,
        naive_total=naive_total,
        method="did",
        diagnostics={**info, "team_weeks_alone": counts, "interactions": interactions,
                     "combinations_below_privacy_floor": suppressed, "combinations_not_imputable": not_imputable},
        level=spec.level,
    )
