"""Time ctssw's LMM against statsmodels, mixedlm, mixedlm-rs and lme4 on the same data.

Two parts. ``single``: ``y ~ x + (x | g)`` by REML on simulated data (one
grouping factor, the per-group sufficient-statistics path). Each size is
generated with a fixed seed; every tool is warmed up on a small fit first,
then timed on the fit call alone (data already in memory). Fast tools report
the median of ``--repeats`` runs, slow ones a single run. Estimates are
checked against ctssw. ``crossed``: lme4's InstEval (73,421 ratings, 2,972
students crossed with 1,128 lecturers), ``y ~ service + (1 | s) + (1 | d)``
by REML, ctssw against lme4 (R exports the data, so it needs Debian's
r-cran-lme4), and a simulated team × week panel, ``y ~ x + (1 | team) +
(1 | week)`` with 2,000 teams × 260 weeks, both compared on the REML
criterion, θ and the fixed effects.
Writes markdown to stdout and to ``benchmarks/results/lmm.md``; running one
part keeps the other part's section from the previous run.

    python benchmarks/bench_lmm.py [--repeats 3] [--skip-slow] [--only single|crossed]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _marks import write_latest

from ctssw.estimators.lmm import lmm

FORMULA = "y ~ x + (x | g)"
# (groups, rows per group); statsmodels is skipped where it is known to take minutes
SIZES = [(1_000, 100), (10_000, 100), (100_000, 10), (10_000, 260)]
STATSMODELS_MAX_GROUPS = 10_000
RESULTS = Path(__file__).resolve().parent / "results" / "lmm.md"

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1]); d$g <- factor(d$g)
invisible(lmer(y ~ x + (x | g), d[d$g %in% levels(d$g)[1:50], ]))
t <- system.time(m <- lmer(y ~ x + (x | g), d))[["elapsed"]]
cat(toJSON(list(seconds = t, fixef = unname(fixef(m)), sigma2 = sigma(m)^2), digits = NA, auto_unbox = TRUE))
"""


def make_data(groups: int, per: int, seed: int = 20260101) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    b0 = rng.normal(scale=1.0, size=groups)
    b1 = 0.4 * b0 + rng.normal(scale=0.3, size=groups)
    y = 1.0 + 0.5 * x + b0[g] + b1[g] * x + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "g": g})


# -- one fit per tool: returns (fixed effects [intercept, slope], residual variance)
def fit_ctssw(d):
    r = lmm(FORMULA, d)
    return r.params.to_numpy(), r.sigma2


def fit_statsmodels(d):
    import statsmodels.formula.api as smf

    r = smf.mixedlm("y ~ x", d, groups=d["g"], re_formula="~x").fit(reml=True)
    return r.fe_params.to_numpy(), r.scale


def fit_mixedlm(d):
    import mixedlm

    r = mixedlm.lmer(FORMULA, d)
    fe = r.fixef()
    return np.array([fe["(Intercept)"], fe["x"]]), r.get_sigma() ** 2


def fit_mixedlm_rs(d):
    import mixedlm_rs

    r = mixedlm_rs.mixedlm("y ~ x", d, groups=d["g"], re_formula="~x").fit(reml=True)
    return np.asarray(r.fe_params), r.scale


PY_TOOLS = {
    "ctssw": (fit_ctssw, "ctssw"),
    "mixedlm-rs": (fit_mixedlm_rs, "mixedlm-rs"),
    "mixedlm": (fit_mixedlm, "mixedlm"),
    "statsmodels": (fit_statsmodels, "statsmodels"),
}


def available(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def time_py(fn, d, repeats: int):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(d)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times), out


def run_lme4(d: pd.DataFrame):
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        d.to_csv(csv, index=False)
        script = Path(tmp) / "fit.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(csv)], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res["seconds"], 1, (np.asarray(res["fixef"]), res["sigma2"])


def peak_mib(fn, d) -> float:
    tracemalloc.start()
    fn(d)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


R_CROSSED = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(TRUE)  # csv, formula, "insteval" or the grouping columns to make factors
if (args[3] == "insteval") {
  data(InstEval, package = "lme4")
  d <- InstEval
  write.csv(d[, c("s", "d", "service", "y")], args[1], row.names = FALSE)
} else {
  d <- read.csv(args[1])
  for (g in strsplit(args[3], ",")[[1]]) d[[g]] <- factor(d[[g]])
}
f <- as.formula(args[2])
invisible(lmer(f, d[1:5000, ]))
t <- system.time(m <- lmer(f, d))[["elapsed"]]
cat(toJSON(list(seconds = t, criterion = REMLcrit(m), theta = unname(getME(m, "theta")),
                fixef = unname(fixef(m)), names = names(getME(m, "theta"))), digits = NA, auto_unbox = TRUE))
