"""Simulate + ingest + panel at scale, against the floor and the peers.

Usage: python benchmarks/bench_pipeline.py [--teams 1000] [--weeks 260] [--rounds 3]
       python benchmarks/bench_pipeline.py --teams 10000 --data /path/to/stores --reuse --panels panel_ibis panel_floor

Each stage runs in its own process so its peak memory (max RSS) is its own.
The floor is one hand-written DuckDB query of the panel's columns over the same
store; the polars and pandas peers read the same canonical Parquet tables and
compute the core panel columns the way an analyst would without a database
(benchmarks/panel_peers.py). Every panel is compared with the Ibis one before
timings are reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _marks import write_latest

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / ".bench-data"
# a simulated organisation of 260 weeks from 2024 runs past today: without a far bound the load
# would quarantine its later weeks as implausible future times
NOT_AFTER = "2100-01-01"
CHECK = [
    "builders", "headcount", "oncall_builders", "deployments", "rollbacks", "changes_merged", "commits_to_prod",
    "pages", "incidents", "ai_active", "cost", "units", "cts_sw", "velocity", "rollback_rate",
]


def stage_simulate(teams: int, weeks: int, d: Path) -> dict:
    from ctssw.simulate import simulate

    truth = simulate(d, teams=teams, weeks=weeks, seed=1)
    return {"rows": sum(truth["rows"].values())}


def stage_ingest(d: Path, db: Path) -> dict:
    from ctssw.store import Store, ingest_canonical

    db.unlink(missing_ok=True)
    with Store(db, not_after=NOT_AFTER) as s:
        counts = ingest_canonical(s, d)
    return {"rows": sum(c.loaded for c in counts), "quarantined": sum(c.quarantined for c in counts)}


def stage_panel_ibis(db: Path, out: Path) -> dict:
    from panel_peers import FLOOR_COLUMNS

    from ctssw.panel import panel
    from ctssw.store import Store

    with Store(db, read_only=True) as s:
        p = panel(s.ibis())
    p[["team_id", "week", *FLOOR_COLUMNS]].to_parquet(out)
    return {"rows": len(p)}


def stage_panel_floor(db: Path, out: Path) -> dict:
    """The floor: the panel's columns from one hand-written DuckDB query (benchmarks/panel_peers.py)."""
    from panel_peers import FLOOR_COLUMNS, floor_panel

    p = floor_panel(db)
    p[["team_id", "week", *FLOOR_COLUMNS]].to_parquet(out)
    return {"rows": len(p)}


def stage_panel_polars(d: Path, out: Path) -> dict:
    from panel_peers import polars_panel

    p = polars_panel(d)
    p[["team_id", "week", *CHECK]].to_parquet(out)
    return {"rows": len(p)}


