"""``ctssw copy-to-lake``: a store file copied to a new store with a lake gives the same rows and
numbers, keeps loading idempotently, and every refusal is one line that leaves nothing behind."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.errors import StoreError
from ctssw.pipeline.metrics import metrics_table
from ctssw.store import (
    LAKE_TABLES,
    TABLES,
    Store,
    copy_to_lake,
    ingest_canonical,
    open_lake,
)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _rows(s: Store, table: str) -> pd.DataFrame:
    """The table's rows without the identifier keys, which a store file keeps and a lake does not."""
    df = s.con.execute(f'SELECT * FROM "{table}"').df()
    df = df.drop(columns=[k for k in TABLES[table].key_columns if k in df] if table in TABLES else [])
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.parquet")}


@pytest.fixture()
def old(store_path, tmp_path) -> Path:
    p = tmp_path / "old.duckdb"
    shutil.copy(store_path, p)
    return p


def test_the_copy_holds_the_same_rows_and_numbers(old, sim_dir, tmp_path):
    res = copy_to_lake(old, tmp_path / "new.duckdb", tmp_path / "lake")
    assert res["db"] == str(tmp_path / "new.duckdb") and res["rows"]["commits"] > 0
    with Store(old, read_only=True) as a, open_lake(db=tmp_path / "new.duckdb") as b:
        assert b.lake is not None and b.lake.root == (tmp_path / "lake").absolute()
        for t in [*TABLES, "builders", "bots", "quarantine"]:
            pd.testing.assert_frame_equal(_rows(b, t), _rows(a, t), obj=t)
        runs = b.runs()
        assert runs[0]["kind"] == "copy-to-lake" and len(runs) == len(a.runs()) + 1
        assert b.key_fingerprint == a.key_fingerprint
    # the canonical tables are in the lake, not in the new file
    con = duckdb.connect(str(tmp_path / "new.duckdb"), read_only=True)
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert not have & set(LAKE_TABLES) and "identities" in have
    # only pseudonyms were copied: no raw email or login in the new file or its lake
    raw = (tmp_path / "new.duckdb").read_bytes() + b"".join(
        f.read_bytes() for f in sorted((tmp_path / "lake").rglob("*")) if f.is_file())
    people = [*pd.read_parquet(sim_dir / "memberships")["builder"].head(50), *pd.read_parquet(sim_dir / "identities")["value"].head(50)]
    assert people and not [v for v in people if v.encode() in raw]
    assert any("/month=" in f for f in _files(tmp_path / "lake"))
    want, *_ = metrics_table(old, k=3)
    got, *_ = metrics_table(tmp_path / "new.duckdb", k=3)
    pd.testing.assert_frame_equal(got, want)
    # loading the same source again changes nothing and writes nothing
    written = _files(tmp_path / "lake")
    with Store(tmp_path / "new.duckdb") as s:
        counts = ingest_canonical(s, sim_dir)
    assert counts and all(c.loaded == 0 and c.updated == 0 and c.duplicate == c.read for c in counts), counts
    assert _files(tmp_path / "lake") == written


def test_the_old_store_keeps_its_rows(old, tmp_path):
    with Store(old, read_only=True) as s:
        before = {t: s.count(t) for t in TABLES}
    copy_to_lake(old, tmp_path / "new.duckdb", tmp_path / "lake")
    with Store(old, read_only=True) as s:
        assert {t: s.count(t) for t in TABLES} == before
        assert s.lake is None and all(r["kind"] != "copy-to-lake" for r in s.runs())


def _refused(args: list[str], message: str) -> None:
    r = runner.invoke(app, ["copy-to-lake", *args])
    assert r.exit_code == 4, r.output
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) <= 2  # one line, wrapped at most once


