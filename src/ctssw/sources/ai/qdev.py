"""Amazon Q Developer user activity reports (``by_user_analytic`` CSVs) → tool_usage.

Amazon Q writes one CSV a day; each row is a user who used it that day, with ``UserId``,
``Date`` and metric columns (``Chat_*``, ``Inline_*``, ``InlineChat_*``, ``Dev_*``,
``CodeFix_*``, ``CodeReview_*``, ``TestGeneration_*``, ``DocGeneration_*``, ...). With more than
1,000 users a day the report is split into ``..._part_1.csv``, ``..._part_2.csv``; give all
parts (or their folder). A part without a header row takes the header of the first part.

Mapping, per row:

- builder = ``UserId`` (an IAM Identity Center user id; map it in the roster's identities);
- tool = ``amazon-q``; day = ``Date`` (ISO, ``MM-DD-YYYY`` or ``MM/DD/YYYY``);
- events = the sum of ``Chat_MessagesSent`` and every ``*_AcceptanceEventCount`` /
  ``*AcceptanceCount`` column (accepted suggestions, fixes, features, tests);
- accepted_lines = the sum of every ``*_AICodeLines``, ``*_AcceptedLines`` and
  ``*_AcceptedLineAdditions`` column;
- active = true (the report lists only users active that day).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from ...errors import SchemaError
from ..common import (
    Progress,
    Tables,
    expand,
    paths_of,
    read_csv,
    read_text,
    table,
)

__all__ = ["TOOL", "read"]

TOOL = "amazon-q"
EXPECTED = "an Amazon Q Developer user activity report CSV (by_user_analytic: UserId, Date, metric columns)"
EVENTS = re.compile(r"(^Chat_MessagesSent$|AcceptanceEventCount$|AcceptanceCount$)", re.IGNORECASE)
LINES = re.compile(r"(AICodeLines$|AcceptedLines$|AcceptedLineAdditions$)", re.IGNORECASE)
PART = re.compile(r"^(.*)_part_(\d+)$", re.IGNORECASE)


def _sum(rec: dict, cols: list[str]) -> object:
    from ..common import count_sum

    # a value that is not a whole count ≥ 0 is passed on as it came: the store quarantines the row
    return count_sum(rec.get(c) for c in cols)


def _rows(header: list[str], recs: list[dict], path: Path, tool: str = TOOL) -> list[dict]:
    lower = {h.lower(): h for h in header}
    if "userid" not in lower or "date" not in lower:
        raise SchemaError(f"{path}: no UserId and Date columns (header: {', '.join(header[:6])}); expected {EXPECTED}")
    uid, date = lower["userid"], lower["date"]
    ev = [h for h in header if EVENTS.search(h)]
    ln = [h for h in header if LINES.search(h)]
    from ..common import day

    out = []
    for r in recs:
        row = {"builder": r.get(uid), "tool": tool, "day": day(r.get(date)), "active": True,
               "events": _sum(r, ev), "accepted_lines": _sum(r, ln)}
        if "_malformed" in r:
            row["day"] = f"<malformed row: {r['_malformed']}>"
        out.append(row)
    return out


def read(
    paths: str | Path | Iterable[str | Path], *, progress: Progress | None = None, tool: Callable[[Path], str] | None = None
) -> Tables:
    """Read Q Developer user activity CSVs, single files or ``part_N`` splits (or folders of them).

    ``tool`` names the tool of a file (default ``amazon-q``); Kiro writes the same report."""
    files = list(expand(paths_of(paths), (".csv",)))
    headers: dict[str, list[str]] = {}

    def order(p: Path) -> tuple:
        m = PART.match(p.stem)
        return (m.group(1), int(m.group(2))) if m else (p.stem, 0)

    rows: list[dict] = []
    for i, p in enumerate(sorted(files, key=order)):
        if progress:
            progress(f"reading {p}", i, len(files))
        txt = read_text(p, EXPECTED)
        first = txt.split("\n", 1)[0].lower()
        base = order(p)[0]
        if "userid" not in first and base in headers:
            txt = ",".join(headers[base]) + "\n" + txt
        header, recs = read_csv(p, EXPECTED, text=txt)
        headers.setdefault(base, header)
        rows += _rows(header, recs, p, tool(p) if tool else TOOL)
    return {"tool_usage": table("tool_usage", rows)}
