// The Java stack through JVMTI on HotSpot: GetStackTrace hands back (jmethodID, location)
// pairs with no Java allocation and stops at the depth limit, where Thread.getStackTrace
// makes a StackTraceElement per frame (with loader and module names) and Arrays.toString
// formats them all on every event. Here the text of a frame is made once per method and line
// and the whole stack once per distinct tuple of frames, so a hot call site costs one native
// stack walk, one copy of its frames and one Map lookup.
//
// The text is exactly StackTraceElement.toString's without the loader/module prefix (what the
// JNI reader, stack.ts, records): "class.method(File.java:line)", "(Native Method)",
// "(File.java)" without a line table, "(Unknown Source)" without a source file. Frames that
// Throwable leaves out are left out here too: HotSpot marks "hidden" every method of a hidden
// class (lambda proxies, LambdaForms) and the boot and platform classes' methods annotated
// @jdk.internal.vm.annotation.Hidden (DirectMethodHandle$Holder.invokeStatic under a
// MethodHandle call). tests/integration/test_stack_text.py compares both readers on the same
// stacks (lambdas, reflection, method handles, constructors, no debug info, depth limit,
// hooked methods).
//
// A hooked method: frida-java-bridge points its jmethodID at a new native Method* (jvm.js
// installJvmMethod), so the frame of its original body comes back as (that id, a bytecode
// index), and Throwable, which looks the method up by the same id, prints "(Native Method)".
// So a native method always reads "(Native Method)" here, and `forget` (called once the agent's
// hooks are applied) drops what was described of a method before it was hooked.
//
// HotSpot only: ART gives JVMTI to debuggable apps alone, so on ART the JNI reader is used.

import Java from "frida-java-bridge";

import { JavaStackReader, Jni, StackAndThread, StackReader } from "./stack.js";

const JVMTI_VERSION_1_0 = 0x30010000;
// jvmtiCapabilities bits (jvmti.h): can_get_source_file_name, can_get_line_numbers. Both are
// "always" capabilities on HotSpot, so a live-phase agent gets them.
const CAN_GET_SOURCE_FILE_NAME = 1 << 11;
const CAN_GET_LINE_NUMBERS = 1 << 12;
const JVMTI_ERROR_ABSENT_INFORMATION = 101;

// 1-based function numbers of the JVMTI interface table (jvmti.h, "/* n : ... */").
const DEALLOCATE = 47;
const GET_CLASS_SIGNATURE = 48;
const GET_SOURCE_FILE_NAME = 50;
const GET_METHOD_NAME = 64;
const GET_METHOD_DECLARING_CLASS = 65;
const GET_METHOD_MODIFIERS = 66;
const GET_CLASS_LOADER = 57;
const GET_LINE_NUMBER_TABLE = 70;
const GET_STACK_TRACE = 104;
const ADD_CAPABILITIES = 142;

// JNIEnv function table indices (JNI specification, "Interface Function Table").
const TO_REFLECTED_METHOD = 9;
const NEW_GLOBAL_REF = 21;
const DELETE_GLOBAL_REF = 22;
const IS_SAME_OBJECT = 24;
const GET_OBJECT_FIELD = 95;
const CALL_BOOLEAN_METHOD = 37;
const EXCEPTION_CHECK = 228;
const ACC_STATIC = 0x0008;
const ACC_NATIVE = 0x0100;

/** sizeof(jvmtiFrameInfo) and sizeof(jvmtiLineNumberEntry) on 64-bit: a pointer or jlocation
 * and an 8-byte-aligned jint. */
const FRAME_INFO_SIZE = 16;
const LINE_ENTRY_SIZE = 16;

/** Bounds of the caches, so a burst of distinct stacks cannot grow the agent's heap: stacks
 * by their frame count (the frame texts are shared with the method cache, a stack holds
 * only its array), methods by count. A full table is cleared: hot call sites refill it at
 * once. */
const STACKS_MAX_FRAMES = 1 << 18;
const METHODS_MAX = 20000;
/** Frames read beyond the depth limit, to make up for hidden ones left out (Throwable's
 * trace counts its depth after leaving them out; a method handle call has two or three).
 * More hidden frames than that (a deep lambda recursion has one per level) and the stack is
 * read on, a chunk of the same size at a time. */
