"""``ctssw status``: what the store holds, what can be computed, and the next command."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from . import _common as A


def register(app: typer.Typer) -> None:
    """Add ``status`` to ``app``."""

    @app.command("status")
    def status(db: A.DbOpt = Path("ctssw.duckdb"), as_json: A.JsonOpt = False) -> None:
        """What the store holds, which metrics and estimates it supports (and why not), what to run next."""
        from ..errors import CtsswError
        from ..pipeline.status import store_status

        try:
            s = store_status(db)
        except CtsswError as e:
            A._fail(e)
        if as_json:
            A.out.print_json(json.dumps(s.to_dict()))
            return
        from rich.table import Table

        t = Table(title=f"Store {s.path}")
        for c in ("table", "rows", "first", "last"):
            t.add_column(c, justify="left" if c == "table" else "right")
        for name, r in s.tables.items():
            t.add_row(name, f"{r['rows']:,}", r.get("first") or "", r.get("last") or "")
        A.out.print(t)
        inferred = len(s.inferred_teams)
        A.out.print(
            f"teams: {s.teams} ({s.rostered_teams} from a roster, {inferred} inferred from activity); builders: "
            f"{s.builders:,}; bots and agents (never builders): {s.bots}; quarantined rows: {s.quarantined:,}",
            highlight=False,
        )
        if inferred:
            shown = ", ".join(s.inferred_teams[:10]) + (" …" if inferred > 10 else "")
            A.out.print(f"inferred teams: {shown}", highlight=False, soft_wrap=True)
        c = Table(title="What this store supports")
        for col in ("", "what", "why not", "run"):
            c.add_column(col)
        for cap in s.capabilities:
            c.add_row("yes" if cap.ok else "no", cap.name, cap.why, cap.fix)
        A.out.print(c)
        A.out.print(f"next: {s.next_command}", highlight=False)