def stage_panel_pandas(d: Path, out: Path) -> dict:
    import numpy as np
    import pandas as pd

    def monday(ts):
        ts = pd.to_datetime(ts, utc=True).dt.tz_localize(None).dt.floor("D")
        return ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")

    mem = pd.read_parquet(d / "memberships")
    ident = pd.read_parquet(d / "identities", columns=["value", "builder"])
    first = pd.Timestamp(mem["start"].min())
    dep = pd.read_parquet(
        d / "deployments", columns=["deployment_id", "service_id", "environment", "finished_at", "result", "is_rollback"]
    )
    last = monday(dep["finished_at"]).max()
    weeks = pd.DataFrame({"week": pd.date_range(first, last, freq="7D")})
    mem["start"] = pd.to_datetime(mem["start"])
    mem["end"] = pd.to_datetime(mem["end"]).fillna(last + pd.Timedelta(days=6))
    mw = mem.merge(weeks, how="cross")
    mw = mw[(mw["week"] <= mw["end"]) & (mw["week"] + pd.Timedelta(days=6) >= mw["start"])]
    mw["oncall_b"] = mw["builder"].where(mw["oncall"])
    people = mw.groupby(["team_id", "week"]).agg(
        builders=("fte", "sum"), headcount=("builder", "nunique"), oncall_builders=("oncall_b", "nunique")
    ).reset_index()

    svc = pd.read_parquet(d / "services", columns=["service_id", "team_id"])
    dep = dep[dep["environment"] == "production"].merge(svc, on="service_id")
    dep["week"] = monday(dep["finished_at"])
    dep["ok"] = (dep["result"] == "success") & ~dep["is_rollback"]
    dep["rb"] = (dep["result"] == "success") & dep["is_rollback"]
    deploys = dep.groupby(["team_id", "week"]).agg(deployments=("ok", "sum"), rollbacks=("rb", "sum")).reset_index()
    dep_ok = dep.loc[dep["ok"], ["deployment_id", "team_id", "week"]]
    del dep

    ch = pd.read_parquet(d / "changes", columns=["repo_id", "merged_at"])
    repos = pd.read_parquet(d / "repos", columns=["repo_id", "team_id"])
    ch = ch[ch["merged_at"].notna()].merge(repos, on="repo_id")
    ch["week"] = monday(ch["merged_at"])
    changes = ch.groupby(["team_id", "week"]).size().rename("changes_merged").reset_index()
    del ch

    pg = pd.read_parquet(d / "pages", columns=["team_id", "triggered_at"])
    pg["week"] = monday(pg["triggered_at"])
    pages = pg.groupby(["team_id", "week"]).size().rename("pages").reset_index()

    tu = pd.read_parquet(d / "tool_usage", columns=["builder", "day", "active"])
    tu = tu[tu["active"]].merge(ident, left_on="builder", right_on="value", suffixes=("_login", ""))
    tu["week"] = monday(pd.to_datetime(tu["day"]))
    tu = tu[["builder", "week"]].drop_duplicates()
    ai = mw[["team_id", "week", "builder"]].merge(tu, on=["builder", "week"])
    ai = ai.groupby(["team_id", "week"])["builder"].nunique().rename("ai_active").reset_index()
    del tu

    # commits that reached production: shipped by a successful, non-rollback production deployment
    ok = dep_ok
    dc = pd.read_parquet(d / "deployment_commits", columns=["deployment_id", "sha"])
    shipped = dc.merge(ok, on="deployment_id")
    del dc
    commits = shipped.groupby(["team_id", "week"])["sha"].nunique().rename("commits_to_prod").reset_index()
    del shipped

    inc = pd.read_parquet(d / "incidents", columns=["service_id", "created_at"]).merge(svc, on="service_id")
    inc["week"] = monday(inc["created_at"])
    incidents = inc.groupby(["team_id", "week"]).size().rename("incidents").reset_index()
    del inc

    costs = pd.read_parquet(d / "costs")
    costs["week"] = pd.to_datetime(costs["period_start"])
    lic = costs[costs["kind"] == "license"].groupby(["scope_id", "week"])["amount"].sum().rename("license_cost")
    lic = lic.reset_index().rename(columns={"scope_id": "team_id"})

    p = people
    for part in (deploys, changes, commits, pages, incidents, ai, lic):
        p = p.merge(part, on=["team_id", "week"], how="left")
    p = p.fillna({c: 0 for c in ("deployments", "rollbacks", "changes_merged", "commits_to_prod", "pages", "incidents", "ai_active")})
    p["license_cost"] = p["license_cost"].fillna(0.0)
    p["cost"] = p["builders"] * 200_000 / 52 + p["license_cost"]
    p["units"] = p["deployments"]
    p["cts_sw"] = np.where(p["units"] > 0, p["cost"] / p["units"].where(p["units"] > 0), np.nan)
    p["velocity"] = p["changes_merged"] / p["builders"].where(p["builders"] > 0)
    tot = p["deployments"] + p["rollbacks"]
    p["rollback_rate"] = p["rollbacks"] / tot.where(tot > 0)
    p[["team_id", "week", *CHECK]].to_parquet(out)
    return {"rows": len(p)}


