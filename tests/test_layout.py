"""The package's shape: no import cycles between qa_pipeline modules, and no CLI library outside cli/.

Import edges are read from the source (ast), including imports inside functions: a deferred import that closes
a circle is still a circle, it only hides it from the interpreter.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "qa_pipeline"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """qa_pipeline modules imported by `name` (anywhere in the file, `TYPE_CHECKING` blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for b in node.body for n in ast.walk(b)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from pkg import mod` imports the submodule; `from mod import name` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def import_graph() -> dict[str, set[str]]:
    """module → the qa_pipeline modules it imports."""
    mods = _modules()
    # importing a package's submodule runs the package __init__ first; that edge is not a design choice
    return {
        name: {d for d in _imports(name, path, set(mods)) if not name.startswith(d + ".")}
        for name, path in mods.items()
    }


def test_no_import_cycles() -> None:
    g = import_graph()
    assert len(g) > 40 and sum(map(len, g.values())) > 60  # the walk found the package and its imports
    try:
        TopologicalSorter(g).prepare()
    except CycleError as exc:
        pytest.fail("import cycle: " + " → ".join(exc.args[1]))


def test_the_graph_sees_deferred_imports() -> None:
    g = import_graph()
    assert "qa_pipeline.pipeline" in g["qa_pipeline.cli.score"]  # deferred inside `check`


@pytest.mark.parametrize("lib", ["typer", "rich", "click"])
def test_cli_libraries_only_in_cli_package(lib: str) -> None:
    offenders = []
    for name, path in _modules().items():
        if name == "qa_pipeline.cli" or name.startswith("qa_pipeline.cli."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                mods = [node.module or ""]
            if any(m == lib or m.startswith(lib + ".") for m in mods):
                offenders.append(name)
    assert not offenders, f"{lib} imported outside qa_pipeline/cli/: {offenders}"
