"""Charts as inline SVG, so a report opens with no network."""

from __future__ import annotations

import io

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

# Figures are built without pyplot, so importing this module never changes the user's backend or rcParams.
_STYLE = {"svg.fonttype": "none", "font.size": 10, "axes.spines.top": False, "axes.spines.right": False}


def _subplots(figsize: tuple[float, float]):
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=figsize)
        return fig, fig.add_subplot()


def _svg(fig) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    s = buf.getvalue()
    return s[s.index("<svg") :]


def line_chart(df: pd.DataFrame, x: str, ys: dict[str, str], *, title: str, ylabel: str, band: tuple[str, str] | None = None) -> str:
    fig, ax = _subplots((8, 3.2))
    for col, label in ys.items():
        ax.plot(df[x], df[col], label=label, lw=1.6)
    if band:
        ax.fill_between(df[x], df[band[0]], df[band[1]], alpha=0.2, lw=0)
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(ys) > 1:
        ax.legend(frameon=False)
    fig.autofmt_xdate()
    return _svg(fig)


def forest(rows: pd.DataFrame, *, title: str, xlabel: str, truth: float | None = None) -> str:
    """Point estimates with intervals; ``rows`` has label, estimate, ci_low, ci_high."""
    fig, ax = _subplots((8, 0.5 + 0.45 * len(rows)))
    y = range(len(rows))[::-1]
    ax.errorbar(
        rows["estimate"], list(y),
        xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
        fmt="o", capsize=3,
    )
    ax.set_yticks(list(y), rows["label"])
    ax.axvline(0, color="grey", lw=0.8)
    if truth is not None:
        ax.axvline(truth, color="tab:green", ls="--", lw=1, label="truth (simulated)")
        ax.legend(frameon=False, loc="lower right")
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="x")
    return _svg(fig)


def event_study(es: pd.DataFrame, *, title: str) -> str:
    """``es`` has event_time, att, band_low, band_high (uniform band)."""
    fig, ax = _subplots((8, 3.2))
    ax.fill_between(es["event_time"], es["band_low"], es["band_high"], alpha=0.2, lw=0, label="uniform 95% band")
    ax.plot(es["event_time"], es["att"], "o-", ms=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("weeks since adoption")
    ax.set_title(title, loc="left")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return _svg(fig)
