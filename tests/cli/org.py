"""A small real organisation for end-to-end tests: git repositories written with ``git fast-import``.

Each repository is one team: six people commit every week (squash merges ``... (#N)``), a bot
(dependabot) commits too, a file is renamed, and release tags are cut every two weeks next to a
prerelease, a nightly tag and an unrelated tag, with patch releases in some weeks.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

START = dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.UTC)
BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")


def _data(text: str) -> str:
    return f"data {len(text.encode())}\n{text}\n"


def make_repo(path: Path, name: str, *, weeks: int = 30, people: int = 6, seed: int = 0) -> Path:
    """Write repository ``name`` under ``path`` and return its folder."""
    repo = path / name
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    out, mark, pr = [], 0, 0
    tags = []
    first, moved = "", False
    for w in range(weeks):
        week_first = mark + 1
        for p, k in [(p, k) for p in range(people + 1) for k in range(2)]:
            if p == people and (w % 3 or k):
                continue  # the bot commits every third week
            if p < people and (k and (w + p + seed) % 4) or (not k and (w + 2 * p + seed) % 5 == 0):
                continue  # people skip some weeks and commit twice in others
            if p == people - 1 and w < 8 or p == people - 2 and w > weeks - 8:
                continue  # one person joins late, another leaves early
            who = BOT if p == people else (f"dev{p}", f"dev{p}.{name}@corp.example")
            when = START + dt.timedelta(weeks=w, hours=p + seed, minutes=k)
            ts = f"{int(when.timestamp())} +0000"
            pr += 1
            msg = f"bump dependency {w}" if p == people else f"work {w} by {p} (#{pr})"
            mark += 1
            out.append(f"commit refs/heads/main\nmark :{mark}\nauthor {who[0]} <{who[1]}> {ts}\n"
                       f"committer {who[0]} <{who[1]}> {ts}\n" + _data(msg))
            if mark > 1:
                out.append(f"from :{mark - 1}\n")
            lines = "".join(f"x_{w}_{p}_{i} = {i}\n" for i in range(3 + (w + p + seed) % 7))
            out.append(f"M 644 inline src/p{p}/w{w}_{k}.py\n" + _data(lines))
            first = first or f"src/p{p}/w{w}_{k}.py"
            if w >= 5 and not moved:
                out.append(f"R {first} src/moved/first.py\n")  # a rename: git's line counts follow it
                moved = True
            out.append("\n")
        if w % 2 == 1:
            tags.append((f"v1.{w // 2}.0", mark))
        if (w + seed) % 3 == 0:
            tags.append((f"v1.{w // 2}.{1 + w % 2}", week_first))  # a patch release early in the week
        if w == 7:
            tags += [("v1.4.0rc1", mark), ("nightly-7", mark), ("docs-7", mark)]
    for t, m in tags:
        out.append(f"reset refs/tags/{t}\nfrom :{m}\n\n")
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input="".join(out).encode(), check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    return repo


def make_org(path: Path, n: int = 6, weeks: int = 30) -> list[Path]:
    """``n`` repositories (teams) ``team0`` ... under ``path``."""
    return [make_repo(path, f"team{i}", weeks=weeks, seed=i) for i in range(n)]
