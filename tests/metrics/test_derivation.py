"""Derived deployment commits: the metrics' steps (candidates found once, their targets' previous
successes only) link every change as the one-expression linkage does (every deployment's
previous success)."""

from __future__ import annotations

import pandas as pd
import pytest

from ctssw.metrics import _api as A
from ctssw.metrics import _dora as D
from ctssw.metrics import _linkage as L
from ctssw.metrics import change_links
from ctssw.store import Store


def _links_both_ways(path) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(change → deployment from the metrics' facts, the same from ``change_links``, candidates)."""
    with Store(path, read_only=True) as s:
        con = s.ibis()
        try:
            built = {}

            def keep(name, build):
                built[name] = table = build()
                if name == "deployments":  # counted now: dropped once the facts are built
                    built["n"] = int(L.derivation_candidates(con, table, L.sha_key(con)).count().to_pyarrow().as_py())
                return table

            A.fact_tables(con, D.dora_config(), step=keep)
            facts = built["change facts"].to_pandas()[["change_id", "deployment_id", "deployed_at"]]
            n = built["n"]
            links = change_links(con).to_pandas()
        finally:
            A.clear_cache()
    links = links[links["deployment_id"].notna()][["change_id", "deployment_id", "deployed_at"]]
    return (
        facts.sort_values("change_id").reset_index(drop=True),
        links.sort_values("change_id").reset_index(drop=True),
        n,
    )


@pytest.mark.parametrize("db", ["store_without_some_commits", "devlake_derived"])
def test_metrics_steps_derive_what_the_linkage_derives(db, request):
    facts, links, candidates = _links_both_ways(request.getfixturevalue(db))
    assert candidates > 0  # deployments whose commits are derived
    assert len(facts) > 0
    pd.testing.assert_frame_equal(facts, links, check_dtype=False)


def test_no_candidates_no_derivation(store_path):
    """The simulated store derives nothing (every success has stored commits, or a sha the history
    does not hold): leaving the derivation out gives the same shipped rows."""
    with Store(store_path, read_only=True) as s:
        con = s.ibis()
        deps = L.deployments(con, "production", previous=False)
        assert int(L.derivation_candidates(con, deps).count().to_pyarrow().as_py()) == 0
        both = [
            L.shipped_merges(con, deps=deps, derive=derive).to_pandas().sort_values(["sha", "deployment_id"])
            .reset_index(drop=True)
            for derive in (True, False)
        ]
    assert len(both[0]) > 1000
    pd.testing.assert_frame_equal(*both)


def test_candidates_on_keys_equal_candidates_on_strings(store_without_some_commits):
    """On stored keys the deployments with stored commits are dropped before the commit history
    is joined; on the id strings after it. Both find the same deployments and commit times. (A
    store with ``commits_diffs``, as DevLake's, joins the strings only.)"""
    with Store(store_without_some_commits, read_only=True) as s:
        con = s.ibis()
        assert L.stored_keys(con)
        found = []
        for keys in (True, False):
            deps = L.deployments(con, "production", previous=False, keys=keys)
            cand = L.derivation_candidates(con, deps, L.sha_key(con)).to_pandas()
            assert ("deployment_id_key" in cand.columns) is keys
            found.append(cand[["deployment_id", "hi"]].sort_values("deployment_id").reset_index(drop=True))
    assert len(found[0]) > 0
    pd.testing.assert_frame_equal(*found)
