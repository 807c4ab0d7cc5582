from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from layouts import stored_bytes

from ctssw.errors import SchemaError, StoreError
from ctssw.store import SCHEMA_VERSION, TABLES, Store, ingest_canonical


def _teams_csv(d: Path) -> None:
    (d / "teams.csv").write_text("team_id,name,parent_id,architecture\nt1,Team 1,,service\nt2,Team 2,,monolith\n")


def test_reingest_changes_nothing(sim_dir, tmp_path, new_store):
    with new_store(tmp_path / "s.duckdb") as s:
        first = ingest_canonical(s, sim_dir)
        before = s.counts()
        snap = s.con.execute("SELECT * FROM deployments ORDER BY deployment_id").df()
        second = ingest_canonical(s, sim_dir)
        assert s.counts() == before
        pd.testing.assert_frame_equal(snap, s.con.execute("SELECT * FROM deployments ORDER BY deployment_id").df())
    for a, b in zip(first, second):
        assert b.read == a.read
        assert b.loaded == 0 and b.updated == 0 and b.quarantined == 0
        assert b.duplicate == a.read
        assert a.read == a.loaded + a.updated + a.duplicate + a.quarantined


def test_schema_version_and_key_fingerprint_are_recorded_never_the_key(store):
    meta = dict(store.con.execute("SELECT key, value FROM ctssw_meta").fetchall())
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert "identity_key" not in meta
    assert len(meta["identity_key_fingerprint"]) == 16


def test_no_raw_identity_anywhere_in_the_store(any_store_path, sim_dir):
    emails = pd.read_parquet(sim_dir / "memberships")["builder"].head(50)
    logins = pd.read_parquet(sim_dir / "identities")["value"].head(50)
    raw = stored_bytes(any_store_path)
    for v in [*emails, *logins]:
        assert v.encode() not in raw
    with Store(any_store_path, read_only=True) as s:
        for t in TABLES:
            df = s.con.execute(f'SELECT * FROM "{t}"').df().astype(str)
            assert not df.apply(lambda c: c.str.contains("@example.com")).any().any(), t
            assert not df.apply(lambda c: c.str.contains("gh-dev")).any().any(), t


def test_login_and_email_resolve_to_one_builder(store, sim_dir):
    ident = pd.read_parquet(sim_dir / "identities").iloc[0]
    assert store.pseudonymise(ident["value"]) == store.pseudonymise(ident["builder"])
    assert store.pseudonymise(ident["builder"].upper() + " ") == store.pseudonymise(ident["builder"])
    n_members = store.con.execute("SELECT count(DISTINCT builder_id) FROM memberships").fetchall()[0][0]
    assert store.count("builders") == n_members


def _load(tmp_path: Path, name: str, text: str, new_store=Store):
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    _teams_csv(d)
    (d / f"{name}.csv").write_text(text)
    s = new_store(tmp_path / "bad.duckdb")
    return s, ingest_canonical(s, d)


DEPLOY_HEAD = "deployment_id,service_id,environment,started_at,finished_at,result,is_rollback,manual_interventions,team_id\n"


@pytest.mark.parametrize(
    "row,reason",
    [
        ("d2,s,production,2024-01-01T10:00:00Z,2024-01-01T09:00:00Z,success,false,0,t1", "negative duration"),
        ("d2,s,production,2024-01-01T10:00:00Z,not-a-time,success,false,0,t1", "wrong type in finished_at"),
        ("d2,s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,success,maybe,0,t1", "wrong type in is_rollback"),
        ("d2,s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,success,false,0,t9", "unknown team t9"),
        ("d2,s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,exploded,false,0,t1", "unknown result"),
        (",s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,success,false,0,t1", "missing deployment_id"),
    ],
)
def test_bad_rows_are_quarantined_good_rows_load(tmp_path, row, reason, new_store):
    good = "d1,s,production,2024-01-01T10:00:00+02:00,2024-01-01T11:00:00+02:00,success,false,1,t1\n"
    s, counts = _load(tmp_path, "deployments", DEPLOY_HEAD + good + row + "\n", new_store)
    with s:
        c = [x for x in counts if x.table == "deployments"][0]
        assert (c.read, c.loaded, c.quarantined) == (2, 1, 1)
        q = s.con.execute("SELECT reason, row_ref, raw FROM quarantine").fetchall()
        assert len(q) == 1 and reason in q[0][0]
        assert q[0][1] == "deployments.csv:line 3"
        # offsets are normalised to UTC
        fin = s.con.execute("SELECT finished_at FROM deployments").fetchall()[0][0]
        assert fin.hour == 9 and fin.utcoffset().total_seconds() == 0


