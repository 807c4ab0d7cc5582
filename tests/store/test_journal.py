from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from ctssw.errors import DataError, DataWarning
from ctssw.store import Store, load_roster

ROSTER = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "roster"


def test_every_load_is_journalled_with_its_counts(tmp_path, new_store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(tmp_path / "s.duckdb") as s:
            load_roster(s, ROSTER)
            bad = tmp_path / "costs.csv"
            bad.write_text("scope,scope_id,kind,period_start,amount,currency\nteam,web,labor,2024-01-01,1,EUR\n")
            with pytest.raises(DataError, match="several currencies"):
                load_roster(s, bad)
            runs = s.runs()
    assert [r["status"] for r in runs] == ["failed", "finished"]
    assert runs[0]["kind"] == "roster" and "several currencies" in runs[0]["message"]
    counts = {c["table"]: c for c in json.loads(runs[1]["counts"])}
    assert counts["memberships"]["loaded"] == 3 and runs[1]["finished_at"] >= runs[1]["started_at"]


def test_readers_name_a_run_that_never_finished_until_it_is_run_again(tmp_path, new_store):
    db = tmp_path / "s.duckdb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(db) as s:
            load_roster(s, ROSTER)
            # what a run killed part-way leaves: its journal row, never completed
            s.con.execute("UPDATE ingest_runs SET finished_at = NULL, status = 'running'")
    with pytest.warns(DataWarning, match=r"INCOMPLETE LOAD .*run 1 \(`ctssw ingest roster`.*run it again"):
        Store(db, read_only=True).close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(db) as s:
            load_roster(s, ROSTER)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        with Store(db, read_only=True) as s:
            assert s.incomplete_runs() == []


def test_loads_grouped_in_one_transaction_are_one_unit(tmp_path, new_store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(tmp_path / "s.duckdb") as s:
            with pytest.raises(DataError), s.transaction():
                load_roster(s, ROSTER / "teams.csv")
                bad = tmp_path / "costs.csv"
                bad.write_text("scope,scope_id,kind,period_start,amount,currency\nteam,web,labor,2024-01-01,1,EUR\nteam,web,infra,2024-01-01,1,USD\n")
                load_roster(s, bad)
            assert s.count("teams") == 0 and s.runs() == []
