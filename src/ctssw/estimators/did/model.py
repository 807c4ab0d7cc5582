"""Staggered-adoption difference-in-differences (DESIGN §4).

``staggered_did`` fits group-time effects ATT(g,t) by one of four methods:

``"cs"``
    Callaway and Sant'Anna (2021), never- or not-yet-treated controls,
    outcome-regression / IPW / doubly-robust 2x2 fits with covariates.
``"sun-abraham"``
    Sun and Abraham (2021): the saturated cohort x relative-period regression.
    Without covariates on a balanced panel its coefficients are the cohort
    differences against the never-treated (or last-treated) cohort relative to
    period g-1, which is how they are computed here.
``"imputation"``
    Borusyak, Jaravel and Spiess (2024), with their conservative variance.
``"twfe"``
    The naive static two-way fixed-effects coefficient, for contrast only.

``DidResult.aggregate`` gives simple, dynamic (event-study), group and calendar
effects with influence-function standard errors and multiplier-bootstrap uniform
bands; ``DidResult.pretest`` is the joint Wald test on pre-period estimates.

Examples
--------
>>> from ctssw.simulate import simulate_panel
>>> from ctssw.estimators.adoption import adoption_cohorts
>>> panel, truth = simulate_panel(teams=200, weeks=60, seed=1)
>>> panel = panel.merge(adoption_cohorts(panel), on="team_id")
>>> res = staggered_did(panel, y="deploys_per_builder", unit="team_id", time="week",
...                     cohort="adoption_week", bootstrap=0)
>>> es = res.aggregate("dynamic")
>>> round(es.overall.estimate, 2) > -1
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import ConfigError, DataWarning, EstimationError
from ..results import Estimate, Result, jsonable
from ._agg import (
    AGGREGATIONS,
    Aggregation,
    aggregate_cells,
    se_from_inf,
    uniform_band,
    wald,
)
from ._cs import CellSet, combine
from ._data import NEVER, DidPanel, prepare_panel
from ._fit import CONTROLS, EST_METHODS, METHODS, DidConfig, _config, fit_panel
from ._imputation import imputation_inf
from ._inference import (
    Inference,
    PerTermT,
    cells_small_sample,
    choose,
    critical,
    small_sample,
)
from ._pretrends import aggregate_imputation, imputation_pre, leads_test
from ._twfe import TwfeFit

__all__ = [
    "AGGREGATIONS",
    "CONTROLS",
    "EST_METHODS",
    "METHODS",
    "DidAggregate",
    "DidConfig",
    "DidResult",
    "staggered_did",
]

# -- results ---------------------------------------------------------------------


@dataclass
class DidAggregate(PerTermT, Result):
    """Aggregated DiD effects.

    ``params`` / ``std_errors`` hold the components (event times, cohorts or
    periods; a single ``ATT`` for "simple"); ``overall`` the summary effect;
    ``table`` adds pointwise intervals and the uniform band (``band_low``,
    ``band_high``, critical value ``band_crit``); ``pretest`` (dynamic only)
    is the joint Wald test that all pre-period event-time effects are zero.
    ``dfs`` holds each component's degrees of freedom (``inf``: normal) under
    the fit's interval choice (``settings["inference"]``).
    """

    kind: str = "simple"
    overall: Estimate | None = None
    table: pd.DataFrame | None = None
    band_crit: float = float("nan")
    pretest: dict | None = None
    influence: np.ndarray | None = field(default=None, repr=False)
    dfs: pd.Series | None = None
    overall_df: float = float("inf")

    def _extra_lines(self) -> list[str]:
        o = self.overall
        tdf = f", t with {self.overall_df:.1f} df" if np.isfinite(self.overall_df) else ""
        lines = [f"Overall ({self.kind}): {o.estimate:.6g} (SE {o.std_error:.6g}, {int(o.level * 100)}% CI {o.ci_low:.6g} to {o.ci_high:.6g}{tdf})"]
        if np.isfinite(self.band_crit):
            lines.append(f"Uniform band critical value: {self.band_crit:.4g}")
        if self.pretest:
            p = self.pretest
            lines.append(f"Pre-trend Wald test: chi2({p['df']}) = {p['statistic']:.4g}, p = {p['p_value']:.4g}")
        return lines

    def _blocks(self) -> list:
        from ..presentation import did_aggregate_blocks

        return did_aggregate_blocks(self)

    def plot(self, *, percent: bool = False):
        """The event study (dynamic aggregation) or the components with their intervals.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import event_study, forest

        if self.kind == "dynamic":
            return event_study(self.table, title=self.title, ylabel=f"effect on {self.formula.split(' ~')[0]}", percent=percent)
        t = self.table
        return forest(t.assign(label=t["label"], estimate=t["att"]), xlabel="effect (95% interval)", title=self.title, percent=percent)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["kind"] = self.kind
        out["overall"] = self.overall.to_dict() if self.overall else None
        out["table"] = [{k: jsonable(v) for k, v in r.items()} for r in self.table.to_dict(orient="records")]
        out["band_crit"] = jsonable(self.band_crit)
        out["pretest"] = jsonable(self.pretest) if self.pretest else None
        return out


