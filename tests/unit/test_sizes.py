"""Size limits a newcomer can hold in their head, measured with `ast` so they stay true:
no module over 500 lines, no class over 250, no function over 60 (the argparse table in
sweeper/flags.py excepted), and no two classes in sweeper/ of the same name."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sweeper"
MODULE, CLASS, FUNCTION = 500, 250, 60
EXEMPT = {("flags.py", "parser")}  # the flag table: one row per flag, declarative


def sources() -> list[Path]:
    found = sorted(PACKAGE.rglob("*.py"))
    assert len(found) > 40, found  # an empty scan is no pass
    return found


def lines(node: ast.AST) -> int:
    return int(getattr(node, "end_lineno", 0)) - int(getattr(node, "lineno", 0)) + 1


def oversized(path: Path) -> list[str]:
    text = path.read_text()
    over = [f"{path.name}: {len(text.splitlines())} lines"] * (len(text.splitlines()) > MODULE)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and lines(node) > CLASS:
            over.append(f"{path.name}: class {node.name} {lines(node)} lines")
        function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if function and lines(node) > FUNCTION and (path.name, node.name) not in EXEMPT:
            over.append(f"{path.name}: {node.name}() {lines(node)} lines")
    return over


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_within_the_size_limits(path: Path) -> None:
    """Each module, class and function of sweeper/ is within its limit."""
    assert oversized(path) == []


def test_the_measure_can_fail(tmp_path: Path) -> None:
    """A 61-line function and a 501-line module are caught."""
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    big = tmp_path / "big.py"
    big.write_text(f"def f():\n{body}\n" + "\n" * 440)
    assert oversized(big) == ["big.py: 501 lines", "big.py: f() 61 lines"]


def test_no_two_classes_share_a_name() -> None:
    """A class name means one thing across sweeper/."""
    where: dict[str, list[str]] = defaultdict(list)
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(str(path.relative_to(PACKAGE)))
    assert {name: at for name, at in where.items() if len(at) > 1} == {}
