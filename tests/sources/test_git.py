from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ctssw.errors import ConfigError, DataError
from ctssw.sources import git
from ctssw.store import Store, load_git

ALICE, BOB = "alice@corp.example", "bob@corp.example"


def _run(repo: Path, *args: str, env: dict | None = None) -> str:
    e = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", **(env or {})}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=e).stdout


def _commit(repo: Path, msg: str, who: str, when: str) -> None:
    name = who.split("@")[0]
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": who, "GIT_AUTHOR_DATE": when,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": who, "GIT_COMMITTER_DATE": when}
    _run(repo, "commit", "-q", "--allow-empty", "-m", msg, env=env)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    r = tmp_path_factory.mktemp("repo") / "app"
    r.mkdir()
    _run(r, "init", "-q", "-b", "main")
    (r / "services" / "pay").mkdir(parents=True)
    (r / "web").mkdir()
    (r / "CODEOWNERS").write_text("# owners\n*.md @corp/docs\n/services/pay/ @corp/payments\nweb/ @corp/frontend\n")
    (r / "README.md").write_text("hello\nworld\n")
    _run(r, "add", ".")
    _commit(r, "initial", ALICE, "2024-03-01T10:00:00+05:30")
    (r / "services/pay/a.py").write_text("".join(f"x{i} = {i}\n" for i in range(30)))
    (r / "logo.png").write_bytes(bytes(range(256)) * 8)
    _run(r, "add", ".")
    _commit(r, "payments core and a logo", BOB, "2024-03-02T09:00:00-08:00")
    _run(r, "checkout", "-q", "-b", "feature")
    (r / "web/index.js").write_text("a\nb\nc\n")
    _run(r, "add", ".")
    _commit(r, "web page", BOB, "2024-03-03T12:00:00Z")
    _run(r, "checkout", "-q", "main")
    (r / "README.md").write_text("hello\n")
    _run(r, "commit", "-qam", "trim readme", env={"GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": ALICE,
         "GIT_COMMITTER_NAME": "alice", "GIT_COMMITTER_EMAIL": ALICE,
         "GIT_AUTHOR_DATE": "2024-03-04T08:00:00Z", "GIT_COMMITTER_DATE": "2024-03-04T08:00:00Z"})
    env = {"GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": ALICE, "GIT_COMMITTER_NAME": "alice",
           "GIT_COMMITTER_EMAIL": ALICE, "GIT_AUTHOR_DATE": "2024-03-05T08:00:00Z", "GIT_COMMITTER_DATE": "2024-03-05T08:00:00Z"}
    _run(r, "merge", "-q", "--no-ff", "feature", "-m", "Merge pull request #7 from bob/feature", env=env)
    (r / "services/pay/a.py").write_text("".join(f"y{i} = {i}\n" for i in range(10)))
    (r / "logo.png").write_bytes(bytes(range(255, -1, -1)) * 8)
    _run(r, "add", ".")
    _commit(r, "Rework payments (#8)", BOB, "2024-03-06T23:30:00+02:00")
    _run(r, "checkout", "-q", "-b", "side")
    _commit(r, "unmerged side work", BOB, "2024-03-07T10:00:00Z")
    _run(r, "checkout", "-q", "main")
    return r


def _numstat_totals(repo: Path, *refs: str) -> tuple[int, int]:
    out = _run(repo, "log", "--no-renames", "--numstat", "--format=", *refs)
    a = d = 0
    for ln in out.splitlines():
        if ln.strip():
            x, y, _ = ln.split("\t", 2)
            a += 0 if x == "-" else int(x)
            d += 0 if y == "-" else int(y)
    return a, d


@pytest.mark.parametrize("all_refs", [False, True])
def test_figures_match_git_itself(repo, tmp_path, all_refs):
    refs = ["--all"] if all_refs else ["HEAD"]
    with Store(tmp_path / "g.duckdb") as s:
        counts = {c.table: c for c in load_git(s, [repo], all_refs=all_refs)}
        n = int(_run(repo, "rev-list", "--count", *refs))
        merges = int(_run(repo, "rev-list", "--merges", "--count", *refs))
        assert counts["commits"].read == counts["commits"].loaded == n
        got = s.con.execute("SELECT count(*), sum(is_merge::INT), sum(additions), sum(deletions) FROM commits").fetchall()[0]
        assert got == (n, merges, *_numstat_totals(repo, *refs))
        # a merge commit carries two parents and no lines
        assert s.con.execute("SELECT parents, additions FROM commits WHERE is_merge").fetchall() == [(2, 0)]


