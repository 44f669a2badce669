// Classes that arrive after the agent starts: plugin loaders, DexClassLoader on ART, SDKs
// loaded on demand. Entries whose class is absent at install wait here; when a class loader
// loads the class, their hooks go in then.

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";
import { CatalogueEntry } from "./protocol.js";

/** Installs one entry's hooks on a class wrapper; returns the reason when it cannot. */
export type InstallEntry = (entry: CatalogueEntry, klass: any) => string | null;

export class LateClasses {
    private pending = new Map<string, CatalogueEntry[]>();

    constructor(private buffer: EventBuffer, private installEntry: InstallEntry) {}

    get size(): number {
        return this.pending.size;
    }

    wait(entry: CatalogueEntry): void {
        const waiting = this.pending.get(entry.className) ?? [];
        waiting.push(entry);
        this.pending.set(entry.className, waiting);
    }

    /** Hook ClassLoader.loadClass(String) so classes that arrive later get their pending
     * entries as they load. On HotSpot a hook on this inherited method sees only calls that
     * reach ClassLoader's own code (super.loadClass); hooking defineClass instead crashed the
     * JVM. */
    watch(): void {
        const late = this;
        const overload = Java.use("java.lang.ClassLoader").loadClass.overload("java.lang.String");
        overload.implementation = function (this: any, name: any) {
            const klass = overload.call(this, name);
            const className = String(name);
            if (klass !== null && late.pending.has(className)) {
                late.install(className, klass);
            }
            return klass;
        };
    }

    private install(className: string, klass: any): void {
        const entries = this.pending.get(className) ?? [];
        this.pending.delete(className);
        let wrapper: any;
        try {
            // Link and initialise it first: redefining a loaded but unlinked class crashes
            // HotSpot.
            Java.use("java.lang.Class").forName(className, true, klass.getClassLoader());
            wrapper = Java.ClassFactory.get(klass.getClassLoader()).use(className);
        } catch (e) {
            for (const entry of entries) {
                this.skipped(entry, `late class not usable: ${(e as Error).message}`);
            }
            return;
        }
        for (const entry of entries) {
            const reason = this.installEntry(entry, wrapper);
            if (reason !== null) {
                this.skipped(entry, reason);
                continue;
            }
            this.buffer.push({
                type: "agent.hook_installed",
                device_t: Date.now() / 1000,
                entry: entry.id,
                api: `${entry.className}.${entry.method}`,
                late: true,
                loader: String(klass.getClassLoader()),
            });
        }
    }

    private skipped(entry: CatalogueEntry, reason: string): void {
        this.buffer.push({
            type: "agent.hook_skipped",
            device_t: Date.now() / 1000,
            entry: entry.id,
            api: `${entry.className}.${entry.method}`,
            reason,
        });
    }
}
