"""Parse lme4-style mixed-model formulas into a fixed part and random-effect terms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import ConfigError

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$|^`[^`]+`$")


@dataclass(frozen=True)
class RandomTerm:
    """One ``(expr | factor)`` term after expansion.

    ``expr`` is the left side as written (a formulaic right-hand side);
    ``factor`` is a tuple of column names whose interaction defines the groups;
    ``correlated`` is False for terms that came from ``||``.
    """

    expr: str
    factor: tuple[str, ...]
    correlated: bool


@dataclass(frozen=True)
class ParsedFormula:
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]


def _top_level_groups(rhs: str) -> list[tuple[int, int]]:
    """Spans of parenthesised groups that open at depth 0."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = -1
    for i, ch in enumerate(rhs):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"unbalanced parentheses in formula: {rhs!r}")
            if depth == 0:
                spans.append((start, i + 1))
    if depth != 0:
        raise ConfigError(f"unbalanced parentheses in formula: {rhs!r}")
    return spans


def _split_bar(inner: str) -> tuple[str, str, bool] | None:
    """Split ``expr | grp`` / ``expr || grp`` at depth 0; None if no bar."""
    depth = 0
    for i, ch in enumerate(inner):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            if inner[i + 1 : i + 2] == "|":
                return inner[:i], inner[i + 2 :], False
            return inner[:i], inner[i + 1 :], True
    return None


def _factor_names(text: str) -> list[tuple[str, ...]]:
    """``a`` -> [(a,)]; ``a/b`` -> [(a,), (a, b)]; ``a/b/c`` -> [(a,), (a, b), (a, b, c)]; ``a:b`` -> [(a, b)]."""
    text = text.strip()
    if not text:
        raise ConfigError("a random-effect term needs a grouping factor after '|'")
    if "/" in text:
        parts = [p.strip() for p in text.split("/")]
        if not all(parts):
            raise ConfigError(f"nested grouping {text!r} has an empty level; write it as 'a/b' or 'a/b/c'")
        out: list[tuple[str, ...]] = []
        acc: tuple[str, ...] = ()
        for part in parts:
            acc = acc + _factor_names(part)[0]
            out.append(acc)
        return out
    names = tuple(p.strip().strip("`") for p in text.split(":"))
    for raw in text.split(":"):
        if not _NAME.match(raw.strip()):
            raise ConfigError(
                f"grouping factor {raw.strip()!r} must be a column name; allowed forms: 'a', 'a:b', 'a/b', 'a/b/c'"
            )
    return [names]


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4 formula into response, fixed part and expanded random terms."""
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise ConfigError(f"formula must be a string of the form 'y ~ x + (1 | g)'; got {formula!r}")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise ConfigError("formula needs a response on the left of '~'")
    terms: list[RandomTerm] = []
    keep: list[str] = []
    last = 0
    for a, b in _top_level_groups(rhs):
        split = _split_bar(rhs[a + 1 : b - 1])
        if split is None:
            continue
        keep.append(rhs[last:a])
        last = b
        expr, grp, correlated = split
        expr = expr.strip()
        if not expr:
            raise ConfigError("a random-effect term needs an expression before '|', e.g. (1 | g)")
        for factor in _factor_names(grp):
            terms.append(RandomTerm(expr=expr, factor=factor, correlated=correlated))
    keep.append(rhs[last:])
    fixed = "".join(keep)
    fixed = re.sub(r"\+\s*(?=\+|-|$)", "", fixed.strip())
    fixed = re.sub(r"^\s*\+", "", fixed).strip()
    if fixed.startswith("-"):
        fixed = "1 " + fixed
    if not fixed:
        fixed = "1"
    if not terms:
        raise ConfigError("formula has no random-effect term such as (1 | team); use an OLS estimator instead")
    return ParsedFormula(response=lhs, fixed=fixed, random=tuple(terms))
