"""Native identity reads, proven on real local processes: small C programs built here with
gcc, spawned suspended by Frida, the real agent loaded, events recorded to events.jsonl.

Also: the bounded agent buffer under a burst (dropped events are counted, never silent)."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.instrument import frida_adapter
from harness.instrument.agent_build import AgentBundle
from harness.instrument.catalogue import Catalogue
from harness.instrument.frida_adapter import ScriptRuntime
from harness.instrument.instrumenter import Instrumenter
from harness.recorder import Recorder
from harness.targets.base import FridaDeviceRef, SpawnedApp
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

LOCAL = FridaDeviceRef(kind="local")

PROGRAM = r"""
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default"))) __attribute__((noinline))

/* Android's property API, defined here so Frida finds it by export name (-rdynamic). */
EXPORT int __system_property_get(const char *name, char *value) {
    if (strcmp(name, "ro.serialno") == 0) { strcpy(value, "SERIAL-C0FFEE"); return 13; }
    strcpy(value, "33"); return 2;
}
EXPORT const void *__system_property_find(const char *name) { return name; }
typedef void (*prop_cb)(void *, const char *, const char *, unsigned);
EXPORT void __system_property_read_callback(const void *pi, prop_cb cb, void *cookie) {
    cb(cookie, (const char *)pi, "BOOT-SERIAL-42", 7);
}
EXPORT void on_property(void *cookie, const char *name, const char *value, unsigned serial) {
    strcpy((char *)cookie, value);
}

EXPORT void read_identity(const char *ifname) {
    char buf[256] = {0};
    int fd = open("/sys/class/net/lo/address", O_RDONLY);
    if (fd >= 0) { read(fd, buf, sizeof buf - 1); close(fd); }
    FILE *f = fopen("/proc/net/arp", "r");
    if (f) { fgets(buf, sizeof buf, f); fclose(f); }
    fd = open("/etc/hostname", O_RDONLY);           /* not an identity file: not recorded */
    if (fd >= 0) close(fd);
    __system_property_get("ro.serialno", buf);
    __system_property_get("ro.build.version.sdk", buf);  /* not an identity property */
    char cookie[92] = {0};
    __system_property_read_callback(__system_property_find("ro.boot.serialno"), on_property,
                                    cookie);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    ioctl(s, SIOCGIFHWADDR, &ifr);
    close(s);
}

