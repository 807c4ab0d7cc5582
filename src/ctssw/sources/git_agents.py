"""AI assistants and agents in git history: trailers, agent authors, footers, configuration files.

One ``git log`` with full messages runs per repository (HEAD's history, or every ref with
``all_refs``) and one ``git log --diff-filter=A`` lists the files each commit added. The rules
of :mod:`ctssw.sources.agents` find, per commit:

- an agent author: the author's name or email matches a ``bot`` rule
  (``copilot-swe-agent[bot]``, ``devin-ai-integration[bot]``, ``claude[bot]`` ...);
- ``Co-authored-by:`` trailers that match a ``trailer`` rule (``Claude <noreply@anthropic.com>``);
- message lines that match a ``footer`` rule (``🤖 Generated with [Claude Code](...)``);

and, per repository, the first commit adding a file that matches a ``config`` rule
(``CLAUDE.md``, ``.cursorrules``, ``.cursor/rules/``, ``AGENTS.md``,
``.github/copilot-instructions.md``, ``GEMINI.md``, ``.windsurfrules`` ...): the tool's rollout
date in that repository.

Output (see :func:`read`):

- ``tool_usage`` rows of tool ``<tool>:git``, feature ``agent``: per person and day, events =
  the commits the tool authored or co-authored. The person is the commit's author, or, when the
  author is an agent or a bot, the people among its ``Co-authored-by`` trailers (an agent's
  commits name who asked for them); bots never count.
- ``agent_configs`` rows: repository, tool, path, the rule, and when it was first added.
- :func:`tag_changes` sets ``changes.agent`` on merged changes whose merge or squash commit,
  or a commit of the merged branch, the rules matched.

Every detected tool is named in a note with the rules that found it and their counts.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ..errors import DataError
from .agents import CO_AUTHOR, Rules, is_bot, rules
from .common import Progress, Tables, note, paths_of, table, utc

__all__ = ["Detections", "read", "tag_changes"]

RS, US = "\x1e", "\x1f"
EMAIL = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")


@dataclass
class Detections:
    """What the rules found in some repositories.

    ``commits`` maps a commit sha to the tools (in order) that authored or co-authored it;
    ``rules`` counts each (tool, rule label) over commits and configuration files.
    """

    commits: dict[str, list[str]] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    mainline: set[str] = field(default_factory=set)
    usage: Counter = field(default_factory=Counter)  # (person, tool, day) -> commits
    configs: list[dict] = field(default_factory=list)
    rules: Counter = field(default_factory=Counter)


def _git(repo: Path, *args: str) -> str:
    try:
        p = subprocess.run(["git", "-C", str(repo), "-c", "core.quotepath=off", *args],
                           capture_output=True, check=False)
    except OSError as e:
        raise DataError(f"{repo}: cannot run git ({e})") from None
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DataError(f"{repo}: git {args[0]} failed ({msg[-1] if msg else p.returncode}); expected a git repository")
    return p.stdout.decode("utf-8", "replace")


def _people(msg: str, r: Rules) -> list[str]:
    """The emails of the ``Co-authored-by`` people of a message (not agents, not bots)."""
    out = []
    for line in msg.splitlines():
        m = CO_AUTHOR.match(line)
        if not m or r.match("trailer", m.group(1)) or r.match("bot", m.group(1)):
            continue
        e = EMAIL.search(m.group(1))
        if e and not is_bot(e.group(1).split("@")[0]) and "[bot]" not in e.group(1):
            out.append(e.group(1).lower())
    return out


def _scan(repo: Path, all_refs: bool, r: Rules, found: Detections, repo_id: str) -> None:
    refs = ["--all"] if all_refs else []
    log = _git(repo, "log", *refs, f"--format={RS}%H{US}%P{US}%an{US}%ae{US}%aI{US}%B")
    first_parent = _git(repo, "rev-list", "--first-parent", *(refs or ["HEAD"])) if log.strip() else ""
    found.mainline |= set(first_parent.split())
    for rec in log.split(RS)[1:]:
        parts = rec.split(US, 5)
        if len(parts) < 6:
            continue
        sha, parents, name, email, when, msg = parts
        found.parents[sha] = parents.split()
        hits = []
        author_rule = r.match("bot", name) or r.match("bot", email)
        if author_rule:
            hits.append(author_rule)
        for x in r.message(msg):
            if x.tool not in {h.tool for h in hits}:
                hits.append(x)
        if not hits:
            continue
        found.commits[sha] = [h.tool for h in hits]
        for h in hits:
            found.rules[(h.tool, h.label)] += 1
        bot_author = author_rule is not None or is_bot(name) or is_bot(email.split("@")[0]) or "[bot]" in email
        people = _people(msg, r) if bot_author else [email.strip().lower()]
        for person in people:
            for h in hits:
                found.usage[(person, h.tool, when[:10])] += 1
    added = _git(repo, "log", *refs, "--diff-filter=A", "--name-only", f"--format={RS}%H{US}%aI")
    first: dict[tuple[str, str], tuple[str, str, str]] = {}
    for rec in added.split(RS)[1:]:
        head, _, files = rec.partition("\n")
        sha, _, when = head.partition(US)
        for path in files.splitlines():
            rule = r.match("config", path.strip()) if path.strip() else None
            if rule is None:
                continue
            k = (rule.tool, rule.label)
            if k not in first or when < first[k][0]:
                first[k] = (when, path.strip(), sha)
    for (tool, label), (when, path, sha) in sorted(first.items()):
        found.configs.append({"repo_id": repo_id, "tool": tool, "path": path, "rule": label,
                              "first_added_at": utc(when), "sha": sha})
        found.rules[(tool, label)] += 1


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    repo_ids: dict[str, str] | None = None,
    all_refs: bool = False,
    agent_rules: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[Tables, Detections]:
    """Scan repositories for AI assistants and agents (see the module docstring).

    Parameters
    ----------
    repo_ids : dict, optional
        Repository id per path as given (default: the folder name).
    all_refs : bool
        Every ref, not only HEAD's history.
    agent_rules : str or Path, optional
        A CSV of extra rules (``tool, kind, pattern``), tried before the built-in ones.

    Returns
    -------
    (tables, detections)
        ``tool_usage`` and ``agent_configs`` tables, and what was found per commit (for
        :func:`tag_changes`).
    """
    r = rules(agent_rules)
    found = Detections()
    ps = paths_of(paths)
    for i, p in enumerate(ps):
        if progress:
            progress(f"agents in {p}", i, len(ps))
        _scan(p, all_refs, r, found, (repo_ids or {}).get(str(p), p.resolve().name))
    rows = [{"builder": who, "tool": f"{tool}:git", "feature": "agent", "day": day, "active": True, "events": n}
            for (who, tool, day), n in sorted(found.usage.items())]
    out: Tables = {}
    if rows:
        out["tool_usage"] = table("tool_usage", rows)
    if found.configs:
        out["agent_configs"] = table("agent_configs", found.configs)
    _report(found)
    return out, found


def _report(found: Detections) -> None:
    by_tool: dict[str, list[str]] = {}
    for (tool, label), n in sorted(found.rules.items(), key=lambda x: (x[0][0], -x[1])):
        by_tool.setdefault(tool, []).append(f"{label} {n}")
    for tool, hits in by_tool.items():
        commits = sum(1 for tools in found.commits.values() if tool in tools)
        firsts = sorted(c["first_added_at"][:10] for c in found.configs if c["tool"] == tool)
        since = f"; first configuration {firsts[0]}" if firsts else ""
        note(f"git: {tool} found in {commits} commit(s){since} (rules: {', '.join(hits)})")


def tag_changes(changes: pa.Table, found: Detections) -> pa.Table:
    """``changes`` with ``agent`` set where a rule matched its merge or squash commit, or a commit of
    the branch a merge commit brought in (the second parent's history back to the mainline)."""
    if "agent" not in changes.column_names or not found.commits:
        return changes
    agents = changes.column("agent").to_pylist()
    shas = changes.column("merge_sha").to_pylist()
    for i, sha in enumerate(shas):
        if agents[i] is not None or sha is None:
            continue
        tools = list(found.commits.get(sha, []))
        ps = found.parents.get(sha, [])
        if not tools and len(ps) > 1:
            tip, seen = ps[1], 0
            while tip and tip not in found.mainline and seen < 1000:
                tools += found.commits.get(tip, [])
                nxt = found.parents.get(tip, [])
                tip, seen = (nxt[0] if nxt else None), seen + 1
        if tools:
            agents[i] = tools[0]
    return changes.set_column(changes.schema.get_field_index("agent"), "agent", pa.array(agents, pa.string()))
