"""How results read: numbers formatted for people, compact text and HTML summaries.

Every result class describes what it shows as a list of :class:`Block` (a caption
with a small table, or lines of text); :func:`render_text` and :func:`render_html`
turn the blocks into what ``print()`` and a notebook show. The same number
formatters serve the HTML report, so a figure reads the same everywhere:

>>> fmt_pct(0.0654)
'+6.5%'
>>> fmt_money(-1234567.8)
'−$1,234,568'
>>> fmt_num(-0.0001, 2)
'0.00'
>>> fmt_num(17350.2)
'17,350'
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Block",
    "coef_frame",
    "fmt_ci",
    "fmt_money",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "format_frame",
    "frame_html",
    "kv_frame",
    "render_html",
    "render_text",
    "readable",
    "verdict",
]

MINUS = "−"


def _missing(x: Any) -> bool:
    try:
        return x is None or (isinstance(x, (float, np.floating)) and math.isnan(x)) or pd.isna(x)
    except (TypeError, ValueError):
        return False


def _clean(s: str) -> str:
    """No ``-0``: a number that rounds to zero is printed unsigned; a real minus sign otherwise."""
    body = s.lstrip("+-")
    if body.strip("0.,%$ ") == "":
        return body
    return s.replace("-", MINUS, 1) if s.startswith("-") else s


def fmt_num(x: Any, digits: int | None = None) -> str:
    """A number with thousands separators and no scientific notation.

    ``digits`` fixes the decimals; by default large numbers get none, numbers
    between 1 and 1,000 get up to three significant digits and smaller ones three.
    """
    if _missing(x):
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else f"{MINUS}∞"
    if digits is None:
        a = abs(x)
        digits = 0 if a >= 1000 or (a == int(a) and a < 1e15) else 1 if a >= 100 else 2 if a >= 1 else 3
    return _clean(f"{x:,.{digits}f}")


def fmt_pct(x: Any, digits: int = 1, *, signed: bool = True) -> str:
    """A share or relative change (0.065) as a percentage ('+6.5%')."""
    if _missing(x):
        return "—"
    return _clean(f"{float(x) * 100:{'+' if signed else ''},.{digits}f}%")


def fmt_money(x: Any, digits: int = 0) -> str:
    """Dollars with separators: '$1,234', '−$56'."""
    if _missing(x):
        return "—"
    x = float(x)
    s = f"${abs(x):,.{digits}f}"
    return s if round(x, digits) >= 0 or s.strip("$0.,") == "" else MINUS + s


def fmt_p(p: Any) -> str:
    """A p-value: three decimals, '<0.001' below that."""
    if _missing(p):
        return "—"
    p = float(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(lo: Any, hi: Any, fmt=fmt_num) -> str:
    """An interval as '[lo, hi]' with the given formatter."""
    return f"[{fmt(lo)}, {fmt(hi)}]"


def verdict(lo: float, hi: float) -> str:
    """'cannot distinguish from zero' when the interval covers zero, else its direction."""
    if _missing(lo) or _missing(hi):
        return "not estimated"
    if lo <= 0 <= hi:
        return "cannot distinguish from zero"
    return "above zero" if lo > 0 else "below zero"


_WORDS = {
    "se": "SE", "std_error": "std. error", "ci_low": "CI low", "ci_high": "CI high", "p_value": "p-value",
    "pvalue": "p-value", "att": "ATT", "nobs": "observations", "cts_sw": "CTS-SW", "id": "ID", "h": "(hours)",
    "pct": "%", "dora": "DORA", "ai": "AI", "band_low": "band low", "band_high": "band high",
}


def readable(name: str) -> str:
    """A column name for people: 'lead_time_median_h' → 'Lead time median (hours)'."""
    if name in _WORDS:
        return _WORDS[name][0].upper() + _WORDS[name][1:]
    parts = [_WORDS.get(p, p) for p in str(name).split("_")]
    s = " ".join(parts)
    return s[:1].upper() + s[1:]


@dataclass(frozen=True)
class Block:
    """One part of a summary: a caption with a table, or lines of text.

    ``frame`` holds values already formatted as strings (see :func:`format_frame`).
    """

    caption: str = ""
    frame: pd.DataFrame | None = None
    lines: tuple[str, ...] = field(default_factory=tuple)


def format_frame(df: pd.DataFrame, formats: dict[str, Any] | None = None, *, rename: bool = True) -> pd.DataFrame:
    """Format every cell for people; ``formats`` maps a column to a formatter (default :func:`fmt_num`)."""
    formats = formats or {}
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        f = formats.get(c)
        col = df[c]
        if f is None:
            f = fmt_num if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) else (
                lambda v: "—" if _missing(v) else str(v))
        out[readable(c) if rename else c] = [f(v) for v in col]
    return out


def render_text(title: str, blocks: list[Block], *, width: int = 80) -> str:
    """Blocks as plain text that fits ``width`` columns where the content allows."""
    lines = [title, "═" * min(len(title), width)]
    for b in blocks:
        if b.caption:
            lines += ["", b.caption]
        if b.frame is not None and len(b.frame):
            lines.append(_text_table(b.frame, width))
        for x in b.lines:
            lines += _wrap(x, width)
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    indent = " " * (len(text) - len(text.lstrip()) + 2)
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False) or [""]


def _numeric(cell: str) -> bool:
    return bool(cell) and (cell[0].isdigit() or cell[0] in "+−-$[(<—∞")


def _text_table(df: pd.DataFrame, width: int = 80) -> str:
    cols = [str(c) for c in df.columns]
    idx = df.index.name is not None or not isinstance(df.index, pd.RangeIndex)
    rows = [[str(i) if idx else "", *map(str, r)] for i, r in zip(df.index, df.itertuples(index=False), strict=True)]
    head = ["" if not idx else str(df.index.name or ""), *cols]
    if not idx:
        head, rows = head[1:], [r[1:] for r in rows]
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    if sum(w) + 2 * (len(w) - 1) > width and len(head) >= 2:
        # too wide for the terminal: one block per row, "column: value" lines
        out = []
        for r in rows:
            if len(head) == 2 and head[0] in ("Item", ""):
                out += _wrap(f"{r[0]}: {r[1]}", width)
                continue
            out.append(r[0])
            for h, c in zip(head[1:], r[1:], strict=True):
                out += _wrap(f"  {h}: {c}", width)
        return "\n".join(out)
    right = [i > 0 and all(_numeric(r[i]) or not r[i] for r in rows) for i in range(len(head))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w[i]) if right[i] else c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()

    return "\n".join([fmt(head), "  ".join("─" * x for x in w), *(fmt(r) for r in rows)])


_CSS = (
    "<style>.ctssw-result{font-family:system-ui,sans-serif;font-size:13px}"
    ".ctssw-result table{border-collapse:collapse;margin:.3em 0 .8em}"
    ".ctssw-result th,.ctssw-result td{padding:2px 8px;border-bottom:1px solid #ddd}"
    ".ctssw-result td{text-align:right;font-variant-numeric:tabular-nums}"
    ".ctssw-result td:first-child,.ctssw-result th:first-child{text-align:left}"
    ".ctssw-result caption{text-align:left;font-weight:600;padding:2px 0}</style>"
)


def frame_html(df: pd.DataFrame, caption: str = "", *, index: bool | None = None) -> str:
    """A formatted frame as an HTML ``<table>`` (cells escaped)."""
    idx = index if index is not None else (df.index.name is not None or not isinstance(df.index, pd.RangeIndex))
    head = ([html.escape(str(df.index.name or ""))] if idx else []) + [html.escape(str(c)) for c in df.columns]
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>")
    for i, r in zip(df.index, df.itertuples(index=False), strict=True):
        cells = ([f"<th>{html.escape(str(i))}</th>"] if idx else []) + [f"<td>{html.escape(str(v))}</td>" for v in r]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(title: str, blocks: list[Block]) -> str:
    """Blocks as HTML tables for notebooks."""
    parts = [_CSS, '<div class="ctssw-result">', f"<strong>{html.escape(title)}</strong>"]
    for b in blocks:
        if b.frame is not None and len(b.frame):
            parts.append(frame_html(b.frame, b.caption))
        elif b.caption:
            parts.append(f"<div><em>{html.escape(b.caption)}</em></div>")
        if b.lines:
            parts.append("".join(f"<div>{html.escape(x)}</div>" for x in b.lines))
    parts.append("</div>")
    return "".join(parts)


def kv_frame(items: dict[str, Any]) -> pd.DataFrame:
    """A two-column (item, value) frame of already formatted values."""
    return pd.DataFrame({"Item": list(items), "Value": [str(v) for v in items.values()]})


def coef_frame(tidy: pd.DataFrame, level: float = 0.95, *, percent: bool = False) -> pd.DataFrame:
    """A coefficient table (from ``tidy()``) formatted for people, one row per term."""
    f = (lambda v: fmt_pct(v, 2)) if percent else (lambda v: fmt_num(v, 4))
    pct = f"{level:.0%}"
    return pd.DataFrame(
        {
            "Estimate": [f(v) for v in tidy["estimate"]],
            "Std. error": [f(v).lstrip("+") for v in tidy["std_error"]],
            f"{pct} CI": [fmt_ci(a, b, f) for a, b in zip(tidy["conf_low"], tidy["conf_high"], strict=True)],
            "p-value": [fmt_p(p) for p in tidy["p_value"]],
        },
        index=pd.Index([str(t) for t in tidy["term"]], name="Term"),
    )
