"""Job specs and apps.yaml: what is accepted, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.farm.spec import JobSpec, load_apps


def test_defaults_identity_and_json_round_trip() -> None:
    spec = JobSpec(package="com.example.app", night="2026-11-29")
    assert (spec.scenario, spec.target, spec.apk, spec.options) == ("accept", "android", None, {})
    assert spec.identity == ("com.example.app", "accept", "android")
    assert JobSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(("fields", "message"), [
    ({"package": "example"}, "not an Android package name"),
    ({"package": 12}, "not an Android package name"),
    ({"night": "a night/2"}, "night 'a night/2'"),
    ({"night": ""}, "night ''"),
    ({"target": "ios"}, "expected one of android, local"),
    ({"apk": "app.zip"}, "expected a path to an .apk file"),
    ({"scenario": " "}, "scenario: expected"),
    ({"options": {"speed": 2}}, "unknown option 'speed'"),
    ({"options": {"settle": "slow"}}, "options.settle: 'slow' has the wrong type"),
    ({"options": {"settle": True}}, "options.settle: True has the wrong type"),
    ({"options": {"clear": "no"}}, "options.clear"),
    ({"options": {"settle": -1}}, "options.settle: -1 seconds; expected 0 or more"),
    ({"target": "local", "apk": "a.apk"}, "the local target installs nothing"),
    ({"options": {"command": "java -jar x"}}, "only apply to the local target"),
])
def test_invalid_specs_say_what_to_fix(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        JobSpec(**{"package": "com.example.app", "night": "n1", **fields})
    assert message in str(info.value)


def test_from_json_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError, match="unknown fields"):
        JobSpec.from_json({"package": "com.example.app", "night": "n1", "device": "x"})


def _apps(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "apps.yaml"
    path.write_text(text)
    return path


def test_load_apps_builds_one_spec_per_entry(tmp_path: Path) -> None:
    path = _apps(tmp_path, """\
- package: com.example.one
  apk: builds/one.apk
  scenario: reject
- package: com.example.two
  options: {settle: 3, clear: false}
- package: org.consentry.specimen
  target: local
  options: {variant: notice}
""")
    one, two, specimen = load_apps(path, "n7")
    assert one.apk == str((tmp_path / "builds" / "one.apk").resolve())  # beside apps.yaml
    assert (one.scenario, one.night) == ("reject", "n7")
    assert two.options == {"settle": 3, "clear": False} and two.apk is None
    assert specimen.identity == ("org.consentry.specimen", "accept", "local")


@pytest.mark.parametrize(("text", "where", "message"), [
    ("- package: com.example.one\n- package: nodots\n", ":2:", "not an Android package"),
    ("- package: com.example.one\n  target: ios\n", ":2:", "expected one of"),
    ("- package: com.example.one\n  colour: red\n", ":2:", "unknown key 'colour'"),
    ("- package: com.example.one\n- apk: x.apk\n", ":2:", "missing 'package'"),
    ("- package: com.example.one\n- just a string\n", ":2:", "expected a mapping"),
    ("package: com.example.one\n", ":1:", "expected a list of apps"),
    ("- package: com.example.one\n  options:\n    settle: 1\n    speed: 2\n", ":2:",
     "unknown option 'speed'"),
    ("- package: com.example.one\n- package: [oops\n", ":3:", "not valid YAML"),
    ("- package: com.example.one\n\n- package: com.example.one\n", ":3:",
     "same package, scenario and target as line 1"),
    ("- package: com.example.one\n- package: com.example.two\n  scenario: rejct\n", ":3:",
     "scenario: no scenario named 'rejct'"),
    ("- package: com.example.one\n  scenario: flows/missing.yaml\n", ":2:",
     "flows/missing.yaml does not exist"),
    ("- package: com.example.one\n  options: {settle: -0.5}\n", ":2:",
     "expected 0 or more"),
    ("- package: com.example.one\n  options:\n    categories: device_id,telepathy\n", ":3:",
     "options.categories: unknown ['telepathy']"),
])
def test_apps_errors_name_file_and_line(tmp_path: Path, text: str, where: str,
                                        message: str) -> None:
    path = _apps(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_apps(path, "n1")
    assert str(info.value).startswith(f"{path}{where}"), str(info.value)
    assert message in str(info.value)


def test_empty_apps_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty"):
        load_apps(_apps(tmp_path, ""), "n1")
    with pytest.raises(ConfigError, match="empty"):
        load_apps(_apps(tmp_path, "[]\n"), "n1")


def test_a_bad_night_label_is_named_as_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^--night 'to night'"):
        load_apps(_apps(tmp_path, "- package: com.example.one\n"), "to night")


def test_scenario_paths_are_relative_to_apps_yaml_and_checked(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "login.yaml").write_text("name: login\nsteps:\n  - launch\n  - wait: 1\n")
    path = _apps(tmp_path, "- package: com.example.one\n  scenario: flows/login.yaml\n"
                 "  options: {categories: 'device_id, location'}\n")
    (spec,) = load_apps(path, "n1")
    assert spec.scenario == str((tmp_path / "flows" / "login.yaml").resolve())
    (tmp_path / "flows" / "login.yaml").write_text("name: login\nsteps:\n  - fly: 3\n")
    with pytest.raises(ConfigError) as info:  # a scenario that does not parse: its own line
        load_apps(path, "n1")
    assert str(info.value).startswith(f"{path}:2: scenario: ") and "login.yaml" in str(info.value)