const HIDDEN_SLACK = 16;
/** Thread names kept (one per thread id seen). */
const NAMES_MAX = 4096;

/** Same reasoning as stack.ts: every JVMTI function may block at a safepoint, where the
 * bridge's VM operations need the JS lock, so the lock is let go during each call. */
const OPTIONS: NativeFunctionOptions = { exceptions: "propagate", scheduling: "cooperative" };

interface MethodText {
    /** "class.method", or null for a method Throwable's stack trace leaves out. */
    name: string | null;
    file: string | null;
    /** ACC_NATIVE: "(Native Method)" whatever the location (a hooked method, see above). */
    native: boolean;
    /** [start location, line] pairs in the class file's order; null without a table. */
    lines: number[] | null;
    /** Frame texts by location. */
    frames: Map<number, string>;
}

/**
 * Reads the caller's stack through JVMTI and the thread name through JNI. Create it inside
 * Java.perform; throws when the VM gives no JVMTI environment with the needed capabilities
 * (the caller then uses the JNI reader).
 */
export class JvmtiStackReader implements StackReader {
    private env: NativePointer;
    private getStackTrace: NativeFunction<number,
        [NativePointer, NativePointer, number, number, NativePointer, NativePointer]>;
    private deallocate: NativeFunction<number, [NativePointer, NativePointer]>;
    private getClassSignature: NativeFunction<number,
        [NativePointer, NativePointer, NativePointer, NativePointer]>;
    private getSourceFileName: NativeFunction<number,
        [NativePointer, NativePointer, NativePointer]>;
    private getMethodName: NativeFunction<number,
        [NativePointer, NativePointer, NativePointer, NativePointer, NativePointer]>;
    private getDeclaringClass: NativeFunction<number,
        [NativePointer, NativePointer, NativePointer]>;
    private getLineNumberTable: NativeFunction<number,
        [NativePointer, NativePointer, NativePointer, NativePointer]>;
    private getMethodModifiers: NativeFunction<number,
        [NativePointer, NativePointer, NativePointer]>;
    private getClassLoader: NativeFunction<number, [NativePointer, NativePointer, NativePointer]>;
    private toReflectedMethod: NativeFunction<NativePointer,
        [NativePointer, NativePointer, NativePointer, number]>;
    private callBoolean1: NativeFunction<number,
        [NativePointer, NativePointer, NativePointer, NativePointer]>;
    private exceptionCheck: NativeFunction<number, [NativePointer]>;
    /** jdk.internal.vm.annotation.Hidden and Executable.isAnnotationPresent. */
    private hiddenAnnotation: NativePointer;
    private isAnnotationPresent: NativePointer;
    private jni: Jni;
    private threadClass: NativePointer;
    private currentThread: NativePointer;
    private nameField: NativePointer;
    private getObjectField: NativeFunction<NativePointer,
        [NativePointer, NativePointer, NativePointer]>;
    private isSameObject: NativeFunction<number, [NativePointer, NativePointer, NativePointer]>;
    private newGlobalRef: NativeFunction<NativePointer, [NativePointer, NativePointer]>;
    private deleteGlobalRef: NativeFunction<void, [NativePointer, NativePointer]>;
    /** Per thread id: its name String (a global ref) and that String's text. */
    private names = new Map<number, { ref: NativePointer; text: string }>();
    /** Frame buffers not in use. A buffer per call in flight: the JS lock is let go during
     * GetStackTrace, so another thread can be reading its own stack meanwhile. */
    private free: NativePointer[] = [];
    private bufferSize: number;
    /** Frames asked of GetStackTrace. */
    private maxFrames: number;
    /** For an event whose frames JVMTI cannot describe (a class unloaded meanwhile...): the
     * same frames the slow way, so no event loses its stack. */
    private fallback: JavaStackReader;
    /** Stacks by the digests of their frame chunks; null: the stack goes on past this chunk
     * with too few frames kept yet, so the next chunk is part of the key. */
    private stacks = new Map<string, readonly string[] | null>();
    private stackFrames = 0;
    private methods = new Map<string, MethodText>();
    /** Bumped by `forget`: a description made across it (the JS lock is let go during each
     * JVMTI call) is used once but not kept. */
    private generation = 0;
    /** ClassLoader.getPlatformClassLoader(): its classes may use @Hidden too. */
    private platformLoader: NativePointer;

