"""Several tools at once: ``ctssw impact --tools``, ``ctssw explain``, from a store or a panel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..estimators.attribution import (
    attribute,
    cts_by_architecture,
    effects_by_architecture,
    explain,
    normalise_team_mean,
    value_tools,
)
from ..estimators.results import jsonable
from ..privacy import DEFAULT_K, check_k
from ._tools import change_share, check_known, parse_selector

__all__ = ["OUTCOME", "attribute_from_store", "attribute_tools", "explain_change", "explain_from_store", "load_tools_panel", "parse_tools",
           "plan_from_store", "report_window", "share_column", "tools_panel", "tools_panel_from_store"]

OUTCOME = "deploys_per_builder"


def share_column(tool: str) -> str:
    """Panel column of a tool's share: ``share_<tool>`` for usage, ``agent_share_<tool>`` for
    ``agent:<tool>``, ``review_share_<tool>`` for ``review:<tool>`` (see :mod:`._tools`)."""
    return parse_selector(tool).column


def parse_prices(text: str | None) -> dict[str, float]:
    """``"assistant=19,review_agent=30"`` as ``{"assistant": 19.0, "review_agent": 30.0}``."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        name, sep, val = part.partition("=")
        try:
            price = float(val)
        except ValueError:
            price = -1.0
        if not sep or not name.strip() or not price >= 0:
            raise ConfigError(f"licences are tool=dollars-per-seat-month pairs, e.g. assistant=19; got {part!r}")
        out[name.strip()] = price
    return out


def parse_tools(tools: str | Sequence[str]) -> list[str]:
    """``"a,b,c"`` or a sequence as a list of distinct tool names."""
    names = [t.strip() for t in tools.split(",")] if isinstance(tools, str) else [str(t).strip() for t in tools]
    names = [t for t in names if t]
    if not names:
        raise ConfigError("--tools needs at least one tool name, e.g. --tools assistant,review_agent")
    if len(set(names)) != len(names):
        raise ConfigError(f"--tools lists a tool twice: {names}")
    cols = [parse_selector(t).column for t in names]
    if len(set(cols)) != len(cols):
        raise ConfigError(f"--tools names one share twice: {names}")
    return names


def tools_panel(panel_df: pd.DataFrame, tools: Sequence[str], *, outcome: str = OUTCOME) -> pd.DataFrame:
    """Check a panel has each tool's share column; add it under the tool's own name, and ``<outcome>_tm``."""
    cols = [share_column(t) for t in tools]
    missing = [c for c in cols if c not in panel_df.columns]
    if missing:
        raise ConfigError(f"the panel has no usage share for {missing}; a panel for several tools has one share_<tool> column each")
    if outcome not in panel_df.columns:
        raise ConfigError(f"column {outcome!r} not in the panel")
    clash = [t for t in tools if t in panel_df.columns]
    if clash:
        raise ConfigError(f"tool name(s) {clash} are also panel columns; rename the tool in tool_usage")
    p = panel_df.copy()
    for t in tools:
        p[t] = p[share_column(t)]
    p[f"{outcome}_tm"] = normalise_team_mean(p, outcome)
    return p


