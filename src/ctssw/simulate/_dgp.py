"""The data-generating process behind the simulator, at team-week level.

Everything here is vectorised over a block of teams; the only recursion (the
AR(1) processes) runs through ``scipy.signal.lfilter`` along the week axis.
Event expansion (``_events.py``) turns these counts into canonical rows, so a
panel rebuilt from the store must reproduce the counts exactly.

Model (team i, week t; DESIGN §5):

    w_it = beta * w_i,t-1 + (1 - beta) * (eta_v zv - eta_i zi - eta_r zr + eta_p zp
                                          - eta_o onboard/0.1 + tau_i t/52)
           + gamma * ai_share_it + lambda_t + e_it
    production deployments ~ Poisson(fte * dbase_i * exp(w_it)), of which
    rollbacks ~ Binomial(deployments, p(zr_it)) ship nothing new

so the long-run effect of full adoption on deployments per builder-week is
exp(gamma / (1 - beta)) - 1 (``effect``, +8% by default).

Several tools (``extra_tools``, off by default): each extra tool k adds
``gamma_k * share_k`` to the same equation, with its own staggered waves
(``tool_cohorts``), its rollout order correlated with the assistant's
(``tool_correlation``), and an organisation-wide trend ``org_trend`` (per
year, on the long-run log deployment rate) common to every team. Extra tools
draw from their own random stream, so the default organisation is unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter
from scipy.stats import norm

BLOCK_TEAMS = 100  # teams simulated per random stream; fixed so a seed means one organisation
ARCHITECTURES = ("service", "monolith", "trunk")
LOADED_ANNUAL_COST = 200_000.0
WEEKS_PER_YEAR = 52
LICENSE_PER_SEAT_MONTH = 19.0
TOOL = "assistant"


@dataclass(frozen=True)
class SimConfig:
    """Settings of one simulated organisation (see ``ctssw simulate --help``)."""

    teams: int = 200
    weeks: int = 104
    seed: int = 0
    start: dt.date = dt.date(2024, 1, 1)
    effect: float = 0.08  # long-run effect of full adoption on deployments per builder-week
    velocity_effect: float = 0.10  # effect of full adoption on merged changes per builder-week
    beta: float = 0.45  # persistence of log deployment rate
    never_treated: float = 0.2
    cohorts: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)  # rollout weeks as shares of the horizon
    confounded: bool = False  # early cohorts are the teams already on the rise
    extra_tools: tuple[tuple[str, float], ...] = ()  # (name, long-run effect) of tools beside the assistant
    tool_cohorts: tuple[tuple[float, ...], ...] = ()  # waves of each extra tool; default: the assistant's, later
    tool_correlation: float = 0.6  # correlation of each extra tool's rollout order with the assistant's
    org_trend: float = 0.0  # organisation-wide trend per year on the log deployment rate
    drivers: dict[str, float] = field(
        default_factory=lambda: {
            "velocity": 0.30,
            "rollback_rate": 0.20,
            "interventions_per_deploy": 0.15,
            "pages_per_oncall_builder": 0.04,
            "new_member_share": 0.02,
        }
    )

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            object.__setattr__(self, "start", self.start - dt.timedelta(days=self.start.weekday()))
        if self.extra_tools and not self.tool_cohorts:
            waves = tuple(tuple(min(c + 0.08 * (k + 1), 0.9) for c in self.cohorts) for k in range(len(self.extra_tools)))
            object.__setattr__(self, "tool_cohorts", waves)

    @property
    def tool_gammas(self) -> dict[str, float]:
        """Short-run coefficient of each extra tool's share on the latent index."""
        return {name: float(np.log1p(e) * (1 - self.beta)) for name, e in self.extra_tools}

    @property
    def gamma(self) -> float:
        return float(np.log1p(self.effect) * (1 - self.beta))

    @property
    def cohort_weeks(self) -> tuple[int, ...]:
        return tuple(int(round(c * self.weeks)) for c in self.cohorts)

    def truth(self) -> dict:
        week_cost = LOADED_ANNUAL_COST / WEEKS_PER_YEAR
        return {
            "tool": TOOL,
            "outcome": "deploys_per_builder",
            "effect": self.effect,
            "effect_definition": "long-run relative change in production deployments per builder-week at full adoption (ai_share = 1)",
            "gamma_log": self.gamma,
            "beta": self.beta,
            "velocity_effect": self.velocity_effect,
            "cohort_weeks": [(self.start + dt.timedelta(weeks=w)).isoformat() for w in self.cohort_weeks],
            "never_treated_share": self.never_treated,
            "confounded": self.confounded,
            "drivers": {
                "elasticity_per_sd": {
                    "velocity": -self.drivers["velocity"],
                    "interventions_per_deploy": self.drivers["interventions_per_deploy"],
                    "rollback_rate": self.drivers["rollback_rate"],
                    "pages_per_oncall_builder": -self.drivers["pages_per_oncall_builder"],
                    "new_member_share": self.drivers["new_member_share"],
                    "builders": 0.0,
                },
                # drivers with a true effect, largest first; a driver without one has no rank
                "order": sorted(self.drivers, key=lambda k: -self.drivers[k]),
                "null": ["builders"],
                "note": (
                    "effects of a one-SD change in each latent driver on log CTS-SW; observed metrics are noisy "
                    "proxies, and rollbacks also act mechanically: a rolled-back deployment ships nothing new"
                ),
            },
            "cost": {"loaded_annual_cost": LOADED_ANNUAL_COST, "weeks_per_year": WEEKS_PER_YEAR, "builder_week_cost": week_cost},
            "license_per_seat_month": LICENSE_PER_SEAT_MONTH,
            **(self._tools_truth() if self.extra_tools else {}),
            "config": {
                "teams": self.teams,
                "weeks": self.weeks,
                "seed": self.seed,
                "start": self.start.isoformat(),
            },
        }

    def _tools_truth(self) -> dict:
        def dates(cohorts: tuple[float, ...]) -> list[str]:
            return [(self.start + dt.timedelta(weeks=int(round(c * self.weeks)))).isoformat() for c in cohorts]

        names = [TOOL, *(n for n, _ in self.extra_tools)]
        return {
            "tools": {TOOL: self.effect, **dict(self.extra_tools)},
            "tools_effect_definition": "long-run relative change in production deployments per builder-week at full use of that tool alone; effects add on the log scale",
            "tool_share_columns": {n: f"share_{n}" for n in names},
            "tool_gamma_log": {TOOL: self.gamma, **self.tool_gammas},
            "tool_cohort_weeks": {TOOL: dates(self.cohorts), **{n: dates(c) for (n, _), c in zip(self.extra_tools, self.tool_cohorts, strict=True)}},
            "tool_license_per_seat_month": {n: LICENSE_PER_SEAT_MONTH for n in names},
            "tool_correlation": self.tool_correlation,
            "org_trend": self.org_trend,
        }


