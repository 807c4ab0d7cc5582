"""The plausible-time window at its edges, for a date column and a timestamp column."""

from __future__ import annotations

from ctssw.store import Store, ingest_canonical


def _ingest(tmp_path, name: str, text: str):
    d = tmp_path / "in"
    d.mkdir()
    (d / "teams.csv").write_text("team_id,name,parent_id,architecture\nt1,Team 1,,service\n")
    (d / f"{name}.csv").write_text(text)
    s = Store(tmp_path / "s.duckdb", not_before="2024-01-10", not_after="2024-01-20")
    counts = {c.table: c for c in ingest_canonical(s, d)}
    return s, counts[name]


def test_a_date_is_plausible_from_the_first_day_to_the_day_after_the_last(tmp_path):
    days = ["2024-01-09", "2024-01-10", "2024-01-20", "2024-01-21", "2024-01-22"]
    rows = "".join(f"b{i}@x.org,assistant,{d}\n" for i, d in enumerate(days))
    s, c = _ingest(tmp_path, "tool_usage", "builder,tool,day\n" + rows)
    with s:
        assert (c.read, c.loaded, c.quarantined) == (5, 3, 2)
        kept = sorted(str(r[0]) for r in s.con.execute("SELECT day FROM tool_usage").fetchall())
        assert kept == ["2024-01-10", "2024-01-20", "2024-01-21"]
        reasons = sorted(r[0] for r in s.con.execute("SELECT reason FROM quarantine").fetchall())
        assert reasons == ["implausible day: outside 2024-01-10 to 2024-01-20"] * 2


def test_a_timestamp_is_plausible_up_to_midnight_utc_after_the_last_day(tmp_path):
    head = "deployment_id,service_id,environment,started_at,finished_at,result,team_id\n"
    times = ["2024-01-09T23:59:59Z", "2024-01-10T00:00:00Z", "2024-01-21T00:00:00Z", "2024-01-21T00:00:01Z",
             "2024-01-21T01:00:00+02:00"]
    rows = "".join(f"d{i},s,production,{t},{t},success,t1\n" for i, t in enumerate(times))
    s, c = _ingest(tmp_path, "deployments", head + rows)
    with s:
        assert (c.read, c.loaded, c.quarantined) == (5, 3, 2)
        kept = sorted(r[0] for r in s.con.execute("SELECT deployment_id FROM deployments").fetchall())
        assert kept == ["d1", "d2", "d4"]  # d4 is 2024-01-20 23:00 UTC
