"""The pytest plugin's glue without sessions: the step builder, scenario coercion, findings
filters and assertion messages on recorded bundles, settings resolution and the runner's
refusal of runs that lost evidence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.analysis.engine import analyze
from harness.errors import ScenarioError
from harness.pytest_plugin import resolve_settings
from harness.pytest_support import ConsentryRun, RunIncomplete, steps
from harness.pytest_support.apps import Prepared, SpecimenApp
from harness.pytest_support.runner import Consentry, slug, to_scenario, unique_slug
from harness.scenario.loader import load_scenario
from harness.session import SessionResult
from harness.targets.base import AppSpec
from tests.unit.crashing_rule import CrashingRule

pytest_plugins = ["pytester"]


# -- steps ------------------------------------------------------------------------------------

def test_steps_build_the_scenario_a_yaml_file_would():
    scenario = (steps.launch().wait(2).consent("reject").restart().background(3)
                .click("Settings").click(x=10, y=20).consent("accept", resource_id="app:id/ok")
                .permission("deny").press("back").screenshot("end").explore(5, max_clicks=3)
                .wait_for(text_contains="Welcome", timeout=4).home().back()
                .options(permissions="allow").build("mine"))
    assert scenario.name == "mine"
    assert [s.describe() for s in scenario.steps] == [
        "launch", "wait 2s", "consent reject", "restart", "background 3s",
        "click text='Settings'", "click at 10,20", "consent accept resource_id='app:id/ok'",
        "permission deny", "press back", "screenshot end", "explore 5s max 3 clicks",
        "wait_for text_contains='Welcome'", "home", "back"]
    assert scenario.steps[-3].timeout == 4
    assert scenario.permission_policy == "allow"
    assert scenario.to_manifest()["path"] == "<python steps>" and len(scenario.sha256) == 64


def test_steps_are_immutable_so_prefixes_can_be_shared():
    start = steps.launch().wait(3)
    accept, reject = start.consent("accept"), start.consent("reject")
    assert len(steps) == 0 and len(start) == 2
    assert accept.items[-1] == {"consent": "accept"} and reject.items[-1] == {"consent": "reject"}


def test_a_bad_python_step_is_reported_like_a_bad_file_step():
    with pytest.raises(ScenarioError, match=r"^<python steps>: step 3 \({'consent': 'maybe'}\): "
                                            r"consent: expected accept or reject, got 'maybe'$"):
        steps.launch().wait(1).consent("maybe").build()
    with pytest.raises(ScenarioError, match=r"step 2 .*click: \{x, y\} must be two integers"):
        steps.launch().click(x=1).build()
    with pytest.raises(ScenarioError, match="press: expected one of"):
        steps.launch().press("volume").build()
    with pytest.raises(ScenarioError, match="non-empty list"):
        steps.build()


def test_every_kind_of_scenario_becomes_a_scenario(tmp_path):
    builtin = to_scenario("accept")
    assert builtin.name == "accept" and builtin.sha256 == load_scenario("accept").sha256
    assert to_scenario(builtin) is builtin
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nsteps:\n  - launch\n  - wait: 1\n")
    assert to_scenario(path).name == "mine" and to_scenario(str(path)).path == str(path)
    listed = to_scenario(["launch", {"wait": 2}, {"consent": "reject"}], name="listed")
    assert listed.name == "listed" and [s.kind for s in listed.steps] == ["launch", "wait",
                                                                         "consent"]
    assert to_scenario(steps.launch()).name == "steps"
    with pytest.raises(ScenarioError, match="no scenario named 'nope'"):
        to_scenario("nope")
    with pytest.raises(TypeError, match="not int"):
        to_scenario(3)  # type: ignore[arg-type]


def test_slug_keeps_test_ids_file_name_safe():
    assert slug("tests/test_x.py::test_a[ü b/c]") == "tests-test_x.py-test_a-b-c"
    assert slug("...") == "run" and len(slug("x" * 500)) == 60


def test_test_folders_of_different_ids_never_collide():
    assert unique_slug("t.py::test_x[a b]") != unique_slug("t.py::test_x[a-b]")
    long_a, long_b = "t.py::test_" + "p" * 150 + "[1]", "t.py::test_" + "p" * 150 + "[2]"
    assert unique_slug(long_a) != unique_slug(long_b)
    assert unique_slug("t.py::test_x[a b]") == unique_slug("t.py::test_x[a b]")
    assert unique_slug("t.py::test_x[a b]").startswith("t.py-test_x-a-b-")


# -- ConsentryRun on the recorded reject bundle ----------------------------------------------

@pytest.fixture
def reject_run(run_copy) -> ConsentryRun:
    run_dir = run_copy("reject")
    return ConsentryRun(dir=run_dir, scenario=load_scenario("reject"), app="recorded bundle",
                        analysis=analyze(run_dir))


def test_findings_for_filters_by_rule_sdk_and_data_type(reject_run):
    assert len(reject_run.findings) == 4
    assert [f.sdk for f in reject_run.findings_for("collect-after-refusal")] == [
        "Umeng", "unknown: com.acme.tracker"]
    assert [f.rule for f in reject_run.findings_for(sdk="umeng")] == [
        "collect-before-consent", "collect-after-refusal"]
    assert [f.rule for f in reject_run.findings_for(data_type="android_id")] == [
        "collect-before-consent"]
    assert reject_run.findings_for("collect-after-refusal", sdk="Umeng", data_type="mac") == []
    assert reject_run.findings_for("send-before-consent") == []
    assert reject_run.status == "complete" and reject_run.consent.state == "rejected"


def test_a_misspelt_rule_is_an_error_not_a_pass(reject_run):
    with pytest.raises(ValueError, match="unknown rule 'colect-before-consent'; the rules are: "
                                         "collect-before-consent, "):
        reject_run.assert_no_findings("colect-before-consent")
    with pytest.raises(ValueError, match="unknown rule"):
        reject_run.findings_for("nope")


def test_assert_no_findings_message_carries_the_evidence(reject_run):
    reject_run.assert_no_findings("send-before-consent", "permission-after-refusal")
    reject_run.assert_no_findings("collect-after-refusal", sdk="Adjust")
    with pytest.raises(AssertionError) as failure:
        reject_run.assert_no_findings("collect-after-refusal", "send-after-refusal")
    message = str(failure.value)
    lines = message.splitlines()
    assert lines[0] == ("expected no findings of collect-after-refusal, send-after-refusal, "
                        "got 3:")
    umeng = next(line for line in lines if line.startswith("- collect-after-refusal: Umeng"))
    assert "(com.umeng)" in umeng and "; imei; " in umeng and "first seen at " in umeng
    assert "e.g. at com.umeng." in lines[lines.index(umeng) + 1]
    assert any("send-after-refusal" in line and "sent to " in line for line in lines)
    assert lines[-1] == f"bundle: {reject_run.dir}"
    with pytest.raises(AssertionError, match=r"(?s)got 4:.*collect-before-consent"):
        reject_run.assert_no_findings()


def test_assert_finding_returns_matches_or_lists_what_there_is(reject_run):
    (found,) = reject_run.assert_finding("collect-before-consent", sdk="Umeng")
    assert found.data_types == ("android_id",)
    with pytest.raises(AssertionError) as failure:
        reject_run.assert_finding("send-before-consent", sdk="Umeng", data_type="imei")
    message = str(failure.value)
    assert message.startswith("expected a finding send-before-consent sdk=Umeng "
                              "data_type=imei; the run has 4:")
    assert "- collect-after-refusal: unknown: com.acme.tracker; imei" in message
    assert message.endswith(f"bundle: {reject_run.dir}")


def test_a_crashed_rule_is_not_silence(run_copy):
    run_dir = run_copy("accept")
    run = ConsentryRun(dir=run_dir, scenario=load_scenario("accept"), app="recorded",
                       analysis=analyze(run_dir, rules=[CrashingRule("send-before-consent", RuntimeError("boom"))]))
    assert run.findings == []
    with pytest.raises(AssertionError, match="rule send-before-consent crashed, so its verdict "
                                             "is unknown: RuntimeError: boom"):
        run.assert_no_findings("send-before-consent")
    assert "rule send-before-consent crashed: RuntimeError: boom" in run.summary()


def test_assert_finding_names_the_crash_of_the_rule_it_asks_about(run_copy):
    run_dir = run_copy("accept")
    rules = [CrashingRule("send-before-consent", RuntimeError("boom")),
             CrashingRule("collect-before-consent", ValueError("other"))]
    run = ConsentryRun(dir=run_dir, scenario=load_scenario("accept"), app="recorded",
                       analysis=analyze(run_dir, rules=rules))
    with pytest.raises(AssertionError) as failure:
        run.assert_finding("send-before-consent", sdk="Umeng")
    lines = str(failure.value).splitlines()
    assert lines[0] == ("rule send-before-consent crashed, so it could not report the finding: "
                        "RuntimeError: boom")
    assert lines[1].startswith("expected a finding send-before-consent sdk=Umeng")
    assert "collect-before-consent crashed" not in str(failure.value)  # not the rule asked about


def test_summary_names_scenario_app_status_consent_findings_and_bundle(reject_run):
    lines = reject_run.summary().splitlines()
    assert lines[0] == ("scenario 'reject', recorded bundle: complete, consent rejected, "
                        "4 finding(s)")
    assert sum(line.startswith("- ") for line in lines) == 4
    assert lines[-1] == f"bundle: {reject_run.dir}"


# -- the runner refuses runs that lost evidence ------------------------------------------------

class _RecordedApp:
    """Stands in for a target: the 'session' below copies a recorded bundle."""

    target_name = "local"

    def describe(self) -> str:
        return "recorded app"

    def open(self, out: Path, stack: object) -> Prepared:
        return Prepared(target=object(), app=AppSpec(package="org.example"))  # type: ignore[arg-type]


def _fake_session(bundle: Path):  # type: ignore[no-untyped-def]
    class FakeSession:
        def __init__(self, target, app, scenario, options) -> None:  # type: ignore[no-untyped-def]
            self.out = options.out

        def run(self) -> SessionResult:
            shutil.copytree(bundle, self.out)
            return SessionResult(self.out, "complete", None, analysis=analyze(self.out))

    return FakeSession


@pytest.mark.parametrize(("bundle", "reason"), [
    ("truncated", "status incomplete"),
])
def test_run_raises_when_the_bundle_is_incomplete(monkeypatch, runs, tmp_path, bundle, reason):
    monkeypatch.setattr("harness.pytest_support.runner.Session", _fake_session(runs / bundle))
    runner = Consentry(_RecordedApp(), tmp_path / "out")
    with pytest.raises(RunIncomplete, match=reason) as failure:
        runner.run("accept")
    assert failure.value.run_dir == tmp_path / "out" / "1-accept"
    assert str(failure.value.run_dir) in str(failure.value)
    (record,) = runner.runs
    assert record.result is not None and record.result.status == "incomplete"


def test_run_raises_on_a_degraded_bundle_unless_allowed(monkeypatch, runs, tmp_path):
    degraded = tmp_path / "degraded"
    shutil.copytree(runs / "accept", degraded)
    manifest = (degraded / "manifest.json").read_text()
    assert '"degraded": []' in manifest
    (degraded / "manifest.json").write_text(
        manifest.replace('"degraded": []', '"degraded": ["agent dropped 7 events"]'))
    monkeypatch.setattr("harness.pytest_support.runner.Session", _fake_session(degraded))
    runner = Consentry(_RecordedApp(), tmp_path / "out")
    with pytest.raises(RunIncomplete, match="degraded: agent dropped 7 events"):
        runner.run(steps.launch())
    run = runner.run(steps.launch(), allow_degraded=True)
    assert run.dir.name == "2-steps" and run.degraded == ["agent dropped 7 events"]
    assert "complete (degraded: agent dropped 7 events)" in run.summary()


def test_run_raises_on_a_bundle_with_warnings_unless_allowed(monkeypatch, runs, tmp_path):
    # A complete run whose traffic was not fully searched (a decoder cap) lost evidence too.
    note = "not fully searched: flow 0 (https://example.org/u): body: gzip output capped"
    monkeypatch.setattr(ConsentryRun, "warnings", property(lambda run: [note]))
    monkeypatch.setattr("harness.pytest_support.runner.Session", _fake_session(runs / "accept"))
    runner = Consentry(_RecordedApp(), tmp_path / "out")
    with pytest.raises(RunIncomplete, match="gzip output capped"):
        runner.run(steps.launch())
    assert runner.run(steps.launch(), allow_degraded=True).warnings == [note]


def test_runs_get_numbered_directories_and_never_reuse_one(monkeypatch, runs, tmp_path):
    monkeypatch.setattr("harness.pytest_support.runner.Session", _fake_session(runs / "accept"))
    runner = Consentry(_RecordedApp(), tmp_path / "out")
    first = runner.run("accept")
    second = runner.run(["launch"], name="again")
    assert (first.dir.name, second.dir.name) == ("1-accept", "2-again")
    assert first.app == "recorded app" and (first.dir / "events.jsonl").is_file()


# -- settings -----------------------------------------------------------------------------------

def test_default_settings_run_the_specimen_locally(pytester):
    settings = resolve_settings(pytester.parseconfig())
    assert (settings.target, settings.variant, settings.capture, settings.keep) == (
        "local", "default", "regular", False)
    assert settings.output == pytester.path / "consentry-runs"
    assert settings.package is None and settings.apk is None


def test_a_package_selects_android_and_cli_beats_ini(pytester):
    pytester.makeini("[pytest]\nconsentry_package = org.ini\nconsentry_output = ini-out\n"
                     "consentry_keep = true\n")
    settings = resolve_settings(pytester.parseconfig())
    assert (settings.target, settings.package, settings.keep) == ("android", "org.ini", True)
    assert settings.output == pytester.path / "ini-out"
    apk = pytester.path / "app.apk"
    apk.write_bytes(b"PK")
    settings = resolve_settings(pytester.parseconfig(
        "--consentry-package", "org.cli", "--consentry-apk", "app.apk", "--consentry-serial",
        "emulator-5554", "--consentry-capture", "wireguard", "--consentry-output", "cli-out"))
    assert (settings.package, settings.apk, settings.serial, settings.capture) == (
        "org.cli", apk, "emulator-5554", "wireguard")
    assert settings.output == pytester.path / "cli-out"


@pytest.mark.parametrize(("args", "message"), [
    (["--consentry-target", "android"], "needs --consentry-package"),
    (["--consentry-package", "org.x", "--consentry-apk", "missing.apk"], "no such file"),
    (["--consentry-target", "local", "--consentry-serial", "x"],
     "--consentry-serial only apply to --consentry-target android"),
    (["--consentry-capture", "wireguard"], "wireguard needs --consentry-target android"),
    (["--consentry-package", "org.x", "--consentry-variant", "notice"],
     "--consentry-variant only applies"),
])
def test_inconsistent_options_are_usage_errors(pytester, args, message):
    with pytest.raises(pytest.UsageError, match=message):
        resolve_settings(pytester.parseconfig(*args))


def test_a_bad_ini_target_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nconsentry_target = ios\n")
    with pytest.raises(pytest.UsageError, match="ini consentry_target must be one of local, "
                                                "android, got 'ios'"):
        resolve_settings(pytester.parseconfig())


def test_specimen_app_describes_itself():
    assert SpecimenApp(variant="notice").describe() == "specimen app (notice) on the local target"


# -- the plugin's report and keep policy, with sessions replaced by a recorded bundle ---------

_RECORDED_CONFTEST = '''
import shutil
from pathlib import Path

import pytest

from harness.analysis.engine import analyze
from harness.errors import CaptureError
from harness.pytest_support.apps import Prepared
from harness.session import SessionResult
from harness.targets.base import AppSpec

BUNDLE = Path({bundle!r})


class RecordedApp:
    target_name = "local"

    def describe(self):
        return "recorded app"

    def open(self, out, stack):
        return Prepared(target=None, app=AppSpec(package="org.example"))


class BrokenApp(RecordedApp):
    def open(self, out, stack):
        out.mkdir(parents=True)
        raise CaptureError("mitmdump died")


class RecordedSession:
    def __init__(self, target, app, scenario, options):
        self.out = options.out

    def run(self):
        shutil.copytree(BUNDLE, self.out)
        return SessionResult(self.out, "complete", None, analysis=analyze(self.out))


@pytest.fixture(autouse=True)
def recorded_sessions(monkeypatch):
    monkeypatch.setattr("harness.pytest_support.runner.Session", RecordedSession)


@pytest.fixture
def consentry_app():
    return RecordedApp()
'''

_RECORDED_TESTS = '''
import pytest
from conftest import BrokenApp


def test_passes(consentry):
    consentry.run("reject").assert_finding("collect-after-refusal", sdk="Umeng")


def test_fails(consentry):
    consentry.run("reject").assert_no_findings("collect-after-refusal")


def test_session_error(consentry):
    consentry.run("accept", app=BrokenApp())


def test_without_runs(consentry):
    assert False, "no run"
'''


def _junit_properties(path: Path) -> dict[str, list[str]]:
    import xml.etree.ElementTree as ET

    found: dict[str, list[str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        found[case.get("name", "")] = [p.get("value", "") for p in case.iter("property")
                                       if p.get("name") == "consentry_bundle"]
    return found


@pytest.fixture
def recorded_suite(pytester, runs):
    pytester.makeconftest(_RECORDED_CONFTEST.format(bundle=str(runs / "reject")))
    pytester.makepyfile(test_recorded=_RECORDED_TESTS)
    return pytester


def _folder(test: str) -> str:
    """The bundle folder of a test of the recorded suite."""
    return unique_slug(f"test_recorded.py::{test}")


def test_failing_tests_keep_and_report_their_bundles(recorded_suite):
    result = recorded_suite.runpytest_inprocess("--consentry-output", "out", "--junitxml", "j.xml",
                                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    out = recorded_suite.path / "out"
    assert not (out / _folder("test_passes")).exists()
    failing = out / _folder("test_fails") / "1-reject"
    assert (failing / "events.jsonl").is_file()
    result.stdout.fnmatch_lines([
        "*expected no findings of collect-after-refusal, got 2:",
        "*- collect-after-refusal: Umeng (com.umeng); imei; 1x, first seen at 2.50 s",
        f"*bundle: {failing}",
        "*- consentry runs -*",
        "scenario 'reject', recorded app: complete, consent rejected, 4 finding(s)",
    ])
    result.stdout.fnmatch_lines([
        "*CaptureError: mitmdump died",
        "*- consentry runs -*",
        "scenario 'accept' raised before its analysis: mitmdump died",
        f"bundle (partial): {out / _folder('test_session_error') / '1-accept'}",
    ])
    # A failing test that ran nothing gets no consentry section.
    section = result.stdout.str().split("test_without_runs ___")[1].split("short test summary")[0]
    assert "consentry runs" not in section
    properties = _junit_properties(recorded_suite.path / "j.xml")
    assert properties["test_passes"] == [] and properties["test_without_runs"] == []
    assert properties["test_fails"] == [str(failing)]
    assert properties["test_session_error"] == [str(out / _folder("test_session_error")
                                                    / "1-accept")]


def test_keep_option_keeps_passing_bundles_and_a_rerun_replaces_them(recorded_suite):
    args = ("--consentry-output", "out", "--consentry-keep", "--junitxml", "j.xml",
            "-p", "no:cacheprovider", "-k", "passes")
    recorded_suite.runpytest_inprocess(*args).assert_outcomes(passed=1)
    kept = recorded_suite.path / "out" / _folder("test_passes") / "1-reject"
    assert (kept / "manifest.json").is_file()
    assert _junit_properties(recorded_suite.path / "j.xml")["test_passes"] == [str(kept)]
    (kept.parent / "stale-marker").write_text("from the previous session")
    recorded_suite.runpytest_inprocess(*args).assert_outcomes(passed=1)
    assert (kept / "manifest.json").is_file() and not (kept.parent / "stale-marker").exists()


_MARKER_TESTS = '''
import pytest
from conftest import BrokenApp


@pytest.mark.consentry("reject", allow_degraded=True)
def test_marked(consentry_run):
    assert consentry_run.scenario.name == "reject" and consentry_run.dir.name == "1-reject"
    consentry_run.assert_finding("collect-after-refusal", sdk="Umeng")


def test_unmarked(consentry_run):
    pass


@pytest.mark.consentry("reject", "accept")
def test_two_scenarios(consentry_run):
    pass


@pytest.mark.consentry("accept", app=BrokenApp())
def test_broken_in_setup(consentry_run):
    pass
'''


def test_the_marker_names_the_scenario_consentry_run_runs(recorded_suite):
    recorded_suite.makepyfile(test_marker=_MARKER_TESTS)
    result = recorded_suite.runpytest_inprocess("test_marker.py", "-p", "no:cacheprovider",
                                                "--strict-markers")
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(["*consentry_run needs @pytest.mark.consentry(scenario=...)*"])
    result.stdout.fnmatch_lines(["*ERROR at setup of test_broken_in_setup*",
                                 "*CaptureError: mitmdump died",
                                 "*- consentry runs -*",
                                 "scenario 'accept' raised before its analysis: mitmdump died"])
    result.stdout.fnmatch_lines(["*@pytest.mark.consentry: _marker_args() takes from 0 to 1 "
                                 "positional arguments but 2 were given*"])


def test_the_marker_picks_the_specimen_variant_of_the_default_app(pytester):
    pytester.makepyfile(test_variant='''
import pytest


@pytest.mark.consentry(variant="notice")
def test_marked(consentry_app):
    assert consentry_app.describe() == "specimen app (notice) on the local target"


def test_option(consentry_app):
    assert consentry_app.describe() == "specimen app (permissions) on the local target"
''')
    result = pytester.runpytest_inprocess("--consentry-variant", "permissions",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
