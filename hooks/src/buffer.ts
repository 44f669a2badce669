// A bounded, batching event buffer: events leave in batches (size or time), and if the host
// cannot keep up the buffer drops new events but counts them, so loss is never silent.

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
        };
        this.sent += this.pending.length;
        this.pending = [];
        this.dropped = 0;
        send(message);
    }
}
