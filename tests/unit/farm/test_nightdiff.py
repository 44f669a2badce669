"""Night-to-night classification over the store and small hand-made bundles: compared (new,
gone, unchanged via harness.analysis.diff), missing, lost evidence, new apps, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.farm.nightdiff import night_diff, render
from harness.farm.runner import Outcome
from harness.farm.spec import JobSpec
from harness.farm.store import FarmStore, default_url
from tests.unit.analysis.test_diff import BASE, BUGLY_FRAME, PKG, bundle, read

OTHER = "com.example.other"


def _run(store: FarmStore, night: str, job: str, status: str, path: Path | None,
         package: str = PKG, error: str | None = None) -> None:
    spec = JobSpec(package=package, night=night, target="local", scenario="idle")
    store.record_queued(job, spec)
    if status == "queued":
        return
    store.record_started(job, spec, "dev-1", lambda n: path or Path("/nowhere"))
    if status != "running":
        store.record_outcome(job, Outcome(status=status, bundle=path, started=1.0,
                                          finished=2.0, error=error))


@pytest.fixture
def store(tmp_path: Path) -> FarmStore:
    return FarmStore(default_url(tmp_path))


def test_a_new_finding_tonight_is_reported_and_exits_1(store: FarmStore, tmp_path: Path,
                                                       capsys) -> None:
    _run(store, "n1", "a1", "complete", bundle(tmp_path, "old", BASE))
    newer = [*BASE, (1.5, "hook.call", read(BUGLY_FRAME, "android_id", "9774d56d682e549c"))]
    _run(store, "n2", "a2", "complete", bundle(tmp_path, "new", newer))
    diff = night_diff(store, "n2", "n1")
    (app,) = diff.apps
    assert app.kind == "compared" and app.failing
    assert [(f.rule, f.sdk, f.data_types) for f in app.diff.new_findings] == [
        ("collect-before-consent", "Tencent Bugly", ("android_id",))]
    assert app.diff.unchanged == 2 and not app.diff.gone_findings
    assert diff.exit_code == 1
    doc = diff.to_json()
    assert doc["summary"] == {"new": 1, "gone": 0, "changed": 0, "unchanged": 2,
                              "missing": [], "lost_evidence": [], "new_apps": [],
                              "unbaselined": []}
    text = render(diff)
    assert "!! org.consentry.specimen [idle, local]: 1 new, 0 gone" in text
    assert "+ collect-before-consent  Tencent Bugly  android_id" in text

    assert main(["farm", "diff", "--night", "n2", "--runs", str(tmp_path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["summary"]["new"] == 1


def test_gone_findings_alone_pass(store: FarmStore, tmp_path: Path) -> None:
    _run(store, "n1", "a1", "complete", bundle(tmp_path, "old", BASE))
    _run(store, "n2", "a2", "complete", bundle(tmp_path, "new", BASE[:1]))
    diff = night_diff(store, "n2", "n1")
    assert diff.count("gone_findings") == 1 and diff.count("new_findings") == 0
    assert diff.exit_code == 0
    assert render(diff).rstrip().endswith("no lost or missing run (exit 0)")


def test_missing_failed_degraded_and_new_apps(store: FarmStore, tmp_path: Path) -> None:
    old = bundle(tmp_path, "old", BASE)
    _run(store, "n1", "a1", "complete", old)
    _run(store, "n1", "b1", "complete", old, package=OTHER)
    _run(store, "n1", "c1", "complete", old, package="com.example.third")
    _run(store, "n1", "d1", "complete", old, package="com.example.fourth")
    # tonight: the specimen lost evidence, OTHER failed, third never ran, fourth is queued
    degraded = bundle(tmp_path, "degraded", BASE, degraded=["plaintext capture unavailable"])
    _run(store, "n2", "a2", "degraded", degraded, error="degraded: plaintext")
    _run(store, "n2", "b2", "failed", None, package=OTHER, error="DeviceNotFound: gone")
    _run(store, "n2", "d2", "queued", None, package="com.example.fourth")
    _run(store, "n2", "e2", "complete", old, package="com.example.fifth")
    _run(store, "n2", "f2", "complete", bundle(tmp_path, "quiet", []),
         package="com.example.sixth")
    diff = night_diff(store, "n2", "n1")
    kinds = {a.identity[0]: a.kind for a in diff.apps}
    assert kinds == {PKG: "lost-evidence", OTHER: "lost-evidence",
                     "com.example.third": "missing", "com.example.fourth": "missing",
                     "com.example.fifth": "new-app", "com.example.sixth": "new-app"}
    by = {a.identity[0]: a for a in diff.apps}
    assert by[PKG].diff is not None and not by[PKG].diff.new.sound  # compared, but untrusted
    assert "DeviceNotFound" in (by[OTHER].problem or "")
    assert by["com.example.fourth"].problem == "tonight's run is still queued"
    # a new app's findings were never seen pass: they fail; a new app without any does not
    assert by["com.example.fifth"].failing and by["com.example.fifth"].tonight_findings == 2
    assert not by["com.example.sixth"].failing
    assert diff.to_json()["summary"]["unbaselined"] == ["com.example.fifth"]
    assert diff.exit_code == 1
    text = render(diff)
    assert "!! LOST EVIDENCE com.example.other [idle, local]: tonight's run failed" in text
    assert "!! MISSING com.example.third [idle, local]: no run tonight" in text
    assert "!! NEW APP com.example.fifth [idle, local]: first run of this app; 2 finding(s)" \
        in text
    assert ".. NEW APP com.example.sixth" in text
    assert "the NEW run lost evidence" in text


def test_a_retried_job_counts_by_its_last_finished_run(store: FarmStore, tmp_path: Path) -> None:
    old = bundle(tmp_path, "old", BASE)
    _run(store, "n1", "a1", "complete", old)
    _run(store, "n2", "a2", "failed", None, error="DeviceNotFound")
    _run(store, "n2", "a3", "complete", bundle(tmp_path, "again", BASE))
    (app,) = night_diff(store, "n2", "n1").apps
    assert app.tonight is not None and app.tonight.job_id == "a3" and app.kind == "compared"


def test_a_bundle_that_is_not_on_this_machine(store: FarmStore, tmp_path: Path) -> None:
    _run(store, "n1", "a1", "complete", tmp_path / "elsewhere")
    _run(store, "n2", "a2", "complete", bundle(tmp_path, "new", BASE))
    (app,) = night_diff(store, "n2", "n1").apps
    assert app.kind == "no-baseline" and "not on this machine" in (app.problem or "")
    assert app.failing  # tonight's findings are compared with nothing


def test_tonights_unreadable_evidence_is_lost_evidence(store: FarmStore,
                                                       tmp_path: Path) -> None:
    _run(store, "n1", "a1", "complete", bundle(tmp_path, "old", BASE))
    _run(store, "n2", "a2", "complete", tmp_path / "deleted")
    corrupt = bundle(tmp_path, "corrupt", BASE)
    (corrupt / "manifest.json").write_text("{ not json")
    _run(store, "n2", "b2", "complete", corrupt, package=OTHER)
    _run(store, "n1", "b1", "complete", bundle(tmp_path, "old-other", BASE), package=OTHER)
    diff = night_diff(store, "n2", "n1")
    for app in diff.apps:
        assert app.kind == "lost-evidence" and app.tonight_unreadable and app.failing, app
        assert (app.problem or "").startswith("tonight's complete run cannot be read")
    assert diff.exit_code == 1
    assert sorted(diff.to_json()["summary"]["lost_evidence"]) == [OTHER, PKG]
    assert render(diff).count("!! LOST EVIDENCE") == 2


NEWER = [*BASE, (1.5, "hook.call", read(BUGLY_FRAME, "android_id", "9774d56d682e549c"))]


@pytest.mark.parametrize("last_night", ["failed", "pruned", "unreadable"])
def test_without_last_nights_run_the_night_before_is_the_baseline(
        store: FarmStore, tmp_path: Path, last_night: str) -> None:
    _run(store, "n1", "a1", "complete", bundle(tmp_path, "n1", BASE))
    if last_night == "failed":
        _run(store, "n2", "a2", "failed", None, error="InstrumentationError: crashed")
    elif last_night == "unreadable":
        _run(store, "n2", "a2", "complete", tmp_path / "pruned-bundle")
    _run(store, "n2", "o2", "complete", bundle(tmp_path, "o2", []), package=OTHER)
    _run(store, "n3", "a3", "complete", bundle(tmp_path, "n3", NEWER))
    diff = night_diff(store, "n3", "n2")
    (app,) = [a for a in diff.apps if a.identity[0] == PKG]
    assert app.kind == "compared" and app.previous is not None
    assert app.previous.night == "n1" and app.failing
    assert [f.sdk for f in app.diff.new_findings] == ["Tencent Bugly"]
    assert diff.exit_code == 1
    doc = diff.to_json()
    (japp,) = [a for a in doc["apps"] if a["package"] == PKG]
    assert japp["baseline_night"] == "n1"
    if last_night == "pruned":
        assert app.baseline_note is None
    else:
        assert (app.baseline_note or "").startswith("n2: ")
        assert "baseline from night n1 (n2: " in render(diff)


def test_no_usable_baseline_at_all_fails_with_findings(store: FarmStore,
                                                       tmp_path: Path) -> None:
    _run(store, "n1", "a1", "failed", None, error="InstrumentationError: crashed")
    _run(store, "n2", "a2", "complete", bundle(tmp_path, "new", BASE))
    diff = night_diff(store, "n2", "n1")
    (app,) = diff.apps
    assert app.kind == "no-baseline" and app.failing and diff.exit_code == 1
    assert app.problem == ("no usable earlier run: n1: failed (InstrumentationError: "
                           "crashed); 2 finding(s) not compared with anything")
    assert "!! NO BASELINE" in render(diff)


def test_cli_usage_errors_exit_2(store: FarmStore, tmp_path: Path, capsys) -> None:
    _run(store, "n1", "a1", "complete", bundle(tmp_path, "old", BASE))
    runs = ["--runs", str(tmp_path)]
    assert main(["farm", "diff", "--night", "n1", *runs]) == 2
    assert "it is the first night" in capsys.readouterr().err
    assert main(["farm", "diff", "--night", "n9", *runs]) == 2
    assert "n9: unknown; known: n1" in capsys.readouterr().err
    assert main(["farm", "diff", "--night", "n1", "--against", "n0", *runs]) == 2
    _run(store, "n2", "a2", "complete", bundle(tmp_path, "new", BASE))
    capsys.readouterr()
    assert main(["farm", "diff", "--night", "n1", "--against", "n2", *runs]) == 2
    assert "--against n2 is not earlier than n1" in capsys.readouterr().err
    assert main(["farm", "diff", "--night", "n1", "--against", "n1", *runs]) == 2
    assert main(["farm", "status", "--night", "n9", *runs]) == 1
    capsys.readouterr()
    assert main(["farm", "status", "--night", "n1", *runs]) == 0
    out = capsys.readouterr().out
    assert "complete   org.consentry.specimen [idle, local]  device dev-1  1s" in out
