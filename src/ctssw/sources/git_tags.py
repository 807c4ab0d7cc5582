"""Release tags of a local repository → production deployments and the commits each shipped.

``ctssw ingest git --deployments tags[=PATTERN]`` treats each release tag as one production
deployment (``kind = "tag"``) of its repository:

- a tag is a release when its name matches ``PATTERN`` (a regular expression; default
  :data:`VERSION_TAG`: ``1.2``, ``v1.2.3``, ``release-1.2.3``, ``1.2.3.4``) and is not a
  prerelease or development tag (:data:`PRERELEASE`: ``rc``, ``alpha``, ``beta``, ``a1``, ``b2``,
  ``dev``, ``pre``, ``preview``, ``snapshot``, ``nightly``), whatever the pattern;
- it finished at the tag's date (the tagger date of an annotated tag, else the commit date of a
  lightweight one), at the commit the tag points to;
- it shipped the commits reachable from that commit and from no earlier release
  (``git rev-list THIS --not EARLIER...``), so "commits reaching customers" and lead time work.
  Releases are ordered by date; a maintenance release on an older branch ships only its own fixes.

Which deployments to choose (the article): deployments (``ingest github`` or ``gitlab``) for
services deployed continuously, release tags for software shipped on a schedule, and commits to
the main branch (``--unit commit``) for trunk-based teams.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ..errors import ConfigError

__all__ = ["PRERELEASE", "VERSION_TAG", "release_pattern", "releases"]

VERSION_TAG = r"^(?:v|version-|release-|rel-)?\d+(?:\.\d+){1,3}$"
PRERELEASE = re.compile(r"(?i)(?:rc|alpha|beta|dev|pre|preview|snapshot|nightly|canary|[._-]?[ab]\d+$)")


def release_pattern(spec: str | None) -> re.Pattern | None:
    """``tags`` → the default pattern; ``tags=REGEX`` → REGEX; None → no tag deployments."""
    if spec is None:
        return None
    kind, sep, pat = spec.partition("=")
    if kind != "tags":
        raise ConfigError(f"--deployments {spec!r}: expected tags or tags=PATTERN (a regular expression on tag names)")
    try:
        return re.compile(pat if sep and pat else VERSION_TAG)
    except re.error as e:
        raise ConfigError(f"--deployments {spec!r}: not a regular expression ({e})") from None


def _run(repo: Path, *args: str, stdin: str | None = None) -> str:
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, input=stdin.encode() if stdin else None, check=False)
    return r.stdout.decode("utf-8", "replace") if r.returncode == 0 else ""


def releases(repo: Path, repo_id: str, pattern: re.Pattern, known: set[str] | None = None) -> tuple[list[dict], list[dict]]:
    """Deployment rows and deployment_commits rows for the release tags of ``repo``.

    ``known`` (the shas read from the history), when given, keeps only tags on commits in it.
    """
    fmt = "%(refname:short)%00%(objectname)%00%(*objectname)%00%(creatordate:iso-strict)"
    tags = []
    for ln in _run(repo, "for-each-ref", "refs/tags", f"--format={fmt}").splitlines():
        parts = ln.split("\x00")
        if len(parts) != 4:
            continue
        name, obj, deref, when = parts
        sha = deref or obj
        if not pattern.search(name) or PRERELEASE.search(name) or not when:
            continue
        if known is not None and sha not in known:
            continue
        tags.append((when, name, sha))
    tags.sort()
    deps, shipped, earlier = [], [], []
    seen_sha: set[str] = set()
    for when, name, sha in tags:
        if sha in seen_sha:
            continue  # a second tag on the same commit ships nothing new
        dep_id = f"{repo_id}@{name}"
        deps.append({
            "deployment_id": dep_id, "repo_id": repo_id, "environment": "production", "started_at": when,
            "finished_at": when, "result": "success", "sha": sha, "kind": "tag",
        })
        stdin = "\n".join([sha, *(f"^{e}" for e in earlier)]) + "\n"
        for c in _run(repo, "rev-list", "--stdin", stdin=stdin).split():
            shipped.append({"deployment_id": dep_id, "sha": c, "repo_id": repo_id})
        earlier.append(sha)
        seen_sha.add(sha)
    return deps, shipped
