"""The privacy floor drops the same rows from a pandas frame and from an Arrow table; no identity
key file is ever part of the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ctssw.errors import ConfigError
from ctssw.privacy import suppress_small_groups
from ctssw.store._keys import HEADER


def test_arrow_and_pandas_drop_the_same_rows():
    df = pd.DataFrame({"team_id": list("abcdef"), "headcount": [5, 4, np.nan, 12, 0, 5]})
    kept, n = suppress_small_groups(df, builders="headcount", k=5)
    t = pa.table({"team_id": list("abcdef"), "headcount": pa.array([5, 4, None, 12, 0, 5], pa.int64())})
    akept, an = suppress_small_groups(t, builders="headcount", k=5)
    assert n == an == 3
    assert kept["team_id"].tolist() == akept["team_id"].to_pylist() == ["a", "d", "f"]
    assert isinstance(akept, pa.Table)


def test_a_floor_below_the_minimum_is_refused_for_arrow_too():
    with pytest.raises(ConfigError, match="at least"):
        suppress_small_groups(pa.table({"headcount": [9]}), builders="headcount", k=2)


def test_no_identity_key_is_part_of_the_repository():
    """A key file pseudonymises everyone; one written into a checkout must never be committed."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout.split(b"\0")
    keys = []
    for name in filter(None, tracked):
        p = root / name.decode()
        if p.is_file() and p.stat().st_size < 4096:
            with open(p, "rb") as f:
                if f.read(len(HEADER)) == HEADER.encode():
                    keys.append(name.decode())
    assert keys == []
