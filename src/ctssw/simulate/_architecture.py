"""An organisation in which some teams change architecture (e.g. a monolith split into services)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["simulate_architecture_change"]


def simulate_architecture_change(*, teams: int = 120, weeks: int = 78, seed: int = 0, effect: float = 0.15,
                                 changing: float = 0.5, waves: int = 4, source: str = "monolith", target: str = "service",
                                 **kw) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """:func:`ctssw.simulate.simulate_panel` with dated architecture changes of known effect.

    A share ``changing`` of the teams is ``source`` until its change week and ``target`` from it
    (waves evenly spread over the middle half of the horizon, teams assigned at random); the others
    keep ``source``. From its change week a changing team's production deployments are multiplied by
    ``1 + effect`` in expectation (each week's count plus a Poisson draw of mean ``effect`` times it),
    so the true effect on deployments per builder-week is ``effect`` relative to the team's own level.
    The AI tool has no effect (``effect=0`` in the underlying simulator).

    Returns
    -------
    (panel, changes, truth)
        The panel; the changes as the architecture CSV (``team, date, from, to``); and
        ``{"effect": effect, "teams_changing": n, "waves": [dates]}``.
    """
    if not -1 < effect < 10:
        raise ConfigError(f"effect must be a relative change above -1, got {effect!r}")
    if not 0 < changing <= 1 or waves < 1:
        raise ConfigError("changing must be in (0, 1] and waves at least 1")
    p, _ = _panel(teams, weeks, seed, **kw)
    rng = np.random.default_rng([seed, 7])
    ids = np.array(sorted(p["team_id"].unique()))
    n = max(1, int(round(changing * ids.size)))
    movers = rng.choice(ids, size=n, replace=False)
    weeks_sorted = np.array(sorted(p["week"].unique()))
    starts = [weeks_sorted[int(weeks * (0.25 + 0.5 * k / max(waves - 1, 1)))] for k in range(waves)]
    when = dict(zip(movers, np.array(starts, dtype=object)[rng.integers(waves, size=n)], strict=True))
    p["architecture"] = source
    change_week = p["team_id"].map(when)
    after = change_week.notna() & (p["week"] >= change_week)
    p.loc[after, "architecture"] = target
    extra = rng.poisson(effect * p.loc[after, "deployments"].to_numpy(dtype=float)) if effect > 0 else 0
    p.loc[after, "deployments"] = p.loc[after, "deployments"] + extra
    p["deploys_per_builder"] = (p["deployments"] / p["builders"]).where(p["builders"] > 0)
    changes = pd.DataFrame({"team": list(when), "date": [pd.Timestamp(d).date().isoformat() for d in when.values()],
                            "from": source, "to": target}).sort_values(["date", "team"]).reset_index(drop=True)
    return p, changes, {"effect": effect, "teams_changing": n, "waves": [pd.Timestamp(s).date().isoformat() for s in starts]}


def _panel(teams: int, weeks: int, seed: int, **kw):
    from . import simulate_panel

    return simulate_panel(teams=teams, weeks=weeks, seed=seed, **{"effect": 0.0, **kw})