@dataclass(frozen=True)
class Block:
    """One block of teams. Team arrays have shape (n,), team-week arrays (n, W),
    slot arrays (s,) and slot-week arrays (s, W)."""

    team_index: np.ndarray  # global team numbers
    architecture: np.ndarray  # index into ARCHITECTURES
    n_services: np.ndarray
    cohort_week: np.ndarray  # -1 for never treated
    # slots: a seat in a team, occupied by a succession of builders
    slot_team: np.ndarray  # local team index per slot
    slot_fte: np.ndarray  # (s, W)
    slot_oncall: np.ndarray  # (s,)
    builder_no: np.ndarray  # (s, W) global builder number occupying the slot
    spell_start: np.ndarray  # (s, W) week the current occupant joined
    active_ai: np.ndarray  # (s, W) bool: used the tool that week
    seat: np.ndarray  # (s, W) bool: holds a licence that week
    # team-week counts
    fte: np.ndarray
    headcount: np.ndarray
    oncall: np.ndarray
    new_members: np.ndarray
    ai_active: np.ndarray
    seats: np.ndarray
    deployments: np.ndarray
    rollbacks: np.ndarray
    failed: np.ndarray
    staging: np.ndarray
    interventions: np.ndarray
    changes: np.ndarray
    open_changes: np.ndarray
    incidents: np.ndarray
    pages: np.ndarray
    w: np.ndarray  # latent log deployment index
    # extra tools, by name: "active" (n, W) builders using it, "seats" (n, W), "cohort_week" (n,),
    # "slot_active" (s, W) bool; empty unless SimConfig.extra_tools
    tools: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def _ar1(rng: np.random.Generator, shape: tuple[int, int], rho: float) -> np.ndarray:
    """Stationary AR(1) with unit variance along axis 1."""
    e = rng.standard_normal(shape)
    e[:, 0] /= np.sqrt(1 - rho**2)
    return lfilter([np.sqrt(1 - rho**2)], [1, -rho], e, axis=1)


def _latent(rng: np.random.Generator, n: int, W: int) -> np.ndarray:
    """A standardised driver: half stable team level, half persistent weekly variation."""
    return np.sqrt(0.5) * rng.standard_normal((n, 1)) + np.sqrt(0.5) * _ar1(rng, (n, W), 0.8)


