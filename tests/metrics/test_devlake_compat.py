"""DevLake's own DORA fixtures, read in place, reproduced cell for cell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ctssw.metrics.devlake_compat import (
    INCIDENT_DEPLOYMENT_COLUMNS,
    PR_METRICS_COLUMNS,
    format_devlake,
    incident_deployments,
    pr_metrics,
    prev_success_deployment_commits,
    read_devlake_dir,
)

DEVLAKE = Path(__file__).resolve().parents[2].parent / "shared" / "external" / "devlake-dora"
pytestmark = pytest.mark.skipif(not DEVLAKE.is_dir(), reason=f"DevLake fixtures not found at {DEVLAKE}")


def _csv(*parts: str) -> pd.DataFrame:
    return pd.read_csv(DEVLAKE.joinpath(*parts), dtype=str, keep_default_na=False)


def _pr_tables() -> dict[str, pd.DataFrame]:
    return read_devlake_dir(DEVLAKE / "change_lead_time")


def compute_pr_metrics(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pr_metrics(
        t["pull_requests"], t["pull_request_commits"], t["pull_request_comments"],
        t["cicd_deployment_commits"], t["commits_diffs"], t["project_mapping"],
    )


def test_project_pr_metrics_exact():
    t = _pr_tables()
    got = format_devlake(compute_pr_metrics(t))
    want = t["project_pr_metrics"]
    assert tuple(got.columns) == PR_METRICS_COLUMNS == tuple(want.columns)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)


def test_unmerged_pr_is_left_out_and_negative_spans_are_null():
    got = compute_pr_metrics(_pr_tables()).set_index("id")
    assert "pr6" not in got.index
    assert pd.isna(got.loc["pr2", "pr_coding_time"])  # first commit after the PR was created
    assert pd.isna(got.loc["pr3", "pr_deploy_time"]) and got.loc["pr3", "deployment_commit_id"] == "6"


def test_prev_success_deployment_commit_before_to_after():
    before = _csv("prev_success_deployment_commit", "cicd_deployment_commits_before.csv")
    after = _csv("prev_success_deployment_commit", "cicd_deployment_commits_after.csv")
    got = prev_success_deployment_commits(before).set_index("id")
    want = after.set_index("id")
    assert sorted(got.index) == sorted(want.index)
    pd.testing.assert_series_equal(
        got.loc[want.index, "prev_success_deployment_commit_id"], want["prev_success_deployment_commit_id"]
    )
    # and the lead-time fixture's precomputed column agrees with the recomputed one
    dc = _pr_tables()["cicd_deployment_commits"]
    assert (prev_success_deployment_commits(dc)["prev_success_deployment_commit_id"]
            == dc["prev_success_deployment_commit_id"]).all()


def test_incident_deployment_relationships_exact():
    d = DEVLAKE / "connect_incident_to_deployment"
    got = incident_deployments(
        _csv(str(d), "raw_tables", "incidents.csv"),
        _csv(str(d), "prev_success_deployment_commit", "cicd_deployment_commits_after.csv"),
        _csv(str(d), "raw_tables", "project_mapping.csv"),
    )
    want = _csv(str(d), "snapshot_tables", "project_incident_deployment_relationships.csv")
    assert tuple(got.columns) == INCIDENT_DEPLOYMENT_COLUMNS
    pd.testing.assert_frame_equal(format_devlake(got), want, check_dtype=False)
