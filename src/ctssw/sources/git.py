"""Local git repositories (bare mirrors too) → commits, merged changes, repos.

One ``git log --numstat`` runs per repository and its output is parsed as it
streams; no process is started per commit. Line counts are those of
``git log --numstat`` with git's default rename detection (``-M``, what GitHub shows too), or of
``--no-renames`` on request: a binary file (``-``) counts 0 lines, and a merge commit shows no
diff, so it counts 0 lines. A commit whose blobs are missing (a partial clone) keeps its
metadata and gets NULL line counts, with a note. Several repositories are read side by side,
one ``git log`` each, up to the machine's cores.

A repository's id is ``owner/name`` from its ``origin`` remote, else its folder name
(``repo_id_from`` chooses: ``auto``, ``remote``, ``dir``, ``parent``); ids that would collide in
one call take their parent folders' names as a prefix until they are unique.

Merged changes come from the subjects git records: ``Merge pull request #123
from ...`` (a merge commit) and ``... (#123)`` (a squash merge). The change id is
``<repo_id>#<number>``, the id the GitHub connector gives the same pull request,
so loading both lets the forge's fuller record update git's.

A commit's team is, in order: the owner of most of its changed lines under the
path rules (CODEOWNERS-style), the repository's team, or (with the roster) the
team its author belonged to on the commit day (filled in by :func:`ctssw.store.load_git`).

Examples
--------
>>> from ctssw.sources import git                                  # doctest: +SKIP
>>> tables = git.read(["~/src/app"], all_refs=True)                # doctest: +SKIP
>>> from ctssw.store import load_git                               # doctest: +SKIP
>>> load_git(store, ["~/src/app"], team="payments")                # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..errors import ConfigError, DataError
from .common import (
    Progress,
    Tables,
    note,
    parse_ts,
    paths_of,
    table,
)
from .git_owners import CODEOWNERS_PLACES, OwnerRules
from .git_repos import REPO_ID_FROM, repo_ids
from .git_tags import release_pattern, releases

__all__ = ["REPO_ID_FROM", "OwnerRules", "read", "repo_ids"]

RS, US = "\x1e", "\x1f"
FORMAT = f"--format={RS}%H{US}%P{US}%an{US}%ae{US}%aI{US}%cI{US}%s"
MERGE_PR = re.compile(r"^Merge pull request #(\d+) from ")
SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")


# -- running git ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def _check_repo(repo: Path) -> None:
    if not repo.exists():
        raise DataError(f"{repo}: no such folder; expected a local git repository or bare mirror")
    r = _git(repo, "rev-parse", "--git-dir")
    if r.returncode != 0:
        msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DataError(f"{repo}: not a git repository ({msg[0] if msg else 'git failed'}); expected a local git repository or bare mirror")


def _codeowners(repo: Path) -> OwnerRules | None:
    for place in CODEOWNERS_PLACES:
        r = _git(repo, "show", f"HEAD:{place}")
        if r.returncode == 0:
            return OwnerRules.parse(r.stdout.decode("utf-8", "replace"), f"{repo}:{place}")
    return None


class _MissingObject(Exception):
    """git stopped because an object of the history is not in the repository."""


MISSING = ("unable to read", "missing blob", "could not read", "bad object", "missing tree")


def _stream(repo: Path, all_refs: bool, revs: list[str] | None = None, chunk: int = 1 << 20, renames: bool = True, numstat: bool = True):
    """Yield each commit's record text from one streaming ``git log`` (of ``revs`` only, when given)."""
    cmd = ["git", "-C", str(repo), "-c", "core.quotepath=off", "log", FORMAT]
    if numstat:
        cmd[6:6] = ["-M" if renames else "--no-renames", "--numstat"]
    if revs is not None:
        cmd += ["--no-walk=unsorted", "--stdin"]
    else:
        cmd += ["--all"] if all_refs else ["HEAD"]
    cmd += ["--"]
    env = {**os.environ, "GIT_NO_LAZY_FETCH": "1"}  # a partial clone must not reach the network
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE if revs is not None else subprocess.DEVNULL,
        env=env,
    )
    if revs is not None:

        def feed() -> None:
            try:
                proc.stdin.write(("\n".join(revs) + "\n").encode())  # type: ignore[union-attr]
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buf = ""
    try:
        assert proc.stdout is not None
        while True:
            data = proc.stdout.read(chunk)
            if not data:
                break
            buf += dec.decode(data)
            parts = buf.split(RS)
            buf = parts.pop()
            for p in parts:
                if p:
                    yield p
        buf += dec.decode(b"", final=True)
        if buf:
            yield buf
    finally:
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        rc = proc.wait()
    if rc != 0:
        if "does not have any commits" in err or "unknown revision or path not in the working tree" in err:
            note(f"{repo}: no commits on {'any ref' if all_refs else 'HEAD'}; nothing read")
            return
        first = err.strip().splitlines()[0] if err.strip() else f"exit status {rc}"
        if any(m in err for m in MISSING):
            raise _MissingObject(first)
        raise DataError(f"{repo}: git log failed ({first}); expected a readable git repository")


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    all_refs: bool
    team: dict[str, str] | str | None
    rules: OwnerRules | None
    codeowners: bool
    repo_id: str | None
    jobs: int | None = None
    renames: bool = True
    deployments: re.Pattern | None = None


