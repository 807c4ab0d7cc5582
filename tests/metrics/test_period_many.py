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
