// consentry's Frida agent. The host loads it, calls `init` with the hook catalogue (data,
// see hooks/catalogue/) before the app runs, and receives batched events.

import Java from "frida-java-bridge";

import { EventBuffer } from "./buffer.js";
import { JavaHooks } from "./java_hooks.js";
import { CatalogueEntry, Coverage, InitOptions, PROTOCOL_VERSION } from "./protocol.js";

class Agent {
    private buffer = new EventBuffer();
    private coverage: Coverage | null = null;

    init(catalogue: CatalogueEntry[], options: InitOptions): Promise<Coverage> {
        this.buffer.batchSize = options.batchSize ?? this.buffer.batchSize;
        this.buffer.flushIntervalMs = options.flushIntervalMs ?? this.buffer.flushIntervalMs;
        this.buffer.maxBuffered = options.maxBuffered ?? this.buffer.maxBuffered;
        const processName = options.process ?? processNameOf();
        if (!Java.available) {
            const coverage: Coverage = {
                installed: [],
                skipped: catalogue.map(e => ({ id: e.id, reason: "no Java runtime in process" })),
                runtime: "none",
            };
            this.coverage = coverage;
            return Promise.resolve(coverage);
        }
        return new Promise((resolve, reject) => {
            Java.perform(() => {
                try {
                    const hooks = new JavaHooks(this.buffer, processName, options.stackDepth ?? 64);
                    const coverage = hooks.install(catalogue);
                    // Java.androidVersion reads Android properties through libc.so: only on ART.
                    coverage.runtime = Process.findModuleByName("libart.so") !== null
                        ? `art ${Java.androidVersion}` : "jvm";
                    this.coverage = coverage;
                    this.buffer.flush();
                    resolve(coverage);
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
};

send({
    v: PROTOCOL_VERSION,
    type: "agent:ready",
    pid: Process.id,
    platform: Process.platform,
    arch: Process.arch,
    frida: Frida.version,
});
