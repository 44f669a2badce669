"""Compile the specimen's Java sources on demand, cached by the sources' content hash.

The output is ``<cache>/specimen/<hash>/classes``; a build that finds it is a cache hit. A build
compiles into a private temp directory and renames it into place, so two builds racing for the
same hash both end with a complete tree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ToolchainError
from harness.resources import cache_dir, specimen_dir

INSTALL_HINT = "install a JDK 17 (e.g. `apt-get install openjdk-17-jdk-headless`)"


@dataclass(frozen=True, slots=True)
class SpecimenBuild:
    classes_dir: Path
    """The ``-cp`` entry that runs ``org.consentry.specimen.Main``."""
    source_hash: str
    """sha256 over the sources (names the cache entry)."""
    classes_sha256: str
    """sha256 over the compiled classes: the program's identity for the manifest."""
    cache_hit: bool


def source_files(root: Path | None = None) -> list[Path]:
    base = root or specimen_dir()
    return sorted(base.rglob("*.java"))


def tree_hash(root: Path, pattern: str) -> str:
    """sha256 over every matching file's relative path and content, in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def build_specimen(*, sources: Path | None = None, cache: Path | None = None,
                   javac: str | None = None) -> SpecimenBuild:
    """The compiled specimen, compiling it first unless the cache already has this version."""
    src = sources or specimen_dir()
    if not source_files(src):
        raise ToolchainError(f"no specimen sources (*.java) under {src}; reinstall consentry")
    source_hash = tree_hash(src, "*.java")
    entry = (cache or cache_dir()) / "specimen" / source_hash[:32]
    classes = entry / "classes"
    if classes.is_dir():
        return SpecimenBuild(classes, source_hash, tree_hash(classes, "*.class"), True)
    compiler = javac or shutil.which("javac")
    if compiler is None:
        raise ToolchainError(f"javac not found on PATH; {INSTALL_HINT}")
    entry.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="classes.", dir=entry))
    try:
        _compile(compiler, src, staging)
        try:
            os.rename(staging, classes)
        except OSError:
            if not classes.is_dir():  # not a lost race with another build: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SpecimenBuild(classes, source_hash, tree_hash(classes, "*.class"), False)


def _compile(compiler: str, src: Path, out: Path) -> None:
    argfile = out / "sources.txt"
    argfile.write_text("\n".join(str(p) for p in source_files(src)), encoding="utf-8")
    command = [compiler, "--release", "17", "-encoding", "UTF-8", "-nowarn",
               "-d", str(out), f"@{argfile}"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except FileNotFoundError as exc:
        raise ToolchainError(f"cannot run {compiler}: {exc}; {INSTALL_HINT}") from exc
    finally:
        argfile.unlink(missing_ok=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-2000:]
        raise ToolchainError(
            f"javac failed compiling the specimen ({src}); a JDK 17 or newer javac is "
            f"needed ({INSTALL_HINT}). javac said:\n{tail}"
        )
