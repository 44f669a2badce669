import json
import threading

import pytest

from harness.errors import EvidenceError
from harness.recorder import Recorder


def test_events_are_on_disk_as_they_arrive(tmp_path):
    recorder = Recorder(tmp_path / "run")
    recorder.record("session.start", {"a": 1}, t=1.0)
    # Readable before close: a crash right now would still leave this line.
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {"seq": 1, "t": 1.0, "type": "session.start", "source": "host", "data": {"a": 1}}
    recorder.close()


def test_concurrent_writers_get_unique_sequence_numbers(tmp_path):
    recorder = Recorder(tmp_path / "run")

    def write():
        for i in range(200):
            recorder.record("hook.call", {"i": i})

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.close()
    seqs = [json.loads(line)["seq"] for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert sorted(seqs) == list(range(1, 801))


def test_write_failure_is_loud(tmp_path):
    recorder = Recorder(tmp_path / "run")
    recorder._file.close()  # simulate the file going away under us
    recorder.record("hook.call", {})
    with pytest.raises(EvidenceError, match="evidence is incomplete"):
        recorder.check()


def test_refuses_to_overwrite_a_run(tmp_path):
    Recorder(tmp_path / "run").close()
    with pytest.raises(EvidenceError, match="already holds a run"):
        Recorder(tmp_path / "run")


def test_manifest_hashes_every_file(tmp_path):
    recorder = Recorder(tmp_path / "run")
    recorder.save_screen("consent accept", "<hierarchy/>", b"\x89PNG")
    recorder.write_manifest(status="incomplete")
    recorder.close()
    hashes = recorder.file_hashes()
    assert set(hashes) == {"events.jsonl", "screens/001-consent-accept.xml", "screens/001-consent-accept.png"}
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "incomplete"


def test_an_event_after_close_is_dropped_and_counted_not_a_write_failure(tmp_path):
    rec = Recorder(tmp_path / "run")
    rec.record("session.end", {"status": "complete"})
    rec.close()
    late = threading.Thread(target=rec.record, args=("app.stop", {"reason": "session end"}))
    late.start()  # a detach thread the session gave up on, finishing after the close
    late.join()
    rec.check()  # not "I/O operation on closed file"
    assert rec.late == {"app.stop": 1}
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["session.end"]


def test_a_batch_is_on_disk_in_order_with_consecutive_sequence_numbers(tmp_path):
    recorder = Recorder(tmp_path / "run")
    recorder.record("session.start", {}, t=1.0)
    events = recorder.record_batch([("hook.call", {"i": 0}, 2.0), ("hook.call", {"i": 1}, 2.5),
                                    ("agent.error", {"message": "x"}, None)], source="agent")
    assert [e.seq for e in events] == [2, 3, 4]
    # readable before close, like single events
    lines = [json.loads(line) for line in
             (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert [(e["seq"], e["type"], e["source"]) for e in lines[1:]] == [
        (2, "hook.call", "agent"), (3, "hook.call", "agent"), (4, "agent.error", "agent")]
    assert [e["data"].get("i") for e in lines[1:3]] == [0, 1] and lines[2]["t"] == 2.5
    assert recorder.counts == {"session.start": 1, "hook.call": 2, "agent.error": 1}
    recorder.close()
    recorder.record_batch([("hook.call", {}, None)] * 3)
    assert recorder.late == {"hook.call": 3}


def test_a_batch_write_failure_is_loud(tmp_path):
    recorder = Recorder(tmp_path / "run")
    recorder._file.close()
    recorder.record_batch([("hook.call", {}, None), ("hook.call", {}, None)])
    with pytest.raises(EvidenceError, match="evidence is incomplete"):
        recorder.check()


def test_hook_bursts_are_synced_by_time_other_events_at_once(tmp_path, monkeypatch):
    import harness.recorder as recorder_module

    synced: list[int] = []
    monkeypatch.setattr(recorder_module.os, "fsync", lambda fd: synced.append(fd))
    clock = [100.0]
    monkeypatch.setattr(recorder_module.time, "monotonic", lambda: clock[0])
    recorder = Recorder(tmp_path / "run")
    for _ in range(10):  # a burst within the interval: flushed, not synced
        recorder.record_batch([("hook.call", {}, None)] * 64)
    assert synced == []
    assert len((tmp_path / "run" / "events.jsonl").read_text().splitlines()) == 640
    recorder.record("consent.tap", {})  # anything but hooks and flows: synced at once
    assert len(synced) == 1
    clock[0] += recorder_module._FSYNC_INTERVAL_S
    recorder.record_batch([("hook.call", {}, None)])  # the interval is over
    assert len(synced) == 2
    recorder.close()
