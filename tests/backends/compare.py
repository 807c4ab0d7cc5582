"""Row-for-row comparison of two panels from different backends."""

from __future__ import annotations

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
