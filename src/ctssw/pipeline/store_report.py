"""``ctssw report``: the interactive report (the demo's sections) from any store.

The data-health section is what ``ctssw status`` says about the store. Drivers, a tool's
impact, and every tool with usage in one model with the decomposition of the change in CTS-SW
(``ctssw explain``'s trend, tools, composition and residual, drawn as a waterfall) are run where
the store supports them; each section that cannot be computed says, in the
page itself, why in one sentence and which command supplies what it lacks. Teams inferred from
activity are named as such, and the privacy floor applies as everywhere.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..errors import CtsswError
from ..estimators.results import jsonable
from ..privacy import DEFAULT_K
from .status import StoreStatus, store_status

__all__ = ["report_from_store", "status_health"]

_USAGE_FIX = "ctssw ingest copilot|claude|cursor FILE or ctssw collect claude|cursor supplies tool usage"


def status_health(st: StoreStatus) -> dict:
    """``ctssw status`` as the plain dict the report's data-health section shows."""
    d = st.to_dict()
    out: dict = {
        "teams": d["teams"], "teams_from_a_roster": d["rostered_teams"],
        "teams_inferred_from_activity": d["inferred_teams"] or ["none"],
        "builders": d["builders"], "bots_and_agents_never_counted_as_builders": d["bots"],
        "quarantined_rows": d["quarantined"],
        "coverage_per_table": [{"table": t, "rows": r.get("rows", 0), "first": r.get("first"), "last": r.get("last")}
                               for t, r in d["tables"].items()],
        "what_can_be_computed": [{"what": c["name"], "computable": c["ok"], "why_not": c["why"], "command_that_supplies_it": c["fix"]}
                                 for c in d["capabilities"]],
        "next_command": d["next_command"],
    }
    if d["warnings"]:
        out["warnings"] = d["warnings"]
    return out


def _tools_with_usage(db: str | Path, lake: str | Path | None = None) -> list[str]:
    if not Path(db).exists():
        return []
    from ..store import open_lake

    with open_lake(lake, db=db) as s:
        return [r[0] for r in s.con.execute(
            "SELECT tool FROM tool_usage GROUP BY tool ORDER BY count(*) DESC, tool").fetchall()]


def report_from_store(
    db: str | Path, out: str | Path, *, tool: str | None = None, unit: str = "deployment", k: int = DEFAULT_K,
    rollout: str | Path | None = None, method: str = "all", backend: str = "duckdb", spark_url: str | None = None,
    lake: str | Path | None = None,
) -> dict:
    """Write the interactive report for the store at ``db`` to ``out``; return what each section did.

    ``backend``, ``spark_url`` and ``lake`` choose where every panel and the metrics are built, as
    for ``ctssw panel``: one connection (one Spark session) serves all the sections, which build the
    plain panel once. The estimators receive pandas.

    Returns
    -------
    dict
        ``path``, ``sections`` (id → "ok" or the reason it was left out) and ``status``.
    """
    from ..store import check_lake
    from ._shared import sections_connection

    check_lake(backend, lake)
    where = dict(backend=backend, spark_url=spark_url, lake=lake)
    if Path(db).exists():
        with sections_connection(**where, db=db):
            return _report(db, out, tool, unit, k, rollout, method, where)
    return _report(db, out, tool, unit, k, rollout, method, where)


def _report(db, out, tool, unit, k, rollout, method, where: dict) -> dict:
    from ..store import is_remote
    from .drivers import drivers_from_store
    from .impact import impact_from_store
    from .report import tools_for_report, write_store_report

    local_lake = None if where["lake"] is None or is_remote(where["lake"]) else where["lake"]  # else the store's own folder
    st = store_status(db, lake=local_lake)
    used = _tools_with_usage(db, local_lake)
    missing: dict[str, str] = {}
    done: dict[str, str] = {}
    caps = {c.name: c for c in st.capabilities}
    panel_cap = caps.get("team × week panel")
    if panel_cap is not None and not panel_cap.ok:
        why = f"{panel_cap.why}; {panel_cap.fix} supplies them"
        for sec in ("cts", "dora", "teams"):
            missing[sec] = why
    drv = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            drv = drivers_from_store(db, k=k, unit=unit, **where)
        done["drivers"] = "ok"
    except CtsswError as e:
        missing["drivers"] = done["drivers"] = str(e)
    res = None
    if tool is None:
        why = ("no tool named; ctssw report --tool NAME estimates one (tools with usage here: " + ", ".join(used) + ")"
               if used else f"no tool named and no AI tool usage in the store; {_USAGE_FIX}, or ctssw report --tool NAME --rollout FILE gives rollout dates")
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dyn, did = ("all", "all") if method == "all" else (method, None)
                res = impact_from_store(db, tool=tool, rollout=rollout, dynamic=dyn, did=did, **where)
            why = ""
        except CtsswError as e:
            why = str(e)
    if res is None:
        missing["headline"] = why
        for sec in ("event_study", "waterfall"):
            missing[sec] = f"it needs a tool's impact estimate, and {why}"
        done["impact"] = why
    else:
        done["impact"] = "ok"
        if not (res.get("did") or {}).get("event_study"):
            missing["event_study"] = "no difference-in-differences estimate ran; ctssw impact --method all shows why"
    if st.tables.get("tool_usage", {}).get("rows", 0) == 0:
        missing["adoption"] = f"no AI tool usage in the store; {_USAGE_FIX}"
    several, why_not = None, {}
    if not used:
        why_not = {"tools": f"no AI tool usage in the store; {_USAGE_FIX}",
                   "explain": f"it needs the tools' effects, and there is no AI tool usage in the store; {_USAGE_FIX}"}
    elif panel_cap is not None and not panel_cap.ok:
        why_not = {sec: missing["cts"] for sec in ("tools", "explain")}
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            several, why_not = tools_for_report(db, used, k=k, **where)
    missing.update(why_not)
    done["tools"] = why_not.get("tools", "ok")
    done["explain"] = why_not.get("explain") or ("ok" if (several or {}).get("explain") else (several or {}).get("explain_withheld", ""))
    path = write_store_report(db, out, impact=res, drivers=drv, tools=several, status=status_health(st), missing=missing,
                              title="Cost to serve software", subtitle=f"Store {db}.", unit=unit, k=k, **where)
    for sec in ("cts", "dora"):
        done[sec] = missing.get(sec, "ok")
    result = {"path": str(path), "sections": done, "status": st.to_dict()}
    Path(out).with_suffix(".json").write_text(json.dumps(jsonable(result), indent=2, default=str))
    return result
