"""A small organisation written as real git repositories, GitHub exports and a roster.

Twelve teams of six builders own one repository each (``org/svc01`` ...) for 36 weeks from
2025-01-06. Every team merges six squash-merged pull requests a week. From its wave's week a team
lets the Copilot coding agent open pull requests (each change is the agent's with probability
one half: authored by ``copilot-swe-agent[bot]``, with a ``Co-authored-by`` trailer naming the
builder who asked), and, in another wave, lets CodeRabbit review every pull request. Teams 1-6
co-author some of their own commits with Claude (a ``Co-Authored-By: Claude`` trailer) from week 10.
Releases (production deployments) follow Poisson(8 (1 + 0.6 a)) a week, ``a`` the share of that
week's merged changes the coding agent authored: the coding agent has an effect, the review agent
and Claude none.

:func:`build` writes it all under a folder and returns what was planted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import numpy as np

START = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
TEAMS, BUILDERS, WEEKS, CHANGES = 12, 6, 36, 6
COPILOT_WAVES = [6, 6, 10, 10, 14, 14, 18, 18, 22, 22, None, None]
CODERABBIT_WAVES = [14, 14, 18, 18, 22, 22, 26, 26, 30, 30, None, None]
EFFECT = 0.6
BASE_RELEASES = 8.0


def _env() -> dict:
    return {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def _data(text: str) -> bytes:
    b = text.encode()
    return b"data " + str(len(b)).encode() + b"\n" + b + b"\n"


def build(root: Path, seed: int = 3) -> dict:
    """Write ``repos/svcNN`` (git), ``github/*.json`` and ``roster/*.csv`` under ``root``."""
    rng = np.random.default_rng(seed)
    copilot = list(rng.permutation(np.array(COPILOT_WAVES, dtype=object)))
    coderabbit = list(rng.permutation(np.array(CODERABBIT_WAVES, dtype=object)))
    (root / "repos").mkdir(parents=True)
    (root / "github").mkdir()
    (root / "roster").mkdir()
    teams = [f"team{i + 1:02d}" for i in range(TEAMS)]
    people = {t: [(f"dev{i + 1:02d}{j}", f"dev{i + 1:02d}{j}@corp.example") for j in range(BUILDERS)] for i, t in enumerate(teams)}
    (root / "roster" / "teams.csv").write_text("team_id,name,architecture\n" + "".join(f"{t},{t},service\n" for t in teams))
    (root / "roster" / "memberships.csv").write_text("email,team_id,start\n" + "".join(
        f"{e},{t},2025-01-06\n" for t in teams for _, e in people[t]))
    (root / "roster" / "identities.csv").write_text("email,github_login\n" + "".join(
        f"{e},{login}\n" for t in teams for login, e in people[t]))
    truth = {"agent_changes": {}, "review_changes": {}, "merged": {}, "claude_changes": 0, "copilot": {}, "coderabbit": {}}
    pulls, releases = [], []
    for i, team in enumerate(teams):
        repo_id = f"org/svc{i + 1:02d}"
        truth["copilot"][team], truth["coderabbit"][team] = copilot[i], coderabbit[i]
        stream, n, mark = [], 0, 0
        meta = []
        for w in range(WEEKS):
            week = START + dt.timedelta(weeks=w)
            agent_on = copilot[i] is not None and w >= copilot[i]
            review_on = coderabbit[i] is not None and w >= coderabbit[i]
            n_agent = 0
            for c in range(CHANGES):
                n += 1
                when = week + dt.timedelta(days=c % 5, hours=9 + c)
                login, email = people[team][rng.integers(BUILDERS)]
                by_agent = agent_on and rng.random() < 0.5
                claude = (not by_agent) and i < 6 and w >= 10 and rng.random() < 0.4
                title = f"Change {n} of {team}"
                if by_agent:
                    who = ("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com")
                    msg = f"{title} (#{n})\n\nCo-authored-by: {login} <{email}>\n"
                    n_agent += 1
                else:
                    who = (login, email)
                    msg = f"{title} (#{n})\n" + ("\nCo-Authored-By: Claude <noreply@anthropic.com>\n" if claude else "")
                    truth["claude_changes"] += claude
                ts = int(when.timestamp())
                mark += 1
                stream.append(f"commit refs/heads/main\nmark :{mark}\nauthor {who[0]} <{who[1]}> {ts} +0000\n"
                              f"committer {who[0]} <{who[1]}> {ts} +0000\n".encode() + _data(msg)
                              + (f"from :{mark - 1}\n".encode() if mark > 1 else b"")
                              + f"M 644 inline src/f{n}.py\n".encode() + _data(f"x = {n}\n"))
                meta.append((n, when, login, by_agent, review_on))
            key = (team, week.date().isoformat())
            truth["agent_changes"][key] = n_agent
            truth["review_changes"][key] = CHANGES if review_on else 0
            truth["merged"][key] = CHANGES
            for r in range(int(rng.poisson(BASE_RELEASES * (1 + EFFECT * n_agent / CHANGES)))):
                rel = week + dt.timedelta(days=int(rng.integers(5)), hours=int(rng.integers(9, 18)))
                releases.append({"url": f"https://api.github.com/repos/{repo_id}/releases/{len(releases) + 1}",
                                 "tag_name": f"v1.{w}.{r}", "published_at": rel.isoformat().replace("+00:00", "Z"),
                                 "draft": False, "prerelease": False})
        repo = root / "repos" / f"svc{i + 1:02d}"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=_env())
        subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", f"https://github.com/{repo_id}.git"], check=True, env=_env())
        subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(stream), check=True, env=_env())
        subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", "main"], check=True, env=_env())
        log = subprocess.run(["git", "-C", str(repo), "log", "--format=%H %s"], check=True, capture_output=True, env=_env()).stdout.decode()
        sha = {int(s.rsplit("(#", 1)[1].rstrip(")")): h for h, s in (ln.split(" ", 1) for ln in log.splitlines())}
        for n, when, login, by_agent, review_on in meta:
            t = lambda h: (when + dt.timedelta(hours=h)).isoformat().replace("+00:00", "Z")  # noqa: E731
            opened = when - dt.timedelta(hours=3)
            pr = {"url": f"https://api.github.com/repos/{repo_id}/pulls/{n}", "number": n, "state": "closed",
                  "head": {"ref": f"change-{n}"}, "base": {"ref": "main", "repo": {"full_name": repo_id}},
                  "user": {"login": "Copilot", "type": "Bot"} if by_agent else {"login": login, "type": "User"},
                  "created_at": opened.isoformat().replace("+00:00", "Z"), "merged_at": t(0), "closed_at": t(0),
                  "merge_commit_sha": sha[n], "reviews": []}
            if review_on:
                pr["reviews"].append({"user": {"login": "coderabbitai[bot]", "type": "Bot"}, "submitted_at": t(-2), "state": "COMMENTED"})
            pulls.append(pr)
    (root / "github" / "pulls.json").write_text(json.dumps(pulls))
    (root / "github" / "releases.json").write_text(json.dumps(releases))
    return truth
