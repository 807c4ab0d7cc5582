from __future__ import annotations

import pytest

from ctssw.errors import SchemaError
from ctssw.store import load_roster

from .conftest import FIX, by_table


def test_roster_files_load_in_reference_order(store):
    files = sorted((FIX / "roster").glob("*.csv"), reverse=True)  # memberships before teams on purpose
    c = by_table(load_roster(store, files))
    assert (c["teams"].loaded, c["memberships"].loaded, c["costs"].loaded) == (3, 3, 2)
    assert c["identities"].loaded == 10  # each person's own email and listed ids; bob has two logins
    # a login, a pager id, a tool id and a second email all resolve to the person
    alice = store.pseudonymise("alice@corp.example")
    for v in ("alice-gh", "PALICE1", "a1b2c3d4-0000-alice", "ALICE@home.example"):
        assert store.pseudonymise(v) == alice
    assert store.pseudonymise("bobby-gh") == store.pseudonymise("bob@corp.example")
    m = store.con.execute("SELECT team_id, fte, oncall FROM memberships WHERE builder_id = ? ", [alice]).fetchall()
    assert m == [("payments", 1.0, True)]
    assert store.count("builders") == 2


def test_reload_changes_nothing_and_new_version_updates(store, tmp_path):
    files = sorted((FIX / "roster").glob("*.csv"))
    load_roster(store, files)
    again = load_roster(store, files)
    assert all(c.loaded == c.updated == 0 and c.duplicate == c.read for c in again)
    t = tmp_path / "teams.csv"
    t.write_text((FIX / "roster/teams.csv").read_text().replace("Web,platform,monolith", "Web,platform,trunk"))
    (c,) = load_roster(store, t)
    assert (c.loaded, c.updated, c.duplicate) == (0, 1, 2)


def test_unknown_kind_is_one_clear_error(store, tmp_path):
    p = tmp_path / "stuff.csv"
    p.write_text("foo,bar\n1,2\n")
    with pytest.raises(SchemaError, match=r"stuff\.csv: cannot tell which roster table"):
        load_roster(store, p)


def test_bad_membership_rows_quarantined(store, tmp_path):
    load_roster(store, FIX / "roster/teams.csv")
    p = tmp_path / "memberships.csv"
    p.write_text("email,team_id,start,fte\nx@corp.example,web,2024-01-01,1\ny@corp.example,nope,2024-01-01,1\n"
                 "z@corp.example,web,2024-13-45,1\nw@corp.example,web,2024-01-01,3\n")
    (c,) = load_roster(store, p)
    assert (c.read, c.loaded, c.quarantined) == (4, 1, 3)
    reasons = sorted(r[0] for r in store.con.execute("SELECT reason FROM quarantine").fetchall())
    assert reasons == ["fte outside (0, 1.5]", "unknown team nope", "wrong type in start: expected DATE; missing start"]
    raw = " ".join(r[0] for r in store.con.execute("SELECT raw FROM quarantine").fetchall())
    assert "@corp.example" not in raw  # identities are hashed even in quarantine
