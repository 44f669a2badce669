import shutil

import pytest

from harness.errors import ToolchainError
from harness.instrument.agent_build import build_agent, source_hash
from harness.resources import hooks_dir


def _copy_sources(tmp_path):
    project = tmp_path / "hooks"
    shutil.copytree(hooks_dir() / "src", project / "src")
    for name in ("package.json", "package-lock.json", "tsconfig.json"):
        shutil.copy(hooks_dir() / name, project / name)
    return project


def test_missing_npm_dependencies_say_what_to_run(tmp_path):
    project = _copy_sources(tmp_path)
    with pytest.raises(ToolchainError, match=r"npm ci --prefix .*hooks"):
        build_agent(project, cache=tmp_path / "cache")


def test_cache_key_follows_the_sources(tmp_path):
    project = _copy_sources(tmp_path)
    before = source_hash(project)
    assert source_hash(project) == before
    (project / "src" / "index.ts").write_text((project / "src" / "index.ts").read_text() + "\n// x\n")
    assert source_hash(project) != before


@pytest.mark.integration
def test_build_is_cached_by_content(tmp_path, agent_bundle):
    first = build_agent(cache=tmp_path)
    second = build_agent(cache=tmp_path)
    assert not first.cached and second.cached
    assert first.sha256 == second.sha256 and "frida-java-bridge" in first.source


@pytest.mark.integration
def test_type_errors_are_reported_with_file_and_line(tmp_path, agent_bundle):
    project = _copy_sources(tmp_path)
    (project / "node_modules").symlink_to(hooks_dir() / "node_modules")
    (project / "src" / "broken.ts").write_text("export const x: number = 'text';\n")
    (project / "src" / "index.ts").write_text(
        (project / "src" / "index.ts").read_text() + '\nimport { x } from "./broken.js";\nsend(x);\n')
    with pytest.raises(ToolchainError, match=r"src/broken.ts:1:"):
        build_agent(project, cache=tmp_path / "cache")
