"""Transformed variables in panel GMM formulas: ``log(emp)``, ``log(capital + 1)``, ``I(x^2)``.

An expression is read once into a small tree (names, numbers, ``+ - * / ^``,
unary minus and the functions in :data:`FUNCTIONS`), printed back the way R's
``deparse`` prints it (so coefficient names match plm's: ``log(capital + 1)``)
and evaluated column-wise on a DataFrame. Nothing else is evaluated.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd

from ...errors import ConfigError

FUNCTIONS = {"log": np.log, "log1p": np.log1p, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "I": lambda v: v}
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|([A-Za-z_.][\w.]*)|(\S))")
_OPS = {ast.Add: ("+", " + "), ast.Sub: ("-", " - "), ast.Mult: ("*", " * "), ast.Div: ("/", "/"), ast.Pow: ("^", "^")}


def _to_python(text: str) -> tuple[str, dict[str, str]]:
    """Python source for ``text`` with names as placeholders (R names may hold dots)."""
    out, names, pos = [], {}, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        num, name, other = m.groups()
        if name is not None:
            key = names.setdefault(name, f"_v{len(names)}")
            out.append(key if name not in FUNCTIONS else name)
            if name in FUNCTIONS:
                names.pop(name)
        elif num is not None:
            out.append(num)
        else:
            out.append("**" if other == "^" else other)
        pos = m.end()
    return " ".join(out), {v: k for k, v in names.items()}


def parse_expression(text: str) -> ast.expr:
    """The expression tree of ``text``; :class:`ConfigError` for anything but the allowed forms."""
    src, names = _to_python(text.strip())
    try:
        tree = ast.parse(src, mode="eval").body
    except SyntaxError as exc:
        raise ConfigError(f"cannot read the term {text!r}") from exc
    _check(tree, text)
    return _rename(tree, names)


def _check(node: ast.AST, text: str) -> None:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check(node.operand, text)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and len(node.args) == 1 and not node.keywords:
        _check(node.args[0], text)
    elif isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))):
        return
    else:
        raise ConfigError(f"cannot read the term {text!r}: terms combine columns and numbers with + - * / ^ and {sorted(FUNCTIONS)}")


def _rename(node: ast.expr, names: dict[str, str]) -> ast.expr:
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id in names:
            n.id = names[n.id]
    return node


def _prec(node: ast.expr) -> int:
    if isinstance(node, ast.BinOp):
        return {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Pow: 4}[type(node.op)]
    if isinstance(node, ast.UnaryOp):
        return 3
    return 5


def deparse(node: ast.expr) -> str:
    """R's ``deparse`` spelling: spaces around ``+ - *``, none around ``/ ^``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        v = node.value
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    if isinstance(node, ast.Call):
        return f"{node.func.id}({deparse(node.args[0])})"
    if isinstance(node, ast.UnaryOp):
        inner = deparse(node.operand)
        return f"-{inner}" if _prec(node.operand) >= 3 else f"-({inner})"
    op, spelled = _OPS[type(node.op)]
    p = _prec(node)
    left, right = deparse(node.left), deparse(node.right)
    if _prec(node.left) < p or (op == "^" and _prec(node.left) <= p):
        left = f"({left})"
    if _prec(node.right) < p or (_prec(node.right) == p and op in ("-", "/")):
        right = f"({right})"
    return f"{left}{spelled}{right}"


def columns_of(node: ast.expr) -> list[str]:
    """Column names the expression reads, in order of first use."""
    funcs = {id(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
    return list(dict.fromkeys(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in funcs))


def split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses."""
    out, depth, cur = [], 0, []
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def evaluate(node: ast.expr, data: pd.DataFrame) -> np.ndarray:
    """Values of the expression on ``data`` (float; a log of a non-positive value is NaN)."""
    if isinstance(node, ast.Name):
        return data[node.id].to_numpy(dtype=float)
    if isinstance(node, ast.Constant):
        return np.full(len(data), float(node.value))
    if isinstance(node, ast.Call):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = FUNCTIONS[node.func.id](evaluate(node.args[0], data))
        return np.where(np.isfinite(out), out, np.nan)
    if isinstance(node, ast.UnaryOp):
        v = evaluate(node.operand, data)
        return -v if isinstance(node.op, ast.USub) else v
    a, b = evaluate(node.left, data), evaluate(node.right, data)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}[type(node.op)](a, b)
    return np.where(np.isfinite(out), out, np.nan)
