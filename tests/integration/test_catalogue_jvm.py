"""Every Java catalogue entry proven on a real JVM with the real agent.

Stubs with the catalogue's class names and signatures and a driver that calls each entry are
generated (harness.instrument.stubgen) and compiled with javac; the JVM starts gated, the real
agent attaches with the real catalogue (plus two broken entries and one late-loaded class), and
each entry must fire with the right event type, category, data type, value and a stack naming
the driver. Also proven here: broken entries are skipped by reason without harming the app,
calls through Method.invoke are marked reflective, and a class loaded later through a
URLClassLoader is hooked when it loads.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.instrument import frida_adapter, stubgen
from harness.instrument.catalogue import CatalogueEntry, load_catalogue
from harness.instrument.protocol import decode
from harness.targets.base import FridaDeviceRef
from tests.integration.line_process import LineProcess

pytestmark = pytest.mark.integration

#: Entries that cannot fire on a desktop JVM, with the reason (everything else must).
JVM_IMPOSSIBLE: dict[str, str] = {
    "net.InetAddress.getHostName": "inherited by Inet4Address: on HotSpot the hook installs but "
                                   "the subclass call does not reach it (observed here)",
}

REFLECTIVE = "telephony.getImei"
MISSING_CLASS = CatalogueEntry(id="test.missing.class", class_name="com.example.absent.Nowhere",
                               method="collect", overloads=None, category="device_id",
                               data_type="imei")
WRONG_OVERLOAD = CatalogueEntry(id="test.wrong.overload",
                                class_name="android.telephony.TelephonyManager",
                                method="getDeviceId", overloads=(("java.util.UUID",),),
                                category="device_id", data_type="imei")
LATE = CatalogueEntry(id="test.late.PluginSdk.collectId",
                      class_name="com.example.lateplugin.PluginSdk", method="collectId", overloads=None, category="device_id",
                      data_type="plugin_id", params=())


class Driver(LineProcess):
    """The gated driver JVM: send a phase command, wait for its DONE line."""

    def __init__(self, classes: Path, tmp: Path, late: Path) -> None:
        super().__init__(["java", "-Djdk.net.usePlainSocketImpl=true", "-cp", str(classes),
                          stubgen.DRIVER, str(tmp), str(late)], "driver")

    def phase(self, name: str, timeout: float = 300) -> str:
        return self.command(name, timeout)


@dataclasses.dataclass
class Run:
    project: stubgen.StubProject
    coverage: dict[str, Any]
    events: list[dict[str, Any]]
    init_seconds: float
    alive_after: bool
    done: dict[str, str]
    failures: list[str]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, jdk: str, agent_bundle: Any) -> Run:
    catalogue = load_catalogue()
    work = tmp_path_factory.mktemp("catalogue-jvm")
    project = stubgen.generate(catalogue.entries, work, late=[LATE], reflective_id=REFLECTIVE)
    classes = stubgen.compile_sources(project.root, work / "classes", javac=jdk)
    late = stubgen.compile_sources(project.late_root, work / "late-classes", javac=jdk)
    (work / "files").mkdir()
    driver = Driver(classes, work / "files", late)
    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_message(message: dict[str, Any], data: bytes | None) -> None:
        with lock:
            events.extend({"type": r.type, **r.data} for r in decode(message, data))

    session = frida_adapter.AgentSession(FridaDeviceRef(kind="local"), driver.proc.pid)
    try:
        session.load(agent_bundle.source, on_message)
        agent_entries = [*catalogue.to_agent(), MISSING_CLASS.to_agent(),
                         WRONG_OVERLOAD.to_agent(), LATE.to_agent()]
        started = time.monotonic()
        coverage = session.call("init", agent_entries, {"process": "sdkprobe"})
        init_seconds = time.monotonic() - started
        done = {name: driver.phase(name) for name in ("all", "reflect", "late")}
        session.call("flush")
        time.sleep(1.0)  # let the last batch cross from Frida's thread
        session.call("flush")
        time.sleep(0.5)
        alive = driver.proc.poll() is None and session.detached_reason is None
    finally:
        session.detach()
        driver.stop()
    failures = [line for line in driver.lines if line.startswith("FAIL ")]
    print(f"init of {len(agent_entries)} entries took {init_seconds:.1f}s")
    with lock:
        return Run(project, coverage, list(events), init_seconds, alive, done, failures)


def _fired(run: Run, entry_id: str) -> list[dict[str, Any]]:
    return [e for e in run.events if e.get("entry") == entry_id and "stack" in e]


def _from_driver(event: dict[str, Any]) -> bool:
    return any(frame.startswith(stubgen.DRIVER + ".") for frame in event["stack"])


def _mismatches(entry: CatalogueEntry, expected: stubgen.Expected,
                event: dict[str, Any]) -> list[str]:
    """How one recorded event differs from what the entry's driver call must produce."""
    problems = []
    for key, want in (("type", expected.event), ("category", expected.category),
                      ("data_type", expected.data_type)):
        if event[key] != want:
            problems.append(f"{key} {event[key]!r} != {want!r}")
    if expected.ret is not stubgen.ANY and event["ret"] != expected.ret:
        problems.append(f"ret {event['ret']!r} != {expected.ret!r}")
    for index, want in expected.args.items():
        # record_args lists the recorded arguments: arg i is at its position there.
        at = entry.record_args.index(index) if entry.record_args is not None else index
        got = event["args"][at] if at < len(event["args"]) else None
        if got != want and not (isinstance(got, str) and str(want) in got):
            problems.append(f"arg {index} {got!r} != {want!r}")
    if expected.this is not None and event.get("this") != expected.this:
        problems.append(f"this {event.get('this')!r} != {expected.this!r}")
    return problems


