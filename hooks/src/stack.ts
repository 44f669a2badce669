// The Java stack and thread name of the calling thread, read through raw JNI with method IDs
// resolved once. The bridge's wrappers (Java.use objects) cost most of a hooked call: each
// returned object gets a JS wrapper with a global ref, and getStackTrace()'s array is turned
// into a JS array of wrappers only to be turned back into a Java array for Arrays.toString.
// Here: Thread.currentThread(), .getStackTrace(), Arrays.toString(frames) (the whole stack as
// one string) and .getName() on the same thread reference, inside one JNI local frame.
//
// The same calls exist on HotSpot and ART (java.lang.Thread, java.util.Arrays), so there is no
// runtime-specific path; what differs is only the frame text, normalised by `frameText`.
// The thread name is read on every event, not cached: apps and libraries rename their threads
// (OkHttp names a worker after the request it runs), and the name is evidence.

import Java from "frida-java-bridge";

/** Frames of the stack-reading machinery itself (the top of every stack), never recorded. */
const STACK_SKIP = ["java.lang.Thread.getStackTrace", "dalvik.system.VMStack.getThreadStackTrace"];
/** Only the first few frames can be the machinery's. */
const SKIP_WINDOW = 3;

export interface StackAndThread {
    /** Shared by every event with the same stack: frozen. */
    stack: readonly string[];
    thread: string;
}

/** The calling thread's Java stack (frames as `frameText` gives them) and name. */
export interface StackReader {
    read(): StackAndThread;
    /** Drops whatever was learnt of methods: called once newly installed hooks are applied
     * (a hooked method reads "(Native Method)" from then on). */
    forget(): void;
}

/**
 * HotSpot prefixes a frame with its class loader and module ("java.base/", "app//",
 * "jdk.httpserver@17.0.15/"); ART does not. Strip the prefix so frames read alike,
 * "class.method(File.java:line)". A hidden class's name has a slash too
 * ("Foo$$Lambda/0x0000000800c0b000.run"): what follows a module prefix is a class name and
 * never starts with a digit, so that slash is kept.
 */
export function frameText(frame: string): string {
    const slash = frame.indexOf("/");
    if (slash < 0) {
        return frame; // ART, and HotSpot classes of unnamed loaders: the common fast path
    }
    let end = slash + 1;
    if (frame.charCodeAt(end) === 0x2f) {
        end++; // "app//": a named class loader, no module
    }
    const next = frame.charCodeAt(end);
    if (next >= 0x30 && next <= 0x39) {
        return frame; // the slash of a hidden class name, not a prefix
    }
    const paren = frame.indexOf("(");
    if (paren >= 0 && paren < slash) {
        return frame; // the slash is inside "(File.java:1)", not a prefix
    }
    return frame.slice(end);
}

/** Frames from `Arrays.toString(StackTraceElement[])`: "[a(A.java:1), b(B.java:2)]". */
export function parseFrames(joined: string, depth: number): string[] {
    const out: string[] = [];
    const end = joined.length - 1; // the closing "]"
    let start = 1;
    // A frame's text never contains ", " (class, method and file names cannot hold a space).
    for (let index = 0; start < end && out.length < depth; index++) {
        let stop = joined.indexOf(", ", start);
        if (stop < 0) {
            stop = end;
        }
        const text = frameText(joined.slice(start, stop));
        start = stop + 2;
        if (index < SKIP_WINDOW
            && (text.startsWith(STACK_SKIP[0]) || text.startsWith(STACK_SKIP[1]))) {
            continue;
        }
        out.push(text);
    }
    return out;
}

/** Parsed stacks by their text. A hot call site repeats its stack, and one lookup costs less
 * than parsing it again. Bounded by the text it holds (about 4 MB with the parsed frames),
 * so a burst of distinct deep stacks cannot grow the agent's heap. */
const PARSED_MAX_CHARS = 1 << 20;

// Indices in the JNIEnv function table (JNI specification, "Interface Function Table").
const PUSH_LOCAL_FRAME = 19;
const POP_LOCAL_FRAME = 20;
const CALL_OBJECT_METHOD = 34;
const CALL_STATIC_OBJECT_METHOD = 114;
const GET_STRING_LENGTH = 164;
const GET_STRING_REGION = 220;

/** Every call lets go of the JS lock (Frida's default, "cooperative"), even the JNI functions
 * that run no Java code: any JNI call may block at a HotSpot safepoint, and the bridge runs
 * its method patching as a VM operation whose callback (at that safepoint, on the VM thread)
 * needs the JS lock. Holding the lock there ("exclusive") deadlocked the specimen. */
const OPTIONS: NativeFunctionOptions = { exceptions: "propagate", scheduling: "cooperative" };

/** The few JNI functions an event needs, bound once (the table is the same for every thread;
 * the calling thread's JNIEnv is the first argument). */
export class Jni {
    pushLocalFrame: NativeFunction<number, [NativePointer, number]>;
    popLocalFrame: NativeFunction<NativePointer, [NativePointer, NativePointer]>;
    callObject: NativeFunction<NativePointer, [NativePointer, NativePointer, NativePointer]>;
    callStaticObject: NativeFunction<NativePointer, [NativePointer, NativePointer, NativePointer]>;
    callStaticObject1: NativeFunction<NativePointer,
        [NativePointer, NativePointer, NativePointer, NativePointer]>;
    getStringLength: NativeFunction<number, [NativePointer, NativePointer]>;
    getStringRegion: NativeFunction<void,
        [NativePointer, NativePointer, number, number, NativePointer]>;

