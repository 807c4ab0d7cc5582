"""Hostile text and damaged stores: one line and a clear exit code, never a traceback."""

from __future__ import annotations

import os
import sqlite3
import warnings

import pytest
from layouts import LAYOUTS

from ctssw.store import Store, load_roster

from .conftest import ROSTER, ctssw

HERE = os.path.dirname(__file__)


def _one_line(p, code: int, *needles: str) -> None:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, err
    for n in needles:
        assert n in err[0], err[0]


def test_text_that_looks_like_markup_prints_exactly(tmp_path):
    folder = tmp_path / "[/x]" / "[red]"
    folder.mkdir(parents=True)
    (folder / "teams.csv").write_text("team_id,name\n[ok],:smile:\n")
    p = ctssw("ingest", "roster", str(folder), "--db", str(tmp_path / "s.duckdb"))
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "[/x]" in p.stdout and "[red]" in p.stdout
    bad = folder / "[/org]"
    bad.mkdir(parents=True)
    (bad / "memberships.csv").write_text("email,team_id,start\na@x.example,[ok],01/10/2025\n")
    _one_line(ctssw("ingest", "roster", str(bad), "--db", str(tmp_path / "s.duckdb")), 3, "[/x]/[red]/[/org]", "ambiguous date")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_copilot_nan_infinity_and_overflow_are_quarantined_not_a_crash(tmp_path, layout):
    f = tmp_path / "usage.ndjson"
    f.write_text(
        '{"day": "2025-10-01", "user_login": "a", "user_initiated_interaction_count": NaN}\n'
        '{"day": "2025-10-01", "user_login": "b", "code_generation_activity_count": Infinity}\n'
        '{"day": "2025-10-01", "user_login": "c", "loc_added_sum": 1e400}\n'
        '{"day": "2025-10-01", "user_login": "d", "loc_added_sum": -Infinity}\n'
    )
    lake = ("--lake", str(tmp_path / "lake")) if layout == "lake" else ()
    p = ctssw("ingest", "copilot", str(f), "--db", str(tmp_path / "s.duckdb"), *lake, "--json")
    assert p.returncode == 0, p.stderr
    assert '"quarantined": 4' in p.stdout


@pytest.fixture(scope="module")
def store_file(tmp_path_factory):
    db = tmp_path_factory.mktemp("damaged") / "s.duckdb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(db) as s:
            load_roster(s, ROSTER)
    return db


@pytest.mark.parametrize("damage", ["zeroed block", "random block", "truncated", "zeroed header"])
def test_a_damaged_store_is_one_line_and_exit_4(store_file, tmp_path, damage):
    db = tmp_path / "s.duckdb"
    data = bytearray(store_file.read_bytes())
    # the block holding the teams table, which every reader reads
    at = data.index(b"payments", 12288) // 262144 * 262144
    if damage == "zeroed block":
        data[at : at + 262144] = bytes(len(data[at : at + 262144]))
    elif damage == "random block":
        data[at : at + 262144] = os.urandom(len(data[at : at + 262144]))
    elif damage == "truncated":
        data = data[:at]
    else:
        data[:4096] = bytes(4096)
    db.write_bytes(bytes(data))
    for args in (("metrics", "--db", str(db)), ("ingest", "roster", str(ROSTER), "--db", str(db))):
        p = ctssw(*args)
        _one_line(p, 4, str(db.name))


def test_a_sqlite_file_is_refused_before_duckdb_opens_it(tmp_path):
    db = tmp_path / "data.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = db.read_bytes()
    home = tmp_path / "home"  # an extension download would land under $HOME/.duckdb
    for args in (("metrics", "--db", str(db)), ("ingest", "roster", str(ROSTER), "--db", str(db))):
        _one_line(ctssw(*args, env={"HOME": str(home)}), 4, "SQLite database, not a ctssw store")
    assert db.read_bytes() == before and not (home / ".duckdb").exists()


def test_an_output_file_the_file_system_refuses_is_one_line_and_exit_1(store_path, tmp_path):
    missing = tmp_path / "no such folder"
    _one_line(ctssw("panel", "--db", str(store_path), "--out", str(missing / "p.parquet")), 1, "p.parquet")
    _one_line(ctssw("report", "--db", str(store_path), "--out", str(missing / "r.html")), 1, "r.html")


def test_a_usage_error_is_one_line_naming_the_help_and_exit_2(store_path, tmp_path):
    _one_line(ctssw("explain", "--db", str(store_path)), 2, "Missing option '--since'", "ctssw explain --help")
    _one_line(ctssw("drivers", "--no-such-option"), 2, "No such option: --no-such-option", "ctssw drivers --help")
    _one_line(ctssw("metrics", "--db", str(store_path), "--by", "week"), 2, "'--by'", "ctssw metrics --help")
    _one_line(ctssw("no-such-command"), 2, "No such command 'no-such-command'", "ctssw --help")
    _one_line(ctssw("ingest", "roster"), 2, "Missing argument", "ctssw ingest roster --help")
    p = ctssw("--help")
    assert p.returncode == 0 and "Usage: ctssw" in p.stdout and not p.stderr.strip()
