// A bounded, batching event buffer: events leave in batches (size or time), and if the host
// cannot keep up the buffer drops new events but counts them, so loss is never silent.
// A batch carries each distinct stack once (`stacks`), events point at it (`stack_ref`):
// a hot call site repeats one stack of up to 64 frames, most of an event's JSON. The host
// puts the stack back into every event before recording it (protocol.py).

import { AgentEvent, EventsMessage, PROTOCOL_VERSION } from "./protocol.js";

export class EventBuffer {
    private pending: AgentEvent[] = [];
    private dropped = 0;
    private timer: ReturnType<typeof setTimeout> | null = null;
    sent = 0;
    /** Every event ever dropped (the per-batch count is reset when it is reported). */
    droppedTotal = 0;

    constructor(
        public batchSize = 64,
        public flushIntervalMs = 50,
        public maxBuffered = 20000,
    ) {}

    push(event: AgentEvent): void {
        if (this.pending.length >= this.maxBuffered) {
            this.dropped++;
            this.droppedTotal++;
            if (this.timer === null) {
                this.timer = setTimeout(() => this.flush(), this.flushIntervalMs);
            }
            return;
        }
        this.pending.push(event);
        if (this.pending.length >= this.batchSize) {
            this.flush();
        } else if (this.timer === null) {
            this.timer = setTimeout(() => this.flush(), this.flushIntervalMs);
        }
    }

    flush(): void {
        if (this.timer !== null) {
            clearTimeout(this.timer);
            this.timer = null;
        }
        if (this.pending.length === 0 && this.dropped === 0) {
            return;
        }
        const message: EventsMessage = {
            v: PROTOCOL_VERSION,
            type: "events",
            events: this.pending,
            dropped: this.dropped,
            stacks: internStacks(this.pending),
        };
        this.sent += this.pending.length;
        this.pending = [];
        this.dropped = 0;
        send(message);
    }
}

/** Replaces each event's `stack` array by `stack_ref`, an index into the returned list.
 * Stacks are matched by identity: the Java stack reader hands out one frozen array per
 * distinct stack, so equal stacks are the same array (others just get their own entry). */
function internStacks(events: AgentEvent[]): unknown[] {
    const stacks: unknown[] = [];
    const index = new Map<unknown, number>();
    for (const event of events) {
        const stack = event.stack;
        if (!Array.isArray(stack)) {
            continue;
        }
        let ref = index.get(stack);
        if (ref === undefined) {
            ref = stacks.length;
            stacks.push(stack);
            index.set(stack, ref);
        }
        event.stack_ref = ref;
        event.stack = undefined; // left out of the JSON
    }
    return stacks;
}
