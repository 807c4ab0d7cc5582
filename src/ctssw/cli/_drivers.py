"""``ctssw drivers`` and ``ctssw fit lmm``: the drivers of CTS-SW and a general LMM fit.

``drivers`` works on team-weeks only and prints model-level estimates; no row
of its output describes a team or a builder.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import CtsswError
from ._metrics import Backend, BackendOpt, LakeReadOpt, SparkUrlOpt

DbOpt = Annotated[Path, typer.Option("--db", help="DuckDB store file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
KOpt = Annotated[int, typer.Option("--k", help="Privacy floor: team-weeks with fewer builders are left out of the fit (at least 3).")]


def _f(x: Any, spec: str = "+.1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return format(x, spec)


def register(app: typer.Typer) -> None:
    """Add ``drivers`` and ``fit lmm`` to ``app``."""
    from rich.table import Table

    from ._app import _fail, console, out
    from ._common import emit_json, print_table, working

    @app.command("drivers")
    def drivers(
        db: DbOpt = Path("ctssw.duckdb"),
        as_json: JsonOpt = False,
        k: KOpt = 5,
        unit: Annotated[str, typer.Option("--unit", help="Unit of software: deployment, change, commit or team.")] = "deployment",
        level: Annotated[float, typer.Option("--level", help="Confidence level of the intervals.")] = 0.95,
        drivers_opt: Annotated[
            str | None, typer.Option("--drivers", help="Comma-separated panel columns to use as drivers (default: those with data).")
        ] = None,
        backend: BackendOpt = Backend.duckdb,
        spark_url: SparkUrlOpt = None,
        lake: LakeReadOpt = None,
    ) -> None:
        """Rank the drivers of CTS-SW: % change per +1 SD and per +10% of each, from a mixed model."""
        try:
            from ..pipeline import drivers_from_store

            chosen = [d.strip() for d in drivers_opt.split(",") if d.strip()] if drivers_opt else None
            with working("fitting the drivers model"):
                res = drivers_from_store(db, k=k, unit=unit, level=level, drivers=chosen, backend=backend.value, spark_url=spark_url, lake=lake)
        except CtsswError as e:
            _fail(e)
        if as_json:
            emit_json("drivers", res.to_dict())
            return
        pct = round(res.level * 100)
        t = Table(title=f"Drivers of CTS-SW ({res.n_teams} teams, {res.nobs:,} team-weeks; {pct}% intervals)")
        for c in ("rank", "driver", "% per +1 SD", "interval", "% per +10%", "interval "):
            t.add_column(c, justify="left" if c == "driver" else "right")
        for r in res.effects.to_dict("records"):
            t.add_row(
                str(r["rank"]), r["driver"], _f(r["pct_per_sd"]),
                f"{_f(r['pct_per_sd_low'])} to {_f(r['pct_per_sd_high'])}",
                _f(r["pct_per_10pct"], "+.2f"),
                f"{_f(r['pct_per_10pct_low'], '+.2f')} to {_f(r['pct_per_10pct_high'], '+.2f')}",
            )
        print_table(t)
        v = res.variance
        out.print(
            f"Random effects: {res.random_effects}. Marginal R² {v['r2_marginal']:.3f}, conditional R² "
            f"{v['r2_conditional']:.3f}; within-team variance explained {v['within_team_explained']:.1%}, "
            f"between-team {v['between_team_explained']:.1%} (against an intercept-only model).",
            highlight=False,
        )
        for n in res.notes:
            console.print(f"note: {n}", highlight=False)
        for w in res.warnings:
            from ._common import label

            console.print(label("warning", "bold yellow", w))

    fit = next((g.typer_instance for g in app.registered_groups if g.name == "fit"), None)
    if fit is None:
        fit = typer.Typer(no_args_is_help=True, help="Fit a model to a data file.")
        app.add_typer(fit, name="fit")

    @fit.command("lmm")
    def fit_lmm(
        data: Annotated[Path, typer.Option("--data", help="CSV or Parquet file, one row per observation.")],
        formula: Annotated[str, typer.Option("--formula", help='lme4 syntax, e.g. "y ~ x + (1 + x | team)".')],
        ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
        ddf: Annotated[
            str, typer.Option("--ddf", help='"normal" (Wald z) or "satterthwaite" (t with lmerTest\'s df).')
        ] = "normal",
        as_json: JsonOpt = False,
    ) -> None:
        """Fit a Gaussian linear mixed model (lme4 syntax) to a data file."""
        from ..estimators import fit_lmm_file

        try:
            res = fit_lmm_file(data, formula, ml=ml, ddf=ddf)
        except CtsswError as e:
            _fail(e)
        except (FileNotFoundError, OSError) as e:
            from ..errors import DataError

            _fail(DataError(str(e)))
        if as_json:
            emit_json("fit-lmm", res)
            return
        t = Table(title=f"{res['title']}: {res['formula']} ({res['nobs']:,} observations)")
        for c in ("term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
            t.add_column(c, justify="left" if c == "term" else "right")
        for r in res["coefficients"]:
            t.add_row(r["term"], *(_f(r[c], ".6g") for c in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")))
        print_table(t)
        vc = Table(title="Random effects")
        for c in ("grp", "var1", "var2", "vcov", "sdcor"):
            vc.add_column(c)
        for r in res["var_components"]:
            vc.add_row(*(str(r[c]) if not isinstance(r[c], float) else _f(r[c], ".6g") for c in ("grp", "var1", "var2", "vcov", "sdcor")))
        out.print(vc)
        out.print(f"Converged: {res['converged']}   singular: {res['singular']}   groups: {res['n_groups']}", highlight=False)
        if res["singular"] or not res["converged"]:
            from ._common import label

            console.print(label("warning", "bold yellow", "singular fit" if res["singular"] else "not converged"))
