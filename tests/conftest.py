"""Shared fixtures: the ../shared/data reference folder and the tools integration tests need.

In CI (``CI=true``) a missing tool is a failure, not a skip: .ci/run installs everything, so
a skip there would hide a broken set-up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ../shared/data reference folder; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (fresh clone); reference-data test skipped")
    return SHARED_DATA


def require_tool(name: str, hint: str) -> str:
    """Path of an external tool; skip (locally) or fail (in CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: {hint}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def jdk() -> str:
    """javac of a JDK 17 (frida-java-bridge does not support HotSpot 21+)."""
    return require_tool("javac", "install a JDK 17 (apt-get install openjdk-17-jdk-headless)")


@pytest.fixture(scope="session")
def agent_bundle():  # type: ignore[no-untyped-def]
    """The compiled Frida agent (built once per cache key)."""
    from harness.errors import ToolchainError
    from harness.instrument.agent_build import build_agent

    try:
        return build_agent()
    except ToolchainError as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