    constructor(private depth: number) {
        const vm = Java.vm as any;
        const handle: NativePointer | null = vm.tryGetEnvHandle(JVMTI_VERSION_1_0);
        if (handle === null) {
            throw new Error("no JVMTI environment");
        }
        this.env = handle;
        const table = handle.readPointer();
        const fn = (n: number) => table.add((n - 1) * Process.pointerSize).readPointer();
        const addCapabilities = new NativeFunction(fn(ADD_CAPABILITIES), "int32",
            ["pointer", "pointer"], OPTIONS);
        const capabilities = Memory.alloc(16); // sizeof(jvmtiCapabilities), zeroed
        capabilities.writeU32(CAN_GET_SOURCE_FILE_NAME | CAN_GET_LINE_NUMBERS);
        const added = addCapabilities(handle, capabilities);
        if (added !== 0) {
            throw new Error(`JVMTI AddCapabilities failed: error ${added}`);
        }
        this.getStackTrace = new NativeFunction(fn(GET_STACK_TRACE), "int32",
            ["pointer", "pointer", "int32", "int32", "pointer", "pointer"], OPTIONS);
        this.deallocate = new NativeFunction(fn(DEALLOCATE), "int32",
            ["pointer", "pointer"], OPTIONS);
        this.getClassSignature = new NativeFunction(fn(GET_CLASS_SIGNATURE), "int32",
            ["pointer", "pointer", "pointer", "pointer"], OPTIONS);
        this.getSourceFileName = new NativeFunction(fn(GET_SOURCE_FILE_NAME), "int32",
            ["pointer", "pointer", "pointer"], OPTIONS);
        this.getMethodName = new NativeFunction(fn(GET_METHOD_NAME), "int32",
            ["pointer", "pointer", "pointer", "pointer", "pointer"], OPTIONS);
        this.getDeclaringClass = new NativeFunction(fn(GET_METHOD_DECLARING_CLASS), "int32",
            ["pointer", "pointer", "pointer"], OPTIONS);
        this.getLineNumberTable = new NativeFunction(fn(GET_LINE_NUMBER_TABLE), "int32",
            ["pointer", "pointer", "pointer", "pointer"], OPTIONS);
        this.getMethodModifiers = new NativeFunction(fn(GET_METHOD_MODIFIERS), "int32",
            ["pointer", "pointer", "pointer"], OPTIONS);
        this.getClassLoader = new NativeFunction(fn(GET_CLASS_LOADER), "int32",
            ["pointer", "pointer", "pointer"], OPTIONS);
        const jniEnv = Java.vm.getEnv();
        const jniTable = jniEnv.handle.readPointer();
        const jniFn = (index: number) => jniTable.add(index * Process.pointerSize).readPointer();
        this.toReflectedMethod = new NativeFunction(jniFn(TO_REFLECTED_METHOD), "pointer",
            ["pointer", "pointer", "pointer", "uint8"], OPTIONS);
        this.callBoolean1 = new NativeFunction(jniFn(CALL_BOOLEAN_METHOD), "uint8",
            ["pointer", "pointer", "pointer", "...", "pointer"], OPTIONS) as any;
        this.exceptionCheck = new NativeFunction(jniFn(EXCEPTION_CHECK), "uint8", ["pointer"],
            OPTIONS);
        this.jni = new Jni(jniEnv.handle);
        const loaderClass = globalClass(jniEnv, "java/lang/ClassLoader");
        const platform = this.jni.callStaticObject(jniEnv.handle, loaderClass,
            jniEnv.getStaticMethodId(loaderClass, "getPlatformClassLoader",
                "()Ljava/lang/ClassLoader;"));
        if (platform.isNull()) {
            jniEnv.throwIfExceptionPending();
            throw new Error("no platform class loader");
        }
        this.platformLoader = jniEnv.newGlobalRef(platform);
        jniEnv.deleteLocalRef(platform);
        this.threadClass = globalClass(jniEnv, "java/lang/Thread");
        this.hiddenAnnotation = globalClass(jniEnv, "jdk/internal/vm/annotation/Hidden");
        const executable = globalClass(jniEnv, "java/lang/reflect/Executable");
        this.isAnnotationPresent = jniEnv.getMethodId(executable, "isAnnotationPresent",
            "(Ljava/lang/Class;)Z");
        this.currentThread = jniEnv.getStaticMethodId(this.threadClass, "currentThread",
            "()Ljava/lang/Thread;");
        // Thread.getName() returns this field (OpenJDK 17), read here without a Java call.
        this.nameField = jniEnv.getFieldId(this.threadClass, "name", "Ljava/lang/String;");
        this.getObjectField = new NativeFunction(jniFn(GET_OBJECT_FIELD), "pointer",
            ["pointer", "pointer", "pointer"], OPTIONS);
        this.isSameObject = new NativeFunction(jniFn(IS_SAME_OBJECT), "uint8",
            ["pointer", "pointer", "pointer"], OPTIONS);
        this.newGlobalRef = new NativeFunction(jniFn(NEW_GLOBAL_REF), "pointer",
            ["pointer", "pointer"], OPTIONS);
        this.deleteGlobalRef = new NativeFunction(jniFn(DELETE_GLOBAL_REF), "void",
            ["pointer", "pointer"], OPTIONS);
        this.maxFrames = depth + HIDDEN_SLACK;
        this.bufferSize = 4 + this.maxFrames * FRAME_INFO_SIZE;
        this.fallback = new JavaStackReader(depth);
    }

