"""The store: canonical tables in one embedded DuckDB file, or in a Parquet lake beside a small one (DESIGN §2, docs/lake.md)."""

from __future__ import annotations

from ._db import DEFAULT_PATH, LoadCounts, Store, open_lake
from ._idkeys import id_keys_ready
from ._lake import LAKE_TABLES, check_lake, is_remote
from ._rekey import rekey
from ._schema import LOAD_ORDER, SCHEMA_VERSION, TABLES
from ._to_lake import copy_to_lake
from .connectors import (
    LOADERS,
    load_claude,
    load_copilot,
    load_cursor,
    load_devlake,
    load_git,
    load_github,
    load_gitlab,
    load_kiro,
    load_otel,
    load_pagerduty,
    load_qdev,
    load_roster,
)
from .ingest import ingest_canonical, ingest_tables

__all__ = [
    "DEFAULT_PATH",
    "LAKE_TABLES",
    "LOADERS",
    "LOAD_ORDER",
    "SCHEMA_VERSION",
    "TABLES",
    "LoadCounts",
    "Store",
    "copy_to_lake",
    "id_keys_ready",
    "ingest_canonical",
    "check_lake",
    "is_remote",
    "ingest_tables",
    "load_claude",
    "load_copilot",
    "load_cursor",
    "load_devlake",
    "load_git",
    "load_github",
    "load_gitlab",
    "load_kiro",
    "load_otel",
    "load_pagerduty",
    "load_qdev",
    "load_roster",
    "open_lake",
    "rekey",
]
