"""Time each step ``ctssw metrics`` materialises, one after the other in one process.

    python benchmarks/profile_metrics_steps.py STORE.duckdb

First the whole panel ``ctssw panel`` builds; then the steps of ``ctssw.metrics._api._facts``
(the panel columns the period roll-ups read, the production deployments, the deployment facts,
the deployments whose commits are derived, the shipped merge commits and the change facts, in the
command's order) and the two period roll-ups the
command prints (by team, and for the organisation). Prints seconds per step and the row counts;
the per-step table in results/growth.md comes from this script on the 10,000-team store.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ctssw.metrics import _api as A
from ctssw.metrics import _dora as D
from ctssw.metrics import _linkage as L
from ctssw.panel import panel_expr
from ctssw.panel.backend import connect


def main() -> None:
    con, close = connect("duckdb", db=Path(sys.argv[1]))
    t0 = time.perf_counter()

    def lap(name, f):
        nonlocal t0
        r = f()
        t = time.perf_counter()
        print(f"{name:28s} {t - t0:7.2f} s", flush=True)
        t0 = t
        return r

    try:
        cfg = D.dora_config()
        lap("panel (ctssw panel's)", lambda: A._materialise(con, panel_expr(con), "p_full"))
        p = lap("panel (the metrics')", lambda: A._materialise(con, panel_expr(con, unit="deployment", columns=D.PERIOD_PANEL), "p"))
        keys = L.stored_keys(con)
        cols = A.FACT_DEPLOYMENT_COLUMNS + (L.DEPLOYMENT_KEYS if keys else ())
        deps = lap("deployments", lambda: A._materialise(con, L.deployments(con, "production", previous=False, keys=keys).select(*cols), "deps"))
        d = lap("deployment_facts", lambda: A._materialise(con, D.deployment_facts(con, cfg, deps), "df"))
        cand = lap("derivation candidates", lambda: A._materialise(con, L.derivation_candidates(con, deps, L.sha_key(con)), "cand"))
        some = bool(cand.count().to_pyarrow().as_py())
        shipped = lap("shipped", lambda: A._materialise(con, L.shipped_merges(con, "production", deps=deps, candidates=cand, derive=some), "shipped"))
        c = lap("change_facts", lambda: A._materialise(con, D.change_facts(con, cfg, deps, shipped), "cf"))
        lap("period team", lambda: D.dora_period(con, cfg, p, by="team", facts=(c, d)).to_pyarrow())
        lap("period org", lambda: D.dora_period(con, cfg, p, by="org", facts=(c, d)).to_pyarrow())
        for t in ("deployments", "deployment_commits", "changes", "commits", "incidents", "p", "deps", "cand", "shipped", "cf", "df"):
            print(t, con.raw_sql(f'SELECT count(*) FROM "{t}"').fetchone()[0])
    finally:
        A.clear_cache()
        close()


if __name__ == "__main__":
    main()
