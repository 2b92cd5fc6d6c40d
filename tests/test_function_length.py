"""No function over 60 lines outside tests, benchmarks' argument parsing and migrations.

A function is counted from its `def` to its last line, docstring and nested functions included:
what a reader has to hold at once.
"""

from __future__ import annotations

import ast

from tests.support.cli import REPO
from tests.test_docs import tracked

LIMIT = 60


def exempt(path: str, function: str) -> bool:
    return (
        path.startswith("tests/")
        or path.startswith("ratchet/store/migrations/versions/")
        or (path.startswith("benchmarks/") and function == "parse_args")
    )


def over_limit(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of every function in `source` longer than the limit."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > LIMIT:
                found.append((node.name, node.lineno, lines))
    return found


def test_no_function_is_over_60_lines() -> None:
    found = []
    for file in tracked("*.py"):
        path = str(file.relative_to(REPO))
        found += [
            f"{path}:{line} {name} ({lines} lines)"
            for name, line, lines in over_limit(file.read_text())
            if not exempt(path, name)
        ]
    assert found == []


def test_a_function_over_the_limit_is_found() -> None:
    nested = "def outer():\n    def inner():\n" + "        x = 1\n" * 60 + "    return inner\n"
    assert over_limit(nested) == [("outer", 1, 63), ("inner", 2, 61)]
    assert over_limit("def short():\n" + "    x = 1\n" * 59) == []