@dataclass
class DidResult(PerTermT, Result):
    """Group-time effects of a staggered-adoption design.

    ``att_gt`` has one row per (group, time) cell: ``group``, ``time`` (period
    labels), ``event`` (periods since adoption), ``att``, ``se``, ``post``,
    ``n_treated``, ``n_control``. ``params`` holds the same estimates labelled
    ``ATT(g,t)``. For ``method="twfe"`` there are no cells and ``params`` holds
    the single coefficient. ``inference`` is the interval choice (analytic or
    small-sample, and why); ``dfs`` the degrees of freedom of each term.
    """

    att_gt: pd.DataFrame | None = None
    config: DidConfig | None = None
    panel: DidPanel | None = field(default=None, repr=False)
    fit: Any = field(default=None, repr=False)
    pre_fit: Any = field(default=None, repr=False)
    inference: Inference | None = field(default=None, repr=False)
    dfs: pd.Series | None = None

    def aggregate(self, kind: str = "simple", *, min_e: float | None = None, max_e: float | None = None) -> DidAggregate:
        """Aggregate the cells: ``"simple"``, ``"dynamic"``, ``"group"`` or ``"calendar"``."""
        if kind not in AGGREGATIONS:
            raise ConfigError(f"kind must be one of {AGGREGATIONS}, got {kind!r}")
        cache = self.__dict__.setdefault("_aggregates", {})  # printing and plotting reuse the bootstrap
        if (kind, min_e, max_e) not in cache:
            cache[(kind, min_e, max_e)] = self._aggregate(kind, min_e, max_e)
        return cache[(kind, min_e, max_e)]

    def _aggregate(self, kind: str, min_e: float | None, max_e: float | None) -> DidAggregate:
        cfg = self.config
        lo = -np.inf if min_e is None else float(min_e)
        hi = np.inf if max_e is None else float(max_e)
        if cfg.method == "twfe":
            if kind != "simple":
                raise ConfigError("method='twfe' gives one static coefficient: only kind='simple' is available")
            f: TwfeFit = self.fit
            agg = Aggregation("simple", np.array(["ATT"]), np.array([f.beta]), np.array([f.se]), f.beta, f.se, f.inf[:, None], f.inf, f.n)
        elif cfg.method == "imputation":
            if kind == "dynamic" and np.isfinite(lo) and lo < -cfg.pre_periods - cfg.anticipation:
                warnings.warn(
                    f"event times before {-cfg.pre_periods - cfg.anticipation} are not estimated (pre_periods={cfg.pre_periods}); "
                    f"fit with pre_periods={int(-lo - cfg.anticipation)} for min_e={lo:g}",
                    DataWarning,
                    stacklevel=2,
                )
            agg = aggregate_imputation(self.fit, self.pre_fit, kind, lo, hi)
        else:
            agg = aggregate_cells(self.fit, kind, min_e=lo, max_e=hi)
        return _make_aggregate(agg, self, kind)

    def _blocks(self) -> list:
        from ..presentation import did_blocks

        return did_blocks(self)

    def plot(self, *, min_e: int | None = None, max_e: int | None = None, percent: bool = False):
        """The event study: effects by weeks since adoption with pointwise intervals and the uniform band.

        Returns
        -------
        matplotlib.figure.Figure
        """
        if self.config.method == "twfe":
            return super().plot()
        return self.aggregate("dynamic", min_e=min_e, max_e=max_e).plot(percent=percent)

    def pretest(self, test: str = "wald", *, leads: int | None = None) -> dict:
        """Pre-trend test.

        ``test="wald"``: joint Wald test that every pre-period estimate is
        zero. CS and Sun-Abraham test the pre-period ATT(g,t) cells (as R
        ``did`` does); imputation tests its pre-period event-time estimates
        from the leave-out fit (BJS section 4.1).

        ``test="leads"`` (imputation only): the leads regression on the
        untreated observations (BJS test 1, R ``didimputation``'s
        ``pretrends``), an F test over the ``leads`` event times closest to
        adoption (default all); its per-lead estimates are in ``"leads"``.
        """
        m = self.config.method
        if test not in ("wald", "leads"):
            raise ConfigError(f"test must be 'wald' or 'leads', got {test!r}")
        if test == "leads":
            if m != "imputation":
                raise ConfigError(f"the leads regression test is for method='imputation', not {m!r}")
            if leads is not None and (isinstance(leads, bool) or not isinstance(leads, (int, np.integer)) or leads < 1):
                raise ConfigError(f"leads must be a positive integer or None, got {leads!r}")
            return leads_test(self.panel, self.fit, anticipation=self.config.anticipation, leads=leads)
        if m == "twfe":
            raise ConfigError("method='twfe' has no pre-period estimates to test; use 'cs', 'sun-abraham' or 'imputation'")
        if m == "imputation":
            if self.pre_fit is None:
                raise EstimationError("no pre-period estimate (pre_periods=0 or too few periods before adoption)")
            agg = imputation_pre(self.pre_fit, self.config.anticipation)
            W, df, p = wald(agg.att, agg.inf, agg.n)
            return {"statistic": W, "df": df, "p_value": p, "tested": "pre-period event-time effects"}
        cells: CellSet = self.fit
        pre = (~cells.post) & np.isfinite(cells.att)
        if not pre.any():
            raise EstimationError("no pre-period cell to test")
        inf = combine(cells, np.eye(cells.K)[:, pre])
        W, df, p = wald(cells.att[pre], inf, cells.n)
        return {"statistic": W, "df": df, "p_value": p, "tested": "pre-period ATT(g,t) cells"}


