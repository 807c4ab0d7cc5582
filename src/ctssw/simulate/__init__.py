"""Simulated organisations with known ground truth (DESIGN §5).

``simulate`` writes the canonical tables as Parquet, block by block, so memory
stays bounded at any size; ``simulate_panel`` returns the same organisation's
team-week counts directly, for Monte Carlo studies that need no store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..errors import ConfigError
from ._architecture import simulate_architecture_change
from ._dgp import ARCHITECTURES, BLOCK_TEAMS, TOOL, SimConfig, iter_blocks
from ._events import Expander

__all__ = ["TOOL", "SimConfig", "parse_tools", "simulate", "simulate_architecture_change", "simulate_panel"]

TABLES = (
    "teams",
    "identities",
    "memberships",
    "repos",
    "services",
    "commits",
    "changes",
    "deployments",
    "deployment_commits",
    "incidents",
    "pages",
    "tool_usage",
    "costs",
)


def parse_tools(text: str) -> tuple[tuple[str, float], ...]:
    """``"review_agent=0.03,build_fix=0"`` as ``(("review_agent", 0.03), ("build_fix", 0.0))``."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, val = part.partition("=")
        try:
            eff = float(val)
        except ValueError:
            eff = None
        if not sep or not name.strip() or eff is None:
            raise ConfigError(f"extra tools are name=effect pairs separated by commas, e.g. review_agent=0.03; got {part!r}")
        out.append((name.strip(), eff))
    if not out:
        raise ConfigError("extra tools are name=effect pairs separated by commas, e.g. review_agent=0.03")
    return tuple(out)


def _config(teams: int, weeks: int, seed: int, **kw) -> SimConfig:
    if teams < 1:
        raise ConfigError(f"teams must be at least 1, got {teams}")
    if weeks < 4:
        raise ConfigError(f"weeks must be at least 4, got {weeks}")
    tools = kw.get("extra_tools")
    if tools:
        if isinstance(tools, dict):
            tools = tuple(tools.items())
        tools = tuple((str(n), float(e)) for n, e in tools)
        names = [n for n, _ in tools]
        if TOOL in names or len(set(names)) != len(names):
            raise ConfigError(f"extra_tools need distinct names other than {TOOL!r}, got {names}")
        if any(e <= -1 for _, e in tools):
            raise ConfigError("each extra tool's effect must be above -1 (-100%)")
        kw["extra_tools"] = tools
    if "tool_correlation" in kw and not -1 <= kw["tool_correlation"] <= 1:
        raise ConfigError(f"tool_correlation must be in [-1, 1], got {kw['tool_correlation']!r}")
    if "tool_cohorts" in kw:
        kw["tool_cohorts"] = tuple(tuple(float(c) for c in waves) for waves in kw["tool_cohorts"])
        if len(kw["tool_cohorts"]) != len(tools or ()):
            raise ConfigError("tool_cohorts needs one sequence of waves per extra tool")
    if "start" in kw and isinstance(kw["start"], str):
        kw["start"] = dt.date.fromisoformat(kw["start"])
    return SimConfig(teams=teams, weeks=weeks, seed=seed, **kw)


def simulate(
    out: str | Path,
    *,
    teams: int = 200,
    weeks: int = 104,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    **kw,
) -> dict:
    """Write a simulated organisation's canonical tables under ``out``.

    Each table becomes a folder of Parquet parts (``out/commits/part-00000.parquet``...),
    and ``out/truth.json`` records the true effects.

    Parameters
    ----------
    out : path
        Output folder; created if missing. Existing parts are replaced.
    teams, weeks, seed : int
        Size of the organisation and its random seed.
    progress : callable, optional
        Called as ``progress(done_blocks, total_blocks)``.
    **kw
        Other :class:`SimConfig` fields (``effect``, ``beta``, ``confounded``...).

    Returns
    -------
    dict
        The ground truth, as written to ``truth.json``.
    """
    cfg = _config(teams, weeks, seed, **kw)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for t in TABLES:
        d = out / t
        d.mkdir(exist_ok=True)
        for old in d.glob("part-*.parquet"):
            old.unlink()
    exp = Expander(cfg)
    total = (cfg.teams + BLOCK_TEAMS - 1) // BLOCK_TEAMS
    rows = {t: 0 for t in TABLES}
    for b, blk in enumerate(iter_blocks(cfg)):
        for name, table in exp.tables(blk, b).items():
            pq.write_table(table, out / name / f"part-{b:05d}.parquet", compression="zstd")
            rows[name] += table.num_rows
        if progress:
            progress(b + 1, total)
    truth = cfg.truth()
    truth["rows"] = rows
    (out / "truth.json").write_text(json.dumps(truth, indent=2))
    return truth