def holiday_effect(cfg: SimConfig) -> np.ndarray:
    """lambda_t: dips in the last and first week of the year and in mid-August."""
    weeks = [cfg.start + dt.timedelta(weeks=t) for t in range(cfg.weeks)]
    lam = np.zeros(cfg.weeks)
    for t, d in enumerate(weeks):
        iso = d.isocalendar().week
        if iso >= 52 or iso == 1:
            lam[t] = -0.5
        elif iso == 33:
            lam[t] = -0.15
    return lam


def simulate_block(cfg: SimConfig, block: int, builder_offset: int) -> Block:
    """Simulate teams ``block*BLOCK_TEAMS ..`` of the organisation."""
    rng = np.random.default_rng([cfg.seed, block])
    first = block * BLOCK_TEAMS
    n = min(BLOCK_TEAMS, cfg.teams - first)
    W = cfg.weeks
    t = np.arange(W)

    arch = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    size = 3 + rng.poisson(4.5, size=n)
    n_services = np.where(arch == 0, 1 + rng.poisson(1.0, size=n), 1)
    trend = rng.normal(0.0, 0.05, size=n)  # per year, on the log deployment rate

    # rollout cohorts; with confounding, the teams on the steepest trend go first
    cw = np.array(cfg.cohort_weeks)
    treated = rng.random(n) >= cfg.never_treated
    if cfg.confounded:
        rank = np.argsort(np.argsort(-trend + rng.normal(0, 0.02, n))) / max(n - 1, 1)
        cohort = cw[np.minimum((rank * len(cw)).astype(int), len(cw) - 1)]
        treated = rank < 1 - cfg.never_treated
    else:
        cohort = rng.choice(cw, size=n)
    cohort = np.where(treated, cohort, -1)

    # slots and churn
    slot_team = np.repeat(np.arange(n), size)
    s = slot_team.size
    leave = rng.random((s, W)) < 0.005
    leave[:, 0] = False
    spell = np.cumsum(leave, axis=1)  # occupant number within the slot
    n_spells = spell[:, -1] + 1
    spell_offset = np.concatenate([[0], np.cumsum(n_spells)[:-1]])
    builder_no = builder_offset + spell_offset[:, None] + spell
    # week each occupant joined: first week of its spell (0 for the founders)
    join = np.where(leave, t[None, :], 0)
    spell_start = np.maximum.accumulate(join, axis=1)
    slot_fte_spell = np.where(rng.random(int(n_spells.sum())) < 0.1, 0.5, 1.0)
    slot_fte = slot_fte_spell[builder_no - builder_offset]
    slot_oncall = rng.random(s) < np.clip(3.0 / size[slot_team], 0.2, 0.6)

    # adoption per occupant: adopters start after rollout (or after joining), with a delay
    n_b = int(n_spells.sum())
    team_take_up = rng.beta(9, 1.5, size=n)
    occupant_team = np.repeat(slot_team, n_spells)
    adopter = rng.random(n_b) < team_take_up[occupant_team]
    delay = rng.geometric(1 / 3.0, size=n_b) - 1
    bidx = builder_no - builder_offset
    slot_cohort = cohort[slot_team][:, None]
    adopt_week = np.maximum(slot_cohort, spell_start) + delay[bidx]
    seat = (slot_cohort >= 0) & adopter[bidx] & (t[None, :] >= adopt_week)
    active_ai = seat & (rng.random((s, W)) < 0.95)

    def per_team(x: np.ndarray) -> np.ndarray:
        out = np.zeros((n, W), dtype=float)
        np.add.at(out, slot_team, x)
        return out

    fte = per_team(slot_fte)
    headcount = per_team(np.ones((s, W))).astype(np.int64)
    oncall = per_team(np.broadcast_to(slot_oncall[:, None], (s, W)).astype(float)).astype(np.int64)
    new_members = per_team(((t[None, :] - spell_start) < 8) & (spell_start > 0)).astype(np.int64)
    ai_active = per_team(active_ai).astype(np.int64)
    seats = per_team(seat).astype(np.int64)
    ai_share = ai_active / headcount
    onboard = new_members / headcount

    tools = _extra_tools(cfg, block, cohort, slot_team, builder_no - builder_offset, occupant_team, spell_start, headcount, per_team) if cfg.extra_tools else {}

    # latent drivers and the log deployment index
    d = cfg.drivers
    zv, zi, zr, zp = (_latent(rng, n, W) for _ in range(4))
    lam = holiday_effect(cfg)[None, :]
    drive = (
        d["velocity"] * zv
        - d["interventions_per_deploy"] * zi
        - d["rollback_rate"] * zr
        + d["pages_per_oncall_builder"] * zp
        - d["new_member_share"] * onboard / 0.1
        + trend[:, None] * t[None, :] / 52
    )
    if cfg.org_trend:
        drive = drive + cfg.org_trend * t[None, :] / 52
    u = (1 - cfg.beta) * drive + cfg.gamma * ai_share + lam + 0.15 * rng.standard_normal((n, W))
    for name, g in cfg.tool_gammas.items():
        u = u + g * tools[name]["active"] / headcount
    w = lfilter([1.0], [1.0, -cfg.beta], u, axis=1)

    dbase = np.where(arch == 0, 1.2, np.where(arch == 1, 0.35, 0.8)) * rng.lognormal(0, 0.35, n)
    # production deployments; a share of them roll back and so ship nothing new
    shipped = rng.poisson(fte * dbase[:, None] * np.exp(w))
    rollbacks = rng.binomial(shipped, 1 / (1 + np.exp(3.0 - 0.6 * zr)))
    deployments = shipped - rollbacks
    failed = rng.binomial(deployments, 0.06)
    staging = rng.binomial(deployments, 0.3)
    interventions = rng.poisson(deployments * 0.3 * np.exp(0.5 * zi))

    vbase = rng.lognormal(np.log(1.5), 0.3, n)
    vel = vbase[:, None] * np.exp(
        0.25 * zv + np.log1p(cfg.velocity_effect) * ai_share - 0.5 * onboard + lam - 0.03
    )
    changes = rng.poisson(fte * vel)
    open_changes = rng.binomial(changes, 0.1)

    pbase = rng.lognormal(np.log(0.5), 0.4, n)
    incidents = rng.poisson(oncall * pbase[:, None] * np.exp(0.5 * zp))
    pages = incidents + rng.poisson(0.5 * incidents)

    return Block(
        team_index=first + np.arange(n),
        architecture=arch,
        n_services=n_services,
        cohort_week=cohort,
        slot_team=slot_team,
        slot_fte=slot_fte,
        slot_oncall=slot_oncall,
        builder_no=builder_no,
        spell_start=spell_start,
        active_ai=active_ai,
        seat=seat,
        fte=fte,
        headcount=headcount,
        oncall=oncall,
        new_members=new_members,
        ai_active=ai_active,
        seats=seats,
        deployments=deployments,
        rollbacks=rollbacks,
        failed=failed,
        staging=staging,
        interventions=interventions,
        changes=changes,
        open_changes=open_changes,
        incidents=incidents,
        pages=pages,
        w=w,
        tools=tools,
    )


