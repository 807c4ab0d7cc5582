"""git connector vs PyDriller vs bare ``git log --numstat``, on real public repositories and a synthetic one.

Real repositories (default pypa/pip and psf/requests) are bare mirrors already on this
machine, found as ``OWNER+NAME/repo`` under ``--mirrors`` (default ``$CTSSW_BENCH_MIRRORS``,
else ``/work/.mirror``); nothing is downloaded, and a missing one is named and left out.
PyDriller needs a working tree, so it reads a local clone of each (made untimed in a
temporary folder). The synthetic repository is written with ``git fast-import``, with
several files changed per commit, binary blobs, merge commits and squash-merge subjects.
Timings are wall-clock after one warm-up ``git log``, so every contender reads a warm
object store.

Run:  .venv/bin/python benchmarks/bench_git.py [--real OWNER/NAME ...] [--commits 100000] [--pydriller-slice 2000]
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

from _marks import write_latest

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
    c = {c.table: c for c in counts}["commits"]
    # every commit read is stored or quarantined with its reason
    assert c.loaded + c.quarantined == tables["commits"].num_rows, c
    return t_read, t_all, c.loaded, c.quarantined


def pydriller_slice(repo: Path, k: int) -> tuple[float, dict[str, tuple[int, int]]]:
    """PyDriller over the ``k`` newest commits of HEAD's branch: seconds, and sha -> (insertions, deletions).

    PyDriller needs a working tree, so a bare repository is first cloned locally
    (hard links, untimed) into a temporary folder.
    """
    from pydriller import Repository

    branch = subprocess.run(["git", "-C", str(repo), "symbolic-ref", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="ctssw-bench-pydriller-") as d:
        work = Path(d) / "clone"
        subprocess.run(["git", "clone", "-q", "--branch", branch, str(repo), str(work)], check=True)

        def run():
            seen = {}
            for c in Repository(str(work), only_in_branch=branch, order="reverse").traverse_commits():
                seen[c.hash] = (c.insertions, c.deletions, c.merge)
                if len(seen) >= k:
                    break
            return seen

        t, seen = timed(run)
    return t, seen


def _numstat(repo: Path, sha: str, *opts: str) -> tuple[int, int]:
    out = subprocess.run(["git", "-C", str(repo), "show", "--format=", "--numstat", *opts, sha],
                         capture_output=True, text=True, check=True).stdout
    a = d = 0
    for line in out.splitlines():
        x, y, *_ = line.split("\t")
        a += int(x) if x.isdigit() else 0
        d += int(y) if y.isdigit() else 0
    return a, d


def find_real_repos(names: list[str], roots: list[Path]) -> tuple[list[tuple[str, Path]], list[str]]:
    """Bare mirrors of public repositories already on this machine (``owner+name/repo`` under a root)."""
    found, missing = [], []
    for name in names:
        hit = next((r / name.replace("/", "+") / "repo" for r in roots
                    if (r / name.replace("/", "+") / "repo" / "HEAD").exists()), None)
        (found.append((name, hit)) if hit else missing.append(name))
    return found, missing


def measure(label: str, repo: Path, repeat: int, k: int) -> dict:
    """The floor, ctssw's read and load (best of ``repeat``, interleaved) and PyDriller on ``k`` commits."""
    n_total = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True, check=True).stdout)
    git_floor(repo)  # warm the object store for everyone
    floors, reads, loads = [], [], []
    for _ in range(repeat):
        t_floor, n_floor = git_floor(repo)
        floors.append(t_floor)
        with tempfile.TemporaryDirectory() as d:
            t_read, t_all, n_ours, n_quarantined = ours(repo, Path(d) / "bench.duckdb")
        reads.append(t_read)
        loads.append(t_all)
    t_py, seen = pydriller_slice(repo, k)
    from ctssw.sources import git as g

    commits = g.read(repo)["commits"].select(["sha", "additions", "deletions", "is_merge"]).to_pylist()
    ours_by_sha = {c["sha"]: c for c in commits}
    # merge commits: PyDriller diffs against the first parent, `git log --numstat` lists no lines; compare the rest
    plain = [h for h, v in seen.items() if not v[2] and h in ours_by_sha]
    a_py = sum(seen[h][0] for h in plain)
    d_py = sum(seen[h][1] for h in plain)
    a_us = sum(ours_by_sha[h]["additions"] or 0 for h in plain)
    d_us = sum(ours_by_sha[h]["deletions"] or 0 for h in plain)
    differ = [h for h in plain if (seen[h][0], seen[h][1]) != (ours_by_sha[h]["additions"] or 0, ours_by_sha[h]["deletions"] or 0)]
    # where they differ, does git's own rename-detecting count (-M) give PyDriller's figure?
    renames = sum(_numstat(repo, h, "-M") == seen[h][:2] for h in differ)
    return dict(
        label=label, repo=repo, n_total=n_total, n_floor=n_floor, n_ours=n_ours, n_quarantined=n_quarantined,
        t_floor=min(floors), t_read=min(reads), t_all=min(loads), floors=floors, loads=loads,
        t_py=t_py, n_py=len(seen), t_py_full=t_py / len(seen) * n_total,
        plain=len(plain), a_py=a_py, d_py=d_py, a_us=a_us, d_us=d_us, differ=len(differ), renames=renames,
    )