def _make_aggregate(agg: Aggregation, res: DidResult, kind: str) -> DidAggregate:
    cfg = res.config
    z = float(stats.norm.ppf(0.5 + cfg.level / 2))
    if kind == "simple":
        labels = ["ATT"]
        keys = np.array(["ATT"])
    else:
        keys = agg.labels
        if kind == "dynamic":
            labels = [f"e={int(e)}" for e in keys]
        else:
            labels = [f"{kind[0]}={res.panel.cohort_label(int(v))}" for v in keys]
    se, df = agg.se, np.full(len(agg.att), np.inf)
    o_se, o_df = agg.overall_se, np.inf
    small = res.inference is not None and res.inference.kind == "small-sample"
    if res.inference is not None and res.inference.kind == "cr1":
        df, o_df = np.full(len(agg.att), float(res.fit.G - 1)), float(res.fit.G - 1)
    if small:
        se, df = small_sample(agg.inf, res.inference.strata, agg.n)
        if np.isfinite(agg.overall_att):
            o_se_a, o_df_a = small_sample(agg.overall_inf[:, None], res.inference.strata, agg.n)
            o_se, o_df = float(o_se_a[0]), float(o_df_a[0])
    zc = critical(cfg.level, df)
    crit = z
    if kind != "simple" and cfg.bootstrap > 0 and len(keys) > 1:
        crit = uniform_band(agg.inf, se, agg.n, level=cfg.level, reps=cfg.bootstrap, seed=cfg.seed)
        if small:  # the sup-t quantile, widened as the pointwise t is over the normal
            crit = float(crit * np.max(zc) / z)
    tab = pd.DataFrame(
        {
            "label": labels,
            "att": agg.att,
            "se": se,
            "ci_low": agg.att - zc * se,
            "ci_high": agg.att + zc * se,
            "band_low": agg.att - crit * se,
            "band_high": agg.att + crit * se,
            "df": df,
        }
    )
    if kind == "dynamic":
        tab.insert(0, "event_time", keys.astype(int))
    elif kind in ("group", "calendar"):
        tab.insert(0, kind if kind == "group" else "time", [res.panel.cohort_label(int(v)) for v in keys])
    pretest = None
    if kind == "dynamic":
        pre = keys < -cfg.anticipation if cfg.method != "sun-abraham" else keys < -1 - cfg.anticipation
        if pre.any():
            W, df, p = wald(agg.att[pre], agg.inf[:, pre], agg.n)
            pretest = {"statistic": W, "df": df, "p_value": p, "tested": "pre-period event-time effects"}
    oz = float(critical(cfg.level, o_df))
    o = Estimate(agg.overall_att, o_se, agg.overall_att - oz * o_se, agg.overall_att + oz * o_se, cfg.level)
    return DidAggregate(
        params=pd.Series(agg.att, index=labels, name="estimate"),
        std_errors=pd.Series(se, index=labels, name="std_error"),
        dfs=pd.Series(df, index=labels, name="df"),
        nobs=res.nobs,
        formula=res.formula,
        settings={**res.settings, "aggregation": kind},
        warnings=list(res.warnings),
        title=f"Staggered DiD ({cfg.method}): {kind} aggregation",
        kind=kind,
        overall=o,
        table=tab,
        band_crit=crit if kind != "simple" else float("nan"),
        pretest=pretest,
        influence=agg.inf,
        overall_df=float(o_df),
    )


