"""The Java stack's text form (hooks/src/stack.ts), run in real Frida on recorded frame texts.

Frames must read "class.method(File.java:line)" on every runtime: HotSpot's class loader and
module prefixes are stripped, a hidden class's own slash is kept, and the stack reader's own
frames (Thread.getStackTrace, ART's VMStack) are left out. The functions are pure, so they run
in any process (a sleeping Python child here); the JVM path itself is proven by test_catalogue_jvm.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
from typing import Any

import pytest

from harness.instrument import frida_adapter
from harness.resources import hooks_dir
from harness.targets.base import FridaDeviceRef

pytestmark = pytest.mark.integration

FRAMES = {
    # HotSpot (OpenJDK 17 StackTraceElement.toString)
    "java.base/java.lang.Thread.getStackTrace(Thread.java:1610)":
        "java.lang.Thread.getStackTrace(Thread.java:1610)",
    "app//com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:12)":
        "com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:12)",
    "jdk.httpserver@17.0.15/sun.net.httpserver.ServerImpl.run(ServerImpl.java:9)":
        "sun.net.httpserver.ServerImpl.run(ServerImpl.java:9)",
    "app//com.example.Main$$Lambda$14/0x0000000800c0b000.run(Unknown Source)":
        "com.example.Main$$Lambda$14/0x0000000800c0b000.run(Unknown Source)",
    # a hidden class of an unnamed loader: no prefix, its slash is part of the name
    "com.example.Main$$Lambda$15/0x0000000800c0c000.run(Unknown Source)":
        "com.example.Main$$Lambda$15/0x0000000800c0c000.run(Unknown Source)",
    # ART: never a prefix
    "android.app.Activity.performCreate(Activity.java:8000)":
        "android.app.Activity.performCreate(Activity.java:8000)",
    "com.tencent.bugly.crashreport.CrashReport.a(Native Method)":
        "com.tencent.bugly.crashreport.CrashReport.a(Native Method)",
}

HOTSPOT_STACK = ("[java.base/java.lang.Thread.getStackTrace(Thread.java:1610), "
                 "app//android.telephony.TelephonyManager.getDeviceId(Native Method), "
                 "app//com.umeng.Sdk.collect(Sdk.java:7), app//bench.Loop.main(Loop.java:16)]")
ART_STACK = ("[dalvik.system.VMStack.getThreadStackTrace(Native Method), "
             "java.lang.Thread.getStackTrace(Thread.java:1736), "
             "android.telephony.TelephonyManager.getDeviceId(TelephonyManager.java:5), "
             "com.example.app.Main.onCreate(Main.java:3)]")

SCRIPT = """
import { frameText, parseFrames } from "./src/stack.js";
const input = %s;
send({
    frames: input.frames.map((f: string) => frameText(f)),
    hotspot: parseFrames(input.hotspot, 64),
    art: parseFrames(input.art, 64),
    shallow: parseFrames(input.hotspot, 2),
    empty: parseFrames("[]", 64),
});
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = tmp_path_factory.mktemp("stack-text")
    shutil.copytree(hooks_dir() / "src", project / "src")
    os.symlink(hooks_dir() / "node_modules", project / "node_modules")
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(hooks_dir() / name, project / name)
    data = {"frames": list(FRAMES), "hotspot": HOTSPOT_STACK, "art": ART_STACK}
    (project / "probe.ts").write_text(SCRIPT % json.dumps(data))
    source = frida_adapter.compile_agent(project / "probe.ts", project)
    # Attached once it runs its own code (attaching mid-exec can kill the target).
    child = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); "
                              "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "up"
    messages: queue.Queue[dict[str, Any]] = queue.Queue()
    session = frida_adapter.AgentSession(FridaDeviceRef(kind="local"), child.pid)
    try:
        session.load(source, lambda message, data: messages.put(message))
        message = messages.get(timeout=30)
    finally:
        session.detach()
        child.kill()
        child.wait()
    assert message["type"] == "send", message
    return dict(message["payload"])


def test_frames_read_alike_on_hotspot_and_art(results: dict[str, Any]) -> None:
    assert dict(zip(FRAMES, results["frames"], strict=True)) == FRAMES


def test_reader_frames_are_left_out_and_the_caller_comes_next(
        results: dict[str, Any]) -> None:
    assert results["hotspot"] == [
        "android.telephony.TelephonyManager.getDeviceId(Native Method)",
        "com.umeng.Sdk.collect(Sdk.java:7)", "bench.Loop.main(Loop.java:16)"]
    assert results["art"] == [
        "android.telephony.TelephonyManager.getDeviceId(TelephonyManager.java:5)",
        "com.example.app.Main.onCreate(Main.java:3)"]


def test_depth_limits_the_recorded_frames(results: dict[str, Any]) -> None:
    assert results["shallow"] == results["hotspot"][:2]
    assert results["empty"] == []
