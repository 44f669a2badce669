"""The built-in scenarios and the in-session UI checks, end to end on the specimen: real JVM,
real Frida agent, real mitmdump with TLS, through ``demo_session``. Short waits: the specimen
answers a click only after its reaction ran."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.engine import analyze
from harness.commands.demo import demo_session
from harness.session import SessionResult
from harness.specimen import facts

pytestmark = pytest.mark.integration


def _scenario(tmp_path: Path, name: str, steps: str, options: str = "") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"# {name}: test scenario\nname: {name}\n{options}steps:\n{steps}",
                    encoding="utf-8")
    return str(path)


def _events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _of(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return [e for e in _events(run_dir) if e["type"] == kind]


def _findings(run: SessionResult) -> dict[str, list[dict[str, Any]]]:
    doc = json.loads((run.run_dir / "findings.json").read_text())
    out: dict[str, list[dict[str, Any]]] = {}
    for finding in doc["findings"]:
        out.setdefault(finding["rule"], []).append(finding)
    return out


Demo = Callable[..., SessionResult]


@pytest.fixture
def demo(tmp_path: Path, jdk: str, agent_bundle: object) -> Demo:
    def run(scenario: str, variant: str = "default") -> SessionResult:
        result = demo_session(scenario, tmp_path / "run", variant=variant, settle=1.0)
        assert result.status == "complete", result.reason
        return result
    return run


def test_accept_background_finds_the_dialog_and_records_the_background_period(demo: Demo, tmp_path: Path) -> None:
    run = demo(_scenario(tmp_path, "ab", "  - launch\n  - wait: 1\n  - consent: accept\n"
                         "  - background: 2\n  - wait: 1\n"))
    (shown,) = _of(run.run_dir, "consent.shown")
    assert shown["data"]["by"] == "detector"
    detection = shown["data"]["detection"]
    assert detection["dialog"] == "consent" and detection["accept"]["text"] == "同意"
    assert detection["reject"]["text"] == "不同意"
    (accept,) = _of(run.run_dir, "consent.accept")
    assert accept["data"]["control"]["resource_id"] == "org.consentry.specimen:id/btn_agree"
    (back,) = _of(run.run_dir, "app.background")
    assert back["data"]["cause"] == "harness" and back["data"]["seconds"] == 2
    again = [e for e in _of(run.run_dir, "app.foreground") if e["t"] > back["t"]]
    assert again and again[0]["data"]["background_s"] >= 2.0
    lifecycle = [e["type"] for e in _events(run.run_dir) if e["type"].startswith("lifecycle.")]
    assert "lifecycle.pause" in lifecycle
    assert "exit-after-refusal" not in _findings(run)


def test_notice_variant_yields_the_dialog_design_findings(demo: Demo, tmp_path: Path) -> None:
    run = demo(_scenario(tmp_path, "n", "  - launch\n  - wait: 1\n  - consent: accept\n"
                         "  - wait: 1\n"), variant="notice")
    findings = _findings(run)
    for rule in ("pre-ticked-consent", "ambiguous-accept", "no-reject-option"):
        (finding,) = findings[rule]
        assert finding["sdk"] == "app" and finding["refs"], rule
        assert (run.run_dir / finding["details"]["screen"]).read_text().startswith("<?xml")
        assert finding["details"]["accept"]["text"] == "我知道了"
    assert any("CN-DEFAULT-01" in r for r in findings["pre-ticked-consent"][0]["refs"])
    assert any("Recital 32" in r for r in findings["pre-ticked-consent"][0]["refs"])
    assert any("CN-BUTTONS-01" in r for r in findings["ambiguous-accept"][0]["refs"])
    assert "accept-highlighted" not in findings


def test_second_layer_is_refused_again(demo: Demo, tmp_path: Path) -> None:
    run = demo(_scenario(tmp_path, "sl", "  - launch\n  - wait: 1\n  - consent: reject\n"
                         "  - wait: 1\n"), variant="second-layer")
    rejects = _of(run.run_dir, "consent.reject")
    assert [r["data"]["layer"] for r in rejects] == [1, 2]
    assert rejects[1]["data"]["control"]["text"] == "仍不同意"
    assert [s["data"]["layer"] for s in _of(run.run_dir, "consent.shown")] == [1, 2]
    health_screen = (run.run_dir / rejects[1]["data"]["screen"]).read_text()
    assert "再想想" in health_screen
    assert "exit-after-refusal" not in _findings(run)
    assert "collect-after-refusal" in _findings(run)


def test_exit_on_the_second_layer_is_exit_after_refusal(tmp_path: Path, jdk: str,
                                                        agent_bundle: object) -> None:
    scenario = _scenario(tmp_path, "exit", "  - launch\n  - wait: 1\n"
                         "  - consent: {action: reject, text: 不同意}\n"
                         "  - consent: {action: reject, text: 退出}\n  - wait: 3\n")
    out = tmp_path / "run"
    # An app that ends itself after a refusal is an outcome to judge, not a failed run: the
    # scenario stops there, and the run completes and is analysed.
    demo_session(scenario, out, variant="second-layer", settle=1.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert _of(out, "scenario.stopped")
    assert [r["data"]["layer"] for r in _of(out, "consent.reject")] == [1, 2]
    result = analyze(out)
    (finding,) = [f for f in result.findings if f.rule == "exit-after-refusal"]
    assert finding.details["refusal"]["layer"] == 2
    assert 0 <= finding.details["seconds_after_refusal"] <= 10
    assert finding.details["left"]["type"] in ("app.background", "app.exit")


def test_permission_deny_records_prompts_answers_and_the_reask(demo: Demo) -> None:
    run = demo("permission-deny", variant="permissions")
    prompts = _of(run.run_dir, "permission.prompt")
    answers = _of(run.run_dir, "permission.answer")
    assert len(prompts) >= 2 and len(answers) >= 2
    assert prompts[0]["data"]["package"] == "com.google.android.permissioncontroller"
    assert prompts[0]["data"]["message"] == "Allow Specimen to access this device's location?"
    assert prompts[0]["data"]["policy"] == "deny"
    assert answers[0]["data"]["answer"] == "deny" and answers[0]["data"]["auto"] is False
    assert answers[0]["data"]["control"]["resource_id"].endswith("permission_deny_button")
    assert answers[1]["data"]["auto"] is True  # the re-ask, answered by the policy
    assert answers[0]["t"] > prompts[0]["t"]
    requests = [e for e in _of(run.run_dir, "permission.request")]
    assert len(requests) >= 2  # the agent saw the app call requestPermissions each time
    (reask,) = _findings(run)["permission-reasked-after-denial"]
    assert reask["details"]["min_interval_s"] >= 3.0  # the 3 s in the background
    assert "exit-after-refusal" not in _findings(run)


def test_reject_restart_shows_the_dialog_again(demo: Demo) -> None:
    run = demo("reject-restart")
    shown = _of(run.run_dir, "consent.shown")
    assert len(shown) == 2 and [s["data"]["layer"] for s in shown] == [1, 1]
    assert len(_of(run.run_dir, "app.spawn")) == 2
    (finding,) = _findings(run)["consent-reshown-after-refusal"]
    assert finding["details"]["severity"] == "info"
    assert finding["details"]["shown_on_starts"] == 1


def test_idle_run_is_all_before_consent(demo: Demo, tmp_path: Path) -> None:
    run = demo(_scenario(tmp_path, "idle", "  - launch\n  - wait: 2\n"))
    types = {e["type"] for e in _events(run.run_dir)}
    assert not types & {"consent.shown", "consent.accept", "consent.reject"}
    doc = json.loads((run.run_dir / "findings.json").read_text())
    assert doc["consent"]["state"] == "never"
    umeng = [f for f in _findings(run)["collect-before-consent"] if f["sdk"] == "Umeng"]
    assert umeng and "imei" in umeng[0]["data_types"]
    assert not any(f.endswith("after-refusal") for f in _findings(run))


def test_explore_clicks_distinct_items_and_stays_in_the_app(demo: Demo) -> None:
    run = demo("explore")
    clicks = _of(run.run_dir, "explore.click")
    labels = [c["data"]["text"] or c["data"]["resource_id"] for c in clicks]
    assert len(set(labels)) >= 2 and len(labels) == len(set(labels))
    assert not any(word in label for label in labels for word in ("退出", "注销"))
    for click in clicks:
        assert (run.run_dir / click["data"]["screen"]).is_file()
    (done,) = _of(run.run_dir, "explore.done")
    assert done["data"]["clicks"] == len(clicks) and done["data"]["seconds"] <= 60
    reads = [e for e in _of(run.run_dir, "hook.call") if e["data"]["data_type"] == "clipboard"]
    assert any(facts.GROUND_TRUTH["clipboard"][0] in json.dumps(r["data"]) for r in reads)
    assert not [e for e in _of(run.run_dir, "app.background") if e["data"]["cause"] == "app"]
