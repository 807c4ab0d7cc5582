"""An independent pandas implementation of the DORA definitions, straight from the canonical files.

Shares no code with ``ctssw.metrics``: sorts, loops and groupbys over raw rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from panel.oracle import _read
from panel.oracle import monday as _monday


def _secs(ts: pd.Series) -> pd.Series:
    t = pd.to_datetime(ts, utc=True)
    return np.floor(t.astype("int64") / 1e6).where(t.notna())


def _hours(a: pd.Series, b: pd.Series) -> pd.Series:
    s = _secs(b) - _secs(a)
    return (s / 3600.0).where(s >= 0)


def oracle_facts(d: Path, window_hours: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    svc = _read(d, "services").set_index("service_id")["team_id"]
    dep = _read(d, "deployments")
    dep = dep[dep["environment"] == "production"].copy()
    dep["team_id"] = dep["service_id"].map(svc)
    dep["week"] = _monday(dep["finished_at"])
    dep["day"] = pd.to_datetime(dep["finished_at"], utc=True).dt.date
    dep["ok"] = (dep["result"] == "success") & ~dep["is_rollback"]
    dep = dep.sort_values(["service_id", "finished_at", "deployment_id"]).reset_index(drop=True)

    # changes -> first ok deployment that shipped the merge commit
    ch = _read(d, "changes")
    ch = ch[ch["merged_at"].notna()].copy()
    ch["team_id"] = ch["repo_id"].map(_read(d, "repos").set_index("repo_id")["team_id"])
    dc = _read(d, "deployment_commits")
    okd = dep[dep["ok"]][["deployment_id", "finished_at"]]
    ship = dc.merge(okd, on="deployment_id").sort_values(["finished_at", "deployment_id"])
    first = ship.drop_duplicates("sha", keep="first").set_index("sha")
    ch["deployed_at"] = ch["merge_sha"].map(first["finished_at"])
    ch = ch[ch["deployed_at"].notna()].copy()
    start = ch["first_commit_at"].fillna(ch["created_at"])
    ch["lead_time"] = _hours(start, ch["deployed_at"])
    ch["coding"] = _hours(ch["first_commit_at"], ch["created_at"])
    ch["pickup"] = _hours(ch["created_at"], ch["first_review_at"])
    ch["review"] = _hours(ch["first_review_at"], ch["merged_at"])
    ch["deploy"] = _hours(ch["merged_at"], ch["deployed_at"])
    ch["week"] = _monday(ch["deployed_at"])

    # incidents -> latest successful production deployment of the service finished strictly before
    inc = _read(d, "incidents")
    succ = dep[dep["result"] == "success"]
    attributed = []
    by_svc = {s: g for s, g in succ.groupby("service_id")}
    for r in inc.itertuples(index=False):
        g = by_svc.get(r.service_id)
        dep_id = None
        if g is not None:
            before = g[g["finished_at"] < r.created_at]
            if len(before):
                last = before[before["finished_at"] == before["finished_at"].max()]
                if window_hours is None or (r.created_at - last["finished_at"].iloc[0]) <= pd.Timedelta(hours=window_hours):
                    dep_id = last["deployment_id"].max()
        attributed.append(dep_id)
    inc["deployment_id"] = attributed
    per = inc.dropna(subset=["deployment_id"]).groupby("deployment_id").agg(
        n=("incident_id", "size"), unresolved=("resolved_at", lambda s: s.isna().sum()), last=("resolved_at", "max")
    )
    dep = dep.join(per, on="deployment_id")
    dep["success"] = dep["result"] == "success"
    dep["failed_change"] = dep["success"] & (dep["n"].fillna(0) > 0)
    rec = _hours(dep["finished_at"], dep["last"])
    dep["recovery"] = rec.where(dep["failed_change"] & (dep["unresolved"].fillna(0) == 0))
    wrong = (dep["result"] == "failure") | dep["failed_change"]
    prev_wrong = wrong.groupby(dep["service_id"]).shift(1).fillna(False).astype(bool)
    dep["rework"] = dep["success"] & (dep["is_rollback"] | prev_wrong)
    return ch, dep


def oracle_weekly(d: Path, window_hours: float | None = None) -> pd.DataFrame:
    ch, dep = oracle_facts(d, window_hours)
    rows = {}
    for (team, week), g in dep.groupby(["team_id", "week"]):
        rows[(team, week)] = dict(
            prod_deployments=int(g["success"].sum()),
            deploy_days=g.loc[g["ok"], "day"].nunique(),
            change_failures=int(g["failed_change"].sum()),
            rework_deployments=int(g["rework"].sum()),
            recovery_median_h=g["recovery"].median(),
        )
    for (team, week), g in ch.groupby(["team_id", "week"]):
        r = rows.setdefault((team, week), {})
        r.update(
            changes_deployed=len(g),
            lead_time_median_h=g["lead_time"].median(),
            lead_time_p90_h=g["lead_time"].quantile(0.9),
            **{f"{c}_median_h": g[c].median() for c in ("coding", "pickup", "review", "deploy")},
        )
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = out.index.set_names(["team_id", "week"])
    out = out.reset_index()
    cnt = ["prod_deployments", "deploy_days", "change_failures", "rework_deployments", "changes_deployed"]
    out[cnt] = out[cnt].fillna(0)
    out["change_failure_rate"] = out["change_failures"] / out["prod_deployments"].where(out["prod_deployments"] > 0)
    out["rework_rate"] = out["rework_deployments"] / out["prod_deployments"].where(out["prod_deployments"] > 0)
    return out
