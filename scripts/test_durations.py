"""Seconds per test file from a pytest ``--durations`` report, for the order ``make test`` runs the files in.

    python -m pytest -n 2 --dist loadfile --durations=0 > durations.log
    python scripts/test_durations.py durations.log > tests/durations.json

Sums every reported phase (setup, call, teardown) by file. ``tests/conftest.py`` hands the two
workers the longest files first, so no worker is left with a long file after the other has
finished; a file the report leaves out counts as quick. The numbers only order the work: a stale
file makes a run slower, never wrong.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*([0-9.]+)s\s+(setup|call|teardown)\s+(\S+?\.py)::")


def main(log: str) -> None:
    seconds: dict[str, float] = defaultdict(float)
    for line in open(log, encoding="utf-8", errors="replace"):
        m = LINE.match(line)
        if m:
            seconds[m.group(3)] += float(m.group(1))
    if not seconds:
        sys.exit(f"{log}: no --durations lines (run pytest with --durations=0)")
    ordered = dict(sorted(((k, round(v, 1)) for k, v in seconds.items()), key=lambda kv: -kv[1]))
    print(json.dumps(ordered, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/test_durations.py DURATIONS_LOG")
    main(sys.argv[1])
