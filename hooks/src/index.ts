// consentry's Frida agent. The host loads it, calls `init` with the hook catalogue (data,
// see hooks/catalogue/) before the app runs, and receives batched events.

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";
import { JavaHooks } from "./java_hooks.js";
import { IDENTITY_PROPERTIES, NativeHooks, NativeOptions } from "./native.js";
import { CatalogueEntry, Coverage, InitOptions, PROTOCOL_VERSION } from "./protocol.js";
import { TlsOptions, TlsPlaintext, Unpinner } from "./tls.js";

/** Options beyond the catalogue's (protocol.ts): the native layers, each default on. */
interface LayerOptions extends InitOptions {
    native?: boolean;
    nativeProperties?: string[];
    plaintext?: boolean;
    maxPlaintext?: number;
    /** Pinning bypass; default on where ART runs (Android), off elsewhere. */
    unpin?: boolean;
}

interface LayerCoverage {
    installed: string[];
    skipped: { id: string; reason: string }[];
}

type AgentCoverage = Coverage & { layers: Record<string, LayerCoverage> };

class Agent {
    private buffer = new EventBuffer();
    private coverage: AgentCoverage | null = null;

    init(catalogue: CatalogueEntry[], options: LayerOptions): Promise<AgentCoverage> {
        this.buffer.batchSize = options.batchSize ?? this.buffer.batchSize;
        this.buffer.flushIntervalMs = options.flushIntervalMs ?? this.buffer.flushIntervalMs;
        this.buffer.maxBuffered = options.maxBuffered ?? this.buffer.maxBuffered;
        const processName = options.process ?? processNameOf();
        const stackDepth = options.stackDepth ?? 64;
        // Shared by reference: the Java thread class is filled in once the VM is reachable.
        const layerOptions: NativeOptions & TlsOptions = {
            processName, stackDepth, javaThread: null,
            properties: options.nativeProperties ?? IDENTITY_PROPERTIES,
            maxPlaintext: options.maxPlaintext ?? 16384,
        };
        const layers: Record<string, LayerCoverage> = {};
        if (options.native ?? true) {
            const native = new NativeHooks(this.buffer, layerOptions);
            native.install();
            layers.native = native;
        }
        if (options.plaintext ?? true) {
            const tls = new TlsPlaintext(this.buffer, layerOptions);
            tls.install();
            layers.plaintext = tls;
        }
        if (!Java.available) {
            const coverage: AgentCoverage = {
                installed: [],
                skipped: catalogue.map(e => ({ id: e.id, reason: "no Java runtime in process" })),
                runtime: "none",
                layers: plainLayers(layers),
            };
            this.coverage = coverage;
            this.buffer.flush();
            return Promise.resolve(coverage);
        }
        return new Promise((resolve, reject) => {
            Java.perform(() => {
                try {
                    layerOptions.javaThread = Java.use("java.lang.Thread");
                    const hooks = new JavaHooks(this.buffer, processName, stackDepth);
                    const art = Process.findModuleByName("libart.so") !== null;
                    if (options.unpin ?? art) {
                        const unpinner = new Unpinner(this.buffer, layerOptions);
                        unpinner.install();
                        layers.unpin = unpinner;
                    }
                    const coverage: AgentCoverage = {
                        ...hooks.install(catalogue), layers: plainLayers(layers) };
                    // Java.androidVersion reads Android properties through libc.so: only on ART.
                    coverage.runtime = art ? `art ${Java.androidVersion}` : "jvm";
                    this.coverage = coverage;
                    this.buffer.flush();
                    // On HotSpot frida-java-bridge applies replacements on the next tick
                    // (jvm.js doManglers): answer after it, so the hooks are live on return.
                    Script.nextTick(() => resolve(coverage));
                } catch (e) {
                    reject(e);
                }
            });
        });
    }

    /** Device clock in milliseconds, for the host's offset measurement. */
    now(): number {
        return Date.now();
    }

    /** Send whatever is buffered now; returns the number of events sent so far. */
    flush(): number {
        this.buffer.flush();
        return this.buffer.sent;
    }

    /** Counters for the host and the benchmark: events sent and dropped, agent heap bytes. */
    stats(): { sent: number; dropped: number; heap: number } {
        return { sent: this.buffer.sent, dropped: this.buffer.droppedTotal, heap: Frida.heapSize };
    }
}

function plainLayers(layers: Record<string, LayerCoverage>): Record<string, LayerCoverage> {
    const out: Record<string, LayerCoverage> = {};
    for (const [name, layer] of Object.entries(layers)) {
        out[name] = { installed: [...layer.installed], skipped: [...layer.skipped] };
    }
    return out;
}

function processNameOf(): string {
    try {
        const cmdline = File.readAllText("/proc/self/cmdline");
        return cmdline.split("\u0000")[0];
    } catch (e) {
        return "";
    }
}

const agent = new Agent();

rpc.exports = {
    init: (catalogue: CatalogueEntry[], options: InitOptions) => agent.init(catalogue, options),
    now: () => agent.now(),
    flush: () => agent.flush(),
    stats: () => agent.stats(),
    // Frida calls this when the script unloads, also when the process exits normally.
    dispose: () => { agent.flush(); },
};

send({
    v: PROTOCOL_VERSION,
    type: "agent:ready",
    pid: Process.id,
    platform: Process.platform,
    arch: Process.arch,
    frida: Frida.version,
});
