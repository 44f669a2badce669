"""The bundled specimen ready to run on the local target, with its local HTTPS tracker
standing in for the SDK hosts: one setup for ``consentry demo``, the pytest plugin and the
farm's local jobs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.targets.base import AppSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecimenSetup:
    app: AppSpec
    """The specimen, with a fresh data folder (no consent stored yet)."""
    resolve: list[str]
    """Proxy host overrides (``host:443=127.0.0.1:PORT``) sending the trackers' hosts to the
    local tracker; sessions need ``ssl_insecure`` too, for that upstream leg only."""


@contextmanager
def specimen_with_tracker(variant: str = "default") -> Iterator[SpecimenSetup]:
    """The specimen (``variant``: see ``consentry demo``) and its tracker, while in use."""
    from harness.specimen.tracker import TrackerServer
    from harness.targets.local import specimen_app

    with TrackerServer() as tracker, tempfile.TemporaryDirectory(prefix="consentry-") as tmp:
        host, port = tracker.address
        yield SpecimenSetup(app=specimen_app(Path(tmp) / "data", variant=variant),
                            resolve=[f"{name}:443={host}:{port}" for name in tracker.hosts])
