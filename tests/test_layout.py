"""The package's layout is its architecture: stages import only earlier stages, no cycles, privates stay home.

The stages, in the order data flows (see docs/layout.md): ``http`` <- ``shape`` <- ``store`` <- ``load`` <- ``usage``
<- ``views`` <- ``export`` / ``plots`` (the public face of the plots) <- ``cli``; ``errors`` and ``version`` come
before everything, the package's ``__init__`` and the entry points (``__main__``) after. The sandbox is a separate
program: it imports nothing of closeframe outside itself except the command line's argument helpers.
Every import counts, also one made inside a function to dodge a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "closeframe"
STAGES = ["version", "errors", "http", "shape", "store", "load", "usage", "views", "export", "plots", "cli",
          "__init__", "__main__"]


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _stage(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _imports() -> list[tuple[str, str, str | None, int]]:
    """(importer, imported module, imported name or None, line) for every closeframe import anywhere in a file."""
    edges = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "closeframe":
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if submodule in MODULES:
                        edges.append((module, submodule, None, node.lineno))
                    else:
                        edges.append((module, node.module, alias.name, node.lineno))
            elif isinstance(node, ast.Import):
                edges.extend((module, a.name, None, node.lineno) for a in node.names
                             if a.name.split(".")[0] == "closeframe")
    return edges


EDGES = _imports()


def test_every_import_runs_from_a_later_stage_to_an_earlier_one():
    upward = []
    for importer, imported, name, line in EDGES:
        here, there = _stage(importer), _stage(imported)
        if here == "sandbox" or there == "sandbox":
            # The sandbox stands apart; only the package face, the command line and the loaders' data source
            # start it, and its own entry point borrows the command line's --port parser.
            if here == "sandbox" and there != "sandbox" and not (importer.endswith("__main__") and there == "cli"):
                upward.append(f"{importer}:{line} imports {imported}")
            continue
        if STAGES.index(there) > STAGES.index(here):
            upward.append(f"{importer}:{line} imports {imported}{'.' + name if name else ''}")
    assert upward == []


def test_no_private_name_is_imported_outside_its_subpackage():
    leaks = [f"{importer}:{line} imports {imported}.{name}" for importer, imported, name, line in EDGES
             if name and name.startswith("_") and not name.startswith("__") and _stage(importer) != _stage(imported)]
    leaks += [f"{importer}:{line} imports {imported}" for importer, imported, name, line in EDGES
              if name is None and imported.rsplit(".", 1)[-1].startswith("_")
              and not imported.endswith("__main__") and _stage(importer) != _stage(imported)]
    assert leaks == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for importer, imported, _, _ in EDGES:
        if imported in MODULES and imported != importer and not imported == "closeframe":
            graph[importer].add(imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(MODULES):
        if node not in index:
            visit(node)
    return sorted(found)


#: Cycles still being taken apart (each in its own branch); this list only ever shrinks, to empty.
KNOWN_CYCLES = [
    ["closeframe.usage.sql", "closeframe.usage.tables"],
    ["closeframe.views.catalogue_explorer", "closeframe.views.usage_explorer"],
    ["closeframe.views.history_report", "closeframe.views.report"],
]


def test_no_import_cycles():
    assert [c for c in _cycles() if c not in KNOWN_CYCLES] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_says_its_job_and_declares_its_names(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    assert docstring and docstring.strip(), f"{module} has no docstring saying its job"
    if module.endswith("__main__") or MODULES[module].name == "__init__.py" and module != "closeframe":
        return
    names = [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)]
    imported_all = any(isinstance(node, ast.ImportFrom) and any(a.name == "__all__" for a in node.names)
                       for node in tree.body)
    assert "__all__" in names or imported_all, f"{module} declares no __all__"
