"""``ctssw explain`` and ``ctssw plan``: the baseline decomposition and rollout power."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import CtsswError
from ._common import DbOpt, JsonOpt, _fail, emit_json, out
from ._metrics import Backend, BackendOpt, LakeReadOpt, SparkUrlOpt

PanelOpt = Annotated[Path | None, typer.Option("--panel", help="A panel file (Parquet or CSV) instead of the store.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def explain(
        since: Annotated[str, typer.Option(help="First week of the earlier window (YYYY-MM-DD).")],
        until: Annotated[str, typer.Option(help="Last week of the later window (YYYY-MM-DD).")],
        tools: Annotated[str, typer.Option(help="Tools in the model, comma-separated, as named in tool_usage.")] = "assistant",
        window: Annotated[int, typer.Option(help="Weeks in each window.")] = 4,
        method: Annotated[str, typer.Option(help="Tool effects from: jackknife, fe or did.")] = "jackknife",
        db: DbOpt = Path("ctssw.duckdb"),
        panel_file: PanelOpt = None,
        as_json: JsonOpt = False,
        backend: BackendOpt = Backend.duckdb,
        spark_url: SparkUrlOpt = None,
        lake: LakeReadOpt = None,
    ) -> None:
        """What moved CTS-SW: counterfactual trend, each tool, team composition, cost per builder-week, residual."""
        from ..pipeline import explain_from_store

        try:
            res = explain_from_store(db, tools, since=since, until=until, window=window, method=method, panel_file=panel_file,
                                     backend=backend.value, spark_url=spark_url, lake=lake)
        except CtsswError as e:
            _fail(e)
        if as_json:
            emit_json("explain", res)
        else:
            out.print(res["text"], highlight=False)

    @app.command()
    def plan(
        tool: Annotated[str, typer.Option(help="The tool to roll out (a label).")],
        effect: Annotated[float, typer.Option(help="Effect to power for: relative change in units per builder-week at full use (0.05 = +5%).")],
        weeks: Annotated[int, typer.Option(help="Weeks from the first wave to the analysis.")] = 26,
        cohorts: Annotated[int, typer.Option(help="Number of rollout waves.")] = 4,
        reps: Annotated[int, typer.Option(help="Simulation replications.")] = 200,
        uptake: Annotated[float, typer.Option(help="Usage share adopting teams reach (mean across teams).")] = 0.85,
        start: Annotated[str | None, typer.Option(help="Monday of the first wave (default: the week after the history).")] = None,
        method: Annotated[str, typer.Option(help="Estimator of the analysis: fe or jackknife.")] = "fe",
        seed: Annotated[int, typer.Option(help="Random seed of the schedule and the simulation.")] = 0,
        out_file: Annotated[Path, typer.Option("--out", help="Rollout CSV to write (team,date,wave).")] = Path("rollout.csv"),
        db: DbOpt = Path("ctssw.duckdb"),
        panel_file: PanelOpt = None,
        as_json: JsonOpt = False,
        backend: BackendOpt = Backend.duckdb,
        spark_url: SparkUrlOpt = None,
        lake: LakeReadOpt = None,
    ) -> None:
        """Power and minimum detectable effect of a staggered rollout, by simulation on the store's history; writes the schedule."""
        from ..pipeline import plan_from_store

        try:
            res = plan_from_store(db, tool=tool, effect=effect, out=out_file, panel_file=panel_file, weeks=weeks, cohorts=cohorts,
                                  reps=reps, uptake=uptake, start=start, method=method, seed=seed, backend=backend.value,
                                  spark_url=spark_url, lake=lake)
        except CtsswError as e:
            _fail(e)
        if as_json:
            emit_json("plan", res)
        else:
            out.print(res["text"], highlight=False)
