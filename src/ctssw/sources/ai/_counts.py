"""Counting helpers shared by the AI usage connectors."""

from __future__ import annotations

from collections.abc import Iterable


def total(values: Iterable[object], per: float | None = None) -> object:
    """The sum of the numbers among ``values`` (None when there are none). A value that is not a
    number is returned as it came, so the store quarantines its row as the wrong type.
    With ``per`` the sum is divided by it (cents → dollars: ``per=100``)."""
    acc: float | int | None = None
    for v in values:
        if v is None or v == "":
            continue
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, (int, float)):
            x = v
        else:
            try:
                x = float(str(v)) if "." in str(v) or "e" in str(v).lower() else int(str(v))
            except ValueError:
                return v
        acc = x if acc is None else acc + x
    if acc is None:
        return None
    return acc / per if per is not None else (int(acc) if float(acc).is_integer() else acc)
