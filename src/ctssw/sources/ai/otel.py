"""OpenTelemetry metrics of AI coding tools (OTLP JSON, as the collector's file exporter writes
them) → tool_usage.

The file exporter writes one ``ExportMetricsServiceRequest`` per line:
``{"resourceMetrics": [{"resource": {"attributes": [...]}, "scopeMetrics": [{"scope": ...,
"metrics": [{"name", "unit", "sum": {"aggregationTemporality", "isMonotonic",
"dataPoints": [{"attributes", "startTimeUnixNano", "timeUnixNano", "asDouble" | "asInt"}]}}]}]}]}``.

Metrics are recognised by name (the prefix names the tool): ``claude_code.*`` (tool ``claude``)
and ``gemini_cli.*`` (tool ``gemini``). Per person (data point or resource attribute
``user.email``, else ``user.account_uuid``, else ``user.id``) and UTC day of ``timeUnixNano``:

- ``*.session.count`` → agent_requests (sessions started);
- ``*.lines_of_code.count`` with ``type`` ``added`` → accepted_lines;
- ``*.code_edit_tool.decision`` with ``decision`` ``accept`` → events (edits accepted);
- ``*.cost.usage`` → cost (USD).

Delta sums (``aggregationTemporality`` 1) add up; cumulative sums (2) count each point's
increase over the previous point of the same series (same attributes and start time). Each
person-day gives a feature ``all`` row and a feature ``agent`` row with the same counts. A count
that is not a whole number ≥ 0 (fractional, negative, NaN, infinite) or a cost that is negative
or not finite is never rounded or summed away: the person-day's rows carry it as it came and are
quarantined with the reason.
Other metrics (tokens, active time, commits, pull requests, a service's own metrics) are counted
in a note and not loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from pathlib import Path

from ...errors import SchemaError
from ..common import Progress, Tables, get, note, paths_of, read_each, read_json, table
from ._counts import amount_sum, count_sum

__all__ = ["read"]

EXPECTED = "OTLP JSON metrics (ExportMetricsServiceRequest objects with resourceMetrics, one per line)"
TOOLS = {"claude_code.": "claude", "gemini_cli.": "gemini"}
WHO = ("user.email", "user.account_uuid", "user.id")


def _attrs(lst: object) -> dict[str, object]:
    out = {}
    for a in lst if isinstance(lst, list) else []:
        v = get(a, "value")
        if isinstance(v, dict) and v:
            out[str(get(a, "key"))] = next(iter(v.values()))
    return out


def _value(p: dict) -> object:
    """The point's value as it came (``asInt`` is a string in OTLP JSON); None when it has none."""
    v = p.get("asDouble", p.get("asInt"))
    return None if v is None or v == "" else v


def _finite(v: object) -> float | None:
    try:
        x = float(v) if not isinstance(v, bool) else None  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return x if x is not None and math.isfinite(x) else None


def _measure(name: str, attrs: dict) -> str | None:
    if name.endswith(".session.count"):
        return "agent_requests"
    if name.endswith(".lines_of_code.count"):
        return "accepted_lines" if str(attrs.get("type", "")).lower() == "added" else None
    if name.endswith(".code_edit_tool.decision"):
        return "events" if str(attrs.get("decision", "")).lower() in ("accept", "accepted") else None
    if name.endswith(".cost.usage"):
        return "cost"
    return None


def read_file(path: str | Path) -> Tables:
    p = Path(path)
    doc = read_json(p, EXPECTED)
    reqs = doc if isinstance(doc, list) else [doc]
    if not any(isinstance(r, dict) and "resourceMetrics" in r for r in reqs):
        raise SchemaError(f"{p}: no resourceMetrics; expected {EXPECTED}")
    acc: dict[tuple, dict[str, float]] = {}
    last: dict[tuple, float] = {}
    skipped: dict[str, int] = {}
    nobody = bad = 0
    for req in reqs:
        for rm in get(req, "resourceMetrics") or []:
            res = _attrs(get(rm, "resource", "attributes"))
            for sm in get(rm, "scopeMetrics") or []:
                for m in get(sm, "metrics") or []:
                    name = str(get(m, "name") or "")
                    tool = next((t for pre, t in TOOLS.items() if name.startswith(pre)), None)
                    data = get(m, "sum")
                    points = get(data, "dataPoints") or []
                    if tool is None or not isinstance(points, list):
                        other = next((get(m, k, "dataPoints") for k in ("sum", "gauge", "histogram",
                                      "exponentialHistogram", "summary") if isinstance(get(m, k, "dataPoints"), list)), [])
                        skipped[name] = skipped.get(name, 0) + len(other)
                        continue
                    cumulative = get(data, "aggregationTemporality") == 2
                    for pt in points:
                        attrs = {**res, **_attrs(get(pt, "attributes"))}
                        what = _measure(name, attrs)
                        if what is None:
                            skipped[name] = skipped.get(name, 0) + 1
                            continue
                        v, t = _value(pt) if isinstance(pt, dict) else None, get(pt, "timeUnixNano")
                        try:
                            when = dt.datetime.fromtimestamp(int(t) / 1e9, dt.UTC) if t is not None else None
                        except (TypeError, ValueError, OverflowError, OSError):
                            when = None
                        if v is None or when is None:
                            bad += 1
                            continue
                        who = next((attrs[k] for k in WHO if attrs.get(k)), None)
                        if who is None:
                            nobody += 1
                            continue
                        if cumulative and _finite(v) is not None:
                            # the increase over the series' previous point (a decrease stays negative: quarantined)
                            series = (name, json.dumps(attrs, sort_keys=True, default=str), get(pt, "startTimeUnixNano"))
                            x = _finite(v)
                            v, last[series] = x - last.get(series, 0.0), x
                        k = (tool, str(who), when.date().isoformat())
                        m_ = acc.setdefault(k, {})
                        # counts must be whole and ≥ 0, costs finite and ≥ 0; a bad value is kept as it
                        # came, never summed away or rounded, so the store quarantines the row
                        m_[what] = (amount_sum if what == "cost" else count_sum)([m_.get(what), v])
    if skipped:
        shown = ", ".join(f"{n or '?'} ({c})" for n, c in sorted(skipped.items())[:6])
        note(f"{p}: {sum(skipped.values())} data point(s) of metrics ctssw does not take were skipped: {shown}")
    if nobody:
        note(f"{p}: {nobody} AI tool data point(s) carry no user.email, user.account_uuid or user.id: not loaded")
    if bad:
        note(f"{p}: {bad} AI tool data point(s) without a value or a time: not loaded")
    rows = []
    for (tool, who, d), m in sorted(acc.items()):
        cost = m.get("cost")
        base = {"builder": who, "tool": tool, "day": d, "active": True, "events": m.get("events"),
                "accepted_lines": m.get("accepted_lines"), "agent_requests": m.get("agent_requests"),
                "cost": round(cost, 6) if isinstance(cost, float) else cost}
        rows += [{**base, "feature": "all"}, {**base, "feature": "agent"}]
    return {"tool_usage": table("tool_usage", rows)} if rows else {}


def read(paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> Tables:
    """Read OTLP JSON metric files (see the module docstring)."""
    return read_each(paths_of(paths), read_file, progress)
