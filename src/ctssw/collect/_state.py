"""Watermarks in the store and the raw cache on disk.

The store's ``collect_state`` table holds, per (source, scope, resource), the watermark (an
``updated_at`` time, a day or a cursor) and the ETag of the listing's first page. A run reads
them at the start and writes the new ones **in the same transaction as the ingest** of what it
fetched, so a run killed at any point leaves the previous watermarks: the next run fetches from
there again, rewrites the same cache files and upserts the same rows, with no gap and no
duplicate.

Cache files are written whole (a temporary file, then a rename), one file per record
(``pulls/123.json``), so a re-fetched record replaces its older version instead of sitting
beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..store import Store

__all__ = ["Cache", "State", "utc_now"]

DDL = """CREATE TABLE IF NOT EXISTS collect_state (
    source VARCHAR, scope VARCHAR, resource VARCHAR, watermark VARCHAR, etag VARCHAR,
    updated_at TIMESTAMPTZ, PRIMARY KEY (source, scope, resource))"""


def _gone(folder: Path | None) -> bool:
    return folder is not None and not (folder.is_dir() and any(folder.iterdir()))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class State:
    """The watermarks of one source, read at the start of a run and saved with its ingest."""

    source: str
    old: dict[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)
    new: dict[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, source: str) -> State:
        store.con.execute(DDL)
        rows = store.con.execute(
            "SELECT scope, resource, watermark, etag FROM collect_state WHERE source = ?", [source]
        ).fetchall()
        return cls(source, {(s, r): (w, e) for s, r, w, e in rows})

    def watermark(self, scope: str, resource: str, cached: Path | None = None) -> str | None:
        """The saved watermark; None when ``cached`` (the resource's cache folder) is gone or empty,
        so that a fresh cache is filled whole again."""
        return None if _gone(cached) else self.old.get((scope, resource), (None, None))[0]

    def etag(self, scope: str, resource: str, cached: Path | None = None) -> str | None:
        """The saved ETag of the listing's first page (None as for :meth:`watermark`)."""
        return None if _gone(cached) else self.old.get((scope, resource), (None, None))[1]

    def advance(self, scope: str, resource: str, watermark: str | None, etag: str | None) -> None:
        """Remember the new watermark (kept if None) and ETag; written by :meth:`save`."""
        old_w, old_e = self.old.get((scope, resource), (None, None))
        w = watermark if watermark is not None else old_w
        if old_w is not None and w is not None and w < old_w:
            w = old_w
        self.new[(scope, resource)] = (w, etag if etag is not None else old_e)

    def save(self, store: Store) -> None:
        """Write the new watermarks (call inside the ingest's transaction)."""
        store.con.execute(DDL)
        now = utc_now()
        for (scope, resource), (w, e) in self.new.items():
            store.con.execute(
                """INSERT INTO collect_state VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (source, scope, resource) DO UPDATE SET
                   watermark = excluded.watermark, etag = excluded.etag, updated_at = excluded.updated_at""",
                [self.source, scope, resource, w, e, now],
            )


class Cache:
    """The raw cache folder of one source; counts the files each run writes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.written = 0

    def write_json(self, rel: Path, obj: object) -> Path:
        return self.write_text(rel, json.dumps(obj, ensure_ascii=False))

    def write_text(self, rel: Path, text: str) -> Path:
        p = rel if rel.is_absolute() else self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".part")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        self.written += 1
        return p

    def read_json(self, rel: Path) -> object | None:
        p = rel if rel.is_absolute() else self.root / rel
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
