"""The layout rule (../shared/DESIGN.md): the spine never imports a system, no system imports another, and the
packages' import graph has no cycle. Imports inside functions count: a lazy import is still a dependency."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "myovision"
SYSTEMS = {"actions", "emg_typing", "gestures", "lipread", "zeroshot"}
TOP = {"cli", "__main__"}  # the command line may compose everything


def package_of(module: str) -> str:
    """'myovision.lipread.training' -> 'lipread'; 'myovision.metrics' -> 'metrics'; 'myovision' -> 'myovision'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph(root: Path) -> dict[str, dict[str, list[str]]]:
    """{package: {imported package: [files that import it]}} between myovision's top-level packages/modules."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        source = package_of(".".join(rel.with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names]
                                         if node.module == "myovision" else [])
            else:
                continue
            for name in names:
                if name.startswith("myovision."):
                    target = package_of(name)
                    known = (root / target).is_dir() or (root / f"{target}.py").is_file()
                    if known and target != source:
                        graph.setdefault(source, {}).setdefault(target, []).append(str(rel))
    return graph


def violations(graph: dict[str, dict[str, list[str]]]) -> list[str]:
    """Every spine -> system or system -> system edge, and every cycle, as a readable line."""
    found = []
    for source, targets in graph.items():
        for target, files in targets.items():
            if source in TOP or target not in SYSTEMS:
                continue
            kind = "system -> system" if source in SYSTEMS else "spine -> system"
            found.append(f"{kind}: {source} -> {target} in {files[0]}")
    found += [f"cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return found


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """One cycle per strongly connected group of packages (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, {}):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_package_graph_keeps_the_layout_rule():
    assert violations(import_graph(PACKAGE)) == []


def test_every_system_room_exists():
    assert all((PACKAGE / s / "__init__.py").is_file() for s in SYSTEMS)


@pytest.mark.parametrize("planted, expected", [
    ("metrics.py", "spine -> system: metrics -> lipread"),
    ("zeroshot/prompts.py", "system -> system: zeroshot -> lipread"),
])
def test_a_planted_import_is_caught(tmp_path, planted, expected):
    tree = tmp_path / "myovision"
    shutil.copytree(PACKAGE, tree, ignore=shutil.ignore_patterns("__pycache__"))
    with open(tree / planted, "a") as fh:
        fh.write("\n\ndef _planted():\n    from myovision.lipread.training import LipReadConfig  # noqa\n")
    assert expected + f" in myovision/{planted}" in violations(import_graph(tree))


def test_a_cycle_is_caught():
    graph = {"signals": {"video": ["a.py"]}, "video": {"data": ["b.py"]}, "data": {"signals": ["c.py"]}}
    assert violations(graph) == ["cycle: data -> signals -> video -> data"]
