"""platform/core is the layer below every app: it may import Django and DRF,
never an app (read from the source, so an import inside a function counts too)."""
import ast
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[2] / "platform"
CORE = PLATFORM / "core"
APPS = {p.name for p in PLATFORM.iterdir() if (p / "__init__.py").exists()} - {"core"}


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_the_apps_are_found():
    assert {"fleet", "results", "regressions", "notify", "dashboard", "roofwatch"} <= APPS


def test_core_imports_no_app():
    modules = sorted(CORE.rglob("*.py"))
    assert modules, f"no modules under {CORE}"
    offending = [
        f"{path.relative_to(PLATFORM)}:{line}: {name}"
        for path in modules
        for line, name in imported_modules(ast.parse(path.read_text(), str(path)))
        if name.split(".")[0] in APPS
    ]
    assert offending == [], "core imports apps:\n" + "\n".join(offending)
