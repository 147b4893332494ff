"""What `make check` lints: every Python file of the project is under a path both ruff commands of
the Makefile's ``LINT_COMMAND`` name, so a file outside them (``deploy/docker/prepare.py`` was) cannot
drift from the rules and the layout the rest is held to."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What is not the project's own source: the virtual environment, build output, caches, run data.
NOT_SOURCE = {".venv", ".git", "node_modules", "var", "build", "test-artifacts"}


def _lint_command() -> str:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    [command] = re.findall(r"^LINT_COMMAND \?=(.*)$", makefile, flags=re.MULTILINE)
    return command


def _paths_of(command: str, tool: str) -> set[str]:
    """The paths given to ``ruff check`` or ``ruff format --check`` in ``command``."""
    [arguments] = re.findall(rf"/ruff {tool} ([^&]+)", command)
    return set(arguments.split())


def _top_level_with_python() -> set[str]:
    return {
        path.relative_to(REPO).parts[0]
        for path in REPO.rglob("*.py")
        if not set(path.relative_to(REPO).parts) & NOT_SOURCE and not path.relative_to(REPO).parts[0].startswith(".")
    }


def test_both_ruff_commands_of_make_check_cover_every_directory_with_python():
    command = _lint_command()
    python_dirs = _top_level_with_python()
    assert {"shared", "services", "tests", "deploy"} <= python_dirs
    for tool in ("check", "format --check"):
        missing = python_dirs - _paths_of(command, tool)
        assert not missing, f"`ruff {tool}` in LINT_COMMAND leaves out {sorted(missing)}"