PARALLEL_FROM = 20_000  # commits; below this one process is quicker than splitting the history


def _parse(records, repo: Path, owner_of, repo_team) -> tuple[list[list], dict[int, str]]:
    """Column lists for the commit records of one stream, and the subjects naming a change."""
    sha, parents, author, authored, committed, adds, dels, teams = ([] for _ in range(8))
    subjects: dict[int, str] = {}
    for rec in records:
        head, _, body = rec.partition("\n")
        f = head.split(US)
        if len(f) < 7:
            continue
        a = d = 0
        per_team: dict[str, int] = {}
        for ln in body.split("\n"):
            if not ln:
                continue
            x, _, rest = ln.partition("\t")
            y, _, path = rest.partition("\t")
            if " => " in path:
                path = _new_path(path)
            try:
                xa = int(x) if x != "-" else 0
                yd = int(y) if y != "-" else 0
            except ValueError:
                raise DataError(f"{repo}: unexpected git log output ({ln[:60]!r}); expected --numstat lines") from None
            a += xa
            d += yd
            if owner_of is not None:
                t = owner_of(path)
                if t is not None:
                    per_team[t] = per_team.get(t, 0) + xa + yd + 1  # +1: a binary-only change still counts
        sha.append(f[0])
        parents.append(f[1].split() if f[1] else [])
        author.append(f[3] or f[2] or None)
        authored.append(f[4] or None)
        committed.append(f[5] or None)
        adds.append(a)
        dels.append(d)
        teams.append(max(per_team, key=per_team.__getitem__) if per_team else repo_team)
        subj = US.join(f[6:])
        if MERGE_PR.match(subj) or SQUASH_PR.search(subj):
            subjects[len(sha) - 1] = subj
    return [sha, parents, author, authored, committed, adds, dels, teams], subjects


_BRACE = re.compile(r"\{([^{}]*) => ([^{}]*)\}")


def _new_path(path: str) -> str:
    """The new path of a ``--numstat`` rename: ``a/{x => y}/f`` → ``a/y/f``; ``old => new`` → ``new``."""
    if _BRACE.search(path):
        return _BRACE.sub(lambda m: m.group(2), path).replace("//", "/").lstrip("/")
    return path.split(" => ", 1)[1]


def _revs(repo: Path, all_refs: bool) -> list[str]:
    r = _git(repo, "rev-list", "--all" if all_refs else "HEAD", "--")
    return r.stdout.decode("ascii", "replace").split() if r.returncode == 0 else []


def _recover(repo: Path, cfg: _Config, owner_of, repo_team) -> tuple[list, set[str]]:
    """Read a history with missing objects: every commit's metadata, line counts where readable.

    ``git log --no-walk=unsorted`` prints commits in the order given and stops at the first
    unreadable one; that commit is read again without ``--numstat`` and the walk resumes after it.
    """
    revs = _revs(repo, cfg.all_refs)
    parts, skipped, i = [], set(), 0
    while i < len(revs):
        recs: list[str] = []
        try:
            for r in _stream(repo, cfg.all_refs, revs[i:], renames=cfg.renames):
                recs.append(r)
            parts.append(_parse(recs, repo, owner_of, repo_team))
            break
        except _MissingObject:
            pass
        if recs:  # the last record may be the failing commit's header alone
            try:
                for _ in _stream(repo, cfg.all_refs, [revs[i + len(recs) - 1]], renames=cfg.renames):
                    pass
            except _MissingObject:
                recs.pop()
        parts.append(_parse(recs, repo, owner_of, repo_team))
        bad = revs[i + len(recs)]
        skipped.add(bad)
        parts.append(_parse(_stream(repo, cfg.all_refs, [bad], numstat=False), repo, owner_of, repo_team))
        i += len(recs) + 1
    return parts, skipped


