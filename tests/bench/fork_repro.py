"""Frida's fork bug: attaching to a forked child ends the parent's session (a script that
prints figures, not a test).

    python tests/bench/fork_repro.py minimal [--runs N]   # Frida alone, tiny scripts
    python tests/bench/fork_repro.py agent [--runs N]     # consentry's agent, re-attach off/on

Cause (frida-core 17.26, read in src/host-session-service.vala and lib/agent/agent.vala):
the forked child inherits the parent's agent sessions, same ids. After the fork the child's
agent closes its copies (``flush_all_sessions`` -> ``BaseAgentSession.flush`` -> ``close``)
while it opens its own connection to the host. The host connects the child's
``AgentSessionProvider.closed`` to ``on_agent_session_provider_closed``, which unsets the
session by id without checking which process it belongs to, and emits
``agent_session_detached(id, APPLICATION_REQUESTED)``: the *parent's* session ends. It only
happens when the copy's close ends after the host subscribed, i.e. when the QuickJS
script's teardown in the child is slow *and* deferred: a ``Script.bindWeak`` callback
(frida-java-bridge binds one at import) makes ``_gum_quick_core_flush`` finish on a later
idle, and a large heap makes the context destruction after it slow. The ``minimal`` mode
shows it with a 4-line script and no hooks at all. That being the parent's only session,
the host then also unloads the agent from the parent (frida-agent unmapped).

Measured here (Frida 17.26.2, 2 shared cores; rates are noisy, +-10 points at 30 runs):
minimal, QuickJS: empty 0/30, weak 1/30, big-heap 0/30, weak+big-heap 22/30; V8: 0/30 each.
Bisect of the agent (raw Frida, 40-60 runs each): pending setTimeout/setInterval 0/20,
720 kB of code 0/30, frida-java-bridge import alone 14/40, agent without init 7/60, init
without native/TLS hooks 5/40, full init 24/60, child attached but no script loaded 11/40.
agent mode (1.5 s linger): re-attach off: dropped 10/30, parent's read lost 10/30;
re-attach on: dropped 7/30, read lost 0/30, gap median 0.25 s, max 0.32 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from harness.errors import InstrumentationError
from harness.instrument import frida_adapter
from harness.instrument.agent_build import build_agent
from harness.instrument.catalogue import Catalogue
from harness.instrument.instrumenter import Instrumenter
from harness.recorder import Recorder
from harness.targets.base import FridaDeviceRef, SpawnedApp

LOCAL = FridaDeviceRef(kind="local")

FORKER = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void read_file(const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd >= 0) { read(fd, buf, sizeof buf); close(fd); }
}
int main(int argc, char **argv) {
    pid_t child = fork();
    if (child == 0) { read_file("/sys/class/net/lo/address"); _exit(0); }
    waitpid(child, 0, 0);
    usleep(argc > 1 ? atoi(argv[1]) * 1000 : 0);   /* the parent runs on, then reads */
    read_file("/proc/net/arp");
    return 0;
}
"""

# Each variant is loaded into the parent and, when the child is reported, into the child.
MINIMAL = {
    "empty": 'send("ready");',
    "weak": 'send("ready"); const k = {}; Script.bindWeak(k, () => {});',
    "big-heap": 'send("ready"); const h = [];'
                ' for (let i = 0; i < 200000; i++) h.push({ a: i, b: "s" + i, c: [i] });',
    "weak+big-heap": 'send("ready"); const k = {}; Script.bindWeak(k, () => {}); const h = [];'
                     ' for (let i = 0; i < 200000; i++) h.push({ a: i, b: "s" + i, c: [i] });',
}


def build_forker(work: Path) -> Path:
    program = work / "forker"
    subprocess.run(["gcc", "-O0", "-o", str(program), "-x", "c", "-"], input=FORKER,
                   text=True, check=True)
    return program


