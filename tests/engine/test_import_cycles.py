"""No import cycles in engine/, agents/ or the platform's apps (migrations
aside): every import statement counts, also those inside functions or
`if TYPE_CHECKING:` (a cycle is a cycle)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "agents")
PLATFORM = ROOT / "platform"  # the Django source root: its apps are top-level packages


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_targets(path: Path, name: str) -> list[tuple[str, str | None]]:
    """(module, name imported from it or None) for every import in `path`,
    relative imports made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets.extend((base, alias.name) for alias in node.names)
    return targets


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The known modules `path` imports. `from pkg import sub` names the
    submodule when there is one, else the package."""
    found = {base if alias is None or f"{base}.{alias}" not in known else f"{base}.{alias}"
             for base, alias in import_targets(path, name)}
    return (found & known) - {name}


def package_files() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def platform_files() -> dict[str, Path]:
    return {module_name(p, PLATFORM): p for p in PLATFORM.rglob("*.py") if "migrations" not in p.parts}


def import_graph(files: dict[str, Path] | None = None) -> dict[str, set[str]]:
    files = package_files() if files is None else files
    known = set(files)
    return {name: imported_modules(path, name, known) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_checker_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "engine.ir" in graph and "agents.cli" in graph
    assert graph["engine.executor"] >= {"engine.ir"}


def test_engine_and_agents_have_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_platform_has_no_import_cycles():
    graph = import_graph(platform_files())
    assert graph["results.ingest"] >= {"results.models"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_engine_and_agents_import_nothing_of_the_platform():
    platform = {"django", "rest_framework", "drf_spectacular", "celery", "core", "fleet", "results", "regressions",
                "notify", "dashboard", "roofwatch"}
    found = {name: sorted({m for m, _ in import_targets(path, name) if m.split(".")[0] in platform})
             for name, path in package_files().items()}
    assert {name: mods for name, mods in found.items() if mods} == {}
