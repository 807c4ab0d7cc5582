"""``ctssw impact``: a tool's causal effect, checks and value, from the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, CtsswError

DYNAMIC = ("fe", "jackknife", "diff-gmm", "sys-gmm")
DID = ("cs", "sun-abraham", "imputation", "twfe")


def register(app: typer.Typer) -> None:
    from ._app import _fail, out

    @app.command()
    def impact(
        db: Annotated[Path, typer.Option("--db", help="DuckDB store file.")] = Path("ctssw.duckdb"),
        tool: Annotated[str, typer.Option(help="The tool, as named in tool_usage.")] = "assistant",
        method: Annotated[
            str,
            typer.Option(help=f"One of {', '.join(DYNAMIC + DID)}, 'all' (every method), 'dynamic' or 'did' (one family)."),
        ] = "all",
        outcome: Annotated[str, typer.Option(help="Panel column: units per builder-week.")] = "deploys_per_builder_norm",
        threshold: Annotated[float, typer.Option(help="Adoption share that marks a team as adopted (DiD).")] = 0.5,
        loaded_annual_cost: Annotated[float, typer.Option(help="Loaded cost of one engineering-year, dollars.")] = 200_000.0,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    ) -> None:
        """Estimate a tool's effect on delivery: the article's dynamic panel model and staggered DiD."""
        from ..estimators.did import impact_did, render_impact_text
        from ..estimators.dynamic import impact_dynamic
        from ..panel import panel
        from ..store import Store

        try:
            if method in DYNAMIC + DID:
                dyn = method if method in DYNAMIC else None
                did = method if method in DID else None
            elif method in ("all", "dynamic", "did"):
                dyn = "all" if method in ("all", "dynamic") else None
                did = "all" if method in ("all", "did") else None
            else:
                raise ConfigError(f"method must be one of {', '.join(DYNAMIC + DID)}, all, dynamic or did; got {method!r}")
            with Store(db, read_only=True) as store:
                p = panel(store.ibis(), tool=tool, loaded_annual_cost=loaded_annual_cost)
            if p.empty:
                raise ConfigError(f"the store {db} holds no team-weeks")
            if p["ai_active"].sum() == 0:
                raise ConfigError(f"no usage of tool {tool!r} in the store")
            res: dict = {"tool": tool, "outcome": outcome}
            costs = {"loaded_annual_cost": loaded_annual_cost, "license_cost": float(p["license_cost"].sum())}
            if dyn:
                res["dynamic"] = impact_dynamic(p, tool=tool, method=dyn, outcome=outcome, costs=costs)
            if did:
                res["did"] = impact_did(p, tool=tool, method=did, outcome=outcome, threshold=threshold)
        except CtsswError as e:
            _fail(e)
        if as_json:
            out.print_json(json.dumps(res, default=str))
            return
        if "dynamic" in res:
            out.print(res["dynamic"]["text"], highlight=False)
        if "did" in res:
            out.print(render_impact_text(res["did"]), highlight=False)
