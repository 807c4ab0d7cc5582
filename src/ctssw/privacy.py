"""The privacy floor: no output row may describe fewer than k builders.

Shared by every stage that writes something people read (panel exports, metrics,
drivers, reports), so it sits beside ``errors`` at the bottom of the package.
"""

from __future__ import annotations

import pandas as pd

from .errors import ConfigError

DEFAULT_K = 5
MIN_K = 3

__all__ = ["DEFAULT_K", "MIN_K", "check_k", "suppress_small_groups"]


def check_k(k: int) -> int:
    """``k`` as an int, or a ConfigError when it is below :data:`MIN_K`."""
    if int(k) < MIN_K:
        raise ConfigError(f"the privacy floor k must be at least {MIN_K}, got {k}")
    return int(k)


def suppress_small_groups(df: pd.DataFrame, *, builders: str = "builders", k: int = DEFAULT_K) -> tuple[pd.DataFrame, int]:
    """Drop rows describing fewer than ``k`` builders; return the rest and how many went.

    ``df`` may be a pyarrow Table, filtered as one (rows whose count is NULL go, as NaN does).
    """
    k = check_k(k)
    if not isinstance(df, pd.DataFrame):
        import pyarrow.compute as pc

        kept = df.filter(pc.greater_equal(df[builders], k))
        return kept, df.num_rows - kept.num_rows
    keep = df[builders] >= k
    return df[keep].reset_index(drop=True), int((~keep).sum())
