"""The privacy floor: no output row may describe fewer than k builders."""

from __future__ import annotations

import pandas as pd

from ..errors import ConfigError

DEFAULT_K = 5
MIN_K = 3


def suppress_small_groups(df: pd.DataFrame, *, builders: str = "builders", k: int = DEFAULT_K) -> tuple[pd.DataFrame, int]:
    """Drop rows describing fewer than ``k`` builders; return the rest and how many went."""
    if k < MIN_K:
        raise ConfigError(f"the privacy floor k must be at least {MIN_K}, got {k}")
    keep = df[builders] >= k
    return df[keep].reset_index(drop=True), int((~keep).sum())
