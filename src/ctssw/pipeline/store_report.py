"""``ctssw report``: the full HTML report (the demo's sections) from any store.

Each section is computed on its own; one that cannot be computed from this store is replaced by
one sentence saying why and which command supplies what it lacks. Teams inferred from activity
are named as such, and the privacy floor applies as everywhere.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from .. import report
from ..errors import CtsswError
from ..estimators.results import jsonable
from ..report import charts

__all__ = ["report_from_store"]


def _missing(id_: str, title: str, why: str) -> report.Section:
    return report.Section(id_, title, paragraphs=[f"This section cannot be computed from this store: {why}"])


def report_from_store(
    db: str | Path, out: str | Path, *, tool: str | None = None, unit: str = "deployment", k: int = report.DEFAULT_K,
    rollout: str | Path | None = None, method: str = "all",
) -> dict:
    """Write the HTML report for the store at ``db`` to ``out``; return what each section did.

    Returns
    -------
    dict
        ``path``, ``sections`` (id → "ok" or the reason it was left out) and ``status``.
    """
    from ..metrics import (
        clear_cache,
        cts_change,
        org_weekly,
        period_metrics,
        team_week_metrics,
    )
    from ..panel import panel as build_panel
    from ..store import Store
    from .drivers import drivers_from_store
    from .impact import impact_from_store
    from .status import store_status

    st = store_status(db)
    done: dict[str, str] = {}
    sections: list[report.Section] = []
    inferred = st.inferred_teams
    head = report.Section(
        "store", "What the store holds",
        paragraphs=[
            f"{st.teams} team(s): {st.rostered_teams} from a roster, {len(inferred)} inferred from activity "
            f"(team = repository; members active there within 8 weeks). Builders: {st.builders:,}; bots and agents, "
            f"never counted as builders: {st.bots}. Quarantined rows: {st.quarantined:,}.",
            *(f"Not available: {c.name} ({c.why}; {c.fix})." for c in st.capabilities if not c.ok),
        ],
        tables=[report.table_html(_frame([{"table": t, **r} for t, r in st.tables.items()]))],
    )
    sections.append(head)
    summary: list[str] = []
    panel = None
    try:
        with Store(db, read_only=True) as store:
            con = store.ibis()
            panel = build_panel(con, unit=unit)
            weekly = team_week_metrics(con, unit=unit)
            teams = period_metrics(con, by="team", unit=unit)
            clear_cache()
    except CtsswError as e:
        for id_, title in (("cts", "Cost to serve software"), ("dora", "DORA metrics")):
            sections.append(_missing(id_, title, str(e)))
            done[id_] = str(e)
    if panel is not None:
        org = org_weekly(panel)
        change = cts_change(panel)
        if change.get("now") is not None:
            summary.append(f"CTS-SW now ${change['now']:,.0f} per {change['unit']} against ${change['year_earlier']:,.0f} "
                           f"a year earlier: {change['change']:+.1%}.")
        else:
            summary.append(f"CTS-SW change over a year: not defined ({change.get('reason')}).")
        sections.append(report.Section(
            "cts", "Cost to serve software",
            paragraphs=[f"Cost per production {unit}, each week a ratio of sums over all teams"
                        + (" (teams inferred from activity)." if inferred else ".")],
            charts=[charts.line_chart(org, "week", {"cts_sw": "weekly", "cts_sw_4w": "trailing 4 weeks"},
                                      title="CTS-SW per unit", ylabel="dollars per unit")],
        ))
        done["cts"] = "ok"
        sections += report.dora_sections(weekly, teams, k=k)
        done["dora"] = "ok"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            drv = drivers_from_store(db, k=k, unit=unit)
        sections.append(report.drivers_section(drv, None))
        done["drivers"] = "ok"
    except CtsswError as e:
        sections.append(_missing("drivers", "Drivers of CTS-SW", str(e)))
        done["drivers"] = str(e)
    if tool is None:
        why = "no tool named (ctssw report --tool NAME, with usage ingested or --rollout FILE)"
        sections.append(_missing("impact", "Impact of a tool", why))
        done["impact"] = why
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dyn, did = ("all", "all") if method == "all" else (method, None)
                res = impact_from_store(db, tool=tool, rollout=rollout, dynamic=dyn, did=did)
            sections += report.impact_sections(res)
            summary.append(res["verdict"])
            done["impact"] = "ok"
        except CtsswError as e:
            sections.append(_missing("impact", f"Impact of {tool}", str(e)))
            done["impact"] = str(e)
    out = Path(out)
    report.write_report(out, title="Cost to serve software", subtitle=f"Store {db}.",
                        summary=summary, sections=sections)
    result = {"path": str(out), "sections": done, "status": st.to_dict()}
    out.with_suffix(".json").write_text(json.dumps(jsonable(result), indent=2, default=str))
    return result


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)