    /** Drops every method description and stack: called once the agent's hooks are applied
     * (a hooked method turns native under its jmethodID, see above). */
    forget(): void {
        this.generation++;
        this.methods.clear();
        this.stacks.clear();
        this.stackFrames = 0;
    }

    read(): StackAndThread {
        // Either failing, the JNI reader reads both again: the stack is not dropped for want
        // of the thread name.
        try {
            const stack = this.stack();
            return { stack, thread: this.threadName() };
        } catch (e) {
            return this.fallback.read();
        }
    }

    private stack(): readonly string[] {
        const generation = this.generation;
        const buffers: NativePointer[] = [];
        try {
            let key = "";
            let total = 0;
            for (;;) {
                const buffer = this.free.pop() ?? Memory.alloc(this.bufferSize);
                buffers.push(buffer);
                const count = this.frames(buffer, total);
                total += count;
                // The key: SHA-1 of the frames' (jmethodID, location) bytes, hashed natively.
                // On 44 frames it costs a quarter of the same bytes made into a string in JS,
                // and two distinct stacks meeting on one digest is not a practical risk.
                key += Checksum.compute("sha1", buffer.readByteArray(count * FRAME_INFO_SIZE)!);
                const known = this.stacks.get(key);
                if (known !== undefined && known !== null) {
                    return known;
                }
                if (known === undefined) {
                    const stack = this.resolve(buffers, total);
                    const complete = count < this.maxFrames || stack.length >= this.depth;
                    if (generation === this.generation) {
                        this.keep(key, complete ? stack : null, stack.length);
                    }
                    if (complete) {
                        return stack;
                    }
                }
                // Hidden frames took the slack: the next chunk holds more of the stack.
            }
        } finally {
            this.free.push(...buffers);
        }
    }

    /** Up to maxFrames frames from `start` into `buffer`; how many. */
    private frames(buffer: NativePointer, start: number): number {
        // The count goes at the end of the buffer: frames start at its (aligned) head.
        const countAt = buffer.add(this.maxFrames * FRAME_INFO_SIZE);
        const error = this.getStackTrace(this.env, NULL, start, this.maxFrames, buffer, countAt);
        if (error !== 0) {
            throw new Error(`JVMTI GetStackTrace failed: error ${error}`);
        }
        return countAt.readS32();
    }

    private keep(key: string, stack: readonly string[] | null, frames: number): void {
        if (this.stackFrames + frames + 1 > STACKS_MAX_FRAMES) {
            this.stacks.clear();
            this.stackFrames = 0;
        }
        this.stacks.set(key, stack);
        this.stackFrames += frames + 1;
    }

