"""git connector vs PyDriller vs bare ``git log --numstat`` on a synthetic 100,000-commit repository.

The repository is written with ``git fast-import`` (seconds), with several files changed per
commit, binary blobs, merge commits and squash-merge subjects. Timings are wall-clock, one run
each, after one warm-up ``git log`` so every contender reads a warm object store.

Run:  .venv/bin/python benchmarks/bench_git.py [--commits 100000] [--pydriller-slice 3000]
Writes benchmarks/results/git.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FMT = "--format=\x1e%H\x1f%P\x1f%an\x1f%ae\x1f%aI\x1f%cI\x1f%s"


def build_repo(path: Path, n: int, seed: int = 0) -> None:
    """A linear history with a merged pull request every 200 commits, written by fast-import."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    dirs = [f"svc{i}/src" for i in range(20)] + [f"web/app{i}" for i in range(5)]
    files = [f"{d}/f{j}.py" for d in dirs for j in range(40)]
    content = {f: [f"line {i}" for i in range(rng.randint(5, 40))] for f in files}
    authors = [(f"dev{i}", f"dev{i}@corp.example") for i in range(300)]
    t0 = 1_600_000_000
    proc = subprocess.Popen(["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    out = proc.stdin
    assert out is not None
    w = out.write
    mark = 0
    main_tip = None
    pr = 0

    def blob(data: bytes) -> int:
        nonlocal mark
        mark += 1
        w(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
        return mark

    def commit(ref: bytes, msg: str, who, when: int, changes: list[tuple[str, int]], parents: list[int]) -> int:
        nonlocal mark
        mark += 1
        m = msg.encode()
        ident = f"{who[0]} <{who[1]}> {when} +0000".encode()
        w(b"commit %s\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n%s\n" % (ref, mark, ident, ident, len(m), m))
        if parents:
            w(b"from :%d\n" % parents[0])
            for p in parents[1:]:
                w(b"merge :%d\n" % p)
        for f, b in changes:
            w(b"M 100644 :%d %s\n" % (b, f.encode()))
        w(b"\n")
        return mark

    i = 0
    while i < n:
        when = t0 + i * 600
        who = rng.choice(authors)
        k = rng.randint(1, 4)
        changes = []
        for f in rng.sample(files, k):
            lines = content[f]
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(lines) + 1)
                if rng.random() < 0.6 or len(lines) < 3:
                    lines.insert(pos, f"edit {i} {rng.random():.6f}")
                else:
                    del lines[min(pos, len(lines) - 1)]
            changes.append((f, blob(("\n".join(lines) + "\n").encode())))
        if i % 97 == 0:
            changes.append((f"assets/img{i % 50}.bin", blob(bytes(rng.getrandbits(8) for _ in range(64)) + b"\0")))
        if i % 200 == 199 and main_tip is not None:
            # a pull request: one commit on a branch, merged with a merge commit
            pr += 1
            side = commit(b"refs/heads/pr", f"feature work {i}", who, when, changes, [main_tip])
            main_tip = commit(b"refs/heads/main", f"Merge pull request #{pr} from dev/feature-{pr}", rng.choice(authors), when + 60, [], [main_tip, side])
            i += 2
            continue
        if i % 50 == 7:
            pr += 1
            msg = f"Change {i} (#{pr})"
        else:
            msg = f"Change {i}"
        main_tip = commit(b"refs/heads/main", msg, who, when, changes, [main_tip] if main_tip else [])
        i += 1
    w(b"reset HEAD\nfrom :%d\n\n" % main_tip)
    out.close()
    if proc.wait() != 0:
        raise SystemExit("fast-import failed")
    subprocess.run(["git", "-C", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def git_floor(repo: Path) -> tuple[float, int]:
    def run():
        p = subprocess.run(
            ["git", "-C", str(repo), "log", "--no-renames", "--numstat", FMT, "HEAD"], stdout=subprocess.PIPE, check=True
        )
        return p.stdout.count(b"\x1e")

    return timed(run)


def ours(repo: Path, db: Path) -> tuple[float, float, int]:
    from ctssw.sources import git
    from ctssw.store import Store, load_git

    t_read, tables = timed(lambda: git.read(repo))
    if db.exists():
        db.unlink()

    def full():
        with Store(db) as s:
            return load_git(s, repo)

    t_all, counts = timed(full)
    n = {c.table: c for c in counts}["commits"].loaded
    assert n == tables["commits"].num_rows
    return t_read, t_all, n


def pydriller_slice(repo: Path, k: int) -> tuple[float, int, int, int]:
    from pydriller import Repository

    def run():
        n = a = d = 0
        for c in Repository(str(repo), only_in_branch="main", order="reverse").traverse_commits():
            a += c.insertions
            d += c.deletions
            n += 1
            if n >= k:
                break
        return n, a, d

    t, (n, a, d) = timed(run)
    return t, n, a, d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=100_000)
    ap.add_argument("--pydriller-slice", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repo", type=Path, default=Path(tempfile.gettempdir()) / "ctssw-bench-git-100k.git")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "git.md")
    args = ap.parse_args()
    repo = args.repo
    built = 0.0
    if not (repo / "HEAD").exists():
        built, _ = timed(lambda: build_repo(repo, args.commits))
    n_total = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True, check=True).stdout)
    git_floor(repo)  # warm the object store for everyone
    # the machine is shared: each of ours and the floor is the best of --repeat runs, interleaved
    floors, reads, loads = [], [], []
    for _ in range(args.repeat):
        t_floor, n_floor = git_floor(repo)
        floors.append(t_floor)
        with tempfile.TemporaryDirectory() as d:
            t_read, t_all, n_ours = ours(repo, Path(d) / "bench.duckdb")
        reads.append(t_read)
        loads.append(t_all)
    t_floor, t_read, t_all = min(floors), min(reads), min(loads)
    # PyDriller on the newest commits only; its cost per commit is flat, so the full run is extrapolated
    t_py, n_py, a_py, d_py = pydriller_slice(repo, args.pydriller_slice)
    from ctssw.sources import git as g

    tab = g.read(repo)["commits"].slice(0, n_py)
    a_us, d_us = sum(tab.column("additions").to_pylist()), sum(tab.column("deletions").to_pylist())
    t_py_full = t_py / n_py * n_total
    rows = [
        ("`git log --numstat` (the floor)", t_floor, n_floor, "measured"),
        ("ctssw `git.read` (parse to Arrow)", t_read, n_ours, "measured"),
        ("ctssw `load_git` (parse + validate + pseudonymise + store)", t_all, n_ours, "measured"),
        (f"PyDriller 2.x (`insertions`/`deletions`), {n_py:,} newest commits", t_py, n_py, "measured"),
        (f"PyDriller, all {n_total:,} commits", t_py_full, n_total, f"**extrapolated** from the {n_py:,}-commit slice"),
    ]
    lines = [
        "# git connector benchmark",
        "",
        f"Synthetic repository: {n_total:,} commits on HEAD ("
        + (f"built with `git fast-import` in {built:.1f} s" if built else "built earlier by this script with `git fast-import`, reused")
        + "), 1–4 files changed per commit, a binary blob every 97 commits,",
        "a merged pull request every 200 commits and a squash-merge subject every 50.",
        (
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{subprocess.run(['git', '--version'], capture_output=True, text=True, check=False).stdout.strip()}. "
            f"Best of {args.repeat} runs for git and ctssw, one run for PyDriller; warm object store."
        ),
        "",
        "| contender | seconds | commits | per 1k commits | × floor | how |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, t, n, how in rows:
        lines.append(f"| {name} | {t:.2f} | {n:,} | {t / n * 1000:.3f} s | {t / (t_floor / n_floor * n):.2f} | {how} |")
    lines += [
        "",
        (
            f"- ctssw load vs PyDriller (full, extrapolated): **{t_py_full / t_all:.0f}× faster**; "
            f"ctssw load / git floor: **{t_all / t_floor:.2f}×**."
        ),
        f"- Same numbers: on the {n_py:,}-commit slice PyDriller counts {a_py:,} insertions / {d_py:,} deletions, "
        f"ctssw {a_us:,} / {d_us:,}" + (" (equal)." if (a_py, d_py) == (a_us, d_us) else " (they differ; see note)."),
        (
            "- ctssw streams `git log --no-renames --numstat` (one process per repository; a history of 20,000+ commits "
            "is split into contiguous slices read by up to 4 processes side by side, so it can beat the single-process "
            "floor); PyDriller runs a diff per commit through GitPython."
        ),
        f"- Load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()
