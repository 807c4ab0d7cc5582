"""The malformed-input census: every case has one asserted outcome, a clear error, a row
quarantined with its reason, or a correct load. None is silently wrong, none is a traceback.
docs/reliability.md shows the same table."""

from __future__ import annotations

import csv
import os
import subprocess
import warnings
from pathlib import Path

import pytest

from ctssw.errors import CtsswError
from ctssw.store import LOADERS, Store, ingest_canonical, load_roster

from .conftest import ROSTER

HERE = Path(__file__).parent
CENSUS = HERE / "census"
CASES = list(csv.DictReader(open(CENSUS / "CENSUS.csv", newline="")))
DOC = HERE.parents[1] / "docs" / "reliability.md"


def _special(name: str, tmp: Path) -> Path:
    if name == "@symlink-loop":
        d = tmp / "loop"
        d.mkdir()
        (d / "teams.csv").write_text((ROSTER / "teams.csv").read_text())
        os.symlink(d, d / "again")
        return d
    if name in ("@dangling-link", "@dangling-link-canonical"):
        d = tmp / "linked"
        d.mkdir()
        (d / "teams.csv").write_text((ROSTER / "teams.csv").read_text())
        os.symlink(tmp / "gone.csv", d / "memberships.csv")
        return d
    if name == "@not-a-repo":
        d = tmp / "plain"
        d.mkdir()
        (d / "a.txt").write_text("x")
        return d
    if name == "@git-2200":
        # git's own commands refuse dates after 2099; fast-import writes what a rewritten history can hold
        repo = tmp / "repo"
        env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
        subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
        stream = ""
        for i, when in enumerate((1709287200, 7258118400)):  # 2024-03-01, 2200-01-01
            who = f"alice <alice@corp.example> {when} +0000"
            stream += f"commit refs/heads/main\nauthor {who}\ncommitter {who}\ndata 2\nc{i}\n"
            stream += f"M 644 inline f.txt\ndata 1\n{i}\n\n"  # the second commit follows the first on main
        subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream, text=True, check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True, env=env)
        return repo
    raise AssertionError(name)


def _load(store: Store, case: dict, tmp: Path):
    path = _special(case["input"], tmp) if case["input"].startswith("@") else CENSUS / case["input"]
    opts: dict = dict(kv.split("=", 1) for kv in case["options"].split(";") if kv)
    if "team_map" in opts:
        opts["team_map"] = [opts["team_map"]]
    if "rates" in opts:
        store.rates = __import__("ctssw.store._checks", fromlist=["load_rates"]).load_rates(CENSUS / opts.pop("rates"))
    if case["connector"] == "canonical":
        return ingest_canonical(store, path)
    return LOADERS[case["connector"]](store, path, **opts)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_census(case, tmp_path, new_store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(tmp_path / "s.duckdb") as store:
            load_roster(store, ROSTER / "teams.csv")
            before = store.counts()
            if case["outcome"] == "error":
                with pytest.raises(CtsswError) as e:
                    _load(store, case, tmp_path)
                assert case["expect"] in str(e.value) and "\n" not in str(e.value).strip()
                assert store.counts() == before  # a run that stops writes nothing
                return
            counts = _load(store, case, tmp_path)
            for c in counts:
                assert c.read == c.loaded + c.updated + c.duplicate + c.quarantined
            reasons = [r[0] for r in store.con.execute("SELECT reason FROM quarantine").fetchall()]
            if case["outcome"] == "quarantined":
                assert any(case["expect"] in r for r in reasons), reasons
                assert sum(c.loaded + c.updated + c.duplicate for c in counts) >= 0
            else:
                assert case["outcome"] == "loaded"
                table, n = case["expect"].split("=")
                assert not reasons, reasons
                assert sum(c.read - c.quarantined for c in counts if c.table == table) == int(n)


def test_the_docs_show_this_census():
    text = DOC.read_text()
    for c in CASES:
        row = f"| {c['connector']} | {c['what']} | {c['outcome']} | {c['expect']} |"
        assert row in text, row
    assert text.count("\n| ") - 1 >= len(CASES)


def test_a_rates_table_converts_costs_to_one_currency(tmp_path, new_store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(tmp_path / "s.duckdb", rates=CENSUS / "roster/rates.csv") as s:
            load_roster(s, [ROSTER / "teams.csv", CENSUS / "roster/currencies/costs.csv"])
            got = dict(s.con.execute("SELECT scope_id, amount FROM costs WHERE currency = 'USD'").fetchall())
    assert got == pytest.approx({"payments": 100.0, "web": 99.0})
