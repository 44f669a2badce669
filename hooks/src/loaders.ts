// Classes that arrive after the agent starts: plugin loaders, DexClassLoader on ART, SDKs
// loaded on demand. Entries whose class is absent at install wait here; when a class loader
// hands out the class, or first hands out any class, their hooks go in.

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";
import { CatalogueEntry } from "./protocol.js";

/** Installs one entry's hooks on a class wrapper; returns the reason when it cannot. */
export type InstallEntry = (entry: CatalogueEntry, klass: any) => string | null;

/** What made a late class visible to the agent. */
type Trigger = "loadClass" | "forName" | "probe";

/** JNIEnv function table index of NewWeakGlobalRef (JNI specification). */
const NEW_WEAK_GLOBAL_REF = 226;

/**
 * Two ways in, because ART has a native fast path:
 *
 * - `ClassLoader.loadClass(String)`: the app asks a loader for a class (a plugin's entry
 *   class). On HotSpot the VM also resolves classes through it; on ART it does not.
 * - `Class.forName(String, boolean, ClassLoader)`: the app asks by name. On ART this (like
 *   the VM's own resolution of classes referenced from a dex-loaded class) goes straight to
 *   ClassLinker::FindClassInBaseDexClassLoader for PathClassLoader, DexClassLoader,
 *   InMemoryDexClassLoader and DelegateLastClassLoader, never calling Java `loadClass`.
 *
 * So a plugin SDK's classes referenced from its entry class are never seen one by one on
 * ART. Instead, the first time a loader hands out a class through either door, every
 * pending class that loader can see is probed with `Class.forName(name, false, loader)`:
 * loaded (and linked) without running its static initialiser, so the SDK's own code does
 * not move in time, and hooked before anything can call it. (On ART the replacement is in
 * place when the install returns; on HotSpot frida-java-bridge applies it on the agent's next
 * tick, so a call made at once after the load may still miss it.)
 */
export class LateClasses {
    private pending = new Map<string, CatalogueEntry[]>();
    /** Weak references to the loaders already probed (a loader's classes are fixed when
     * built). Compared with JNI IsSameObject: a bridge call such as identityHashCode on every
     * hooked forName cost more than the rest of the hook. Weak, so a plugin loader can still
     * be collected. */
    private probed: NativePointer[] = [];
    private newWeakGlobalRef: NativeFunction<NativePointer, [NativePointer, NativePointer]> | null =
        null;
    /** Threads probing now: the probe's own forName calls must not probe again. */
    private probing = new Set<number>();
    private classClass: any = null;

    constructor(private buffer: EventBuffer, private installEntry: InstallEntry) {}

    get size(): number {
        return this.pending.size;
    }

    wait(entry: CatalogueEntry): void {
        const waiting = this.pending.get(entry.className) ?? [];
        waiting.push(entry);
        this.pending.set(entry.className, waiting);
    }

    /** Hook both doors (see the class comment). On HotSpot a hook on the inherited
     * loadClass(String) sees only calls that reach ClassLoader's own code
     * (super.loadClass); hooking defineClass instead crashed the JVM. Class.forName(String)
     * is not hooked: it is caller-sensitive on HotSpot, and on ART it calls the
     * three-argument form. */
    watch(): void {
        const late = this;
        this.classClass = Java.use("java.lang.Class");
        const loadClass = Java.use("java.lang.ClassLoader").loadClass.overload("java.lang.String");
        loadClass.implementation = function (this: any, name: any) {
            const klass = loadClass.call(this, name);
            late.arrived(String(name), klass, this, "loadClass");
            return klass;
        };
        const forName = this.classClass.forName.overload(
            "java.lang.String", "boolean", "java.lang.ClassLoader");
        forName.implementation = function (this: any, name: any, init: any, loader: any) {
            const klass = forName.call(this, name, init, loader);
            late.arrived(String(name), klass, loader, "forName");
            return klass;
        };
    }

    private arrived(className: string, klass: any, loader: any, trigger: Trigger): void {
        if (this.pending.size === 0 || klass === null) {
            return;
        }
        if (this.pending.has(className)) {
            this.install(className, klass, trigger);
        }
        if (loader !== null && this.pending.size > 0) {
            this.probe(loader);
        }
    }

    /** Find, without initialising them, the pending classes this loader can see. */
    private probe(loader: any): void {
        const thread = Process.getCurrentThreadId();
        if (this.probing.has(thread)) {
            return;
        }
        if (this.alreadyProbed(loader)) {
            return;
        }
        this.probing.add(thread);
        try {
            for (const className of [...this.pending.keys()]) {
                let klass: any;
                try {
                    klass = this.classClass.forName(className, false, loader);
                } catch (e) {
                    continue;  // not in this loader (ClassNotFoundException, NoClassDefFoundError)
                }
                if (this.pending.has(className)) {
                    this.install(className, klass, "probe");
                }
            }
        } finally {
            this.probing.delete(thread);
        }
    }

    /** True if this loader was probed before; else remembers it (weakly). */
    private alreadyProbed(loader: any): boolean {
        const env = Java.vm.getEnv();
        const handle = loader.$h as NativePointer;
        for (const ref of this.probed) {
            if (env.isSameObject(ref, handle)) {
                return true;
            }
        }
        if (this.newWeakGlobalRef === null) {
            const table = env.handle.readPointer() as NativePointer;
            this.newWeakGlobalRef = new NativeFunction(
                table.add(NEW_WEAK_GLOBAL_REF * Process.pointerSize).readPointer(),
                "pointer", ["pointer", "pointer"]);
        }
        this.probed.push(this.newWeakGlobalRef(env.handle, handle));
        return false;
    }

    private install(className: string, klass: any, trigger: Trigger): void {
        const entries = this.pending.get(className) ?? [];
        this.pending.delete(className);
        if (entries.length === 0) {
            return;
        }
        let wrapper: any;
        let loader: any;
        try {
            loader = klass.getClassLoader();
            // Link it, but do not initialise it (that would run the SDK's static code
            // early): redefining a loaded but unlinked class crashes HotSpot, and
            // getDeclaredMethods links (JVM_GetClassDeclaredMethods). ART links classes when
            // it defines them; frida-java-bridge re-applies replacements when ART marks the
            // class initialised later (instrumentArtFixupStaticTrampolines).
            klass.getDeclaredMethods();
            wrapper = Java.ClassFactory.get(loader).use(className);
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
                loader: String(loader),
                trigger,
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
