// What the proxy cannot see. (1) Plaintext below TLS: SSL_write/SSL_read (and the _ex forms)
// in every loaded module that exports them — system libssl, BoringSSL, Conscrypt, app-bundled
// copies, and modules loaded later — as `net.plaintext` events. (2) Certificate-pinning
// bypass: the platform and OkHttp checks are made to pass, each bypass an `agent.unpinned`.

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";
import { javaStackIfAttached, nativeBacktrace } from "./native.js";

export interface TlsOptions {
    processName: string;
    stackDepth: number;
    maxPlaintext: number;
    javaThread: any | null;
}

const FUNCTIONS: { name: string; direction: "out" | "in"; ex: boolean }[] = [
    { name: "SSL_write", direction: "out", ex: false },
    { name: "SSL_read", direction: "in", ex: false },
    { name: "SSL_write_ex", direction: "out", ex: true },
    { name: "SSL_read_ex", direction: "in", ex: true },
];

export class TlsPlaintext {
    readonly installed: string[] = [];
    readonly skipped: { id: string; reason: string }[] = [];
    private hooked = new Set<string>();
    // One event per application call: BoringSSL's SSL_write_ex calls SSL_write.
    private depth = new Map<number, number>();

    constructor(private buffer: EventBuffer, private options: TlsOptions) {}

    /** Calls back with every module already loaded, then with each one loaded later. */
    install(): void {
        Process.attachModuleObserver({ onAdded: module => this.onModule(module) });
    }

    private onModule(module: Module): void {
        // Lookup goes through dlsym, so a module that merely links libssl (CPython's _ssl)
        // "exports" SSL_write too: hook only in the module whose code it is; that one is
        // reported on its own.
        const write = module.findExportByName("SSL_write");
        if (write === null || this.hooked.has(module.path)
            || Process.findModuleByAddress(write)?.path !== module.path) {
            return;
        }
        this.hooked.add(module.path);
        const getFd = module.findExportByName("SSL_get_fd");
        const sslGetFd = getFd === null ? null : new NativeFunction(getFd, "int", ["pointer"]);
        const hooked: string[] = [];
        for (const fn of FUNCTIONS) {
            const address = module.findExportByName(fn.name);
            if (address === null) {
                continue;
            }
            try {
                this.hook(module, fn, address, sslGetFd);
                this.installed.push(`tls.${module.name}!${fn.name}`);
                hooked.push(fn.name);
            } catch (e) {
                this.skipped.push({ id: `tls.${module.name}!${fn.name}`,
                    reason: `cannot hook: ${(e as Error).message}` });
            }
        }
        // Modules often load after init (coverage is already reported): say what was hooked.
        this.buffer.push({ type: "agent.hooked", device_t: Date.now() / 1000, layer: "plaintext",
            module: module.name, path: module.path, functions: hooked, pid: Process.id });
    }

    private hook(module: Module, fn: { name: string; direction: "out" | "in"; ex: boolean },
                 address: NativePointer, sslGetFd: NativeFunction<number, [NativePointer]> | null)
        : void {
        const tls = this;
        Interceptor.attach(address, {
            onEnter(args) {
                const tid = Process.getCurrentThreadId();
                const depth = tls.depth.get(tid) ?? 0;
                tls.depth.set(tid, depth + 1);
                this.outer = depth === 0;
                this.tid = tid;
                if (!this.outer) {
                    return;
                }
                this.ssl = args[0];
                this.buf = args[1];
                this.num = args[2];
                this.counter = fn.ex ? args[3] : null;
                this.stack = nativeBacktrace(this.context, tls.options.stackDepth);
            },
            onLeave(retval) {
                tls.depth.set(this.tid, (tls.depth.get(this.tid) ?? 1) - 1);
                if (!this.outer) {
                    return;
                }
                // SSL_write/SSL_read return the byte count; the _ex forms return 1 and store it.
                let size: number;
                if (fn.ex) {
                    size = retval.toInt32() === 1 ? (this.counter as NativePointer).readU64()
                        .toNumber() : 0;
                } else {
                    size = retval.toInt32();
                }
                if (size <= 0) {
                    return;
                }
                tls.emit(module, fn.direction, this.ssl, this.buf, size, this.stack, sslGetFd);
            },
        });
    }

