"""Report sections for a tool's impact: estimators side by side, event study, value."""

from __future__ import annotations

import pandas as pd

from . import charts as _charts
from ._html import Section, table_html


def _fmt_pct(e: dict) -> str:
    f = lambda x: "n/a" if x is None else f"{x:+.1%}"  # noqa: E731
    return f"{f(e['estimate'])} (95% CI {f(e['ci_low'])} to {f(e['ci_high'])})"


def impact_sections(res: dict) -> list[Section]:
    """Sections for the output of :func:`ctssw.pipeline.impact`."""
    out = []
    dyn, did = res.get("dynamic"), res.get("did")
    if dyn:
        rows = pd.DataFrame(dyn["comparison"])
        v = dyn["value"]
        valued = (
            f"Valued with {dyn['valued_method']}: CTS-SW {_fmt_pct(v['cts_change'])}, "
            f"engineering-years saved {v['engineering_years']['estimate']:,.1f} "
            f"({v['engineering_years']['ci_low']:,.1f} to {v['engineering_years']['ci_high']:,.1f}), "
            f"net dollars {v['net_dollars']['estimate']:,.0f}."
            if v else f"Value withheld: {res.get('value_withheld') or 'the effect leaves CTS-SW undefined'}."
        )
        out.append(
            Section(
                "impact-dynamic",
                f"Impact of {res['tool']}: the dynamic panel model, estimators side by side",
                paragraphs=[
                    "The article's model: units per builder-week on its own lag, the tool's adoption share, "
                    "rollback rate and manual interventions, with team and week effects. The within (fe) estimator "
                    "carries Nickell bias; the half-panel jackknife removes it to first order, and Arellano–Bond / "
                    "Blundell–Bond GMM use lagged levels as instruments. " + valued,
                ],
                charts=[_value_chart(v)] if v else [],
                tables=[table_html(rows)] if len(rows) else [],
                pre=[dyn["text"]],
            )
        )
    if did:
        es = pd.DataFrame(did["event_study"])
        v = res.get("did_value")
        paras = [did["verdict"]] + ([res["verdict"]] if res.get("verdict") else [])
        if v:
            paras.append(
                f"Through the same value translation: CTS-SW {_fmt_pct(v['cts_change'])}; engineering-years saved "
                f"{v['engineering_years']['estimate']:,.1f} (95% CI {v['engineering_years']['ci_low']:,.1f} to "
                f"{v['engineering_years']['ci_high']:,.1f}) over {v['settings']['treated_builder_weeks']:,.0f} "
                "adopted builder-weeks."
            )
        est = pd.DataFrame(
            [{"method": m, **e["att"]} for m, e in did["estimates"].items() if "att" in e]
        )
        out.append(
            Section(
                "impact-did",
                f"Impact of {res['tool']}: staggered difference-in-differences",
                paragraphs=paras,
                charts=[_charts.event_study(es, title="Event study: effect by weeks since adoption")] if len(es) else [],
                tables=[table_html(est)] if len(est) else [],
                notes=did.get("notes", []),
            )
        )
    return out


def _value_chart(v: dict) -> str:
    rows = pd.DataFrame(
        [
            {"label": "units per builder-week", **v["relative_effect"]},
            {"label": "CTS-SW", **v["cts_change"]},
        ]
    )
    return _charts.forest(rows, title="Effect of full adoption", xlabel="relative change")
