"""Fixtures shared by the unit tests: the hand-written run bundles of tests/data/runs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"


@pytest.fixture
def runs() -> Path:
    """The folder of hand-written run bundles."""
    return RUNS


@pytest.fixture
def run_copy(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a fixture bundle to a temporary folder, so writing outputs leaves the repo alone."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(RUNS / name, target)
        return target

    return copy
