// Native reads of device identity: identity files opened through libc (MAC address files,
// the ARP table, Bluetooth and per-process network tables), identity system properties, and
// ioctl(SIOCGIFHWADDR). Each becomes a `hook.call` event with a symbolicated native backtrace
// and, when the calling thread is attached to the Java VM, the Java stack.

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";

/** Which files count as identity reads, and the data type each yields. */
const IDENTITY_FILES: { pattern: RegExp; dataType: string }[] = [
    { pattern: /^\/sys\/(class|devices\/.*)\/net\/[^/]+\/address$/, dataType: "mac" },
    { pattern: /^\/sys\/class\/bluetooth(\/|$)/, dataType: "bt_address" },
    { pattern: /^\/proc\/(self\/|\d+\/)?net\/arp$/, dataType: "arp" },
    { pattern: /^\/proc\/(self|\d+)\/net\//, dataType: "network" },
    { pattern: /^\/proc\/cpuinfo$/, dataType: "cpu_serial" },
    { pattern: /^\/sys\/block\/mmcblk\d+\/device\/(cid|serial)$/, dataType: "serial" },
    { pattern: /^\/sys\/devices\/soc0\/serial_number$/, dataType: "serial" },
];

/** Identity system properties (globs); the host may replace the list (`nativeProperties`). */
export const IDENTITY_PROPERTIES = [
    "ro.serialno", "ro.boot.serialno", "ril.serialnumber", "ro.ril.oem.sno", "ro.ril.oem.psno",
    "persist.sys.*id*", "gsm.sim.*", "gsm.imei*", "ro.gsm.imei", "persist.radio.imei*",
    "ro.ril.oem.imei*", "ro.ril.miui.imei*", "ro.boot.cpuid", "ro.boot.hardware.serialno",
    "net.hostname", "wifi.interface.mac", "ro.boot.wifimacaddr", "ro.boot.btmacaddr",
    "persist.service.bdroid.bdaddr", "ro.bt.bdaddr_path",
];

const SIOCGIFHWADDR = 0x8927;
const MAX_FILE_VALUE = 4096;

export interface NativeOptions {
    processName: string;
    stackDepth: number;
    properties: string[];
    javaThread: any | null;
}

interface Frame { module: string | null; offset: string | null; symbol: string | null }

/** Native backtrace of a hooked call: module + offset (the stable part) and symbol names. */
export function nativeBacktrace(context: CpuContext, depth: number): string[] {
    const frames: string[] = [];
    for (const address of Thread.backtrace(context, Backtracer.ACCURATE).slice(0, depth)) {
        frames.push(describeFrame(address));
    }
    return frames;
}

// Symbol lookup is the costly part of a backtrace, and hot call sites repeat: cache the
// text of each return address (bounded; cleared when full, since modules can unload).
const frameCache = new Map<string, string>();
const FRAME_CACHE_MAX = 20000;

function describeFrame(address: NativePointer): string {
    const key = address.toString();
    const cached = frameCache.get(key);
    if (cached !== undefined) {
        return cached;
    }
    if (frameCache.size >= FRAME_CACHE_MAX) {
        frameCache.clear();
    }
    const text = symbolicate(address);
    frameCache.set(key, text);
    return text;
}

function symbolicate(address: NativePointer): string {
    const frame: Frame = { module: null, offset: null, symbol: null };
    const module = Process.findModuleByAddress(address);
    if (module !== null) {
        frame.module = module.name;
        frame.offset = "0x" + address.sub(module.base).toString(16);
    }
    const symbol = DebugSymbol.fromAddress(address);
    frame.symbol = symbol.name;
    const where = frame.module !== null ? `${frame.module}+${frame.offset}` : address.toString();
    return frame.symbol !== null ? `${where} (${frame.symbol})` : where;
}

/**
 * The Java stack of the current thread, or null when it is not attached to the VM: a thread
 * must never be attached by us (that would change the app), so only attached ones are asked.
 */
export function javaStackIfAttached(threadClass: any | null, depth: number): string[] | null {
    if (threadClass === null || !Java.available) {
        return null;
    }
    try {
        if (Java.vm.tryGetEnv() === null) {
            return null;
        }
        const frames = threadClass.currentThread().getStackTrace();
        const out: string[] = [];
        for (let i = 0; i < frames.length && out.length < depth; i++) {
            const text = String(frames[i].toString()).replace(/^java\.base\//, "");
            if (!text.startsWith("java.lang.Thread.getStackTrace")) {
                out.push(text);
            }
        }
        return out;
    } catch (e) {
        return null;
    }
}

function globMatcher(globs: string[]): (name: string) => boolean {
    const patterns = globs.map(g => new RegExp(
        "^" + g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")
        + "$"));
    return name => patterns.some(p => p.test(name));
}

function identityFile(path: string): string | null {
    for (const { pattern, dataType } of IDENTITY_FILES) {
        if (pattern.test(path)) {
            return dataType;
        }
    }
    return null;
}

/** What the app gets from the file, read again by the agent (bounded; cpuinfo: serial only). */
function fileValue(path: string, dataType: string): string | null {
    try {
        let text = File.readAllText(path);
        if (dataType === "cpu_serial") {
            text = text.split("\n").filter(l => /^serial\s*:/i.test(l)).join("\n");
        }
        return text.length > MAX_FILE_VALUE ? text.slice(0, MAX_FILE_VALUE) : text.trim();
    } catch (e) {
        return null;
    }
}

export class NativeHooks {
    readonly installed: string[] = [];
    readonly skipped: { id: string; reason: string }[] = [];
    private propertyWanted: (name: string) => boolean;
    private hookedExports = new Set<string>();
    private callbackHooks = new Set<string>();
    private inPropertyCallback = new Map<number, number>();
    // fopen calls open: only the outermost identity open of a thread is the app's call.
    private openDepth = new Map<number, number>();

    constructor(private buffer: EventBuffer, private options: NativeOptions) {
        this.propertyWanted = globMatcher(options.properties);
    }

    /** Hook libc now; property readers are looked for in every module, later ones included. */
    install(): void {
        const libc = Process.enumerateModules().find(m => /^libc(\.so|-)/.test(m.name)) ?? null;
        for (const name of ["open", "open64", "openat", "openat64", "fopen", "fopen64"]) {
            const address = libc?.findExportByName(name) ?? Module.findGlobalExportByName(name);
            if (address === null) {
                this.skipped.push({ id: `native.${name}`, reason: "not exported here" });
                continue;
            }
            if (!this.hookedExports.has(address.toString())) {
                // glibc's open64 is open: one hook per address, or every call counts twice.
                this.hookedExports.add(address.toString());
                this.hookOpen(name, address);
            }
        }
        const ioctl = libc?.findExportByName("ioctl") ?? Module.findGlobalExportByName("ioctl");
        if (ioctl !== null) {
            this.hookIoctl(ioctl);
        } else {
            this.skipped.push({ id: "native.ioctl", reason: "not exported here" });
        }
        Process.attachModuleObserver({ onAdded: module => this.onModule(module) });
    }

    private onModule(module: Module): void {
        const get = module.findExportByName("__system_property_get");
        if (get !== null) {
            this.once(module, "__system_property_get", () => this.hookPropertyGet(module, get));
        }
        const read = module.findExportByName("__system_property_read_callback");
        if (read !== null) {
            this.once(module, "__system_property_read_callback",
                () => this.hookPropertyReadCallback(module, read));
        }
    }

    private once(module: Module, name: string, install: () => void): void {
        const key = `${module.path}!${name}`;
        if (this.hookedExports.has(key)) {
            return;
        }
        this.hookedExports.add(key);
        try {
            install();
            this.installed.push(`native.${module.name}!${name}`);
            this.buffer.push({ type: "agent.hooked", device_t: Date.now() / 1000,
                layer: "native", module: module.name, path: module.path, functions: [name],
                pid: Process.id });
        } catch (e) {
            this.skipped.push({ id: `native.${module.name}!${name}`,
                reason: `cannot hook: ${(e as Error).message}` });
        }
    }

    private hookOpen(name: string, address: NativePointer): void {
        const hooks = this;
        // open(path, ...) and fopen(path, mode) take the path first; openat(dirfd, path, ...).
        const pathArg = name.startsWith("openat") ? 1 : 0;
        const isFopen = name.startsWith("fopen");
        Interceptor.attach(address, {
            onEnter(args) {
                const tid = Process.getCurrentThreadId();
                const depth = hooks.openDepth.get(tid) ?? 0;
                hooks.openDepth.set(tid, depth + 1);
                this.tid = tid;
                const path = depth > 0 ? null : args[pathArg].readUtf8String();
                const dataType = path === null ? null : identityFile(path);
                this.identity = dataType === null ? null : { path, dataType };
                if (dataType !== null) {
                    this.stack = nativeBacktrace(this.context, hooks.options.stackDepth);
                }
            },
            onLeave(retval) {
                hooks.openDepth.set(this.tid, (hooks.openDepth.get(this.tid) ?? 1) - 1);
                if (this.identity === null) {
                    return;
                }
                const ok = isFopen ? !retval.isNull() : retval.toInt32() >= 0;
                const { path, dataType } = this.identity;
                hooks.emit(`libc.${name}`, dataType, [path],
                    ok ? fileValue(path, dataType) : null, this.stack,
                    ok ? {} : { error: "open failed" });
            },
        });
        this.installed.push(`native.libc.${name}`);
    }

    private hookIoctl(address: NativePointer): void {
        const hooks = this;
        Interceptor.attach(address, {
            onEnter(args) {
                // glibc declares the request unsigned long, bionic int: compare the low 32 bits.
                const request = args[1].and(0xffffffff).toUInt32();
                this.ifreq = request === SIOCGIFHWADDR ? args[2] : null;
                if (this.ifreq !== null) {
                    this.stack = nativeBacktrace(this.context, hooks.options.stackDepth);
                }
            },
            onLeave(retval) {
                if (this.ifreq === null) {
                    return;
                }
                const ifreq: NativePointer = this.ifreq;
                const name = ifreq.readCString();
                let mac: string | null = null;
                if (retval.toInt32() === 0) {
                    // struct ifreq { char ifr_name[16]; struct sockaddr ifr_hwaddr; }:
                    // sa_family (2 bytes) then the address bytes.
                    const bytes = new Uint8Array(ifreq.add(18).readByteArray(6) as ArrayBuffer);
                    mac = Array.from(bytes).map(b => b.toString(16).padStart(2, "0")).join(":");
                }
                hooks.emit("libc.ioctl", "mac", [name, "SIOCGIFHWADDR"], mac, this.stack,
                    mac === null ? { error: `ioctl returned ${retval.toInt32()}` } : {});
            },
        });
        this.installed.push("native.libc.ioctl");
    }

    private hookPropertyGet(module: Module, address: NativePointer): void {
        const hooks = this;
        Interceptor.attach(address, {
            onEnter(args) {
                const name = args[0].readUtf8String();
                this.wanted = name !== null && hooks.propertyWanted(name) ? name : null;
                if (this.wanted !== null) {
                    this.value = args[1];
                    this.stack = nativeBacktrace(this.context, hooks.options.stackDepth);
                }
            },
            onLeave() {
                if (this.wanted !== null) {
                    hooks.emit(`${module.name}.__system_property_get`, "serial", [this.wanted],
                        (this.value as NativePointer).readUtf8String(), this.stack, {});
                }
            },
        });
    }

    /** read_callback(pi, callback, cookie) hands name and value to `callback`: hook it too. */
    private hookPropertyReadCallback(module: Module, address: NativePointer): void {
        const hooks = this;
        Interceptor.attach(address, {
            onEnter(args) {
                const callback = args[1];
                const tid = Process.getCurrentThreadId();
                hooks.inPropertyCallback.set(tid, (hooks.inPropertyCallback.get(tid) ?? 0) + 1);
                this.tid = tid;
                this.stack = nativeBacktrace(this.context, hooks.options.stackDepth);
                hooks.pendingStack.set(tid, this.stack);
                if (!callback.isNull() && !hooks.callbackHooks.has(callback.toString())) {
                    hooks.callbackHooks.add(callback.toString());
                    hooks.hookPropertyCallback(module, callback);
                }
            },
            onLeave() {
                const depth = (hooks.inPropertyCallback.get(this.tid) ?? 1) - 1;
                hooks.inPropertyCallback.set(this.tid, depth);
                if (depth === 0) {
                    hooks.pendingStack.delete(this.tid);
                }
            },
        });
    }

    private pendingStack = new Map<number, string[]>();

    private hookPropertyCallback(module: Module, callback: NativePointer): void {
        const hooks = this;
        // void callback(void *cookie, const char *name, const char *value, uint32_t serial)
        Interceptor.attach(callback, {
            onEnter(args) {
                const tid = Process.getCurrentThreadId();
                if ((hooks.inPropertyCallback.get(tid) ?? 0) === 0) {
                    return; // the same function called for another reason
                }
                const name = args[1].readUtf8String();
                if (name !== null && hooks.propertyWanted(name)) {
                    hooks.emit(`${module.name}.__system_property_read_callback`, "serial",
                        [name], args[2].readUtf8String(), hooks.pendingStack.get(tid) ?? [], {});
                }
            },
        });
    }

    private emit(api: string, dataType: string, args: unknown[], ret: unknown,
                 nativeStack: string[], extra: Record<string, unknown>): void {
        const javaStack = javaStackIfAttached(this.options.javaThread, this.options.stackDepth);
        this.buffer.push({
            type: "hook.call",
            device_t: Date.now() / 1000,
            entry: `native.${api}`,
            api,
            category: dataType === "arp" || dataType === "network" ? "network" : "device_id",
            layer: "native",
            data_type: dataType,
            args,
            ret,
            // Attribution reads `stack`: the Java one when there is one, else the native one.
            stack: javaStack ?? nativeStack,
            native_stack: nativeStack,
            java_stack: javaStack,
            thread: "",
            tid: Process.getCurrentThreadId(),
            pid: Process.id,
            process: this.options.processName,
            ...extra,
        });
    }
}
