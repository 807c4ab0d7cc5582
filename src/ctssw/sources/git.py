"""Local git repositories (bare mirrors too) → commits, merged changes, repos.

One ``git log --numstat`` runs per repository and its output is parsed as it
streams; no process is started per commit. Line counts are those of
``git log --numstat --no-renames``: a binary file (``-``) counts 0 lines, and a
merge commit shows no diff, so it counts 0 lines.

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
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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

__all__ = ["OwnerRules", "read"]

RS, US = "\x1e", "\x1f"
FORMAT = f"--format={RS}%H{US}%P{US}%an{US}%ae{US}%aI{US}%cI{US}%s"
MERGE_PR = re.compile(r"^Merge pull request #(\d+) from ")
SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")
CODEOWNERS_PLACES = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")


# -- path ownership ------------------------------------------------------------------------------


def _glob_re(pattern: str) -> re.Pattern:
    p = pattern.strip()
    anchored = p.startswith("/") or "/" in p.rstrip("/")
    dir_only = p.endswith("/")
    p = p.strip("/")
    out, i = [], 0
    while i < len(p):
        if p.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif p.startswith("**", i):
            out.append(".*")
            i += 2
        elif p[i] == "*":
            out.append("[^/]*")
            i += 1
        elif p[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(p[i]))
            i += 1
    body = "".join(out)
    return re.compile(("^" if anchored else "^(?:.*/)?") + body + ("/.*$" if dir_only else "(?:/.*)?$"))


def _owner_team(owner: str) -> str:
    """``@org/payments`` → ``payments``; ``@alice`` → ``alice``; a bare team id stays."""
    o = owner.strip().lstrip("@")
    return o.split("/", 1)[1] if "/" in o else o


@dataclass
class OwnerRules:
    """Path → team rules in CODEOWNERS form (``pattern owner...``); the last matching rule wins.

    An owner ``@org/team`` names team ``team``; a plain word names a team id as is.
    """

    rules: list[tuple[str, str]]
    _compiled: list[tuple[re.Pattern, str]] = field(default_factory=list, repr=False)
    _cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._compiled = [(_glob_re(p), t) for p, t in self.rules]

    @classmethod
    def parse(cls, text: str, origin: str = "rules") -> OwnerRules:
        rules = []
        for ln in text.splitlines():
            ln = ln.split(" #", 1)[0].strip() if not ln.lstrip().startswith("#") else ""
            if not ln:
                continue
            parts = ln.split()
            if len(parts) < 2:
                continue  # a pattern with no owner un-owns paths in CODEOWNERS
            rules.append((parts[0], _owner_team(parts[1])))
        return cls(rules)

    def owner(self, path: str) -> str | None:
        try:
            return self._cache[path]
        except KeyError:
            pass
        hit = None
        for rx, team in reversed(self._compiled):
            if rx.match(path):
                hit = team
                break
        self._cache[path] = hit
        return hit

    def to_json(self) -> str:
        return json.dumps(self.rules)


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


def _default_repo_id(repo: Path) -> str:
    r = _git(repo, "config", "--get", "remote.origin.url")
    url = r.stdout.decode("utf-8", "replace").strip() if r.returncode == 0 else ""
    m = re.search(r"[:/]([^/:]+/[^/]+?)(?:\.git)?/?$", url)
    if m:
        return m.group(1)
    name = repo.resolve().name
    return name.removesuffix(".git")


def _codeowners(repo: Path) -> OwnerRules | None:
    for place in CODEOWNERS_PLACES:
        r = _git(repo, "show", f"HEAD:{place}")
        if r.returncode == 0:
            return OwnerRules.parse(r.stdout.decode("utf-8", "replace"), f"{repo}:{place}")
    return None


def _stream(repo: Path, all_refs: bool, revs: list[str] | None = None, chunk: int = 1 << 20):
    """Yield each commit's record text from one streaming ``git log`` (of ``revs`` only, when given)."""
    cmd = ["git", "-C", str(repo), "-c", "core.quotepath=off", "log", "--no-renames", "--numstat", FORMAT]
    if revs is not None:
        cmd += ["--no-walk=unsorted", "--stdin"]
    else:
        cmd += ["--all"] if all_refs else ["HEAD"]
    cmd += ["--"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE if revs is not None else subprocess.DEVNULL
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


def _revs(repo: Path, all_refs: bool) -> list[str]:
    r = _git(repo, "rev-list", "--all" if all_refs else "HEAD", "--")
    return r.stdout.decode("ascii", "replace").split() if r.returncode == 0 else []


def _read_repo(repo: Path, cfg: _Config, progress: Progress | None) -> tuple[dict, list[dict], dict]:
    _check_repo(repo)
    repo_id = cfg.repo_id or _default_repo_id(repo)
    rules = cfg.rules or (_codeowners(repo) if cfg.codeowners else None)
    if isinstance(cfg.team, dict):
        repo_team = cfg.team.get(repo_id) or cfg.team.get(str(repo)) or cfg.team.get(repo.name)
    else:
        repo_team = cfg.team
    owner_of = rules.owner if rules else None
    jobs = cfg.jobs or min(4, os.cpu_count() or 1)
    revs = _revs(repo, cfg.all_refs) if jobs > 1 else []
    if len(revs) >= PARALLEL_FROM:
        # the diffs dominate: split the history into contiguous slices, one git process each
        size = -(-len(revs) // jobs)
        slices = [revs[i : i + size] for i in range(0, len(revs), size)]
        with ThreadPoolExecutor(max_workers=len(slices)) as ex:
            futures = [ex.submit(_parse, _stream(repo, cfg.all_refs, sl), repo, owner_of, repo_team) for sl in slices]
            parts = []
            for k, fut in enumerate(futures):
                parts.append(fut.result())
                if progress:
                    progress(f"git log {repo_id}", min((k + 1) * size, len(revs)), len(revs))
    else:
        parts = [_parse(_stream(repo, cfg.all_refs), repo, owner_of, repo_team)]
    sha, parents, author, authored, committed, adds, dels, teams = ([] for _ in range(8))
    subjects: dict[int, str] = {}
    for cols_, subj in parts:
        off = len(sha)
        subjects.update({off + i: v for i, v in subj.items()})
        for dst, src in zip((sha, parents, author, authored, committed, adds, dels, teams), cols_):
            dst.extend(src)
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
    return cols, list(changes.values()), repo_row


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
    progress: Progress | None = None,
) -> Tables:
    """Read the history of one or more local repositories.

    Parameters
    ----------
    repos : path or paths
        Working trees or bare mirrors.
    all_refs : bool
        Every ref (``git log --all``) instead of HEAD's history.
    repo_id : str, optional
        The repository id to record (one repository only). Default: ``owner/name`` from the
        ``origin`` remote, else the folder name without ``.git``.
    team : str, or mapping / ``REPO=TEAM`` strings
        The owning team of every repository, or of each.
    owners : path or OwnerRules, optional
        A CODEOWNERS-style file of ``pattern team`` rules (monorepos).
    codeowners : bool
        Use each repository's own CODEOWNERS file (at HEAD) as the path rules.
    jobs : int, optional
        ``git log`` processes per large repository (default: up to 4, one per core). Histories
        of 20,000 commits or more are split into contiguous slices read side by side.

    Returns
    -------
    dict of table name → pyarrow.Table
        ``commits``, ``changes`` and ``repos`` in the canonical input form.
    """
    ps = paths_of(repos)
    if repo_id is not None and len(ps) > 1:
        raise ConfigError("repo_id names one repository; give one path, or leave repo_id out")
    rules = owners if isinstance(owners, OwnerRules) or owners is None else _read_rules(Path(owners))
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"jobs={jobs!r}: expected a whole number of processes, 1 or more")
    cfg = _Config(all_refs, _team_arg(team), rules, codeowners, repo_id, jobs)
    commits, changes, repo_rows = [], [], []
    for i, p in enumerate(ps):
        if progress:
            progress(f"git log {p}", i, len(ps))
        c, ch, r = _read_repo(p, cfg, progress)
        commits.append(pa.table(c))
        changes += ch
        repo_rows.append(r)
    return {
        "repos": table("repos", repo_rows),
        "commits": pa.concat_tables(commits) if len(commits) > 1 else commits[0],
        "changes": table("changes", changes),
    }


def _read_rules(path: Path) -> OwnerRules:
    from .common import read_text

    return OwnerRules.parse(read_text(path, "a CODEOWNERS-style file of 'pattern team' lines"), str(path))
