"""Bounded decompression of HTTP content encodings (gzip, deflate, br, zstd).

Every decoder stops at ``limit`` output bytes, so a decompression bomb costs at most the cap
(plus one brotli step, see ``_BROTLI_STEP``) instead of all memory.
"""

from __future__ import annotations

import io
import zlib

import brotli  # type: ignore[import-untyped]  # installed with mitmproxy, ships no stubs
import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# brotli 1.1's Decompressor.process() has no output limit; feeding small input steps bounds
# what one step can produce (measured: at most 8 MiB per byte, ~40 MiB per 64 bytes).
_BROTLI_STEP = 64


class DecodeError(ValueError):
    """The data is not valid for the claimed encoding."""


def _zlib(data: bytes, wbits: int, limit: int) -> tuple[bytes, bool]:
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DecodeError(str(exc)) from exc
    if len(out) > limit:
        return out[:limit], True
    return out, False  # a stream cut short still yields what it decoded: that is evidence


def _brotli(data: bytes, limit: int) -> tuple[bytes, bool]:
    decompressor = brotli.Decompressor()
    parts: list[bytes] = []
    size = 0
    try:
        for start in range(0, len(data), _BROTLI_STEP):
            chunk: bytes = decompressor.process(data[start:start + _BROTLI_STEP])
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                return b"".join(parts)[:limit], True
    except brotli.error as exc:
        raise DecodeError(f"brotli: {exc}") from exc
    return b"".join(parts), False


def _zstd(data: bytes, limit: int) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    size = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        while size <= limit:
            chunk = reader.read(min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
    except zstandard.ZstdError as exc:
        raise DecodeError(f"zstd: {exc}") from exc
    out = b"".join(parts)
    return (out[:limit], True) if len(out) > limit else (out, False)


def decompress(data: bytes, encoding: str, limit: int) -> tuple[bytes, bool]:
    """Decode ``data`` per one Content-Encoding token; returns (output, truncated)."""
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return _zlib(data, 16 + zlib.MAX_WBITS, limit)
    if name == "deflate":  # servers send zlib-wrapped or raw deflate; accept both
        try:
            return _zlib(data, zlib.MAX_WBITS, limit)
        except DecodeError:
            return _zlib(data, -zlib.MAX_WBITS, limit)
    if name == "br":
        return _brotli(data, limit)
    if name == "zstd":
        return _zstd(data, limit)
    if name in ("identity", ""):
        return data[:limit], len(data) > limit
    raise DecodeError(f"unknown content encoding {encoding!r}")


def sniff(data: bytes) -> str | None:
    """The compression a blob announces by its magic bytes (gzip or zstd), if any."""
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    if data.startswith(ZSTD_MAGIC):
        return "zstd"
    return None
