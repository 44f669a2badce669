// Catalogue-driven Java hooks. One generic implementation records every entry: the call's
// relevant arguments, the returned value (the collected datum), the Java stack and thread.
// A hook that cannot be installed is skipped with its reason, never a crash.

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";
import { CatalogueEntry, Coverage } from "./protocol.js";
import { formatReturn, permissionNames, plain } from "./values.js";

const STACK_SKIP = ["java.lang.Thread.getStackTrace", "dalvik.system.VMStack.getThreadStackTrace"];

export class JavaHooks {
    private depth = new Map<number, number>();
    private threadClass: any = null;

    constructor(
        private buffer: EventBuffer,
        private processName: string,
        private stackDepth: number,
    ) {}

    install(entries: CatalogueEntry[]): Coverage {
        const coverage: Coverage = { installed: [], skipped: [], runtime: "" };
        this.threadClass = Java.use("java.lang.Thread");
        for (const entry of entries) {
            const reason = this.installOne(entry);
            if (reason === null) {
                coverage.installed.push(entry.id);
            } else {
                coverage.skipped.push({ id: entry.id, reason });
                this.buffer.push({
                    type: "agent.hook_skipped",
                    device_t: Date.now() / 1000,
                    entry: entry.id,
                    api: `${entry.className}.${entry.method}`,
                    reason,
                });
            }
        }
        return coverage;
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

    private installOne(entry: CatalogueEntry): string | null {
        let klass: any;
        try {
            klass = this.findClass(entry.className);
        } catch (e) {
            return `class not found: ${entry.className}`;
        }
        const method = klass[entry.method];
        if (method === undefined || method.overloads === undefined) {
            return `method not found: ${entry.className}.${entry.method}`;
        }
        let overloads: any[];
        try {
            overloads = entry.overloads === null
                ? method.overloads
                : entry.overloads.map(types => method.overload(...types));
        } catch (e) {
            return `overload mismatch: ${(e as Error).message}`;
        }
        if (overloads.length === 0) {
            return "no overloads";
        }
        for (const overload of overloads) {
            try {
                this.hookOverload(entry, overload);
            } catch (e) {
                return `cannot hook ${entry.className}.${entry.method}: ${(e as Error).message}`;
            }
        }
        return null;
    }

    private hookOverload(entry: CatalogueEntry, overload: any): void {
        const hooks = this;
        overload.implementation = function (this: any, ...args: any[]) {
            let ret: any;
            let error: any;
            try {
                ret = overload.call(this, ...args);
            } catch (e) {
                error = e;
            }
            hooks.record(entry, args, ret, error);
            if (error !== undefined) {
                throw error;
            }
            return ret;
        };
    }

    private conditionsHold(entry: CatalogueEntry, args: any[]): boolean {
        for (const condition of entry.when) {
            const value = args[condition.arg];
            if (value === null || value === undefined || !condition.in.includes(String(value))) {
                return false;
            }
        }
        return true;
    }

    private record(entry: CatalogueEntry, args: any[], ret: any, error: any): void {
        const tid = Process.getCurrentThreadId();
        const depth = this.depth.get(tid) ?? 0;
        if (depth > 0) {
            return; // a hooked API called while recording another one (e.g. by toString)
        }
        this.depth.set(tid, depth + 1);
        try {
            if (!this.conditionsHold(entry, args)) {
                return;
            }
            const event: any = {
                type: entry.event,
                device_t: Date.now() / 1000,
                entry: entry.id,
                api: `${entry.className}.${entry.method}`,
                category: entry.category,
                data_type: entry.dataType,
                args: this.recordArgs(entry, args),
                ret: error === undefined ? formatReturn(entry.format, ret) : null,
                stack: this.stack(),
                thread: this.threadName(),
                tid,
                pid: Process.id,
                process: this.processName,
            };
            if (entry.permissionsArg !== null) {
                event.permissions = permissionNames(args[entry.permissionsArg]);
            }
            if (error !== undefined) {
                event.error = String(error);
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

    private recordArgs(entry: CatalogueEntry, args: any[]): unknown[] {
        const indices = entry.recordArgs ?? args.map((_, i) => i);
        return indices.map(i => {
            const value = args[i];
            if (value !== null && typeof value === "object" && value.$className !== undefined
                && value.$className !== "java.lang.String") {
                return `<${value.$className}>`;
            }
            return plain(value);
        });
    }

    private stack(): string[] {
        const frames = this.threadClass.currentThread().getStackTrace();
        const out: string[] = [];
        for (let i = 0; i < frames.length && out.length < this.stackDepth; i++) {
            const text = String(frames[i].toString());
            if (STACK_SKIP.some(prefix => text.startsWith(prefix)
                || text.startsWith(`java.base/${prefix}`))) {
                continue;
            }
            out.push(text.replace(/^java\.base\//, ""));
        }
        return out;
    }

    private threadName(): string {
        try {
            return String(this.threadClass.currentThread().getName());
        } catch (e) {
            return "";
        }
    }
}
