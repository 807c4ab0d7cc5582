"""The 64-bit keys a store file keeps beside deployment ids and commit shas (ctssw.store._idkeys):
right after every kind of load, made again under another hash, added to a store of schema
version 1, absent from a lake, and the metrics the same with them as without."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ctssw.errors import StoreError
from ctssw.metrics import _linkage as L
from ctssw.metrics import change_links, clear_cache, team_week_metrics
from ctssw.store import SCHEMA_VERSION, TABLES, Store, ingest_canonical
from ctssw.store._idkeys import META, key_sql

KEYED = {name: t for name, t in TABLES.items() if t.keyed}


def _wrong_keys(con) -> dict[str, int]:
    """Per keyed table, the rows whose key is not the hash of its identifier (NULL for NULL)."""
    out = {}
    for name, t in KEYED.items():
        off = " OR ".join(f'"{k}" IS DISTINCT FROM {key_sql(c)}' for c, k in zip(t.keyed, t.key_columns))
        out[name] = con.execute(f'SELECT count(*) FROM "{name}" WHERE {off}').fetchall()[0][0]
    return out


HEAD = {
    "teams": "team_id,name\nt1,Team 1\n",
    "commits": "repo_id,sha,committed_at\n",
    "changes": "change_id,repo_id,created_at,merged_at,merge_sha\n",
    "deployments": "deployment_id,repo_id,environment,finished_at,result,sha\n",
    "deployment_commits": "deployment_id,sha\n",
}


def _write(d: Path, **rows: str) -> None:
    d.mkdir(exist_ok=True)
    for name, text in {"teams": "", **rows}.items():
        (d / f"{name}.csv").write_text(HEAD[name] + text)


def test_every_kind_of_load_writes_the_keys(tmp_path):
    d = tmp_path / "in"
    _write(
        d,
        commits="r,aaa,2024-01-01T10:00:00Z\nr,bbb,2024-01-02T10:00:00Z\n",
        changes="c1,r,2024-01-01T09:00:00Z,2024-01-01T11:00:00Z,aaa\nc2,r,2024-01-01T09:00:00Z,,\n",
        deployments="d1,r,production,2024-01-01T12:00:00Z,success,aaa\nd2,r,production,2024-01-01T13:00:00Z,failure,\n",
        deployment_commits="d1,aaa\n",
    )
    with Store(tmp_path / "s.duckdb") as s:
        ingest_canonical(s, d)  # into empty tables
        assert s.count("deployments") == 2 and _wrong_keys(s.con) == dict.fromkeys(KEYED, 0)
        assert s.con.execute("SELECT count(*) FROM changes WHERE merge_sha_key IS NULL").fetchall()[0][0] == 1
        # a changed row and a new one (tables with rows), and a key met twice in one load (the exact rules)
        _write(
            d,
            deployments="d1,r,production,2024-01-01T12:00:00Z,success,bbb\nd3,r,production,2024-01-02T12:00:00Z,success,bbb\n"
            "d4,r,production,2024-01-03T12:00:00Z,success,bbb\nd4,r,production,2024-01-03T12:00:00Z,success,bbb\n",
            deployment_commits="d1,aaa\nd3,bbb\nd3,bbb\n",
        )
        counts = {c.table: c for c in ingest_canonical(s, d)}
        assert (counts["deployments"].loaded, counts["deployments"].updated) == (2, 1)
        assert counts["deployment_commits"].loaded == 1
        assert s.count("deployments") == 4 and _wrong_keys(s.con) == dict.fromkeys(KEYED, 0)
        meta = dict(s.con.execute("SELECT key, value FROM ctssw_meta").fetchall())
    assert meta["schema_version"] == str(SCHEMA_VERSION) == "2" and META in meta


def _altered(src: Path, dst: Path, *statements: str) -> Path:
    """A copy of the store ``src`` at ``dst``, changed by ``statements`` run on it in plain DuckDB."""
    shutil.copy(src, dst)
    con = duckdb.connect(str(dst))
    for sql in statements:
        con.execute(sql)
    con.close()
    return dst


def _as_version_1(src: Path, dst: Path) -> Path:
    """A copy of ``src`` as a store written before the keys: no key columns, schema version 1."""
    drops = [f'ALTER TABLE "{name}" DROP COLUMN "{k}"' for name, t in KEYED.items() for k in t.key_columns]
    return _altered(src, dst, *drops, f"DELETE FROM ctssw_meta WHERE key = '{META}'",
                    "UPDATE ctssw_meta SET value = '1' WHERE key = 'schema_version'")


def _metrics(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    with Store(path, read_only=True) as s:
        con = s.ibis()
        try:
            m = team_week_metrics(con).sort_values(["team_id", "week"]).reset_index(drop=True)
            cd = pd.concat([  # every merged change with its first deployment, under both rules
                change_links(con, rule=r).to_pandas().sort_values("change_id").assign(rule=r) for r in ("default", "devlake")
            ]).reset_index(drop=True)
            return m, cd, L.stored_keys(con)
        finally:
            clear_cache()


def test_a_version_1_store_is_read_on_its_strings_and_keyed_when_opened_to_write(store_path, tmp_path):
    old = _as_version_1(store_path, tmp_path / "v1.duckdb")
    keyed_m, keyed_cd, keyed = _metrics(store_path)
    m, cd, k = _metrics(old)
    assert keyed and not k
    pd.testing.assert_frame_equal(m, keyed_m)
    pd.testing.assert_frame_equal(cd, keyed_cd)
    with Store(old) as s:  # the first writable open adds and fills the keys
        assert _wrong_keys(s.con) == dict.fromkeys(KEYED, 0)
        assert s.con.execute("SELECT value FROM ctssw_meta WHERE key = 'schema_version'").fetchall() == [("2",)]
    assert _metrics(old)[2]


def test_keys_made_under_another_hash_are_made_again(store_path, tmp_path):
    p = _altered(store_path, tmp_path / "other.duckdb", f"UPDATE ctssw_meta SET value = 'another DuckDB' WHERE key = '{META}'",
                 "UPDATE deployment_commits SET sha_key = sha_key + 1")
    with Store(p, read_only=True) as s:  # read-only: left as they are, and not joined
        assert _wrong_keys(s.con)["deployment_commits"] > 0
    assert not _metrics(p)[2]
    with Store(p) as s:
        assert _wrong_keys(s.con) == dict.fromkeys(KEYED, 0)


def test_a_newer_schema_version_is_refused(store_path, tmp_path):
    p = _altered(store_path, tmp_path / "v3.duckdb", "UPDATE ctssw_meta SET value = '3' WHERE key = 'schema_version'")
    for ro in (True, False):
        with pytest.raises(StoreError, match="has schema version 3, this ctssw writes 2"):
            Store(p, read_only=ro)


def test_a_lake_keeps_no_keys_and_its_metrics_join_the_strings(lake_store_path, store_path):
    with Store(lake_store_path, read_only=True) as s:
        for name, t in KEYED.items():
            cols = [r[0] for r in s.con.execute(f'DESCRIBE SELECT * FROM "{name}"').fetchall()]
            assert not set(t.key_columns) & set(cols), name
    lake_m, lake_cd, keyed = _metrics(lake_store_path)
    m, cd, _ = _metrics(store_path)
    assert not keyed
    pd.testing.assert_frame_equal(lake_m, m)
    pd.testing.assert_frame_equal(lake_cd, cd)
