"""Nested hooked calls on the real agent and a JVM: an API built on another hooked API of the
same kind (event, data type, category) is recorded once, at the outermost call; calls of a
different kind nested inside each other are both recorded; nesting ends with the call, also
when it throws."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.instrument import frida_adapter, stubgen
from harness.instrument.catalogue import CatalogueEntry
from harness.instrument.protocol import decode
from harness.targets.base import FridaDeviceRef

pytestmark = pytest.mark.integration

PROGRAM = """
package com.example.nest;

public final class Phone {
    public static String imeiOuter() { return imeiInner(); }
    public static String imeiInner() { return "867530900000001"; }
    public static String androidId() { return imeiInner().substring(0, 4) + "android"; }
    public static String imeiThrows() { imeiInner(); throw new IllegalStateException("no SIM"); }

    public static void main(String[] args) throws Exception {
        System.out.println("READY");
        System.out.flush();
        if (System.in.read() < 0) return;
        imeiOuter();
        imeiInner();
        androidId();
        try { imeiThrows(); } catch (IllegalStateException expected) { }
        imeiInner();  // after the throw: nesting state must be clean again
        System.out.println("DONE");
        System.out.flush();
        Thread.sleep(60_000);
    }
}
"""


def _entry(method: str, data_type: str) -> CatalogueEntry:
    return CatalogueEntry(id=f"test.nest.{method}", class_name="com.example.nest.Phone",
                          method=method, overloads=None, category="device_id",
                          data_type=data_type, params=())


ENTRIES = [_entry("imeiOuter", "imei"), _entry("imeiInner", "imei"),
           _entry("androidId", "android_id"), _entry("imeiThrows", "imei")]


def test_same_kind_nesting_is_recorded_once_other_kinds_each(
        tmp_path: Path, jdk: str, agent_bundle: Any) -> None:
    source = tmp_path / "src" / "com" / "example" / "nest" / "Phone.java"
    source.parent.mkdir(parents=True)
    source.write_text(PROGRAM, encoding="utf-8")
    classes = stubgen.compile_sources(tmp_path / "src", tmp_path / "classes", javac=jdk)
    proc = subprocess.Popen(["java", "-cp", str(classes), "com.example.nest.Phone"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "READY"
    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_message(message: dict[str, Any], data: bytes | None) -> None:
        with lock:
            events.extend({"type": r.type, **r.data} for r in decode(message, data))

    session = frida_adapter.AgentSession(FridaDeviceRef(kind="local"), proc.pid)
    try:
        session.load(agent_bundle.source, on_message)
        coverage = session.call("init", [e.to_agent() for e in ENTRIES],
                                {"process": "nest", "native": False, "plaintext": False})
        assert sorted(coverage["installed"]) == sorted(e.id for e in ENTRIES)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "DONE"
        session.call("flush")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with lock:
                if sum(e["type"] == "hook.call" for e in events) >= 5:
                    break
            time.sleep(0.05)
        time.sleep(0.3)  # nothing more may arrive
    finally:
        session.detach()
        proc.kill()
        proc.wait(10)

    with lock:
        calls = [e for e in events if e["type"] == "hook.call"]
    order = [e["entry"].removeprefix("test.nest.") for e in calls]
    # imeiOuter's inner call is the same kind: only the outer one. androidId is another
    # kind: it and its inner imei read are both evidence. imeiThrows records with its error,
    # and the direct imeiInner calls (before and after the throw) each once.
    assert order == ["imeiOuter", "imeiInner", "imeiInner", "androidId", "imeiThrows",
                     "imeiInner"], order
    thrown = calls[4]
    assert "no SIM" in thrown.get("error", "") and thrown["ret"] is None
    assert calls[0]["ret"] == "867530900000001"
    inner_of_android = calls[2]
    assert any("Phone.androidId" in frame for frame in inner_of_android["stack"])
