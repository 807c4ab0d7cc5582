"""Results files keep their notes: a benchmark rewrites only its block between two markers."""

from __future__ import annotations

from pathlib import Path


def replace_block(out: Path, start: str, end: str, body: str, *, head: str = "") -> None:
    """Write ``body`` between the markers ``start`` and ``end`` of ``out`` and keep the rest of the
    file. A file without them gets the block at its end (a new file: ``head``, then the block)."""
    old = out.read_text() if out.exists() else head
    block = f"{start}\n{body.strip()}\n{end}"
    if start in old and end in old:
        before, rest = old.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = (old.rstrip() + "\n\n" if old.strip() else "") + block + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


LATEST = ("<!-- latest run -->", "<!-- /latest run -->")


def write_latest(out: Path, body: str, *, head: str = "") -> None:
    """A benchmark's table between the "latest run" markers of ``out``, the notes around it kept
    (a new file starts with ``head``)."""
    replace_block(out, *LATEST, body, head=head)
