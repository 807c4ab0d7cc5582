"""Quoting for the SQL the store writes."""

from __future__ import annotations


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(v: object) -> str:
    """``v`` as a quoted SQL string literal."""
    return "'" + str(v).replace("'", "''") + "'"