def table(m: dict) -> list[str]:
    n_py, n_total, t_floor, n_floor = m["n_py"], m["n_total"], m["t_floor"], m["n_floor"]
    rows = [
        ("`git log --numstat` (the floor)", t_floor, n_floor, "measured"),
        ("ctssw `git.read` (parse to Arrow)", m["t_read"], m["n_ours"], "measured"),
        ("ctssw `load_git` (parse + validate + pseudonymise + store)", m["t_all"], m["n_ours"], "measured"),
        (f"PyDriller 2.x (`insertions`/`deletions`), {n_py:,} newest commits", m["t_py"], n_py, "measured"),
    ]
    if n_py < n_total:
        rows.append((f"PyDriller, all {n_total:,} commits", m["t_py_full"], n_total, f"**extrapolated** from the {n_py:,}-commit slice"))
    lines = ["| contender | seconds | commits | per 1k commits | × floor | how |", "|---|---:|---:|---:|---:|---|"]
    for name, t, n, how in rows:
        lines.append(f"| {name} | {t:.2f} | {n:,} | {t / n * 1000:.3f} s | {t / (t_floor / n_floor * n):.2f} | {how} |")
    same = (m["a_py"], m["d_py"]) == (m["a_us"], m["d_us"])
    lines += [
        "",
        f"- ctssw load vs PyDriller ({'full, extrapolated' if n_py < n_total else 'full'}): "
        f"**{m['t_py_full'] / m['t_all']:.1f}× faster**; ctssw load / git floor: **{m['t_all'] / t_floor:.2f}×** "
        f"(floor runs {', '.join(f'{x:.2f}' for x in m['floors'])} s; load runs {', '.join(f'{x:.2f}' for x in m['loads'])} s).",
        f"- Same numbers: on the {m['plain']:,} non-merge commits of PyDriller's slice, PyDriller counts {m['a_py']:,} insertions / "
        f"{m['d_py']:,} deletions, ctssw {m['a_us']:,} / {m['d_us']:,}"
        + (" (equal)." if same else (
            f" ({m['differ']:,} commits differ; in {m['renames']:,} of them `git show --numstat -M` gives PyDriller's "
            "figure: PyDriller counts a renamed file's changed lines only, ctssw (`--no-renames`) counts it as deleted and added).")),
    ]
    if m["n_quarantined"]:
        lines.append(f"- {m['n_quarantined']:,} commit(s) went to the store's quarantine table with their reason "
                     "(counted in the read time, not in the load's commit count).")
    return lines


REAL = ["pypa/pip", "psf/requests"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=100_000)
    ap.add_argument("--pydriller-slice", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repo", type=Path, default=Path(tempfile.gettempdir()) / "ctssw-bench-git-100k.git")
    ap.add_argument("--real", action="append", default=None, metavar="OWNER/NAME",
                    help=f"public repositories to time, as bare mirrors found under --mirrors (default: {', '.join(REAL)})")
    ap.add_argument("--mirrors", action="append", type=Path, default=None,
                    help="folders holding OWNER+NAME/repo bare mirrors (default: $CTSSW_BENCH_MIRRORS, else /work/.mirror)")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "git.md")
    args = ap.parse_args()
    roots = args.mirrors or [Path(p) for p in os.environ.get("CTSSW_BENCH_MIRRORS", "/work/.mirror").split(os.pathsep)]
    real, missing = find_real_repos(args.real or REAL, roots)
    for name in missing:
        print(f"real repository {name} is absent: no bare mirror {name.replace('/', '+')}/repo under "
              f"{', '.join(map(str, roots))}; it is left out of this run", flush=True)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    lines = [
        "# git connector benchmark",
        "",
        (
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{git_version}. Best of {args.repeat} interleaved runs for git and ctssw, one run for PyDriller (on a local "
            "non-bare clone, since it needs a working tree); warm object store. "
            f"Load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared)."
        ),
        (
            "ctssw streams `git log --no-renames --numstat` (one process per repository; a history of 20,000+ commits "
            "is split into contiguous slices read by up to 4 processes side by side, so it can beat the single-process "
            "floor); PyDriller runs a diff per commit through GitPython."
        ),
        "",
    ]
    summary = ["| repository | commits | floor s | ctssw load s | × floor | PyDriller × ctssw |", "|---|---:|---:|---:|---:|---:|"]
    sections = []
    for name, path in real:
        print(f"== {name} ({path})", flush=True)
        m = measure(name, path, args.repeat, args.pydriller_slice)
        summary.append(f"| {name} (real, bare mirror) | {m['n_total']:,} | {m['t_floor']:.2f} | {m['t_all']:.2f} | "
                       f"{m['t_all'] / m['t_floor']:.2f} | {m['t_py_full'] / m['t_all']:.1f} |")
        sections += [f"## {name} (public repository, a bare mirror at `{path}`, HEAD)", "", *table(m), ""]
    if not args.no_synthetic:
        repo = args.repo
        built = 0.0
        if not (repo / "HEAD").exists():
            built, _ = timed(lambda: build_repo(repo, args.commits))
        print(f"== synthetic ({repo})", flush=True)
        m = measure("synthetic", repo, args.repeat, args.pydriller_slice)
        summary.append(f"| synthetic | {m['n_total']:,} | {m['t_floor']:.2f} | {m['t_all']:.2f} | "
                       f"{m['t_all'] / m['t_floor']:.2f} | {m['t_py_full'] / m['t_all']:.1f} |")
        sections += [
            "## Synthetic repository",
            "",
            f"{m['n_total']:,} commits on HEAD ("
            + (f"built with `git fast-import` in {built:.1f} s" if built else "built earlier by this script with `git fast-import`, reused")
            + "), 1–4 files changed per commit, a binary blob every 97 commits, "
            "a merged pull request every 200 commits and a squash-merge subject every 50.",
            "",
            *table(m),
            "",
        ]
    if missing:
        sections.append(f"Absent from this run (no local mirror): {', '.join(missing)}.")
    lines += summary + [""] + sections
    lines.append(f"Load average at the end: {os.getloadavg()[0]:.1f}.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_latest(args.out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()
