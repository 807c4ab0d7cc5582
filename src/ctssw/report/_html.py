"""Self-contained HTML: inline CSS and SVG, no scripts or remote assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from ..privacy import DEFAULT_K


@dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)  # inline SVG
    tables: list[str] = field(default_factory=list)  # HTML
    pre: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def table_html(df: pd.DataFrame, *, digits: int = 4) -> str:
    return df.to_html(index=False, border=0, float_format=lambda v: f"{v:,.{digits}g}", na_rep="—")


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ctssw.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def render_html(*, title: str, subtitle: str, summary: list[str], sections: list[Section], k: int = DEFAULT_K) -> str:
    return _ENV.get_template("report.html").render(
        title=title, subtitle=subtitle, summary=summary, sections=sections, k=k
    )


def write_report(path: str | Path, **kw) -> Path:
    path = Path(path)
    path.write_text(render_html(**kw), encoding="utf-8")
    return path
