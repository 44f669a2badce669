"""A batch carries each distinct stack once; the host puts it back into every event."""

from harness.instrument.protocol import decode


def _batch(events: list[dict[str, object]], stacks: list[list[str]]) -> dict[str, object]:
    return {"type": "send", "payload": {"v": 1, "type": "events", "dropped": 0,
                                        "events": events, "stacks": stacks}}


def test_stack_refs_become_full_stacks_in_every_event() -> None:
    first = ["a.B.c(B.java:1)", "com.umeng.X.y(X.java:2)"]
    second = ["d.E.f(E.java:3)"]
    records = decode(_batch([
        {"type": "hook.call", "device_t": 1.0, "entry": "e1", "stack_ref": 0},
        {"type": "hook.call", "device_t": 2.0, "entry": "e1", "stack_ref": 0},
        {"type": "hook.call", "device_t": 3.0, "entry": "e2", "stack_ref": 1},
        {"type": "native.call", "device_t": 4.0, "stack": ["libc.so!open"]},
    ], [first, second]))
    assert [r.data["stack"] for r in records] == [first, first, second, ["libc.so!open"]]
    assert all("stack_ref" not in r.data for r in records)


def test_a_bad_stack_ref_keeps_the_event_and_says_why() -> None:
    records = decode(_batch([
        {"type": "hook.call", "device_t": 1.0, "entry": "e1", "stack_ref": 5},
        {"type": "hook.call", "device_t": 2.0, "entry": "e1", "stack_ref": "0"},
    ], [["a.B.c(B.java:1)"]]))
    assert [r.type for r in records] == ["hook.call", "hook.call"]
    assert records[0].data["stack_ref"] == 5
    assert "not in the batch's 1 stacks" in records[0].data["stack_error"]
    assert "stack" not in records[1].data and "stack_error" in records[1].data


def test_a_batch_without_stacks_is_read_as_before() -> None:
    message = {"type": "send", "payload": {"v": 1, "type": "events", "dropped": 0, "events": [
        {"type": "hook.call", "device_t": 1.0, "stack": ["a.B.c(B.java:1)"]}]}}
    (record,) = decode(message)
    assert record.data["stack"] == ["a.B.c(B.java:1)"]
