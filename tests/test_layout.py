"""The shape of the code: imports flow one way (routers and commands → domain → store), with no cycles.

Checked on the source, so a violation fails here before it becomes a tangle."""

from __future__ import annotations

import ast
from pathlib import Path

from tutor.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "tutor"
CAPABILITIES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))  # one folder per capability
EDGE = {"app", "cli", "deps", "health", "runtime", "settings"}  # wiring: may import anything
BASE = {"clock", "errors", "text"}  # imported by everyone, import nothing of ours
WEB = ("fastapi", "starlette", "typer", "uvicorn")


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # alembic's scripts are run by alembic, not imported
        out[module_name(path)] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return out


def imported(node: ast.Import | ast.ImportFrom, here: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = here.rsplit(".", node.level)[0]
        return [f"{base}.{node.module}" if node.module else base]
    names = [node.module or ""]
    names += [f"{node.module}.{a.name}" for a in node.names]  # `from tutor.tracing import bkt` imports a module
    return names


def top_level_imports(tree: ast.Module, here: str) -> set[str]:
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                found.update(imported(sub, here))
    return found


def local_imports(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(fn):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    found += [(sub.lineno, name) for name in imported(sub, "")[:1] if name.split(".")[0] == "tutor"]
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in top_level_imports(tree, name) if m in mods and m != name} for name, tree in mods.items()}


def kind(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in EDGE:
        return "edge"
    if parts[1] in BASE:
        return "base"
    return "router" if parts[-1] in ("api", "cli") else "domain"


def test_no_function_local_imports_of_our_own_modules():
    offenders = [f"{name}:{line} imports {what}" for name, tree in modules().items() for line, what in local_imports(tree)]
    assert not offenders, "\n".join(offenders)


def find_cycles(g: dict[str, set[str]]) -> list[str]:
    """Every back edge of a depth-first walk, shown as the cycle it closes."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" → ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a → b → c → a"]
    assert find_cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycles():
    cycles = find_cycles(graph())
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_domain_code_knows_no_http_and_no_wiring():
    offenders = []
    for name, tree in modules().items():
        if kind(name) not in ("domain", "base"):
            continue
        for target in top_level_imports(tree, name):
            if target.split(".")[0] in WEB:
                offenders.append(f"{name} imports {target}")
            elif target.startswith("tutor.") and kind(target) in ("router", "edge"):
                offenders.append(f"{name} imports {target}")
    assert not offenders, "\n".join(offenders)


def test_the_store_and_the_base_depend_on_no_capability():
    offenders = []
    for name, deps in graph().items():
        if name.startswith("tutor.store") or kind(name) == "base":
            for target in deps:
                if kind(target) != "base" and not target.startswith("tutor.store") and target != "tutor":
                    offenders.append(f"{name} imports {target}")
    assert not offenders, "\n".join(offenders)


def test_capabilities_form_a_one_way_graph():
    """Between capabilities (domain code only), imports never go both ways, however indirectly."""
    edges: dict[str, set[str]] = {c: set() for c in CAPABILITIES}
    for name, deps in graph().items():
        if kind(name) != "domain":
            continue
        here = name.split(".")[1]
        for target in deps:
            there = target.split(".")[1] if target.count(".") >= 1 else ""
            if kind(target) == "domain" and there != here:
                edges[here].add(there)
    def reaches(a: str, b: str, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        for nxt in edges[a]:
            if nxt == b:
                return path + (a, b)
            if nxt not in path:
                found = reaches(nxt, b, path + (a,))
                if found:
                    return found
        return None

    loops = {" → ".join(p) for c in CAPABILITIES if (p := reaches(c, c))}
    assert not loops, "capabilities import each other:\n" + "\n".join(sorted(loops))