def _extra_tools(cfg: SimConfig, block: int, cohort: np.ndarray, slot_team: np.ndarray, bidx: np.ndarray,
                 occupant_team: np.ndarray, spell_start: np.ndarray, headcount: np.ndarray, per_team) -> dict:
    """Usage of the extra tools: waves ordered like the assistant's rollout, up to ``tool_correlation``."""
    rng = np.random.default_rng([cfg.seed, block, 1])
    n = cohort.size
    W = cfg.weeks
    t = np.arange(W)
    # the assistant's rollout order as a standard score (never treated last), plus noise
    order = np.where(cohort >= 0, cohort, cfg.weeks * 2).astype(float)
    z0 = norm.ppf((np.argsort(np.argsort(order + rng.random(n) * 1e-3)) + 0.5) / n)
    rho = cfg.tool_correlation
    out = {}
    for (name, _), waves in zip(cfg.extra_tools, cfg.tool_cohorts, strict=True):
        score = rho * z0 + np.sqrt(1 - rho**2) * rng.standard_normal(n)
        rank = np.argsort(np.argsort(score)) / max(n - 1, 1)
        cw = np.array([int(round(c * W)) for c in waves])
        treated = rank < 1 - cfg.never_treated
        pos = np.minimum((rank / max(1 - cfg.never_treated, 1e-9) * len(cw)).astype(int), len(cw) - 1)
        tcohort = np.where(treated, cw[pos], -1)
        take_up = rng.beta(9, 1.5, size=n)
        n_b = occupant_team.size
        adopter = rng.random(n_b) < take_up[occupant_team]
        delay = rng.geometric(1 / 3.0, size=n_b) - 1
        slot_cohort = tcohort[slot_team][:, None]
        adopt_week = np.maximum(slot_cohort, spell_start) + delay[bidx]
        seat = (slot_cohort >= 0) & adopter[bidx] & (t[None, :] >= adopt_week)
        active = seat & (rng.random(seat.shape) < 0.95)
        out[name] = {
            "active": per_team(active).astype(np.int64),
            "seats": per_team(seat).astype(np.int64),
            "cohort_week": tcohort,
            "slot_active": active,
        }
    return out


def iter_blocks(cfg: SimConfig):
    """Yield the organisation's blocks in order, with builder numbers kept unique."""
    offset = 0
    for b in range((cfg.teams + BLOCK_TEAMS - 1) // BLOCK_TEAMS):
        blk = simulate_block(cfg, b, offset)
        offset = int(blk.builder_no.max()) + 1
        yield blk
