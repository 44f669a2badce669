import pytest

from harness.errors import ScenarioError
from harness.scenario.loader import builtin_names, load_scenario, parse_scenario


def test_builtin_scenarios_load_by_name():
    assert {"accept", "reject"} <= set(builtin_names())
    accept = load_scenario("accept")
    assert accept.name == "accept"
    assert [s.kind for s in accept.steps][0] == "launch"
    assert any(s.kind == "consent" and s.action == "accept" for s in accept.steps)
    assert accept.description.startswith("accept:")
    assert len(accept.sha256) == 64


def test_every_step_kind_parses():
    text = """name: all
steps:
  - launch
  - wait: 1.5
  - wait_for: {text: "同意", timeout: 5}
  - click: {resource_id: "a:id/b"}
  - click: {x: 10, y: 20}
  - back
  - home
  - background: 2
  - restart
  - press: enter
  - screenshot: here
  - consent: accept
  - consent: {action: reject, text: "不同意"}
  - permission: deny
"""
    scenario = parse_scenario(text, "all.yaml")
    kinds = [s.kind for s in scenario.steps]
    assert kinds == ["launch", "wait", "wait_for", "click", "click", "back", "home", "background",
                     "restart", "press", "screenshot", "consent", "consent", "permission"]
    assert scenario.steps[2].timeout == 5 and scenario.steps[2].selector.text == "同意"
    assert scenario.steps[12].selector.text == "不同意" and scenario.steps[12].line == 15


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps:\n  - launch\n  - wiat: 3\n", "bad.yaml:4: unknown step 'wiat'; expected one of"),
        ("name: x\nsteps:\n  - launch\n  - jump\n", "bad.yaml:4: unknown step 'jump'"),
        ("name: x\nsteps:\n  - wait: soon\n", "bad.yaml:3: wait: expected a number of seconds"),
        ("name: x\nsteps:\n  - consent: maybe\n", "bad.yaml:3: consent: expected accept or reject"),
        ("name: x\nsteps:\n  - click: {txt: a}\n", "bad.yaml:3: click: unknown key 'txt'"),
        ("name: x\nsteps:\n  - launch: now\n", "bad.yaml:3: launch takes no argument"),
        ("name: x\nsteps:\n  - press: power\n", "bad.yaml:3: press: expected one of"),
        ("name: x\nsteps: []\n", "bad.yaml:2: 'steps' must be a non-empty list"),
        ("steps: [launch]\n", "bad.yaml:1: 'name' must be a non-empty string"),
        ("name: x\nsteps:\n  - launch\nextra: 1\n", "bad.yaml:4: unknown key 'extra'"),
        ("name: x\nsteps:\n  - wait_for: {timeout: 3}\n", "bad.yaml:3: wait_for needs text"),
        ("name: x\nsteps: [\n", "bad.yaml:3: not valid YAML"),
        ("- a\n- b\n", "bad.yaml:1: a scenario is a mapping"),
    ],
)
def test_bad_scenarios_name_file_line_and_expectation(text, expected):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bad.yaml")
    assert expected in str(info.value)


def test_unknown_name_lists_builtins(tmp_path):
    with pytest.raises(ScenarioError, match="built-in scenarios: .*accept"):
        load_scenario("nonexistent")
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(str(tmp_path / "missing.yaml"))
