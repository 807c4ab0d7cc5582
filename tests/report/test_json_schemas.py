"""Every ``--json`` output validates against its documented, versioned schema in docs/schemas/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from ctssw.cli import app

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
runner = CliRunner()


def _check(name: str, args: list[str]) -> dict:
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert doc["schema"] == f"ctssw.{name}" and doc["schema_version"] == 1

    def no_spaces(o):
        if isinstance(o, dict):
            assert not [k for k in o if " " in str(k)], list(o)
            for v in o.values():
                no_spaces(v)
        elif isinstance(o, list):
            for v in o:
                no_spaces(v)

    no_spaces(doc)
    return doc


def test_every_schema_is_documented_and_valid():
    names = sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json"))
    assert names == ["collect", "copy-to-lake", "demo", "drivers", "explain", "fit-lmm", "impact", "impact-event", "impact-tools",
                     "ingest", "metrics", "plan", "rekey", "report", "status"]
    text = (SCHEMAS.parent / "cli.md").read_text()
    for n in names:
        assert f"schemas/{n}.schema.json" in text


def test_ingest_json_is_an_object_for_every_connector(sim_dir, tmp_path):
    doc = _check("ingest", ["ingest", "canonical", str(sim_dir), "--db", str(tmp_path / "s.duckdb")])
    assert {c["table"] for c in doc["counts"]} >= {"teams", "deployments"}


@pytest.mark.parametrize("by", ["team", "org"])
def test_metrics_json(store_path, by):
    doc = _check("metrics", ["metrics", "--db", str(store_path), "--by", by])
    assert doc["rows"]


def test_drivers_and_fit_json(store_path, tmp_path):
    _check("drivers", ["drivers", "--db", str(store_path)])
    pq = tmp_path / "p.parquet"
    assert runner.invoke(app, ["panel", "--db", str(store_path), "--out", str(pq)]).exit_code == 0
    _check("fit-lmm", ["fit", "lmm", "--data", str(pq), "--formula", "velocity ~ ai_share + (1 | team_id)"])


def test_impact_json(store_path):
    doc = _check("impact", ["impact", "--db", str(store_path), "--method", "all"])
    assert doc["dynamic"]["valued_method"] == "jackknife" and "cs" in doc["did"]["estimates"]


def test_demo_json(tmp_path):
    _check("demo", ["demo", "--out", str(tmp_path / "demo"), "--teams", "30", "--weeks", "60", "--seed", "2"])


def test_rekey_json(tmp_path):
    from ctssw.store import Store, load_roster

    key, new, db = tmp_path / "k" / "old.key", tmp_path / "k" / "new.key", tmp_path / "s.duckdb"
    roster = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "roster"
    with Store(db, identity_key=key) as s:
        load_roster(s, roster)
    doc = _check("rekey", ["rekey", "--db", str(db), "--new-key", str(new), "--identity-key", str(key)])
    assert doc["key"] == str(new) and doc["db"] == str(db) and new.exists()
    assert doc["rewritten"] and all(n >= 0 for n in doc["rewritten"].values()) and sum(doc["rewritten"].values()) > 0


def test_copy_to_lake_json(store_path, tmp_path):
    import shutil

    shutil.copy(store_path, tmp_path / "old.duckdb")
    doc = _check("copy-to-lake", ["copy-to-lake", "--db", str(tmp_path / "old.duckdb"), "--to", str(tmp_path / "new.duckdb"),
                                  "--lake", str(tmp_path / "lake")])
    assert doc["db"] == str(tmp_path / "new.duckdb") and doc["lake"] == str(tmp_path / "lake")
    assert doc["rows"]["deployments"] > 0 and doc["rows"]["identities"] > 0


def test_status_json(store_path, tmp_path):
    doc = _check("status", ["status", "--db", str(store_path)])
    assert doc["tables"]["deployments"]["rows"] > 0 and doc["capabilities"]
    empty = _check("status", ["status", "--db", str(tmp_path / "none.duckdb")])
    assert empty["next_command"].startswith("ctssw ingest")


def test_report_json(store_path, tmp_path):
    doc = _check("report", ["report", "--db", str(store_path), "--out", str(tmp_path / "r.html")])
    assert doc["path"] == str(tmp_path / "r.html") and doc["sections"]["cts"] == "ok"


def test_attribution_json(store_path, tmp_path):
    doc = _check("impact-tools", ["impact", "--db", str(store_path), "--tools", "assistant", "--method", "fe"])
    assert doc["tools"] == ["assistant"] and "assistant" in doc["estimates"]["fe"]["effects"]
    doc = _check("explain", ["explain", "--db", str(store_path), "--since", "2024-03-04", "--until", "2025-01-27",
                             "--method", "fe"])
    assert doc["adds_up"] is True
    parts = [c["log_points"] for c in doc["components"] if c["component"] != "observed"]
    assert abs(sum(parts) - doc["observed"]) < 1e-9
    out = tmp_path / "rollout.csv"
    doc = _check("plan", ["plan", "--db", str(store_path), "--tool", "x", "--effect", "0.1", "--reps", "10",
                          "--out", str(out)])
    assert len(doc["schedule"]) == 40 and out.exists()


def test_impact_event_json(tmp_path):
    from ctssw.panel import PANEL_COLUMNS
    from ctssw.simulate import simulate_architecture_change

    p, changes, _ = simulate_architecture_change(teams=40, weeks=52, seed=4, effect=0.3)
    for c in PANEL_COLUMNS:
        if c not in p.columns:
            p[c] = 0.0
    p[list(PANEL_COLUMNS)].to_parquet(tmp_path / "panel.parquet")
    changes.to_csv(tmp_path / "arch.csv", index=False)
    doc = _check("impact-event", ["impact", "--panel", str(tmp_path / "panel.parquet"), "--event",
                                  "architecture:monolith->service", "--architecture-changes", str(tmp_path / "arch.csv")])
    assert doc["teams_changing"] > 0 and doc["effect"]["ci_low"] <= doc["effect"]["estimate"] <= doc["effect"]["ci_high"]
