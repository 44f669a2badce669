"""The Java stack's text form (hooks/src/stack.ts), run in real Frida on recorded frame texts.

Frames must read "class.method(File.java:line)" on every runtime: HotSpot's class loader and
module prefixes are stripped, a hidden class's own slash is kept, and the stack reader's own
frames (Thread.getStackTrace, ART's VMStack) are left out. The functions are pure, so they run
in any process (a sleeping Python child here); the JVM path itself is proven by test_catalogue_jvm.
On HotSpot the agent reads stacks through JVMTI (jvmti.ts): the last tests run both readers in
one hooked call on a JVM, over stacks of every frame form, and require the same frames and name.
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
import { externalName, lineAt } from "./src/jvmti.js";
import { frameText, parseFrames } from "./src/stack.js";
const input = %s;
const table = [0, 10, 5, 11, 5, 12, 9, 13];  // [start bci, line] pairs, a tie at 5
send({
    lines: [lineAt(table, 0), lineAt(table, 7), lineAt(table, 9), lineAt(table, 30),
            lineAt([4, 20], 2), lineAt(null, 3)],
    names: ["Lcom/example/Main$Inner;", "Lcom/example/Main$$Lambda$14.0x0000000800c0b000;",
            "Ljava/lang/invoke/LambdaForm$MH.0x0000000800c10000;"].map(externalName),
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


def test_jvmti_line_and_class_name_as_hotspot_gives_them(results: dict[str, Any]) -> None:
    # Method::line_number_from_bci: an exact start wins, else the greatest start below the
    # index (the later of equal starts), and -1 below the first start or without a table.
    assert results["lines"] == [10, 12, 13, 13, -1, -1]
    # a hidden class's signature has a dot before its suffix: left out, like Throwable does
    assert results["names"] == ["com.example.Main$Inner", None, None]


def test_depth_limits_the_recorded_frames(results: dict[str, Any]) -> None:
    assert results["shallow"] == results["hotspot"][:2]
    assert results["empty"] == []


# --- Both stack readers on the same real stacks (HotSpot) ---------------------------------

SHAPES = {
    "Sink.java": """package com.example.shapes;
public final class Sink { public static String touch(String how) { return how; } }
""",
    "Shapes.java": """package com.example.shapes;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Method;
import java.util.function.Function;
import java.util.function.IntFunction;
public final class Shapes {
    static IntFunction<String> recurse;
    static class Inner { Inner() { Sink.touch("constructor"); } }
    static class Init { static { Sink.touch("static-init"); } static void load() { } }
    interface Greeter { default void greet() { Sink.touch("default-method"); } }
    static void deep(int n) { if (n > 0) deep(n - 1); else Sink.touch("deep"); }
    static synchronized void locked() { Sink.touch("synchronized"); }
    static void deepHandle(int n, MethodHandle handle) throws Throwable {
        if (n > 0) deepHandle(n - 1, handle);
        else { String ignored = (String) handle.invokeExact("deep-handle"); }
    }
    public static void main(String[] args) throws Throwable {
        System.out.println("READY");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        if (in.readLine() == null) return;
        Outer.call("nested-before");  // described while Outer.call is not hooked yet
        System.out.println("HOOK");  // the agent hooks Outer.call now
        System.out.flush();
        if (in.readLine() == null) return;
        Sink.touch("direct");
        new Inner();
        Init.load();
        Runnable lambda = () -> Sink.touch("lambda");
        lambda.run();
        new Runnable() { public void run() { Sink.touch("anonymous"); } }.run();
        new Greeter() { }.greet();
        Function<String, String> ref = Sink::touch;
        ref.apply("method-ref");
        Method method = Sink.class.getMethod("touch", String.class);
        for (int i = 0; i < 20; i++) method.invoke(null, "reflection");  // then inflated
        MethodHandle handle = MethodHandles.lookup().findStatic(Sink.class, "touch",
            MethodType.methodType(String.class, String.class));
        String ignored = (String) handle.invokeExact("method-handle");
        NoLines.call("no-lines");
        NoDebug.call("no-debug");
        locked();
        Thread.currentThread().setName("main-renamed");
        Sink.touch("renamed");
        Thread.currentThread().setName("main");
        deep(80);
        deepHandle(80, handle);  // hidden frames inside the depth limit
        Outer.call("nested-after");  // a hooked method's original body calling a hooked one
        Outer2.call("nested-late");  // hooked before its first description
        // a hidden lambda proxy frame per level: more hidden frames than the reader's slack
        recurse = n -> n > 0 ? recurse.apply(n - 1) : Sink.touch("lambda-deep");
        recurse.apply(20);
        Thread worker = new Thread(() -> Sink.touch("thread"), "worker-7");
        worker.start();
        worker.join();
        System.out.println("DONE");
        System.out.flush();
        Thread.sleep(60_000);
    }
}
""",
    # hooked by the probe: Outer once "nested-before" was seen, Outer2 from the start
    "Outer.java": """package com.example.shapes;
