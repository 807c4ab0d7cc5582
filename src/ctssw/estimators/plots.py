"""Matplotlib figures from results: what ``result.plot()`` returns.

Figures are built with :class:`matplotlib.figure.Figure` (not pyplot), so a notebook shows
each exactly once and nothing accumulates in pyplot's state. Colours are the Okabe–Ito
palette, safe for the common forms of colour blindness; every axis has a title with units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from . import display as d

__all__ = ["OKABE_ITO", "compare_plot", "event_study", "forest", "value_steps", "waterfall"]

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def _notebook_display() -> None:
    """In IPython, make sure figures display: a bare Figure (no pyplot) has no formatter until one is set."""
    import sys

    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    ip = get_ipython()
    if ip is None or not hasattr(ip, "display_formatter"):
        return
    png = ip.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(ip, {"png"}, bbox_inches="tight")


def _fig(w: float, h: float) -> tuple[Figure, Any]:
    _notebook_display()
    fig = Figure(figsize=(w, h), layout="constrained")
    ax = fig.add_subplot()
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    return fig, ax


def _pct_axis(axis: Any, digits: int = 0) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: d.fmt_pct(v, digits)))


def forest(
    rows: pd.DataFrame,
    *,
    xlabel: str,
    title: str = "",
    percent: bool = False,
    truth: float | None = None,
    group: str | None = None,
) -> Figure:
    """Point estimates with intervals, one row each.

    Parameters
    ----------
    rows : DataFrame
        ``label``, ``estimate``, ``ci_low``, ``ci_high`` (and ``group`` to colour by).
    xlabel : str
        The axis title, with the unit.
    percent : bool
        Values are relative changes (0.05) shown as percentages.
    truth : float, optional
        A known true value (simulations), drawn as a dashed line.
    """
    n = len(rows)
    fig, ax = _fig(7, 0.9 + 0.38 * max(n, 1))
    y = np.arange(n)[::-1]
    groups = list(dict.fromkeys(rows[group])) if group else [None]
    for i, g in enumerate(groups):
        m = (rows[group] == g).to_numpy() if group else np.ones(n, bool)
        r = rows[m]
        ax.errorbar(r["estimate"], y[m], xerr=[r["estimate"] - r["ci_low"], r["ci_high"] - r["estimate"]],
                    fmt="o", capsize=3, color=OKABE_ITO[i % len(OKABE_ITO)], label=g)
    ax.set_yticks(y, [str(s) for s in rows["label"]])
    ax.axvline(0, color="0.4", lw=0.8)
    if truth is not None:
        ax.axvline(truth, color=OKABE_ITO[2], ls="--", lw=1.2, label="truth (simulated)")
    if group or truth is not None:
        ax.legend(frameon=False, fontsize=8, loc="best")
    if percent:
        _pct_axis(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(alpha=0.3, axis="x")
    return fig


def event_study(table: pd.DataFrame, *, title: str = "Event study", ylabel: str = "effect on the outcome", percent: bool = False) -> Figure:
    """Effects by weeks since adoption, with pointwise intervals and the uniform band.

    ``table`` has ``event_time``, ``att``, ``ci_low``, ``ci_high``, ``band_low``, ``band_high``.
    """
    fig, ax = _fig(8, 3.6)
    t = table.sort_values("event_time")
    x = t["event_time"].to_numpy()
    ax.fill_between(x, t["band_low"], t["band_high"], color=OKABE_ITO[0], alpha=0.18, lw=0, label="uniform 95% band")
    pre = x < 0
    for m, c, lab in ((pre, OKABE_ITO[1], "before adoption"), (~pre, OKABE_ITO[0], "after adoption")):
        if m.any():
            ax.errorbar(x[m], t["att"].to_numpy()[m], yerr=[(t["att"] - t["ci_low"]).to_numpy()[m], (t["ci_high"] - t["att"]).to_numpy()[m]],
                        fmt="o", ms=3, lw=0.9, capsize=0, color=c, label=f"{lab} (pointwise 95% CI)")
    ax.axhline(0, color="0.4", lw=0.8)
    ax.axvline(-0.5, color="0.4", ls=":", lw=0.8)
    if percent:
        _pct_axis(ax.yaxis)
    ax.set_xlabel("weeks since adoption")
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def waterfall(steps: Sequence[dict[str, Any]], *, ylabel: str, title: str = "", money: bool = True) -> Figure:
    """Bars that add up: each step moves the running total; ``total`` steps are drawn from zero.

    Each step is a dict: ``label``, ``value``, optional ``low`` / ``high`` (an interval
    for that step) and ``total`` (True for a bar that shows the running total).
    """
    fig, ax = _fig(7, 3.6)
    run = 0.0
    fmt = d.fmt_money if money else (lambda v: d.fmt_num(v, 1))
    for i, s in enumerate(steps):
        v = float(s["value"])
        if s.get("total"):
            bottom, height, colour = 0.0, v, OKABE_ITO[0]
            run = v
        else:
            bottom, height, colour = run, v, OKABE_ITO[2] if v >= 0 else OKABE_ITO[3]
            run += v
        ax.bar(i, height, bottom=bottom, color=colour, width=0.6)
        top = bottom + height
        if s.get("low") is not None and s.get("high") is not None:
            base = bottom if not s.get("total") else 0.0
            ax.errorbar(i, top, yerr=[[top - (base + s["low"])], [(base + s["high"]) - top]], color="0.2", capsize=4, lw=1)
        ax.annotate(fmt(v), (i, max(top, bottom)), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    ax.set_xticks(range(len(steps)), [s["label"] for s in steps])
    ax.axhline(0, color="0.4", lw=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(alpha=0.3, axis="y")
    return fig


def value_steps(v: Any) -> list[dict[str, Any]]:
    """Waterfall steps of a :class:`~ctssw.estimators.value.ValueTranslation`: gross value, licences, net."""
    g, n = v.gross_dollars, v.net_dollars
    lic = float(v.settings.license_cost)
    return [
        {"label": "capacity freed (gross)", "value": g.estimate, "low": g.ci_low, "high": g.ci_high, "total": True},
        {"label": "licences", "value": -lic},
        {"label": "net value", "value": n.estimate, "low": n.ci_low, "high": n.ci_high, "total": True},
    ]


def compare_plot(table: pd.DataFrame, *, terms: Sequence[str] | None = None, title: str = "Estimators side by side") -> Figure:
    """A forest of :func:`~ctssw.estimators.compare` rows: each method's estimate of each term.

    By default the long-run effects and the treatment coefficients are shown (the terms
    every method shares), the lagged outcome apart.
    """
    t = table.dropna(subset=["term"])
    if terms is None:
        lr = [x for x in dict.fromkeys(t["term"]) if str(x).startswith("long-run")]
        terms = lr or list(dict.fromkeys(t["term"]))
    t = t[t["term"].isin(list(terms))]
    rows = pd.DataFrame({"label": [f"{m}: {x}" for m, x in zip(t["method"], t["term"], strict=True)], "estimate": t["estimate"],
                         "ci_low": t["ci_low"], "ci_high": t["ci_high"], "group": t["method"]}).reset_index(drop=True)
    return forest(rows, xlabel="estimate (outcome units; a normalised outcome reads as a relative change)", title=title, group="group")
