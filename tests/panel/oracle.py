"""An independent pandas implementation of the panel, straight from the canonical files.

It shares no code with ``ctssw.panel``: merges and groupbys over raw rows, the
way a careful analyst would compute the same definitions (DESIGN §3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

RATE = 200_000.0 / 52


def _read(d: Path, t: str) -> pd.DataFrame:
    return pd.read_parquet(d / t)


def monday(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts, utc=True).dt.tz_localize(None).dt.normalize()
    return ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")


def oracle_panel(d: Path, unit: str = "deployment") -> pd.DataFrame:
    _read(d, "teams")  # read to check the table exists
    mem = _read(d, "memberships")
    ident = _read(d, "identities")
    login_to = dict(zip(ident["value"].str.lower(), ident["builder"].str.lower()))
    mem["builder"] = mem["builder"].str.lower()
    mem["start"] = pd.to_datetime(mem["start"])
    mem["end"] = pd.to_datetime(mem["end"])

    dep = _read(d, "deployments")
    svc = _read(d, "services").set_index("service_id")["team_id"]
    dep = dep[dep["environment"] == "production"].copy()
    dep["team_id"] = dep["service_id"].map(svc)
    dep["week"] = monday(dep["finished_at"])
    ch = _read(d, "changes")
    repo = _read(d, "repos").set_index("repo_id")["team_id"]
    ch = ch[ch["merged_at"].notna()].copy()
    ch["team_id"] = ch["repo_id"].map(repo)
    ch["week"] = monday(ch["merged_at"])
    pages = _read(d, "pages")
    pages["week"] = monday(pages["triggered_at"])
    inc = _read(d, "incidents")
    inc["week"] = monday(inc["created_at"])
    tu = _read(d, "tool_usage")
    tu = tu[tu["active"]].copy()
    tu["builder"] = tu["builder"].str.lower().map(lambda v: login_to.get(v, v))
    tu["day"] = pd.to_datetime(tu["day"])
    costs = _read(d, "costs")
    dc = _read(d, "deployment_commits")

    last = max(
        mem["start"].max(),
        mem["end"].max(),
        dep["week"].max(),
        ch["week"].max(),
        pages["week"].max(),
        tu["day"].max(),
    )
    first = mem["start"].min()
    first -= pd.Timedelta(days=first.weekday())
    weeks = pd.date_range(first, last, freq="7D")

    ok = dep[(dep["result"] == "success") & ~dep["is_rollback"]]
    shipped = dc.merge(ok[["deployment_id", "team_id", "week"]], on="deployment_id")
    p = _membership_weeks(mem, tu, weeks)

    def count(df, name, mask=None):
        df = df if mask is None else df[mask]
        return df.groupby(["team_id", "week"]).size().rename(name)

    parts = [
        count(dep, "deployments", (dep["result"] == "success") & ~dep["is_rollback"]),
        count(dep, "rollbacks", (dep["result"] == "success") & dep["is_rollback"]),
        count(dep, "failed_deployments", dep["result"] == "failure"),
        dep.groupby(["team_id", "week"])["manual_interventions"].sum().rename("interventions"),
        count(ch, "changes_merged"),
        shipped.groupby(["team_id", "week"])["sha"].nunique().rename("commits_to_prod"),
        count(pages, "pages"),
        count(inc, "incidents"),
    ]
    lic = costs[(costs["scope"] == "team") & (costs["kind"] == "license")].copy()
    lic["week"] = monday(pd.to_datetime(lic["period_start"]))
    parts.append(lic.rename(columns={"scope_id": "team_id"}).groupby(["team_id", "week"])["amount"].sum().rename("license_cost"))
    for s in parts:
        p = p.merge(s.reset_index(), on=["team_id", "week"], how="left")
    p = p.fillna({c.name: 0 for c in parts})
    p["labor_cost"] = p["builder_weeks"] * RATE
    p["cost"] = p["labor_cost"] + p["license_cost"]
    col = {"deployment": "deployments", "change": "changes_merged", "commit": "commits_to_prod"}[unit]
    p["units"] = p[col]
    p["cts_sw"] = np.where((p["units"] > 0) & (p["builders"] > 0), p["cost"] / p["units"].where(p["units"] > 0), np.nan)
    b = p["builders"].where(p["builders"] > 0)
    p["velocity"] = p["changes_merged"] / b
    p["deploys_per_builder"] = p["deployments"] / b
    tot = p["deployments"] + p["rollbacks"]
    p["rollback_rate"] = p["rollbacks"] / tot.where(tot > 0)
    p["interventions_per_deploy"] = p["interventions"] / p["deployments"].where(p["deployments"] > 0)
    p["pages_per_oncall_builder"] = p["pages"] / p["oncall_builders"].where(p["oncall_builders"] > 0)
    p["ai_share"] = p["ai_active"] / p["headcount"].where(p["headcount"] > 0)
    p["new_member_share"] = p["new_members"] / p["headcount"].where(p["headcount"] > 0)
    norm = []
    for _, g in p.groupby("team_id", sort=False):
        used = g.loc[g["ai_active"] > 0, "week"]
        pre = g[g["week"] < used.min()] if len(used) else g
        mu = pre["deploys_per_builder"].mean()
        norm.append(g["deploys_per_builder"] / mu if mu and mu > 0 else g["deploys_per_builder"] * np.nan)
    p["deploys_per_builder_norm"] = pd.concat(norm)
    return p.sort_values(["team_id", "week"]).reset_index(drop=True)


def rebuilt(d: Path, tmp_path: Path, table: str, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace the simulated ``table`` in folder ``d`` by ``rows``, ingest ``d`` into a new store
    and return its panel (sorted by team and week) and the oracle's panel of ``d``."""
    import shutil

    from ctssw.panel import panel
    from ctssw.store import Store, ingest_canonical

    shutil.rmtree(d / table)
    (d / table).mkdir()
    rows.to_parquet(d / table / "part-00000.parquet")
    p = tmp_path / "ctssw.duckdb"
    with Store(p) as s:
        ingest_canonical(s, d)
    with Store(p, read_only=True) as s:
        got = panel(s.ibis()).sort_values(["team_id", "week"]).reset_index(drop=True)
    return got, oracle_panel(d)


