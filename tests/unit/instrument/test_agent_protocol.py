from harness.instrument.protocol import decode


def test_events_batch_becomes_records_with_device_time():
    message = {"type": "send", "payload": {"v": 1, "type": "events", "dropped": 0, "events": [
        {"type": "hook.call", "device_t": 1700000000.5, "entry": "telephony.getDeviceId",
         "ret": "866123045678912", "stack": ["a.B.c(B.java:1)"]},
        {"type": "agent.hook_skipped", "device_t": 1700000000.6, "entry": "x", "reason": "class not found: X"},
    ]}}
    records = decode(message)
    assert [r.type for r in records] == ["hook.call", "agent.hook_skipped"]
    assert records[0].device_t == 1700000000.5
    assert records[0].data["ret"] == "866123045678912"
    assert "type" not in records[0].data


def test_dropped_events_are_reported_never_silent():
    records = decode({"type": "send", "payload": {"v": 1, "type": "events", "events": [], "dropped": 7}})
    assert [(r.type, r.data) for r in records] == [("agent.dropped", {"count": 7})]


def test_script_error_and_unknown_messages_are_kept():
    err = decode({"type": "error", "description": "ReferenceError: x", "stack": "s", "fileName": "f", "lineNumber": 3})
    assert err[0].type == "agent.error" and err[0].data["line"] == 3
    assert decode({"type": "send", "payload": {"v": 2, "type": "events"}})[0].type == "agent.unknown"
    assert decode({"type": "send", "payload": "hello"})[0].type == "agent.unknown"
    assert decode({"type": "log", "payload": "x"})[0].type == "agent.unknown"
    bad = decode({"type": "send", "payload": {"v": 1, "type": "events", "events": [42]}})
    assert bad[0].type == "agent.unknown" and bad[0].data["reason"] == "malformed event"


def test_ready_message():
    (ready,) = decode({"type": "send", "payload": {"v": 1, "type": "agent:ready", "pid": 5, "platform": "linux"}})
    assert ready.type == "agent.ready" and ready.data == {"pid": 5, "platform": "linux"}
