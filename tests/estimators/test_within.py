"""Array kernels of the within estimator: exact two-way demeaning, lags by position, singletons."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from ctssw.errors import ConfigError
from ctssw.estimators.blas import one_blas_thread
from ctssw.estimators.dynamic import _within as W
from ctssw.estimators.dynamic import dynamic_panel


def _unbalanced(seed: int, units: int = 60, periods: int = 25) -> pd.DataFrame:
    """Gaps, units entering late and leaving early, a unit seen once and a period seen once."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(units):
        a, b = sorted(rng.integers(0, periods, 2))
        for t in range(a, b + 3):
            if t < periods and rng.random() > 0.2:
                rows.append((u, t))
    rows.append((units, 3))  # a unit with a single row
    rows.append((units + 1, periods + 5))  # ... alone in its period too
    u, t = np.array(rows).T
    return pd.DataFrame({"u": u * 7 + 3, "t": t, "z1": rng.normal(size=u.size) + 0.3 * t, "z2": rng.normal(size=u.size) + u % 4})


def _dummy_residuals(Z: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> np.ndarray:
    """Residuals of Z on both sets of dummies, by least squares (the definition)."""
    D = np.column_stack([pd.get_dummies(g1).to_numpy(float), pd.get_dummies(g2).to_numpy(float)])
    coef, *_ = np.linalg.lstsq(D, Z, rcond=None)
    return Z - D @ coef


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_demeaning_matches_dummies_and_the_iterative_path(seed, monkeypatch):
    d = _unbalanced(seed)
    Z = d[["z1", "z2"]].to_numpy()
    exact = W.demean_twoway(Z, d["u"].to_numpy(), d["t"].to_numpy())
    np.testing.assert_allclose(exact, _dummy_residuals(Z, d["u"], d["t"]), atol=1e-10)
    monkeypatch.setattr(W, "_DENSE_LEVELS", 0)  # both factors "large": alternating projections
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it must converge
        iterative = W.demean_twoway(Z, d["u"].to_numpy(), d["t"].to_numpy())
    np.testing.assert_allclose(exact, iterative, atol=1e-10)


def test_iterative_path_on_a_long_chain_of_short_units(monkeypatch):
    # units observed for 6 periods each at staggered starts over 600 periods: a long, thin
    # graph on which alternating projections crawl; conjugate gradients must still converge
    rng = np.random.default_rng(11)
    start = rng.integers(0, 594, 400)
    u = np.repeat(np.arange(400), 6)
    t = (start[:, None] + np.arange(6)).ravel()
    Z = np.column_stack([rng.normal(size=u.size) + 0.01 * t, rng.normal(size=u.size) + u % 3])
    exact = W.demean_twoway(Z, u, t)
    monkeypatch.setattr(W, "_DENSE_LEVELS", 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iterative = W.demean_twoway(Z, u, t)
    np.testing.assert_allclose(iterative, exact, atol=1e-10)
    np.testing.assert_allclose(exact, _dummy_residuals(Z, u, t), atol=1e-10)


def test_exact_demeaning_sparse_counts_and_disconnected_panels(monkeypatch):
    # two groups of units observed in disjoint periods: the normal equations have two null directions
    a, b = _unbalanced(3, units=30, periods=12), _unbalanced(4, units=30, periods=12)
    b = b.assign(u=b["u"] + 10_000, t=b["t"] + 100)
    d = pd.concat([a, b], ignore_index=True)
    Z = d[["z1", "z2"]].to_numpy()
    ref = _dummy_residuals(Z, d["u"], d["t"])
    dense = W.demean_twoway(Z, d["u"].to_numpy(), d["t"].to_numpy())
    monkeypatch.setattr(W, "_DENSE_CELLS", 0)
    sparse = W.demean_twoway(Z, d["u"].to_numpy(), d["t"].to_numpy())
    np.testing.assert_allclose(dense, ref, atol=1e-10)
    np.testing.assert_allclose(sparse, ref, atol=1e-10)


def test_demeaning_leaves_its_input_alone():
    d = _unbalanced(5)
    Z = np.asfortranarray(d[["z1", "z2"]].to_numpy())  # Z.T is C-ordered: must still be copied
    before = Z.copy()
    W.demean_twoway(Z, d["u"].to_numpy(), d["t"].to_numpy())
    np.testing.assert_array_equal(Z, before)


@pytest.mark.parametrize("lag", [1, 2, 3, -1, -2])
def test_lags_by_position_match_the_lookup(lag):
    d = _unbalanced(6).sort_values(["u", "t"])
    idx = W.index_panel(d["u"], d["t"])
    assert idx.ordered
    v = d[["z1", "z2"]].to_numpy()
    by_position = W.shift(v, idx, lag)
    by_lookup = W.shift(v, idx, lag, W.row_lookup(idx))
    np.testing.assert_array_equal(by_position, by_lookup)
    np.testing.assert_array_equal(W.shift(v[:, 0], idx, lag), by_lookup[:, 0])
    assert np.isfinite(by_lookup).any() and np.isnan(by_lookup).any()


def test_index_order_and_duplicates():
    d = _unbalanced(7)
    assert W.index_panel(d["u"], d["t"]).ordered
    assert not W.index_panel(d["u"][::-1], d["t"][::-1]).ordered
    dup = pd.concat([d.iloc[:5], d.iloc[4:]])  # sorted, one (unit, time) twice
    with pytest.raises(ConfigError, match="more than one row"):
        W.index_panel(dup["u"], dup["t"])


def test_singletons_drop_in_cascade():
    # unit 0 has rows in periods 0 and 5; period 5 has no other row, so unit 0 then has one row left
    unit = np.array([0, 0, 1, 1, 2, 2, 3])
    time = np.array([0, 5, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(W.drop_singletons(unit, time), [False, False, True, True, True, True, False])
    full = np.repeat(np.arange(4), 3), np.tile(np.arange(3), 4)
    assert W.drop_singletons(*full).all()


@pytest.mark.parametrize("method", ["fe", "jackknife"])
def test_row_order_does_not_matter(method):
    d = _unbalanced(8, units=80, periods=20).rename(columns={"z1": "y", "z2": "x"})
    d["w"] = np.random.default_rng(8).normal(size=len(d))
    kw = dict(y="y", x=["x", "w"], unit="u", time="t", lags=2, method=method)
    a = dynamic_panel(d.sort_values(["u", "t"]), **kw)
    b = dynamic_panel(d.sample(frac=1.0, random_state=3), **kw)
    assert a.nobs == b.nobs and a.n_dropped == b.n_dropped
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-10)


def test_one_blas_thread_limits_and_restores():
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    with one_blas_thread():
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
