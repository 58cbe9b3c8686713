"""Limits that keep the code readable: no module of the package over 600 lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600
"""Past this a module holds two jobs (function complexity is ruff's C901, in pyproject.toml)."""


def line_counts() -> dict[str, int]:
    """Every ``publisher/**/*.py`` file, by path relative to the project, with its line count."""
    return {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted((ROOT / "publisher").rglob("*.py"))
    }


def test_no_module_is_over_600_lines():
    """Every module of publisher/ has at most 600 lines; the failure names each one over."""
    over = {path: lines for path, lines in line_counts().items() if lines > MAX_LINES}
    assert {} == over, f"over {MAX_LINES} lines, split them: {over}"
