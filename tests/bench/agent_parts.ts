// Per-component cost of recording one Java hook event, measured inside a hooked call (so the
// stack has its real depth). Loaded by bench_agent.py into the bench JVM; prints nothing
// itself: it sends {type: "parts", parts: {name: microseconds per call}}.

import Java from "frida-java-bridge";

import { EventBuffer } from "./src/buffer.js";
import { JvmtiStackReader } from "./src/jvmti.js";
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
/** Set by bench_agent.py: time each step once per hooked call (see PerCall). */
const PER_CALL = false;
/** The bridge's wrappers: few rounds. Thousands of them made inside one hooked call have
 * stalled HotSpot at a GC safepoint here (the recording path, one read per event, has not). */
const BRIDGE = 200;

/** Raw JNI pieces of JavaStackReader.read, each timed alone. `rounds` of the pieces that
 * allocate Java objects: few on deep stacks (see BRIDGE). */
function jniParts(rounds: number): Record<string, number> {
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
    const framed = (fn: () => unknown, n = 1000) => time(() => {
        jni.pushLocalFrame(h, 8);
        try {
            fn();
        } finally {
            jni.popLocalFrame(h, NULL);
        }
    }, n);
    return {
        "JNI push+pop local frame": framed(() => null),
        "JNI currentThread": framed(() => jni.callStaticObject(h, thread, current)),
        "JNI getStackTrace": framed(() => jni.callObject(h, self, trace), rounds),
        "JNI Arrays.toString(frames)": framed(() => jni.callStaticObject1(h, arrays, toString,
            frames), rounds),
        "JNI text(stack string)": time(() => jni.text(h, joined)),
        "JNI getName + text": framed(() => jni.text(h, jni.callObject(h, self, name))),
    };
}

interface JvmtiSetup {
    reader: JvmtiStackReader;
    handle: NativePointer;
    getStackTrace: NativeFunction<number,
        [NativePointer, NativePointer, number, number, NativePointer, NativePointer]>;
}

/** Made before the hook runs: a JVMTI environment made inside a hooked call stalled here. */
function jvmtiSetup(): JvmtiSetup {
    const handle: NativePointer = (Java.vm as any).tryGetEnvHandle(0x30010000);
    return {
        reader: new JvmtiStackReader(64),
        handle,
        // GetStackTrace, function 104 of the JVMTI table, bound here again to time it alone
        getStackTrace: new NativeFunction(
            handle.readPointer().add(103 * Process.pointerSize).readPointer(), "int32",
            ["pointer", "pointer", "int32", "int32", "pointer", "pointer"],
            { exceptions: "propagate", scheduling: "cooperative" }),
    };
}

/** Pieces of JvmtiStackReader.read, each timed alone. */
function jvmtiParts({ reader, handle, getStackTrace }: JvmtiSetup): Record<string, number> {
    const frames = Memory.alloc(64 * 16 + 4);
    const countAt = frames.add(64 * 16);
    getStackTrace(handle, NULL, 0, 64, frames, countAt);
    const count = countAt.readS32();
    const key = () => Checksum.compute("sha1", frames.readByteArray(count * 16)!);
    const map = new Map([[key(), 1]]);
    const k = key();
    reader.read(); // fills its caches
    return {
        "JVMTI GetStackTrace (64 max)": time(() => getStackTrace(handle, NULL, 0, 64, frames,
            countAt), MANY),
        "JVMTI key: SHA-1 of the frames": time(key, MANY),
        "JVMTI Map lookup by key": time(() => map.get(k), MANY),
        "Memory.alloc(1028)": time(() => Memory.alloc(64 * 16 + 4), MANY),
        "JVMTI stack + thread name (total, cached)": time(() => reader.read(), MANY),
    };
}

/** Arrays.toString(currentThread().getStackTrace()) through raw JNI (no bridge wrappers). */
function rawJoined(): string {
    const env = Java.vm.getEnv();
    const h = env.handle;
    const jni = new Jni(h);
    const thread = env.findClass("java/lang/Thread");
    const arrays = env.findClass("java/util/Arrays");
    jni.pushLocalFrame(h, 8);
    try {
        const self = jni.callStaticObject(h, thread, env.getStaticMethodId(thread, "currentThread",
            "()Ljava/lang/Thread;"));
        const trace = jni.callObject(h, self, env.getMethodId(thread, "getStackTrace",
            "()[Ljava/lang/StackTraceElement;"));
        return jni.text(h, jni.callStaticObject1(h, arrays, env.getStaticMethodId(arrays,
            "toString", "([Ljava/lang/Object;)Ljava/lang/String;"), trace));
    } finally {
        jni.popLocalFrame(h, NULL);
    }
}

