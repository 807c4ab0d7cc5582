from __future__ import annotations

import datetime as dt

import pytest

from ctssw.errors import ConfigError, DataWarning, SchemaError
from ctssw.sources.forges import github, gitlab
from ctssw.store import load_github, load_gitlab

from .conftest import FIX, by_table

UTC = dt.UTC


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).astimezone(UTC)


def test_github_pulls_reviews_deployments(rostered):
    c = by_table(load_github(rostered, FIX / "github", workflow=r"^Deploy"))
    assert (c["changes"].read, c["changes"].loaded, c["changes"].quarantined) == (3, 2, 1)  # #10 merged before created
    assert c["changes"].unmapped == 1  # carol
    ch = rostered.con.execute("SELECT change_id, author_id, merged_at, merge_sha, first_review_at FROM changes ORDER BY 1").fetchall()
    assert ch[0][0] == "corp/app#7" and ch[0][1] == rostered.pseudonymise("bob@corp.example")
    # bob's own review is not a review; alice's comment at 10:00Z beats her approval at 13:00Z
    assert ch[0][4] == _t("2024-03-04T10:00:00+00:00")
    assert ch[1][0] == "corp/app#9" and ch[1][2] is None and ch[1][3] is None and ch[1][4] is None
    dep = rostered.con.execute("SELECT deployment_id, environment, result, finished_at FROM deployments ORDER BY 1").fetchall()
    assert dep == [
        ("corp/app:deployment:501", "production", "success", _t("2024-03-05T09:15:00+00:00")),
        ("corp/app:deployment:502", "staging", "failure", _t("2024-03-06T09:04:00+00:00")),
        ("corp/app:run:9001", "production", "success", _t("2024-03-05T09:12:00+00:00")),
        ("corp/app:run:9002", "production", "failure", _t("2024-03-06T09:40:00+00:00")),
    ]


def test_github_runs_through_a_job_pattern(store):
    t = github.read(FIX / "github", job=r"deploy-prod", environment="Production")
    runs = [r for r in t["deployments"].to_pylist() if ":run:" in r["deployment_id"]]
    assert [(r["deployment_id"], r["environment"], r["finished_at"][:19]) for r in runs] == [
        ("corp/app:run:9001:job:112", "production", "2024-03-05T09:11:00")
    ]


def test_github_options_are_checked(store):
    with pytest.raises(ConfigError, match="workflow pattern"):
        github.read(FIX / "github", workflow="(")


def test_github_reload_and_newer_version(rostered, tmp_path):
    load_github(rostered, FIX / "github")
    again = load_github(rostered, FIX / "github")
    assert all(c.loaded == c.updated == 0 for c in again)
    p = tmp_path / "pulls.json"
    p.write_text((FIX / "github/pulls.json").read_text().replace('"merged_at": null, "merge_commit_sha": "3333', '"merged_at": "2024-03-09T09:00:00Z", "merge_commit_sha": "3333'))
    c = by_table(load_github(rostered, [p, FIX / "github/reviews.json", FIX / "github/review_comments.json"]))["changes"]
    assert (c.loaded, c.updated, c.duplicate) == (0, 1, 1)


def test_github_unrecognised_file(store, tmp_path):
    p = tmp_path / "x.json"
    p.write_text('[{"hello": 1}]')
    with pytest.raises(SchemaError, match=r"x\.json: no GitHub records recognised"):
        load_github(store, p)


def test_gitlab_mrs_notes_deployments_pipelines(rostered):
    with pytest.warns(DataWarning, match="2 pipeline"):
        c = by_table(load_gitlab(rostered, FIX / "gitlab"))
    assert (c["changes"].loaded, c["deployments"].loaded) == (2, 2)
    ch = rostered.con.execute("SELECT change_id, merged_at, merge_sha, first_review_at FROM changes ORDER BY 1").fetchall()
    assert ch[0] == ("corp/shop!12", _t("2024-04-03T08:00:00+00:00"), "7" * 40, _t("2024-04-02T08:30:00+00:00"))
    dep = rostered.con.execute("SELECT deployment_id, environment, result FROM deployments ORDER BY 1").fetchall()
    assert dep == [("corp/shop:deployment:41", "production", "success"), ("corp/shop:deployment:42", "production", "failure")]
    t = gitlab.read(FIX / "gitlab", pipeline_ref=r"^main$")
    assert [r["deployment_id"] for r in t["deployments"].to_pylist()][-1] == "corp/shop:pipeline:600"
