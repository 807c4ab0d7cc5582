"""The identity key lives outside the store: the store file alone gives no builder back."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import warnings

import duckdb
import pytest
from layouts import stored_bytes

from ctssw.errors import StoreError
from ctssw.store import Store, load_copilot, load_roster, rekey

from .conftest import EMAILS, FIX, ROSTER


def _fill(db, key, new_store=Store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(db, identity_key=key) as s:
            load_roster(s, ROSTER)
            load_copilot(s, FIX / "copilot/user_usage.ndjson")


def _stored_ids(db) -> set[str]:
    with Store(db, read_only=True) as s:
        rows = s.con.execute(
            """SELECT builder_id FROM builders UNION SELECT value_id FROM identities UNION SELECT builder_id FROM identities
               UNION SELECT builder_id FROM memberships UNION SELECT builder_id FROM tool_usage"""
        ).fetchall()
    return {r[0] for r in rows}


def _attack(db, extra_keys: tuple[str, ...] = ()) -> set[str]:
    """Everything someone holding only the store file can try: every string the file keeps as a
    key candidate, under the old nested SHA-256, HMAC and plain hashes, on the fixture identities."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        texts = [v for (v,) in con.execute("SELECT value FROM ctssw_meta").fetchall()]
    finally:
        con.close()
    cands = [*texts, *extra_keys, ""]
    out = set()
    for email in EMAILS:
        v = email.strip().lower()
        hs = [hashlib.sha256(v.encode()).hexdigest(), hashlib.md5(v.encode()).hexdigest(), hashlib.sha1(v.encode()).hexdigest()]
        for k in cands:
            hs.append(hashlib.sha256((k + hashlib.sha256((k + v).encode()).hexdigest()).encode()).hexdigest())
            for kb in {k.encode(), bytes.fromhex(k) if _hex(k) else b""}:
                hs.append(hmac.new(kb, v.encode(), hashlib.sha256).hexdigest())
        for h in hs:
            out |= {h, "b_" + h[:16], "h_" + h[:16]}
    return out


def _hex(k: str) -> bool:
    try:
        bytes.fromhex(k)
    except ValueError:
        return False
    return len(k) % 2 == 0


def test_key_file_is_created_private_and_only_its_fingerprint_is_stored(tmp_path, keyfile, new_store):
    db = tmp_path / "s.duckdb"
    _fill(db, keyfile, new_store)
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    secret = [ln for ln in keyfile.read_text().splitlines() if not ln.startswith("#")][0]
    with Store(db, read_only=True) as s:
        meta = dict(s.con.execute("SELECT key, value FROM ctssw_meta").fetchall())
    assert set(meta) >= {"schema_version", "identity_key_fingerprint"} and "identity_key" not in meta
    assert secret.encode() not in stored_bytes(db)


def test_the_store_file_alone_recovers_no_builder(tmp_path, keyfile, new_store):
    db = tmp_path / "s.duckdb"
    _fill(db, keyfile, new_store)
    ids = _stored_ids(db)
    assert len(ids) >= 6
    assert not (_attack(db) & ids)
    # the same attack with the key file in hand does recover them: the test has teeth
    secret = [ln for ln in keyfile.read_text().splitlines() if not ln.startswith("#")][0]
    assert _attack(db, (secret,)) & ids


def test_ingest_refuses_without_the_stores_key_and_reading_needs_none(tmp_path, keyfile, new_store, monkeypatch):
    db = tmp_path / "s.duckdb"
    _fill(db, keyfile, new_store)
    with pytest.raises(StoreError, match=r"needs its identity key .*--identity-key FILE.*CTSSW_IDENTITY_KEY"):
        Store(db, identity_key=tmp_path / "nowhere.key")
    other = tmp_path / "other.key"
    Store(tmp_path / "o.duckdb", identity_key=other).close()
    with pytest.raises(StoreError, match=r"is not the identity key of"):
        Store(db, identity_key=other)
    monkeypatch.setenv("CTSSW_IDENTITY_KEY", str(tmp_path / "absent.key"))
    with Store(db, read_only=True) as s:
        assert s.count("tool_usage") > 0 and s.count("memberships") == 3
    keyfile.chmod(0o644)
    with pytest.raises(StoreError, match="readable by others"):
        Store(db, identity_key=keyfile)


def test_rekey_keeps_every_link_and_changes_every_pseudonym(tmp_path, keyfile, new_store):
    db = tmp_path / "s.duckdb"
    _fill(db, keyfile, new_store)
    q = """SELECT m.team_id, count(*) FROM tool_usage u JOIN memberships m USING (builder_id) GROUP BY 1 ORDER BY 1"""
    with Store(db, read_only=True) as s:
        before_links = s.con.execute(q).fetchall()
        n_quarantine = s.count("quarantine")
    before = _stored_ids(db)
    new = tmp_path / "keys" / "identity-2.key"
    res = rekey(db, new, identity_key=keyfile)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600 and res["fingerprint"]
    after = _stored_ids(db)
    assert len(after) == len(before) and not (after & before)
    with Store(db, read_only=True) as s:
        assert s.con.execute(q).fetchall() == before_links
        assert s.count("quarantine") == n_quarantine
    with pytest.raises(StoreError, match="is not the identity key"):
        Store(db, identity_key=keyfile)
    # later loads under the new key land on the same people
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(db, identity_key=new) as s:
            load_copilot(s, FIX / "copilot/user_usage.ndjson")
            assert s.con.execute(q).fetchall() == before_links
            alice = s.pseudonymise("alice@corp.example")
            assert s.con.execute("SELECT count(*) FROM memberships WHERE builder_id = ?", [alice]).fetchall()[0][0] == 1