    /**
     * The thread's name, read on every event (threads are renamed, and the name is
     * evidence), but copied to JS only when it changed: the name field still holds the same
     * String object as last time on this thread id (IsSameObject) → the same text. A
     * renamed thread, or a new thread on a reused id, holds another String.
     */
    private threadName(): string {
        const env = Java.vm.getEnv();
        const h: NativePointer = env.handle;
        const jni = this.jni;
        if (jni.pushLocalFrame(h, 4) !== 0) {
            env.throwIfExceptionPending();
            throw new Error("JNI PushLocalFrame failed");
        }
        try {
            const thread = jni.callStaticObject(h, this.threadClass, this.currentThread);
            const name = thread.isNull() ? NULL : this.getObjectField(h, thread, this.nameField);
            if (name.isNull()) {
                env.throwIfExceptionPending();
                throw new Error("the thread has no name");
            }
            const tid = Process.getCurrentThreadId();
            const known = this.names.get(tid);
            if (known !== undefined && this.isSameObject(h, known.ref, name) !== 0) {
                return known.text;
            }
            const text = jni.text(h, name);
            // Only this thread id's own entry is ever replaced (another thread could be
            // comparing against an entry while the JS lock is let go); past the bound, new
            // thread ids are read every time instead of kept.
            if (known !== undefined) {
                this.deleteGlobalRef(h, known.ref);
                this.names.delete(tid);
            }
            if (this.names.size < NAMES_MAX) {
                this.names.set(tid, { ref: this.newGlobalRef(h, name), text });
            }
            return text;
        } finally {
            jni.popLocalFrame(h, NULL);
        }
    }

    /** The text of the first `count` frames held in `buffers` (maxFrames each), made from
     * the method and line caches. */
    private resolve(buffers: NativePointer[], count: number): readonly string[] {
        const out: string[] = [];
        for (let i = 0; i < count && out.length < this.depth; i++) {
            const buffer = buffers[Math.floor(i / this.maxFrames)];
            const at = buffer.add((i % this.maxFrames) * FRAME_INFO_SIZE);
            const method = at.readPointer();
            const location = at.add(Process.pointerSize).readS64().toNumber();
            const text = this.frame(method, location);
            if (text !== null) {
                out.push(text);
            }
        }
        return Object.freeze(out);
    }

    private frame(method: NativePointer, location: number): string | null {
        const info = this.method(method);
        if (info.name === null) {
            return null;
        }
        let text = info.frames.get(location);
        if (text === undefined) {
            text = `${info.name}(${where(info, location)})`;
            info.frames.set(location, text);
        }
        return text;
    }

    private method(method: NativePointer): MethodText {
        const key = method.toString();
        let info = this.methods.get(key);
        if (info === undefined) {
            const generation = this.generation;
            info = this.describe(method);
            if (generation !== this.generation) {
                return info; // a hook was applied meanwhile: the description may predate it
            }
            if (this.methods.size >= METHODS_MAX) {
                this.methods.clear();
            }
            this.methods.set(key, info);
        }
        return info;
    }

    private describe(method: NativePointer): MethodText {
        const env = Java.vm.getEnv();
        const h: NativePointer = env.handle;
        const out = Memory.alloc(Process.pointerSize);
        const count = Memory.alloc(4);
        if (this.jni.pushLocalFrame(h, 4) !== 0) {
            env.throwIfExceptionPending();
            throw new Error("JNI PushLocalFrame failed");
        }
        try {
            this.check(this.getDeclaringClass(this.env, method, out), "GetMethodDeclaringClass");
            const klass = out.readPointer(); // a JNI local ref, freed with the frame
            this.check(this.getClassSignature(this.env, klass, out, NULL), "GetClassSignature");
            const signature = this.take(out.readPointer());
            const className = externalName(signature);
            this.check(this.getMethodName(this.env, method, out, NULL, NULL), "GetMethodName");
            const methodName = this.take(out.readPointer());
            this.check(this.getMethodModifiers(this.env, method, out), "GetMethodModifiers");
            const modifiers = out.readS32();
            const native = (modifiers & ACC_NATIVE) !== 0;
            const frames = new Map<number, string>();
            if (className === null
                || this.annotatedHidden(h, klass, method, methodName, modifiers)) {
                return { name: null, file: null, native, lines: null, frames };
            }
            let file: string | null = null;
            const fileError = this.getSourceFileName(this.env, klass, out);
            if (fileError === 0) {
                file = this.take(out.readPointer());
            } else if (fileError !== JVMTI_ERROR_ABSENT_INFORMATION) {
                this.check(fileError, "GetSourceFileName");
            }
            let lines: number[] | null = null;
            const linesError = this.getLineNumberTable(this.env, method, count, out);
            if (linesError === 0) {
                const table = out.readPointer();
                lines = [];
                for (let i = 0; i < count.readS32(); i++) {
                    const entry = table.add(i * LINE_ENTRY_SIZE);
                    lines.push(entry.readS64().toNumber(), entry.add(8).readS32());
                }
                this.deallocate(this.env, table);
            } else if (linesError !== JVMTI_ERROR_ABSENT_INFORMATION
                       && linesError !== NATIVE_METHOD) {
                this.check(linesError, "GetLineNumberTable");
            }
            return { name: `${className}.${methodName}`, file, native, lines, frames };
        } finally {
            this.jni.popLocalFrame(h, NULL);
        }
    }

