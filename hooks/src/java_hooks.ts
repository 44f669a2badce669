// Catalogue-driven Java hooks. One generic implementation records every entry: the call's
// relevant arguments, the returned value (the collected datum), the Java stack and thread.
// Several entries may share one method (ContentResolver.query by URI family): each overload is
// hooked once and dispatches to every entry whose `when` conditions hold.
// A hook that cannot be installed is skipped with its reason, never a crash. Entries whose class
// is absent wait for it in LateClasses (loaders.ts).

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";
import { LateClasses } from "./loaders.js";
import { CatalogueEntry, Coverage } from "./protocol.js";
import { JvmtiStackReader } from "./jvmti.js";
import { JavaStackReader, StackReader } from "./stack.js";
import { describeArg, formatReturn, permissionNames } from "./values.js";

/** The catalogue's argument condition; the host sends only the matchers that were given. */
interface Condition {
    arg: number;
    in?: string[] | null;
    prefix?: string[] | null;
    contains?: string[] | null;
}

/** Host-side fields this module reads beyond protocol.ts's CatalogueEntry. */
interface Entry extends CatalogueEntry {
    recordThis?: boolean;
}

const PRIMITIVE_CODES: Record<string, string> = {
    boolean: "Z", byte: "B", char: "C", short: "S", int: "I", long: "J", float: "F", double: "D",
};

/** The bridge names array parameters the JNI way: `byte[]` is `[B`, `String[]` is
 * `[Ljava.lang.String;`; the catalogue uses the Java spelling. */
function jniTypeName(type: string): string {
    let base = type;
    let dims = 0;
    while (base.endsWith("[]")) {
        base = base.slice(0, -2);
        dims++;
    }
    if (dims === 0) {
        return type;
    }
    const element = PRIMITIVE_CODES[base] ?? `L${base};`;
    return "[".repeat(dims) + element;
}

interface Slot {
    entries: Entry[];
    /** kindOf(entries[i]), kept beside them: the hook reads it on every call. */
    kinds: string[];
}

const apis = new WeakMap<Entry, string>();

/** "class.method", made once per entry rather than on every event. */
function apiOf(entry: Entry): string {
    let api = apis.get(entry);
    if (api === undefined) {
        api = `${entry.className}.${entry.method}`;
        apis.set(entry, api);
    }
    return api;
}

/** Calls of the same kind nest into one record: same event type, data type and category. */
function kindOf(entry: Entry): string {
    return `${entry.event}|${entry.dataType}|${entry.category}`;
}

export class JavaHooks {
    private depth = new Map<number, number>();
    /** Per thread: names of the methods being called through Method.invoke (innermost last). */
    private reflective = new Map<number, string[]>();
    private slots = new Map<string, Slot>();
    private late: LateClasses;
    private stacks: StackReader | null = null;
    private forgetScheduled = false;

    constructor(
        private buffer: EventBuffer,
        private processName: string,
        private stackDepth: number,
    ) {
        this.late = new LateClasses(buffer, (entry, klass) => this.installOne(entry as Entry, klass));
    }

    install(entries: CatalogueEntry[]): Coverage {
        const coverage: Coverage = { installed: [], skipped: [], runtime: "" };
        this.stacks = this.stackReaderFor(this.stackDepth);
        for (const entry of entries as Entry[]) {
            const reason = this.installOne(entry, null);
            if (reason === null) {
                coverage.installed.push(entry.id);
                continue;
            }
            coverage.skipped.push({ id: entry.id, reason });
            this.skippedEvent(entry, reason);
            if (reason.startsWith("class not found")) {
                this.late.wait(entry);
            }
        }
        this.markReflection();
        if (this.late.size > 0) {
            this.late.watch();
        }
        return coverage;
    }

    /** JVMTI on HotSpot (deep stacks at a fraction of the cost, jvmti.ts); JNI on ART, where
     * JVMTI is for debuggable apps only, and wherever JVMTI is refused. Not the bridge's
     * Java.backtrace() on ART: it walks with STACK_WALK_SKIP_INLINED_FRAMES (Throwable's
     * trace keeps inlined frames, so SDK frames could vanish), formats every frame's
     * DescribeLocation string on each call, and could not be run here (no ART). */
    private stackReaderFor(depth: number): StackReader {
        if ((Java as any).api?.flavor === "jvm") { // the bridge's own name for HotSpot
            try {
                return new JvmtiStackReader(depth);
            } catch (e) {
                // Same frames, only slower: said once, not an event's loss.
                this.buffer.push({ type: "agent.error", device_t: Date.now() / 1000,
                    message: `JVMTI stack reader unavailable, using JNI: ${(e as Error).message}` });
            }
        }
        return new JavaStackReader(depth);
    }