def _read_repo(repo: Path, cfg: _Config, progress: Progress | None, repo_id: str) -> tuple[dict, list[dict], dict, tuple]:
    _check_repo(repo)
    rules = cfg.rules or (_codeowners(repo) if cfg.codeowners else None)
    if isinstance(cfg.team, dict):
        repo_team = cfg.team.get(repo_id) or cfg.team.get(str(repo)) or cfg.team.get(repo.name)
    else:
        repo_team = cfg.team
    owner_of = rules.owner if rules else None
    jobs = cfg.jobs or min(4, os.cpu_count() or 1)
    revs = _revs(repo, cfg.all_refs) if jobs > 1 else []
    skipped: set[str] = set()
    try:
        parts = _read_parts(repo, cfg, revs, jobs, owner_of, repo_team, progress, repo_id)
    except _MissingObject:
        parts, skipped = _recover(repo, cfg, owner_of, repo_team)
        note(f"{repo}: {len(skipped)} commit(s) refer to objects missing from the repository (a partial clone?); "
             "their line counts are left empty, everything else was read")
    sha, parents, author, authored, committed, adds, dels, teams = ([] for _ in range(8))
    subjects: dict[int, str] = {}
    for cols_, subj in parts:
        off = len(sha)
        subjects.update({off + i: v for i, v in subj.items()})
        for dst, src in zip((sha, parents, author, authored, committed, adds, dels, teams), cols_):
            dst.extend(src)
    if skipped:
        adds = [None if h in skipped else a for h, a in zip(sha, adds)]
        dels = [None if h in skipped else d for h, d in zip(sha, dels)]
    return _tables(repo, cfg, repo_id, rules, repo_team, sha, parents, author, authored, committed, adds, dels, teams, subjects)


