"""Defects found on real payloads nobody here wrote (tests/fixtures/*/ORIGIN.md says where each is from)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ctssw.errors import DataWarning
from ctssw.store import load_github, load_gitlab, load_pagerduty

from .conftest import by_table

REAL = Path(__file__).resolve().parents[1] / "fixtures"



def test_pagerduty_notified_names_resolve_to_user_ids(rostered):
    c = by_table(load_pagerduty(rostered, REAL / "pagerduty/devlake_incidents_with_log_entries.json",
                                team_map=["DevService=payments"]))
    assert (c["pages"].loaded, c["pages"].quarantined, c["pages"].unmapped) == (15, 0, 2)
    per_incident = dict(rostered.con.execute("SELECT incident_id, count(*) FROM pages GROUP BY 1").fetchall())
    assert per_incident == {"pd:Q3YON8WNWTZMRQ": 12, "pd:Q3CZAU7Q4008QD": 1, "pd:Q1OHFWFP3GPXOG": 2}
    # "Notified Keon Amini by email." is the user PQYACO3 (named as assignee and agent elsewhere)
    keon = rostered.pseudonymise("PQYACO3")
    assert rostered.con.execute("SELECT count(*) FROM pages WHERE builder_id = ?", [keon]).fetchall() == [(8,)]
    assert rostered.con.execute("SELECT count(*) FROM pages WHERE builder_id IS NULL").fetchall() == [(0,)]


def test_github_deployment_finishes_at_first_terminal_status(store):
    # facebook/OpenBIC github-pages (GraphQL, recorded by DevLake): SUCCESS 2026-02-14T00:32:36Z,
    # then INACTIVE 2026-02-20T00:30:59Z when the next deployment replaced it
    c = by_table(load_github(store, REAL / "github/graphql_deployments_openbic.json", production_env="github-pages"))
    assert (c["deployments"].loaded, c["deployments"].quarantined) == (2, 0)
    got = store.con.execute(
        "SELECT deployment_id, result, finished_at, is_production FROM deployments ORDER BY started_at").fetchall()
    assert [(r[0], r[1], r[2].isoformat(), r[3]) for r in got] == [
        ("facebook/OpenBIC:deployment:3839563910", "success", "2026-02-14T00:32:36+00:00", True),
        ("facebook/OpenBIC:deployment:3881429895", "success", "2026-02-20T00:30:59+00:00", True),
    ]


def test_github_pages_is_not_production_by_default(store):
    with pytest.warns(DataWarning, match=r"2 deployment\(s\) to non-production environments \(github-pages 2\)"):
        load_github(store, REAL / "github/graphql_deployments_openbic.json")
    assert store.con.execute("SELECT count(*) FROM deployments WHERE NOT is_production").fetchall() == [(2,)]


def test_github_production_environment_flag_wins(store, tmp_path):
    # PyGithub's recorded /deployments: env "production" with production_environment false, env "test"
    body = json.loads((REAL / "github/deployments_list.json").read_text())["body"]
    p = tmp_path / "deployments.json"
    p.write_text(json.dumps(body))
    with pytest.warns(DataWarning, match="no status yet: loaded as running"):
        c = by_table(load_github(store, p))
    assert (c["deployments"].loaded, c["deployments"].quarantined) == (2, 0)
    got = store.con.execute("SELECT environment, is_production, result FROM deployments ORDER BY 1").fetchall()
    assert got == [("production", False, "running"), ("test", False, "running")]


def _ants(tmp_path, *names):
    for n in names:
        shutil.copy(REAL / "github" / n, tmp_path / n)
    return tmp_path


def test_github_bots_never_review(store, tmp_path):
    # panjf2000/ants pulls (#4 on two list pages) with their issue comments and reviews: codecov[bot]
    # (type Bot) comments first on 6 of 11
    d = _ants(tmp_path, "ants_pulls.json", "ants_issue_comments.json", "ants_pull_reviews.json")
    with pytest.warns(DataWarning, match=r"on 6 pull request\(s\) a bot commented first"):
        load_github(store, d)
    got = dict(store.con.execute("SELECT change_id, first_review_at::VARCHAR FROM changes").fetchall())
    assert got["panjf2000/ants#4"] == "2018-07-25 10:49:44+00"  # not codecov[bot] at 08:25:22
    assert got["panjf2000/ants#16"] is None  # only codecov[bot] commented
    assert got["panjf2000/ants#41"] == "2019-08-20 09:19:55+00"  # the first review by someone else


def test_github_pull_commits_page_is_read_not_fatal(store, tmp_path):
    d = _ants(tmp_path, "ants_pulls.json", "ants_pulls_23_commits.json")
    (tmp_path / "rate_limit.json").write_text(json.dumps({"resources": {"core": {"limit": 5000}}}))
    with pytest.warns(DataWarning, match=r"1 file\(s\) hold no GitHub records ctssw reads and were skipped: rate_limit\.json"):
        c = by_table(load_github(store, d))
    assert c["changes"].loaded == 11
    got = store.con.execute("SELECT first_commit_at::VARCHAR FROM changes WHERE change_id = 'panjf2000/ants#23'").fetchall()
    assert got == [("2019-01-21 10:57:23+00",)]


def test_gitlab_mr_commits_fill_first_commit_at(store, tmp_path):
    # gitlab-data/snowflake_spend merge requests and their /merge_requests/IID/commits pages (DevLake e2e)
    for n in ("snowflake_spend_merge_requests.json", "snowflake_spend_merge_requests_1_commits.json",
              "snowflake_spend_merge_requests_2_commits.json", "snowflake_spend_merge_requests_5_commits.json"):
        shutil.copy(REAL / "gitlab" / n, tmp_path / n)
    c = by_table(load_gitlab(store, tmp_path))
    assert (c["changes"].loaded, c["changes"].quarantined) == (5, 0)
    got = dict(store.con.execute("SELECT change_id, first_commit_at::VARCHAR FROM changes").fetchall())
    assert got["gitlab-data/snowflake_spend!1"] == "2019-06-28 05:40:36+00"
    assert got["gitlab-data/snowflake_spend!3"] is None  # no commits page given


def test_gitlab_deployment_starts_when_its_job_starts(store):
    with pytest.warns(DataWarning, match=r"deployment\(s\) to non-production environments \(staging"):
        c = by_table(load_gitlab(store, REAL / "gitlab/devlake_deployments.json"))
    assert c["deployments"].read == 8
    got = store.con.execute(
        "SELECT started_at::VARCHAR, is_production FROM deployments WHERE deployment_id LIKE '%:13426753'").fetchall()
    assert got == [("2019-03-13 14:17:33.559+00", False)]  # the job's start, not the creation at 14:14:24
    prod = store.con.execute("SELECT count(*) FROM deployments WHERE is_production").fetchall()
    assert prod == [(3,)]  # canceled 13436532, and "created" 13436763 and "blocked" 13436986 (running)


def test_github_job_matching_nothing_says_so(store, tmp_path):
    # panjf2000/ants Actions runs (Tests, Lint) and deploy* jobs of other runs, as DevLake recorded them
    d = _ants(tmp_path, "ants_workflow_runs.json", "ants_workflow_jobs.json")
    with pytest.warns(DataWarning, match=r"--job 'release': it matched no job of the 6 job\(s\) given"):
        assert load_github(store, d, job="release") == []
    with pytest.warns(DataWarning, match=r"--job 'deploy': 6 job\(s\) match but none belongs to one of the 6 run\(s\)"):
        assert load_github(store, d, job="deploy") == []


def test_github_agent_authored_and_agent_reviewed(store, tmp_path):
    # no recorded pull request by the Copilot coding agent exists (tests/fixtures/MISSING.md): a real
    # ants pull request with its author set to the agent's documented login, and a real review
    # re-attributed to Copilot's review bot, changed here in the test
    pr = json.loads((REAL / "github/ants_pulls.json").read_text())[2]
    pr["user"] = {"login": "Copilot", "type": "Bot"}
    review = json.loads((REAL / "github/ants_pull_reviews.json").read_text())[0]
    review["user"] = {"login": "copilot-pull-request-reviewer[bot]", "type": "Bot"}
    review["pull_request_url"] = pr["url"]
    (tmp_path / "pulls.json").write_text(json.dumps([pr]))
    (tmp_path / "reviews.json").write_text(json.dumps([review]))
    with pytest.warns(DataWarning):
        load_github(store, tmp_path)
    got = store.con.execute("SELECT agent, review_agent, first_review_at FROM changes").fetchall()
    assert got == [("copilot", "copilot", None)]  # the review bot is an agent, not a reviewer


def test_production_env_pattern_is_kept_per_service(store, tmp_path):
    # facebook/OpenBIC deploys to github-pages: once a pattern names it, later loads of the same
    # repository classify alike without repeating --production-env, and status says what is left out
    from ctssw.pipeline.status import store_status

    with pytest.warns(DataWarning, match="non-production"):
        load_github(store, REAL / "github/graphql_deployments_openbic.json")
    assert store.con.execute("SELECT count(*) FROM deployments WHERE is_production").fetchall() == [(0,)]
    load_github(store, REAL / "github/graphql_deployments_openbic.json", production_env="github-pages|prod")
    assert store.con.execute("SELECT service_id, repo_id, production_env FROM services").fetchall() == [
        ("facebook/OpenBIC", "facebook/OpenBIC", "github-pages|prod")]
    assert store.con.execute("SELECT count(*) FROM deployments WHERE is_production").fetchall() == [(2,)]
    again = by_table(load_github(store, REAL / "github/graphql_deployments_openbic.json"))
    assert again["deployments"].loaded == 0  # same pattern, same rows: nothing changes
    assert store.con.execute("SELECT count(*) FROM deployments WHERE is_production").fetchall() == [(2,)]
    store.close()
    s = store_status(store.path)
    assert "non_production" not in s.tables["deployments"]
    assert not any("non-production" in w for w in s.warnings)


def test_status_counts_non_production_deployments(store):
    from ctssw.pipeline.status import store_status

    with pytest.warns(DataWarning, match="non-production"):
        load_github(store, REAL / "github/graphql_deployments_openbic.json")
    store.close()
    s = store_status(store.path)
    assert s.tables["deployments"]["non_production"] == 2
    line = next(w for w in s.warnings if "non-production" in w)
    assert "(github-pages 2)" in line and "--production-env REGEX" in line


def test_github_team_member_lists_become_teams_and_memberships(store, tmp_path):
    # PyGithub's recorded /teams/…/members page (one member, jacquev6) saved under the API's path,
    # and its recorded /orgs/BeaverSoftware/teams team "Members" in the shape `ctssw collect github` caches
    members = json.loads((REAL / "github/team_members.json").read_text())["body"]
    team = json.loads((REAL.parent / "collect/fixtures/github/org_teams.json").read_text())["body"][0]
    (tmp_path / "teams" / "platform").mkdir(parents=True)
    (tmp_path / "teams" / "platform" / "members.json").write_text(json.dumps(members))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "members.json").write_text(json.dumps({"team": team, "members": members}))
    shutil.copy(REAL / "github/ants_pulls.json", tmp_path / "pulls.json")
    with pytest.warns(DataWarning, match=r"team members start on 20\d\d-\d\d-\d\d \(GitHub keeps no joining dates"):
        c = by_table(load_github(store, [tmp_path / "teams", tmp_path / "cache", tmp_path / "pulls.json"]))
    assert c["memberships"].loaded == 2 and c["teams"].loaded == 2
    first = store.con.execute("SELECT min(created_at)::DATE FROM changes").fetchall()[0][0]
    got = store.con.execute("SELECT team_id, start, builder_id = ? FROM memberships ORDER BY 1",
                            [store.pseudonymise("jacquev6")]).fetchall()
    assert got == [("members", first, True), ("platform", first, True)]
    assert store.con.execute("SELECT team_id, name FROM teams ORDER BY 1").fetchall() == [
        ("members", "Members"), ("platform", "platform")]
    again = by_table(load_github(store, [tmp_path / "teams"]))  # the start is kept: nothing changes
    assert again["memberships"].loaded == 0
    assert not store.con.execute("SELECT count(*) FROM memberships WHERE coalesce(inferred, false)").fetchall()[0][0]
