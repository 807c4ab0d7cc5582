"""Several groupings' period metrics from one query equal each grouping's own query."""

from __future__ import annotations

import pandas as pd
import pytest

from ctssw.errors import ConfigError
from ctssw.metrics import clear_cache, period_metrics, period_metrics_many
from ctssw.store import Store


@pytest.mark.parametrize("kw", [{}, {"since": "2024-03-04", "until": "2024-09-30"}])
def test_many_equals_each_grouping_alone(store_path, kw):
    by = ("team", "org", "parent")
    with Store(store_path, read_only=True) as s:
        con = s.ibis()
        try:
            many = period_metrics_many(con, by=by, **kw)
            alone = {b: period_metrics(con, by=b, **kw) for b in by}
        finally:
            clear_cache()
    assert list(many) == list(by)
    assert len(many["team"]) > 10 and len(many["org"]) == 1
    for b in by:
        pd.testing.assert_frame_equal(many[b], alone[b], check_exact=False, rtol=1e-12)


def test_an_unknown_grouping_is_a_config_error(store_path):
    with Store(store_path, read_only=True) as s:
        try:
            with pytest.raises(ConfigError, match="by must be one of"):
                period_metrics_many(s.ibis(), by=("team", "division"))
        finally:
            clear_cache()


def test_the_organisation_row_adds_up_its_teams(store_path):
    """The organisation's counts are its teams' sums, its medians those of every change and
    deployment; a period without team-weeks has no organisation row."""
    from ctssw.metrics import _api as A
    from ctssw.metrics import _dora as D

    with Store(store_path, read_only=True) as s:
        con = s.ibis()
        try:
            got = period_metrics_many(con, by=("team", "org"))
            empty = period_metrics(con, by="org", since="2090-01-01", until="2090-12-31")
            c, d = (t.to_pandas() for t in A.fact_tables(con, D.dora_config()))
        finally:
            clear_cache()
    team, org = got["team"], got["org"].iloc[0]
    assert org["group"] == "all" and empty.empty
    for col in ("team_weeks", "prod_deployments", "change_failures", "rework_deployments", "changes_deployed", "pages"):
        assert org[col] == pytest.approx(team[col].sum(), rel=1e-12), col
    assert org["changes_deployed"] == len(c) > 1000
    for col in ("lead_time", "coding", "pickup", "review", "deploy"):
        assert org[f"{col}_median_h"] == pytest.approx(c[col].median(), rel=1e-12), col
    assert org["lead_time_p90_h"] == pytest.approx(c["lead_time"].quantile(0.9), rel=1e-12)
    assert org["recovery_median_h"] == pytest.approx(d["recovery"].median(), rel=1e-12)
