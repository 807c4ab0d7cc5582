"""Summing helpers shared by the AI usage connectors.

A count that is not a whole number ≥ 0, or an amount that is negative or not finite, is never
summed away or rounded: the sum is that value as it came (as text), so the store quarantines the
row with its reason ("negative usage count", "not a whole number in ...", "wrong type in ...",
"not a finite number in ...")."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..common import count_sum, text

__all__ = ["amount_sum", "count_sum"]


def amount_sum(values: Iterable[object], per: float | None = None) -> float | str | None:
    """The sum of amounts (costs, credits: fractions allowed), divided by ``per`` when given
    (cents → dollars: ``per=100``); None when all are missing. A negative, NaN, infinite,
    overflowing or non-numeric amount is returned as text instead, so its row is quarantined."""
    acc, seen = 0.0, False
    for v in values:
        if v is None or v == "":
            continue
        if isinstance(v, bool):
            return text(v)
        try:
            x = float(v.strip()) if isinstance(v, str) else float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            return text(v) if not isinstance(v, (dict, list)) else str(v)[:60]
        if not math.isfinite(x) or x < 0:
            return repr(v) if isinstance(v, float) else text(v)
        acc += x
        seen = True
    if not seen:
        return None
    return acc / per if per is not None else acc
