"""Kiro (and Amazon Q Developer) user activity reports → tool_usage.

Kiro writes two CSV reports to the S3 bucket an administrator chooses:

- the **user report**, one file per client type and day
  (``.../KiroLogs/user_report/<region>/<yyyy>/<mm>/<dd>/00/<CLIENT_TYPE>_<account>_user_report_<ts>.csv``)
  with the columns ``UserId, Date, Client_Type, Subscription_Tier, ProfileId,
  Chat_Conversations, Credits_Used, Overage_Cap, Overage_Credits_Used, Overage_Enabled,
  Total_Messages`` (later reports add ``New_User``, ``User_Email`` and ``<model>_messages``
  columns, which are not needed). Each row becomes a ``tool_usage`` row of tool ``kiro`` with
  the feature of its client type (``KIRO_IDE`` → agent, ``KIRO_CLI`` → cli, ``PLUGIN`` → chat):
  events = ``Total_Messages``, agent_requests = ``Chat_Conversations`` (IDE and CLI),
  credits = ``Credits_Used``; plus one feature ``all`` row per user and day summing the client
  types. Overage columns describe billing limits and are not loaded.
- the legacy **by_user_analytic** report, read as :mod:`ctssw.sources.ai.qdev` reads it; under a
  ``KiroLogs`` folder its rows are tool ``kiro``, elsewhere (``QDeveloperLogs``) ``amazon-q``.

Real reports (tests/fixtures/kiro) quote ``UserId``, ``ProfileId`` and ``User_Email``, write ISO
dates and add a ``<model>_messages`` column only for the models used that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..common import (
    Progress,
    Tables,
    concat,
    day,
    expand,
    paths_of,
    read_csv,
    read_text,
    table,
)
from . import qdev
from ._counts import amount_sum, count_sum

__all__ = ["TOOL", "read"]

TOOL = "kiro"
EXPECTED = "a Kiro user_report CSV (UserId, Date, Client_Type, ..., Credits_Used, Total_Messages)"
CLIENT = {"kiro_ide": "agent", "kiro_cli": "cli", "plugin": "chat"}


def _is_user_report(p: Path) -> bool:
    first = read_text(p, EXPECTED).split("\n", 1)[0].lower()
    return "client_type" in first or "credits_used" in first or "total_messages" in first


def _tool_of(p: Path) -> str:
    return TOOL if any(part.lower() == "kirologs" for part in p.resolve().parts) else qdev.TOOL


def _user_report(p: Path) -> list[dict]:
    header, recs = read_csv(p, EXPECTED)
    col = {h.lower(): h for h in header}
    missing = [c for c in ("userid", "date", "client_type") if c not in col]
    if missing:
        from ...errors import SchemaError

        raise SchemaError(f"{p}: no {', '.join(missing)} column(s) (header: {', '.join(header[:6])}); expected {EXPECTED}")
    rows = []
    for r in recs:
        def v(name: str) -> object:
            return r.get(col[name]) if name in col else None

        client = str(v("client_type") or "").strip().lower()
        feat = CLIENT.get(client, client or None)
        convs = count_sum([v("chat_conversations")])
        row = {"builder": v("userid"), "tool": TOOL, "day": day(v("date")), "active": True, "feature": feat,
               "events": count_sum([v("total_messages")]), "credits": amount_sum([v("credits_used")]),
               "agent_requests": convs if feat in ("agent", "cli") else None}
        if "_malformed" in r:
            row["day"] = f"<malformed row: {r['_malformed']}>"
        rows.append(row)
    return rows


def _with_totals(rows: list[dict]) -> list[dict]:
    """The per-client rows and one ``all`` row per user and day summing them."""
    acc: dict[tuple, dict] = {}
    for r in rows:
        k = (r["builder"], r["day"])
        a = acc.setdefault(k, {"builder": r["builder"], "tool": TOOL, "day": r["day"], "feature": "all", "active": True,
                               "events": None, "credits": None, "agent_requests": None})
        for c in ("events", "agent_requests"):
            a[c] = count_sum([a[c], r[c]])
        a["credits"] = amount_sum([a["credits"], r["credits"]])
    return rows + list(acc.values())


def read(paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None) -> Tables:
    """Read Kiro user reports and by_user_analytic reports (files or folders); see the module docstring."""
    files = list(expand(paths_of(paths), (".csv",)))
    reports = [p for p in files if _is_user_report(p)]
    legacy = [p for p in files if p not in reports]
    rows: list[dict] = []
    for i, p in enumerate(reports):
        if progress:
            progress(f"reading {p}", i, len(files))
        rows += _user_report(p)
    parts = [{"tool_usage": table("tool_usage", _with_totals(rows))}] if rows else []
    if legacy:
        parts.append(qdev.read(legacy, progress=progress, tool=_tool_of))
    return concat(parts)
