"""The baseline model: what moved the organisation's CTS-SW between two windows.

Organisation CTS-SW is a ratio of sums, cost over units, so with ``c`` the
cost per builder-week and ``R = sum_i s_i r_i`` the units per builder-week
(``s_i`` team i's share of builder-weeks, ``r_i`` its rate), its log change
between a window A and a later window B splits exactly into

``cost_per_builder_week``
    ``log c_B - log c_A``: labour rates and licences;
``composition``
    ``-(log R_B - log R_A - within)``: the shift of builder-weeks between
    teams with different rates, teams that appear or leave included;
``trend``
    the counterfactual change without any tool, ``-log((a + lambda_B) /
    (a + lambda_A))``, from the two-way model ``y_it = a_i + lambda_t`` fitted on
    team-weeks with no tool adopted (not-yet- and never-adopting teams, and
    every team's pre-periods; the same fit as the joint imputation DiD);
``tool: <name>``
    ``-(log R_B^w - log R_B^w,-k)``: the teams' B-window rates against the same
    rates with tool k's share held at its A-window level, scaled by the
    tool's effect (``r * (1 + theta_k s_A) / (1 + theta_k s_B)``);
``residual``
    what the within-team change leaves after the trend and the tools,

where ``within = log sum_C s_B r_B - log sum_C s_B r_A`` over the teams C
present in both windows. The components add up to ``log CTS_B - log CTS_A``
to the last digit; the residual is defined so. Tool contributions can only
exceed the change that happened if the trend says CTS-SW would otherwise have
risen.

Intervals: the trend's from the team-clustered influence of the fitted
period effects; each tool's from its effect's standard error (delta method);
the residual's from both, taken as independent; the cost and composition
terms are exact accounting identities of the data (standard error 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError, EstimationError
from ...privacy import DEFAULT_K, check_k
from ..results import Result, jsonable
from ._result import AttributionResult
from .did import _fe_solver, adoption_matrix

__all__ = ["Decomposition", "explain"]


@dataclass
class Decomposition(Result):
    """Components of the change in organisation CTS-SW, in log points (0.01 ~ 1%).

    ``params`` holds the components in order; they sum to ``observed`` exactly.

    Attributes
    ----------
    observed : float
        ``log CTS_B - log CTS_A``.
    cts_a, cts_b : float
        Organisation CTS-SW (cost per unit) in each window.
    windows : dict
        First and last week of each window.
    level : float
    details : dict
        Team counts, builder-weeks, the fewest builders in a week of each window
        (``min_builders_a``, ``min_builders_b``) and the inputs of each component.
    """

    observed: float = 0.0
    cts_a: float = math.nan
    cts_b: float = math.nan
    windows: dict[str, list[str]] = field(default_factory=dict)
    level: float = 0.95
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def tstats(self) -> pd.Series:
        return (self.params / self.std_errors).where(self.std_errors > 0)

    @property
    def pvalues(self) -> pd.Series:
        """p-values of the estimated components; NaN for the exact accounting terms."""
        p = super().pvalues
        return p.where(self.std_errors > 0)

    def table(self) -> pd.DataFrame:
        """Components with intervals, in log points and in CTS-SW units (the level change split pro rata)."""
        ci = self.conf_int(self.level)
        d_level = self.cts_b - self.cts_a
        scale = d_level / self.observed if self.observed else 0.0
        rows = [{"component": k, "log_points": float(v), "std_error": float(self.std_errors[k]),
                 "ci_low": float(ci.loc[k, "lower"]), "ci_high": float(ci.loc[k, "upper"]),
                 "cts_units": float(v) * scale} for k, v in self.params.items()]
        rows.append({"component": "observed", "log_points": self.observed, "std_error": 0.0, "ci_low": self.observed,
                     "ci_high": self.observed, "cts_units": d_level})
        return pd.DataFrame(rows)

    def _extra_lines(self) -> list[str]:
        a, b = self.windows["A"], self.windows["B"]
        lines = [f"CTS-SW {self.cts_a:,.2f} ({a[0]}..{a[1]}) -> {self.cts_b:,.2f} ({b[0]}..{b[1]}): "
                 f"{self.observed:+.4f} log points ({math.expm1(self.observed):+.2%})"]
        for r in self.table().itertuples():
            lines.append(f"  {r.component:<28}{r.log_points:+.4f}  [{r.ci_low:+.4f}, {r.ci_high:+.4f}]  {r.cts_units:+,.2f} per unit")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(observed=self.observed, cts_a=self.cts_a, cts_b=self.cts_b, windows=self.windows, level=self.level,
                   components=jsonable(self.table().to_dict(orient="records")), details=jsonable(self.details),
                   adds_up=bool(abs(float(self.params.sum()) - self.observed) < 1e-9))
        return out


def explain(
    panel: pd.DataFrame,
    effects: AttributionResult,
    *,
    since: str | pd.Timestamp,
    until: str | pd.Timestamp,
    window: int = 4,
    y: str | None = None,
    unit: str = "team_id",
    time: str = "week",
    cost: str = "cost",
    units: str = "units",
    builder_weeks: str = "builder_weeks",
    builders: str = "builders",
    threshold: float | None = None,
    baseline_units_per_builder_week: float = 1.0,
    k: int = DEFAULT_K,
) -> Decomposition:
    """Decompose the change in organisation CTS-SW from ``since`` to ``until``.

    Parameters
    ----------
    panel : pandas.DataFrame
        Team-week panel with ``cost``, ``units``, ``builder_weeks``, the tools'
        share columns and ``y``.
    effects : AttributionResult
        Per-tool effects on ``y`` (from :func:`attribute`), relative when ``y``
        is normalised (divide by ``baseline_units_per_builder_week`` otherwise).
    since, until : date-like
        Window A is the ``window`` weeks starting at ``since``; window B the
        ``window`` weeks ending at ``until``.
    window : int, default 4
    y : str, optional
        Outcome of the no-tool trend model; default the one ``effects`` was fitted on.
    threshold : float, optional
        Adoption threshold that marks team-weeks as having a tool; default the
        one ``effects`` used (0.5).
    k : int
        Privacy floor: each window must cover at least ``k`` builders.

    Returns
    -------
    Decomposition
    """
    k = check_k(k)
    tools = list(effects.tools)
    y = y or effects.formula.split(" ~ ")[0].strip()
    need = [unit, time, cost, units, builder_weeks, builders, y, *tools]
    missing = [c for c in dict.fromkeys(need) if c not in panel.columns]
    if missing:
        raise ConfigError(f"columns not in the panel: {missing}")
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ConfigError(f"window must be a positive number of weeks, got {window!r}")
    try:
        t0, t1 = pd.Timestamp(since), pd.Timestamp(until)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"since and until must be dates: {exc}") from None
    weeks = pd.Index(sorted(pd.to_datetime(panel[time]).unique()))
    wa = weeks[weeks >= t0][:window]
    wb = weeks[weeks <= t1][-window:]
    if len(wa) == 0 or len(wb) == 0:
        raise ConfigError(f"no panel weeks between {t0.date()} and {t1.date()} (panel covers {weeks[0].date()}..{weeks[-1].date()})")
    if wb[0] <= wa[-1]:
        raise ConfigError(f"the windows overlap: --since {t0.date()} and --until {t1.date()} must be more than {window} weeks apart")
    p = panel.assign(**{time: pd.to_datetime(panel[time])})
    A, B = p[p[time].isin(wa)], p[p[time].isin(wb)]
    floor = {}
    for name, w in (("since", A), ("until", B)):
        floor[name] = float(w.groupby(time)[builders].sum().min())
        if floor[name] < k:
            raise ConfigError(f"the {name} window covers fewer than {k} builders (privacy floor)")
        if float(w[units].sum()) <= 0:
            raise EstimationError(f"no units of software in the {name} window: CTS-SW is undefined there")
    cts_a = float(A[cost].sum() / A[units].sum())
    cts_b = float(B[cost].sum() / B[units].sum())
    observed = math.log(cts_b) - math.log(cts_a)
    cost_term = math.log(B[cost].sum() / B[builder_weeks].sum()) - math.log(A[cost].sum() / A[builder_weeks].sum())
    R_a = A[units].sum() / A[builder_weeks].sum()
    R_b = B[units].sum() / B[builder_weeks].sum()

    def team(w: pd.DataFrame) -> pd.DataFrame:
        g = w.groupby(unit).agg(bw=(builder_weeks, "sum"), u=(units, "sum"), **{t: (t, "mean") for t in tools})
        return g[g["bw"] > 0].assign(r=lambda d: d["u"] / d["bw"])

    ta, tb = team(A), team(B)
    common = ta.index.intersection(tb.index)
    if len(common) == 0:
        raise EstimationError("no team is present in both windows")
    sB = tb.loc[common, "bw"] / tb.loc[common, "bw"].sum()
    rA, rB = ta.loc[common, "r"], tb.loc[common, "r"]
    RwB = float((sB * rB).sum())
    if RwB <= 0 or float((sB * rA).sum()) <= 0:
        raise EstimationError("the teams present in both windows shipped no units in one of them")
    within = math.log(RwB) - math.log(float((sB * rA).sum()))
    mix = (math.log(R_b) - math.log(R_a)) - within

    theta = effects.params[tools].to_numpy(dtype=float) / baseline_units_per_builder_week
    Vth = effects.vcov.loc[tools, tools].to_numpy(dtype=float) / baseline_units_per_builder_week**2
    shA = ta.loc[common, tools].to_numpy(dtype=float)
    shB = tb.loc[common, tools].to_numpy(dtype=float)

    def tool_term(j: int, th: float) -> float:
        ratio = (1 + th * shA[:, j]) / (1 + th * shB[:, j])
        if (ratio <= 0).any():
            return math.nan
        return math.log(RwB) - math.log(float((sB * rB * ratio).sum()))

    tool_R = np.array([tool_term(j, theta[j]) for j in range(len(tools))])
    grad = np.zeros(len(tools))
    for j in range(len(tools)):
        h = 1e-6 * max(1.0, abs(theta[j]))
        grad[j] = (tool_term(j, theta[j] + h) - tool_term(j, theta[j] - h)) / (2 * h)
    tool_var = grad**2 * np.diag(Vth)
    tools_total_var = float(grad @ Vth @ grad)

    trend_R, trend_var, tinfo = _trend(p, tools, y=y, unit=unit, time=time, wa=wa, wb=wb, weights=sB,
                                       threshold=threshold if threshold is not None else float(effects.settings.get("threshold", 0.5)))
    residual_R = within - trend_R - float(tool_R.sum())
    names = ["cost_per_builder_week", "composition", "trend", *(f"tool: {t}" for t in tools), "residual"]
    vals = [cost_term, -mix, -trend_R, *(-tool_R), -residual_R]
    ses = [0.0, 0.0, math.sqrt(trend_var), *np.sqrt(tool_var), math.sqrt(trend_var + tools_total_var)]
    G = int(p[unit].nunique())
    return Decomposition(
        params=pd.Series(vals, index=names, name="estimate"),
        std_errors=pd.Series(ses, index=names, name="std_error"),
        nobs=int(len(A) + len(B)),
        formula=f"log CTS-SW({wb[0].date()}..{wb[-1].date()}) - log CTS-SW({wa[0].date()}..{wa[-1].date()})",
        settings={"window_weeks": int(window), "tool_effects": effects.method, "trend_model": f"{y} ~ {unit} + {time} on team-weeks with no tool",
                  "exact_components": "cost_per_builder_week, composition (accounting identities)"},
        df_resid=G - 1,
        title="What moved CTS-SW: the baseline decomposition",
        observed=observed,
        cts_a=cts_a,
        cts_b=cts_b,
        windows={"A": [str(wa[0].date()), str(wa[-1].date())], "B": [str(wb[0].date()), str(wb[-1].date())]},
        level=effects.level,
        details={"teams_a": int(len(ta)), "teams_b": int(len(tb)), "teams_both": int(len(common)),
                 "min_builders_a": floor["since"], "min_builders_b": floor["until"],
                 "builder_weeks_a": float(A[builder_weeks].sum()), "builder_weeks_b": float(B[builder_weeks].sum()),
                 "within_team_change_units_per_builder_week": within, "tool_effects": dict(zip(tools, map(float, theta), strict=True)),
                 "tools_total": {"log_points": float(-tool_R.sum()), "std_error": math.sqrt(tools_total_var)}, **tinfo},
    )


def _trend(p: pd.DataFrame, tools: list[str], *, y: str, unit: str, time: str, wa, wb, weights: pd.Series, threshold: float) -> tuple[float, float, dict]:
    """Counterfactual change of the rate without tools, log scale, and its clustered variance."""
    d = p.loc[p[y].notna()].reset_index(drop=True)
    u, t, D = adoption_matrix(d, tools, unit=unit, time=time, threshold=threshold)
    untreated = ~D.any(axis=1)
    labels_t = pd.Index(sorted(d[time].unique()))
    labels_u = pd.Index(sorted(d[unit].unique()))
    nu, nt = labels_u.size, labels_t.size
    ia = [labels_t.get_loc(w) for w in wa if w in labels_t]
    ib = [labels_t.get_loc(w) for w in wb if w in labels_t]
    has_t = np.bincount(t[untreated], minlength=nt) > 0
    if not has_t[ib].any():
        raise EstimationError("no team is without tools in the until window: the counterfactual trend is not identified there")
    if not has_t[ia].any():
        raise EstimationError("no team is without tools in the since window: the counterfactual trend is not identified there")
    has_u = np.bincount(u[untreated], minlength=nu) > 0
    ku, kt = np.flatnonzero(has_u), np.flatnonzero(has_t)
    mu, mt = np.full(nu, -1), np.full(nt, -1)
    mu[ku], mt[kt] = np.arange(ku.size), np.arange(kt.size)
    uu, tt = mu[u[untreated]], mt[t[untreated]]
    Z0, lu = _fe_solver(uu, tt, ku.size, kt.size)
    y0 = d[y].to_numpy(dtype=float)[untreated]
    coef = lu.solve(np.asarray(Z0.T @ y0).ravel())
    e = y0 - Z0 @ coef
    nuk = ku.size

    def lam_weights(idx: list[int]) -> np.ndarray:
        w = np.zeros(coef.size)
        ok = [mt[i] for i in idx if mt[i] >= 0]
        for j in ok:
            if j > 0:  # the first kept period is the reference, lambda = 0
                w[nuk + j - 1] += 1.0 / len(ok)
        return w

    wa_, wb_ = lam_weights(ia), lam_weights(ib)
    # level: the teams' own no-tool levels, weighted as in the within term
    alpha = pd.Series(coef[:nuk], index=labels_u[ku])
    wts = weights.reindex(alpha.index).fillna(0.0)
    if wts.sum() <= 0:
        wts = pd.Series(1.0, index=alpha.index)
    wts = wts / wts.sum()
    a_bar = float((alpha * wts).sum())
    lam_a, lam_b = float(wa_ @ coef), float(wb_ @ coef)
    la, lb = a_bar + lam_a, a_bar + lam_b
    if la <= 0 or lb <= 0:
        raise EstimationError("the no-tool model predicts a non-positive rate; the trend cannot be put on the log scale")
    trend = math.log(lb) - math.log(la)
    # gradient in (alpha, lambda); clustered influence of the least-squares coefficients
    g = wb_ / lb - wa_ / la
    g[:nuk] += wts.reindex(labels_u[ku]).to_numpy() * (1 / lb - 1 / la)
    v = Z0 @ lu.solve(g)
    phi = np.bincount(u[untreated], weights=v * e, minlength=nu)
    G = int(np.unique(u).size)
    var = float(phi @ phi) * G / max(G - 1, 1)
    return trend, var, {"trend_level_a": la, "trend_level_b": lb, "no_tool_team_weeks": int(untreated.sum())}
