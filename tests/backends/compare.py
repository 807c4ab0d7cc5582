"""Comparisons across backends: two panels row for row, and two commands' JSON output."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def assert_frames_equal(got: pd.DataFrame, want: pd.DataFrame, *, rtol: float = 1e-9, keys=("team_id", "week")) -> None:
    """Same columns and rows; floats equal to ``rtol`` (relative), everything else exactly; NULLs line up."""
    assert list(got.columns) == list(want.columns), (list(got.columns), list(want.columns))
    assert len(got) == len(want), (len(got), len(want))
    got = got.sort_values(list(keys)).reset_index(drop=True)
    want = want.sort_values(list(keys)).reset_index(drop=True)
    for c in want.columns:
        g, w = got[c], want[c]
        gn, wn = g.isna().to_numpy(), w.isna().to_numpy()
        assert (gn == wn).all(), f"{c}: NULLs differ in {int((gn != wn).sum())} rows"
        g, w = g[~gn], w[~wn]
        if pd.api.types.is_float_dtype(w) or pd.api.types.is_float_dtype(g):
            np.testing.assert_allclose(g.astype(float).to_numpy(), w.astype(float).to_numpy(), rtol=rtol, atol=0, err_msg=c)
        elif c == "week" or pd.api.types.is_datetime64_any_dtype(w):
            assert (pd.to_datetime(g).to_numpy() == pd.to_datetime(w).to_numpy()).all(), c
        else:
            bad = g.to_numpy() != w.to_numpy()
            assert not bad.any(), f"{c}: {int(bad.sum())} rows differ, e.g. {g[bad].iloc[0]!r} vs {w[bad].iloc[0]!r}"


def same_json(got, want, path="") -> None:
    """Equal structures; numbers to a relative 1e-9 (sums over rows in another order)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys {sorted(set(got) ^ set(want))}"
        for k in want:
            same_json(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: lengths {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            same_json(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, (int, float)), f"{path}: {got!r} != {want!r}"
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(got) and math.isnan(want)), \
            f"{path}: {got!r} != {want!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"
