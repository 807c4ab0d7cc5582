"""The git connector on real repositories: totals equal ``git log --numstat`` (renames as git
detects them by default, or ``--no-renames``), ids never collide, missing objects skip only their
line counts, release tags."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli.org import make_repo

from ctssw.sources import git
from ctssw.sources.git_tags import release_pattern


def _totals(repo: Path, *flags: str) -> tuple[int, int]:
    out = subprocess.run(["git", "-C", str(repo), "log", *flags, "--numstat", "--format="], capture_output=True, text=True).stdout
    a = d = 0
    for ln in out.splitlines():
        x, y, *_ = ln.split("\t") + ["", ""]
        a += int(x) if x.isdigit() else 0
        d += int(y) if y.isdigit() else 0
    return a, d


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("g"), "svc", weeks=12, people=3)


def test_totals_match_git_log_numstat_with_and_without_renames(repo):
    t = git.read(repo)
    c = t["commits"]
    got = (sum(c.column("additions").to_pylist()), sum(c.column("deletions").to_pylist()))
    assert got == _totals(repo)  # git's default rename detection
    count = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True).stdout
    assert c.num_rows == int(count)
    t = git.read(repo, renames=False)
    c = t["commits"]
    plain = (sum(c.column("additions").to_pylist()), sum(c.column("deletions").to_pylist()))
    assert plain == _totals(repo, "--no-renames") and plain != got


def test_repository_ids_never_collide(tmp_path, repo):
    a, b = tmp_path / "a" / "repo", tmp_path / "b" / "repo"
    for dst in (a, b):
        subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(dst)], check=True)
    assert git.repo_ids([a, b]) == ["a/repo", "b/repo"]
    assert git.repo_ids([a, b], "parent") == ["a", "b"]
    t = git.read([a, b])
    assert sorted(set(t["commits"].column("repo_id").to_pylist())) == ["a/repo", "b/repo"]


def test_missing_objects_skip_only_their_line_counts(tmp_path, repo):
    clone = tmp_path / "partial"
    subprocess.run(["git", "clone", "-q", "--no-local", str(repo), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "repack", "-q", "-a", "-d"], check=True)
    # unpack, then delete the blob of one file that one commit added
    blob = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD:src/p0/w3_0.py"], capture_output=True, text=True).stdout.strip()
    for pack in (clone / ".git" / "objects" / "pack").glob("*.pack"):
        data = pack.read_bytes()
        for f in pack.parent.glob(pack.stem + ".*"):
            f.unlink()
        subprocess.run(["git", "-C", str(clone), "unpack-objects", "-q"], input=data, check=True)
    (clone / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    with pytest.warns(UserWarning, match="missing from the repository"):
        t = git.read(clone, jobs=1)
    c = t["commits"].to_pandas()
    assert len(c) == int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True, text=True).stdout)
    assert c["additions"].isna().sum() >= 1 and c["additions"].notna().sum() >= len(c) - 3


def test_release_pattern():
    rx = release_pattern("tags")
    from ctssw.sources.git_tags import PRERELEASE

    ok = ["v1.2.3", "1.2", "release-2.0.1", "24.0"]
    no = ["v1.2.3rc1", "1.0b2", "2.0.dev0", "nightly-7", "docs-7", "v1"]
    assert all(rx.search(t) and not PRERELEASE.search(t) for t in ok)
    assert not any(rx.search(t) and not PRERELEASE.search(t) for t in no)
    assert release_pattern("tags=^rel/").pattern == "^rel/"


def test_github_release_is_the_tag_deployment_git_gives(tmp_path):
    import json

    from ctssw.store import Store, load_git, load_github

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "release_v1.0.json"
    body = json.loads(fixture.read_text())["body"]  # a real recorded release (see ORIGIN.md)
    (tmp_path / "releases.json").write_text(json.dumps([body]))
    repo = tmp_path / "RepoTest"
    subprocess.run(["git", "init", "-q", "-b", "master", str(repo)], check=True)
    env = {"GIT_AUTHOR_NAME": "r", "GIT_AUTHOR_EMAIL": "r@x.example", "GIT_COMMITTER_NAME": "r", "GIT_COMMITTER_EMAIL": "r@x.example",
           "GIT_AUTHOR_DATE": "2020-07-12T07:00:00Z", "GIT_COMMITTER_DATE": "2020-07-12T07:00:00Z", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "first"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "tag", "v1.0"], check=True)
    with Store(tmp_path / "s.duckdb") as s:
        load_git(s, repo, repo_id="rickrickston123/RepoTest", deployments="tags")
        load_github(s, tmp_path / "releases.json")
        rows = s.con.execute("SELECT deployment_id, kind, sha IS NOT NULL, finished_at FROM deployments").fetchall()
        assert len(rows) == 1 and rows[0][:3] == ("rickrickston123/RepoTest@v1.0", "release", True)
        assert str(rows[0][3]).startswith("2020-07-14 00:58:20")
        assert s.count("deployment_commits") == 1


def test_missing_line_counts_stay_null_in_the_store(tmp_path, repo):
    from ctssw.store import Store, load_git

    clone = tmp_path / "partial"
    subprocess.run(["git", "clone", "-q", "--no-local", str(repo), str(clone)], check=True)
    blob = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD:src/p1/w4_0.py"], capture_output=True, text=True).stdout.strip()
    for pack in (clone / ".git" / "objects" / "pack").glob("*.pack"):
        data = pack.read_bytes()
        for f in pack.parent.glob(pack.stem + ".*"):
            f.unlink()
        subprocess.run(["git", "-C", str(clone), "unpack-objects", "-q"], input=data, check=True)
    (clone / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    with Store(tmp_path / "s.duckdb") as s, pytest.warns(UserWarning, match="missing from the repository"):
        load_git(s, clone, jobs=1)
        assert s.con.execute("SELECT count(*) FROM commits WHERE additions IS NULL").fetchall()[0][0] >= 1
