"""The code base's shape, read from the source (AST, nothing imported): no import cycle inside bot/,
db never imports bot, no module under bot/ over MAX_LINES lines.

Every import counts: module-level and inside functions (a function-level import still ties the
modules together; it only hides the cycle until run time), `import x` and `from x import y`,
relative imports resolved against the importing module, and `__import__`/`importlib.import_module`
of a literal name.
"""
import ast
from collections.abc import Collection, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "db")
MAX_LINES = 400
MAX_CYCLES_SHOWN = 50

def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    """{dotted module name: file} of every .py under bot/ and db/."""
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _base_of(module: str, is_package: bool, level: int) -> str:
    """The package a relative import of `level` dots starts from."""
    parts = module.split(".")
    if not is_package:
        parts.pop()
    return ".".join(parts[: len(parts) - (level - 1)] if level > 1 else parts)


def _known(name: str, modules: Collection[str]) -> str | None:
    """The module a dotted name loads: itself, or its nearest enclosing module we have (None: not ours)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _dynamic_import(node: ast.AST) -> str | None:
    """The module named by `__import__("a.b")` or `importlib.import_module("a.b")`, when it is a literal."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    function = node.func
    called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
    argument = node.args[0]
    if called in ("__import__", "import_module") and isinstance(argument, ast.Constant) and isinstance(
            argument.value, str):
        return argument.value
    return None


def imports_in(source: str, module: str, is_package: bool, modules: Collection[str]) -> set[str]:
    """Every module of ours (`modules`) that this source imports, wherever in the file the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                start = _base_of(module, is_package, node.level)
                base = f"{start}.{base}" if base else start
            # `from package import name`: the submodule when `name` is one, else the package.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        elif (literal := _dynamic_import(node)) is not None:
            names = [literal]
        else:
            continue
        found.update(target for name in names if (target := _known(name, modules)) not in (None, module))
    return found


def imported_modules(module: str, modules: dict[str, Path]) -> set[str]:
    path = modules[module]
    return imports_in(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", modules)


def import_graph() -> dict[str, set[str]]:
    modules = source_files()
    return {module: imported_modules(module, modules) for module in modules}


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def _cycles_in(component: set[str], graph: dict[str, set[str]]) -> Iterator[tuple[str, ...]]:
    """Each elementary cycle of one component once, starting at its alphabetically first module."""
    for start in sorted(component):
        # Cycles through `start` that use only modules after it: every cycle comes out exactly once.
        allowed = {m for m in component if m >= start}
        paths = [(start, (start,))]
        while paths:
            node, path = paths.pop()
            for child in sorted(graph[node] & allowed, reverse=True):
                if child == start:
                    yield path
                elif child not in path:
                    paths.append((child, (*path, child)))


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every import cycle among bot/ modules, as "a -> b -> a" (at most MAX_CYCLES_SHOWN)."""
    inside = {m: {t for t in targets if t.split(".")[0] == "bot"} for m, targets in graph.items()
              if m.split(".")[0] == "bot"}
    found: list[str] = []
    for component in _strongly_connected(inside):
        for cycle in _cycles_in(component, inside):
            found.append(" -> ".join((*cycle, cycle[0])))
            if len(found) >= MAX_CYCLES_SHOWN:
                return found
    return found


def _compare(kind: str, found: set[str]) -> None:
    assert not found, f"{kind}:\n  " + "\n  ".join(sorted(found))


def test_no_import_cycle_inside_bot():
    _compare("cycle", {f"cycle: {cycle}" for cycle in import_cycles(import_graph())})


def test_db_never_imports_bot():
    graph = import_graph()
    found = {f"db imports bot: {module} -> {target}" for module, targets in graph.items()
             if module.split(".")[0] == "db" for target in targets if target.split(".")[0] == "bot"}
    _compare("db imports bot", found)


def test_no_module_under_bot_over_max_lines():
    found = set()
    for path in sorted((ROOT / "bot").rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.add(f"over {MAX_LINES} lines: {path.relative_to(ROOT).as_posix()}")
    _compare(f"over {MAX_LINES} lines", found)


def test_the_reader_sees_every_kind_of_import():
    modules = {"bot", "bot.a", "bot.a.b", "bot.a.c", "bot.d", "bot.e", "bot.f", "bot.g", "bot.h", "db", "db.x"}
    source = """
import bot.d
from bot.a import b, not_a_module
from . import c
from .. import e
import os


def later():
    from bot.f import something
    __import__("bot.g", fromlist=["x"])
    importlib.import_module("bot.h")
    import db.x.y
"""
    assert imports_in(source, "bot.a.c", False, modules) == {
        "bot.d", "bot.a.b", "bot.a", "bot.e", "bot.f", "bot.g", "bot.h", "db.x"}
    assert imports_in("from .b import x", "bot.a", True, modules) == {"bot.a.b"}


def test_every_cycle_is_named_once():
    graph = {"bot.a": {"bot.b"}, "bot.b": {"bot.c", "bot.a"}, "bot.c": {"bot.a"}, "bot.d": {"bot.a"}}
    assert sorted(import_cycles(graph)) == ["bot.a -> bot.b -> bot.a", "bot.a -> bot.b -> bot.c -> bot.a"]
