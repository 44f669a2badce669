"""File helpers shared by everything that writes evidence or outputs: hashing, and writing a
file whole or not at all."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from harness.errors import EvidenceError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename it over
    ``path``: a crash never leaves half a file under the real name, and two writers never
    share a temporary file. Temporary names end in ``.tmp`` (the manifest skips them)."""
    path = Path(path)
    tmp: str | None = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                         prefix=f".{path.name}.", suffix=".tmp",
                                         delete=False) as handle:
            tmp = handle.name
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise EvidenceError(f"{path}: cannot write ({exc}); check the directory is writable "
                            "and the disk is not full") from exc
