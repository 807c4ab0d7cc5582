"""Side-by-side regression tables, in text, HTML and LaTeX (as pyfixest's ``etable``).

>>> from ctssw.estimators import etable
>>> t = etable({"within": fe_fit, "jackknife": jk_fit})   # doctest: +SKIP
>>> print(t)                  # text
>>> t.to_latex()              # a tabular for a paper
>>> t                         # an HTML table in a notebook
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import ConfigError
from . import display as d

__all__ = ["ETable", "etable"]

STARS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))
NOTE = "Significance: * p < 0.05, ** p < 0.01, *** p < 0.001. Cells: estimate (standard error)."


@dataclass(frozen=True)
class ETable:
    """A regression table: ``body`` (two rows per term: estimate, then standard error) and ``footer``."""

    columns: tuple[str, ...]
    terms: tuple[str, ...]
    body: pd.DataFrame
    footer: pd.DataFrame
    note: str = NOTE

    def to_frame(self) -> pd.DataFrame:
        """Body and footer stacked, as strings."""
        return pd.concat([self.body, self.footer])

    def to_text(self) -> str:
        f = self.to_frame()
        rows = [["", *self.columns]] + [[str(i), *map(str, r)] for i, r in zip(f.index, f.itertuples(index=False), strict=True)]
        w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        line = lambda r: "  ".join(c.ljust(w[0]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
        rule = "─" * (sum(w) + 2 * (len(w) - 1))
        nb = len(self.body)
        out = [line(rows[0]), rule, *(line(r) for r in rows[1 : nb + 1]), rule, *(line(r) for r in rows[nb + 1 :]), rule, self.note]
        return "\n".join(out)

    def to_html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in ("", *self.columns))
        def trs(df: pd.DataFrame, cls: str) -> str:
            return "".join(
                f'<tr class="{cls}"><th style="text-align:left">{html.escape(str(i))}</th>'
                + "".join(f'<td style="text-align:right">{html.escape(str(v))}</td>' for v in r) + "</tr>"
                for i, r in zip(df.index, df.itertuples(index=False), strict=True)
            )
        return (
            '<table class="ctssw-etable" style="border-collapse:collapse">'
            f'<thead><tr style="border-bottom:1px solid #000">{head}</tr></thead>'
            f"<tbody>{trs(self.body, 'coef')}</tbody>"
            f'<tbody style="border-top:1px solid #000">{trs(self.footer, "stat")}</tbody>'
            f'<tfoot><tr><td colspan="{len(self.columns) + 1}" style="text-align:left;font-size:smaller">'
            f"{html.escape(self.note)}</td></tr></tfoot></table>"
        )

    def to_latex(self) -> str:
        """A ``tabular`` (booktabs rules) ready for a paper."""
        def esc(s: str) -> str:
            for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                         ("$", r"\$"), ("{", r"\{"), ("}", r"\}"), ("−", "-"), ("γ", r"$\gamma$"), ("β", r"$\beta$")):
                s = s.replace(a, b)
            return s.replace("***", "$^{***}$") if "***" in s else s.replace("**", "$^{**}$") if "**" in s else s.replace("*", "$^{*}$")

        def rows(df: pd.DataFrame) -> list[str]:
            return [" & ".join([esc(str(i)), *(esc(str(v)) for v in r)]) + r" \\" for i, r in zip(df.index, df.itertuples(index=False), strict=True)]

        return "\n".join([
            r"\begin{tabular}{l" + "r" * len(self.columns) + "}",
            r"\toprule",
            " & ".join(["", *(esc(c) for c in self.columns)]) + r" \\",
            r"\midrule",
            *rows(self.body),
            r"\midrule",
            *rows(self.footer),
            r"\bottomrule",
            r"\multicolumn{" + str(len(self.columns) + 1) + "}{l}{\\footnotesize " + esc(self.note).replace("$^{***}$", "***").replace("$^{**}$", "**").replace("$^{*}$", "*") + "}",
            r"\end{tabular}",
        ])

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return self.to_html()


def _stars(p: float) -> str:
    for cut, s in STARS:
        if p < cut:
            return s
    return ""


def _coefs(res: Any) -> pd.DataFrame:
    t = res.tidy()
    hidden = set(res._hidden_terms()) if hasattr(res, "_hidden_terms") else set()
    t = t[~t["term"].isin(hidden)][["term", "estimate", "std_error", "p_value"]]
    extra = [{"term": f"long-run: {k}", "estimate": e.estimate, "std_error": e.std_error, "p_value": _p(e)}
             for k, e in getattr(res, "long_run", {}).items()]
    return pd.concat([t, pd.DataFrame(extra)], ignore_index=True) if extra else t


def _p(e: Any) -> float:
    from scipy import stats

    return float(2 * stats.norm.sf(abs(e.estimate / e.std_error))) if e.std_error > 0 else float("nan")


def etable(
    results: Sequence[Any] | Mapping[str, Any],
    *,
    keep: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    digits: int = 3,
) -> ETable:
    """Put fitted results side by side: one column per model, two rows per term.

    Parameters
    ----------
    results : sequence or mapping of results
        Any result with ``tidy()`` (LMM, dynamic panel, GMM, DiD aggregations...). A mapping's
        keys name the columns; otherwise columns are ``(1)``, ``(2)``, ...
    keep, drop : sequence of str, optional
        Terms to keep or leave out (exact names). Period effects of GMM fits are left out.
    digits : int
        Decimals of estimates and standard errors.

    Returns
    -------
    ETable
        ``print()`` gives text, notebooks show HTML, ``to_latex()`` a booktabs tabular.
    """
    if isinstance(results, Mapping):
        names, fits = [str(k) for k in results], list(results.values())
    else:
        fits = list(results)
        names = [f"({i + 1})" for i in range(len(fits))]
    if not fits:
        raise ConfigError("etable needs at least one result")
    bad = [type(f).__name__ for f in fits if not hasattr(f, "tidy")]
    if bad:
        raise ConfigError(f"etable takes fitted results with tidy(); got {bad}")
    coefs = [_coefs(f) for f in fits]
    terms = list(dict.fromkeys(t for c in coefs for t in c["term"]))
    if keep is not None:
        terms = [t for t in terms if t in set(keep)]
    if drop is not None:
        terms = [t for t in terms if t not in set(drop)]
    body: dict[str, list[str]] = {n: [] for n in names}
    index: list[str] = []
    for term in terms:
        index += [term, ""]
        for n, c in zip(names, coefs, strict=True):
            r = c[c["term"] == term]
            if r.empty:
                body[n] += ["", ""]
            else:
                r = r.iloc[0]
                body[n] += [d.fmt_num(r["estimate"], digits) + _stars(r["p_value"]), f"({d.fmt_num(r['std_error'], digits)})"]
    foot: dict[str, list[str]] = {n: [] for n in names}
    labels = ["Observations", "Estimator", "Standard errors"]
    for n, f in zip(names, fits, strict=True):
        s = getattr(f, "settings", {}) or {}
        foot[n] += [
            d.fmt_num(f.nobs),
            str(s.get("method", getattr(f, "method", type(f).__name__))),
            str(s.get("vcov", s.get("cov_type", s.get("se", "—")))),
        ]
    return ETable(tuple(names), tuple(terms), pd.DataFrame(body, index=index), pd.DataFrame(foot, index=labels))
