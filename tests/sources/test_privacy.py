from __future__ import annotations

import os
import subprocess
import warnings

from layouts import stored_bytes

from ctssw.store import (
    load_copilot,
    load_git,
    load_github,
    load_gitlab,
    load_pagerduty,
    load_qdev,
    load_roster,
)

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


def test_no_raw_identity_anywhere(tmp_path, new_store):
    db = tmp_path / "p.duckdb"
    _tiny_repo(tmp_path / "repo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(db) as s:
            # teams, then tools and forges: their identities are unmapped until the roster's people arrive
            load_roster(s, FIX / "roster/teams.csv")
            load_copilot(s, FIX / "copilot/user_usage.ndjson")
            load_qdev(s, FIX / "qdev")
            load_github(s, FIX / "github", workflow="Deploy")
            load_gitlab(s, FIX / "gitlab")
            load_pagerduty(s, FIX / "pagerduty", team_map={"Payments On-call": "payments", "storefront": "web", "Web On-call": "web"})
            load_git(s, tmp_path / "repo")
            load_roster(s, sorted(p for p in (FIX / "roster").glob("*.csv") if p.stem != "teams"))
            assert s.count("quarantine") > 0  # quarantined rows are checked too
            tables = [r[0] for r in s.con.execute("SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
            for t in tables:
                text = s.con.execute(f'SELECT * FROM "{t}"').df().astype(str).to_csv().lower()
                for v in RAW_IDENTITIES:
                    assert v.lower() not in text, (t, v)
            # the roster arriving later re-pointed earlier rows at the person
            alice = s.pseudonymise("alice@corp.example")
            assert s.con.execute("SELECT count(*) FROM tool_usage WHERE builder_id = ? AND feature = 'all'", [alice]).fetchall()[0][0] == 3
            assert s.con.execute("SELECT count(*) FROM commits WHERE author_id = ?", [alice]).fetchall()[0][0] == 1
            assert s.con.execute("SELECT count(*) FROM pages WHERE builder_id = ?", [alice]).fetchall()[0][0] >= 2
            ids = {r[0] for r in s.con.execute("SELECT builder_id FROM builders").fetchall()}
            used = {r[0] for r in s.con.execute("SELECT author_id FROM commits UNION SELECT builder_id FROM tool_usage").fetchall()}
            assert used <= ids
    raw = stored_bytes(db)
    for v in RAW_IDENTITIES:
        assert v.encode() not in raw, v
        assert v.lower().encode() not in raw, v


REAL = FIX.parents[1] / "fixtures"
REAL_IDENTITIES = (
    "PQYACO3", "P25K520", "Keon Amini", "Kian Amini", "user@emaildomain.com", "developer@company.com", "login1",
    "barryz", "choleraehyq", "Cholerae", "215bb5b0-00a1-70cd-1caf-57794fdc8915", "dwalleck@proton.me",
    "user@example.com", "user_example123",  # (panjf2000 also owns the repository, whose id is kept) "emilie.burke@gmail.com", "tayloramurphy",
)


def test_real_payloads_pseudonymised_and_reload_changes_nothing(tmp_path, new_store):
    from ctssw.store import load_claude, load_cursor, load_kiro

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(tmp_path / "r.duckdb") as s:
            loads = [
                lambda: load_pagerduty(s, REAL / "pagerduty/devlake_incidents_with_log_entries.json"),
                lambda: load_github(s, [REAL / "github" / n for n in (
                    "ants_pulls.json", "ants_issue_comments.json", "ants_pull_reviews.json", "ants_pulls_23_commits.json",
                    "graphql_deployments_openbic.json")]),
                lambda: load_gitlab(s, [REAL / "gitlab" / n for n in (
                    "snowflake_spend_merge_requests.json", "snowflake_spend_merge_requests_1_commits.json",
                    "devlake_deployments.json")]),
                lambda: load_copilot(s, REAL / "copilot/users_report_example.ndjson"),
                lambda: load_claude(s, REAL / "claude/usage_report_claude_code.json"),
                lambda: load_cursor(s, [REAL / "cursor/teams_daily_usage_data.json", REAL / "cursor/analytics_ai_code_commits.json",
                                        REAL / "cursor/devlake_daily_usage_record.json"]),
                lambda: load_kiro(s, REAL / "kiro"),
            ]
            for load in loads:
                load()
            for load in loads:
                assert all(c.loaded == c.updated == 0 for c in load())
            for t in [r[0] for r in s.con.execute("SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]:
                text = s.con.execute(f'SELECT * FROM "{t}"').df().astype(str).to_csv().lower()
                for v in REAL_IDENTITIES:
                    assert v.lower() not in text, (t, v)
