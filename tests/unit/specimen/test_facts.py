"""The Python-side ground truth agrees with the values planted in the Java stubs."""

from __future__ import annotations

import hashlib

from harness.resources import specimen_dir
from harness.specimen import facts

DERIVED = {"imei"}  # slot IMEIs are computed in Java, not written out


def java_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in specimen_dir().rglob("*.java"))


def test_every_planted_value_is_in_the_java_sources() -> None:
    text = java_text()
    for kind, values in facts.GROUND_TRUTH.items():
        if kind == "location":
            assert "39.904211" in text and "116.407395" in text
            continue
        for value in values[:1] if kind in DERIVED else values:
            assert value in text, f"{kind} value {value} is not planted in the specimen"


def test_slot_imeis_replace_the_last_digit() -> None:
    assert facts.SLOT_IMEIS[1] == "866123045678911"
    assert all(v[:-1] == facts.IMEI[:-1] for v in facts.SLOT_IMEIS)


def test_imei_md5_is_lower_case_hex_of_the_imei() -> None:
    assert facts.imei_md5() == hashlib.md5(b"866123045678912").hexdigest()
    assert facts.imei_md5() == facts.imei_md5().lower()
