"""``ctssw impact``: a tool's causal effect, checks and value, from the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, CtsswError
from ._metrics import Backend, BackendOpt, SparkUrlOpt

DYNAMIC = ("fe", "jackknife", "diff-gmm", "sys-gmm")
DID = ("cs", "sun-abraham", "imputation", "twfe")


def _families(method: str) -> tuple[str | None, str | None]:
    if method in DYNAMIC:
        return method, None
    if method in DID:
        return None, method
    if method in ("all", "dynamic", "did"):
        return ("all" if method != "did" else None), ("all" if method != "dynamic" else None)
    raise ConfigError(f"method must be one of {', '.join(DYNAMIC + DID)}, all, dynamic or did; got {method!r}")


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
        weeks_per_year: Annotated[float, typer.Option(help="Builder-weeks in an engineering-year.")] = 52.0,
        panel_file: Annotated[
            Path | None, typer.Option("--panel", help="A panel written by `ctssw panel` (Parquet), instead of building it.")
        ] = None,
        report_file: Annotated[Path | None, typer.Option("--report", help="Also write an HTML report here.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
        backend: BackendOpt = Backend.duckdb,
        spark_url: SparkUrlOpt = None,
    ) -> None:
        """Estimate a tool's effect on delivery: the article's dynamic panel model and staggered DiD."""
        from ..pipeline import impact_from_store, render_impact_text

        try:
            dyn, did = _families(method)
            res = impact_from_store(
                db, tool=tool, panel_file=panel_file, dynamic=dyn, did=did, outcome=outcome, threshold=threshold,
                loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year,
                backend=backend.value, spark_url=spark_url,
            )
        except CtsswError as e:
            _fail(e)
        if report_file is not None:
            from ..report import impact_sections, write_report

            write_report(
                report_file, title=f"Impact of {tool}", subtitle=f"Store {db}; outcome {outcome}.",
                summary=[], sections=impact_sections(res),
            )
        if as_json:
            out.print_json(json.dumps(res, default=str))
            return
        if "dynamic" in res:
            out.print(res["dynamic"]["text"], highlight=False)
        if "did" in res:
            out.print(render_impact_text(res["did"]), highlight=False)
        if "did_value" in res:
            v = res["did_value"]
            e = v["engineering_years"]
            out.print(
                f"DiD ({v['method']}) valued: CTS-SW {v['cts_change']['estimate']:+.1%}, engineering-years saved "
                f"{e['estimate']:,.1f} (95% CI {e['ci_low']:,.1f} to {e['ci_high']:,.1f})",
                highlight=False,
            )
        if report_file is not None:
            out.print(f"Report: {report_file}")