int main(int argc, char **argv) {
    int repeat = argc > 2 ? atoi(argv[2]) : 1;
    for (int i = 0; i < repeat; i++) read_identity(argc > 1 ? argv[1] : "lo");
    printf("done\n");
    return 0;
}
"""


def build_c(tmp: Path, source: str, name: str, *flags: str) -> Path:
    gcc = require_tool("gcc", "install gcc (apt-get install gcc)")
    (tmp / f"{name}.c").write_text(source)
    program = tmp / name
    subprocess.run([gcc, "-O0", "-include", "stdlib.h", "-o", str(program), str(tmp / f"{name}.c"),
                    *flags], check=True, capture_output=True, text=True)
    return program


def run_instrumented(tmp: Path, bundle: AgentBundle, argv: list[str], process: str,
                     options: dict[str, Any] | None = None, *,
                     follow_children: bool = False, script_runtime: ScriptRuntime = "qjs",
                     ) -> tuple[list[dict[str, Any]], Instrumenter]:
    """Spawn suspended, load the agent, init, resume, wait for the exit; the recorded events."""
    recorder = Recorder(tmp / "run")
    instrumenter = Instrumenter(recorder, Catalogue(()), bundle, LOCAL,
                                agent_options=options, follow_children=follow_children,
                                script_runtime=script_runtime)
    pid = frida_adapter.spawn(LOCAL, argv)
    try:
        instrumenter.attach(SpawnedApp(pid=pid, process=process))
        frida_adapter.resume(LOCAL, pid)
        # Frida reports the detach after the agent's last message: wait for it, not the pid.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (instrumenter.unexpected_exit is None
                                                or not _ended(pid)):
            time.sleep(0.05)
        assert instrumenter.unexpected_exit is not None, (
            f"{argv} still runs after 30 s: {_process_states(pid)}; events: "
            f"{[json.loads(e)['type'] for e in (tmp / 'run' / 'events.jsonl').read_text().splitlines()]}")
    finally:
        instrumenter.detach()
        recorder.close()
    events = [json.loads(line) for line in (tmp / "run" / "events.jsonl").read_text().splitlines()]
    return events, instrumenter


def _ended(pid: int) -> bool:
    try:  # a zombie's cmdline is empty
        return not Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _process_states(pid: int) -> str:
    """The process and its children as the kernel sees them (state, where each thread
    waits): what a hang needs to be told apart (a child stuck after fork, a parent in
    waitpid, a detach Frida never reported)."""
    states = []
    pids = [pid, *(int(p) for p in _children(pid))]
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
            state = next(line.split(":", 1)[1].strip() for line in status.splitlines()
                         if line.startswith("State:"))
            waits = sorted({(task / "wchan").read_text() or "-"
                            for task in Path(f"/proc/{each}/task").iterdir()})
        except (OSError, StopIteration):
            states.append(f"pid {each}: gone")
            continue
        states.append(f"pid {each}: {state}, threads wait in {waits}")
    return "; ".join(states)


def _children(pid: int) -> list[str]:
    try:
        return " ".join(Path(f"/proc/{pid}/task/{task.name}/children").read_text()
                        for task in Path(f"/proc/{pid}/task").iterdir()).split()
    except OSError:
        return []


def hook_calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == "hook.call"]


def other_interface() -> str:
    names = sorted(p.name for p in Path("/sys/class/net").iterdir() if p.name != "lo")
    return names[0] if names else "lo"


@pytest.fixture(scope="module")
def identity_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_c(tmp_path_factory.mktemp("native"), PROGRAM, "identity", "-rdynamic")


def test_native_identity_reads_are_recorded_with_value_and_backtrace(
        tmp_path: Path, agent_bundle: AgentBundle, identity_program: Path) -> None:
    ifname = other_interface()
    events, instrumenter = run_instrumented(tmp_path, agent_bundle,
                                            [str(identity_program), ifname], "identity-prog")
    calls = hook_calls(events)
    by_api = {c["api"]: c for c in calls}
    mac_file = by_api["libc.open"]
    assert mac_file["args"] == ["/sys/class/net/lo/address"]
    assert mac_file["ret"] == Path("/sys/class/net/lo/address").read_text().strip()
    assert mac_file["data_type"] == "mac" and mac_file["category"] == "device_id"
    assert mac_file["layer"] == "native" and mac_file["process"] == "identity-prog"
    # Symbolicated: module + offset, and the exported caller by name.
    assert any(f.startswith("identity+0x") and "read_identity" in f
               for f in mac_file["native_stack"]), mac_file["native_stack"]
    assert mac_file["java_stack"] is None and mac_file["stack"] == mac_file["native_stack"]

    arp = by_api["libc.fopen"]
    assert arp["args"] == ["/proc/net/arp"] and arp["data_type"] == "arp"
    assert arp["ret"].startswith("IP address")
    assert not any("/etc/hostname" in c["args"] for c in calls)

    props = [c for c in calls if c["api"].endswith("__system_property_get")]
    assert [(c["args"], c["ret"]) for c in props] == [(["ro.serialno"], "SERIAL-C0FFEE")]
    (callback,) = [c for c in calls if c["api"].endswith("__system_property_read_callback")]
    assert callback["args"] == ["ro.boot.serialno"] and callback["ret"] == "BOOT-SERIAL-42"
    assert any("read_identity" in f for f in callback["native_stack"])

    ioctl = by_api["libc.ioctl"]
    assert ioctl["args"] == [ifname, "SIOCGIFHWADDR"]
    assert ioctl["ret"] == Path(f"/sys/class/net/{ifname}/address").read_text().strip()
    assert ioctl["pid"] > 0 and ioctl["tid"] > 0
    assert instrumenter.coverage["layers"]["native"]["installed"] >= 4
    assert instrumenter.dropped == 0


def test_native_layer_can_be_switched_off(tmp_path: Path, agent_bundle: AgentBundle,
                                          identity_program: Path) -> None:
    events, instrumenter = run_instrumented(tmp_path, agent_bundle, [str(identity_program)],
                                            "identity-prog", {"native": False})
    assert not hook_calls(events)
    assert "native" not in instrumenter.coverage["layers"]
    assert any(e["type"] == "agent.coverage" for e in events)


def test_property_list_comes_from_the_host(tmp_path: Path, agent_bundle: AgentBundle,
                                           identity_program: Path) -> None:
    events, _ = run_instrumented(tmp_path, agent_bundle, [str(identity_program)],
                                 "identity-prog", {"nativeProperties": ["ro.build.version.*"]})
    props = [c for c in hook_calls(events) if "__system_property" in c["api"]]
    assert [(c["args"], c["ret"]) for c in props] == [(["ro.build.version.sdk"], "33")]


def test_burst_beyond_the_buffer_is_counted_not_lost_silently(
        tmp_path: Path, agent_bundle: AgentBundle, identity_program: Path) -> None:
    rounds = 300  # each round makes 5 identity reads: 1500 events against a buffer of 20
    events, instrumenter = run_instrumented(
        tmp_path, agent_bundle, [str(identity_program), "lo", str(rounds)], "identity-prog",
        {"maxBuffered": 20, "batchSize": 100000, "flushIntervalMs": 60000})
    recorded = len(hook_calls(events))
    dropped = sum(e["data"]["count"] for e in events if e["type"] == "agent.dropped")
    assert dropped > 0 and instrumenter.dropped == dropped
    assert recorded + dropped == rounds * 5


# --- plaintext below TLS: a real TLS connection from a real CPython (libssl) -------------

CLIENT = r"""
import socket, ssl, sys
port, ca, body = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca)
with socket.create_connection(("127.0.0.1", port)) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(("POST /collect?imei=359881234567890 HTTP/1.1\r\nHost: localhost\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
        print(tls.recv(4096).decode().splitlines()[0])
"""


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A TLS server on 127.0.0.1 with a fresh self-signed certificate: answers one request
    per connection with 200 and a marker body."""
    openssl = require_tool("openssl", "install openssl")
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.settimeout(10)
                    request = tls.recv(65536)
                    while b"\r\n\r\n" not in request:
                        request += tls.recv(65536)
                    head, _, body = request.partition(b"\r\n\r\n")
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    while len(body) < length:
                        body += tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nserver-reply")
            except (OSError, ssl.SSLError):
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], cert
    stop.set()
    thread.join(5)
    listener.close()


def plaintext(events: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events
            if e["type"] == "net.plaintext" and e["data"]["direction"] == direction]


def test_plaintext_below_tls_in_a_library_loaded_after_start(
        tmp_path: Path, agent_bundle: AgentBundle, tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    # CPython loads _ssl (and with it libssl) only at `import ssl`, after the agent's init:
    # the module observer must hook it when it arrives.
    events, instrumenter = run_instrumented(
        tmp_path, agent_bundle, [sys.executable, "-S", "-c", CLIENT, str(port), str(cert), "hi"],
        "tls-client")
    (out,) = plaintext(events, "out")
    sent = base64.b64decode(out["data_b64"])
    assert sent.startswith(b"POST /collect?imei=359881234567890 HTTP/1.1\r\n")
    assert out["size"] == len(sent) and not out["truncated"]
    assert out["module"].startswith("libssl") and out["peer"] == f"127.0.0.1:{port}"
    assert out["process"] == "tls-client" and out["stack"] and out["java_stack"] is None
    received = b"".join(base64.b64decode(e["data_b64"]) for e in plaintext(events, "in"))
    assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b"server-reply")
    assert all(e["ssl"] == out["ssl"] for e in plaintext(events, "in"))
    (hooked,) = [e["data"] for e in events if e["type"] == "agent.hooked"
                 and e["data"]["layer"] == "plaintext"]
    assert hooked["module"] == out["module"] and "SSL_write_ex" in hooked["functions"]


def test_plaintext_is_capped_and_says_so(tmp_path: Path, agent_bundle: AgentBundle,
                                         tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    body = "x" * 5000
    events, _ = run_instrumented(
        tmp_path, agent_bundle, [sys.executable, "-S", "-c", CLIENT, str(port), str(cert), body],
        "tls-client", {"maxPlaintext": 1024})
    (out,) = plaintext(events, "out")
    assert out["truncated"] and out["size"] > 5000
    assert len(base64.b64decode(out["data_b64"])) == 1024


# --- on the JVM: pinning bypass, and a native read's Java stack --------------------------

STUBS = {
    "com/android/org/conscrypt/TrustManagerImpl.java": """
package com.android.org.conscrypt;
import java.security.cert.*; import java.util.List;
public class TrustManagerImpl {
    public List<X509Certificate> verifyChain(List<X509Certificate> untrustedChain,
            List<TrustAnchor> trustAnchorChain, String host, boolean clientAuth,
            byte[] ocspData, byte[] tlsSctData) throws CertificateException {
        throw new CertificateException("verifyChain: not trusted for " + host); }
    public List<X509Certificate> checkTrustedRecursive(List<X509Certificate> certs,
            String host) throws CertificateException {
        throw new CertificateException("checkTrustedRecursive: not trusted"); }
}""",
    "okhttp3/CertificatePinner.java": """
package okhttp3;
import java.security.cert.Certificate; import java.util.List; import java.util.function.Supplier;
import javax.net.ssl.SSLPeerUnverifiedException;
public class CertificatePinner {
    public void check(String hostname, List<Certificate> peerCertificates)
            throws SSLPeerUnverifiedException {
        throw new SSLPeerUnverifiedException("Certificate pinning failure: " + hostname); }
    public void check$okhttp(String hostname, Supplier<List<Certificate>> certificates)
            throws SSLPeerUnverifiedException {
        throw new SSLPeerUnverifiedException("Certificate pinning failure: " + hostname); }
}""",
    "android/security/net/config/NetworkSecurityTrustManager.java": """
package android.security.net.config;
import java.security.cert.*; import java.util.List;
public class NetworkSecurityTrustManager {
    public void checkServerTrusted(X509Certificate[] chain, String authType)
            throws CertificateException { throw new CertificateException("nsc: untrusted"); }
    public void checkPins(List<X509Certificate> chain) throws CertificateException {
        throw new CertificateException("nsc: pin mismatch"); }
}""",
    "com/demo/PinDriver.java": """
package com.demo;
import java.io.*; import java.util.*;
public class PinDriver {
    interface Check { void run() throws Exception; }
    static void attempt(String name, Check check) {
        try { check.run(); System.out.println("PASS " + name); }
        catch (Exception e) { System.out.println("FAIL " + name + ": " + e.getMessage()); }
    }
    static String readMac() throws IOException {
        try (FileInputStream in = new FileInputStream("/sys/class/net/lo/address")) {
            return new String(in.readAllBytes()).trim(); }
    }
    public static void main(String[] args) throws Exception {
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in));
        System.out.println("READY"); System.out.flush();
        stdin.readLine();
        com.android.org.conscrypt.TrustManagerImpl tm = new com.android.org.conscrypt.TrustManagerImpl();
        okhttp3.CertificatePinner pinner = new okhttp3.CertificatePinner();
        android.security.net.config.NetworkSecurityTrustManager nsc =
            new android.security.net.config.NetworkSecurityTrustManager();
        attempt("verifyChain", () -> tm.verifyChain(new ArrayList<>(), new ArrayList<>(),
            "pinned.example", false, null, null));
        attempt("checkTrustedRecursive", () -> tm.checkTrustedRecursive(new ArrayList<>(), "h"));
        attempt("check", () -> pinner.check("pinned.example", new ArrayList<>()));
        attempt("check$okhttp", () -> pinner.check$okhttp("pinned.example", ArrayList::new));
        attempt("checkServerTrusted", () -> nsc.checkServerTrusted(null, "RSA"));
        attempt("checkPins", () -> nsc.checkPins(new ArrayList<>()));
        System.out.println("MAC " + readMac());
        System.out.println("DONE"); System.out.flush();
        stdin.readLine();
    }
}""",
}
PIN_CHECKS = ["verifyChain", "checkTrustedRecursive", "check", "check$okhttp",
              "checkServerTrusted", "checkPins"]


@pytest.fixture(scope="module")
def pin_driver(tmp_path_factory: pytest.TempPathFactory, jdk: str) -> list[str]:
    src = tmp_path_factory.mktemp("pin_src")
    classes = tmp_path_factory.mktemp("pin_classes")
    for name, text in STUBS.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    subprocess.run([jdk, "-d", str(classes), *(str(src / n) for n in STUBS)], check=True,
                   capture_output=True, text=True)
    java = str(Path(jdk).with_name("java"))
    return [java, "-cp", str(classes), "com.demo.PinDriver"]


def drive(command: list[str], instrument: Any = None, before_end: Any = None) -> list[str]:
    """Run the driver; ``instrument(pid)`` is called while it waits at READY, ``before_end()``
    before it is let go (the agent leaves a JVM before it exits, as the session does)."""
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as process:
        assert process.stdin is not None and process.stdout is not None
        assert process.stdout.readline().strip() == "READY"
        if instrument is not None:
            instrument(process.pid)
        process.stdin.write("go\n")
        process.stdin.flush()
        lines = []
        for line in process.stdout:
            if line.strip() == "DONE":
                break
            lines.append(line.strip())
        if before_end is not None:
            before_end()
        process.stdin.write("end\n")
        process.stdin.flush()
        process.wait(30)
    return lines


def test_pinning_stubs_fail_without_the_agent(pin_driver: list[str]) -> None:
    lines = drive(pin_driver)
    assert [line.split(":")[0] for line in lines if line.startswith("FAIL")] == \
        [f"FAIL {name}" for name in PIN_CHECKS]


def test_unpin_bypasses_each_check_and_native_reads_carry_the_java_stack(
        tmp_path: Path, agent_bundle: AgentBundle, pin_driver: list[str]) -> None:
    recorder = Recorder(tmp_path / "run")
    instrumenter = Instrumenter(recorder, Catalogue(()), agent_bundle, LOCAL,
                                agent_options={"unpin": True})
    try:
        lines = drive(pin_driver, lambda pid: instrumenter.attach(
            SpawnedApp(pid=pid, process="pin-driver")), instrumenter.detach)
    finally:
        instrumenter.detach()
        recorder.close()
    assert [line for line in lines if not line.startswith("MAC")] == \
        [f"PASS {name}" for name in PIN_CHECKS]
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text()
              .splitlines()]
    unpinned = [e["data"] for e in events if e["type"] == "agent.unpinned"]
    assert [u["api"].rsplit(".", 1)[1] for u in unpinned] == PIN_CHECKS
    assert unpinned[0]["host"] == "pinned.example" and unpinned[0]["process"] == "pin-driver"
    assert any("com.demo.PinDriver" in frame for frame in unpinned[0]["stack"])
    assert instrumenter.coverage["layers"]["unpin"]["installed"] == len(PIN_CHECKS)

    (mac,) = [c for c in hook_calls(events) if c["data_type"] == "mac"]
    assert mac["args"] == ["/sys/class/net/lo/address"] and f"MAC {mac['ret']}" in lines
    assert any(f.startswith("com.demo.PinDriver.readMac") for f in mac["java_stack"])
    assert mac["stack"] == mac["java_stack"] and mac["native_stack"]