def _membership_weeks(mem: pd.DataFrame, tu: pd.DataFrame, weeks: pd.DatetimeIndex) -> pd.DataFrame:
    """Each team's weeks from its first to its last with a member, and who was a member in each.

    Every (membership, week) pair that overlaps is one row; gap weeks inside a team's span
    are zeros. A tool user counts for a team on the days one of its memberships covers.
    """
    grid = pd.DataFrame({"week": weeks})
    m = mem.merge(grid, how="cross")
    m["week_end"] = m["week"] + pd.Timedelta(days=6)
    m = m[(m["start"] <= m["week_end"]) & (m["end"].isna() | (m["end"] >= m["week"]))].copy()
    lo = m["start"].where(m["start"] > m["week"], m["week"])
    end = m["end"].fillna(m["week_end"])
    hi = end.where(end < m["week_end"], m["week_end"])
    m["fte_weeks"] = m["fte"] * ((hi - lo).dt.days + 1) / 7
    team_first = m["team_id"].map(mem.groupby("team_id")["start"].min())
    new = (m["start"] > team_first) & (m["start"] > m["week"] - pd.Timedelta(days=56))
    g = m.groupby(["team_id", "week"])
    agg = pd.DataFrame({
        "builders": g["fte"].sum(),
        "builder_weeks": g["fte_weeks"].sum(),
        "headcount": g["builder"].nunique(),
        "oncall_builders": m[m["oncall"]].groupby(["team_id", "week"])["builder"].nunique(),
        "new_members": m[new].groupby(["team_id", "week"])["builder"].nunique(),
    })
    u = tu[["builder", "day"]].merge(mem[["team_id", "builder", "start", "end"]], on="builder")
    u = u[(u["start"] <= u["day"]) & (u["end"].isna() | (u["end"] >= u["day"]))]
    u = u.assign(week=u["day"] - pd.to_timedelta(u["day"].dt.day_of_week, unit="D"))
    agg["ai_active"] = u.groupby(["team_id", "week"])["builder"].nunique()
    span = agg.reset_index().groupby("team_id")["week"].agg(["min", "max"])
    rows = [(t, w) for t, (a, b) in span.iterrows() for w in weeks if a <= w <= b]
    idx = pd.MultiIndex.from_tuples(rows, names=["team_id", "week"])
    p = agg.reindex(idx).fillna(0).reset_index()
    for c in ("headcount", "oncall_builders", "new_members", "ai_active"):
        p[c] = p[c].astype(int)
    return p
