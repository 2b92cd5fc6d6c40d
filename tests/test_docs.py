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
import shlex
import subprocess
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from starter.cli.main import app as cli_app
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
    if any(next(REPO.glob(candidate), None) is not None for candidate in candidates):
        return True
    # A folder the code writes and git ignores (screenshots, benchmark results) is named before it exists.
    return subprocess.run(["git", "check-ignore", "-q", named], cwd=REPO).returncode == 0


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


README = REPO / "README.md"


def readme_commands() -> list[list[str]]:
    """Every `uv run ratchet …` line of the README's shell blocks, as arguments (comments and chains cut)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL):
        for line in block.splitlines():
            for command in line.split("#", 1)[0].split("&&"):
                words = shlex.split(command)
                if words[:3] == ["uv", "run", "ratchet"]:
                    commands.append(words[3:])
    return commands


def unknown_in(arguments: list[str]) -> str | None:
    """What in `ratchet ARGUMENTS` the CLI does not have (a command or an option), or None."""
    command: Any = typer.main.get_command(cli_app)  # a group has `commands`; typer vendors its own click
    for word in arguments:
        if hasattr(command, "commands") and not word.startswith("-"):
            if word not in command.commands:
                return f"command {word!r}"
            command = command.commands[word]
        elif word.startswith("--"):
            known = {name for param in command.params for name in getattr(param, "opts", [])}
            if word.split("=", 1)[0] not in known:
                return f"option {word!r} of {command.name!r}"
    return "a command group without a command" if hasattr(command, "commands") else None


def test_the_readme_is_a_guide_under_300_lines_with_a_two_command_quick_start() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    quick_start = re.search(r"## Quick start\n.*?```sh\n(.*?)```", text, re.DOTALL)
    assert quick_start is not None
    commands = [line.split("#", 1)[0].strip() for line in quick_start[1].splitlines()]
    assert commands == ["uv run ratchet dev", "uv run pytest"]


def test_every_ratchet_command_in_the_readme_exists() -> None:
    commands = readme_commands()
    assert len(commands) >= 10  # the quick start's tour, store connection, operations
    assert {" ".join(arguments): unknown_in(arguments) for arguments in commands} == {
        " ".join(arguments): None for arguments in commands
    }
    assert unknown_in(["task", "imprt"]) == "command 'imprt'"
    assert unknown_in(["runs", "list", "--evnt", "x"]) == "option '--evnt' of 'list'"