def simulate_panel(*, teams: int = 200, weeks: int = 104, seed: int = 0, **kw) -> tuple[pd.DataFrame, dict]:
    """The organisation's team-week counts and metrics, without writing events.

    Returns the same counts a store built from :func:`simulate` with the same
    arguments yields, plus the latent log deployment index ``w``.

    With ``extra_tools=(("review_agent", 0.03), ("build_fix", 0.0))`` (see
    :class:`SimConfig`) the organisation also rolls out those tools in their
    own overlapping waves, and the panel gains ``share_<tool>`` (builders using
    it / headcount), ``active_<tool>``, ``seats_<tool>`` and
    ``cohort_week_<tool>`` for each, plus ``share_assistant`` (= ``ai_share``);
    the truth gains ``tools`` (each tool's long-run effect).

    Examples
    --------
    >>> p, truth = simulate_panel(teams=20, weeks=52, seed=1, extra_tools=(("review_agent", 0.03),))
    >>> truth["tools"]
    {'assistant': 0.08, 'review_agent': 0.03}
    """
    cfg = _config(teams, weeks, seed, **kw)
    frames = []
    for blk in iter_blocks(cfg):
        n, W = blk.fte.shape
        week = pd.to_datetime(cfg.start) + pd.to_timedelta(np.tile(np.arange(W) * 7, n), unit="D")
        f = pd.DataFrame(
            {
                "team_id": np.repeat([f"team-{i:05d}" for i in blk.team_index], W),
                "week": week,
                "architecture": np.repeat(np.array(ARCHITECTURES)[blk.architecture], W),
                "builders": blk.fte.ravel(),
                "headcount": blk.headcount.ravel(),
                "oncall_builders": blk.oncall.ravel(),
                "new_members": blk.new_members.ravel(),
                "ai_active": blk.ai_active.ravel(),
                "seats": blk.seats.ravel(),
                "deployments": blk.deployments.ravel(),
                "rollbacks": blk.rollbacks.ravel(),
                "failed_deployments": blk.failed.ravel(),
                "interventions": blk.interventions.ravel(),
                "changes_merged": blk.changes.ravel(),
                "incidents": blk.incidents.ravel(),
                "pages": blk.pages.ravel(),
                "cohort_week": np.repeat(blk.cohort_week, W),
                "w": blk.w.ravel(),
            }
        )
        for name, tool in blk.tools.items():
            f[f"active_{name}"] = tool["active"].ravel()
            f[f"seats_{name}"] = tool["seats"].ravel()
            f[f"cohort_week_{name}"] = np.repeat(tool["cohort_week"], W)
        frames.append(f)
    p = pd.concat(frames, ignore_index=True)
    b = p["builders"]
    p["ai_share"] = p["ai_active"] / p["headcount"]
    p["deploys_per_builder"] = p["deployments"] / b
    p["velocity"] = p["changes_merged"] / b
    all_deploys = p["deployments"] + p["rollbacks"]
    p["rollback_rate"] = (p["rollbacks"] / all_deploys).where(all_deploys > 0)
    p["interventions_per_deploy"] = (p["interventions"] / p["deployments"]).where(p["deployments"] > 0)
    p["pages_per_oncall_builder"] = (p["pages"] / p["oncall_builders"]).where(p["oncall_builders"] > 0)
    p["new_member_share"] = p["new_members"] / p["headcount"]
    if cfg.extra_tools:
        p[f"share_{TOOL}"] = p["ai_share"]
        for name, _ in cfg.extra_tools:
            p[f"share_{name}"] = p[f"active_{name}"] / p["headcount"]
    return p, cfg.truth()