def test_binary_counts_zero_and_times_are_utc(repo, tmp_path):
    t = git.read(repo)
    rows = {r["sha"]: r for r in t["commits"].to_pylist()}
    head = _run(repo, "rev-parse", "HEAD").strip()  # the squash: 10 added, 30 deleted, binary logo
    assert (rows[head]["additions"], rows[head]["deletions"]) == (10, 30)
    with Store(tmp_path / "t.duckdb") as s:
        load_git(s, repo)
        ts = s.con.execute("SELECT authored_at FROM commits WHERE additions = 10 AND deletions = 30").fetchall()[0][0]
        assert (ts.hour, ts.day, ts.utcoffset().total_seconds()) == (21, 6, 0)


def test_merged_changes_from_subjects(repo, tmp_path):
    with Store(tmp_path / "c.duckdb") as s:
        load_git(s, repo, repo_id="corp/app")
        ch = s.con.execute("SELECT change_id, merge_sha, additions, author_id FROM changes ORDER BY 1").fetchall()
        assert [c[0] for c in ch] == ["corp/app#7", "corp/app#8"]
        assert ch[0][1] == _run(repo, "rev-parse", "HEAD~1").strip()
        assert ch[1][2] == 10
        # the merged pull request is credited to the branch author, not whoever merged it
        assert ch[0][3] == s.pseudonymise(BOB) and ch[1][3] == s.pseudonymise(BOB)


def test_codeowners_team_is_owner_of_most_lines(repo, tmp_path):
    t = git.read(repo, codeowners=True)
    by_subject = {}
    for r in t["commits"].to_pylist():
        by_subject[r["sha"]] = r["team_id"]
    sha = lambda rev: _run(repo, "rev-parse", rev).strip()
    assert by_subject[sha("HEAD")] == "payments"  # 40 lines in services/pay, a binary logo
    assert by_subject[sha("HEAD~2")] == "docs"  # trim readme
    assert by_subject[sha("HEAD~1^2")] == "frontend"
    assert by_subject[sha("HEAD~1")] is None  # a merge changes no lines
    # teams the roster does not know are left empty with a note, not quarantined
    with Store(tmp_path / "o.duckdb") as s:
        with pytest.warns(UserWarning, match="not in the roster"):
            counts = load_git(s, repo, codeowners=True)
        assert {x.table: x for x in counts}["commits"].quarantined == 0


def test_roster_team_and_unmapped(repo, tmp_path):
    with Store(tmp_path / "r.duckdb") as s:
        s.con.execute("INSERT INTO teams (team_id) VALUES ('core')")
        s.con.execute(f"INSERT INTO memberships (builder_id, team_id, start) VALUES ('{s.pseudonymise(ALICE)}', 'core', DATE '2024-01-01')")
        c = {x.table: x for x in load_git(s, repo)}
        assert c["commits"].unmapped == 1  # bob has no membership
        got = dict(s.con.execute("SELECT author_id = ?, max(team_id) FROM commits GROUP BY 1", [s.pseudonymise(ALICE)]).fetchall())
        assert got == {True: "core", False: None}


def test_reload_is_idempotent_and_bare_mirror_reads(repo, tmp_path, new_store):
    mirror = tmp_path / "app.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo), str(mirror)], check=True)
    with new_store(tmp_path / "i.duckdb") as s:
        first = load_git(s, mirror, all_refs=True, repo_id="app")
        before = s.counts()
        again = load_git(s, mirror, all_refs=True, repo_id="app")
        assert s.counts() == before
        for c in again:
            assert c.loaded == c.updated == 0 and c.duplicate == c.read
        assert {c.table: c.read for c in first}["commits"] == int(_run(repo, "rev-list", "--count", "--all"))


def test_not_a_repository_is_one_clear_error(tmp_path):
    with Store(tmp_path / "n.duckdb") as s:
        with pytest.raises(DataError, match=r"not a git repository.*expected a local git repository"):
            load_git(s, tmp_path)
        with pytest.raises(DataError, match="no such folder"):
            load_git(s, tmp_path / "missing")
        assert s.count("commits") == 0


def test_path_rules():
    r = git.OwnerRules.parse("* @o/all\n/src/ @o/src\ndocs/*.md team-docs\n**/test_* @o/qa\n")
    assert r.owner("a/b.c") == "all"
    assert r.owner("src/x/y.py") == "src"
    assert r.owner("lib/src/y.py") == "all"
    assert r.owner("docs/a.md") == "team-docs"
    assert r.owner("src/pkg/test_a.py") == "qa"


def test_split_history_reads_the_same(repo, monkeypatch):
    one = git.read(repo, all_refs=True, jobs=1)
    monkeypatch.setattr(git, "PARALLEL_FROM", 2)
    split = git.read(repo, all_refs=True, jobs=3)
    assert split["commits"].equals(one["commits"]) and split["changes"].equals(one["changes"])
    with pytest.raises(ConfigError, match="jobs"):
        git.read(repo, jobs=0)
