"""``collect_github`` against the recorded PyGithub/PyGithub exchanges on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.collect import AuthError, collect_github
from ctssw.store import Store

from .conftest import TOKEN
from .replay import REPO, github_routes, reply

ORG = "BeaverSoftware"


def run(store, api_url, cache, sleeps=None, **kw):
    kw.setdefault("copilot", False)
    return collect_github(store, org=ORG, repos=["PyGithub/PyGithub"], since="2012-01-01", cache=cache, api_url=api_url,
                          workflow="ci.yml", _client={"sleep": sleeps if sleeps is not None else (lambda s: None)}, **kw)


def test_first_run_collects_every_resource_and_loads_it(github, api_url, token, tmp_path, new_store):
    with new_store(tmp_path / "s.duckdb") as s:
        res = run(s, api_url, tmp_path / "cache")
        changes = s.con.execute("SELECT change_id, merged_at IS NOT NULL, first_review_at IS NOT NULL, first_commit_at IS NOT NULL, additions FROM changes ORDER BY 1").fetchall()
        deps = s.con.execute("SELECT deployment_id, environment, result FROM deployments").fetchall()
        teams = s.con.execute("SELECT team_id FROM teams ORDER BY 1").fetchall()
        members = s.count("memberships")
        state = s.con.execute("SELECT resource, watermark FROM collect_state WHERE scope = 'PyGithub/PyGithub' ORDER BY 1").fetchall()
    assert res.items == {"pulls": 2, "deployments": 2, "releases": 30, "workflow runs": 1, "teams": 2}
    # #31 merged with a review comment by someone else and commits; #32 still open
    assert changes == [("PyGithub/PyGithub#31", True, True, True, 511), ("PyGithub/PyGithub#32", False, False, False, None)]
    # the CI run counts as a production deployment (--workflow ci.yml); what the connector makes of the
    # status-less REST deployments is the connector's business
    assert ("PyGithub/PyGithub:run:3881497935", "production", "success") in deps
    assert teams == [("members",), ("owners",)] and members == 1
    assert dict(state) == {"deployments": "2020-08-26T11:44:53Z", "pulls": "2012-05-27T10:58:41Z",
                           "releases": "2021-04-26T04:43:40Z", "runs": "2023-01-10T08:24:19Z"}
    # three release pages followed through their recorded Link headers
    assert [e["query"] for e in github.log if "releases" in e["path"]][1:] == ["per_page=10&page=2", "per_page=10&page=3"]
    cache = tmp_path / "cache" / "github"
    assert sorted(p.name for p in (cache / "repos" / "PyGithub__PyGithub" / "pulls").iterdir()) == ["31.json", "32.json"]
    assert "releases are kept in the cache" in " ".join(res.notes)


def test_second_run_fetches_only_what_changed(github, api_url, token, tmp_path, new_store):
    with new_store(tmp_path / "s.duckdb") as s:
        first = run(s, api_url, tmp_path / "cache")
        n = len(github.log)
        github_routes(github, changed=True)  # #32 merged, #39 opened
        second = run(s, api_url, tmp_path / "cache")
        merged = s.con.execute("SELECT change_id FROM changes WHERE merged_at IS NOT NULL ORDER BY 1").fetchall()
    log = github.log[n:]
    fetched = sorted({e["path"] for e in log if e["status"] == 200})
    assert fetched == sorted([
        f"{REPO}/pulls",  # its ETag changed
        *[p for k in (32, 39) for p in (f"{REPO}/pulls/{k}", f"{REPO}/pulls/{k}/reviews", f"{REPO}/pulls/{k}/comments",
                                          f"/repos/PyGithub/PyGithub/issues/{k}/comments", f"{REPO}/pulls/{k}/commits")],
        # deployments whose last status was 'queued' (or none) are asked again
        f"{REPO}/deployments/262350588/statuses", f"{REPO}/deployments/263877258/statuses",
    ])
    not_modified = sorted(e["path"] for e in log if e["status"] == 304)
    assert not_modified == sorted([f"{REPO}/actions/runs", f"{REPO}/deployments", f"{REPO}/releases", f"/orgs/{ORG}/teams",
                                   f"/orgs/{ORG}/teams/members/members", f"/orgs/{ORG}/teams/owners/members"])
    assert not any("/pulls/31" in e["path"] for e in log)  # unchanged pull: nothing asked
    assert (first.requests, first.fetched, second.requests, second.fetched, second.not_modified) == (22, 22, 19, 13, 6)
    assert merged == [("PyGithub/PyGithub#31",), ("PyGithub/PyGithub#32",), ("PyGithub/PyGithub#39",)]


def test_an_unchanged_rerun_loads_nothing_new(github, api_url, token, tmp_path, new_store):
    with new_store(tmp_path / "s.duckdb") as s:
        run(s, api_url, tmp_path / "cache")
        before = s.counts()
        res = run(s, api_url, tmp_path / "cache")
        after = s.counts()
    assert before == after
    assert sum(c.loaded + c.updated for c in res.counts) == 0
    assert not any("/pulls/3" in e["path"] for e in github.log[22:])


def test_a_rate_limited_run_shows_the_wait_and_completes(github, api_url, token, tmp_path, sleeps):
    github.set(f"{REPO}/deployments", reply("github/error_403_secondary_rate_limit_retry_after.json"),
               reply("github/deployments_list.json"))
    seen = []
    with Store(tmp_path / "s.duckdb") as s:
        res = run(s, api_url, tmp_path / "cache", sleeps, progress=lambda r, n, w, pages: seen.append((r, w)))
    assert sleeps == [60.0] and res.waited_s == 60.0
    assert ("deployments", "secondary rate limit: waiting 60 s") in seen


def test_copilot_reports_follow_their_signed_links(github, api_url, token, tmp_path, httpserver):
    day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    meta = json.loads((_fixture("copilot/report_1_day_response.json")))
    teams_meta = json.loads(_fixture("copilot/user_teams_1_day_response.json"))
    expired = reply("copilot/expired_signed_link_403.json")
    plain = {"request": {}, "status": 200, "headers": [["Content-Type", "application/octet-stream"]]}
    # the docs' example links point at example.com: the replay server stands in for the blob host
    link = lambda name, sig: f"{api_url}/blob/{name}?sv=2025-01-05&se=2030-01-01&sig={sig}"  # noqa: E731
    first = {**meta, "download_links": [link("users-1.ndjson", "OLDSIG"), link("users-2.ndjson", "SIG2")], "report_day": day}
    fresh = {**meta, "download_links": [link("users-1b.ndjson", "NEWSIG"), link("users-2.ndjson", "SIG2")], "report_day": day}
    rec = {"request": {}, "status": 200, "headers": [["Content-Type", "application/json; charset=utf-8"]]}
    github.set(f"/orgs/{ORG}/copilot/metrics/reports/users-1-day", reply({**rec, "body": first}), reply({**rec, "body": fresh}))
    github.set(f"/orgs/{ORG}/copilot/metrics/reports/user-teams-1-day",
               reply({**rec, "body": {**teams_meta, "download_links": [link("teams-1.ndjson", "SIG3")], "report_day": day}}))
    github.set("/blob/users-1.ndjson", expired)
    github.set("/blob/users-1b.ndjson", reply({**plain, "body": _fixture("copilot/users_report_example.ndjson")}))
    github.set("/blob/users-2.ndjson", reply({**plain, "body": _fixture("copilot/users_report_example.ndjson")}))
    github.set("/blob/teams-1.ndjson", reply({**plain, "body": _fixture("copilot/user_teams_1_day_example.ndjson")}))
    with Store(tmp_path / "s.duckdb") as s:
        res = collect_github(s, org=ORG, repos=[], since=day, cache=tmp_path / "cache", api_url=api_url, teams=False)
        usage = s.con.execute("SELECT tool, CAST(day AS VARCHAR), events FROM tool_usage").fetchall()
        mark = s.con.execute("SELECT watermark FROM collect_state WHERE resource = 'copilot'").fetchall()
    # the example user's day, once however many feature rows the connector makes of it
    assert usage and {(tool, d) for tool, d, _ in usage} == {("copilot", "2025-10-01")}
    assert mark == [(day,)]
    blob = [e for e in github.log if e["path"].startswith("/blob/")]
    assert [e["path"] for e in blob] == ["/blob/users-1.ndjson", "/blob/users-1b.ndjson", "/blob/users-2.ndjson", "/blob/teams-1.ndjson"]
    assert all(e["auth"] is None for e in blob)  # signed links get no token
    files = sorted(p.relative_to(tmp_path / "cache" / "github").as_posix() for p in (tmp_path / "cache").rglob("*.ndjson"))
    assert files == [f"copilot/user-teams-1-day/{day}-1.ndjson", f"copilot/users-1-day/{day}-1.ndjson", f"copilot/users-1-day/{day}-2.ndjson"]
    assert any("user-teams reports kept" in n for n in res.notes)
    for p in (tmp_path).rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert b"OLDSIG" not in data and b"NEWSIG" not in data and TOKEN.encode() not in data


def _fixture(name: str) -> str:
    from .replay import SHARED

    return (SHARED / name).read_text()


def test_cli_401_is_one_error_line_and_writes_nothing(replay, api_url, token, tmp_path):
    replay.set(f"{REPO}/pulls", reply("github/error_401_bad_credentials.json"))
    db, cache = tmp_path / "s.duckdb", tmp_path / "cache"
    r = CliRunner().invoke(app, ["collect", "github", "--org", ORG, "--repo", "PyGithub/PyGithub", "--since", "2012-01-01",
                                 "--api-url", api_url, "--cache", str(cache), "--db", str(db)])
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: github: HTTP 401 Bad credentials from http://127.0.0.1:")
    assert "Traceback" not in r.output and TOKEN not in r.output
    assert not any(p.is_file() for p in cache.rglob("*"))
    with Store(db, read_only=True) as s:
        assert sum(v for k, v in s.counts().items()) == 0
        assert s.con.execute("SELECT count(*) FROM collect_state").fetchall() == [(0,)]


def test_missing_token_names_the_variable(replay, api_url, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with Store(tmp_path / "s.duckdb") as s, pytest.raises(Exception, match=r"no token: set \$GITHUB_TOKEN or give --token-file"):
        run(s, api_url, tmp_path / "cache")
    assert replay.log == []


def test_token_file_is_read_and_never_written(github, api_url, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    (tmp_path / "tok").write_text(TOKEN + "\n")
    with Store(tmp_path / "s.duckdb") as s:
        run(s, api_url, tmp_path / "cache", token_file=tmp_path / "tok")
    assert {e["auth"] for e in github.log} == {f"Bearer {TOKEN}"}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "tok"]
    assert written and not any(TOKEN.encode() in p.read_bytes() for p in written)


def test_bad_arguments_are_one_clear_error(replay, api_url, token, tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        with pytest.raises(Exception, match=r"--since '2025-13-01': not a calendar date"):
            collect_github(s, org=ORG, since="2025-13-01", api_url=api_url, cache=tmp_path)
        with pytest.raises(Exception, match=r"--repo 'justname': expected owner/name"):
            collect_github(s, org=ORG, repos=["justname"], since="2025-01-01", api_url=api_url, cache=tmp_path)
        with pytest.raises(AuthError):
            replay.set(f"{REPO}/pulls", reply("github/error_401_bad_credentials.json"))
            run(s, api_url, tmp_path / "cache")


def test_a_response_of_the_wrong_shape_is_one_error_line(github, api_url, token, tmp_path):
    # the recorded deployment statuses body where the pull listing should be: records without `number`
    github.set(f"{REPO}/pulls", reply("github/deployment_263877258_statuses.json"))
    with Store(tmp_path / "s.duckdb") as s, pytest.raises(Exception) as e:
        run(s, api_url, tmp_path / "cache")
    msg = str(e.value)
    assert msg.startswith(f"github: unexpected response from {api_url}{REPO}/pulls") and "\n" not in msg
    assert "nothing was ingested" in msg


def test_a_bad_workflow_pattern_stays_a_usage_error(github, api_url, token, tmp_path):
    from ctssw.errors import ConfigError

    with Store(tmp_path / "s.duckdb") as s, pytest.raises(ConfigError, match=r"github: --workflow '\(' is not a regular expression"):
        collect_github(s, org=ORG, repos=["PyGithub/PyGithub"], since="2012-01-01", cache=tmp_path / "c", api_url=api_url,
                       copilot=False, workflow="(", _client={"sleep": lambda x: None})
    assert github.log == []  # checked before any request


def test_without_repo_every_repository_of_the_organisation_is_collected(replay, api_url, token, tmp_path):
    replay.set(f"/orgs/{ORG}/repos", reply("github/org_repos.json"))
    empty = reply("github/empty_list.json")
    for name in ("FatherBeaver", "TestPyGithub"):
        for res in ("pulls", "deployments", "releases"):
            replay.set(f"/repos/{ORG}/{name}/{res}", empty)
        replay.set(f"/repos/{ORG}/{name}/actions/runs", reply("github/runs_created_list.json", body={"total_count": 0, "workflow_runs": []}))
    with Store(tmp_path / "s.duckdb") as s:
        res = collect_github(s, org=ORG, since="2024-01-01", cache=tmp_path / "c", api_url=api_url, teams=False, copilot=False)
        scopes = s.con.execute("SELECT DISTINCT scope FROM collect_state ORDER BY 1").fetchall()
    assert res.items["repositories"] == 2
    assert [e["path"] for e in replay.log][:2] == [f"/orgs/{ORG}/repos", f"/repos/{ORG}/FatherBeaver/pulls"]
    assert scopes == [(f"{ORG}/FatherBeaver",), (f"{ORG}/TestPyGithub",)]


def test_a_new_cache_folder_is_filled_whole_again(github, api_url, token, tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        run(s, api_url, tmp_path / "cache")
        before = s.counts()
        res = run(s, api_url, tmp_path / "other-cache")  # same store, empty cache: watermarks and ETags not used
        after = s.counts()
    assert (res.requests, res.fetched, res.not_modified) == (22, 22, 0)
    # the quarantine keys rows by their source (here: another folder), so it holds the two bad deployments twice
    before.pop("quarantine"), after.pop("quarantine")
    assert before == after and sum(c.loaded for c in res.counts) == 0
    assert sorted(p.name for p in (tmp_path / "other-cache" / "github" / "repos" / "PyGithub__PyGithub" / "pulls").iterdir()) == ["31.json", "32.json"]


def test_copilot_days_without_a_report_are_passed_over_until_the_recent_ones(replay, api_url, token, tmp_path):
    replay.set(f"/orgs/{ORG}/copilot/metrics/reports/users-1-day", reply("github/error_404_not_found.json"))
    replay.set(f"/orgs/{ORG}/copilot/metrics/reports/user-teams-1-day", reply("github/error_404_not_found.json"))
    today = dt.datetime.now(dt.UTC).date()
    since = (today - dt.timedelta(days=5)).isoformat()
    with Store(tmp_path / "s.duckdb") as s:
        res = collect_github(s, org=ORG, repos=[], since=since, cache=tmp_path / "c", api_url=api_url, teams=False)
        mark = s.con.execute("SELECT watermark FROM collect_state WHERE resource = 'copilot'").fetchall()
    # five and four days ago are long due: passed over; three days ago may still come: asked again next run
    assert mark == [((today - dt.timedelta(days=4)).isoformat(),)]
    assert len([e for e in replay.log if "users-1-day" in e["path"]]) == 3
    assert any("policy was off" in n for n in res.notes) and any("next run asks again" in n for n in res.notes)
