"""Simulated organisations for validating the staggered-DiD estimators.

Built on :func:`simulate_panel` without touching the data-generating process:
a seed fixes every random draw up to the outcome noise, and the effect size
enters only through the latent index ``w``. So

- an organisation with effects that differ by cohort is spliced from runs with
  the same seed and different ``effect`` (each team taken from the run of its
  cohort's effect);
- the run with ``effect=0`` gives each team's untreated latent index ``w0``.

The true ATT of binary adoption (tool share >= threshold) on the normalised
outcome ``deploys_per_builder / baseline mean`` (the weeks before the first
adoption in the organisation, as ``impact_did`` normalises) is the average over adopted
team-weeks of ``E[Y(1) - Y(0)] / norm = dpb0 * (exp(w - w0) - 1) / norm``,
where ``dpb0`` (deployments per builder in the effect-0 run) is unbiased for
the untreated mean ``dbase * exp(w0)`` and ``norm`` is the team's observed
baseline mean, the same scale the estimator divides by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import simulate_panel

__all__ = ["did_scenario"]


def did_scenario(
    *,
    teams: int = 200,
    weeks: int = 104,
    seed: int = 0,
    effects: tuple[float, ...] | float = 0.08,
    confounded: bool = False,
    threshold: float = 0.5,
    cohorts: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7),
    never_treated: float = 0.2,
) -> tuple[pd.DataFrame, dict]:
    """One organisation with cohort-specific long-run effects and its true ATT.

    Parameters
    ----------
    effects : float or tuple of float
        Long-run effect of full adoption, one per rollout cohort (in ``cohorts``
        order) or one for all.

    Returns
    -------
    (DataFrame, dict)
        The team-week panel with ``adoption_week`` and
        ``deploys_per_builder_norm`` added, and the truth: ``att`` (simple ATT
        on the normalised outcome), ``att_by_cohort`` and the settings.
    """
    from ..estimators.adoption import adoption_cohorts

    eff = (effects,) * len(cohorts) if np.isscalar(effects) else tuple(effects)
    if len(eff) != len(cohorts):
        raise ValueError("effects must give one value per cohort")
    kw = dict(teams=teams, weeks=weeks, seed=seed, confounded=confounded, cohorts=cohorts, never_treated=never_treated)
    base, truth = simulate_panel(effect=0.0, **kw)
    cohort_weeks = [int(round(c * weeks)) for c in cohorts]
    runs = {0.0: base}
    for e in set(eff):
        if e not in runs:
            runs[e] = simulate_panel(effect=e, **kw)[0]
    team_eff = base["cohort_week"].map(dict(zip(cohort_weeks, eff))).fillna(0.0).to_numpy()
    panel = base.copy()
    for e, run in runs.items():
        rows = team_eff == e
        panel.loc[rows] = run.loc[rows].to_numpy()
    panel = panel.astype(base.dtypes.to_dict())
    coh = adoption_cohorts(panel, threshold=threshold)
    panel = panel.merge(coh, on="team_id", how="left")
    pre = panel["adoption_week"].isna() | (panel["week"] < panel["adoption_week"])
    baseline = panel["week"] < panel["adoption_week"].min()
    norm = panel["deploys_per_builder"].where(baseline).groupby(panel["team_id"]).transform("mean")
    norm = norm.where(norm > 0)
    panel["deploys_per_builder_norm"] = panel["deploys_per_builder"] / norm
    treated = (~pre) & norm.notna() & (panel["adoption_week"] > panel["week"].min())
    delta = base["deploys_per_builder"].to_numpy() * (np.exp(panel["w"].to_numpy() - base["w"].to_numpy()) - 1)
    te = pd.Series(delta / norm.to_numpy(), index=panel.index)[treated]
    by_cohort = te.groupby(panel.loc[treated, "adoption_week"]).mean()
    out = {
        **truth,
        "effects_by_cohort": dict(zip([str(c) for c in cohort_weeks], eff)),
        "threshold": threshold,
        "att": float(te.mean()),
        "att_by_cohort": {str(k.date()) if hasattr(k, "date") else str(k): float(v) for k, v in by_cohort.items()},
        "att_definition": "mean over adopted team-weeks of dpb0 * (exp(w - w0) - 1) / baseline mean; "
        "dpb0 and w0 from the same seed with effect 0",
    }
    return panel, out
