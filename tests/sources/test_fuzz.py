"""Parsers on truncated, garbled and wrong-typed input: a clear error or a load, never a crash,
and nothing written by a file that fails."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctssw.errors import CtsswError
from ctssw.sources import devlake, git, roster
from ctssw.sources.ai import claude, copilot, cursor, kiro, otel, qdev
from ctssw.sources.forges import github, gitlab
from ctssw.sources.ops import pagerduty
from ctssw.store import LOADERS, Store, load_roster

from .conftest import FIX

REAL = FIX.parents[1] / "fixtures"

CASES = [
    (copilot, FIX / "copilot/user_usage.ndjson"),
    (copilot, FIX / "copilot/org_metrics.json"),
    (github, FIX / "github/pulls.json"),
    (github, FIX / "github/workflow_runs.json"),
    (github, FIX / "github/deployment_statuses.json"),
    (gitlab, FIX / "gitlab/merge_requests.json"),
    (gitlab, FIX / "gitlab/notes.json"),
    (gitlab, FIX / "gitlab/deployments.json"),
    (pagerduty, FIX / "pagerduty/incidents.json"),
    (pagerduty, FIX / "pagerduty/log_entries.json"),
    (pagerduty, FIX / "pagerduty/incidents.csv"),
    (qdev, FIX / "qdev/111122223333_by_user_analytic_1747094400000_part_1.csv"),
    (roster, FIX / "roster/memberships.csv"),
    (roster, FIX / "roster/identities.csv"),
    (roster, FIX / "roster/costs.csv"),
    (devlake, FIX.parent / "fixtures_devlake_pull_requests.csv"),
    (kiro, FIX / "qdev/111122223333_by_user_analytic_1747094400000_part_1.csv"),
    (copilot, REAL / "copilot/users_report_example.ndjson"),
    (copilot, REAL / "copilot/enterprise_report_example.ndjson"),
    (claude, REAL / "claude/usage_report_claude_code.json"),
    (cursor, REAL / "cursor/teams_daily_usage_data.json"),
    (cursor, REAL / "cursor/analytics_ai_code_commits.json"),
    (otel, REAL / "claude/otlp_json_metrics_example.json"),
    (github, REAL / "github/graphql_deployments_openbic.json"),
    (github, REAL / "github/ants_pulls_23_commits.json"),
    (gitlab, REAL / "gitlab/devlake_deployments.json"),
    (pagerduty, REAL / "pagerduty/devlake_incidents_with_log_entries.json"),
]
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def env():
    d = Path(tempfile.mkdtemp())
    with Store(":memory:") as s:
        load_roster(s, FIX / "roster/teams.csv")
        yield s, d
    shutil.rmtree(d, ignore_errors=True)


DEVLAKE_PRS = (
    "id,base_repo_id,author_id,merge_commit_sha,created_date,merged_date\n"
    "pr0,repo1,a,sha0,2022-1-11 4:51:47,2022-2-10 4:51:47\npr1,repo1,b,sha1,2023-04-11T04:51:47.000+00:00,2023-4-11 5:51:47\n"
)


def _original(path: Path) -> bytes:
    if path.name == "fixtures_devlake_pull_requests.csv":
        return DEVLAKE_PRS.encode()
    return path.read_bytes()


def _name(path: Path) -> str:
    return "pull_requests.csv" if path.name == "fixtures_devlake_pull_requests.csv" else path.name


def _try(env, mod, name: str, data: bytes) -> None:
    store, d = env
    p = d / name
    p.write_bytes(data)
    before = store.counts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            counts = LOADERS[mod.__name__.rsplit(".", 1)[-1]](store, p)
        except CtsswError as e:
            assert str(p) in str(e) or p.name in str(e) or "expected" in str(e), e
            assert store.counts() == before  # a failed file writes nothing
            return
    for c in counts:
        assert c.read == c.loaded + c.updated + c.duplicate + c.quarantined


@pytest.mark.parametrize(("mod", "path"), CASES, ids=lambda x: getattr(x, "name", getattr(x, "__name__", "")).split(".")[-1])
@SETTINGS
@given(cut=st.floats(0, 1))
def test_truncated(env, mod, path, cut):
    data = _original(path)
    _try(env, mod, _name(path), data[: int(len(data) * cut)])


@pytest.mark.parametrize(("mod", "path"), CASES, ids=lambda x: getattr(x, "name", getattr(x, "__name__", "")).split(".")[-1])
@SETTINGS
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=4)), min_size=1, max_size=6))
def test_garbled(env, mod, path, edits):
    data = bytearray(_original(path))
    for where, junk in edits:
        i = int(len(data) * where)
        data[i : i + len(junk)] = junk
    _try(env, mod, _name(path), bytes(data))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8,
)


def _leaves(doc, path=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _leaves(v, (*path, i))
    yield path


def _set(doc, path, value):
    if not path:
        return value
    cur = doc
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return doc


JSON_CASES = [c for c in CASES if c[1].suffix == ".json" or c[1].suffix == ".ndjson"]


@pytest.mark.parametrize(("mod", "path"), JSON_CASES, ids=lambda x: getattr(x, "name", getattr(x, "__name__", "")).split(".")[-1])
@SETTINGS
@given(data=st.data())
def test_wrong_types(env, mod, path, data):
    text = path.read_text()
    ndjson = path.suffix == ".ndjson"
    doc = [json.loads(x) for x in text.splitlines() if x.strip()] if ndjson else json.loads(text)
    paths = list(_leaves(doc))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(paths))
        try:
            doc = _set(doc, where, data.draw(JSON_VALUES))
        except (KeyError, IndexError, TypeError):
            pass
        paths = list(_leaves(doc))
    out = "\n".join(json.dumps(x) for x in doc) if ndjson and isinstance(doc, list) else json.dumps(doc)
    _try(env, mod, path.name, out.encode())


@SETTINGS
@given(lines=st.lists(st.text(alphabet="0123456789-\tabc/\x1f", max_size=20), max_size=5))
def test_git_log_garbage(monkeypatch, tmp_path_factory, lines):
    repo = tmp_path_factory.getbasetemp()
    record = "\x1f".join(["a" * 40, "", "n", "e@x", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "s"]) + "\n" + "\n".join(lines)
    monkeypatch.setattr(git, "_stream", lambda *a, **k: iter([record]))
    monkeypatch.setattr(git, "_check_repo", lambda *a: None)
    try:
        t = git.read(repo, repo_id="r")
    except CtsswError as e:
        assert "unexpected git log output" in str(e)
        return
    assert t["commits"].num_rows == 1
