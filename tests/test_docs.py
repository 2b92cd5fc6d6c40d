"""Docstrings, comments and the README name only repository paths that exist.

A path is named as it is read: from the repository's root (`ratchet/services/runs.py`,
`tests/replay/histories/*.json`, `benchmarks/RESULTS.md`, a folder as `ratchet/ingress/`), or
from inside the `ratchet` package (`services/retention.py`). Only names ending in a file suffix
or a slash count, so a rate like "workflows/s" or a topic like "shopify/orders/create" is no path.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
from collections.abc import Iterator
from pathlib import Path

from tests.support.cli import REPO

ROOTS = ("ratchet", "activities", "workflows", "starter", "tests", "benchmarks", "examples")
PACKAGES = tuple(sorted(path.name for path in (REPO / "ratchet").iterdir() if (path / "__init__.py").exists()))
PATH = re.compile(
    r"(?<![\w./<>{}-])"  # a whole name, not the tail of a longer path or a placeholder like <dir>/
    rf"((?:{'|'.join(ROOTS + PACKAGES)})/(?:[\w./*-]*\.[A-Za-z]{{1,5}}\b|(?:[\w-]+/)*(?![\w*<]))|worker\.py\b)"
)


def tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / name for name in listed.stdout.split()]


def prose(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every docstring (modules, classes, functions, attributes) and comment in a module."""
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for statement in body:  # docstrings, including the attribute docstrings after an assignment
            value = statement.value if isinstance(statement, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield statement.lineno, value.value
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def exists(named: str) -> bool:
    named = named.rstrip(".")
    candidates = [named] + ([f"ratchet/{named}"] if named.split("/")[0] in PACKAGES else [])
    return any(next(REPO.glob(candidate), None) is not None for candidate in candidates)


def missing_paths() -> list[str]:
    found = []
    for file in tracked("*.py", "*.md"):
        text = file.read_text()
        passages = [(1, text)] if file.suffix == ".md" else list(prose(text))
        for line, passage in passages:
            for match in PATH.finditer(passage):
                if not exists(match[1]):
                    where = line + passage[: match.start()].count("\n")
                    found.append(f"{file.relative_to(REPO)}:{where}: {match[1]}")
    return found


def test_docstrings_comments_and_docs_name_only_paths_that_exist() -> None:
    assert missing_paths() == []


def test_a_path_that_does_not_exist_is_found() -> None:
    names = [match[1] for match in PATH.finditer("see ratchet/nowhere.py, services/retention.py, ratchet/ingress/.")]
    assert names == ["ratchet/nowhere.py", "services/retention.py", "ratchet/ingress/"]
    assert [exists(name) for name in names] == [False, True, True]
    assert [match[1] for match in PATH.finditer("10 workflows/s; shopify/orders/create; tests/<dir>")] == []
