// Per-component cost of recording one Java hook event, measured inside a hooked call (so the
// stack has its real depth). Loaded by bench_agent.py into the bench JVM; prints nothing
// itself: it sends {type: "parts", parts: {name: microseconds per call}}.

import Java from "frida-java-bridge";

import { EventBuffer } from "./src/buffer.js";
import { JavaStackReader, Jni, parseFrames } from "./src/stack.js";
import { describeArg, formatReturn } from "./src/values.js";

const OLD_PREFIX = /^[\w.$-]*(@[^/]*)?\/+/;

/** Microseconds per call, over `rounds` calls (Date.now has millisecond resolution: cheap
 * steps need many rounds). */
function time(fn: () => unknown, rounds = 1000): number {
    fn(); // warm up
    const t0 = Date.now();
    for (let i = 0; i < rounds; i++) {
        fn();
    }
    return (Date.now() - t0) * 1000 / rounds;
}

const MANY = 20000;
/** The bridge's wrappers: few rounds. Thousands of them made inside one hooked call have
 * stalled HotSpot at a GC safepoint here (the recording path, one read per event, has not). */
const BRIDGE = 200;

/** Raw JNI pieces of JavaStackReader.read, each timed alone. */
function jniParts(): Record<string, number> {
    const env = Java.vm.getEnv();
    const h = env.handle;
    const jni = new Jni(h);
    const thread = env.findClass("java/lang/Thread");
    const arrays = env.findClass("java/util/Arrays");
    const current = env.getStaticMethodId(thread, "currentThread", "()Ljava/lang/Thread;");
    const trace = env.getMethodId(thread, "getStackTrace", "()[Ljava/lang/StackTraceElement;");
    const name = env.getMethodId(thread, "getName", "()Ljava/lang/String;");
    const toString = env.getStaticMethodId(arrays, "toString",
        "([Ljava/lang/Object;)Ljava/lang/String;");
    const self = jni.callStaticObject(h, thread, current);
    const frames = jni.callObject(h, self, trace);
    const joined = jni.callStaticObject1(h, arrays, toString, frames);
    const framed = (fn: () => unknown) => time(() => {
        jni.pushLocalFrame(h, 8);
        try {
            fn();
        } finally {
            jni.popLocalFrame(h, NULL);
        }
    });
    return {
        "JNI push+pop local frame": framed(() => null),
        "JNI currentThread": framed(() => jni.callStaticObject(h, thread, current)),
        "JNI getStackTrace": framed(() => jni.callObject(h, self, trace)),
        "JNI Arrays.toString(frames)": framed(() => jni.callStaticObject1(h, arrays, toString,
            frames)),
        "JNI text(stack string)": time(() => jni.text(h, joined)),
        "JNI getName + text": framed(() => jni.text(h, jni.callObject(h, self, name))),
    };
}

function measure(): Record<string, number> {
    const Thread = Java.use("java.lang.Thread");
    const Arrays: any = Java.use("java.util.Arrays");
    const reader = new JavaStackReader(64);
    const env = Java.vm.getEnv();
    const frames = Thread.currentThread().getStackTrace();
    const joined = String(Arrays.toString(frames));
    const event = {
        type: "hook.call", device_t: Date.now() / 1000, entry: "bench.getDeviceId",
        api: "android.telephony.TelephonyManager.getDeviceId", category: "device_id",
        data_type: "imei", args: [], ret: "359881234567890", stack: reader.read().stack,
        thread: "main", tid: Process.getCurrentThreadId(), pid: Process.id, process: "jvm",
    };
    const batch = Array.from({ length: 64 }, () => event);
    // The agent's own buffer: 64 pushes make one batch, interned and sent (the host side
    // of this run ignores it). A fresh event per push, as the hook makes.
    const buffer = new EventBuffer(64, 60000, 100000);
    const stack = reader.read().stack;
    const pushBatch = () => {
        for (let i = 0; i < 64; i++) {
            buffer.push({ ...event, stack });
        }
    };
    const bridge: Record<string, number> = {
        "bridge Thread.currentThread()": time(() => Thread.currentThread(), BRIDGE),
        "bridge currentThread().getStackTrace()": time(() => Thread.currentThread().getStackTrace(), BRIDGE),
        "bridge Arrays.toString(frames)": time(() => String(Arrays.toString(frames)), BRIDGE),
        "bridge currentThread().getName()": time(() => String(Thread.currentThread().getName()), BRIDGE),
    };
    return {
        ...bridge,
        "Process.getCurrentThreadId": time(() => Process.getCurrentThreadId(), MANY),
        "Date.now": time(() => Date.now(), MANY),
        "Java.vm.getEnv": time(() => Java.vm.getEnv(), MANY),
        "old split + regex per frame": time(() => joined.slice(1, -1).split(", ")
            .map(t => t.replace(OLD_PREFIX, "")), MANY),
        "new parseFrames": time(() => parseFrames(joined, 64), MANY),
        ...jniParts(),
        "JNI stack + thread name (new, total)": time(() => reader.read()),
        "describeArg(string) + formatReturn": time(() => [describeArg("x"), formatReturn("string", "v")], MANY),
        "JSON.stringify(event)": time(() => JSON.stringify(event), MANY),
        "send(batch of 64, raw stacks) per event":
            time(() => send({ type: "bench:ignore", events: batch })) / 64,
        "EventBuffer.push + batch send per event": time(pushBatch) / 64,
    };
}

Java.perform(() => {
    const method = Java.use("android.telephony.TelephonyManager").getDeviceId;
    let done = false;
    method.implementation = function (this: any) {
        if (!done) {
            done = true;
            send({ type: "parts", frames: String((Java.use("java.util.Arrays") as any).toString(
                Java.use("java.lang.Thread").currentThread().getStackTrace())).split(", ").length,
                parts: measure() });
        }
        return method.call(this);
    };
});
