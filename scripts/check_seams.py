"""Fail on the two habits that erode polyseek's package seams.

1. A module reaching into a *private* name of another subpackage: importing
   ``polyseek.store._x`` or ``from polyseek.store.lancedb import _helper``, or using
   ``obj._attr`` where ``_attr`` is not defined by the module itself (``self._x`` and
   names the module defines are its own business).
2. An import cycle between subpackages (``polyseek.search`` -> ``polyseek.store`` ->
   ``polyseek.search``). Imports inside functions count too (they are deferred, but still a
   dependency); imports under ``if TYPE_CHECKING:`` do not.

Top-level modules (``polyseek.engine``, ``polyseek.types``, ...) count as their own
"subpackage". Run: ``python scripts/check_seams.py [src]``; exit status 1 on a finding.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT_PACKAGE = "polyseek"


def _unit(module: str) -> str:
    """``polyseek.search.ranking`` -> ``search``; ``polyseek.engine`` -> ``engine``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(tree: ast.AST, known: set[str]) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every polyseek import.

    ``from polyseek.server import schemas`` imports the module ``polyseek.server.schemas``
    (not the package's ``__init__``) when such a module exists.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == ROOT_PACKAGE or node.module.startswith(ROOT_PACKAGE + "."):
                plain = []
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in known:
                        found.append((node.lineno, sub, []))
                    else:
                        plain.append(alias.name)
                if plain:
                    found.append((node.lineno, node.module, plain))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(ROOT_PACKAGE + "."):
                    found.append((node.lineno, alias.name, []))
    return found


def check(src: Path) -> list[str]:
    problems: list[str] = []
    graph: dict[str, dict[str, str]] = defaultdict(dict)  # unit -> unit -> where
    modules: dict[str, dict[str, str]] = defaultdict(dict)  # module -> module -> where
    paths = sorted((src / ROOT_PACKAGE).rglob("*.py"))
    known = {_module_name(src, p) for p in paths}
    for path in paths:
        module = _module_name(src, path)
        unit = _unit(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = (
            path.relative_to(src.parent).as_posix()
            if src.parent in path.parents
            else path.as_posix()
        )
        own = {
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id in ("self", "cls")
        }
        own |= {
            n.name
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        }
        own |= {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Name)
        }
        typing_only = _type_checking_lines(tree)
        for line, target, names in _imports(tree, known):
            if line not in typing_only and target != module:
                modules[module].setdefault(target, f"{where}:{line}")
            other = _unit(target)
            if other == ROOT_PACKAGE:
                continue
            if other != unit:
                private = [p for p in target.split(".") if _is_private(p)]
                private += [n for n in names if _is_private(n)]
                if private:
                    problems.append(
                        f"{where}:{line}: imports private {', '.join(private)} of {target}"
                    )
                if line not in typing_only:
                    graph[unit].setdefault(other, f"{where}:{line}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and _is_private(node.attr)
                and node.attr not in own
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                problems.append(f"{where}:{node.lineno}: reaches into .{node.attr}")
    problems.extend(_cycles(graph, "subpackages"))
    # Modules of one subpackage: a cycle there is a knot too (cli.app <-> cli.ask).
    # A package's __init__ importing its own submodules is how packages are made, so
    # edges into a package's own __init__ from its submodules are the ones that count.
    same_unit = {
        m: {t: w for t, w in targets.items() if _unit(t) == _unit(m) and t in modules}
        for m, targets in modules.items()
    }
    problems.extend(_cycles(same_unit, "modules"))
    return problems


def _cycles(graph: dict[str, dict[str, str]], what: str) -> list[str]:
    """One line per strongly connected group (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    out = []
    for group in groups:
        edges = [
            f"{a} -> {b} ({graph[a][b]})" for a in group for b in sorted(graph[a]) if b in group
        ]
        out.append(f"import cycle between {what} " + ", ".join(group) + ": " + "; ".join(edges))
    return out


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "src"
    problems = check(src)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} seam problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