public final class Outer { public static String call(String how) {
    String same = how;
    return Sink.touch(same); } }
""",
    "Outer2.java": """package com.example.shapes;
public final class Outer2 { public static String call(String how) {
    String same = how;
    return Sink.touch(same); } }
""",
    # javac -g:source: a source file name but no line table -> "(NoLines.java)"
    "NoLines.java": """package com.example.shapes;
public final class NoLines { public static void call(String how) { Sink.touch(how); } }
""",
    # javac -g:none: neither -> "(Unknown Source)"
    "NoDebug.java": """package com.example.shapes;
public final class NoDebug { public static void call(String how) { Sink.touch(how); } }
""",
}
DEBUG_FLAGS = {"NoLines.java": "-g:source", "NoDebug.java": "-g:none"}
HOWS = ["nested-before", "direct", "constructor", "static-init", "lambda", "anonymous", "default-method",
        "method-ref", *["reflection"] * 20, "method-handle", "no-lines", "no-debug",
        "synchronized", "renamed", "deep", "deep-handle", "nested-after", "nested-late",
        "lambda-deep", "thread"]
READERS_DEPTH = 24  # below deep(80): the depth limit is part of what is compared

READERS_SCRIPT = """
import Java from "frida-java-bridge";
import { JvmtiStackReader } from "./src/jvmti.js";
import { JavaStackReader } from "./src/stack.js";
function passThrough(name: string): void {
    const method = Java.use(name).call;
    method.implementation = function (this: any, how: string) { return method.call(this, how); };
}
Java.perform(() => {
    const jni = new JavaStackReader(%(depth)d);
    const jvmti = new JvmtiStackReader(%(depth)d);
    // Its thread name cannot be read: the JNI reader's stack and name stand in.
    const nameless = new JvmtiStackReader(%(depth)d);
    (nameless as any).threadName = () => { throw new Error("no name for the probe"); };
    const method = Java.use("com.example.shapes.Sink").touch;
    method.implementation = function (this: any, how: string) {
        const ret = method.call(this, how);
        const a = jni.read();
        const b = jvmti.read();
        const again = jvmti.read();  // the same stack again: from the stack cache
        let c: any = null;
        if (how === "direct") {
            try { c = nameless.read(); } catch (e) { c = { error: String(e) }; }
        }
        send({ how, jni: a, jvmti: b, again_same: again.stack === b.stack,
               again_equal: JSON.stringify(again) === JSON.stringify(b), nameless: c });
        if (how === "nested-before") {
            setTimeout(() => {
                passThrough("com.example.shapes.Outer");
                // as java_hooks.ts does: once the bridge has applied the hook (its own tick)
                Script.nextTick(() => { jvmti.forget(); send({ hooked: true }); });
            }, 0);
        }
        return ret;
    };
    passThrough("com.example.shapes.Outer2");
    // java_hooks.ts picks the JVMTI reader by the bridge's name for the VM: it must read so
    send({ ready: true, flavor: (Java as any).api?.flavor ?? null });
});
"""


@pytest.fixture(scope="module")
def both_readers(tmp_path_factory: pytest.TempPathFactory, jdk: str) -> list[dict[str, Any]]:
    work = tmp_path_factory.mktemp("readers")
    source = work / "src" / "com" / "example" / "shapes"
    source.mkdir(parents=True)
    classes = work / "classes"
    for name, text in SHAPES.items():
        (source / name).write_text(text, encoding="utf-8")
    for name in sorted(SHAPES, key=lambda n: n == "Shapes.java"):  # its callees first
        subprocess.run([jdk, "--release", "17", "-nowarn", DEBUG_FLAGS.get(name, "-g"),
                        "-cp", str(classes), "-d", str(classes), str(source / name)],
                       check=True, capture_output=True, text=True)
    project = work / "agent"
    shutil.copytree(hooks_dir() / "src", project / "src")
    os.symlink(hooks_dir() / "node_modules", project / "node_modules")
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(hooks_dir() / name, project / name)
    (project / "probe.ts").write_text(READERS_SCRIPT % {"depth": READERS_DEPTH})
    bundle = frida_adapter.compile_agent(project / "probe.ts", project)
    java = subprocess.Popen(["java", "-cp", str(classes), "com.example.shapes.Shapes"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert java.stdin is not None and java.stdout is not None
    assert java.stdout.readline().strip() == "READY"
    messages: queue.Queue[dict[str, Any]] = queue.Queue()
    session = frida_adapter.AgentSession(FridaDeviceRef(kind="local"), java.pid)
    calls: list[dict[str, Any]] = []
    try:
        session.load(bundle, lambda message, data: messages.put(message))
        assert messages.get(timeout=60)["payload"] == {"ready": True, "flavor": "jvm"}
        java.stdin.write("go\n")
        java.stdin.flush()
        assert java.stdout.readline().strip() == "HOOK"
        hooked = False
        while not hooked:
            message = messages.get(timeout=30)
            assert message["type"] == "send", message
            hooked = message["payload"] == {"hooked": True}
            if not hooked:
                calls.append(message["payload"])
        java.stdin.write("go\n")
        java.stdin.flush()
        assert java.stdout.readline().strip() == "DONE"
        while len(calls) < len(HOWS):  # messages of other threads may still be on their way
            message = messages.get(timeout=30)
            assert message["type"] == "send", message
            calls.append(message["payload"])
    finally:
        session.detach()
        java.kill()
        java.wait()
    return calls


def test_jvmti_reader_gives_the_jni_readers_frames_and_thread(
        both_readers: list[dict[str, Any]]) -> None:
    assert [call["how"] for call in both_readers] == HOWS
    for call in both_readers:
        assert call["jvmti"] == call["jni"], call["how"]
        assert call["again_same"] and call["again_equal"], call["how"]
    nameless = [call["nameless"] for call in both_readers if call["how"] == "direct"]
    assert nameless == [both_readers[1]["jni"]]


def test_the_compared_stacks_cover_every_frame_form(both_readers: list[dict[str, Any]]) -> None:
    """The comparison above is only worth what the stacks hold: check they hold each form."""
    by_how = {call["how"]: call["jni"] for call in both_readers}
    top = "com.example.shapes.Sink.touch(Native Method)"  # the hook makes the method native
    assert all(stack["stack"][0] == top for stack in by_how.values())
    assert by_how["constructor"]["stack"][1].startswith("com.example.shapes.Shapes$Inner.<init>(Shapes.java:")
    assert by_how["static-init"]["stack"][1].startswith("com.example.shapes.Shapes$Init.<clinit>(")
    assert by_how["lambda"]["stack"][1].startswith("com.example.shapes.Shapes.lambda$main$0(")
    assert by_how["anonymous"]["stack"][1].startswith("com.example.shapes.Shapes$1.run(")
    assert by_how["no-lines"]["stack"][1] == "com.example.shapes.NoLines.call(NoLines.java)"
    assert by_how["no-debug"]["stack"][1] == "com.example.shapes.NoDebug.call(Unknown Source)"
    reflective = [call["jni"]["stack"] for call in both_readers if call["how"] == "reflection"]
    # Native frames below the top (NativeMethodAccessorImpl.invoke0), then after inflation a
    # generated accessor class without a source file.
    assert "(Native Method)" in reflective[0][1]
    assert reflective[-1][1].endswith(".invoke(Unknown Source)")
    assert len(by_how["deep"]["stack"]) == READERS_DEPTH
    # the depth counts the frames kept: hidden ones (the handle's) are not among them
    assert len(by_how["deep-handle"]["stack"]) == READERS_DEPTH
    assert "com.example.shapes.Shapes.deepHandle(" in by_how["deep-handle"]["stack"][1]
    # A hooked method's original body reads "(Native Method)" like Throwable gives it, whether
    # the reader described the method before the hook (nested-after) or only after (nested-late).
    assert by_how["nested-before"]["stack"][1].startswith(
        "com.example.shapes.Outer.call(Outer.java:")
    assert by_how["nested-after"]["stack"][1] == "com.example.shapes.Outer.call(Native Method)"
    assert by_how["nested-late"]["stack"][1] == "com.example.shapes.Outer2.call(Native Method)"
    # 21 levels of the lambda, each under a hidden proxy frame: 42 frames of which 21 kept,
    # then main's; all within the depth limit, so none may be missing.
    deep_lambda = by_how["lambda-deep"]["stack"]
    assert len(deep_lambda) == 23 < READERS_DEPTH
    assert sum(".Shapes.lambda$main$" in frame for frame in deep_lambda) == 21
    assert by_how["thread"]["thread"] == "worker-7"
    assert by_how["direct"]["thread"] == "main"
    # a renamed thread reads its new name at once, and its old one when named back
    assert by_how["renamed"]["thread"] == "main-renamed"
    assert by_how["deep"]["thread"] == "main"
