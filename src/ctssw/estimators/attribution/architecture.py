"""Architecture: CTS-SW per architecture in its own unit, and tool effects by architecture.

The article notes that the best unit of software depends on the architecture:
deployments for services, released changes for monoliths, commits reaching
production for trunk teams. :func:`cts_by_architecture` rolls a panel built
with each team's own unit (``ctssw panel --unit team``) up per architecture,
as a ratio of sums, and never mixes units across architectures.

:func:`effects_by_architecture` fits the joint dynamic two-way model with each
tool's share interacted with the team's architecture, so every tool gets one
long-run effect per architecture (all in one model, with their covariance),
and tests that a tool's effect is the same in every architecture: a Wald test
``(R theta)' (R V R')^-1 (R theta) / q`` against ``F(q, G - 1)``, ``R`` the
differences from the first architecture, ``q`` their number, ``G`` the team
clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import ConfigError
from ...privacy import DEFAULT_K, check_k
from ..results import Result, jsonable
from ._result import AttributionSpec
from .model import _dynamic_fit

__all__ = ["ArchitectureDrivers", "ArchitectureEffects", "cts_by_architecture", "drivers_by_architecture", "effects_by_architecture"]


def cts_by_architecture(
    panel: pd.DataFrame,
    *,
    architecture: str = "architecture",
    unit_name: str = "unit",
    cost: str = "cost",
    units: str = "units",
    builders: str = "builders",
    builder_weeks: str = "builder_weeks",
    time: str = "week",
    k: int = DEFAULT_K,
) -> pd.DataFrame:
    """CTS-SW per architecture, each in its own unit, as cost over units summed over the panel.

    Returns one row per architecture: ``unit`` (the unit of software its teams
    use), ``teams``, ``builders`` (mean per week), ``cost``, ``units``,
    ``cts_sw`` and ``cost_per_builder_week``. Architectures whose teams use more
    than one unit raise :class:`ConfigError`; architectures with fewer than
    ``k`` builders in a week on average are left out (privacy floor).
    """
    k = check_k(k)
    need = [architecture, cost, units, builders, builder_weeks, time, "team_id"]
    missing = [c for c in need if c not in panel.columns]
    if missing:
        raise ConfigError(f"columns not in the panel: {missing}")
    has_unit = unit_name in panel.columns
    rows = []
    for arch, g in panel.groupby(architecture, sort=True):
        used = sorted(g[unit_name].dropna().unique()) if has_unit else []
        if len(used) > 1:
            raise ConfigError(f"architecture {arch!r} mixes units {used}; build the panel with one unit per architecture (--unit team)")
        weekly = g.groupby(time)[builders].sum()
        u = float(g[units].sum())
        rows.append({
            "architecture": arch, "unit": used[0] if used else None, "teams": int(g["team_id"].nunique()),
            "builders": float(weekly.mean()), "cost": float(g[cost].sum()), "units": u,
            "cts_sw": float(g[cost].sum()) / u if u > 0 else np.nan,
            "cost_per_builder_week": float(g[cost].sum()) / float(g[builder_weeks].sum()) if g[builder_weeks].sum() > 0 else np.nan,
        })
    out = pd.DataFrame(rows)
    return out[out["builders"] >= k].reset_index(drop=True)


@dataclass
class ArchitectureEffects(Result):
    """Long-run effects of each tool in each architecture (``params`` indexed ``tool @ architecture``).

    Attributes
    ----------
    vcov : pandas.DataFrame
    equality : pandas.DataFrame
        Per tool: ``statistic`` (F), ``df1``, ``df2``, ``p_value`` of equal effects across architectures.
    architectures, tools : list of str
    level : float
    """

    vcov: pd.DataFrame | None = None
    equality: pd.DataFrame | None = None
    architectures: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    level: float = 0.95

    def table(self) -> pd.DataFrame:
        ci = self.conf_int(self.level)
        rows = []
        for name in self.params.index:
            tool, arch = name.split(" @ ")
            rows.append({"tool": tool, "architecture": arch, "estimate": float(self.params[name]), "std_error": float(self.std_errors[name]),
                         "ci_low": float(ci.loc[name, "lower"]), "ci_high": float(ci.loc[name, "upper"])})
        return pd.DataFrame(rows)

    def _extra_lines(self) -> list[str]:
        lines = ["Equal effect in every architecture (Wald F test):"]
        for r in self.equality.itertuples():
            lines.append(f"  {r.tool:<24}F({r.df1}, {r.df2}) = {r.statistic:.3f}, p = {r.p_value:.4f}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(effects=jsonable(self.table().to_dict(orient="records")), equality=jsonable(self.equality.to_dict(orient="records")),
                   architectures=self.architectures, tools=self.tools, level=self.level)
        return out


def effects_by_architecture(
    panel: pd.DataFrame,
    *,
    tools: Sequence[str],
    y: str,
    architecture: str = "architecture",
    unit: str = "team_id",
    time: str = "week",
    method: str = "fe",
    level: float = 0.95,
    min_teams: int = 5,
) -> ArchitectureEffects:
    """Each tool's long-run effect by architecture, in one joint dynamic model, with a test of equality.

    Parameters
    ----------
    panel : pandas.DataFrame
    tools : sequence of str
        Usage-share columns.
    y : str
        Outcome (units per builder-week over each team's mean).
    architecture : str
        Team-level column naming the architecture.
    method : {"fe", "jackknife"}
    min_teams : int, default 5
        Architectures with fewer adopting teams for a tool are left out of the model.
    """
    if method not in ("fe", "jackknife"):
        raise ConfigError(f"method must be fe or jackknife, got {method!r}")
    tl = [tools] if isinstance(tools, str) else list(tools)
    missing = [c for c in [*tl, y, architecture, unit, time] if c not in panel.columns]
    if missing:
        raise ConfigError(f"columns not in the panel: {missing}")
    archs = sorted(panel[architecture].dropna().astype(str).unique())
    d = panel.copy()
    a = d[architecture].astype(str)
    cols = []
    for t in tl:
        for g in archs:
            users = d.loc[(a == g) & (d[t].fillna(0) > 0), unit].nunique()
            if users >= min_teams:
                name = f"{t} @ {g}"
                d[name] = d[t].fillna(0) * (a == g)
                cols.append(name)
    if not cols:
        raise ConfigError(f"no architecture has {min_teams} or more teams using any of {tl}")
    spec = AttributionSpec(tuple(cols), y, unit, time, method, (), float(level), 0.5, False)
    fit, lr, V = _dynamic_fit(d, spec, tuple(cols))
    G = int(fit.df_resid + 1)
    rows = []
    for t in tl:
        names = [c for c in cols if c.split(" @ ")[0] == t]
        q = len(names) - 1
        if q < 1:
            rows.append({"tool": t, "statistic": np.nan, "df1": 0, "df2": G - 1, "p_value": np.nan})
            continue
        R = np.zeros((q, len(names)))
        R[:, 0] = -1.0
        R[np.arange(q), np.arange(1, q + 1)] = 1.0
        th = lr[names].to_numpy()
        Vs = V.loc[names, names].to_numpy()
        diff = R @ th
        W = float(diff @ np.linalg.solve(R @ Vs @ R.T, diff))
        F = W / q
        rows.append({"tool": t, "statistic": F, "df1": q, "df2": G - 1, "p_value": float(stats.f.sf(F, q, G - 1))})
    return ArchitectureEffects(
        params=lr.rename("estimate"),
        std_errors=pd.Series(np.sqrt(np.clip(np.diag(V), 0, None)), index=lr.index, name="std_error"),
        nobs=fit.nobs,
        formula=fit.formula,
        settings={"method": method, "effects": "long-run, tool share x architecture", "vcov": f"CR1 clustered by {unit}"},
        warnings=list(fit.warnings),
        df_resid=fit.df_resid,
        title="Tool effects by architecture (joint dynamic two-way model)",
        vcov=V,
        equality=pd.DataFrame(rows),
        architectures=archs,
        tools=tl,
        level=float(level),
    )


@dataclass
class ArchitectureDrivers(Result):
    """Drivers of log CTS-SW by architecture: a mixed model with architecture x driver interactions.

    ``params`` and ``std_errors`` are the fixed effects of the model (drivers as
    z-scores, so each slope is the change in log CTS-SW per +1 SD).

    Attributes
    ----------
    slopes : pandas.DataFrame
        Per driver and architecture: ``estimate`` (base slope plus that
        architecture's interaction), ``std_error``, ``ci_low``, ``ci_high``.
    equality : pandas.DataFrame
        Per driver: Wald ``statistic`` (chi-square), ``df``, ``p_value`` that
        its slope is the same in every architecture.
    fit : LMMResult
    """

    slopes: pd.DataFrame | None = None
    equality: pd.DataFrame | None = None
    fit: Any = None
    level: float = 0.95

    def _extra_lines(self) -> list[str]:
        lines = ["Slope per +1 SD by architecture (log CTS-SW):"]
        for r in self.slopes.itertuples():
            lines.append(f"  {r.driver:<28}{r.architecture:<10}{r.estimate:+.4f}  [{r.ci_low:+.4f}, {r.ci_high:+.4f}]")
        lines.append("Same slope in every architecture (Wald chi-square):")
        for r in self.equality.itertuples():
            lines.append(f"  {r.driver:<28}chi2({r.df}) = {r.statistic:.3f}, p = {r.p_value:.4f}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(slopes=jsonable(self.slopes.to_dict(orient="records")), equality=jsonable(self.equality.to_dict(orient="records")), level=self.level)
        return out


def drivers_by_architecture(
    panel: pd.DataFrame,
    *,
    drivers: Sequence[str] = ("velocity", "interventions_per_deploy", "rollback_rate", "pages_per_oncall_builder"),
    outcome: str = "cts_sw",
    architecture: str = "architecture",
    unit: str = "team_id",
    level: float = 0.95,
) -> ArchitectureDrivers:
    """Fit ``log(outcome) ~ z(drivers) * architecture + (1 | unit)`` and compare each driver's slope across architectures.

    Architecture enters as a team-level factor (its main effect) and through
    an interaction with every driver. Drivers are standardised over the rows
    fitted. The first architecture in sorted order is the reference.

    Raises
    ------
    ConfigError
        Missing columns, or fewer than two architectures.
    """
    from ..lmm import lmm

    dl = [drivers] if isinstance(drivers, str) else list(drivers)
    missing = [c for c in [*dl, outcome, architecture, unit] if c not in panel.columns]
    if missing:
        raise ConfigError(f"columns not in the panel: {missing}")
    d = panel[[unit, architecture, outcome, *dl]].dropna()
    d = d[d[outcome] > 0]
    archs = sorted(d[architecture].astype(str).unique())
    if len(archs) < 2:
        raise ConfigError(f"drivers by architecture need at least two architectures, found {archs}")
    a = d[architecture].astype(str)
    X = pd.DataFrame({unit: d[unit].to_numpy(), "log_y": np.log(d[outcome].to_numpy(dtype=float))})
    names: dict[str, str] = {}
    for j, c in enumerate(dl):
        sd = float(d[c].std())
        if not sd > 0:
            raise ConfigError(f"driver {c!r} does not vary")
        X[f"z{j}"] = ((d[c] - d[c].mean()) / sd).to_numpy()
        names[f"z{j}"] = c
    for i, g in enumerate(archs[1:], start=1):
        X[f"a{i}"] = (a == g).to_numpy(dtype=float)
        for j in range(len(dl)):
            X[f"z{j}_a{i}"] = X[f"z{j}"] * X[f"a{i}"]
    rhs = " + ".join(c for c in X.columns if c not in (unit, "log_y"))
    fit = lmm(f"log_y ~ {rhs} + (1 | {unit})", X)
    V = fit.vcov
    crit = float(stats.norm.ppf(0.5 + level / 2))
    rows, eq = [], []
    for j, c in enumerate(dl):
        base = f"z{j}"
        for i, g in enumerate(archs):
            w = pd.Series(0.0, index=fit.params.index)
            w[base] = 1.0
            if i > 0:
                w[f"z{j}_a{i}"] = 1.0
            est = float(w @ fit.params)
            se = float(np.sqrt(max(w @ V @ w, 0.0)))
            rows.append({"driver": c, "architecture": g, "estimate": est, "std_error": se, "ci_low": est - crit * se, "ci_high": est + crit * se})
        inter = [f"z{j}_a{i}" for i in range(1, len(archs))]
        b = fit.params[inter].to_numpy()
        W = float(b @ np.linalg.solve(V.loc[inter, inter].to_numpy(), b))
        eq.append({"driver": c, "statistic": W, "df": len(inter), "p_value": float(stats.chi2.sf(W, len(inter)))})
    labels = {**names, **{f"a{i}": f"architecture[{g}]" for i, g in enumerate(archs[1:], start=1)},
              **{f"z{j}_a{i}": f"{names[f'z{j}']}:architecture[{g}]" for i, g in enumerate(archs[1:], start=1) for j in range(len(dl))}}
    return ArchitectureDrivers(
        params=fit.params.rename(lambda n: labels.get(n, n)),
        std_errors=fit.std_errors.rename(lambda n: labels.get(n, n)),
        nobs=fit.nobs,
        formula=f"log({outcome}) ~ z({' + '.join(dl)}) * {architecture} + (1 | {unit})",
        settings={"reference_architecture": archs[0], "drivers": "z-scores over the rows fitted", "fit": "REML (ctssw.lmm)"},
        warnings=list(fit.warnings),
        df_resid=None,
        title="Drivers of CTS-SW by architecture (mixed model with interactions)",
        slopes=pd.DataFrame(rows),
        equality=pd.DataFrame(eq),
        fit=fit,
        level=float(level),
    )