def _legacy_store(db, tmp_path) -> str:
    """A store as ctssw wrote it before the key left the store: the key in ctssw_meta."""
    secret = "ab" * 32
    legacy = tmp_path / "legacy.key"
    legacy.write_text(f"legacy:{secret}\n")
    legacy.chmod(0o600)
    _fill(db, legacy)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM ctssw_meta WHERE key = 'identity_key_fingerprint'")
    con.execute("INSERT INTO ctssw_meta VALUES ('identity_key', ?)", [secret])
    # the old hash, computed by DuckDB as the old store did, is what the legacy chain gives
    old = con.execute(f"SELECT sha256('{secret}' || sha256('{secret}' || 'alice@corp.example'))").fetchall()[0][0]
    assert con.execute("SELECT count(*) FROM identities WHERE value_id = ?", [old]).fetchall()[0][0] >= 1
    con.close()
    return secret


def test_a_store_with_its_key_inside_is_refused_then_migrated_by_rekey(tmp_path):
    db = tmp_path / "old.duckdb"
    secret = _legacy_store(db, tmp_path)
    ids = _stored_ids(db)
    assert _attack(db) & ids  # the hole this closes: the old store gives its people back
    with pytest.raises(StoreError, match=r"keeps its identity key inside the file.*ctssw rekey"):
        Store(db)
    with Store(db, read_only=True) as s:  # reading still works
        assert s.count("memberships") == 3
    new = tmp_path / "migrated.key"
    rekey(db, new)
    assert secret.encode() not in db.read_bytes()
    assert not (_attack(db) & _stored_ids(db))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(db, identity_key=new) as s:
            n = s.count("tool_usage")
            load_copilot(s, FIX / "copilot/user_usage.ndjson")
            assert s.count("tool_usage") == n  # the same people, the same rows: nothing new


def _open_new_store(args):
    db, key, barrier = args
    barrier.wait()
    try:
        if db is None:  # the key alone, right after the barrier: the narrowest race
            from ctssw.store import _keys

            return _keys.key_for_new_store(key).fingerprint
        with Store(db, identity_key=key) as s:
            return s._ikey.fingerprint
    except StoreError as e:
        return f"error: {e}"


def test_commands_started_together_on_a_fresh_machine_share_one_whole_key(tmp_path):
    # processes that each create a new store at the same moment, none finding the key file yet.
    # Before keys were written whole and linked into place, 32 of 40 such rounds of 8 processes
    # had one fail ("exists already": it lost the race to create the file)
    import multiprocessing as mp

    n = 6
    with mp.Manager() as m, mp.get_context("fork").Pool(n) as pool:
        for r in range(12):
            key = tmp_path / f"cfg{r}" / "identity.key"
            barrier = m.Barrier(n)
            stores = [tmp_path / f"s{r}-{i}.duckdb" if r == 0 else None for i in range(n)]
            got = pool.map(_open_new_store, [(db, key, barrier) for db in stores])
            assert len(set(got)) == 1 and not got[0].startswith("error"), got
            assert [p.name for p in key.parent.iterdir()] == ["identity.key"]  # no temporary file left beside it


def test_a_key_created_by_another_process_after_the_check_is_the_one_used(tmp_path, monkeypatch):
    from ctssw.store import _keys

    key = tmp_path / "identity.key"
    theirs = _keys.new_key(key)
    real = _keys.new_key

    def too_late(path):
        assert os.path.exists(path)  # the other process got there first
        return real(path)

    monkeypatch.setattr(_keys, "new_key", too_late)
    monkeypatch.setattr(_keys.Path, "exists", lambda self: False if self == key else stat.S_ISREG(self.stat().st_mode))
    assert _keys.key_for_new_store(key).secrets == theirs.secrets


def test_a_key_file_appears_only_once_written_whole(tmp_path, monkeypatch):
    from ctssw.store import _keys

    key = tmp_path / "identity.key"
    real = _keys._write

    def write(f, k):
        assert not key.exists()  # nobody can read the key before its last line is written
        real(f, k)

    monkeypatch.setattr(_keys, "_write", write)
    made = _keys.new_key(key)
    assert _keys.read_key(key).secrets == made.secrets
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    monkeypatch.undo()
    with pytest.raises(StoreError, match="exists already"):
        _keys.new_key(key)