    private skippedEvent(entry: Entry, reason: string): void {
        this.buffer.push({
            type: "agent.hook_skipped",
            device_t: Date.now() / 1000,
            entry: entry.id,
            api: `${entry.className}.${entry.method}`,
            reason,
        });
    }

    private findClass(name: string): any {
        try {
            return Java.use(name);
        } catch (e) {
            // Classes of other class loaders (plugins, DexClassLoader) are not visible to the
            // default factory (frida/frida#1049): try each loader's factory.
            for (const loader of Java.enumerateClassLoadersSync()) {
                try {
                    return Java.ClassFactory.get(loader).use(name);
                } catch (ignored) {
                    // not in this loader
                }
            }
            throw e;
        }
    }

    private installOne(entry: Entry, klassGiven: any): string | null {
        let klass = klassGiven;
        if (klass === null) {
            try {
                klass = this.findClass(entry.className);
            } catch (e) {
                return `class not found: ${entry.className}`;
            }
        }
        const method = klass[entry.method];
        if (method === undefined || method.overloads === undefined) {
            return `method not found: ${entry.className}.${entry.method}`;
        }
        let overloads: any[];
        try {
            overloads = entry.overloads === null
                ? method.overloads
                : entry.overloads.map(types => method.overload(...types.map(jniTypeName)));
        } catch (e) {
            return `overload mismatch: ${(e as Error).message}`;
        }
        if (overloads.length === 0) {
            return "no overloads";
        }
        for (const overload of overloads) {
            const key = `${entry.className}#${entry.method}(${
                overload.argumentTypes.map((t: any) => t.className).join(",")})`;
            const slot = this.slots.get(key);
            if (slot !== undefined) {
                // Replaced, not mutated: a call in flight keeps a consistent snapshot.
                slot.entries = [...slot.entries, entry];
                slot.kinds = [...slot.kinds, kindOf(entry)];
                continue;
            }
            try {
                this.hookOverload(key, overload, entry);
            } catch (e) {
                return `cannot hook ${entry.className}.${entry.method}: ${(e as Error).message}`;
            }
        }
        return null;
    }

    private hookOverload(key: string, overload: any, first: Entry): void {
        const hooks = this;
        const slot: Slot = { entries: [first], kinds: [kindOf(first)] };
        overload.implementation = function (this: any, ...args: any[]) {
            let ret: any;
            let error: any;
            const entries = slot.entries;
            const kinds = slot.kinds;
            const tid = Process.getCurrentThreadId();
            hooks.enter(tid, kinds);
            try {
                ret = overload.call(this, ...args);
            } catch (e) {
                error = e;
            } finally {
                hooks.leave(tid, kinds);
            }
            for (let i = 0; i < entries.length; i++) {
                // An API built on another hooked API of the same kind (checkSelfPermission →
                // checkPermission, getImei() → getImei(slot)) is recorded once: at the
                // outermost call, the one the caller made.
                if (!hooks.insideSameKind(tid, kinds[i])) {
                    hooks.record(tid, entries[i], this, args, ret, error);
                }
            }
            if (error !== undefined) {
                throw error;
            }
            return ret;
        };
        this.slots.set(key, slot);
        this.forgetAfterHooksApply();
    }

    /** The bridge applies a hook on its next tick (jvm.js doManglers, scheduled when
     * `implementation` is set); a tick scheduled after that one runs once it is applied, and
     * the stack reader drops what it described of the method before (jvmti.ts). One tick for
     * a batch of hooks set together. */
    private forgetAfterHooksApply(): void {
        if (this.forgetScheduled) {
            return;
        }
        this.forgetScheduled = true;
        Script.nextTick(() => {
            this.forgetScheduled = false;
            this.stacks?.forget();
        });
    }

    /** Method.invoke is hooked only to know which call is reflective; it records nothing. */
    private markReflection(): void {
        let invoke: any;
        try {
            invoke = Java.use("java.lang.reflect.Method").invoke;
        } catch (e) {
            this.buffer.push({ type: "agent.error", device_t: Date.now() / 1000,
                message: `reflection marker not installed: ${(e as Error).message}` });
            return;
        }
        const marks = this.reflective;
        for (const overload of invoke.overloads) {
            overload.implementation = function (this: any, ...args: any[]) {
                const tid = Process.getCurrentThreadId();
                const stack = marks.get(tid) ?? [];
                stack.push(String(this.getName()));
                marks.set(tid, stack);
                try {
                    return overload.call(this, ...args);
                } finally {
                    stack.pop();
                }
            };
        }
    }

