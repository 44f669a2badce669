"""The search index: one Aho-Corasick automaton over every needle, tuned for tracker text.

Why not add the needles as they are: request bodies are full of hex and digits (UUIDs,
timestamps, digests), and with thousands of hex needles an automaton stays deep in its trie
on such text, following failure links at every character (measured here: ~17 MB/s). Nearly
every needle must start at a token boundary anyway, so the index searches a canonical copy
of the text in which every non-alphanumeric ASCII character becomes ``\\x01`` and ASCII letters
are lower-cased (length-preserving, C speed), and each key is ``\\x01`` + the canonical needle.
Outside a boundary the automaton idles at its root. Each hit is then confirmed against the
exact original text and its neighbours (see ``Needle.boundary``), so canonicalising never
adds a match. The price: a needle glued to a preceding letter or digit (``imei356938...``,
raw digest bytes after an alphanumeric byte) is not found. Keys that are not anchored at the
root (tried: digits after any letter, raw digests anywhere) halve the speed.

The automaton is ``ahocorasick_rs`` (Rust's aho-corasick, a contiguous NFA: ~5 MiB for 10,000
variants; its DFA is 40x larger for ~15% more speed) over UTF-8 bytes: a text is encoded and
canonicalised with ``bytes.translate``; for non-ASCII text, byte offsets of hits are mapped
back to character offsets. Measured against pyahocorasick on str: ~3x the throughput.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import ahocorasick_rs

from harness.traffic.variants import Needle

ANCHOR = "\x01"
_CANON: dict[int, int] = {}
for _code in range(128):
    _char = chr(_code)
    if "A" <= _char <= "Z":
        _CANON[_code] = _code + 32
    elif not _char.isalnum():
        _CANON[_code] = ord(ANCHOR)
_CANON_BYTES = bytes(_CANON.get(code, code) for code in range(256))

_FORBIDDEN: dict[str, Callable[[str], bool]] = {
    "digits": str.isdigit,
    "hex": lambda ch: ch in "0123456789abcdefABCDEF",
    "alnum": str.isalnum,
    "number": lambda ch: ch.isdigit() or ch == ".",
    "package": lambda ch: ch.isalnum() or ch in "._",
}


def canonical(text: str) -> str:
    return text.translate(_CANON)


def clean_edges(text: str, start: int, end: int, needle: Needle) -> bool:
    """No character of the needle's class touches the match on either side."""
    forbidden = _FORBIDDEN.get(needle.boundary)
    if forbidden is None:
        return True
    if start > 0:
        before = text[start - 1]
        if forbidden(before) or (needle.kind in ("lat", "lon") and before == "-"):
            return False
    return not (end < len(text) and forbidden(text[end]))


def _prefixes(needle: Needle) -> Iterable[str]:
    if canonical(needle.text[0]) == ANCHOR:
        return ("",)  # starts with its own boundary character
    return (ANCHOR,)


class NeedleIndex:
    def __init__(self, needles: Iterable[Needle]) -> None:
        # key -> [(needle, where the needle starts within the key)]
        self._keys: dict[str, list[tuple[Needle, int]]] = {}
        seen: set[tuple[str, str, str, str, int]] = set()
        for needle in needles:
            canon = canonical(needle.text)
            for prefix in _prefixes(needle):
                # the first (simplest) transform producing a text wins
                identity = (prefix + canon, needle.text, needle.data_type, needle.value,
                            hash(needle.kind))
                if identity in seen:
                    continue
                seen.add(identity)
                self._keys.setdefault(prefix + canon, []).append((needle, len(prefix)))
        self._buckets: list[list[tuple[Needle, int]]] = list(self._keys.values())
        self._automaton: Any = None
        if self._keys:
            self._automaton = ahocorasick_rs.BytesAhoCorasick(
                [key.encode("utf-8", "surrogatepass") for key in self._keys],
                implementation=ahocorasick_rs.Implementation.ContiguousNFA)
        self.variants = len({n.text for bucket in self._keys.values() for n, _ in bucket})

    def __bool__(self) -> bool:
        return bool(self._keys)

    def _hits(self, text: str) -> Iterator[tuple[int, list[tuple[Needle, int]]]]:
        """(start of the key in ``text``, bucket) for every key occurrence. The text is
        searched as ANCHOR + canonical(text), so a needle at the very start is anchored too
        and index i of the searched string is index i - 1 of ``text``."""
        if self._automaton is None:
            return
        ascii_only = text.isascii()
        data = (ANCHOR + text).encode("ascii" if ascii_only else "utf-8", "surrogatepass")
        hits = self._automaton.find_matches_as_indexes(data.translate(_CANON_BYTES),
                                                       overlapping=True)
        if ascii_only:
            for index, start, _ in hits:
                yield start - 1, self._buckets[index]
            return
        # Every key starts at an ASCII character, so a hit's byte offset is a character
        # boundary; count characters up to each hit, in offset order, in one pass.
        chars = byte = 0
        for index, start, _ in sorted(hits, key=lambda hit: hit[1]):
            chars += len(data[byte:start].decode("utf-8", "surrogatepass"))
            byte = start
            yield chars - 1, self._buckets[index]

    def occurs_in(self, text: str) -> bool:
        """Whether any needle occurs in ``text`` (confirmed and cleanly bounded)."""
        return any(True for _ in self.find(text))

    def find(self, text: str) -> Iterator[tuple[int, int, Needle]]:
        """(start, end, needle) of every confirmed, cleanly bounded needle in ``text``."""
        for key_start, bucket in self._hits(text):
            for needle, offset in bucket:
                start = key_start + offset
                end = start + len(needle.text)
                if (start >= 0 and text[start:end] == needle.text
                        and clean_edges(text, start, end, needle)):
                    yield start, end, needle