def test_refusals_are_one_line_and_leave_nothing(old, tmp_path):
    new, lake = tmp_path / "new.duckdb", tmp_path / "lake"
    _refused(["--db", str(tmp_path / "none.duckdb"), "--to", str(new), "--lake", str(lake)], "no store at")
    (tmp_path / "taken.duckdb").write_text("")
    _refused(["--db", str(old), "--to", str(tmp_path / "taken.duckdb"), "--lake", str(lake)], "exists already")
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("not a lake")
    _refused(["--db", str(old), "--to", str(new), "--lake", str(full)], "is not empty and not a ctssw lake")
    assert not new.exists() and (full / "notes.txt").exists()
    _refused(["--db", str(old), "--to", str(new), "--lake", "s3a://bucket/lake"], "local or mounted folder")
    # another identity key than the store's
    _refused(["--db", str(old), "--to", str(new), "--lake", str(lake), "--identity-key", str(tmp_path / "other.key")],
             "identity key")
    # a store whose tables are in a lake already
    copy_to_lake(old, tmp_path / "once.duckdb", tmp_path / "once-lake")
    _refused(["--db", str(tmp_path / "once.duckdb"), "--to", str(new), "--lake", str(lake)], "in a lake already")
    assert not new.exists() and not lake.exists()


def test_a_copy_that_fails_removes_what_it_made(old, tmp_path, monkeypatch):
    calls = []

    def fail(self, *tables):
        calls.append(tables)
        if len(calls) == 3:
            raise StoreError("disk full (simulated)")
        return real(self, *tables)

    real = Store.release
    monkeypatch.setattr(Store, "release", fail)
    digest = _digest(old)
    with pytest.raises(StoreError, match="disk full"):
        copy_to_lake(old, tmp_path / "new.duckdb", tmp_path / "lake")
    assert not (tmp_path / "new.duckdb").exists() and not (tmp_path / "new.duckdb.wal").exists()
    assert not (tmp_path / "lake").exists()
    assert _digest(old) == digest


def test_docs_block_runs_as_written(tmp_path, monkeypatch):
    from cli.test_docs_commands import block, run

    monkeypatch.chdir(tmp_path)
    lines = block(ROOT / "docs" / "lake.md", "## Moving a store into a lake")
    assert lines[2].startswith("ctssw copy-to-lake")
    for line in lines[:3]:
        run(line)
    written = _files(tmp_path / "moved-lake")
    assert written and Path("ctssw.duckdb").exists()
    for line in lines[3:]:
        run(line)
    assert _files(tmp_path / "moved-lake") == written  # the later load changed nothing
    want, *_ = metrics_table(Path("ctssw.duckdb"), k=3)
    got, *_ = metrics_table(Path("lake-meta.duckdb"), k=3)
    pd.testing.assert_frame_equal(got, want)


def test_devlake_store_copied_to_a_lake_still_reproduces_devlake(tmp_path, monkeypatch):
    """Real data, a partial store (DevLake's tables only, no roster, rows quarantined): the copy
    answers as the store did, and DevLake's own published PR metrics come out of it exactly."""
    devlake = ROOT.parent / "shared" / "external" / "devlake-dora" / "change_lead_time"
    if not devlake.is_dir():
        pytest.skip("needs ../shared/external/devlake-dora")
    monkeypatch.chdir(tmp_path)
    for args in (["ingest", "devlake", str(devlake), "--db", "s.duckdb"],
                 ["copy-to-lake", "--db", "s.duckdb", "--to", "l.duckdb", "--lake", "lake"],
                 ["dora", "pr-metrics", "--db", "l.duckdb", "--devlake-compatible", "--out", "pr_metrics.csv"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)
    want = (devlake / "project_pr_metrics.csv").read_text()
    assert Path("pr_metrics.csv").read_text() == want.rstrip("\n") + "\n"
    with Store("s.duckdb", read_only=True) as a, open_lake(db="l.duckdb") as b:
        assert b.lake is not None and b.counts() == a.counts() and a.count("quarantine") > 0
        pd.testing.assert_frame_equal(_rows(b, "quarantine"), _rows(a, "quarantine"))