def test_every_entry_installs_and_fires_with_its_meaning(run: Run) -> None:
    catalogue = load_catalogue()
    ids = [e.id for e in catalogue.entries]
    installed = set(run.coverage["installed"]) & set(ids)
    problems: list[str] = []
    fired = 0
    for entry in catalogue.entries:
        if entry.id in JVM_IMPOSSIBLE:
            continue
        # Only events whose stack holds the driver method made for this entry: real JDK
        # methods also fire from inside other calls (URL parsing, library loading ...).
        frame = f"{stubgen.DRIVER}.{run.project.driver_methods[entry.id]}("
        events = [e for e in _fired(run, entry.id) if any(f.startswith(frame)
                                                           for f in e["stack"])]
        if not events:
            problems.append(f"{entry.id}: no event from {frame}")
            continue
        fired += 1
        expected = run.project.expected[entry.id]
        verdicts = [_mismatches(entry, expected, e) for e in events]
        if all(verdicts):
            problems.append(f"{entry.id}: " + "; ".join(verdicts[0]))
    print(f"coverage: installed {len(installed)}/{len(ids)}, fired {fired}/{len(ids)}"
          f" ({len(JVM_IMPOSSIBLE)} impossible on a JVM: {sorted(JVM_IMPOSSIBLE)})")
    assert not run.failures, run.failures
    assert not problems, "\n".join(problems)
    assert set(ids) - set(JVM_IMPOSSIBLE) <= installed
    assert fired == len(ids) - len(JVM_IMPOSSIBLE)
    assert len({(e.class_name, e.method) for e in catalogue.entries}) >= 300


def test_uncallable_jdk_entries_are_exactly_the_justified_ones(run: Run) -> None:
    assert set(run.project.uncallable) <= set(JVM_IMPOSSIBLE)


def test_broken_entries_are_skipped_by_reason_and_the_app_survives(run: Run) -> None:
    skipped = {s["id"]: s["reason"] for s in run.coverage["skipped"]}
    assert skipped[MISSING_CLASS.id].startswith("class not found")
    assert skipped[WRONG_OVERLOAD.id].startswith("overload mismatch")
    events = [e for e in run.events if e["type"] == "agent.hook_skipped"]
    assert sum(1 for e in events if e["entry"] == MISSING_CLASS.id) == 1
    assert sum(1 for e in events if e["entry"] == WRONG_OVERLOAD.id) == 1
    assert run.alive_after
    assert run.done["all"] == "DONE all 0"
    # The wrongly declared overload did not stop the right one of the same method firing.
    assert _fired(run, "telephony.getDeviceId")


def test_reflective_call_is_recorded_and_marked(run: Run) -> None:
    events = [e for e in _fired(run, REFLECTIVE) if _from_driver(e)]
    marked = [e for e in events if e.get("reflective")]
    direct = [e for e in events if not e.get("reflective")]
    assert len(marked) == 1 and direct
    assert any("Driver.reflect" in frame for frame in marked[0]["stack"])
    assert marked[0]["ret"] == run.project.expected[REFLECTIVE].ret


def test_class_from_a_later_class_loader_is_hooked_when_it_loads(run: Run) -> None:
    assert run.coverage["skipped"] and LATE.id in {s["id"] for s in run.coverage["skipped"]}
    late = [e for e in run.events if e["type"] == "agent.hook_installed"
            and e.get("entry") == LATE.id]
    assert late and late[0]["late"] is True and "PluginLoader" in late[0]["loader"]
    events = _fired(run, LATE.id)
    assert events and events[0]["ret"] == run.project.expected[LATE.id].ret
    assert any("Driver.late" in frame for frame in events[0]["stack"])

