"""ctssw.estimators.lmm: API, formula handling, gradient, errors, and statsmodels MixedLM agreement."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctssw.errors import ConfigError, EstimationError, SingularFitWarning
from ctssw.estimators.lmm import LMMResult, fit_lmm_file, lmm
from ctssw.estimators.lmm import _core as core
from ctssw.estimators.lmm._formula import parse_formula

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return pd.read_csv(REF / "lmm_sleepstudy" / "input.csv")


@pytest.fixture(scope="module")
def unbalanced() -> pd.DataFrame:
    return pd.read_csv(REF / "lmm_unbalanced" / "input.csv")


@pytest.fixture(scope="module")
def nested() -> pd.DataFrame:
    return pd.read_csv(REF / "lmm_nested" / "input.csv")


# -- formula parsing -----------------------------------------------------------
@pytest.mark.parametrize(
    ("formula", "fixed", "terms"),
    [
        ("y ~ x + (1 | g)", "x", [("1", ("g",), True)]),
        ("y ~ (1 + x | g) + x - 1", "x - 1", [("1 + x", ("g",), True)]),
        ("y ~ x + (x || g)", "x", [("x", ("g",), False)]),
        ("y ~ (1 | a/b)", "1", [("1", ("a",), True), ("1", ("a", "b"), True)]),
        ("y ~ log(x) + (0 + x | a:b)", "log(x)", [("0 + x", ("a", "b"), True)]),
        ("y ~ (1 | a/b/c)", "1", [("1", ("a",), True), ("1", ("a", "b"), True), ("1", ("a", "b", "c"), True)]),
    ],
)
def test_parse_formula(formula, fixed, terms):
    parsed = parse_formula(formula)
    assert parsed.response == "y"
    assert parsed.fixed == fixed
    assert [(t.expr, t.factor, t.correlated) for t in parsed.random] == terms


@pytest.mark.parametrize(
    "formula",
    ["y ~ x", "y ~ x + (1 | )", "y ~ x + (1 | a//b)", "y x (1|g)", "y ~ x + (1 | g", "y ~ (1 | log(g))"],
)
def test_parse_formula_rejects(formula):
    with pytest.raises(ConfigError):
        parse_formula(formula)


# -- gradient --------------------------------------------------------------------
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("correlated", [True, False])
def test_analytic_gradient_matches_finite_differences(unbalanced, reml, correlated):
    from ctssw.estimators.lmm._data import build_design, stats_single

    bar = "|" if correlated else "||"
    design = build_design(parse_formula(f"y ~ x1 + log(x2) + C(f) + (1 + x1 {bar} team)"), unbalanced)
    st, _ = stats_single(design)
    block = design.factors[0].block
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = np.abs(rng.normal(size=block.n_theta)) + 0.1
        if correlated:
            theta[1] = rng.normal()
        g = core.evaluate_single(theta, st, block, reml, True).grad
        fd = np.empty_like(theta)
        for k in range(theta.size):
            h = 1e-6
            up, dn = theta.copy(), theta.copy()
            up[k] += h
            dn[k] -= h
            fd[k] = (
                core.evaluate_single(up, st, block, reml, False).deviance
                - core.evaluate_single(dn, st, block, reml, False).deviance
            ) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5)


# -- result contract -------------------------------------------------------------
def test_result_contract(sleep):
    res = lmm("Reaction ~ Days + (Days | Subject)", sleep)
    assert isinstance(res, LMMResult)
    assert list(res.params.index) == ["(Intercept)", "Days"]
    assert res.df_resid is None
    assert set(res.tidy().columns) >= {"term", "estimate", "std_error", "p_value", "conf_low", "conf_high"}
    ci = res.conf_int(0.9)
    assert (ci["lower"] < res.params).all() and (ci["upper"] > res.params).all()
    text = res.summary()
    assert "REML criterion" in text and "Subject" in text
    d = res.to_dict()
    json.dumps(d)
    assert d["reml"] is True and d["singular"] is False and d["n_groups"] == {"Subject": 18}
    assert res.cov_re.shape == (2, 2)
    assert res.cov_re.index.names == ["group", "term"]
    np.testing.assert_allclose(res.cov_re.to_numpy(), res.cov_re.to_numpy().T)
    re = res.ranef()
    assert re.shape == (18, 2) and list(re.columns) == ["(Intercept)", "Days"]
    assert res.ranef("Subject").equals(re)
    with pytest.raises(ConfigError):
        res.ranef("Nope")
    assert res.reml_criterion is not None and res.deviance is None
    assert res.loglik == pytest.approx(-res.reml_criterion / 2)
    assert res.converged and res.n_iter > 0 and res.optimizer_message
    vc = res.var_components()
    assert list(vc["grp"]) == ["Subject", "Subject", "Subject", "Residual"]


def test_ml_fit_reports_deviance(sleep):
    res = lmm("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    assert res.reml_criterion is None
    assert res.loglik == pytest.approx(-res.deviance / 2)


def test_uncorrelated_has_zero_covariance(sleep):
    res = lmm("Reaction ~ Days + (Days || Subject)", sleep)
    assert res.cov_re.iloc[0, 1] == 0.0
    assert len(res.var_components()) == 3
    same = lmm("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep)
    np.testing.assert_allclose(res.params, same.params, rtol=1e-10)
    assert res.reml_criterion == pytest.approx(same.reml_criterion, rel=1e-12)


def test_nested_forms_agree(nested):
    a = lmm("y ~ x + (1 | org/team)", nested)
    b = lmm("y ~ x + (1 | org) + (1 | org:team)", nested)
    assert a.reml_criterion == pytest.approx(b.reml_criterion, rel=1e-12)
    assert set(a.n_groups) == {"org", "org:team"}
    with pytest.raises(ConfigError):
        a.ranef()
    assert a.ranef("org").shape == (8, 1)
    # unique inner labels given as a separate column are recognised as nested
    df = nested.assign(team_id=nested["org"] + "-" + nested["team"])
    c = lmm("y ~ x + (1 | org) + (1 | team_id)", df)
    assert c.reml_criterion == pytest.approx(a.reml_criterion, rel=1e-10)


def test_crossed_factors_fit(nested):
    """Crossed factors go through the general sparse path; labels and row order do not matter."""
    df = nested.assign(week=np.arange(len(nested)) % 7)
    res = lmm("y ~ x + (1 | org) + (1 | week)", df)
    assert res.converged
    assert res.n_groups == {"week": 7, "org": 8}
    assert res.ranef("week").shape == (7, 1) and res.ranef("org").shape == (8, 1)
    shuffled = df.sample(frac=1.0, random_state=3).assign(week=lambda d: "w" + d["week"].astype(str))
    again = lmm("y ~ x + (1 | week) + (1 | org)", shuffled)
    assert again.reml_criterion == pytest.approx(res.reml_criterion, rel=1e-9)
    np.testing.assert_allclose(again.params, res.params, rtol=1e-6)


def test_three_factors_fit(nested):
    """More than two grouping factors (here org/team crossed with a weekday factor)."""
    df = nested.assign(week=np.arange(len(nested)) % 5)
    res = lmm("y ~ x + (1 | org/team) + (1 | week)", df)
    assert set(res.n_groups) == {"org", "org:team", "week"}
    assert res.converged
    two = lmm("y ~ x + (1 | org/team)", df)
    # adding a factor can only lower (or keep) the REML criterion's minimum
    assert res.reml_criterion <= two.reml_criterion + 1e-8


def test_missing_rows_are_dropped(sleep):
    df = sleep.copy()
    df.loc[[3, 50], "Reaction"] = np.nan
    res = lmm("Reaction ~ Days + (Days | Subject)", df)
    assert res.nobs == len(sleep) - 2


@pytest.mark.parametrize(
    ("formula", "error"),
    [
        ("Reaction ~ Nope + (1 | Subject)", ConfigError),
        ("Reaction ~ Days + (1 | a) + (1 | b) + (1 | c)", EstimationError),
        ("Reaction ~ Days + Days2 + (1 | Subject)", EstimationError),
        ("Reaction ~ Days + (1 | Subject) + (1 | Subject)", ConfigError),
        ("Reaction ~ Days + (1 | row)", EstimationError),
    ],
)
def test_errors(sleep, formula, error):
    df = sleep.assign(Days2=2 * sleep["Days"], a=0, b=1, c=2, row=np.arange(len(sleep)))
    with pytest.raises(error):
        lmm(formula, df)


def test_bad_arguments(sleep):
    with pytest.raises(ConfigError):
        lmm("Reaction ~ Days + (1 | Subject)", sleep, reml="yes")
    with pytest.raises(ConfigError):
        lmm("Reaction ~ Days + (1 | Subject)", sleep.to_dict())


def test_group_labels_and_order_do_not_matter(sleep):
    base = lmm("Reaction ~ Days + (Days | Subject)", sleep)
    shuffled = sleep.sample(frac=1.0, random_state=1).assign(Subject=lambda d: "s" + d["Subject"].astype(str))
    res = lmm("Reaction ~ Days + (Days | Subject)", shuffled)
    np.testing.assert_allclose(res.params, base.params, rtol=1e-8)
    assert res.reml_criterion == pytest.approx(base.reml_criterion, rel=1e-12)
    np.testing.assert_allclose(res.ranef().to_numpy(), base.ranef().to_numpy(), rtol=1e-5, atol=1e-6)


def test_location_shift_of_response(sleep):
    # y is centred internally; the intercept must come back on the original scale
    a = lmm("Reaction ~ Days + (Days | Subject)", sleep)
    b = lmm("Reaction ~ Days + (Days | Subject)", sleep.assign(Reaction=sleep["Reaction"] + 1e4))
    assert b.params["(Intercept)"] - a.params["(Intercept)"] == pytest.approx(1e4, rel=1e-9)
    assert b.params["Days"] == pytest.approx(a.params["Days"], rel=1e-7)


def test_singular_reported():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"g": np.repeat(np.arange(10), 20), "x": rng.normal(size=200)})
    df["x"] -= df.groupby("g")["x"].transform("mean")
    df["y"] = df["x"] + rng.normal(size=200)
    df["y"] -= df.groupby("g")["y"].transform("mean")
    with pytest.warns(SingularFitWarning):
        res = lmm("y ~ x + (1 | g)", df)
    assert res.singular and res.cov_re.iloc[0, 0] == 0.0
    assert res.converged


def test_zero_variance_is_not_a_trap():
    """Group-centred y with uncentred x: zero is not even a local minimum of the criterion.

    A gradient method that lands on θ = 0 sees a zero derivative there (the
    criterion is even in θ); lme4 1.1.31 stops there too (REML criterion
    563.1162, singular). The fit must move off the bound to the lower minimum.
    """
    from ctssw.estimators.lmm._data import build_design, stats_single

    rng = np.random.default_rng(5)
    df = pd.DataFrame({"g": np.repeat(np.arange(10), 20), "x": rng.normal(size=200)})
    df["y"] = df["x"] + rng.normal(size=200)
    df["y"] -= df.groupby("g")["y"].transform("mean")
    res = lmm("y ~ x + (1 | g)", df)
    design = build_design(parse_formula("y ~ x + (1 | g)"), df)
    st, _ = stats_single(design)
    at_zero = core.evaluate_single(np.zeros(1), st, design.factors[0].block, True, False).deviance
    assert res.reml_criterion < at_zero - 0.2
    assert res.converged and not res.singular


def test_fit_lmm_file(tmp_path, sleep):
    csv = tmp_path / "d.csv"
    sleep.to_csv(csv, index=False)
    out = fit_lmm_file(csv, "Reaction ~ Days + (Days | Subject)")
    json.dumps(out)
    assert out["reml"] is True and out["nobs"] == 180
    pq = tmp_path / "d.parquet"
    sleep.to_parquet(pq)
    ml = fit_lmm_file(pq, "Reaction ~ Days + (Days | Subject)", ml=True)
    assert ml["reml"] is False and ml["deviance"] is not None
    with pytest.raises(ConfigError):
        fit_lmm_file(tmp_path / "d.xlsx", "Reaction ~ Days + (1 | Subject)")
    st = fit_lmm_file(csv, "Reaction ~ Days + (Days | Subject)", ddf="satterthwaite")
    assert st["ddf"] == "satterthwaite" and set(st["df"]) == {"(Intercept)", "Days"}


def test_satterthwaite_inference(sleep):
    """Per-coefficient t with Satterthwaite df: wider than the normal, and used by pvalues, conf_int and tidy."""
    from scipy import stats

    z = lmm("Reaction ~ Days + (Days | Subject)", sleep)
    t = lmm("Reaction ~ Days + (Days | Subject)", sleep, ddf="satterthwaite")
    assert z.ddf == "normal" and z.df is None
    np.testing.assert_allclose(t.params, z.params, rtol=0)
    assert (t.df > 10).all() and (t.df < 180).all()
    want = 2 * stats.t.sf(np.abs(t.tstats), t.df)
    np.testing.assert_allclose(t.pvalues, want, rtol=1e-12)
    assert (t.pvalues > z.pvalues).all()
    assert ((t.conf_int()["upper"] - t.conf_int()["lower"]) > (z.conf_int()["upper"] - z.conf_int()["lower"])).all()
    assert "df" in t.tidy().columns and "df" not in z.tidy().columns
    assert "Satterthwaite" in t.summary()
    with pytest.raises(ConfigError, match="ddf"):
        lmm("Reaction ~ Days + (Days | Subject)", sleep, ddf="kenward-roger")


# -- statsmodels MixedLM ---------------------------------------------------------
# statsmodels fits the same likelihood but stops its optimiser earlier, so its
# estimates agree only to about 1e-3 (relative), and its fixed-effect standard
# errors differ by up to 0.3% where lme4 and ctssw agree to 1e-8. It cannot write
# uncorrelated slopes as a formula, hence the subset.
SM_CASES = [
    ("lmm_sleepstudy", "Reaction ~ Days + (Days | Subject)", "Reaction ~ Days", "Subject", "~Days", None, True),
    ("lmm_sleepstudy", "Reaction ~ Days + (Days | Subject)", "Reaction ~ Days", "Subject", "~Days", None, False),
    ("lmm_unbalanced", "y ~ x1 + log(x2) + C(f) + (1 + x1 | team)", "y ~ x1 + np.log(x2) + C(f)", "team", "~x1", None, True),
    ("lmm_intercept", "y ~ x + (1 | team)", "y ~ x", "team", "~1", None, False),
    ("lmm_nested", "y ~ x + (1 | org/team)", "y ~ x", "org", "~1", {"team": "0 + C(team)"}, True),
]


@pytest.mark.parametrize("case", SM_CASES, ids=lambda c: f"{c[0]}-{'reml' if c[6] else 'ml'}")
def test_agrees_with_statsmodels(case):
    sm = pytest.importorskip("statsmodels.formula.api")
    name, formula, sm_formula, group, re_formula, vc, reml = case
    data = pd.read_csv(REF / name / "input.csv")
    res = lmm(formula, data, reml=reml)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.mixedlm(sm_formula, data, groups=data[group], re_formula=re_formula, vc_formula=vc)
        fit = model.fit(reml=reml, method=["bfgs"])
    names = {"Intercept": "(Intercept)", "np.log(x2)": "log(x2)"}
    theirs = fit.fe_params.rename(names)
    theirs_se = fit.bse_fe.rename(names)
    ours = res.params[theirs.index].to_numpy()
    np.testing.assert_allclose(ours, theirs.to_numpy(), rtol=1e-3, atol=1e-3 * float(res.std_errors.min()))
    np.testing.assert_allclose(res.std_errors[theirs.index].to_numpy(), theirs_se.to_numpy(), rtol=5e-3)
    assert res.sigma2 == pytest.approx(fit.scale, rel=1e-3)
    assert res.loglik == pytest.approx(fit.llf, rel=1e-6)


# -- the optimiser's restarts and convergence check ------------------------------------
def _even_criterion(calls):
    """(θ² − 1)²: even in θ, so its derivative is zero at the bound θ = 0, which is a maximum."""
    from ctssw.estimators.lmm._core import Evaluation

    def evaluate(theta, grad):
        calls.append(float(theta[0]))
        t = float(theta[0])
        g = np.array([4 * t * (t * t - 1)]) if grad else None
        return Evaluation((t * t - 1) ** 2, np.zeros(0), 0.0, 0.0, 0.0, np.eye(0), [], g)

    return evaluate


@pytest.mark.parametrize("analytic", [True, False])
def test_restart_moves_off_a_stationary_bound(analytic):
    from ctssw.estimators.lmm._optim import minimise

    calls: list[float] = []
    opt = minimise(_even_criterion(calls), np.zeros(1), np.zeros(1), analytic, columns=[(0, np.zeros(0, int))])
    assert opt.converged
    assert opt.theta[0] == pytest.approx(1.0, abs=1e-5)
    assert opt.evaluation.deviance < 1e-9


def test_not_converged_while_restarts_still_improve():
    from ctssw.estimators.lmm._optim import minimise

    calls: list[float] = []
    opt = minimise(
        _even_criterion(calls), np.zeros(1), np.zeros(1), True, columns=[(0, np.zeros(0, int))], max_rounds=1
    )
    assert not opt.converged
    assert "restarts still lowered" in opt.message


def _bowl(calls):
    """A quadratic bowl with its minimum inside the bounds, at (2, -1, 0.5)."""
    from ctssw.estimators.lmm._core import Evaluation

    centre = np.array([2.0, -1.0, 0.5])
    A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])

    def evaluate(theta, grad):
        calls.append(theta.copy())
        d = theta - centre
        return Evaluation(float(d @ A @ d) + 7.0, np.zeros(0), 0.0, 0.0, 0.0, np.eye(0), [], 2 * A @ d if grad else None)

    return evaluate


def test_interior_optimum_is_confirmed_without_repeating_evaluations():
    from scipy.optimize import minimize

    from ctssw.estimators.lmm._optim import minimise

    calls: list[np.ndarray] = []
    lower = np.array([0.0, -np.inf, 0.0])
    opt = minimise(_bowl(calls), np.ones(3), lower, True, columns=[(0, np.array([1])), (2, np.zeros(0, int))])
    assert opt.converged
    assert opt.theta == pytest.approx([2.0, -1.0, 0.5], abs=1e-6)
    # the same search alone: the restart from the optimum is skipped (the quasi-Newton model
    # promises nothing) and no point is evaluated twice
    ref = minimize(lambda t: (_bowl([])(t, True).deviance, _bowl([])(t, True).grad), np.ones(3), jac=True,
                   method="L-BFGS-B", bounds=[(0, None), (None, None), (0, None)],
                   options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-10, "maxcor": 20})
    assert len(calls) == opt.n_eval <= ref.nfev
    assert len({c.tobytes() for c in calls}) == len(calls)


# -- the general (sparse) path against the other two --------------------------------------
def _general(design):
    from dataclasses import replace

    from ctssw.estimators.lmm._data import stats_general

    st, _ = stats_general(replace(design, kind="general"))
    return st


@pytest.mark.parametrize("reml", [True, False])
def test_sparse_path_matches_nested_and_single_paths(nested, sleep, reml):
    """The blocked sparse Cholesky gives the same criterion, β and modes as the fast paths."""
    from ctssw.estimators.lmm._data import build_design, stats_nested, stats_single
    from ctssw.estimators.lmm._sparse import evaluate_sparse

    rng = np.random.default_rng(1)
    d = build_design(parse_formula("y ~ x + (1 + x | org/team)"), nested)
    stn, _ = stats_nested(d)
    stg = _general(d)
    outer, inner = (f.block for f in d.factors)
    d1 = build_design(parse_formula("Reaction ~ Days + (Days | Subject)"), sleep)
    st1, _ = stats_single(d1)
    st1g = _general(d1)
    for _ in range(3):
        theta = np.abs(rng.normal(size=6)) + 0.1
        theta[1], theta[4] = rng.normal(size=2)
        a = core.evaluate_nested(theta, stn, outer, inner, reml)
        b = evaluate_sparse(theta, stg, reml)
        assert b.deviance == pytest.approx(a.deviance, rel=1e-11)
        np.testing.assert_allclose(b.beta, a.beta, rtol=1e-9, atol=1e-12)
        for ua, ub in zip(a.u, b.u):
            np.testing.assert_allclose(ub, ua, rtol=1e-8, atol=1e-10)
        t1 = theta[:3]
        c = core.evaluate_single(t1, st1, d1.factors[0].block, reml, False)
        e = evaluate_sparse(t1, st1g, reml)
        assert e.deviance == pytest.approx(c.deviance, rel=1e-11)


def test_blocked_and_superlu_factorisations_agree(nested, monkeypatch):
    """Crossed factors with a slope on the larger one: the blocked Cholesky against SuperLU on the whole system."""
    from ctssw.estimators.lmm import _sparse
    from ctssw.estimators.lmm._data import build_design

    df = nested.assign(week=np.arange(len(nested)) % 7)
    design = build_design(parse_formula("y ~ x + (1 + x | team) + (1 | week)"), df)
    st = _general(design)
    assert st.sizes[0][1] == 2  # the larger factor, with its slope, is the block-diagonal one
    rng = np.random.default_rng(2)
    for reml in (True, False):
        theta = np.abs(rng.normal(size=4)) + 0.2
        blocked = _sparse.evaluate_sparse(theta, st, reml)
        monkeypatch.setattr(_sparse, "MAX_DENSE", 0)
        lu = _sparse.evaluate_sparse(theta, st, reml)
        monkeypatch.setattr(_sparse, "MAX_DENSE", 6000)
        assert lu.deviance == pytest.approx(blocked.deviance, rel=1e-11)
        np.testing.assert_allclose(lu.beta, blocked.beta, rtol=1e-9)
        for a, b in zip(lu.u, blocked.u):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