def _read_parts(repo, cfg, revs, jobs, owner_of, repo_team, progress, repo_id) -> list:
    if len(revs) >= PARALLEL_FROM:
        # the diffs dominate: split the history into contiguous slices, one git process each
        size = -(-len(revs) // jobs)
        slices = [revs[i : i + size] for i in range(0, len(revs), size)]
        with ThreadPoolExecutor(max_workers=len(slices)) as ex:
            futures = [ex.submit(_parse, _stream(repo, cfg.all_refs, sl, renames=cfg.renames), repo, owner_of, repo_team) for sl in slices]
            parts = []
            for k, fut in enumerate(futures):
                parts.append(fut.result())
                if progress:
                    progress(f"git log {repo_id}", min((k + 1) * size, len(revs)), len(revs))
        return parts
    return [_parse(_stream(repo, cfg.all_refs, renames=cfg.renames), repo, owner_of, repo_team)]


def _tables(repo, cfg, repo_id, rules, repo_team, sha, parents, author, authored, committed, adds, dels, teams, subjects):
    npar = [len(p) for p in parents]
    merge = [n > 1 for n in npar]
    cols = {
        "repo_id": pa.array([repo_id] * len(sha), pa.string()),
        "sha": pa.array(sha, pa.string()),
        "author": pa.array(author, pa.string()),
        "authored_at": pa.array(authored, pa.string()),
        "committed_at": pa.array(committed, pa.string()),
        "additions": pa.array(adds, pa.int64()),
        "deletions": pa.array(dels, pa.int64()),
        "is_merge": pa.array(merge, pa.bool_()),
        "parents": pa.array(npar, pa.int32()),
        "team_id": pa.array(teams, pa.string()),
    }
    # merged changes
    index = {s: i for i, s in enumerate(sha)} if subjects else {}
    changes: dict[str, dict] = {}
    for i, s in subjects.items():
        m = MERGE_PR.match(s)
        num = m.group(1) if m else SQUASH_PR.search(s).group(1)  # type: ignore[union-attr]
        cid = f"{repo_id}#{num}"
        if m and len(parents[i]) > 1 and parents[i][1] in index:
            j = index[parents[i][1]]
            who, created, a_, d_ = author[j], _earlier(authored[j], committed[i]), None, None
        elif m:
            who, created, a_, d_ = None, committed[i], None, None
        else:
            who, created, a_, d_ = author[i], _earlier(authored[i], committed[i]), adds[i], dels[i]
        row = {
            "change_id": cid, "repo_id": repo_id, "author": who, "created_at": created,
            "merged_at": committed[i], "closed_at": committed[i], "merge_sha": sha[i],
            "additions": a_, "deletions": d_, "team_id": teams[i],
        }
        old = changes.get(cid)
        if old is None or _earlier(row["merged_at"], old["merged_at"]) != old["merged_at"]:
            changes[cid] = row  # the first merge of a number wins over later cherry-picks
    repo_row = {"repo_id": repo_id, "team_id": repo_team, "name": repo.resolve().name, "ownership": rules.to_json() if rules else None}
    rel = releases(repo, repo_id, cfg.deployments, set(sha)) if cfg.deployments is not None else ([], [])
    return cols, list(changes.values()), repo_row, rel


def _earlier(a: str | None, b: str | None) -> str | None:
    ta, tb = parse_ts(a), parse_ts(b)
    if ta is None or tb is None:
        return a or b
    return a if ta <= tb else b


def _team_arg(team: str | dict[str, str] | Iterable[str] | None) -> dict[str, str] | str | None:
    if team is None or isinstance(team, (str, dict)):
        if isinstance(team, str) and "=" in team:
            return _team_arg([team])
        return team
    out = {}
    for pair in team:
        k, sep, v = pair.partition("=")
        if not sep or not k or not v:
            raise ConfigError(f"team mapping {pair!r}: expected REPO=TEAM, or one team for every repository")
        out[k] = v
    return out


def read(
    repos: str | Path | Iterable[str | Path],
    *,
    all_refs: bool = False,
    repo_id: str | None = None,
    team: str | dict[str, str] | Iterable[str] | None = None,
    owners: str | Path | OwnerRules | None = None,
    codeowners: bool = False,
    jobs: int | None = None,
    renames: bool = True,
    deployments: str | None = None,
    repo_id_from: str = "auto",
    progress: Progress | None = None,
) -> Tables:
    """Read the history of one or more local repositories, side by side.

    Parameters
    ----------
    repos : path or paths
        Working trees or bare mirrors.
    all_refs : bool
        Every ref (``git log --all``) instead of HEAD's history.
    repo_id : str, optional
        The repository id to record (one repository only).
    team : str, or mapping / ``REPO=TEAM`` strings
        The owning team of every repository, or of each.
    owners : path or OwnerRules, optional
        A CODEOWNERS-style file of ``pattern team`` rules (monorepos).
    codeowners : bool
        Use each repository's own CODEOWNERS file (at HEAD) as the path rules.
    jobs : int, optional
        ``git log`` processes at once (default: one per core, at most 4). Several repositories are
        read side by side; a history of 20,000 commits or more is split into slices.
    renames : bool
        Rename detection as ``git log --numstat`` does by default (True), or ``--no-renames``.
    deployments : str, optional
        ``"tags"`` or ``"tags=PATTERN"``: each release tag is a production deployment
        (see :mod:`ctssw.sources.git_tags`).
    repo_id_from : str
        ``auto`` (the ``origin`` remote's ``owner/name``, else the folder name), ``remote``,
        ``dir`` or ``parent`` (the parent folder's name). Colliding ids are made unique.

    Returns
    -------
    dict of table name → pyarrow.Table
        ``commits``, ``changes`` and ``repos`` in the canonical input form, plus ``deployments``
        and ``deployment_commits`` with ``deployments``.
    """
    ps = paths_of(repos)
    if repo_id is not None and len(ps) > 1:
        raise ConfigError("repo_id names one repository; give one path, or leave repo_id out (ids come from --repo-id-from)")
    rules = owners if isinstance(owners, OwnerRules) or owners is None else _read_rules(Path(owners))
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"jobs={jobs!r}: expected a whole number of processes, 1 or more")
    pattern = release_pattern(deployments)
    for p in ps:
        _check_repo(p)
    ids = [repo_id] if repo_id is not None else repo_ids(ps, repo_id_from)
    cores = jobs or min(4, os.cpu_count() or 1)
    per_repo = max(1, cores // len(ps)) if jobs is None else jobs
    cfg = _Config(all_refs, _team_arg(team), rules, codeowners, repo_id, per_repo, renames, pattern)
    done = [0]
    lock = threading.Lock()

    def one(i: int):
        res = _read_repo(ps[i], cfg, progress if len(ps) == 1 else None, ids[i])
        with lock:
            done[0] += 1
            if progress:
                progress(f"git log {ids[i]}", done[0], len(ps))
        return res

    with ThreadPoolExecutor(max_workers=max(1, min(cores, len(ps)))) as ex:
        results = list(ex.map(one, range(len(ps))))
    commits, changes, repo_rows, deps, shipped = [], [], [], [], []
    for c, ch, r, (d, s) in results:
        commits.append(pa.table(c))
        changes += ch
        repo_rows.append(r)
        deps += d
        shipped += s
    out = {
        "repos": table("repos", repo_rows),
        "commits": pa.concat_tables(commits) if len(commits) > 1 else commits[0],
        "changes": table("changes", changes),
    }
    if pattern is not None:
        out["deployments"] = table("deployments", deps)
        out["deployment_commits"] = table("deployment_commits", shipped)
        if not deps:
            note("git: no release tags matched; no deployments were read (try --deployments tags=PATTERN)")
    return out


def _read_rules(path: Path) -> OwnerRules:
    from .common import read_text

    return OwnerRules.parse(read_text(path, "a CODEOWNERS-style file of 'pattern team' lines"), str(path))
