from __future__ import annotations

from pathlib import Path

import pytest

from ctssw.store import load_roster

FIX = Path(__file__).parent / "fixtures"
DEVLAKE = Path(__file__).resolve().parents[2].parent / "shared" / "external" / "devlake-dora"
# every raw identity in the fixtures: none may be stored anywhere
RAW_IDENTITIES = (
    "alice@corp.example", "bob@corp.example", "alice@home.example", "alice-gh", "bob-gh", "bobby-gh", "carol-gh",
    "PALICE1", "PBOB002", "PZED999", "a1b2c3d4-0000-alice", "b1b2c3d4-0000-bob", "d1d2d3d4-0000-dave",
    "e1e2e3e4-0000-erin",
)


@pytest.fixture()
def store(tmp_path, new_store):
    """A new store, in each layout (tables in the file, or in a lake beside it)."""
    with new_store(tmp_path / "s.duckdb") as s:
        yield s


@pytest.fixture()
def rostered(store):
    load_roster(store, sorted((FIX / "roster").glob("*.csv")))
    return store


def by_table(counts) -> dict:
    return {c.table: c for c in counts}
