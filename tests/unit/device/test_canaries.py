"""Canary planting on a scripted shell: the exact commands, what is recorded, and the undo."""

from __future__ import annotations

import shlex

import pytest
from fakeshell import FakeShell

from harness.device import canaries
from harness.device.canaries import CanarySet, normalize_types
from harness.errors import DeviceError, DeviceLost, UiError

TOKEN = "1a2b3c4d"


def _shell(*, clipboard: bool = True) -> FakeShell:
    shell = FakeShell()
    shell.settings["device_name"] = "Pixel 7"
    shell.on(r"^content insert --uri content://com.android.contacts/", "")
    shell.on(r"^content query --uri content://com.android.contacts/raw_contacts",
             "Row: 0 _id=42\n")
    shell.on(r"^content delete ", "Deleted 1 row\n")
    if clipboard:
        shell.on(r"^cmd clipboard ", "")
    else:
        shell.on(r"^cmd clipboard ", "Unknown command: set-primary-clip\n", exit_code=255)
    return shell


def test_values_carry_the_token() -> None:
    values = canaries.canary_values(TOKEN)
    assert all(TOKEN in v for k, v in values.items() if k != "contact_phone")
    assert values["contact_phone"] == f"+86139{int(TOKEN, 16) % 10**8:08d}"
    assert len(values["contact_phone"]) == 14


def test_contact_commands_are_quoted_shell_lines() -> None:
    insert = shlex.split(canaries.insert_raw_contact(TOKEN))
    assert insert[:4] == ["content", "insert", "--uri", canaries.RAW_CONTACTS]
    assert "sync1:s:consentry-1a2b3c4d" in insert and "account_type:n:" in insert
    data = shlex.split(canaries.insert_contact_data(42, canaries.NAME_MIME,
                                                    "Consentry Canary 1a2b3c4d"))
    assert data[-1] == "data1:s:Consentry Canary 1a2b3c4d"
    assert "raw_contact_id:i:42" in data and f"mimetype:s:{canaries.NAME_MIME}" in data
    phone = shlex.split(canaries.insert_contact_data(42, canaries.PHONE_MIME, "+8613900000001"))
    assert phone[-2:] == ["--bind", "data2:i:2"]
    delete = shlex.split(canaries.delete_raw_contact(42))
    assert delete == ["content", "delete", "--uri",
                      canaries.RAW_CONTACTS + "?caller_is_syncadapter=true", "--where", "_id=42"]
    assert shlex.split(canaries.find_raw_contact(TOKEN))[-1] == "sync1='consentry-1a2b3c4d'"


@pytest.mark.parametrize(("output", "row"), [
    ("Row: 0 _id=42\n", 42), ("Row: 0 _id=7, sync1=x\nRow: 1 _id=9\n", 7),
    ("No result found.\n", None), ("", None),
])
def test_parse_row_id(output: str, row: int | None) -> None:
    assert canaries.parse_row_id(output) == row


def test_plant_and_undo_restore_the_device() -> None:
    shell = _shell()
    canary_set = CanarySet(shell, TOKEN)
    planted = canary_set.plant()
    values = canaries.canary_values(TOKEN)
    assert [(c.kind, c.data_type, c.value, c.planted) for c in planted] == [
        ("contact", "contacts", values["contact_name"], True),
        ("contact", "contacts", values["contact_phone"], True),
        ("device_name", "device_name", values["device_name"], True),
        ("clipboard", "clipboard", values["clipboard"], True),
    ]
    assert shell.settings["device_name"] == values["device_name"]
    assert not shell.unscripted
    log_before_undo = len(shell.log)
    canary_set.undo()
    undone = shell.log[log_before_undo:]
    assert undone == [canaries.clear_clipboard(), canaries.put_device_name("Pixel 7"),
                           canaries.delete_raw_contact(42)]  # newest first
    assert shell.settings["device_name"] == "Pixel 7"


def test_missing_device_name_is_deleted_again() -> None:
    shell = _shell()
    del shell.settings["device_name"]
    shell.on(r"^settings delete global device_name$", "")
    canary_set = CanarySet(shell, TOKEN)
    canary_set.plant()
    canary_set.undo()
    assert shell.log[-2] == "settings delete global device_name"


def test_clipboard_without_shell_command_is_recorded_not_planted(
        caplog: pytest.LogCaptureFixture) -> None:
    shell = _shell(clipboard=False)
    canary_set = CanarySet(shell, TOKEN)
    planted = canary_set.plant()
    clip = planted[-1]
    assert (clip.kind, clip.planted) == ("clipboard", False)
    assert clip.error is not None and "no shell command to set the clipboard" in clip.error
    assert clip.to_json()["planted"] is False
    assert "canary clipboard not planted" in caplog.text
    canary_set.undo()  # nothing to clear for the clipboard
    assert canaries.clear_clipboard() not in shell.log


def test_error_printed_with_exit_zero_counts_as_failure() -> None:
    shell = _shell()
    shell.on(r"^content insert --uri content://com.android.contacts/raw_contacts",
             "Error while accessing provider:com.android.contacts\n"
             "java.lang.SecurityException: Permission Denial\n")
    planted = CanarySet(shell, TOKEN).plant()
    assert planted[0].kind == "contact" and not planted[0].planted
    assert "Permission Denial" in (planted[0].error or "")
    assert [c.kind for c in planted if c.planted] == ["device_name", "clipboard"]


