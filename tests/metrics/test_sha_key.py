"""The linkage joins shas on DuckDB by a hashed key: the same links as on the strings."""

from __future__ import annotations

import hashlib

import ibis
import pandas as pd
import pytest

from ctssw.metrics import _api as A
from ctssw.metrics import _linkage as L
from ctssw.metrics import change_links
from ctssw.store import Store


def test_equal_shas_share_a_key_and_distinct_ones_do_not():
    con = ibis.duckdb.connect()
    shas = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(200_000)]
    t = ibis.memtable({"sha": shas + shas[:1000]})
    key = L.sha_key(con)
    keys = con.execute(t.select(k=key(t.sha)))["k"]
    assert keys.notna().all()
    assert keys.nunique() == len(shas)
    assert con.execute(t.select(k=key(ibis.literal(shas[7]))).limit(1))["k"][0] == keys[7]
    # a NULL sha has no key (a deployment without one is never joined)
    assert pd.isna(con.execute(t.select(k=key(ibis.null("string"))).limit(1))["k"][0])


def test_other_backends_join_on_the_sha_itself():
    class Spark:
        name = "pyspark"

    sha = ibis.literal("0" * 40)
    assert L.sha_key(Spark())(sha) is sha


@pytest.mark.parametrize("db, rule", [
    ("store_path", "default"), ("store_path", "devlake"), ("devlake_store", "default"), ("devlake_store", "devlake"),
    ("devlake_derived", "default"),
])
def test_keyed_links_equal_links_on_the_strings(db, rule, monkeypatch, request):
    path = request.getfixturevalue(db)

    def links() -> pd.DataFrame:
        with Store(path, read_only=True) as s:
            try:
                df = change_links(s.ibis(), rule=rule).to_pandas()
            finally:
                A.clear_cache()
        return df.sort_values("change_id").reset_index(drop=True)

    keyed = links()
    monkeypatch.setattr(L, "sha_key", lambda con: lambda sha: sha)
    strings = links()
    assert keyed["deployment_id"].notna().sum() >= (1000 if db == "store_path" else 1)
    pd.testing.assert_frame_equal(keyed, strings)