def minimal_run(program: Path, source: str, runtime: frida_adapter.ScriptRuntime) -> str:
    """One fork with Frida only: the parent session's detach reason."""
    pid = frida_adapter.spawn(LOCAL, [str(program)])
    sessions: list[frida_adapter.AgentSession] = []
    children: list[threading.Thread] = []

    def instrument(child: frida_adapter.ChildInfo) -> None:
        try:
            session = frida_adapter.AgentSession(LOCAL, child.pid)
            sessions.append(session)
            session.load(source, lambda m, d: None, runtime=runtime)
        finally:
            frida_adapter.resume(LOCAL, child.pid)

    def on_child(child: frida_adapter.ChildInfo) -> None:
        if child.parent_pid == pid:  # Frida's thread must not block
            children.append(threading.Thread(target=instrument, args=(child,), daemon=True))
            children[-1].start()

    stop = frida_adapter.watch_children(LOCAL, on_child)
    parent = frida_adapter.AgentSession(LOCAL, pid)
    try:
        parent.load(source, lambda m, d: None, runtime=runtime)
        parent.enable_child_gating()
        frida_adapter.resume(LOCAL, pid)
        parent.wait_detached(20)
        return parent.detached_reason or "timeout"
    finally:
        stop()
        for thread in children:
            thread.join(10)
        for session in [parent, *sessions]:
            session.detach()


def agent_run(program: Path, work: Path, reattach: bool, linger_ms: int) -> dict[str, object]:
    """One fork with consentry's agent: was the parent's session dropped, was its read
    after the child recorded, how long the gap was."""
    run_dir = Path(tempfile.mkdtemp(dir=work))
    recorder = Recorder(run_dir)
    instrumenter = Instrumenter(recorder, Catalogue(()), build_agent(), LOCAL,
                                follow_children=True, reattach=reattach)
    pid = frida_adapter.spawn(LOCAL, [str(program), str(linger_ms)])
    try:
        instrumenter.attach(SpawnedApp(pid=pid, process="forker"))
        frida_adapter.resume(LOCAL, pid)
        deadline = time.monotonic() + 30
        while instrumenter.unexpected_exit is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        instrumenter.detach()
        recorder.close()
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    dropped = any(e["type"] == "agent.detached" and e["data"].get("pid") == pid
                  and not e["data"].get("expected") for e in events)
    gaps = [e["data"]["gap_s"] for e in events if e["type"] == "agent.reattached"]
    read = any(e["type"] == "hook.call" and e["data"]["pid"] == pid
               and e["data"]["data_type"] == "arp" for e in events)
    return {"dropped": dropped, "parent_read": read, "gap": gaps[0] if gaps else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("minimal", "agent"))
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--runtime", choices=frida_adapter.SCRIPT_RUNTIMES, default="qjs")
    parser.add_argument("--linger-ms", type=int, default=1500,
                        help="agent mode: how long the parent runs on after its child")
    args = parser.parse_args()
    print(f"frida {frida_adapter.frida_version()}, {args.runs} runs per line")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        program = build_forker(work)
        if args.mode == "minimal":
            for name, source in MINIMAL.items():
                reasons: dict[str, int] = {}
                for _ in range(args.runs):
                    try:
                        reason = minimal_run(program, source, args.runtime)
                    except InstrumentationError as exc:
                        reason = f"error: {exc}"
                    reasons[reason] = reasons.get(reason, 0) + 1
                bad = args.runs - reasons.get("process-terminated", 0)
                print(f"{name:>14} ({args.runtime}): parent session dropped in {bad}/{args.runs}"
                      f" runs {reasons}")
            return
        for reattach in (False, True):
            results = [agent_run(program, work, reattach, args.linger_ms)
                       for _ in range(args.runs)]
            dropped = sum(1 for r in results if r["dropped"])
            lost = sum(1 for r in results if not r["parent_read"])
            gaps = [float(str(r["gap"])) for r in results if r["gap"] is not None]
            gap_text = (f", gap median {statistics.median(gaps):.2f} s max {max(gaps):.2f} s"
                        if gaps else "")
            print(f"re-attach {'on ' if reattach else 'off'} ({args.runtime}): parent session "
                  f"dropped in {dropped}/{args.runs} runs, parent's read {args.linger_ms} ms "
                  f"after the child lost in {lost}/{args.runs}{gap_text}")


if __name__ == "__main__":
    main()
