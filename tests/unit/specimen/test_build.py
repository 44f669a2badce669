"""Building the specimen: javac output cached by the sources' hash, clear toolchain errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import ToolchainError
from harness.resources import specimen_dir
from harness.specimen.build import build_specimen, tree_hash

needs_javac = pytest.mark.skipif(shutil.which("javac") is None, reason="needs javac (JDK 17)")


def write_sources(root: Path, greeting: str = "hi") -> Path:
    pkg = root / "src" / "demo"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "Hello.java").write_text(
        "package demo;\npublic class Hello {\n"
        f"  public static String greet() {{ return \"{greeting}\"; }}\n}}\n")
    return root / "src"


@needs_javac
def test_second_build_is_a_cache_hit(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    first = build_specimen(sources=sources, cache=tmp_path / "cache")
    assert not first.cache_hit
    assert (first.classes_dir / "demo" / "Hello.class").is_file()
    assert not list(first.classes_dir.rglob("sources.txt"))
    second = build_specimen(sources=sources, cache=tmp_path / "cache")
    assert second.cache_hit
    assert (second.classes_dir, second.classes_sha256) == (first.classes_dir,
                                                          first.classes_sha256)


@needs_javac
def test_changed_sources_build_again(tmp_path: Path) -> None:
    sources = write_sources(tmp_path, "hi")
    first = build_specimen(sources=sources, cache=tmp_path / "cache")
    write_sources(tmp_path, "hello")
    second = build_specimen(sources=sources, cache=tmp_path / "cache")
    assert not second.cache_hit and second.source_hash != first.source_hash
    assert second.classes_dir != first.classes_dir


def test_missing_javac_says_which_jdk_to_install(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolchainError, match="openjdk-17-jdk-headless"):
        build_specimen(sources=write_sources(tmp_path), cache=tmp_path / "cache")


@needs_javac
def test_compile_errors_are_reported_with_javac_output(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    (sources / "demo" / "Broken.java").write_text("package demo; class Broken { int x = ; }\n")
    with pytest.raises(ToolchainError, match=r"(?s)javac failed.*Broken.java"):
        build_specimen(sources=sources, cache=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("classes"))


def test_no_sources_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(ToolchainError, match="no specimen sources"):
        build_specimen(sources=tmp_path / "src", cache=tmp_path / "cache")


def test_tree_hash_follows_content_and_names(tmp_path: Path) -> None:
    sources = write_sources(tmp_path)
    before = tree_hash(sources, "*.java")
    assert tree_hash(sources, "*.java") == before
    (sources / "demo" / "Hello.java").rename(sources / "demo" / "Other.java")
    assert tree_hash(sources, "*.java") != before


def test_the_real_specimen_sources_are_present() -> None:
    names = {p.relative_to(specimen_dir()).as_posix() for p in specimen_dir().rglob("*.java")}
    assert "org/consentry/specimen/Main.java" in names
    assert "android/telephony/TelephonyManager.java" in names
    assert "com/umeng/commonsdk/UMConfigure.java" in names