# -- fitting -----------------------------------------------------------------------


def staggered_did(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str | None,
    method: str = "cs",
    control: str | None = None,
    est_method: str = "dr",
    covariates: str | list[str] | tuple[str, ...] | None = None,
    anticipation: int = 0,
    bootstrap: int = 999,
    level: float = 0.95,
    seed: int | None = 0,
    pre_periods: int = 5,
    inference: str = "auto",
    treatment: str | None = None,
) -> DidResult:
    """Group-time average treatment effects under staggered adoption.

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period.
    y, unit, time : str
        Outcome, unit and period columns. Periods may be numbers, dates or date
        strings ('2024-03', '2024-03-01') and are assumed evenly spaced.
        On an unbalanced panel, imputation, TWFE and Callaway-Sant'Anna
        (with or without covariates, every ``est_method``) use every
        observation (CS through the repeated-cross-section estimators with
        unit-clustered influence functions, as R ``did`` with
        ``allow_unbalanced_panel=TRUE``; each observation then carries its
        own period's covariates). Sun-Abraham uses the units observed in
        every period, and the others are dropped with a warning that counts
        them (also in ``settings["units_dropped"]``). ``settings["panel"]``
        says which path ran.
    cohort : str or None
        First treated period of the unit (same units as ``time``); missing,
        infinite, 0 or negative means never treated. ``None`` only for
        ``method="twfe"`` with ``treatment``.
    method : {"cs", "sun-abraham", "imputation", "twfe"}
    control : {"notyet", "never"}, optional
        Comparison units. Default: "notyet" for cs and imputation, "never" for
        sun-abraham (which falls back to the last-treated cohort).
    est_method : {"dr", "reg", "ipw"}
        2x2 estimator for cs with covariates; without covariates they coincide.
    covariates : str or list of str, optional
        Covariates. cs: taken at each cell's base period in each 2x2 fit;
        imputation: in the first stage on untreated observations
        (``y = a_i + l_t + x' beta``); twfe: as regressors. Not for
        sun-abraham.
    anticipation : int
        Periods before adoption in which the treatment may already act.
    bootstrap : int
        Multiplier-bootstrap replications for uniform bands (0: pointwise only).
    level : float
        Confidence level.
    seed : int, optional
        Seed of the multiplier bootstrap.
    pre_periods : int
        Imputation only: pre-period event times estimated by the leave-out fit.
    inference : {"auto", "analytic", "small-sample"}
        Standard errors and intervals. ``"analytic"``: the influence-function
        variance with a normal critical value (R ``did``'s analytic
        standard errors). ``"small-sample"``: per-cohort ``n/(n-1)``
        variance with a Welch-Satterthwaite t critical value, which keeps
        95% intervals at their level with few never-treated or few units
        per cohort. ``"auto"`` picks ``"small-sample"`` when any cohort or
        the never-treated group has fewer than 50 units. The choice and
        its reason are in ``settings["inference"]`` and
        ``settings["inference_choice"]``. TWFE always reports CR1 errors
        clustered by unit with t(G - 1) intervals, as pyfixest.
    treatment : str, optional
        ``method="twfe"`` only: a treatment column to use instead of
        ``1{t >= cohort}``; it may switch on and off or be an intensity.

    Returns
    -------
    DidResult
    """
    cfg = _config(
        y=y, unit=unit, time=time, cohort=cohort, method=method, control=control, est_method=est_method,
        covariates=covariates, anticipation=anticipation, bootstrap=bootstrap, level=level, seed=seed,
        pre_periods=pre_periods, inference=inference, treatment=treatment,
    )
    if cohort is None:  # twfe with a given treatment: no cohorts
        cohort = "(no cohort)"
        data = data.assign(**{cohort: np.nan})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = prepare_panel(
            data, y=cfg.y, unit=cfg.unit, time=cfg.time, cohort=cohort, covariates=cfg.covariates,
            dose=cfg.treatment, balance=cfg.method == "sun-abraham",
        )
        fit, pre_fit, notes = fit_panel(panel, cfg)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return build_result(panel, cfg, fit, pre_fit, [str(w.message) for w in caught] + notes)


