// Messages from the agent to the host. Mirrored by harness/instrument/protocol.py.
// Every message carries the protocol version `v`; the host records unknown messages
// instead of dropping them.

export const PROTOCOL_VERSION = 1;

export interface CatalogueEntry {
    id: string;
    className: string;
    method: string;
    overloads: string[][] | null;
    category: string;
    dataType: string;
    event: string;
    when: { arg: number; in: string[] }[];
    recordArgs: number[] | null;
    format: string;
    permissionsArg: number | null;
    skipCallers?: string[];
}

export interface InitOptions {
    process?: string;
    batchSize?: number;
    flushIntervalMs?: number;
    maxBuffered?: number;
    stackDepth?: number;
}

export interface AgentEvent {
    type: string;
    device_t: number;
    [key: string]: unknown;
}

export interface EventsMessage {
    v: number;
    type: "events";
    events: AgentEvent[];
    dropped: number;
    /** Distinct stacks of this batch; an event's `stack_ref` indexes it (buffer.ts). */
    stacks: unknown[];
}

export interface ReadyMessage {
    v: number;
    type: "agent:ready";
    pid: number;
    platform: string;
    arch: string;
    frida: string;
}

export interface ErrorMessage {
    v: number;
    type: "agent:error";
    message: string;
    stack?: string;
}

export interface Coverage {
    installed: string[];
    skipped: { id: string; reason: string }[];
    runtime: string;
}