    private conditionsHold(entry: Entry, self: any, args: any[]): boolean {
        for (const condition of entry.when as Condition[]) {
            const raw = condition.arg === -1 ? self : args[condition.arg];
            if (raw === null || raw === undefined) {
                return false;
            }
            const value = typeof raw === "object" ? String(describeArg(raw, true)) : String(raw);
            if (condition.in && !condition.in.includes(value)) {
                return false;
            }
            if (condition.prefix && !condition.prefix.some(p => value.startsWith(p))) {
                return false;
            }
            if (condition.contains && !condition.contains.some(p => value.includes(p))) {
                return false;
            }
        }
        return true;
    }

    /** Per thread: the kinds of the hooked calls in progress, innermost last. Nesting is
     * shallow (a few calls), so a scan of a small array beats map bookkeeping on every call. */
    private active = new Map<number, string[]>();

    enter(tid: number, kinds: string[]): void {
        const open = this.active.get(tid);
        if (open === undefined) {
            this.active.set(tid, kinds.slice());
            return;
        }
        for (let i = 0; i < kinds.length; i++) {
            open.push(kinds[i]);
        }
    }

    leave(tid: number, kinds: string[]): void {
        const open = this.active.get(tid);
        if (open === undefined) {
            return;
        }
        open.length = Math.max(0, open.length - kinds.length);
        if (open.length === 0) {
            this.active.delete(tid);
        }
    }

    insideSameKind(tid: number, kind: string): boolean {
        const open = this.active.get(tid);
        return open !== undefined && open.includes(kind);
    }

    private record(tid: number, entry: Entry, self: any, args: any[], ret: any,
                   error: any): void {
        const depth = this.depth.get(tid) ?? 0;
        if (depth > 0) {
            return; // a hooked API called while recording another one (e.g. by toString)
        }
        this.depth.set(tid, depth + 1);
        try {
            if (!this.conditionsHold(entry, self, args)) {
                return;
            }
            // The stack and the thread name in one pass of JNI calls (stack.ts). If that fails
            // the call is still evidence: recorded without them, with the reason.
            let stack: readonly string[] = [];
            let thread = "";
            let stackError: string | undefined;
            try {
                ({ stack, thread } = this.stacks!.read());
            } catch (e) {
                stackError = (e as Error).message;
            }
            if (entry.skipCallers !== undefined && entry.skipCallers.length > 0) {
                // stack[0] is the hooked method itself; stack[1] is who called it.
                const caller = stack.length > 1 ? stack[1] : "";
                if (entry.skipCallers.some(prefix => caller.startsWith(prefix))) {
                    return;
                }
            }
            const event: any = {
                type: entry.event,
                device_t: Date.now() / 1000,
                entry: entry.id,
                api: apiOf(entry),
                category: entry.category,
                data_type: entry.dataType,
                args: this.recordArgs(entry, args),
                ret: error === undefined ? formatReturn(entry.format, ret) : null,
                stack,
                thread,
                tid,
                pid: Process.id,
                process: this.processName,
            };
            if (entry.recordThis && self !== null && self !== undefined) {
                event.this = describeArg(self, true);
            }
            const invoking = this.reflective.get(tid);
            if (invoking !== undefined && invoking.length > 0
                && invoking[invoking.length - 1] === entry.method) {
                event.reflective = true;
            }
            if (entry.permissionsArg !== null) {
                event.permissions = permissionNames(args[entry.permissionsArg]);
            }
            if (error !== undefined) {
                event.error = String(error);
            }
            if (stackError !== undefined) {
                event.stack_error = stackError;
            }
            this.buffer.push(event);
        } catch (e) {
            this.buffer.push({
                type: "agent.error",
                device_t: Date.now() / 1000,
                entry: entry.id,
                message: `recording ${entry.id} failed: ${(e as Error).message}`,
            });
        } finally {
            this.depth.set(tid, depth);
        }
    }

    private recordArgs(entry: Entry, args: any[]): unknown[] {
        const indices = entry.recordArgs ?? args.map((_, i) => i);
        return indices.map(i => describeArg(args[i]));
    }
}