    private emit(module: Module, direction: "out" | "in", ssl: NativePointer, buf: NativePointer,
                 size: number, stack: string[],
                 sslGetFd: NativeFunction<number, [NativePointer]> | null): void {
        const kept = Math.min(size, this.options.maxPlaintext);
        const bytes = buf.readByteArray(kept) as ArrayBuffer;
        const event: any = {
            type: "net.plaintext",
            device_t: Date.now() / 1000,
            direction,
            data_b64: encodeBase64(new Uint8Array(bytes)),
            size,
            truncated: kept < size,
            module: module.name,
            module_path: module.path,
            ssl: ssl.toString(),
            stack,
            java_stack: javaStackIfAttached(this.options.javaThread, this.options.stackDepth),
            tid: Process.getCurrentThreadId(),
            pid: Process.id,
            process: this.options.processName,
        };
        if (sslGetFd !== null) {
            const fd = sslGetFd(ssl);
            event.fd = fd;
            if (fd >= 0) {
                const peer = Socket.peerAddress(fd);
                if (peer !== null && "ip" in peer) {
                    event.peer = `${peer.ip}:${peer.port}`;
                }
            }
        }
        this.buffer.push(event);
    }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function encodeBase64(bytes: Uint8Array): string {
    const parts: string[] = [];
    for (let i = 0; i < bytes.length; i += 3) {
        const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
        parts.push(ALPHABET[(n >> 18) & 63], ALPHABET[(n >> 12) & 63],
            i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : "=",
            i + 2 < bytes.length ? ALPHABET[n & 63] : "=");
    }
    return parts.join("");
}

/** How each pinning check is made to pass (what it returns instead of throwing). */
type Bypass = "void" | "first_arg" | "empty_list" | "chain_as_list";

const UNPIN: { className: string; method: string; bypass: Bypass }[] = [
    { className: "com.android.org.conscrypt.TrustManagerImpl", method: "verifyChain",
        bypass: "first_arg" },
    { className: "com.android.org.conscrypt.TrustManagerImpl", method: "checkTrustedRecursive",
        bypass: "empty_list" },
    { className: "okhttp3.CertificatePinner", method: "check", bypass: "void" },
    { className: "okhttp3.CertificatePinner", method: "check$okhttp", bypass: "void" },
    { className: "android.security.net.config.NetworkSecurityTrustManager",
        method: "checkServerTrusted", bypass: "chain_as_list" },
    { className: "android.security.net.config.NetworkSecurityTrustManager", method: "checkPins",
        bypass: "void" },
];

/** Java-side pinning bypass (call inside Java.perform). Absent classes are skipped. */
export class Unpinner {
    readonly installed: string[] = [];
    readonly skipped: { id: string; reason: string }[] = [];

    constructor(private buffer: EventBuffer, private options: TlsOptions) {}

    install(): void {
        for (const target of UNPIN) {
            const id = `unpin.${target.className}.${target.method}`;
            try {
                const klass = Java.use(target.className);
                const method = klass[target.method];
                if (method === undefined || method.overloads === undefined) {
                    this.skipped.push({ id, reason: "method not found" });
                    continue;
                }
                for (const overload of method.overloads) {
                    this.bypass(target.className, target.method, target.bypass, overload);
                }
                this.installed.push(id);
            } catch (e) {
                this.skipped.push({ id, reason: `class not found: ${target.className}` });
            }
        }
    }

    private bypass(className: string, method: string, how: Bypass, overload: any): void {
        const unpinner = this;
        const returnsVoid = overload.returnType.name === "void";
        overload.implementation = function (this: any, ...args: any[]) {
            unpinner.buffer.push({
                type: "agent.unpinned",
                device_t: Date.now() / 1000,
                api: `${className}.${method}`,
                host: args.find(a => typeof a === "string") ?? null,
                stack: javaStackIfAttached(unpinner.options.javaThread,
                    unpinner.options.stackDepth) ?? [],
                pid: Process.id,
                process: unpinner.options.processName,
            });
            if (returnsVoid || how === "void") {
                return undefined;
            }
            if (how === "first_arg") {
                return args[0];
            }
            const ArrayList = Java.use("java.util.ArrayList");
            if (how === "chain_as_list" && args[0] !== null) {
                return ArrayList.$new(Java.use("java.util.Arrays").asList(args[0]));
            }
            return ArrayList.$new();
        };
    }
}