def _child(args: list[str]) -> dict:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--stage", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode < 0:  # killed by a signal: on this machine, the kernel's out-of-memory killer
        return {"failed": f"killed by signal {-r.returncode} after {wall:.0f} s (out of memory)", "wall_s": wall}
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


PANELS = ("panel_ibis", "panel_floor", "panel_polars", "panel_pandas")


def _same(ref: Path, other: Path, cols: list[str]) -> bool:
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(ref).sort_values(["team_id", "week"]).reset_index(drop=True)
    b = pd.read_parquet(other).sort_values(["team_id", "week"]).reset_index(drop=True)
    b["week"] = pd.to_datetime(b["week"])
    a["week"] = pd.to_datetime(a["week"])
    return bool(
        len(a) == len(b) and (a["team_id"] == b["team_id"]).all() and (a["week"] == b["week"]).all()
        and all(np.allclose(a[c].astype(float), b[c].astype(float), rtol=1e-9, atol=1e-9, equal_nan=True) for c in cols)
    )


def run(teams: int, weeks: int, *, reuse: bool = False, keep: bool = False, rounds: int = 1,
        data: Path = DATA, panels: tuple[str, ...] = PANELS) -> dict:
    from panel_peers import FLOOR_COLUMNS

    d = data / f"sim-{teams}x{weeks}"
    db = data / f"store-{teams}x{weeks}.duckdb"
    res = {"teams": teams, "weeks": weeks, "load_start": _load()}
    if reuse and db.exists():
        # panels only, on data an earlier run left with --keep (or built beforehand under --data)
        res["simulate"] = res["ingest"] = None
        truth = d / "truth.json"
        res["simulate_rows"] = sum(json.loads(truth.read_text())["rows"].values()) if truth.exists() else None
    else:
        shutil.rmtree(d, ignore_errors=True)
        res["simulate"] = _child(["simulate", str(teams), str(weeks), str(d)])
        res["simulate_rows"] = res["simulate"]["rows"]
        res["ingest"] = _child(["ingest", str(d), str(db)])
    if not d.exists():  # the store alone: the peers reading Parquet cannot run
        panels = tuple(x for x in panels if x in ("panel_ibis", "panel_floor"))
    runs: dict[str, list[dict]] = {k: [] for k in panels}
    for _ in range(rounds):  # interleaved, so a change in the machine's load hits every contender alike
        for k in panels:
            src = db if k in ("panel_ibis", "panel_floor") else d
            if runs[k] and "failed" in runs[k][-1]:
                continue  # out of memory once is enough
            runs[k].append(_child([k, str(src), str(data / f"p_{k}.parquet")]))
    for k in panels:
        ok = [r for r in runs[k] if "failed" not in r]
        res[k] = min(ok, key=lambda r: r["seconds"]) if ok else runs[k][0]
        res[k]["all_s"] = [round(r["seconds"], 2) for r in ok]
    for k in panels[1:]:
        if "failed" in res[k]:
            res[f"same_{k}"] = None
            continue
        cols = FLOOR_COLUMNS if k == "panel_floor" else CHECK
        res[f"same_{k}"] = _same(data / "p_panel_ibis.parquet", data / f"p_{k}.parquet", cols)
    if not keep and not reuse:
        shutil.rmtree(d, ignore_errors=True)
        db.unlink(missing_ok=True)
    return res