function measure(setup: JvmtiSetup): Record<string, number> {
    const Thread = Java.use("java.lang.Thread");
    const Arrays: any = Java.use("java.util.Arrays");
    const reader = new JavaStackReader(64);
    // Deep stacks: the bridge's wrappers are left out and the JNI calls that allocate run
    // few rounds (thousands of them in one hooked call stalled HotSpot at a GC safepoint).
    const depth = reader.read().stack.length;
    const deep = depth > 20;
    const allocating = deep ? 200 : 1000;
    const env = Java.vm.getEnv();
    const frames = deep ? null : Thread.currentThread().getStackTrace();
    const joined = rawJoined();
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
    const bridge: Record<string, number> = deep ? {} : {
        "bridge Thread.currentThread()": time(() => Thread.currentThread(), BRIDGE),
        "bridge currentThread().getStackTrace()": time(() => Thread.currentThread().getStackTrace(), BRIDGE),
        "bridge Arrays.toString(frames)": time(() => String(Arrays.toString(frames)), BRIDGE),
        "bridge currentThread().getName()": time(() => String(Thread.currentThread().getName()), BRIDGE),
    };
    return {
        "frames": depth,
        ...bridge,
        "Process.getCurrentThreadId": time(() => Process.getCurrentThreadId(), MANY),
        "Date.now": time(() => Date.now(), MANY),
        "Java.vm.getEnv": time(() => Java.vm.getEnv(), MANY),
        "old split + regex per frame": time(() => joined.slice(1, -1).split(", ")
            .map(t => t.replace(OLD_PREFIX, "")), MANY),
        "new parseFrames": time(() => parseFrames(joined, 64), MANY),
        ...jniParts(allocating),
        ...jvmtiParts(setup),
        "JNI stack + thread name (new, total)": time(() => reader.read(), allocating),
        "describeArg(string) + formatReturn": time(() => [describeArg("x"), formatReturn("string", "v")], MANY),
        "JSON.stringify(event)": time(() => JSON.stringify(event), MANY),
        "send(batch of 64, raw stacks) per event":
            time(() => send({ type: "bench:ignore", events: batch })) / 64,
        "EventBuffer.push + batch send per event": time(pushBatch) / 64,
    };
}

/** Microseconds of CLOCK_MONOTONIC: per-call timings need better than Date.now's ms. */
const timespec = Memory.alloc(16);
const clockGettime = new NativeFunction(Module.getGlobalExportByName("clock_gettime"), "int",
    ["int", "pointer"], { scheduling: "exclusive" });
function micros(): number {
    clockGettime(1, timespec);
    return timespec.readS64().toNumber() * 1e6 + timespec.add(8).readS64().toNumber() / 1e3;
}

/**
 * Per-call mode, for deep stacks: each hooked call runs every piece once, as the recording
 * path does (thousands of rounds inside one deep hooked call stall HotSpot at a GC safepoint,
 * see BRIDGE); the means over `calls` hooked calls are sent at the end. The timer's own cost
 * ("clock" row) is subtracted from the others.
 */
class PerCall {
    private sums = new Map<string, number>();
    private calls = 0;
    private jniReader = new JavaStackReader(64);
    private h: NativePointer;
    private jni: Jni;
    private thread: NativePointer;
    private arrays: NativePointer;
    private current: NativePointer;
    private trace: NativePointer;
    private toString: NativePointer;
    private parsed = new Map<string, string[]>();
    private keys = new Map<string, number>();
    private buffer = new EventBuffer(64, 60000, 100000);
    private frames = Memory.alloc(64 * 16 + 4);

    constructor(private setup: JvmtiSetup, private total: number) {
        const env = Java.vm.getEnv();
        this.h = env.handle;
        this.jni = new Jni(this.h);
        this.thread = env.newGlobalRef(env.findClass("java/lang/Thread"));
        this.arrays = env.newGlobalRef(env.findClass("java/util/Arrays"));
        this.current = env.getStaticMethodId(this.thread, "currentThread", "()Ljava/lang/Thread;");
        this.trace = env.getMethodId(this.thread, "getStackTrace",
            "()[Ljava/lang/StackTraceElement;");
        this.toString = env.getStaticMethodId(this.arrays, "toString",
            "([Ljava/lang/Object;)Ljava/lang/String;");
    }

