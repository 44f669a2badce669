"""Where the files that ship beside the code live: the agent sources, scenarios, data tables.

In a source checkout (or an editable install) they are the top-level ``hooks/`` and
``scenarios/`` folders; a wheel carries copies under ``harness/_hooks`` and
``harness/_scenarios`` (see ``[tool.hatch.build.targets.wheel.force-include]``).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_ROOT = PACKAGE_DIR.parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[0]


def hooks_dir() -> Path:
    """The Frida agent project (package.json, src/, catalogue/)."""
    return _first_existing(_CHECKOUT_ROOT / "hooks", PACKAGE_DIR / "_hooks")


def catalogue_dir() -> Path:
    """The hook catalogue, kept as data (one YAML file per family)."""
    return hooks_dir() / "catalogue"


def scenarios_dir() -> Path:
    """The built-in UI scenarios."""
    return _first_existing(_CHECKOUT_ROOT / "scenarios", PACKAGE_DIR / "_scenarios")


def data_dir() -> Path:
    """consentry's own data tables (SDK prefixes, tracker hosts, keywords)."""
    return PACKAGE_DIR / "data"


def specimen_dir() -> Path:
    """Java sources of the specimen app."""
    return PACKAGE_DIR / "specimen" / "java"


def cache_dir() -> Path:
    """Per-user cache for build outputs (compiled agent, compiled specimen)."""
    import os

    base = os.environ.get("CONSENTRY_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "consentry" if not os.environ.get("CONSENTRY_CACHE") else root
