"""Opening a store file safely: what it must look like before DuckDB sees it, and how much memory DuckDB may take."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError


def _memory_budget() -> str:
    """Half the machine's memory (DuckDB's default of 80% starves everything else)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(total // 2 // 2**20, 512)}MB"


def _check_file(path: str) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB sees it (a SQLite file would
    make DuckDB fetch its SQLite extension; a damaged header gives one clear line)."""
    p = Path(path)
    if path == ":memory:" or not p.exists():
        return
    if p.is_dir():
        raise StoreError(f"{p} is a folder, not a store file")
    try:
        with p.open("rb") as f:
            head = f.read(16)
    except OSError as e:
        raise StoreError(f"cannot read store {p} ({e.strerror or e})") from None
    if head.startswith(b"SQLite format 3"):
        raise StoreError(f"{p} is a SQLite database, not a ctssw store (a DuckDB file)")
    if len(head) < 12 or head[8:12] != b"DUCK":
        raise StoreError(f"{p} is not a ctssw store: not a DuckDB file, or its header is damaged")
