"""Which deployment a merged change reached production with, on hand-made rows: the first
successful, non-rollback production deployment by (finish time, id) that shipped its merge commit."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from ctssw.metrics import change_links

T = pd.Timestamp


def _dep(i, fin, result="success", *, rollback=False, env="production"):
    return dict(deployment_id=i, service_id="svc-a", repo_id="repo-a", team_id=None, environment=env,
                is_production=None, started_at=None if fin is None else T(fin) - pd.Timedelta(minutes=5),
                finished_at=None if fin is None else T(fin), result=result, is_rollback=rollback,
                manual_interventions=0, sha=None)


# merge commit → the deployments that shipped it
SHIPPED = {
    "m1": ["a1", "b1"],        # a1 finishes after b1, though its id is smaller: b1
    "m2": ["c2", "c1"],        # both finish at 13:00: the smaller id, c1
    "m3": ["e1", "e2"],        # e1 failed: e2
    "m4": ["f1", "f2"],        # f1 rolled back: f2
    "m5": ["g0"],              # no finish time: not deployed
    "m6": ["g0", "h1"],        # one without a finish time, one with: h1
    "m7": [],                  # never shipped
    "m8": ["s1"],              # shipped to staging only
}
EXPECTED = {"m1": "b1", "m2": "c1", "m3": "e2", "m4": "f2", "m5": None, "m6": "h1", "m7": None, "m8": None}


def tables() -> dict[str, pd.DataFrame]:
    """The store's tables these cases need (shared with the Spark check in tests/backends)."""
    deps = pd.DataFrame([
        _dep("a1", "2025-01-01 12:00"), _dep("b1", "2025-01-01 10:00"),
        _dep("c2", "2025-01-01 13:00"), _dep("c1", "2025-01-01 13:00"),
        _dep("e1", "2025-01-01 09:00", "failure"), _dep("e2", "2025-01-01 11:00"),
        _dep("f1", "2025-01-01 09:00", rollback=True), _dep("f2", "2025-01-01 11:00"),
        _dep("g0", None), _dep("h1", "2025-01-01 15:00"),
        _dep("s1", "2025-01-01 08:00", env="staging"),
    ]).astype({"repo_id": "string", "sha": "string", "is_production": "boolean", "team_id": "string"})
    at = T("2024-12-31 12:00")
    changes = pd.DataFrame([
        dict(change_id=f"pr-{m}", repo_id="repo-a", team_id=None, created_at=at, merged_at=at, merge_sha=m,
             first_commit_at=at, first_review_at=at, first_commit_sha=None, first_review_id=None)
        for m in SHIPPED
    ]).astype({"team_id": "string", "first_commit_sha": "string", "first_review_id": "string"})
    return {
        "deployments": deps,
        "services": pd.DataFrame({"service_id": ["svc-a"], "team_id": ["team-a"], "repo_id": ["repo-a"]}),
        "repos": pd.DataFrame({"repo_id": ["repo-a"], "team_id": ["team-a"]}),
        "deployment_commits": pd.DataFrame([dict(deployment_id=d, sha=m) for m, ds in SHIPPED.items() for d in ds]),
        "commits": pd.DataFrame({"repo_id": ["repo-a"], "sha": ["x"], "committed_at": [T("2024-12-31")]}),
        "changes": changes,
    }


def check(got: pd.DataFrame) -> None:
    """``got``: ``change_links`` on :func:`tables`, as pandas."""
    got = got.set_index("merge_sha")
    assert len(got) == len(EXPECTED)
    for m, dep in EXPECTED.items():
        row = got.loc[m]
        if dep is None:
            assert pd.isna(row["deployment_id"]) and pd.isna(row["deployed_at"]), m
        else:
            assert row["deployment_id"] == dep, m
    # the time is the chosen deployment's own
    fin = {"m1": "10:00", "m2": "13:00", "m3": "11:00", "m4": "11:00", "m6": "15:00"}
    for m, hm in fin.items():
        assert pd.Timestamp(got.loc[m, "deployed_at"]).tz_localize(None) == T(f"2025-01-01 {hm}"), m


@pytest.fixture()
def con():
    c = ibis.duckdb.connect()
    for name, df in tables().items():
        c.con.register(f"_{name}", df)
        c.con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
        c.con.unregister(f"_{name}")
    return c


def test_first_deployment_by_finish_then_id(con):
    check(change_links(con).to_pandas())
