"""Repository ids for ``ctssw ingest git``: from the remote, the folder, never two alike."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ..errors import ConfigError
from .common import note

__all__ = ["REPO_ID_FROM", "repo_ids"]


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


REPO_ID_FROM = ("auto", "remote", "dir", "parent")


def _remote_id(repo: Path) -> str | None:
    r = _git(repo, "config", "--get", "remote.origin.url")
    url = r.stdout.decode("utf-8", "replace").strip() if r.returncode == 0 else ""
    m = re.search(r"[:/]([^/:]+/[^/]+?)(?:\.git)?/?$", url)
    return m.group(1) if m else None


def _dir_id(repo: Path, up: int = 0) -> str:
    """The folder name without ``.git`` (or ``/.git``), with ``up`` parent folder names before it."""
    p = repo.resolve()
    if p.name == ".git":
        p = p.parent
    names = [p.name.removesuffix(".git")] + [q.name for q in p.parents][:up]
    return "/".join(reversed([n for n in names if n]))


def _default_repo_id(repo: Path, how: str = "auto") -> str:
    if how in ("auto", "remote"):
        rid = _remote_id(repo)
        if rid:
            return rid
        if how == "remote":
            note(f"{repo}: no origin remote; its folder name is its repository id")
    if how == "parent":
        return _dir_id(repo.resolve().parent)
    return _dir_id(repo)


def repo_ids(repos: list[Path], how: str = "auto") -> list[str]:
    """One id per repository, never two alike: colliding ids take parent folder names as a prefix."""
    if how not in REPO_ID_FROM:
        raise ConfigError(f"repo_id_from={how!r}: expected one of {', '.join(REPO_ID_FROM)}")
    ids = [_default_repo_id(r, how) for r in repos]
    up = [0] * len(repos)
    for _ in range(8):
        seen: dict[str, list[int]] = {}
        for i, v in enumerate(ids):
            seen.setdefault(v, []).append(i)
        clash = [ix for ix in seen.values() if len(ix) > 1]
        if not clash:
            return ids
        for ix in clash:
            for i in ix:
                up[i] += 1
                ids[i] = _dir_id(repos[i], up[i]) if how != "parent" else _dir_id(repos[i].resolve().parent, up[i])
    dup = sorted({v for v in ids if ids.count(v) > 1})
    raise ConfigError(f"repository ids still collide ({', '.join(dup)}): the same repository given twice?")


