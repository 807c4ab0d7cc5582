"""The result contract every estimator returns (DESIGN §4).

Subclasses fill the fields; this base supplies ``conf_int``, ``pvalues``,
``tidy``, ``summary``, ``_repr_html_`` and ``to_dict`` from them, so all
estimators read the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import display as d


@dataclass(frozen=True)
class Estimate:
    """A scalar quantity with its standard error and a confidence interval."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    level: float = 0.95

    def to_dict(self) -> dict[str, float]:
        return {
            "estimate": _json_float(self.estimate),
            "std_error": _json_float(self.std_error),
            "ci_low": _json_float(self.ci_low),
            "ci_high": _json_float(self.ci_high),
            "level": self.level,
        }


@dataclass
class Result:
    """Base for estimator results.

    Attributes
    ----------
    params, std_errors : pandas.Series
        Labelled coefficient estimates and standard errors.
    nobs : int
        Observations used in the fit.
    formula : str
        The model as the user would write it.
    settings : dict
        Estimator settings (method, covariance type, small-sample convention...).
    warnings : list of str
        Warnings raised while fitting, kept for reports.
    df_resid : float or None
        Degrees of freedom for t-based inference; ``None`` means normal.
    """

    params: pd.Series
    std_errors: pd.Series
    nobs: int
    formula: str
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    df_resid: float | None = None
    title: str = "Estimation results"

    # -- inference -----------------------------------------------------------
    @property
    def tstats(self) -> pd.Series:
        return self.params / self.std_errors

    def _crit(self, level: float) -> float:
        if self.df_resid is None:
            return float(stats.norm.ppf(0.5 + level / 2))
        return float(stats.t.ppf(0.5 + level / 2, self.df_resid))

    @property
    def pvalues(self) -> pd.Series:
        t = np.abs(self.tstats.to_numpy(dtype=float))
        if self.df_resid is None:
            p = 2 * stats.norm.sf(t)
        else:
            p = 2 * stats.t.sf(t, self.df_resid)
        return pd.Series(p, index=self.params.index, name="pvalue")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        c = self._crit(level)
        return pd.DataFrame(
            {
                "lower": self.params - c * self.std_errors,
                "upper": self.params + c * self.std_errors,
            }
        )

    # -- presentation --------------------------------------------------------
    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        ci = self.conf_int(level)
        out = pd.DataFrame(
            {
                "term": self.params.index,
                "estimate": self.params.to_numpy(dtype=float),
                "std_error": self.std_errors.to_numpy(dtype=float),
                "statistic": self.tstats.to_numpy(dtype=float),
                "p_value": self.pvalues.to_numpy(dtype=float),
                "conf_low": ci["lower"].to_numpy(dtype=float),
                "conf_high": ci["upper"].to_numpy(dtype=float),
            }
        )
        return out.reset_index(drop=True)

    def _extra_lines(self) -> list[str]:
        """Estimator-specific lines printed under the coefficient table."""
        return []

    def summary(self) -> str:
        t = self.tidy()
        lines = [self.title, "=" * len(self.title), f"Model: {self.formula}", f"Observations: {self.nobs}"]
        for k, v in self.settings.items():
            lines.append(f"{k}: {v}")
        lines.append("")
        lines.append(
            t.to_string(
                index=False,
                float_format=lambda x: f"{x:.6g}",
            )
        )
        extra = self._extra_lines()
        if extra:
            lines.append("")
            lines.extend(extra)
        if self.warnings:
            lines.append("")
            lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    # -- display (compact; ``summary()`` keeps the full text) -------------------
    def _hidden_terms(self) -> list[str]:
        """Terms left out of the compact display (period effects and the like)."""
        return []

    def _blocks(self) -> list[Any]:
        """What ``print()`` and notebooks show, as :class:`~ctssw.estimators.display.Block` s."""
        hidden = set(self._hidden_terms())
        t = self.tidy()
        shown = t[~t["term"].isin(hidden)]
        info = {"Model": self.formula, "Observations": d.fmt_num(self.nobs)}
        info.update({d.readable(k): v if isinstance(v, str) else d.fmt_num(v)
                     for k, v in self.settings.items() if isinstance(v, (str, int, float, bool))})
        blocks = [d.Block(frame=d.kv_frame(info))]
        if len(shown):
            cap = "Coefficients" + (f" ({len(hidden)} period effects not shown)" if hidden else "")
            blocks.append(d.Block(cap, d.coef_frame(shown)))
        return blocks + self._tail_blocks()

    def _tail_blocks(self) -> list[Any]:
        return [d.Block("Warnings", lines=tuple(self.warnings))] if self.warnings else []

    def __str__(self) -> str:
        return d.render_text(self.title, self._blocks())

    def _repr_html_(self) -> str:
        return d.render_html(self.title, self._blocks())

    def plot(self, level: float = 0.95):
        """A forest plot of the coefficients (intercept and period effects left out).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plots import forest

        t = self.tidy(level)
        t = t[~t["term"].isin([*self._hidden_terms(), "(Intercept)", "Intercept"])]
        rows = pd.DataFrame({"label": t["term"], "estimate": t["estimate"], "ci_low": t["conf_low"], "ci_high": t["conf_high"]})
        return forest(rows, xlabel=f"coefficient ({level:.0%} interval)", title=self.title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "formula": self.formula,
            "nobs": int(self.nobs),
            "settings": jsonable(self.settings),
            "warnings": list(self.warnings),
            "coefficients": [
                {k: jsonable(v) for k, v in row.items()} for row in self.tidy().to_dict(orient="records")
            ],
        }


def _json_float(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def jsonable(x: Any) -> Any:
    """Turn numpy / pandas scalars and containers into JSON-safe values (NaN -> None)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return _json_float(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, Estimate):
        return x.to_dict()
    if isinstance(x, pd.Series):
        return {str(k): jsonable(v) for k, v in x.items()}
    return x