def table(results: list[dict]) -> str:
    lines = [
        "## Pipeline: simulate + ingest + panel",
        "",
        "Seconds inside each stage (interpreter start excluded; best of the rounds, run interleaved) and peak "
        "memory (max RSS of the stage's own process). The Ibis/DuckDB panel is compared with the floor, one "
        "hand-written DuckDB query of the same 32 panel columns over the same store "
        "(`benchmarks/panel_peers.py`), and with the peers a user would write without a database, polars "
        "and pandas, reading the same canonical Parquet tables and computing the core counts and ratios "
        "(builders, on-call builders, deployments, rollbacks, merged changes, commits that reached "
        "production, pages, incidents, AI users, cost, CTS-SW, velocity, rollback rate). `same` says "
        "whether each agrees with the Ibis panel on every one of its columns (to 1e-9).",
        "",
        "| teams × weeks | raw rows | simulate s (GiB) | ingest s (GiB) | panel Ibis/DuckDB s (GiB) | floor: one DuckDB query s (GiB) | polars s (GiB) | pandas s (GiB) | Ibis ÷ floor | polars ÷ Ibis | pandas ÷ Ibis | same (floor, polars, pandas) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        def c(k):
            if k not in r:
                return "—"
            if r[k] is None:
                return "reused"
            if "failed" in r[k]:
                return r[k]["failed"]
            return f"{r[k]['seconds']:.1f} ({r[k]['max_rss_gib']:.2f})"

        def ratio(a, b):
            if a not in r or b not in r or "failed" in r[a] or "failed" in r[b]:
                return "—"
            return f"{r[a]['seconds'] / r[b]['seconds']:.2f}"
        rows = f"{r['simulate_rows']:,}" if r.get("simulate_rows") else "—"
        same = ", ".join(str(r.get(f"same_{k}", "—")) for k in ("panel_floor", "panel_polars", "panel_pandas"))
        lines.append(
            f"| {r['teams']:,} × {r['weeks']} | {rows} | {c('simulate')} | {c('ingest')} | "
            f"{c('panel_ibis')} | {c('panel_floor')} | {c('panel_polars')} | {c('panel_pandas')} | "
            f"{ratio('panel_ibis', 'panel_floor')} | {ratio('panel_polars', 'panel_ibis')} | "
            f"{ratio('panel_pandas', 'panel_ibis')} | {same} |"
        )
    runs = "; ".join(
        f"{r['teams']:,}: " + ", ".join(f"{k.removeprefix('panel_')} {r[k]['all_s']}" for k in PANELS if k in r and "all_s" in r[k])
        for r in results
    )
    loads = "; ".join(f"{r['teams']:,}: {r.get('load_start', '?')}" for r in results)
    lines += ["", f"All rounds (s): {runs}.", f"Load average (1, 5, 15 min) when each size started: {loads}."]
    return "\n".join(lines) + "\n"


def _load() -> str:
    import os

    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--stage":
        name, *rest = sys.argv[2:]
        t = time.perf_counter()
        sys.path.insert(0, str(HERE))  # panel_peers
        if name == "simulate":
            out = stage_simulate(int(rest[0]), int(rest[1]), Path(rest[2]))
        else:
            out = globals()[f"stage_{name}"](*map(Path, rest))
        out["seconds"] = time.perf_counter() - t
        out["max_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(json.dumps(out))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, nargs="+", default=[1000],
                    help="10000 too with --data DIR --reuse on a store built once (simulate + ingest take minutes)")
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--keep", action="store_true", help="keep the simulated data and store under .bench-data/")
    ap.add_argument("--reuse", action="store_true", help="time the panels on data kept by an earlier --keep run")
    ap.add_argument("--data", type=Path, default=DATA,
                    help="folder of sim-TxW/ and store-TxW.duckdb (e.g. stores built once outside the repo)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is reported")
    ap.add_argument("--panels", nargs="+", default=list(PANELS), choices=PANELS)
    a = ap.parse_args()
    a.data.mkdir(exist_ok=True)
    load = _load()
    results = [run(t, a.weeks, reuse=a.reuse, keep=a.keep, rounds=a.rounds, data=a.data, panels=tuple(a.panels))
               for t in a.teams]
    print(f"load average at the start: {load}")
    md = table(results)
    (HERE / "results").mkdir(exist_ok=True)
    write_latest(HERE / "results" / "pipeline.md", md)
    (HERE / "results" / "pipeline.json").write_text(json.dumps(results, indent=2))
    print(md)


if __name__ == "__main__":
    main()
