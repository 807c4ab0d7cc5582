"""The package's shape: stages import only downward, no import cycles, no reaching into
another package's private modules, and no module grows past ~500 lines without saying why."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import ctssw

ROOT = Path(ctssw.__file__).parent

# sources → store → collect → panel → metrics → estimators → report, simulate beside pipeline and cli on top.
RANK = {
    "errors": 0,
    "privacy": 0.5,
    "sources": 1,
    "store": 2,
    "collect": 2.5,
    "panel": 3,
    "metrics": 4,
    "estimators": 5,
    "report": 6,
    "simulate": 7,
    "pipeline": 8,
    "cli": 9,
}
MAX_LINES = 500


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module imported, at module level?) for each ctssw import in ``path``."""
    tree = ast.parse(path.read_text())
    mod = _module(path)
    base = mod.split(".") if _is_package(path) else mod.split(".")[:-1]
    top_level = {id(n) for n in tree.body}
    for n in tree.body:  # imports under `if TYPE_CHECKING:` count as module level for typing only
        if isinstance(n, ast.If):
            top_level |= {id(x) for x in n.body}
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = base[: len(base) - node.level + 1]
                target = ".".join([*pkg, node.module] if node.module else pkg)
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.split(".")[0] == "ctssw":
                out.append((name, id(node) in top_level))
    return out


def _files():
    return sorted(p for p in ROOT.rglob("*.py"))


def _existing(name: str) -> str | None:
    """The longest prefix of ``name`` that is a ctssw module file or package."""
    parts = name.split(".")
    while parts:
        rel = Path(*parts[1:]) if len(parts) > 1 else Path()
        if (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return None


def test_stages_import_only_downward():
    bad = []
    for f in _files():
        mod = _module(f)
        if mod == "ctssw":
            continue
        stage = mod.split(".")[1]
        for name, _ in _imports(f):
            target = _existing(name)
            if target in (None, "ctssw") or target.split(".")[1] == stage:
                continue
            other = target.split(".")[1]
            if stage not in RANK or other not in RANK or RANK[other] >= RANK[stage]:
                bad.append(f"{mod} imports {target}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_no_import_cycles_at_module_level():
    graph: dict[str, set[str]] = defaultdict(set)
    for f in _files():
        mod = _module(f)
        for name, top in _imports(f):
            target = _existing(name)
            if top and target and target != mod and not mod.startswith(target + "."):
                graph[mod].add(target)
    seen: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in graph.get(node, ()):
            if seen.get(nxt) == 1:
                cycles.append(" → ".join([*path[path.index(nxt):], nxt]) if nxt in path else f"{node} → {nxt}")
            elif nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_no_module_reaches_into_another_packages_private_modules():
    bad = []
    for f in _files():
        mod = _module(f)
        own = mod if _is_package(f) else mod.rsplit(".", 1)[0]
        for name, _ in _imports(f):
            target = _existing(name)
            if not target:
                continue
            parts = target.split(".")
            for i, p in enumerate(parts):
                if p.startswith("_") and p != "__init__":
                    owner = ".".join(parts[:i])
                    if not (own == owner or own.startswith(owner + ".")):
                        bad.append(f"{mod} imports private {target}")
                    break
    assert not bad, "\n".join(sorted(set(bad)))


def test_modules_stay_small_or_say_why():
    long = []
    for f in _files():
        text = f.read_text()
        n = text.count("\n")
        if n > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Longer than" not in doc:
                long.append(f"{f.relative_to(ROOT)}: {n} lines")
    assert not long, "\n".join(long)
