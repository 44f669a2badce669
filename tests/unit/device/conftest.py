from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `from fakeshell import FakeShell`

DATA = Path(__file__).resolve().parents[2] / "data" / "android"


@pytest.fixture
def android_data() -> Path:
    return DATA


@pytest.fixture
def shared_data() -> Path:
    """/work/shared/data (the repo's parent's shared/data); skip when absent."""
    path = Path(__file__).resolve().parents[4] / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared reference data not found at {path}")
    return path