def tools_panel_from_store(db: str | Path, tools: Sequence[str], *, unit: str = "deployment", loaded_annual_cost: float = 200_000.0,
                           weeks_per_year: float = 52.0, backend: str = "duckdb", spark_url: str | None = None,
                           lake: str | Path | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """The store's panel with one share column per tool (:func:`share_column`: usage, feature, coding
    or review agent), and each tool's licence cost (licence rows of ``costs`` naming that tool).
    ``backend``, ``spark_url`` and ``lake`` choose where the panels are built, as for ``ctssw panel``."""
    from ..panel import change_shares
    from ..panel.backend import connect
    from ._shared import section_panel, tool_columns

    kw = dict(unit=unit, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year)
    sels = [parse_selector(t) for t in tools]
    con, close = connect(backend, db=db, spark_url=spark_url, lake=lake)
    try:
        tu = con.table("tool_usage")
        usage = tu.select("tool", "feature").distinct().to_pandas().dropna()
        changes = change_shares(con) if any(s.kind != "usage" for s in sels) else pd.DataFrame(columns=["role", "tool"])
        check_known(sels, usage, changes)
        base = section_panel(con, **kw)
        if base.empty:
            raise ConfigError(f"the store {db} holds no team-weeks")
        for s in sels:
            if s.kind == "usage":
                # only the columns taken: the rest of a panel is the same for every tool
                one = tool_columns(con, ("ai_share", "ai_active"), tool=s.tool, feature=s.feature, **kw)
                one = one.rename(columns={"ai_share": s.column, "ai_active": f"active_{s.name}"})
                base = base.merge(one, on=["team_id", "week"], how="left")
            else:
                base = base.merge(change_share(changes, s), on=["team_id", "week"], how="left")
                # a team-week without any of these changes (or without merged changes) has share 0
                base[s.column] = base[s.column].fillna(0.0)
        c = con.table("costs")
        lic = c.filter((c.kind == "license") & c.tool.isin(list(tools))).group_by("tool").aggregate(amount=c.amount.sum()).to_pandas()
    finally:
        close()
    licences = {t: float(lic.loc[lic["tool"] == t, "amount"].sum()) for t in tools}
    return base, licences


def attribute_tools(
    panel_df: pd.DataFrame,
    tools: Sequence[str],
    *,
    method: str = "jackknife",
    outcome: str = OUTCOME,
    covariates: Sequence[str] = (),
    license_cost: dict[str, float] | None = None,
    license_per_seat_month: dict[str, float] | None = None,
    loaded_annual_cost: float = 200_000.0,
    weeks_per_year: float = 52.0,
    level: float = 0.95,
    threshold: float = 0.5,
    by_architecture: bool = False,
    decompose: bool = False,
    since: str | None = None,
    until: str | None = None,
    window: int | None = None,
    k: int = DEFAULT_K,
) -> dict[str, Any]:
    """Every tool's effect in one model, their sum, the one-model-per-tool sum, and their value.

    ``method`` is ``"jackknife"``, ``"fe"``, ``"did"`` or ``"all"`` (all three,
    valuing the jackknife). Returns a JSON-safe dict with ``text`` for the terminal.
    With ``decompose``, the result also holds ``explain``: the baseline decomposition
    (``ctssw explain``) of the change between the ``window`` weeks from ``since`` and the
    ``window`` weeks up to ``until``, with the valued method's effects (by default the
    panel's first and last weeks, windows from :func:`report_window`); when it cannot be
    computed, ``explain`` is None and ``explain_withheld`` says why.
    """
    k = check_k(k)
    tools = parse_tools(tools)
    p = tools_panel(panel_df, tools, outcome=outcome)
    if float(p.groupby("week")["builders"].sum().max()) < k:
        raise ConfigError(f"the panel covers fewer than {k} builders (privacy floor)")
    methods = ["fe", "jackknife", "did"] if method == "all" else [method]
    y = f"{outcome}_tm"
    fits = {m: attribute(p, tools=tools, y=y, method=m, covariates=covariates if m != "did" else (), level=level, threshold=threshold) for m in methods}
    valued = "jackknife" if method == "all" else method
    prices = dict(license_per_seat_month or {})
    lic = {t: v for t, v in (license_cost or {}).items() if t not in prices}
    value = value_tools(fits[valued], p, license_cost=lic, license_per_seat_month=prices, loaded_annual_cost=loaded_annual_cost,
                        weeks_per_year=weeks_per_year)
    text = [f"Several tools in one model: {', '.join(tools)} (outcome {outcome} over each team's mean)", ""]
    for m, f in fits.items():
        text += [f.summary(), ""]
    text += [f"Valued with {valued}:", value.summary()]
    extra: dict[str, Any] = {}
    if by_architecture:
        arch = effects_by_architecture(p, tools=tools, y=y, method="fe", level=level)
        cts = cts_by_architecture(p, k=k)
        extra["by_architecture"] = {"effects": arch.to_dict(), "cts_sw": cts.to_dict(orient="records")}
        text += ["", arch.summary(), "", "CTS-SW per architecture (cost over units, each in its own unit):", cts.to_string(index=False)]
    if decompose:
        extra.update(_decompose(p, fits[valued], since=since, until=until, window=window, threshold=threshold, k=k))
        if extra.get("explain"):
            text += ["", extra["explain"]["text"]]
    return jsonable({
        **extra,
        "tools": tools,
        "share_columns": {t: share_column(t) for t in tools},
        "outcome": y,
        "method": method,
        "valued_method": valued,
        "estimates": {m: f.to_dict() for m, f in fits.items()},
        "table": {m: f.table().to_dict(orient="records") for m, f in fits.items()},
        "value": value.to_dict(),
        "text": "\n".join(text),
    })


def report_window(weeks: int) -> int:
    """Weeks in each window of the report's decomposition: a quarter (13 weeks), fewer when the
    history is short (a quarter of it, at least one week), so the two windows never overlap."""
    return max(1, min(13, int(weeks) // 4))


def _decompose(p: pd.DataFrame, fit, *, since: str | None, until: str | None, window: int | None, threshold: float,
               k: int) -> dict[str, Any]:
    """``explain`` (the decomposition as a dict, with ``text``) or ``explain_withheld`` (why not)."""
    from ..errors import CtsswError

    weeks = pd.to_datetime(p["week"])
    since = since or str(weeks.min().date())
    until = until or str(weeks.max().date())
    window = window or report_window(weeks.nunique())
    try:
        d = explain(p, fit, since=since, until=until, window=window, threshold=threshold, k=k)
    except CtsswError as e:
        return {"explain": None, "explain_withheld": str(e)}
    out = d.to_dict()
    out["text"] = d.summary()
    return {"explain": out}


def explain_change(
    panel_df: pd.DataFrame,
    tools: Sequence[str],
    *,
    since: str,
    until: str,
    window: int = 4,
    method: str = "jackknife",
    outcome: str = OUTCOME,
    threshold: float = 0.5,
    k: int = DEFAULT_K,
) -> dict[str, Any]:
    """The baseline decomposition of the organisation's CTS-SW change (``ctssw explain``)."""
    tools = parse_tools(tools)
    if method not in ("fe", "jackknife", "did"):
        raise ConfigError(f"method must be fe, jackknife or did; got {method!r}")
    p = tools_panel(panel_df, tools, outcome=outcome)
    fit = attribute(p, tools=tools, y=f"{outcome}_tm", method=method, threshold=threshold, naive=False)
    d = explain(p, fit, since=since, until=until, window=window, threshold=threshold, k=k)
    out = d.to_dict()
    out["tools"] = tools
    out["effects"] = fit.to_dict()
    out["text"] = d.summary()
    return jsonable(out)


def load_tools_panel(db: str | Path, tools: Sequence[str], *, panel_file: str | Path | None = None, **kw) -> tuple[pd.DataFrame, dict[str, float]]:
    """The several-tools panel from a panel file (with ``share_<tool>`` columns) or from the store."""
    tools = parse_tools(tools)
    if panel_file is not None:
        from ..panel import read_panel

        return read_panel(panel_file), {}
    return tools_panel_from_store(db, tools, **kw)


def attribute_from_store(db: str | Path, tools: str | Sequence[str], *, panel_file: str | Path | None = None, method: str = "jackknife",
                         loaded_annual_cost: float = 200_000.0, weeks_per_year: float = 52.0, license: str | None = None,
                         **kw) -> dict[str, Any]:
    """:func:`attribute_tools` on the store at ``db`` or on a panel file.

    Licences come from ``license`` (``"tool=dollars per seat-month,..."``) or
    else from the store's costs table (licence rows with that tool). ``backend``, ``spark_url``
    and ``lake`` in ``kw`` choose where the panel is built (:func:`tools_panel_from_store`).
    """
    if method not in ("fe", "jackknife", "did", "all"):
        raise ConfigError(f"with --tools, method must be fe, jackknife, did or all; got {method!r}")
    names = parse_tools(tools)
    where = {k: kw.pop(k) for k in ("backend", "spark_url", "lake") if k in kw}
    p, lic = load_tools_panel(db, names, panel_file=panel_file, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year,
                              **where)
    prices = parse_prices(license)
    unknown = sorted(set(prices) - set(names))
    if unknown:
        raise ConfigError(f"--license names {unknown}, which are not among --tools {names}")
    return attribute_tools(p, names, method=method, license_cost=lic, license_per_seat_month=prices,
                           loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year, **kw)


def explain_from_store(db: str | Path, tools: str | Sequence[str], *, since: str, until: str, panel_file: str | Path | None = None,
                       backend: str = "duckdb", spark_url: str | None = None, lake: str | Path | None = None,
                       **kw) -> dict[str, Any]:
    """:func:`explain_change` on the store at ``db`` or on a panel file; ``backend``, ``spark_url`` and
    ``lake`` choose where the panel is built, as for ``ctssw panel``."""
    names = parse_tools(tools)
    p, _ = load_tools_panel(db, names, panel_file=panel_file, backend=backend, spark_url=spark_url, lake=lake)
    return explain_change(p, names, since=since, until=until, **kw)


def plan_from_store(db: str | Path, *, tool: str, effect: float, out: str | Path = "rollout.csv", panel_file: str | Path | None = None,
                    backend: str = "duckdb", spark_url: str | None = None, lake: str | Path | None = None,
                    **kw) -> dict[str, Any]:
    """``ctssw plan``: power and a balanced schedule from the store's history; writes the rollout CSV to ``out``.

    ``tool`` is named as for ``--tools`` (``copilot``, ``copilot/chat``, ``agent:copilot``,
    ``review:coderabbit``, or a new tool's label). When the store already records use of it, the
    plan simulates on the history before its first use, which it says. ``backend``, ``spark_url``
    and ``lake`` choose where the panels are built (one connection for both), as for ``ctssw panel``.
    """
    from ..estimators.attribution import plan
    from ..panel import read_panel

    sel = parse_selector(tool)
    note = None
    if panel_file is not None:
        p = read_panel(panel_file)
    else:
        from ..store import check_lake
        from ._shared import section_panel, sections_connection

        check_lake(backend, lake)
        where = dict(backend=backend, spark_url=spark_url, lake=lake)
        with sections_connection(**where, db=db) as con:
            p = section_panel(con)
            first = None if p.empty else _first_use(db, tool, where)
        if first is not None:
            p = p[p["week"] < first]
            note = (f"{tool} is in use from the week of {first.date()}: the plan simulates on the "
                    f"{p['week'].nunique()} weeks before it")
    if p.empty:
        raise ConfigError(f"the store {db} holds no team-weeks" + (" before the tool's first use" if note else ""))
    result = plan(p, tool=sel.name, effect=effect, **kw)
    path = result.write_schedule(out)
    res = result.to_dict()
    res["rollout_csv"] = str(path)
    res["history_before_first_use"] = note
    res["text"] = (f"{note}\n" if note else "") + result.summary() + f"\nRollout CSV (team,date,wave; `ctssw impact` reads team,date): {path}"
    return res


def _first_use(db: str | Path, tool: str, where: dict) -> pd.Timestamp | None:
    """The first week any team used ``tool`` (share above 0), or None when the store records no use."""
    try:
        p, _ = tools_panel_from_store(db, [tool], **where)
    except ConfigError:
        return None
    used = p.loc[p[share_column(tool)].fillna(0) > 0, "week"]
    return None if used.empty else pd.Timestamp(used.min())
