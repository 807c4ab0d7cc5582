"""When ``ctssw impact`` may put a value on an effect: credibility and the CTS-SW unit.

An estimate is **not credible**, and its value in engineering-years and dollars is withheld, when

- it lies outside the outcome's possible range (a relative change in a count below −100%);
- the DiD pre-trend test rejects parallel pre-adoption trends (p < 0.05);
- fewer than :data:`MIN_ADOPTERS` teams adopted the tool (too few to tell the tool from the teams).

Value is computed only for an outcome in the CTS-SW unit: units per builder-week of the panel's
unit (``deploys_per_builder`` or ``deploys_per_builder_norm`` for deployments, ``velocity`` for
merged changes). An effect on another outcome is reported, never valued as a CTS-SW saving.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["MIN_ADOPTERS", "UNIT_OUTCOMES", "credibility", "usable_covariates", "value_unit"]

MIN_ADOPTERS = 5
UNIT_OUTCOMES = {
    "deployment": ("deploys_per_builder", "deploys_per_builder_norm"),
    "change": ("velocity",),
}


def usable_covariates(panel: pd.DataFrame, covariates, outcome: str) -> tuple[list[str], list[str]]:
    """The covariates that vary where the outcome is defined, and a note for each one dropped."""
    rows = panel[panel[outcome].notna()] if outcome in panel.columns else panel
    keep, notes = [], []
    for c in covariates:
        if c not in rows.columns or rows[c].notna().sum() == 0:
            notes.append(f"covariate {c} dropped: no data in the team-weeks with {outcome} defined")
        elif rows[c].dropna().nunique() < 2:
            notes.append(f"covariate {c} dropped: constant in the team-weeks with {outcome} defined")
        elif rows[c].isna().mean() > 0.5:
            notes.append(f"covariate {c} dropped: missing in {rows[c].isna().mean():.0%} of the team-weeks")
        else:
            keep.append(c)
    return keep, notes


def value_unit(panel: pd.DataFrame, outcome: str) -> str | None:
    """None when ``outcome`` is in the panel's CTS-SW unit, else why its effect is not valued."""
    units = panel["unit"].dropna().unique().tolist() if "unit" in panel.columns else ["deployment"]
    if len(units) != 1:
        return f"the panel mixes units ({', '.join(map(str, units))}); value needs one CTS-SW unit"
    unit = units[0]
    if outcome in UNIT_OUTCOMES.get(unit, ()):
        return None
    want = " or ".join(UNIT_OUTCOMES.get(unit, ())) or "none"
    return (f"the outcome {outcome} is not the CTS-SW unit ({unit}s per builder-week: {want}); "
            "its effect is reported but not valued")


def _adopters(res: dict[str, Any], panel: pd.DataFrame, treatment: str) -> int:
    did = res.get("did")
    if did and did.get("adoption"):
        return int(did["adoption"]["adopted_teams"])
    return int(panel.groupby("team_id")[treatment].max().fillna(0).gt(0).sum())


def _estimates(res: dict[str, Any]) -> list[tuple[str, float]]:
    out = []
    dyn = res.get("dynamic")
    if dyn:
        v = dyn.get("value") or {}
        rel = v.get("relative_effect") or {}
        if rel.get("estimate") is not None:
            out.append((f"dynamic ({dyn['valued_method']})", float(rel["estimate"])))
    did = res.get("did")
    if did:
        for m, e in did["estimates"].items():
            if "att" in e and e["att"].get("estimate") is not None:
                out.append((f"DiD ({m})", float(e["att"]["estimate"])))
    return out


def credibility(res: dict[str, Any], panel: pd.DataFrame, outcome: str, treatment: str = "ai_share",
                min_adopters: int = MIN_ADOPTERS) -> list[str]:
    """Reasons the estimates are not credible (empty when none applies)."""
    why = []
    relative = outcome.endswith("_norm")
    for name, est in _estimates(res):
        if relative and est <= -1:
            why.append(f"{name} estimates {est:+.0%}, below −100%: outside the possible range of a count")
    did = res.get("did")
    pt = (did or {}).get("pretest")
    if pt and pt.get("p_value") is not None and pt["p_value"] < 0.05:
        why.append(f"pre-adoption trends differ (pre-trend test p = {pt['p_value']:.2g})")
    n = _adopters(res, panel, treatment)
    if n < min_adopters:
        why.append(f"only {n} team(s) adopted the tool; at least {min_adopters} are needed")
    return why