    private step<T>(name: string, fn: () => T): T {
        const t0 = micros();
        const value = fn();
        this.sums.set(name, (this.sums.get(name) ?? 0) + micros() - t0);
        return value;
    }

    /** One round; true when the last call was measured. */
    call(): boolean {
        const { h, jni } = this;
        this.step("clock", () => null);
        jni.pushLocalFrame(h, 8);
        try {
            const self = this.step("JNI currentThread", () => jni.callStaticObject(h, this.thread,
                this.current));
            const frames = this.step("JNI getStackTrace", () => jni.callObject(h, self,
                this.trace));
            const joined = this.step("JNI Arrays.toString(frames)", () => jni.callStaticObject1(h,
                this.arrays, this.toString, frames));
            const text = this.step("JNI text(stack string)", () => jni.text(h, joined));
            this.step("parseFrames (a cache miss)", () => parseFrames(text, 64));
            this.step("Map lookup by stack text (a cache hit)", () => {
                if (!this.parsed.has(text)) {
                    this.parsed.set(text, []);
                }
            });
        } finally {
            jni.popLocalFrame(h, NULL);
        }
        const stack = this.step("JNI reader: stack + thread name (total)",
            () => this.jniReader.read()).stack;
        const { handle, getStackTrace, reader } = this.setup;
        const countAt = this.frames.add(64 * 16);
        this.step("JVMTI GetStackTrace", () => getStackTrace(handle, NULL, 0, 64, this.frames,
            countAt));
        const n = countAt.readS32() * 16;
        this.step("JVMTI key: SHA-1 of the frames (used)", () => Checksum.compute("sha1",
            this.frames.readByteArray(n)!));
        const key = this.step("JVMTI key: frames as a JS string (given up)", () =>
            String.fromCharCode.apply(null, new Uint16Array(this.frames.readByteArray(n)!) as
                unknown as number[]));
        this.step("JVMTI Map lookup by key", () => this.keys.get(key) ?? this.keys.set(key, 1));
        this.step("JVMTI reader: stack + thread name (total)", () => reader.read());
        this.step("EventBuffer.push (+ batch send, amortised)", () => this.buffer.push({
            type: "hook.call", device_t: Date.now() / 1000, entry: "bench.getDeviceId",
            api: "android.telephony.TelephonyManager.getDeviceId", category: "device_id",
            data_type: "imei", args: [], ret: "359881234567890", stack, thread: "main",
            tid: Process.getCurrentThreadId(), pid: Process.id, process: "jvm",
        }));
        this.calls++;
        return this.calls === this.total;
    }

    means(): Record<string, number> {
        const clock = (this.sums.get("clock") ?? 0) / this.calls;
        const out: Record<string, number> = {};
        for (const [name, sum] of this.sums) {
            if (name !== "clock") {
                out[name] = Math.max(0, sum / this.calls - clock);
            }
        }
        out["(timer cost, subtracted)"] = clock;
        return out;
    }
}

Java.perform(() => {
    const setup = jvmtiSetup();
    const method = Java.use("android.telephony.TelephonyManager").getDeviceId;
    let done = false;
    let perCall: PerCall | null = null;
    let left = 0;
    let calls = 0;
    let outside = 0;
    let original = 0;
    method.implementation = function (this: any) {
        const entered = micros();
        if (perCall !== null) {
            if (left > 0) {
                outside += entered - left; // the bridge's way in and out, and the Java loop
            }
            if (!done && perCall.call()) {
                done = true;
                const parts = perCall.means();
                parts["calling the original (method.call)"] = original / calls;
                parts["between hooks (bridge in/out + Java loop)"] = outside / (calls - 1);
                send({ type: "parts", frames: setup.reader.read().stack.length,
                       mode: "per call", parts });
            }
        } else if (!done) {
            done = true; // the first call: which mode (bench_agent.py sets it by the calls)
            const depth = setup.reader.read().stack.length;
            if (PER_CALL) {
                perCall = new PerCall(setup, 2000);
                done = false;
            } else {
                const parts = measure(setup);
                delete parts.frames;
                send({ type: "parts", frames: depth, parts });
            }
        }
        const t0 = micros();
        const ret = method.call(this);
        if (perCall !== null && !done) {
            original += micros() - t0;
            calls++;
        }
        left = micros();
        return ret;
    };
});
