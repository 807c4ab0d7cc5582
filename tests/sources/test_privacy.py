from __future__ import annotations

import os
import subprocess
import warnings

from ctssw.sources import copilot, git, github, gitlab, pagerduty, qdev, roster
from ctssw.store import Store

from .conftest import FIX, RAW_IDENTITIES


def _tiny_repo(path):
    path.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "-C", str(path), "init", "-q"], check=True, env=env)
    for who in ("alice@home.example", "bob@corp.example", "carol-gh@users.noreply.example"):
        (path / "f.txt").write_text(who)
        e = {**env, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": who, "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": who}
        subprocess.run(["git", "-C", str(path), "add", "."], check=True, env=e)
        subprocess.run(["git", "-C", str(path), "commit", "-qm", "c"], check=True, env=e)


def test_no_raw_identity_anywhere(tmp_path):
    db = tmp_path / "p.duckdb"
    _tiny_repo(tmp_path / "repo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(db) as s:
            # teams, then tools and forges: their identities are unmapped until the roster's people arrive
            roster.load(s, FIX / "roster/teams.csv")
            copilot.load(s, FIX / "copilot/user_usage.ndjson")
            qdev.load(s, FIX / "qdev")
            github.load(s, FIX / "github", workflow="Deploy")
            gitlab.load(s, FIX / "gitlab")
            pagerduty.load(s, FIX / "pagerduty", team_map={"Payments On-call": "payments", "storefront": "web", "Web On-call": "web"})
            git.load(s, tmp_path / "repo")
            roster.load(s, sorted(p for p in (FIX / "roster").glob("*.csv") if p.stem != "teams"))
            assert s.count("quarantine") > 0  # quarantined rows are checked too
            tables = [r[0] for r in s.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
            for t in tables:
                text = s.con.execute(f'SELECT * FROM "{t}"').df().astype(str).to_csv().lower()
                for v in RAW_IDENTITIES:
                    assert v.lower() not in text, (t, v)
            # the roster arriving later re-pointed earlier rows at the person
            alice = s.pseudonymise("alice@corp.example")
            assert s.con.execute("SELECT count(*) FROM tool_usage WHERE builder_id = ?", [alice]).fetchall()[0][0] == 3
            assert s.con.execute("SELECT count(*) FROM commits WHERE author_id = ?", [alice]).fetchall()[0][0] == 1
            assert s.con.execute("SELECT count(*) FROM pages WHERE builder_id = ?", [alice]).fetchall()[0][0] >= 2
            ids = {r[0] for r in s.con.execute("SELECT builder_id FROM builders").fetchall()}
            used = {r[0] for r in s.con.execute("SELECT author_id FROM commits UNION SELECT builder_id FROM tool_usage").fetchall()}
            assert used <= ids
    raw = db.read_bytes()
    wal = db.with_suffix(".duckdb.wal")
    if wal.exists():
        raw += wal.read_bytes()
    for v in RAW_IDENTITIES:
        assert v.encode() not in raw, v
        assert v.lower().encode() not in raw, v
