"""Quoting for the SQL the store writes, and the catalogue questions it asks."""

from __future__ import annotations


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(v: object) -> str:
    """``v`` as a quoted SQL string literal."""
    return "'" + str(v).replace("'", "''") + "'"


def main_tables(con, database: str | None = None) -> set[str]:
    """The tables of ``database``'s ``main`` schema (an attached one, or the connection's own)."""
    db = literal(database) if database is not None else "current_database()"
    return {r[0] for r in con.execute(
        f"SELECT table_name FROM duckdb_tables() WHERE database_name = {db} AND schema_name = 'main'").fetchall()}
