"""Throughput of the traffic matcher: MB/s of request data scanned with >= 10,000 needle
variants on one core, the automaton build time and peak memory. Prints figures; asserts nothing.

"one core" is bytes per CPU second of this process (``time.process_time``): on a machine
shared with other work, wall-clock MB/s (also printed) understates what one core does.

Three corpora: no leaks, 1 request in 7 leaking, every request leaking (an AAID in the JSON
body, an IMEI in the query). A leaking JSON body must be parsed to name the field that holds
the value (``$.device.aaid``) and to know it is JSON at all; the line under each leaking corpus
prints, for scale, the CPU time of one ``json.loads`` of each leaking body, without matching.

    python tests/bench/bench_traffic.py [--mb 32] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import time
import tracemalloc
import uuid
import zlib

from harness.traffic.exchange import HttpExchange
from harness.traffic.matcher import ValueMatcher
from harness.traffic.recipients import recipient_of

TARGET_VARIANTS = 10_000


def values(rng: random.Random) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {"imei": [], "aaid": [], "android_id": [], "mac": [],
                                      "location": [[39.908722, 116.397499]],
                                      "installed_packages": ["com.tencent.mm", "com.sina.weibo",
                                                             "com.taobao.taobao"]}
    while ValueMatcher(found).variant_count < TARGET_VARIANTS:
        for _ in range(10):
            found["imei"].append("".join(rng.choice("0123456789") for _ in range(15)))
            found["aaid"].append(str(uuid.UUID(int=rng.getrandbits(128))))
            found["android_id"].append(f"{rng.getrandbits(64):016x}")
            found["mac"].append(":".join(f"{rng.getrandbits(8):02x}" for _ in range(6)))
    return found


def corpus(rng: random.Random, megabytes: int, planted: dict[str, list[object]],
           leak_every: int) -> list[HttpExchange]:
    """Tracker-like requests: JSON bodies (every third gzip); every ``leak_every``-th request
    (0: none) carries a known AAID in its body and a known IMEI in its query."""
    exchanges: list[HttpExchange] = []
    size = 0
    while size < megabytes << 20:
        i = len(exchanges)
        events = [{"name": f"ev{j}", "ts": 1764409600000 + j, "sid": str(uuid.uuid4()),
                   "params": {"screen": "main", "dur": rng.random() * 100,
                              "n": rng.getrandbits(40)}}
                  for j in range(rng.randint(20, 200))]
        leak = leak_every > 0 and i % leak_every == 0
        aaid = planted["aaid"][i % len(planted["aaid"])] if leak else str(uuid.uuid4())
        device = {"model": "Pixel 7", "os": "14", "aaid": aaid}
        body = json.dumps({"device": device, "events": events}).encode()
        headers = [("Content-Type", "application/json"), ("User-Agent", "okhttp/4.12.0")]
        if i % 3 == 0:
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        imei = planted["imei"][i % len(planted["imei"])] if leak else str(rng.getrandbits(49))
        url = f"https://alog.umeng.com/app_logs?v=2&ts={i}&imei={imei}"
        exchanges.append(HttpExchange(i, "POST", url, "alog.umeng.com", headers, body))
        size += len(body) + len(url)
    return exchanges


def json_floor(leaking: list[HttpExchange], repeat: int) -> float:
    """CPU seconds (best of ``repeat``) of parsing each leaking body once: the least a scan
    that reports JSON field paths, and only for valid JSON, must spend on them."""
    texts = [(gzip.decompress(e.request_body) if e.header("content-encoding") == "gzip"
              else e.request_body).decode() for e in leaking]
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for text in texts:
            json.loads(text)
        best = min(best, time.process_time() - start)
    return best


def gzip_bomb(megabytes: int) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    zeros = b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def big_body(matcher: ValueMatcher, known: dict[str, list[object]]) -> None:
    """One 100 MB body and one gzip bomb: time and the scan's own peak allocation."""
    filler = b'{"k": "' + b"a1b2c3d4e5-" * (100_000_000 // 11) + b'"}'
    cases = [("100 MB body", filler, []),
             ("gzip bomb 1 GB", gzip_bomb(1024), [("Content-Encoding", "gzip")])]
    for label, body, headers in cases:
        exchange = HttpExchange(0, "POST", "https://example.org/u", "example.org", headers, body)
        tracemalloc.start()
        start = time.perf_counter()
        matcher.scan(exchange)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{label:20s} {len(body) / 1e6:6.1f} MB sent, {elapsed:6.2f} s, "
              f"peak allocation during scan {peak / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=32, help="request data to scan, in MB")
    parser.add_argument("--repeat", type=int, default=5, help="runs per corpus; best is shown")
    args = parser.parse_args()
    rng = random.Random(7)
    known = values(rng)
    start = time.perf_counter()
    matcher = ValueMatcher(known)
    build = time.perf_counter() - start
    recipient_of("warm.up.example")  # loads the Public Suffix List once, outside the timing
    print(f"needle variants:  {matcher.variant_count}")
    print(f"automaton build:  {build * 1000:.0f} ms")
    for label, leak_every in (("no leaks", 0), ("1 in 7 leaks", 7), ("every request leaks", 1)):
        exchanges = corpus(rng, args.mb, known, leak_every)
        wire = sum(len(e.request_body) + len(e.url) for e in exchanges)
        elapsed = cpu = float("inf")
        for _ in range(args.repeat):  # best of N, as timeit does: other load only adds time
            start, cpu_start = time.perf_counter(), time.process_time()
            matches = sum(len(matcher.scan(e)) for e in exchanges)
            elapsed = min(elapsed, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - cpu_start)
        print(f"{label:20s} {wire / 1e6:6.1f} MB in {len(exchanges):5d} requests, "
              f"{cpu:6.2f} s CPU -> {wire / 1e6 / cpu:6.1f} MB/s (one core; wall "
              f"{wire / 1e6 / elapsed:.1f} MB/s), {matches} matches")
        if leak_every:
            json_cpu = json_floor(exchanges[::leak_every], args.repeat)
            print(f"{'':20s} for scale: json.loads of each leaking body once takes "
                  f"{json_cpu:.2f} s CPU")
    big_body(matcher, known)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:         {peak:.0f} MiB (whole process, corpus included)")


if __name__ == "__main__":
    main()
