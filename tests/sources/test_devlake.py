from __future__ import annotations

import datetime as dt

import pytest

from ctssw.errors import ConfigError, DataError, SchemaError
from ctssw.sources import devlake
from ctssw.store import load_devlake

from .conftest import DEVLAKE, by_table

pytestmark = pytest.mark.skipif(not DEVLAKE.is_dir(), reason="DevLake reference tables not present")


@pytest.mark.filterwarnings("ignore:devlake. skipped files")
def test_change_lead_time_tables_ingest(store):
    with pytest.warns(UserWarning, match="skipped files"):
        c = by_table(load_devlake(store, DEVLAKE / "change_lead_time"))
    assert (c["changes"].read, c["changes"].loaded) == (7, 7)
    assert (c["deployments"].read, c["deployments"].loaded, c["deployments"].quarantined) == (16, 15, 1)
    assert store.con.execute("SELECT reason FROM quarantine").fetchall() == [("missing environment",)]
    assert c["deployment_commits"].loaded == 6
    # "2023-4-11 4:51:47" (no zero padding) and ISO with offsets both land as UTC
    pr1 = store.con.execute(
        "SELECT created_at, first_commit_at, first_review_at FROM changes WHERE change_id = 'pr1'").fetchall()[0]
    utc = dt.UTC
    assert pr1 == (dt.datetime(2023, 4, 11, 4, 51, 47, tzinfo=utc), dt.datetime(2023, 4, 10, 4, 51, 47, tzinfo=utc),
                   dt.datetime(2023, 4, 11, 4, 56, 47, tzinfo=utc))  # comment01 is the author's own
    fin = store.con.execute("SELECT finished_at FROM deployments WHERE deployment_id = '1'").fetchall()[0][0]
    assert fin == dt.datetime(2023, 4, 10, 6, 52, 47, tzinfo=utc)
    again = load_devlake(store, DEVLAKE / "change_lead_time")
    assert all(x.loaded == x.updated == 0 for x in again)


def test_incidents_and_deployment_files(store):
    c = by_table(load_devlake(store, [
        DEVLAKE / "connect_incident_to_deployment/raw_tables/incidents.csv",
        DEVLAKE / "connect_incident_to_deployment/prev_success_deployment_commit/cicd_deployment_commits_after.csv",
    ]))
    assert c["incidents"].loaded == 7 and c["incidents"].quarantined == 0
    assert c["deployments"].loaded + c["deployments"].quarantined == c["deployments"].read


def test_teams_accounts_and_users(store, tmp_path):
    (tmp_path / "teams.csv").write_text("id,name,alias,parent_id,sorting_index\nt1,Core,,,1\nt2,Edge,,t1,2\n")
    (tmp_path / "team_users.csv").write_text("team_id,user_id\nt1,u1\nt2,u2\n")
    (tmp_path / "accounts.csv").write_text("id,email,full_name,user_name\ngithub:GithubAccount:1:7,alice@corp.example,Alice,alice-gh\n")
    (tmp_path / "user_accounts.csv").write_text("user_id,account_id\nu1,github:GithubAccount:1:7\n")
    (tmp_path / "commits.csv").write_text(
        "sha,additions,deletions,author_email,authored_date,committed_date\n"
        "abc,3,1,alice@corp.example,2023-4-10 6:51:47,2023-04-10T08:51:47+02:00\n")
    c = by_table(load_devlake(store, tmp_path, membership_start="2023-01-01"))
    assert (c["teams"].loaded, c["memberships"].loaded, c["identities"].loaded, c["commits"].loaded) == (2, 2, 3, 1)
    assert c["commits"].unmapped == 0  # alice's email resolves to DevLake user u1, a member of t1
    assert store.pseudonymise("alice-gh") == store.pseudonymise("u1")


def test_url_arguments():
    with pytest.raises(ConfigError, match="unsupported database URL"):
        devlake.read("sqlite:///tmp/lake.db")
    with pytest.raises(ConfigError, match="not both"):
        devlake.read(["mysql://u:p@localhost/lake", "x.csv"])
    with pytest.raises((ConfigError, DataError), match=r"mysql://u:\*\*\*@127\.0\.0\.1:1/lake") as e:
        devlake.read("mysql://u:secret@127.0.0.1:1/lake")
    assert "secret" not in str(e.value)
    with pytest.raises(ConfigError, match="membership_start"):
        devlake.read("mysql://u:p@localhost/lake", membership_start="soon")


def test_not_a_devlake_table(store, tmp_path):
    p = tmp_path / "whatever.csv"
    p.write_text("a\n1\n")
    with pytest.raises(SchemaError, match=r"whatever\.csv: not a DevLake table"):
        load_devlake(store, p)


def test_devlakes_other_tables_are_not_taken_for_the_ones_read(tmp_path):
    # DevLake's own cicd_pipeline_commits, issue_commits and refs_commits_diffs end in a table this
    # connector reads; a full dump of the domain layer holds them, and they hold other rows
    from pathlib import Path

    assert devlake._table_of(Path("cicd_pipeline_commits.csv")) is None
    assert devlake._table_of(Path("lake_cicd_pipeline_commits.csv")) is None
    assert devlake._table_of(Path("issue_commits.csv")) is None
    assert devlake._table_of(Path("refs_commits_diffs.csv")) is None
    assert devlake._table_of(Path("commits.csv")) == "commits"
    assert devlake._table_of(Path("lake.pull_requests.csv")) == "pull_requests"
    assert devlake._table_of(Path("lake_commits_diffs.csv")) == "commits_diffs"
    assert devlake._table_of(Path("cicd_deployment_commits_after.csv")) == "cicd_deployment_commits"
    # DevLake's own end-to-end fixture folders, read together as one dump: no row of
    # cicd_pipeline_commits reaches the commits table
    with pytest.warns(UserWarning, match=r"skipped files.*cicd_pipeline_commits\.csv"):
        got = devlake.read([DEVLAKE])
    assert "commits" not in got
