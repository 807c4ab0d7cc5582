"""``ctssw status``: what the store holds, what can be computed, and the next command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import _common as A
from ._metrics import Backend, BackendOpt, LakeReadOpt, SparkUrlOpt


def register(app: typer.Typer) -> None:
    """Add ``status`` to ``app``."""

    @app.command("status")
    def status(
        db: A.DbOpt = Path("ctssw.duckdb"), as_json: A.JsonOpt = False,
        lake: Annotated[str | None, typer.Option("--lake", help="The store's Parquet lake, when not where the store recorded it.")] = None,
    ) -> None:
        """What the store holds, which metrics and estimates it supports (and why not), what to run next."""
        from ..errors import CtsswError
        from ..pipeline.status import store_status

        try:
            s = store_status(db, lake=lake)
        except CtsswError as e:
            A._fail(e)
        if as_json:
            A.emit_json("status", s.to_dict())
            return
        from rich.table import Table

        t = Table(title=f"Store {s.path}" + (f" (tables in the lake {s.lake})" if s.lake else ""))
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
        for w in s.warnings:
            A.out.print(f"note: {w}", highlight=False, soft_wrap=True)
        A.out.print(f"next: {s.next_command}", highlight=False)


def register_report(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""

    @app.command("report")
    def report_cmd(
        db: A.DbOpt = Path("ctssw.duckdb"),
        out_file: Annotated[Path, typer.Option("--out", help="HTML file to write (a .json summary goes beside it).")] = Path("report.html"),
        tool: Annotated[str | None, typer.Option("--tool", help="The tool whose impact to estimate.")] = None,
        rollout: Annotated[Path | None, typer.Option("--rollout", help="CSV of team,date rollout dates for --tool.")] = None,
        unit: Annotated[str, typer.Option("--unit", help="Unit of software: deployment, change, commit or team.")] = "deployment",
        k: Annotated[int, typer.Option("--k", help="Privacy floor (at least 3).")] = 5,
        as_json: A.JsonOpt = False,
        backend: BackendOpt = Backend.duckdb,
        spark_url: SparkUrlOpt = None,
        lake: LakeReadOpt = None,
    ) -> None:
        """The full HTML report from any store; a section that cannot be computed says why in one sentence."""
        from ..errors import CtsswError
        from ..pipeline.store_report import report_from_store

        try:
            with A.working("building the panels, the metrics and the estimates"):
                res = report_from_store(db, out_file, tool=tool, unit=unit, k=k, rollout=rollout, backend=backend.value,
                                        spark_url=spark_url, lake=lake)
        except CtsswError as e:
            A._fail(e)
        if as_json:
            A.emit_json("report", {"path": str(res["path"]), "sections": res["sections"]})
            return
        for sec, state in res["sections"].items():
            A.out.print(f"{sec}: {state}", highlight=False, soft_wrap=True)
        A.out.print(f"Report: {res['path']}", highlight=False)