    /** @Hidden counts only in the boot and platform loaders' classes (HotSpot 17's
     * "privileged" check in ClassFileParser; the JDK uses it in java.base alone). Asked once
     * per method, through reflection. */
    private annotatedHidden(h: NativePointer, klass: NativePointer, method: NativePointer,
                            name: string, modifiers: number): boolean {
        if (name === "<clinit>") {
            return false; // has no reflective form, and is never @Hidden
        }
        const out = Memory.alloc(Process.pointerSize);
        this.check(this.getClassLoader(this.env, klass, out), "GetClassLoader");
        const loader = out.readPointer(); // a JNI local ref, freed with the caller's frame
        if (!loader.isNull() && this.isSameObject(h, loader, this.platformLoader) === 0) {
            return false;
        }
        const isStatic = (modifiers & ACC_STATIC) !== 0 ? 1 : 0;
        const reflected = this.toReflectedMethod(h, klass, method, isStatic);
        const hidden = reflected.isNull() ? 0
            : this.callBoolean1(h, reflected, this.isAnnotationPresent, this.hiddenAnnotation);
        if (this.exceptionCheck(h) !== 0) {
            Java.vm.getEnv().throwIfExceptionPending();
        }
        return hidden !== 0;
    }

    /** A JVMTI-allocated string's text; the memory is given back. */
    private take(chars: NativePointer): string {
        try {
            return chars.readUtf8String() ?? "";
        } finally {
            this.deallocate(this.env, chars);
        }
    }

    private check(error: number, what: string): void {
        if (error !== 0) {
            throw new Error(`JVMTI ${what} failed: error ${error}`);
        }
    }
}

const NATIVE_METHOD = 104; // JVMTI_ERROR_NATIVE_METHOD: no line table

/** What StackTraceElement.toString puts in the parentheses. */
function where(info: MethodText, location: number): string {
    if (location === -1 || info.native) {
        return "Native Method"; // -1: JVMTI's location of a native frame
    }
    if (info.file === null) {
        return "Unknown Source";
    }
    const line = lineAt(info.lines, location);
    return line >= 0 ? `${info.file}:${line}` : info.file;
}

/**
 * The line of a bytecode index, as HotSpot's Method::line_number_from_bci finds it for
 * StackTraceElement: an entry starting exactly there, else the last entry with the greatest
 * start below it; -1 without a table.
 */
export function lineAt(lines: number[] | null, bci: number): number {
    if (lines === null) {
        return -1;
    }
    let bestBci = 0;
    let bestLine = -1;
    for (let i = 0; i < lines.length; i += 2) {
        const start = lines[i];
        if (start === bci) {
            return lines[i + 1];
        }
        if (start < bci && start >= bestBci) {
            bestBci = start;
            bestLine = lines[i + 1];
        }
    }
    return bestLine;
}

/**
 * "Lcom/example/Main$Inner;" → "com.example.Main$Inner". A hidden class's signature puts a
 * dot before its suffix ("Lcom/example/Main$$Lambda$14.0x0000000800c0b000;"): its methods are
 * hidden from Throwable's stack trace (HotSpot marks them so), so null: left out.
 */
export function externalName(signature: string): string | null {
    const name = signature.startsWith("L") && signature.endsWith(";")
        ? signature.slice(1, -1) : signature;
    if (name.includes(".")) {
        return null;
    }
    return name.replace(/\//g, ".");
}

function globalClass(env: any, name: string): NativePointer {
    const local = env.findClass(name);
    try {
        return env.newGlobalRef(local); // a boot class, never unloaded
    } finally {
        env.deleteLocalRef(local);
    }
}