    constructor(envHandle: NativePointer) {
        const table = envHandle.readPointer();
        const fn = (index: number) => table.add(index * Process.pointerSize).readPointer();
        this.pushLocalFrame = new NativeFunction(fn(PUSH_LOCAL_FRAME), "int32",
            ["pointer", "int32"], OPTIONS);
        this.popLocalFrame = new NativeFunction(fn(POP_LOCAL_FRAME), "pointer",
            ["pointer", "pointer"], OPTIONS);
        this.callObject = new NativeFunction(fn(CALL_OBJECT_METHOD), "pointer",
            ["pointer", "pointer", "pointer", "..."], OPTIONS) as any;
        this.callStaticObject = new NativeFunction(fn(CALL_STATIC_OBJECT_METHOD), "pointer",
            ["pointer", "pointer", "pointer", "..."], OPTIONS) as any;
        this.callStaticObject1 = new NativeFunction(fn(CALL_STATIC_OBJECT_METHOD), "pointer",
            ["pointer", "pointer", "pointer", "...", "pointer"], OPTIONS) as any;
        this.getStringLength = new NativeFunction(fn(GET_STRING_LENGTH), "int32",
            ["pointer", "pointer"], OPTIONS);
        this.getStringRegion = new NativeFunction(fn(GET_STRING_REGION), "void",
            ["pointer", "pointer", "int32", "int32", "pointer"], OPTIONS);
    }

    /** A Java string's text: one copy into a buffer of this call's own (two JNI calls, no
     * pinning). Not a shared buffer: the JS lock is let go during each JNI call, so another
     * thread can be here at the same time. */
    text(env: NativePointer, str: NativePointer): string {
        const length = this.getStringLength(env, str);
        if (length === 0) {
            return "";
        }
        const chars = Memory.alloc(length * 2);
        this.getStringRegion(env, str, 0, length, chars);
        return chars.readUtf16String(length) ?? "";
    }
}

/**
 * Reads the caller's stack and thread name. Create it inside Java.perform (the constructor
 * resolves classes and method IDs); call `read` from a thread attached to the VM (any hooked
 * Java method runs on one).
 */
export class JavaStackReader implements StackReader {
    private threadClass: NativePointer;
    private arraysClass: NativePointer;
    private currentThread: NativePointer;
    private getStackTrace: NativePointer;
    private getName: NativePointer;
    private arraysToString: NativePointer;
    private jni: Jni;
    private parsed = new Map<string, readonly string[]>();
    private parsedChars = 0;

    constructor(private depth: number) {
        const env = Java.vm.getEnv();
        this.threadClass = globalClass(env, "java/lang/Thread");
        this.arraysClass = globalClass(env, "java/util/Arrays");
        this.currentThread = env.getStaticMethodId(this.threadClass, "currentThread",
            "()Ljava/lang/Thread;");
        this.getStackTrace = env.getMethodId(this.threadClass, "getStackTrace",
            "()[Ljava/lang/StackTraceElement;");
        this.getName = env.getMethodId(this.threadClass, "getName", "()Ljava/lang/String;");
        this.arraysToString = env.getStaticMethodId(this.arraysClass, "toString",
            "([Ljava/lang/Object;)Ljava/lang/String;");
        this.jni = new Jni(env.handle);
    }

    /** Nothing to drop: stacks are kept by their text, which Throwable makes anew. */
    forget(): void {
    }

    read(): StackAndThread {
        const env = Java.vm.getEnv();
        const h: NativePointer = env.handle;
        const jni = this.jni;
        if (jni.pushLocalFrame(h, 8) !== 0) {
            env.throwIfExceptionPending();
            throw new Error("JNI PushLocalFrame failed");
        }
        try {
            const thread = check(env,
                jni.callStaticObject(h, this.threadClass, this.currentThread), "currentThread");
            const frames = check(env,
                jni.callObject(h, thread, this.getStackTrace), "getStackTrace");
            const joined = check(env,
                jni.callStaticObject1(h, this.arraysClass, this.arraysToString, frames),
                "Arrays.toString");
            const stack = this.frames(jni.text(h, joined));
            const name = check(env, jni.callObject(h, thread, this.getName), "getName");
            return { stack, thread: jni.text(h, name) };
        } finally {
            // Frees every local ref made above, also on an exception.
            jni.popLocalFrame(h, NULL);
        }
    }

    private frames(joined: string): readonly string[] {
        let stack = this.parsed.get(joined);
        if (stack === undefined) {
            stack = Object.freeze(parseFrames(joined, this.depth));
            if (this.parsedChars + joined.length > PARSED_MAX_CHARS) {
                // Hot call sites are few: a full table is rare and refills at once.
                this.parsed.clear();
                this.parsedChars = 0;
            }
            this.parsed.set(joined, stack);
            this.parsedChars += joined.length;
        }
        return stack;
    }
}

/** These methods never return null; null means a pending Java exception: rethrow it. */
function check(env: any, ref: NativePointer, what: string): NativePointer {
    if (ref.isNull()) {
        env.throwIfExceptionPending();
        throw new Error(`${what} returned null`);
    }
    return ref;
}

function globalClass(env: any, name: string): NativePointer {
    const local = env.findClass(name);
    try {
        // Kept for the agent's lifetime: the class is a VM class, never unloaded.
        return env.newGlobalRef(local);
    } finally {
        env.deleteLocalRef(local);
    }
}
