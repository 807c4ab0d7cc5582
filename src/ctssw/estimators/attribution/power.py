"""Power and rollout design before a rollout: ``plan``.

Power is found by simulation on the organisation's own history, the way
Burlig, Preonas and Woerman (2020, "Panel data and experimental design")
recommend for panels with serial correlation: each replication takes a
window of ``pre_weeks + weeks`` real weeks, assigns the teams to waves with
the planned (blocked, balanced) randomisation, lets each adopting team's
usage share ramp up to its own take-up (each of its ``headcount`` builders
uses the tool in a week with probability ``u_i * (1 - exp(-weeks_since / ramp))``,
``u_i`` drawn from a Beta with mean ``uptake`` and SD ``uptake_sd``, so the
share moves in steps of one builder as real usage does), builds
the effect up through the outcome's own persistence as the article's model
has it (``e_t = beta e_t-1 + (1 - beta) * effect * share_t``, ``beta`` the
within estimate on the history), multiplies the outcome by ``1 + e_t``, and
fits the estimator that will be used (the dynamic two-way model of
:func:`attribute`, within estimator by default). The
variance, persistence, seasonality, team count and team sizes are the data's
own; nothing is assumed about their distribution.

Power is the share of replications whose interval excludes zero. The
minimum detectable effect at the target power uses the normal approximation
with the replications' mean standard error,
``MDE = (z_{1-alpha/2} + z_power) * SE``.

The schedule: teams are sorted by pre-period CTS-SW, cut into strata of
``2 * cohorts`` teams, sorted by size within each stratum, and each
consecutive block of ``cohorts`` teams is spread over the waves at random,
so every wave has teams of every CTS-SW level and size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.signal import lfilter

from ...errors import ConfigError, EstimationError
from ...privacy import DEFAULT_K, check_k
from ..dynamic import dynamic_panel
from ..results import Estimate, jsonable
from .model import attribute, normalise_team_mean

__all__ = ["PowerPlan", "balanced_waves", "plan"]


@dataclass(frozen=True)
class PowerPlan:
    """What a planned rollout can detect, and the schedule.

    Attributes
    ----------
    effect : float
        The effect the power is for (relative, at full use).
    power : Estimate
        Share of replications rejecting zero; ``std_error`` its Monte Carlo
        error, the interval Wilson's.
    mde : float
        Minimum detectable effect at ``target`` power.
    mean_se : float
        Mean standard error of the effect over the replications.
    schedule : pandas.DataFrame
        ``team, date, wave``: the rollout CSV (``rollout_cohorts`` reads it).
    balance : pandas.DataFrame
        Per wave: teams, builders, mean pre-period CTS-SW and size.
    settings : dict
    """

    effect: float
    power: Estimate
    mde: float
    mean_se: float
    target: float
    schedule: pd.DataFrame
    balance: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    estimates: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def write_schedule(self, path: str | Path) -> Path:
        """Write the rollout CSV (``team,date,wave``)."""
        path = Path(path)
        self.schedule.to_csv(path, index=False)
        return path

    def summary(self) -> str:
        s = self.settings
        p = self.power
        lines = [
            f"Rollout plan for {s['tool']}: {s['teams']} teams, {s['cohorts']} waves over {s['weeks']} weeks "
            f"(+{s['pre_weeks']} weeks before), {s['reps']} replications on the organisation's own history",
            f"  power for an effect of {self.effect:+.1%}: {p.estimate:.2f} (Monte Carlo SE {p.std_error:.3f}; "
            f"{p.level:.0%} interval {p.ci_low:.2f} to {p.ci_high:.2f})",
            f"  minimum detectable effect at {self.target:.0%} power: {self.mde:+.1%} (mean SE of the estimate {self.mean_se:.4f})",
            "  waves (balanced on pre-period CTS-SW and size):",
        ]
        for r in self.balance.itertuples():
            lines.append(f"    wave {r.wave}  from {r.date}  {r.teams:>4} teams  {r.builders:>7.1f} builders  "
                         f"CTS-SW {r.cts_sw:>10,.1f}  size {r.size:>5.1f}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "effect": self.effect, "power": self.power.to_dict(), "mde": self.mde, "mean_se": self.mean_se,
            "target_power": self.target, "schedule": self.schedule.to_dict(orient="records"),
            "balance": self.balance.to_dict(orient="records"), "settings": self.settings,
        })


def balanced_waves(score: pd.Series, size: pd.Series, cohorts: int, rng: np.random.Generator) -> pd.Series:
    """Wave (0..cohorts-1) per team, blocked on ``score`` then ``size`` and randomised within blocks."""
    teams = pd.DataFrame({"score": score, "size": size})
    teams["score"] = teams["score"].fillna(teams["score"].max() if teams["score"].notna().any() else 0.0)
    teams = teams.sort_values(["score", "size"], kind="stable")
    stratum = np.arange(len(teams)) // (2 * cohorts)
    teams = teams.assign(stratum=stratum).sort_values(["stratum", "size"], kind="stable")
    wave = np.empty(len(teams), dtype=int)
    for start in range(0, len(teams), cohorts):
        n = min(cohorts, len(teams) - start)
        wave[start:start + n] = rng.permutation(cohorts)[:n]
    return pd.Series(wave, index=teams.index, name="wave").reindex(score.index)


def plan(
    panel: pd.DataFrame,
    *,
    tool: str,
    effect: float,
    weeks: int = 26,
    cohorts: int = 4,
    pre_weeks: int | None = None,
    reps: int = 200,
    target: float = 0.8,
    level: float = 0.95,
    uptake: float = 0.85,
    uptake_sd: float = 0.1,
    ramp: float = 2.0,
    start: str | pd.Timestamp | None = None,
    y: str = "deploys_per_builder",
    cost: str = "cost",
    units: str = "units",
    builders: str = "builders",
    headcount: str = "headcount",
    unit: str = "team_id",
    time: str = "week",
    method: str = "fe",
    seed: int = 0,
    k: int = DEFAULT_K,
) -> PowerPlan:
    """Power, minimum detectable effect and a balanced staggered schedule for a rollout.

    Parameters
    ----------
    panel : pandas.DataFrame
        The organisation's team-week history before the rollout.
    tool : str
        Name of the tool, for labels.
    effect : float
        Relative effect on ``y`` at full use (0.05 = +5%).
    weeks : int, default 26
        Weeks from the first wave to the analysis.
    cohorts : int, default 4
        Number of waves, evenly spaced over the first ``weeks * (cohorts-1)/cohorts`` weeks.
    pre_weeks : int, optional
        Weeks before the first wave the analysis will use; default ``weeks``,
        or what the history allows.
    reps : int, default 200
    target : float, default 0.8
        Power for the minimum detectable effect.
    level : float, default 0.95
    uptake, uptake_sd : float
        Mean and SD across teams of the usage share adopting teams reach.
    ramp : float
        Time constant (weeks) of each team's ramp to its take-up.
    start : date-like, optional
        Monday of the first wave; default the week after the history ends.
    y : str
        Units per builder-week (normalised to each team's mean in every replication).
    method : {"fe", "jackknife"}
        The estimator the analysis will use (:func:`attribute`'s dynamic
        methods). ``"fe"`` by default: a rollout analysed soon after it starts
        has no usage in the first half of the window, where the half-panel
        jackknife cannot be fitted.
    seed : int
    k : int
        Privacy floor: each wave must hold at least ``k`` builders.

    Returns
    -------
    PowerPlan
    """
    k = check_k(k)
    need = [unit, time, y, builders, cost, units, headcount]
    missing = [c for c in need if c not in panel.columns]
    if missing:
        raise ConfigError(f"columns not in the panel: {missing}")
    for name, v, lo in (("weeks", weeks, 4), ("cohorts", cohorts, 1), ("reps", reps, 10)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ConfigError(f"{name} must be an integer of at least {lo}, got {v!r}")
    if method not in ("jackknife", "fe"):
        raise ConfigError(f"method must be jackknife or fe, got {method!r}")
    if cohorts >= weeks:
        raise ConfigError(f"cohorts ({cohorts}) must be fewer than weeks ({weeks})")
    if not (isinstance(effect, (int, float)) and -1 < effect < 10 and math.isfinite(effect)):
        raise ConfigError(f"effect must be a relative change above -1, e.g. 0.05; got {effect!r}")
    if not 0 < target < 1 or not 0 < level < 1:
        raise ConfigError("target power and level must be between 0 and 1")
    if not 0 < uptake < 1 or not ramp > 0 or not 0 <= uptake_sd < math.sqrt(uptake * (1 - uptake)):
        raise ConfigError("uptake must be in (0, 1), uptake_sd in [0, sqrt(uptake (1 - uptake))) and ramp positive")
    p = panel.assign(**{time: pd.to_datetime(panel[time])}).sort_values([unit, time])
    all_weeks = pd.Index(sorted(p[time].unique()))
    H = len(all_weeks)
    pre = weeks if pre_weeks is None else int(pre_weeks)
    if pre_weeks is None:
        pre = max(4, min(weeks, H - weeks))
    if pre < 4:
        raise ConfigError(f"pre_weeks must be at least 4, got {pre}")
    L = pre + weeks
    if H < L:
        raise ConfigError(f"the history has {H} weeks; the plan needs {L} (pre_weeks {pre} + weeks {weeks}) to simulate on")
    # the schedule, from the last pre_weeks of the history
    last = p[p[time].isin(all_weeks[-pre:])]
    g = last.groupby(unit).agg(c=(cost, "sum"), u=(units, "sum"), size=(builders, "mean"))
    g = g[g["size"] > 0]
    if len(g) < 2 * cohorts:
        raise ConfigError(f"{len(g)} active teams cannot fill {cohorts} waves (need at least {2 * cohorts})")
    g["cts_sw"] = (g["c"] / g["u"]).where(g["u"] > 0)
    rng = np.random.default_rng(seed)
    waves = balanced_waves(g["cts_sw"], g["size"], cohorts, rng)
    offsets = [int(round(c * weeks / cohorts)) for c in range(cohorts)]
    first = pd.Timestamp(start) if start is not None else all_weeks[-1] + pd.Timedelta(weeks=1)
    first = first - pd.Timedelta(days=first.day_of_week)
    dates = [(first + pd.Timedelta(weeks=o)).date().isoformat() for o in offsets]
    schedule = pd.DataFrame({"team": g.index.astype(str), "date": [dates[w] for w in waves], "wave": waves.to_numpy() + 1})
    balance = g.assign(wave=waves.to_numpy() + 1).groupby("wave").agg(teams=("size", "size"), builders=("size", "sum"),
                                                                       cts_sw=("cts_sw", "mean"), size=("size", "mean")).reset_index()
    balance.insert(1, "date", dates)
    if float(balance["builders"].min()) < k:
        raise ConfigError(f"a wave would hold fewer than {k} builders (privacy floor); use fewer cohorts")

    # the outcome's persistence on the history, for the effect's build-up
    hist = p[p[unit].isin(g.index)]
    try:
        if hist.groupby(unit)[builders].nunique().max() > 1:
            beta = float(dynamic_panel(hist, y=y, x=[builders], unit=unit, time=time, method="fe").params.iloc[0])
        else:  # team sizes constant (a roster without changes): nothing to hold fixed beside the lag
            beta = _ar1_within(hist, y, unit, time)
    except EstimationError as exc:
        raise EstimationError(f"cannot estimate the outcome's persistence on the history: {exc}") from exc
    beta = min(max(beta, 0.0), 0.95)
    # replications on the history
    teams = g.index
    if uptake_sd > 0:
        conc = uptake * (1 - uptake) / uptake_sd**2 - 1
        a_b = (uptake * conc, (1 - uptake) * conc)
    est, se = np.empty(reps), np.empty(reps)
    starts = np.arange(H - L + 1)
    crit_level = level
    for r in range(reps):
        s0 = starts[r % starts.size] if starts.size <= reps else rng.choice(starts)
        win = all_weeks[s0:s0 + L]
        d = p[p[time].isin(win) & p[unit].isin(teams)].copy()
        wv = balanced_waves(g["cts_sw"], g["size"], cohorts, rng)
        t_idx = pd.Series(np.arange(L), index=win)[d[time]].to_numpy()
        onset = pre + np.array(offsets)[wv.reindex(d[unit]).to_numpy()]
        since = t_idx - onset
        take = pd.Series(rng.beta(*a_b, size=len(teams)) if uptake_sd > 0 else np.full(len(teams), uptake), index=teams)
        prob = np.where(since >= 0, take.reindex(d[unit]).to_numpy() * (1 - np.exp(-(since + 1) / ramp)), 0.0)
        heads = np.maximum(d[headcount].fillna(1).to_numpy(dtype=float).round().astype(np.int64), 1)
        share = rng.binomial(heads, prob) / heads
        d["_share"] = share
        # build-up through the persistence, team by team along the (sorted) weeks
        drive = pd.DataFrame({"u": d[unit].to_numpy(), "t": t_idx, "x": (1 - beta) * effect * share}).pivot(index="u", columns="t", values="x").fillna(0.0)
        build = lfilter([1.0], [1.0, -beta], drive.to_numpy(), axis=1)
        e = pd.DataFrame(build, index=drive.index, columns=drive.columns).stack()
        d["_y"] = d[y].to_numpy() * (1 + e.reindex(pd.MultiIndex.from_arrays([d[unit], t_idx])).to_numpy())
        d["_y"] = normalise_team_mean(d, "_y", unit=unit)
        try:
            fit = attribute(d, tools=["_share"], y="_y", unit=unit, time=time, method=method, level=crit_level, naive=False)
        except EstimationError as exc:
            raise EstimationError(f"the estimator failed on replication {r + 1}: {exc}") from exc
        est[r] = float(fit.params["_share"])
        se[r] = float(fit.std_errors["_share"])
        ci = fit.conf_int(crit_level).loc["_share"]
        if r == 0:
            rejects = np.zeros(reps, dtype=bool)
        rejects[r] = ci["lower"] > 0 or ci["upper"] < 0
    pw = float(rejects.mean())
    z = stats.norm.ppf(0.5 + level / 2)
    mc_se = math.sqrt(max(pw * (1 - pw), 1e-12) / reps)
    denom = 1 + z**2 / reps
    centre = (pw + z**2 / (2 * reps)) / denom
    half = z * math.sqrt(pw * (1 - pw) / reps + z**2 / (4 * reps**2)) / denom
    mean_se = float(np.mean(se))
    mde = float((stats.norm.ppf(1 - (1 - level) / 2) + stats.norm.ppf(target)) * mean_se)
    return PowerPlan(
        effect=float(effect),
        power=Estimate(pw, mc_se, max(0.0, centre - half), min(1.0, centre + half), level),
        mde=mde,
        mean_se=mean_se,
        target=float(target),
        schedule=schedule,
        balance=balance,
        settings={"tool": tool, "teams": int(len(g)), "cohorts": int(cohorts), "weeks": int(weeks), "pre_weeks": int(pre),
                  "reps": int(reps), "uptake": uptake, "uptake_sd": uptake_sd, "ramp_weeks": ramp, "persistence": beta, "estimator": f"joint dynamic two-way model (attribute, method {method})",
                  "outcome": f"{y} over each team's mean", "history_weeks": int(H), "seed": int(seed),
                  "mean_estimate": float(np.mean(est)), "sd_estimate": float(np.std(est, ddof=1))},
        estimates=est,
    )


def _ar1_within(panel: pd.DataFrame, y: str, unit: str, time: str, *, tol: float = 1e-10) -> float:
    """``beta`` of ``y_it = a_i + lambda_t + beta y_i,t-1 + e_it`` by the within estimator (two-way
    demeaning by alternating projections), for a history with no covariate that varies."""
    d = panel[[unit, time, y]].sort_values([unit, time])
    d = d.assign(_lag=d.groupby(unit)[y].shift(1)).dropna(subset=[y, "_lag"])
    if d[unit].nunique() < 2 or d[time].nunique() < 3:
        raise EstimationError("too few teams or weeks to estimate the outcome's persistence")
    cols = {}
    for c in (y, "_lag"):
        v = d[c].to_numpy(dtype=float) - d[c].mean()
        for _ in range(1000):
            before = v
            v = v - pd.Series(v).groupby(d[unit].to_numpy()).transform("mean").to_numpy()
            v = v - pd.Series(v).groupby(d[time].to_numpy()).transform("mean").to_numpy()
            if np.max(np.abs(v - before)) < tol:
                break
        cols[c] = v
    den = float(cols["_lag"] @ cols["_lag"])
    if den <= 0:
        raise EstimationError("the outcome does not vary within teams")
    return float(cols["_lag"] @ cols[y]) / den
