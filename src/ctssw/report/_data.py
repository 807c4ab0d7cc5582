"""The data an interactive report embeds: aggregated, privacy-floored, JSON-ready.

Everything here is arithmetic on tables already computed (sums and ratios of sums);
no model is fitted. Every row that leaves this module describes at least ``k``
builders: team-weeks below the floor are dropped before any series is built, a
group-week or month is kept only if its builders reach ``k``, and the team table keeps a
team only when every one of its team-weeks reaches ``k`` (its row sums the whole period, so
an average of ``k`` is not enough).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..privacy import check_k

__all__ = ["DORA_TIERS", "STAT_SUMS", "dora_tier", "explain_steps", "series", "team_rows", "tier_bounds", "tier_table", "tool_effects"]

# DORA's performance clusters (Accelerate State of DevOps 2023): upper bounds per tier.
# Deployment frequency is in production deployments per team-week (on demand ≈ daily or more).
DORA_TIERS: dict[str, dict[str, Any]] = {
    "deploy_freq": {"higher_is_better": True, "bounds": [("Elite", 7.0), ("High", 1.0), ("Medium", 12 / 52), ("Low", 0.0)],
                    "text": "Elite: on demand (a deployment a day or more); High: daily to weekly; Medium: weekly to monthly; Low: less than monthly"},
    "lead_time_h": {"higher_is_better": False, "bounds": [("Elite", 24.0), ("High", 168.0), ("Medium", 730.0), ("Low", math.inf)],
                    "text": "Elite: under a day; High: a day to a week; Medium: a week to a month; Low: over a month"},
    "change_failure_rate": {"higher_is_better": False, "bounds": [("Elite", 0.05), ("High", 0.10), ("Medium", 0.15), ("Low", math.inf)],
                            "text": "Elite: 5% or less; High: up to 10%; Medium: up to 15%; Low: over 15%"},
    "recovery_h": {"higher_is_better": False, "bounds": [("Elite", 1.0), ("High", 24.0), ("Medium", 168.0), ("Low", math.inf)],
                   "text": "Elite: under an hour; High: under a day; Medium: under a week; Low: a week or more"},
}


def dora_tier(metric: str, value: float | None) -> str | None:
    """The DORA performance tier of ``value`` for ``metric`` (a key of :data:`DORA_TIERS`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    spec = DORA_TIERS[metric]
    for name, bound in spec["bounds"]:
        if (value >= bound) if spec["higher_is_better"] else (value <= bound):
            return name
    return "Low"


def tier_bounds() -> dict[str, dict[str, Any]]:
    """:data:`DORA_TIERS` for the page: each tier's bound (None for no bound) and its direction."""
    return {m: {"higher_is_better": s["higher_is_better"], "bounds": [[n, None if math.isinf(b) else b] for n, b in s["bounds"]]}
            for m, s in DORA_TIERS.items()}


def tier_table() -> list[dict[str, str]]:
    return [{"metric": m, "tiers": s["text"]} for m, s in DORA_TIERS.items()]


#: the weekly sums behind the DORA stat panels, as the page names them (ratios of these over any period)
STAT_SUMS = {"prod_deployments": "deployments", "team_weeks": "team_weeks", "_lt": "lead_time_sum", "_ltw": "lead_time_weight",
             "change_failures": "failures", "_rec": "recovery_sum", "_recw": "recovery_weight", "rework_deployments": "rework"}

_SUMS = ["headcount", "builders", "cost", "units", "ai_active", "prod_deployments", "deploy_days", "change_failures",
         "rework_deployments", "changes_deployed", "_lt", "_coding", "_pickup", "_review", "_deploy", "_rec", "_recw", "team_weeks"]


def _prepare(weekly: pd.DataFrame) -> pd.DataFrame:
    w = weekly.copy()
    w["week"] = pd.to_datetime(w["week"])
    w["team_weeks"] = 1
    for c in ("changes_deployed", "change_failures", "prod_deployments", "rework_deployments", "deploy_days", "recovery_median_h",
              "lead_time_median_h", "coding_median_h", "pickup_median_h", "review_median_h", "deploy_median_h"):
        if c not in w:  # a panel without DORA columns: those series are empty, not wrong
            w[c] = np.nan
    cd = w["changes_deployed"].fillna(0)
    for src, dst in (("lead_time_median_h", "_lt"), ("coding_median_h", "_coding"), ("pickup_median_h", "_pickup"),
                     ("review_median_h", "_review"), ("deploy_median_h", "_deploy")):
        w[dst] = (w[src] * cd).where(w[src].notna(), 0.0) if src in w else 0.0
    w["_recw"] = w["change_failures"].where(w["recovery_median_h"].notna(), 0).fillna(0)
    w["_rec"] = (w["recovery_median_h"] * w["change_failures"]).where(w["recovery_median_h"].notna(), 0.0)
    w["_ltw"] = cd.where(w["lead_time_median_h"].notna(), 0)
    for c in _SUMS:
        if c not in w:
            w[c] = 0.0
    return w


def _ratios(g: pd.DataFrame) -> pd.DataFrame:
    def div(a: pd.Series, b: pd.Series) -> pd.Series:
        return (a / b).where(b > 0)

    out = pd.DataFrame(index=g.index)
    out["builders"] = g["headcount"]
    out["cts_sw"] = div(g["cost"], g["units"])
    out["ai_share"] = div(g["ai_active"], g["headcount"])
    out["deploy_freq"] = div(g["prod_deployments"], g["team_weeks"])
    out["lead_time_h"] = div(g["_lt"], g["_ltw"])
    for p in ("coding", "pickup", "review", "deploy"):
        out[f"{p}_h"] = div(g[f"_{p}"], g["_ltw"])
    out["change_failure_rate"] = div(g["change_failures"], g["prod_deployments"])
    out["recovery_h"] = div(g["_rec"], g["_recw"])
    out["rework_rate"] = div(g["rework_deployments"], g["prod_deployments"])
    return out


def _groups(w: pd.DataFrame, teams_meta: pd.DataFrame | None) -> tuple[dict[str, str], pd.DataFrame]:
    """Series key → label (the page's order), and ``w``'s rows once per key they belong to,
    with that ``key`` (the organisation, its group and architecture, its team)."""
    labels = {"org": "Whole organisation"}
    names = {}
    if teams_meta is not None and "name" in teams_meta:
        names = dict(zip(teams_meta["team_id"], teams_meta["name"], strict=False))
    parts = [w.assign(key="org")]
    for col, kind in (("parent_id", "Group"), ("architecture", "Architecture")):
        if col in w:
            for v in sorted(w[col].dropna().unique()):
                labels[f"{col}:{v}"] = f"{kind}: {names.get(v, v)}"
            has = w[w[col].notna()]
            parts.append(has.assign(key=col + ":" + has[col].astype(str)))
    for t in sorted(w["team_id"].unique()):
        labels[f"team:{t}"] = f"Team: {names.get(t, t)}"
    parts.append(w.assign(key="team:" + w["team_id"].astype(str)))
    return labels, pd.concat(parts, ignore_index=True)


def series(weekly: pd.DataFrame, *, k: int, teams_meta: pd.DataFrame | None = None, recent_weeks: int = 13) -> dict[str, Any]:
    """Weekly CTS-SW and adoption and monthly DORA series for the organisation, each group and each team.

    Returns a dict: ``keys`` (series key → label), ``weekly`` and ``monthly`` (key → columns
    as lists), ``stats`` (key → the DORA keys over the last ``recent_weeks`` weeks with tiers),
    ``sums`` (key → the weekly sums the DORA keys are ratios of, :data:`STAT_SUMS`, so the page
    computes them over any period the brush selects), ``suppressed`` (team-weeks left out by
    the floor). Every week of every key sums team-weeks that each reach ``k`` builders.
    """
    k = check_k(k)
    w = _prepare(weekly)
    keep = w["headcount"] >= k
    suppressed = int((~keep).sum())
    w = w[keep].reset_index(drop=True)
    w["month"] = w["week"].dt.to_period("M").dt.to_timestamp()
    keys, wk, mo, stats, sums = {}, {}, {}, {}, {}
    out = {"keys": keys, "weekly": wk, "monthly": mo, "stats": stats, "sums": sums, "suppressed": suppressed,
           "recent_weeks": recent_weeks}
    if w.empty:
        return out
    last = w["week"].max()
    labels, rows = _groups(w, teams_meta)
    # every key's sums in one groupby each (a loop over keys took seconds for a few hundred teams)
    cols = _SUMS + ["_ltw"]
    gw_all = rows.groupby(["key", "week"])[cols].sum()
    gw_all = gw_all[gw_all["headcount"] >= k]
    rw_all = _ratios(gw_all)
    r4 = gw_all.groupby(level="key")[["cost", "units"]].transform(lambda s: s.rolling(4, min_periods=1).sum())
    rw_all["cts_sw_4w"] = (r4["cost"] / r4["units"]).where(r4["units"] > 0)
    by_month = rows.groupby(["key", "month"])
    gm_all = by_month[cols].sum()
    rm_all = _ratios(gm_all[gm_all["headcount"] / by_month["week"].nunique().reindex(gm_all.index) >= k])
    recent = _ratios(rows[rows["week"] > last - pd.Timedelta(weeks=recent_weeks)].groupby("key")[cols].sum())
    weekly_keys = set(gw_all.index.get_level_values("key"))
    monthly_keys = set(rm_all.index.get_level_values("key"))
    for key, label in labels.items():
        if key not in weekly_keys:
            continue
        gw, rw = gw_all.xs(key, level="key"), rw_all.xs(key, level="key")
        rm = rm_all.xs(key, level="key") if key in monthly_keys else rm_all.iloc[:0].droplevel("key")
        keys[key] = label
        wk[key] = _cols(rw, ["cts_sw", "cts_sw_4w", "ai_share", "builders"])
        sums[key] = _cols(gw.rename(columns=STAT_SUMS), list(STAT_SUMS.values()))
        mo[key] = _cols(rm, ["deploy_freq", "lead_time_h", "coding_h", "pickup_h", "review_h", "deploy_h",
                             "change_failure_rate", "recovery_h", "rework_rate"])
        if key in recent.index:
            r = recent.loc[key]
            stats[key] = {m: {"value": _num(r[m]), "tier": dora_tier(m, _num(r[m])) if m in DORA_TIERS else None}
                          for m in ("deploy_freq", "lead_time_h", "change_failure_rate", "recovery_h", "rework_rate")}
    return out


def _num(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def _cols(df: pd.DataFrame, cols: list[str]) -> dict[str, list]:
    out: dict[str, list] = {"x": [d.strftime("%Y-%m-%d") for d in df.index]}
    for c in cols:
        out[c] = [_num(v) for v in df[c].to_numpy()]
    return out


TEAM_COLUMNS = {
    "group": "Team", "headcount": "Builders", "cts_sw": "CTS-SW ($ per unit)",
    "deployments_per_week": "Deployments per week", "lead_time_median_h": "Lead time, median (hours)",
    "lead_time_p90_h": "Lead time, p90 (hours)", "change_failure_rate": "Change failure rate",
    "recovery_median_h": "Recovery time, median (hours)", "rework_rate": "Rework rate", "velocity": "Velocity (merged changes per builder-week)",
}
PERCENT_COLUMNS = ("change_failure_rate", "rework_rate")  # ordered: the page lists them in this order


def team_rows(
    teams: pd.DataFrame, *, k: int, names: dict[str, str] | None = None, weekly: pd.DataFrame | None = None
) -> tuple[list[str], list[dict[str, Any]], int]:
    """The per-team table (``period_metrics(by="team")``) floored at ``k`` builders.

    A team's row sums every week of the period, and its headcount is the average over those
    weeks, so an average of ``k`` can hide weeks of two builders. With ``weekly`` (the team-week
    rows the period covers) a team is kept only when every one of its team-weeks reaches ``k``.
    ``names`` maps team ids to names, shown as "name (id)". Returns readable column names,
    rows (raw numbers, JSON-safe) and how many teams were left out.
    """
    k = check_k(k)
    t = teams.copy()
    t["headcount"] = t["headcount"].fillna(0)
    keep = t["headcount"] >= k
    if weekly is not None and len(weekly):
        low = weekly.groupby("team_id")["headcount"].min().fillna(0)
        keep &= ~t["group"].map(low < k).fillna(False).astype(bool)
    if names:
        t["group"] = [f"{names[g]} ({g})" if names.get(g) and names[g] != g else g for g in t["group"]]
    t = t[keep]
    cols = [c for c in TEAM_COLUMNS if c in t.columns]
    rows = [{TEAM_COLUMNS[c]: (_num(v) if c != "group" else str(v)) for c, v in r.items()} for r in t[cols].to_dict(orient="records")]
    return [TEAM_COLUMNS[c] for c in cols], rows, int((~keep).sum())


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


#: the decomposition's components as the waterfall names them, in the order it draws them
EXPLAIN_LABELS = {"trend": "counterfactual trend (baseline)", "composition": "team composition (mix)",
                  "cost_per_builder_week": "cost per builder-week", "residual": "residual"}


def explain_steps(explain: dict | None, *, k: int) -> dict[str, Any] | None:
    """The baseline decomposition (``ctssw explain``'s dict) as waterfall steps in dollars per unit.

    Steps: observed CTS-SW in the earlier window, the counterfactual trend, each tool, team
    composition, cost per builder-week, the residual, and observed CTS-SW in the later window.
    Each component is its share of the level change (its log points times the change over the
    observed log change, as :meth:`Decomposition.table` splits it), with its interval on the same
    scale; the components add up to the observed change. The decomposition describes the whole
    organisation in two windows; None when either window has a week with fewer than ``k``
    builders (the privacy floor), or nothing to show.
    """
    k = check_k(k)
    if not explain or not explain.get("components"):
        return None
    det = explain.get("details") or {}
    low = [det.get("min_builders_a"), det.get("min_builders_b")]
    if any(b is None or b < k for b in low):
        return None
    comps = {c["component"]: c for c in explain["components"] if c["component"] != "observed"}
    obs = float(explain["observed"])
    a, b = float(explain["cts_a"]), float(explain["cts_b"])
    scale = (b - a) / obs if obs else 0.0
    tools = [c for c in comps if c.startswith("tool: ")]
    order = ["trend", *tools, "composition", "cost_per_builder_week", "residual"]
    if set(order) != set(comps):
        raise ValueError(f"unexpected decomposition components: {sorted(comps)}")
    wa, wb = explain["windows"]["A"], explain["windows"]["B"]
    steps: list[dict[str, Any]] = [{"label": f"observed, {wa[0]} to {wa[1]}", "component": "start", "measure": "absolute", "value": a}]
    for name in order:
        c = comps[name]
        exact = not c["std_error"]
        steps.append({
            "label": EXPLAIN_LABELS.get(name) or f"{name[len('tool: '):]} (tool)", "component": name, "measure": "relative",
            "value": float(c["log_points"]) * scale, "low": None if exact else float(c["ci_low"]) * scale,
            "high": None if exact else float(c["ci_high"]) * scale, "log_points": float(c["log_points"]),
            "log_low": float(c["ci_low"]), "log_high": float(c["ci_high"]), "exact": exact,
        })
    steps.append({"label": f"observed, {wb[0]} to {wb[1]}", "component": "end", "measure": "total", "value": b})
    return {"steps": steps, "observed": obs, "change": b - a, "windows": {"A": wa, "B": wb}, "level": explain.get("level", 0.95),
            "tool_effects": (explain.get("settings") or {}).get("tool_effects"), "adds_up": bool(explain.get("adds_up"))}


def tool_effects(res: dict | None) -> dict[str, Any] | None:
    """Per-tool effects from one joint model (``ctssw impact --tools``'s dict) for the report.

    One row per tool and one for their sum: the joint estimate with its interval, the
    one-model-per-tool estimate, and the value (CTS-SW change, engineering-years, net dollars).
    Every row describes the organisation's teams that used the tool; the fit itself refuses a
    panel under the privacy floor.
    """
    if not res or not res.get("estimates"):
        return None
    method = res.get("valued_method") or res.get("method")
    est = res["estimates"].get(method) or next(iter(res["estimates"].values()))
    naive = {r["tool"]: r.get("naive_estimate") for r in (res.get("table") or {}).get(method) or []}
    value = res.get("value") or {}
    rows = []
    for t in res["tools"]:
        e = est["effects"][t]
        v = (value.get("per_tool") or {}).get(t) or {}
        rows.append({"tool": t, "estimate": e["estimate"], "ci_low": e["ci_low"], "ci_high": e["ci_high"], "naive": naive.get(t),
                     "cts_change": (v.get("cts_change") or {}).get("estimate"), "engineering_years": v.get("engineering_years"),
                     "net_dollars": v.get("net_dollars")})
    tot = est.get("total") or {}
    vt = value.get("total") or {}
    rows.append({"tool": "all tools (sum)", "estimate": tot.get("estimate"), "ci_low": tot.get("ci_low"), "ci_high": tot.get("ci_high"),
                 "naive": est.get("naive_total"), "cts_change": None, "engineering_years": vt.get("engineering_years"),
                 "net_dollars": vt.get("net_dollars"), "total": True})
    return {"method": method, "outcome": res.get("outcome"), "rows": rows}
