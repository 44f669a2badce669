"""Build the Frida agent on demand and cache it by the hash of its sources.

The agent is TypeScript (``hooks/src``) importing ``frida-java-bridge``; frida's own
compiler bundles it. The cache key covers the sources, the npm lock file and the Frida
version, so a change to any of them rebuilds, and nothing else does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ToolchainError
from harness.instrument import frida_adapter
from harness.resources import cache_dir, hooks_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentBundle:
    source: str
    sha256: str
    """Hash of the compiled bundle (recorded in the manifest)."""
    path: Path
    java_bridge: str
    cached: bool


def _inputs(project: Path) -> list[Path]:
    files = sorted((project / "src").rglob("*.ts"))
    files += [p for p in (project / "package-lock.json", project / "package.json",
                          project / "tsconfig.json") if p.exists()]
    return files


def source_hash(project: Path) -> str:
    digest = hashlib.sha256(f"frida {frida_adapter.frida_version()}\n".encode())
    for path in _inputs(project):
        digest.update(path.relative_to(project).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def java_bridge_version(project: Path) -> str:
    import json

    package = project / "node_modules" / "frida-java-bridge" / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "missing"


def build_agent(project: Path | None = None, *, cache: Path | None = None) -> AgentBundle:
    """Return the compiled agent, building it when its sources changed."""
    project = project or hooks_dir()
    if not (project / "src" / "index.ts").exists():
        raise ToolchainError(f"{project}: the agent sources (src/index.ts) are missing")
    bridge = java_bridge_version(project)
    if bridge == "missing":
        raise ToolchainError(
            f"the agent's npm dependencies are not installed: run `npm ci --prefix {project}` "
            "(needs Node.js and npm)"
        )
    key = source_hash(project)
    out_dir = (cache or cache_dir()) / "agent"
    out = out_dir / f"{key}.js"
    if out.exists():
        source = out.read_text(encoding="utf-8")
        return AgentBundle(source, hashlib.sha256(source.encode()).hexdigest(), out, bridge, True)
    log.info("building the Frida agent from %s", project)
    source = frida_adapter.compile_agent(project / "src" / "index.ts", project)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a parallel build never reads a half-written bundle.
    with tempfile.NamedTemporaryFile("w", dir=out_dir, delete=False, suffix=".tmp",
                                     encoding="utf-8") as tmp:
        tmp.write(source)
    os.replace(tmp.name, out)
    return AgentBundle(source, hashlib.sha256(source.encode()).hexdigest(), out, bridge, False)