"""
# (name, lme4 formula, ctssw formula, R's third argument); the team x week panel is simulated here
CROSSED = [
    ("InstEval", "y ~ service + (1 | s) + (1 | d)", "y ~ C(service) + (1 | s) + (1 | d)", "insteval"),
    ("teams × weeks", "y ~ x + (1 | team) + (1 | week)", "y ~ x + (1 | team) + (1 | week)", "team,week"),
]


def make_team_weeks(teams: int = 2_000, weeks: int = 260, seed: int = 20260102) -> pd.DataFrame:
    """A team × week panel with team and calendar shocks: y = 1 + 0.5 x + a_team + b_week + e."""
    rng = np.random.default_rng(seed)
    team = np.repeat(np.arange(teams), weeks)
    week = np.tile(np.arange(weeks), teams)
    x = rng.normal(size=team.size)
    y = 1 + 0.5 * x + rng.normal(size=teams)[team] + rng.normal(scale=0.3, size=weeks)[week] + rng.normal(size=team.size)
    return pd.DataFrame({"y": y, "x": x, "team": team, "week": week})


def _crossed_row(name: str, formula_r: str, formula: str, how: str, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        if how != "insteval":
            make_team_weeks().to_csv(csv, index=False)
        script = Path(tmp) / "fit.R"
        script.write_text(R_CROSSED)
        out = subprocess.run(["Rscript", str(script), str(csv), formula_r, how], capture_output=True, text=True, check=True)
        ref = json.loads(out.stdout.strip().splitlines()[-1])
        d = pd.read_csv(csv)
    print(f"{len(d):>9} {'lme4 ' + name:20s} {ref['seconds']:8.3f} s", file=sys.stderr, flush=True)
    lmm(formula, d.iloc[:5000])
    secs, runs, res = time_py(lambda x: lmm(formula, x), d, repeats)
    print(f"{len(d):>9} {'ctssw ' + name:20s} {secs:8.3f} s", file=sys.stderr, flush=True)
    theta = res.theta.rename(lambda k: k.split(".")[0])
    mine = np.array([theta[n.split(".")[0]] for n in ref["names"]])
    groups = [c for c in ("s", "d", "team", "week") if c in d.columns]
    return {
        "name": name,
        "formula": formula_r,
        "rows": len(d),
        "levels": " × ".join(f"{d[g].nunique():,} {g}" for g in groups),
        "ctssw": secs,
        "runs": runs,
        "lme4": ref["seconds"],
        "criterion": res.reml_criterion,
        "lme4_criterion": ref["criterion"],
        "dcrit": abs(res.reml_criterion - ref["criterion"]) / abs(ref["criterion"]),
        "dtheta": float(np.max(np.abs(mine - np.asarray(ref["theta"])) / np.asarray(ref["theta"]))),
        "dfe": float(np.max(np.abs(res.params.to_numpy() - np.asarray(ref["fixef"])) / res.std_errors.to_numpy())),
        "n_eval": res.n_eval,
        "converged": res.converged,
    }


def crossed(repeats: int) -> str:
    """Crossed random effects: ctssw against lme4 on the same data, as a markdown section."""
    rows = [_crossed_row(*case, repeats) for case in CROSSED]
    load = os.getloadavg()
    lines = [
        "## LMM, crossed random effects, REML: ctssw against lme4",
        "",
        "lme4's InstEval (ratings of lecturers d by students s) and a simulated team × week panel with "
        "team and calendar shocks (seed 20260102). Times are for the fit call alone after a warm-up "
        f"fit on the first 5,000 rows; ctssw: median of {repeats} runs, lme4 (default optimizer): one "
        "run. Differences are ctssw against lme4. Load average at the end: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
        "",
        "| data | model | rows | levels | ctssw s | lme4 s | lme4 × ctssw | REML criterion | rel. diff criterion "
        "| max rel. diff θ | max diff β / SE | ctssw evaluations |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | `{r['formula'].replace('|', chr(92) + '|')}` | {r['rows']:,} | {r['levels']} | {r['ctssw']:.2f} | {r['lme4']:.2f} "
            f"| {r['lme4'] / r['ctssw']:.1f} | {r['criterion']:.6f} | {r['dcrit']:.1e} | {r['dtheta']:.1e} "
            f"| {r['dfe']:.1e} | {r['n_eval']}{'' if r['converged'] else ' (not converged)'} |"
        )
    return "\n".join(lines) + "\n"


def _keep(old: str, heading: str) -> str:
    """The section of a previous results file that starts with ``heading``."""
    parts = old.split("\n## ")
    for i, part in enumerate(parts):
        text = part if i == 0 else "## " + part
        if text.startswith(heading):
            return text.rstrip() + "\n"
    return ""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-slow", action="store_true", help="skip statsmodels and lme4")
    ap.add_argument("--only", choices=["single", "crossed"], help="run one part, keep the other's last results")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    old = RESULTS.read_text() if RESULTS.exists() else ""
    have_r = shutil.which("Rscript") is not None
    if args.only == "crossed":
        single = _keep(old, "## LMM: `y ~ x + (x | g)`")
    else:
        single = run_single(args)
    if args.only == "single":
        cross = _keep(old, "## LMM, crossed")
    elif have_r and not args.skip_slow:
        cross = crossed(args.repeats)
    else:
        cross = ""
    text = single.rstrip() + "\n" + ("\n" + cross if cross else "")
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_latest(RESULTS, text)


def run_single(args) -> str:

    tools = {k: v for k, v in PY_TOOLS.items() if available(v[1])}
    slow = {"statsmodels"}
    have_r = shutil.which("Rscript") is not None and not args.skip_slow
    small = make_data(50, 20, seed=1)
    for name, (fn, _) in tools.items():
        fn(small)

    rows = []
    for groups, per in SIZES:
        d = make_data(groups, per)
        ref = None
        for name, (fn, _) in tools.items():
            if name in slow and (args.skip_slow or groups > STATSMODELS_MAX_GROUPS):
                rows.append({"rows": len(d), "groups": groups, "tool": name, "seconds": None, "runs": 0})
                continue
            secs, runs, (fe, s2) = time_py(fn, d, 1 if name in slow else args.repeats)
            if ref is None:
                ref = (fe, s2)
            rows.append(_row(d, groups, name, secs, runs, fe, s2, ref))
            print(f"{len(d):>9} {name:12s} {secs:8.3f} s", file=sys.stderr, flush=True)
        if have_r:
            secs, runs, (fe, s2) = run_lme4(d)
            rows.append(_row(d, groups, "lme4", secs, runs, fe, s2, ref))
            print(f"{len(d):>9} {'lme4':12s} {secs:8.3f} s", file=sys.stderr, flush=True)
        mine = next(r for r in rows if r["tool"] == "ctssw" and r["rows"] == len(d) and r["groups"] == groups)
        mine["peak_mib"] = peak_mib(fit_ctssw, d)
    return render(pd.DataFrame(rows), tools, have_r, args.repeats, os.getloadavg())


def _row(d, groups, name, secs, runs, fe, s2, ref):
    dfe = float(np.max(np.abs(fe - ref[0]) / np.maximum(np.abs(ref[0]), 1e-12)))
    return {
        "rows": len(d),
        "groups": groups,
        "tool": name,
        "seconds": secs,
        "runs": runs,
        "max_rel_diff_fixef": dfe,
        "rel_diff_sigma2": abs(s2 - ref[1]) / ref[1],
    }


def render(df: pd.DataFrame, tools, have_r: bool, repeats: int, load: tuple[float, float, float]) -> str:
    versions = {v[1]: available(v[1]) for v in tools.values()}
    if have_r:
        out = subprocess.run(
            ["Rscript", "-e", 'cat(R.version.string, "| lme4", as.character(packageVersion("lme4")))'],
            capture_output=True,
            text=True,
        )
        versions["R"] = out.stdout.strip()
    lines = [
        "## LMM: `y ~ x + (x | g)`, REML",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}. Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        f"Times are for the fit call alone, after a warm-up fit; ctssw, mixedlm and mixedlm-rs: median of "
        f"{repeats} runs; statsmodels and lme4: one run. Differences are relative to ctssw's estimates. "
        f"Peak memory: Python allocations traced during one ctssw fit (tracemalloc). "
        f"Load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min).",
        "",
        "| rows | groups | tool | seconds | × ctssw | max rel. diff β | rel. diff σ² | peak MiB |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for (rows, groups), sub in df.groupby(["rows", "groups"], sort=False):
        base = float(sub.loc[sub["tool"] == "ctssw", "seconds"].iloc[0])
        for r in sub.itertuples():
            if r.seconds is None or pd.isna(r.seconds):
                lines.append(f"| {rows:,} | {groups:,} | {r.tool} | skipped | | | | |")
                continue
            peak = getattr(r, "peak_mib", float("nan"))
            lines.append(
                f"| {rows:,} | {groups:,} | {r.tool} | {r.seconds:.3f} | {r.seconds / base:.1f} | "
                f"{r.max_rel_diff_fixef:.1e} | {r.rel_diff_sigma2:.1e} | "
                + ("" if pd.isna(peak) else f"{peak:.0f}")
                + " |"
            )
    lines.append("")
    lines.append(
        f"statsmodels skipped above {STATSMODELS_MAX_GROUPS:,} groups (about 300 s at 100,000 groups of 10 "
        "on this machine kind)."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
