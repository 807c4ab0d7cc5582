"""Checks that the dynamic model's regressors can be read causally (DESIGN §4).

Three checks, each a two-way (unit and period) fixed-effects regression with
unit-clustered CR1 errors:

* **Mediator / bad control**: each covariate regressed on the treatment. A
  covariate that moves with the tool may carry part of its effect, and
  conditioning on it would hide that part.
* **Strict exogeneity** (Wooldridge 2010, §10.7): the outcome model with next
  period's treatment added. A significant lead means the treatment anticipates
  or responds to the outcome's shocks.
* **Feedback** (Granger-style): the treatment regressed on its own lag and the
  outcome's lag. A significant outcome lag means adoption follows past delivery.

Verdicts use a 5% level and are worded for readers, not as proofs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import ConfigError, EstimationError
from ..blas import one_blas_thread
from ..results import jsonable
from ._within import (
    clustered_ols,
    cr1_factor,
    demean_twoway,
    drop_singletons,
    index_panel,
    n_levels,
    row_lookup,
    shift,
)

__all__ = ["ExogeneityChecks", "checks"]

ALPHA = 0.05


@dataclass(frozen=True)
class ExogeneityChecks:
    """Result of :func:`checks`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per check: ``check, variable, term, estimate, std_error,
        p_value, nobs, flag, verdict``.
    alpha : float
    """

    table: pd.DataFrame
    alpha: float = ALPHA

    @property
    def flagged(self) -> pd.DataFrame:
        return self.table[self.table["flag"]]

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "checks": [jsonable(r) for r in self.table.to_dict(orient="records")]}

    def summary(self) -> str:
        lines = ["Exogeneity checks", "================="]
        for _, r in self.table.iterrows():
            lines.append(f"[{'!' if r['flag'] else 'ok'}] {r['check']} ({r['variable']}): {r['verdict']}")
            lines.append(f"     {r['term']} = {r['estimate']:.4g} (SE {r['std_error']:.3g}, p = {r['p_value']:.3g}, n = {r['nobs']})")
        return "\n".join(lines)

    def _blocks(self) -> list:
        from ..presentation import exogeneity_blocks

        return exogeneity_blocks(self)

    def __str__(self) -> str:
        from ..display import render_text

        return render_text("Exogeneity checks", self._blocks())

    def _repr_html_(self) -> str:
        from ..display import render_html

        return render_html("Exogeneity checks", self._blocks())

    def plot(self):
        """Forest plot of each check's coefficient with its 95% interval; flagged checks in a second colour.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import forest

        t = self.table
        rows = pd.DataFrame({"label": [f"{c}: {v}" for c, v in zip(t["check"], t["variable"], strict=True)],
                             "estimate": t["estimate"], "ci_low": t["estimate"] - 1.96 * t["std_error"],
                             "ci_high": t["estimate"] + 1.96 * t["std_error"],
                             "group": ["flagged" if f else "passed" for f in t["flag"]]})
        return forest(rows, xlabel="coefficient (95% interval)", title="Exogeneity checks", group="group")


def _twfe(frame: pd.DataFrame, y: str, xs: list[str], unit: str, time: str, extra: dict[str, tuple[str, int]]) -> tuple[pd.Series, pd.Series, pd.Series, int]:
    """TWFE of ``y`` on ``xs`` plus shifted columns ``extra`` (name -> (column, lag)); CR1 by unit."""
    idx = index_panel(frame[unit], frame[time])
    find = row_lookup(idx)
    cols = {c: frame[c].to_numpy(dtype=float) for c in dict.fromkeys([y, *xs])}
    for name, (c, lag) in extra.items():
        cols[name] = shift(frame[c].to_numpy(dtype=float), idx, lag, find)
    names = [*xs, *extra]
    M = np.column_stack([cols[y]] + [cols[n] for n in names])
    ok = np.isfinite(M).all(axis=1)
    rows = np.flatnonzero(ok)
    rows = rows[drop_singletons(idx.unit[rows], idx.time[rows])]
    if rows.size <= len(names) + 2:
        raise EstimationError("too few complete rows for the check")
    with one_blas_thread():
        Z = demean_twoway(M[rows], idx.unit[rows], idx.time[rows])
        fit = clustered_ols(Z[:, 0], Z[:, 1:], idx.unit[rows])
    k = fit.k + n_levels(idx.time[rows])
    V = fit.vcov / fit.ssc * cr1_factor(fit.n, k, fit.G)
    se = np.sqrt(np.diag(V))
    p = 2 * stats.t.sf(np.abs(fit.params / se), fit.G - 1)
    return pd.Series(fit.params, index=names), pd.Series(se, index=names), pd.Series(p, index=names), fit.n


def checks(
    data: pd.DataFrame,
    *,
    treatment: str,
    covariates: Sequence[str],
    y: str,
    unit: str,
    time: str,
    alpha: float = ALPHA,
) -> ExogeneityChecks:
    """Run the mediator, strict-exogeneity and feedback checks.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit and period.
    treatment : str
        The tool's adoption column (e.g. ``ai_share``).
    covariates : sequence of str
        Controls of the outcome model (e.g. ``rollback_rate``).
    y : str
        Outcome column.
    unit, time : str
    alpha : float, default 0.05

    Returns
    -------
    ExogeneityChecks
    """
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not isinstance(data, pd.DataFrame):
        raise ConfigError("data must be a pandas DataFrame")
    missing = [c for c in dict.fromkeys([treatment, *covariates, y, unit, time]) if c not in data.columns]
    if missing:
        raise ConfigError(f"columns not in data: {missing}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha!r}")
    rows = []

    def add(check, variable, term, est, se, p, n, flag, verdict):
        rows.append(dict(check=check, variable=variable, term=term, estimate=float(est), std_error=float(se), p_value=float(p), nobs=int(n), flag=bool(flag), verdict=verdict))

    for c in covariates:
        b, s, p, n = _twfe(data, c, [treatment], unit, time, {})
        flag = p[treatment] < alpha
        verdict = (
            f"{c} moves with {treatment}: it may be a mediator (a bad control); report the effect with and without it"
            if flag
            else f"no sign that {c} responds to {treatment}; it can be kept as a control"
        )
        add("mediator", c, treatment, b[treatment], s[treatment], p[treatment], n, flag, verdict)

    lead = f"F1.{treatment}"
    b, s, p, n = _twfe(data, y, [treatment, *covariates], unit, time, {f"L1.{y}": (y, 1), lead: (treatment, -1)})
    flag = p[lead] < alpha
    verdict = (
        f"next period's {treatment} predicts {y}: adoption anticipates or reacts to delivery shocks, so strict exogeneity fails"
        if flag
        else f"next period's {treatment} does not predict {y}: no evidence against strict exogeneity"
    )
    add("strict exogeneity (lead)", treatment, lead, b[lead], s[lead], p[lead], n, flag, verdict)

    lag_y = f"L1.{y}"
    b, s, p, n = _twfe(data, treatment, [], unit, time, {f"L1.{treatment}": (treatment, 1), lag_y: (y, 1)})
    flag = p[lag_y] < alpha
    verdict = (
        f"past {y} predicts {treatment}: teams adopt in response to their delivery (feedback); prefer GMM with {treatment} endogenous"
        if flag
        else f"past {y} does not predict {treatment}: no evidence of feedback from delivery to adoption"
    )
    add("feedback (Granger)", treatment, lag_y, b[lag_y], s[lag_y], p[lag_y], n, flag, verdict)
    return ExogeneityChecks(pd.DataFrame(rows), alpha)
