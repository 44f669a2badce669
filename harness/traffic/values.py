"""The ``--values`` file: known personal values of the device under test, by data type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import InputError

EXAMPLE = '{"imei": ["356938035643809"], "location": [[39.9087, 116.3975]]}'


def load_values(path: str | Path) -> dict[str, list[Any]]:
    """Read and check a values file; every key is a data type, every value a list."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the values file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the values file must be UTF-8 JSON") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON in the values file: "
                         f"{exc.msg}; expected e.g. {EXAMPLE}") from exc
    if not isinstance(document, dict):
        raise InputError(f"{path}: the values file must be a JSON object of data type -> list "
                         f"of values, got {type(document).__name__}; e.g. {EXAMPLE}")
    for key, entries in document.items():
        if not isinstance(entries, list):
            raise InputError(f"{path}: \"{key}\" must be a list of values, got "
                             f"{type(entries).__name__}; e.g. {EXAMPLE}")
    return document
