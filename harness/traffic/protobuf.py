"""Protocol Buffers wire format without a schema: just enough to pull out the strings and
numbers a message carries (Firebase, Google data transport and many SDKs send protobuf)."""

from __future__ import annotations

from collections.abc import Iterator

MAX_FIELDS = 10_000  # per message; a random blob that "parses" that long is not protobuf


class NotProtobuf(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise NotProtobuf("varint runs past the end")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
    raise NotProtobuf("varint longer than 10 bytes")


def parse(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """Top-level fields as (field number, wire type, value); raises NotProtobuf when ``data``
    is not one complete message. 64/32-bit fields come back as unsigned ints."""
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0 or number > 536_870_911:
            raise NotProtobuf(f"field number {number}")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise NotProtobuf("fixed field runs past the end")
            value = int.from_bytes(data[pos:pos + size], "little")
            pos += size
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise NotProtobuf("length-delimited field runs past the end")
            value = data[pos:pos + size]
            pos += size
        else:
            raise NotProtobuf(f"wire type {wire} (groups are not supported)")
        fields.append((number, wire, value))
        if len(fields) > MAX_FIELDS:
            raise NotProtobuf("too many fields")
    return fields


def _printable(text: str) -> bool:
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def leaves(data: bytes, max_depth: int = 6, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted field path, text) for every string, nested message field and number in
    ``data``. Raises NotProtobuf at the top level only; nested bytes that do not parse as a
    message are treated as strings (or skipped when they are not text)."""
    for number, _wire, value in parse(data):
        path = f"{prefix}{number}"
        if isinstance(value, int):
            yield path, str(value)
            continue
        nested: list[tuple[str, str]] | None = None
        if max_depth > 0 and value:
            try:
                nested = list(leaves(value, max_depth - 1, path + "."))
            except NotProtobuf:
                nested = None
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and _printable(text):
            yield path, text  # text that happens to parse as protobuf is still text
        elif nested is not None:
            yield from nested
        elif value:
            yield path, value.decode("latin-1")  # raw bytes: digests sent as bytes