def test_duplicate_key_with_different_content_is_quarantined(tmp_path, new_store):
    rows = (
        "d1,s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,success,false,1,t1\n"
        "d1,s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,failure,false,1,t1\n"
        "d2,s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,success,false,1,t1\n"
        "d2,s,production,2024-01-01T10:00:00Z,2024-01-01T11:00:00Z,success,false,1,t1\n"
    )
    s, counts = _load(tmp_path, "deployments", DEPLOY_HEAD + rows, new_store)
    with s:
        c = [x for x in counts if x.table == "deployments"][0]
        assert (c.read, c.loaded, c.duplicate, c.quarantined) == (4, 1, 1, 2)
        reasons = {r[0] for r in s.con.execute("SELECT reason FROM quarantine").fetchall()}
        assert reasons == {"duplicate key with different content"}


def test_newer_version_of_a_record_updates_it(tmp_path, new_store):
    d = tmp_path / "in"
    d.mkdir()
    _teams_csv(d)
    with new_store(tmp_path / "u.duckdb") as s:
        ingest_canonical(s, d)
        (d / "teams.csv").write_text("team_id,name,parent_id,architecture\nt1,Renamed,,service\n")
        (c,) = ingest_canonical(s, d)
        assert (c.loaded, c.updated, c.duplicate) == (0, 1, 0)
        assert s.count("teams") == 2
        assert s.con.execute("SELECT name FROM teams WHERE team_id='t1'").fetchall() == [("Renamed",)]


def test_missing_column_is_one_clear_error_and_writes_nothing(tmp_path, new_store):
    d = tmp_path / "in"
    d.mkdir()
    _teams_csv(d)
    (d / "deployments.csv").write_text("deployment_id,environment\nd1,production\n")
    with new_store(tmp_path / "m.duckdb") as s:
        with pytest.raises(SchemaError, match=r"deployments\.csv: table deployments lacks required column\(s\) finished_at, result"):
            ingest_canonical(s, d)
        assert s.count("deployments") == 0
        assert s.count("teams") == 0  # one run, one transaction: nothing of it is written


def test_unreadable_file_names_the_file(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "teams.parquet").write_bytes(b"PAR1 this is not parquet")
    with Store(tmp_path / "x.duckdb") as s, pytest.raises(SchemaError, match=r"teams\.parquet: cannot read as Parquet"):
        ingest_canonical(s, d)


def test_not_a_store(tmp_path):
    p = tmp_path / "other.duckdb"
    duckdb.connect(str(p)).close()
    with pytest.raises(StoreError, match="not a ctssw store"):
        Store(p, read_only=True)
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_parquet_folder_and_csv_mix(sim_dir, tmp_path, new_store):
    d = tmp_path / "mix"
    shutil.copytree(sim_dir / "teams", d / "teams")
    pd.read_parquet(sim_dir / "memberships").to_csv(d / "memberships.csv", index=False)
    with new_store(tmp_path / "mix.duckdb") as s:
        counts = {c.table: c for c in ingest_canonical(s, d)}
        assert counts["memberships"].quarantined == 0
        assert counts["memberships"].loaded == len(pd.read_parquet(sim_dir / "memberships"))


def test_rejected_rows_of_two_tables_at_the_same_row_number_are_both_kept(tmp_path, new_store):
    # a connector's tables each count rows from 1: row 1 of the deployments and row 1 of the
    # incidents are different rows, and each rejected one is kept with its reason
    import pyarrow as pa

    from ctssw.store.ingest import ingest_tables

    deployments = pa.table({
        "deployment_id": ["d1", "d2"], "environment": ["production"] * 2,
        "finished_at": [None, "2024-03-01T10:00:00Z"], "result": ["success"] * 2, "repo_id": ["r1"] * 2,
    })
    incidents = pa.table({"incident_id": ["i1", "i2"], "created_at": [None, "2024-03-02T10:00:00Z"]})
    with new_store(tmp_path / "s.duckdb") as s:
        for _ in range(2):  # loading the same rows again keeps each rejected row once
            counts = ingest_tables(s, {"deployments": deployments, "incidents": incidents}, "api:export")
            rows = s.con.execute("SELECT table_name, row_ref, reason FROM quarantine ORDER BY 1").fetchall()
            assert sum(c.quarantined for c in counts) == 2, rows
            assert rows == [
                ("deployments", "api:export:deployments row 1", "missing finished_at"),
                ("incidents", "api:export:incidents row 1", "missing created_at"),
            ]
