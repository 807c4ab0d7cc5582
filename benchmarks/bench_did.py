"""Callaway-Sant'Anna, not-yet-treated controls, analytic SEs: ctssw vs diff-diff vs moderndid.

    .venv/bin/python benchmarks/bench_did.py --teams 10000 --weeks 260 --out benchmarks/results/did.md

Data: the simulator's team-week panel (10,000 teams x 260 weeks, 8 rollout
cohorts plus never treated), outcome deploys_per_builder, cohort = rollout
week. Each library gets the long DataFrame and is timed on its call alone
(best of --repeat); every library must give the same ATT(g,t) and simple ATT.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _marks import write_latest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

COHORTS = (0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85)


def data(teams: int, weeks: int, seed: int) -> pd.DataFrame:
    from ctssw.simulate import simulate_panel

    p, _ = simulate_panel(teams=teams, weeks=weeks, seed=seed, cohorts=COHORTS)
    t = (p["week"] - p["week"].min()).dt.days // 7 + 1
    return pd.DataFrame({"unit": pd.factorize(p["team_id"])[0], "t": t.astype(int), "y": p["deploys_per_builder"].astype(float), "g": np.where(p["cohort_week"] >= 0, p["cohort_week"] + 1, 0).astype(int)})


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run_ctssw(d: pd.DataFrame):
    from ctssw.estimators.did import staggered_did

    r = staggered_did(d, y="y", unit="unit", time="t", cohort="g", control="notyet", bootstrap=0)
    s = r.aggregate("simple")
    return r.att_gt.set_index(["group", "time"])["att"], s.overall.estimate, s.overall.std_error


def run_diff_diff(d: pd.DataFrame):
    import diff_diff as dd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = dd.CallawaySantAnna(control_group="not_yet_treated", estimation_method="reg", n_bootstrap=0).fit(d, outcome="y", unit="unit", time="t", first_treat="g")
    tab = r.to_dataframe().set_index(["group", "time"])["effect"]
    return tab, float(r.att), float(r.se)


def run_moderndid(d: pd.DataFrame):
    import moderndid as md

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = md.att_gt(data=d, yname="y", tname="t", idname="unit", gname="g", est_method="reg", control_group="notyettreated", boot=False, cband=False)
        a = md.aggte(r, type="simple", boot=False, cband=False)
    tab = pd.Series(r.att_gt, index=pd.MultiIndex.from_arrays([r.groups.astype(int), r.times.astype(int)], names=["group", "time"]))
    return tab, float(a.overall_att), float(a.overall_se)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=10_000)
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--peers", nargs="*", default=["diff-diff", "moderndid"])
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    d = data(a.teams, a.weeks, a.seed)
    runners = {"ctssw": run_ctssw, "diff-diff": run_diff_diff, "moderndid": run_moderndid}
    res = {}
    for name in ["ctssw", *a.peers]:
        secs, out = best(lambda f=runners[name]: f(d), a.repeat if name != "moderndid" else 1)
        res[name] = (secs, *out)
        print(f"{name}: {secs:.2f} s, simple ATT {out[1]:.6f} (SE {out[2]:.6f}), {len(out[0])} cells", flush=True)
    ref = res["ctssw"][1]
    lines = [
        "# Benchmark: Callaway-Sant'Anna, not-yet-treated, analytic SEs",
        "",
        f"`{' '.join(['.venv/bin/python', 'benchmarks/bench_did.py'] + (argv or sys.argv[1:]))}`",
        "",
        f"{a.teams:,} teams x {a.weeks} weeks ({len(d):,} rows), 8 rollout cohorts plus never treated, "
        "outcome deploys_per_builder, no covariates, ATT(g,t) with influence-function SEs and the simple aggregate. "
        f"Each call timed alone on the long DataFrame (best of {a.repeat}; moderndid once), 2 cores shared with other work.",
        "",
        "| library | seconds | x ctssw | simple ATT | SE | cells | max abs diff ATT(g,t) vs ctssw |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (secs, tab, att, se) in res.items():
        common = ref.index.intersection(tab.index)
        diff = float(np.max(np.abs(ref.loc[common].to_numpy() - tab.loc[common].to_numpy()))) if len(common) else float("nan")
        lines.append(f"| {name} | {secs:.2f} | {secs / res['ctssw'][0]:.1f} | {att:.8f} | {se:.8f} | {len(tab)} | {diff:.1e} |")
    lines.append("")
    md = "\n".join(lines) + "\n"
    print(md)
    if a.out:
        write_latest(a.out, md)


if __name__ == "__main__":
    main()
