"""``ctssw impact``: a tool's causal effect, checks and value, from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, CtsswError
from ._metrics import Backend, BackendOpt, LakeReadOpt, SparkUrlOpt

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


def dynamic_text(res: dict, width: int = 80) -> str:
    """The dynamic family's part of ``ctssw impact`` for people: the headline, the estimators side by
    side, the exogeneity checks and the value, each fitting ``width`` columns (or in long form)."""
    import textwrap
    from types import SimpleNamespace

    import pandas as pd

    from ..estimators import Estimate, ExogeneityChecks
    from ..estimators.display import render_text
    from ..estimators.presentation import Comparison, value_blocks
    from ..report import headline

    dyn = res["dynamic"]
    parts = [textwrap.fill(headline(res)["text"], width), ""]
    parts.append(str(Comparison(pd.DataFrame(dyn["comparison"]))))
    for m, err in (dyn.get("errors") or {}).items():
        parts.append(textwrap.fill(f"{m} failed: {err}", width))
    checks = dyn["checks"]
    parts += ["", str(ExogeneityChecks(pd.DataFrame(checks["checks"]), alpha=checks["alpha"])), ""]
    v = dyn.get("value")
    if not v:  # withheld: the estimate is not credible or leaves CTS-SW undefined (the headline says why)
        why = res.get("value_withheld") or dyn.get("value_withheld") or "the estimate does not support one"
        parts.append(textwrap.fill(f"Value withheld: {why}.", width))
        return "\n".join(parts)
    est = {k: Estimate(**{f: v[k][f] for f in ("estimate", "std_error", "ci_low", "ci_high", "level")})
           for k in ("relative_effect", "cts_change", "engineering_years", "gross_dollars", "net_dollars")}
    value = SimpleNamespace(**est, settings=SimpleNamespace(**v["settings"]), warnings=tuple(v.get("warnings", ())))
    parts.append(render_text(f"Value, with {dyn['valued_method']}", value_blocks(value), width=width))
    return "\n".join(parts)


def register(app: typer.Typer) -> None:
    from ._app import out
    from ._common import emit_json, one_connection

    @app.command()
    def impact(
        db: Annotated[Path, typer.Option("--db", help="DuckDB store file.")] = Path("ctssw.duckdb"),
        tool: Annotated[str, typer.Option(help="The tool, as named in tool_usage.")] = "assistant",
        tools: Annotated[
            str | None,
            typer.Option(help="Several tools in one model, comma-separated (e.g. assistant,review_agent); --method jackknife, fe, did or all (the three)."),
        ] = None,
        by_architecture: Annotated[
            bool, typer.Option(help="With --tools: each tool's effect per architecture with a test of equality, and CTS-SW per architecture.")
        ] = False,
        license: Annotated[
            str | None, typer.Option(help="With --tools: licence price per seat-month, tool=dollars comma-separated (default: the store's costs).")
        ] = None,
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
        rollout: Annotated[
            Path | None, typer.Option("--rollout", help="CSV of team,date rollout dates: adoption from each team's date on.")
        ] = None,
        event: Annotated[
            str | None, typer.Option(help="Study a change of architecture as a staggered DiD event: architecture:FROM->TO (needs --architecture-changes).")
        ] = None,
        architecture_changes: Annotated[
            Path | None, typer.Option("--architecture-changes", help="CSV of team,date,from,to architecture changes (with --event).")
        ] = None,
        report_file: Annotated[Path | None, typer.Option("--report", help="Also write an HTML report here.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
        backend: BackendOpt = Backend.duckdb,
        spark_url: SparkUrlOpt = None,
        lake: LakeReadOpt = None,
    ) -> None:
        """Estimate a tool's effect on delivery: the article's dynamic panel model and staggered DiD."""
        from ..pipeline import render_impact_text

        where = dict(backend=backend.value, spark_url=spark_url, lake=lake)
        if event is not None:
            _event(db, event, architecture_changes, panel_file, method, as_json, where)
            return
        with one_connection(db, where, report_file is not None and panel_file is None):
            if tools is not None:
                _several(db, tools, method, panel_file, loaded_annual_cost, weeks_per_year, as_json, license, by_architecture,
                         report_file, where)
                return
            res = _one(db, tool, panel_file, rollout, method, outcome, threshold, loaded_annual_cost, weeks_per_year, report_file,
                       where)
        if as_json:
            emit_json("impact", res)
            return
        if "dynamic" in res:
            out.print(dynamic_text(res, min(out.width, 100)), highlight=False, soft_wrap=True)
        if "did" in res:
            out.print(render_impact_text(res["did"]), highlight=False)
        for k, why in res.get("skipped", {}).items():
            out.print(f"not run: {k}: {why}", highlight=False)
        for n in res.get("notes", []):
            out.print(f"note: {n}", highlight=False)
        out.print(f"Verdict: {res['verdict']}", highlight=False)
        if "did_value" in res:
            v = res["did_value"]
            e, c = v["engineering_years"], v["cts_change"]["estimate"]
            if c is None or e["estimate"] is None:
                out.print(f"DiD ({v['method']}): no value: the effect leaves CTS-SW undefined.", highlight=False)
            else:
                out.print(
                    f"DiD ({v['method']}) valued: CTS-SW {c:+.1%}, engineering-years saved "
                    f"{e['estimate']:,.1f} (95% CI {e['ci_low']:,.1f} to {e['ci_high']:,.1f})",
                    highlight=False,
                )
        if report_file is not None:
            out.print(f"Report: {report_file}")


def _one(db: Path, tool: str, panel_file: Path | None, rollout: Path | None, method: str, outcome: str, threshold: float,
         loaded_annual_cost: float, weeks_per_year: float, report_file: Path | None, where: dict) -> dict:
    """``ctssw impact --tool NAME``: the estimate and its checks; with ``--report``, also the tool's share of the
    change in CTS-SW, and the report with both."""
    from ..pipeline import impact_from_store
    from ._app import _fail
    from ._common import working

    try:
        dyn, did = _families(method)
        with working("estimating the effect and running its checks"):
            res = impact_from_store(
                db, tool=tool, panel_file=panel_file, rollout=rollout, dynamic=dyn, did=did, outcome=outcome,
                threshold=threshold, loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year,
                **where,
            )
    except CtsswError as e:
        _fail(e)
    if report_file is not None:
        from ..pipeline.report import tools_for_report, write_store_report

        try:
            with working("decomposing the change in CTS-SW") as w:
                several, why_not = tools_for_report(db, [tool], loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year,
                                                    **where)
                w.step("writing the report")
                write_store_report(db, report_file, impact=res, tools=several, missing=why_not, title=f"Impact of {tool}",
                                   subtitle=f"Store {db}; outcome {outcome}.", **where)
        except CtsswError as e:
            _fail(e)
    return res


def _several(db: Path, tools: str, method: str, panel_file: Path | None, loaded_annual_cost: float, weeks_per_year: float, as_json: bool,
             license: str | None, by_architecture: bool = False, report_file: Path | None = None, where: dict | None = None) -> None:
    """``ctssw impact --tools a,b,c``: the joint model, its sum beside the one-model-per-tool sum, value per tool; with
    ``--report``, also the decomposition of the change in CTS-SW, and the report with both."""
    from ..pipeline import attribute_from_store
    from ._app import _fail, out
    from ._common import working

    where = where or {}
    try:
        with working("estimating every tool in one model"):
            res = attribute_from_store(db, tools, panel_file=panel_file, method="jackknife" if method == "dynamic" else method,
                                       loaded_annual_cost=loaded_annual_cost, weeks_per_year=weeks_per_year, license=license,
                                       by_architecture=by_architecture, decompose=report_file is not None, **where)
        if report_file is not None:
            from ..pipeline.report import write_store_report

            missing = {"explain": res["explain_withheld"]} if res.get("explain_withheld") else {}
            with working("writing the report"):
                write_store_report(db, report_file, tools=res, missing=missing, title=f"Impact of {', '.join(res['tools'])}",
                                   subtitle=f"Store {db}; outcome {res['outcome']}.", **where)
    except CtsswError as e:
        _fail(e)
    if as_json:
        from ._common import emit_json

        emit_json("impact-tools", res)
    else:
        out.print(res["text"], highlight=False)
        if report_file is not None:
            out.print(f"Report: {report_file}", highlight=False, soft_wrap=True)


def _event(db: Path, event: str, changes: Path | None, panel_file: Path | None, method: str, as_json: bool,
           where: dict | None = None) -> None:
    """``ctssw impact --event architecture:FROM->TO --architecture-changes FILE``."""
    from ..pipeline.architecture_event import architecture_event_from_store
    from ._app import _fail, out
    from ._common import emit_json

    try:
        if changes is None:
            raise ConfigError("--event needs --architecture-changes FILE (a CSV of team,date,from,to)")
        res = architecture_event_from_store(db, event, changes, panel_file=panel_file, method="cs" if method in ("all", "did") else method,
                                            **(where or {}))
    except CtsswError as e:
        _fail(e)
    if as_json:
        emit_json("impact-event", res)
    else:
        out.print(res["text"], highlight=False)