def build_result(panel: DidPanel, cfg: DidConfig, fit: Any, pre_fit: Any, notes: list[str]) -> DidResult:
    settings = {
        "method": cfg.method,
        "control": cfg.control if cfg.method != "twfe" else "-",
        "est_method": cfg.est_method if cfg.covariates else "none (no covariates)",
        "covariates": ", ".join(cfg.covariates) or "none",
        "anticipation": cfg.anticipation,
        "units": panel.n,
        "periods": panel.T,
        "cohorts": len(panel.groups),
        "never_treated": int((panel.cohort == NEVER).sum()),
        "units_dropped": int(panel.n_input_units - panel.n),
        "balanced": panel.balanced,
        "panel": cfg.panel_path(panel),
    }
    inference = choose(cfg.inference, panel.cohort)
    if cfg.method == "twfe":
        inference = Inference("cr1", "TWFE", panel.cohort)
    settings["inference"] = inference.label
    settings["inference_choice"] = inference.reason
    cov = "".join(f" + {c}" for c in cfg.covariates)
    formula = f"{cfg.y} ~ ATT(g,t){cov} | {cfg.unit} + {cfg.time}; cohort = {cfg.cohort}"
    if cfg.method == "twfe":
        names = ["D", *cfg.covariates]
        params = pd.Series([fit.beta, *fit.delta], index=names, name="estimate")
        ses = pd.Series([fit.se, *fit.delta_se], index=names, name="std_error")
        dfs = pd.Series(float(fit.G - 1), index=names, name="df")
        att_gt = pd.DataFrame(columns=["group", "time", "event", "att", "se", "post", "n_treated", "n_control", "df"])
        d = cfg.treatment or f"1{{{cfg.time} >= {cfg.cohort}}}"
        formula = f"{cfg.y} ~ D{cov} | {cfg.unit} + {cfg.time}; D = {d}"
    else:
        df = np.full(len(fit.g), np.inf)
        if cfg.method == "imputation":
            g, t, att = fit.g, fit.t, fit.att
            inf = imputation_inf(fit, np.eye(len(g)))
            se = se_from_inf(inf, fit.n)
            if inference.kind == "small-sample":
                se, df = small_sample(inf, inference.strata, fit.n)
            n1, n0, post = fit.n_treated, np.full(len(g), np.nan), t >= g
        else:
            g, t, att, se, post, n1, n0 = fit.g, fit.t, fit.att, fit.se, fit.post, fit.n_treated, fit.n_control
            if inference.kind == "small-sample":
                se, df = cells_small_sample(fit, inference.strata)
        times = panel.times if cfg.method != "sun-abraham" else panel.times[: fit.yc.shape[1]]
        gl = [panel.cohort_label(int(v)) for v in g]
        tl = [panel.cohort_label(int(v)) if v < len(times) else None for v in t]
        att_gt = pd.DataFrame({"group": gl, "time": tl, "event": (t - g).astype(int), "att": att, "se": se, "post": post, "n_treated": n1, "n_control": n0, "df": df})
        labels = [f"ATT({a},{b})" for a, b in zip(gl, tl)]
        params = pd.Series(att, index=labels, name="estimate")
        ses = pd.Series(se, index=labels, name="std_error")
        dfs = pd.Series(df, index=labels, name="df")
    return DidResult(
        params=params,
        std_errors=ses,
        nobs=int(fit.nobs) if cfg.method == "twfe" else int(panel.observed.sum()) if cfg.method == "imputation" else int(panel.n * panel.T),
        formula=formula,
        settings=settings,
        warnings=notes,
        title=f"Staggered DiD: {cfg.method}",
        att_gt=att_gt,
        config=cfg,
        panel=panel,
        fit=fit,
        pre_fit=pre_fit,
        inference=inference,
        dfs=dfs,
    )