def test_failed_undo_is_reported_with_every_failure() -> None:
    shell = _shell()
    canary_set = CanarySet(shell, TOKEN)
    canary_set.plant()
    shell.on(r"^content delete ", "", exit_code=1)
    shell.on(r"^cmd clipboard clear", "", exit_code=1)
    with pytest.raises(DeviceError) as raised:
        canary_set.undo()
    message = str(raised.value)
    assert "delete the canary contact" in message and "clear the clipboard" in message
    assert shell.settings["device_name"] == "Pixel 7"  # the others were still undone


def test_ground_truth_names_are_unified() -> None:
    assert normalize_types({"advertising_id": ["a-b"], "aaid": ["a-b", "c-d"],
                            "phone_number": ["+1"], "imei": ["1"]}) == {
        "aaid": ["a-b", "c-d"], "phone": ["+1"], "imei": ["1"]}


class ClipboardServer:
    """The uiautomator2 driver's clipboard calls, scripted (glue test)."""

    def __init__(self, *, echo: bool = True, fail: bool = False) -> None:
        self.text: str | None = "user's own text"
        self.echo = echo
        self.fail = fail
        self.writes: list[str] = []

    def set_clipboard(self, text: str) -> None:
        if self.fail:
            raise UiError("uiautomator2 could not set the clipboard on emulator-5554")
        self.writes.append(text)
        if self.echo:
            self.text = text

    def get_clipboard(self) -> str | None:
        return self.text


def test_clipboard_through_the_ui_server_when_the_shell_cannot() -> None:
    shell = _shell(clipboard=False)
    server = ClipboardServer()
    canary_set = CanarySet(shell, TOKEN, clipboard=server)
    clip = canary_set.plant()[-1]
    assert (clip.kind, clip.planted, clip.via) == ("clipboard", True, "ui")
    assert server.text == canaries.canary_values(TOKEN)["clipboard"]
    assert clip.to_json()["via"] == "ui"
    canary_set.undo()
    assert server.text == "user's own text"  # the user's clipboard is given back


def test_shell_command_is_preferred_over_the_ui_server() -> None:
    server = ClipboardServer()
    clip = CanarySet(_shell(), TOKEN, clipboard=server).plant()[-1]
    assert (clip.planted, clip.via) == (True, "cmd") and server.writes == []


@pytest.mark.parametrize(("server", "message"), [
    (ClipboardServer(fail=True), "through the UI automation server failed too"),
    (ClipboardServer(echo=False), "reading it back gave"),
])
def test_ui_server_failure_is_recorded_not_planted(server: ClipboardServer, message: str) -> None:
    clip = CanarySet(_shell(clipboard=False), TOKEN, clipboard=server).plant()[-1]
    assert (clip.kind, clip.planted) == ("clipboard", False)
    assert clip.error is not None and message in clip.error and "Unknown command" in clip.error


def test_a_lost_device_stops_the_undo_and_leaves_the_rest_pending() -> None:
    shell = _shell()
    canary_set = CanarySet(shell, TOKEN)
    canary_set.plant()
    # by_hand is an adb command line whose shell part is the exact undo command
    expected = [
        ("clear the clipboard", "cmd clipboard clear-primary-clip"),
        ("restore device_name", "settings put global device_name 'Pixel 7'"),
        ("delete the canary contact", "content delete --uri 'content://com.android.contacts/"
         "raw_contacts?caller_is_syncadapter=true' --where _id=42"),
    ]

    def commands(pending: list[dict[str, str]]) -> list[tuple[str, str]]:
        out = []
        for entry in pending:
            argv = shlex.split(entry["by_hand"])
            assert argv[:4] == ["adb", "-s", "emulator-5554", "shell"] and len(argv) == 5
            out.append((entry["step"], argv[4]))
        return out

    assert commands(canary_set.pending()) == expected
    shell.unplug()
    with pytest.raises(DeviceLost):
        canary_set.undo()
    # nothing was undone, so all of it is still to do by hand (said to the user)
    assert commands(canary_set.pending()) == expected
    shell.replug()
    canary_set.undo()
    assert canary_set.pending() == [] and shell.settings["device_name"] == "Pixel 7"


def test_a_device_lost_while_planting_stops_the_run_not_only_the_canary() -> None:
    shell = _shell()
    shell.before("^settings get global device_name", shell.unplug)
    canary_set = CanarySet(shell, TOKEN, clipboard=ClipboardServer())
    with pytest.raises(DeviceLost):
        canary_set.plant()
    assert [entry["step"] for entry in canary_set.pending()] == ["delete the canary contact"]


def test_a_device_lost_at_cmd_clipboard_is_not_reworded_as_no_shell_command() -> None:
    shell = _shell()
    shell.before("^cmd clipboard", shell.unplug)
    with pytest.raises(DeviceLost, match="cmd clipboard"):
        CanarySet(shell, TOKEN).plant()


def test_the_ui_restored_clipboard_says_what_to_do_by_hand() -> None:
    canary_set = CanarySet(_shell(clipboard=False), TOKEN, clipboard=ClipboardServer())
    canary_set.plant()
    (clip,) = [e for e in canary_set.pending() if e["step"] == "restore the clipboard"]
    assert "copy any text of your own" in clip["by_hand"] and TOKEN in clip["by_hand"]
