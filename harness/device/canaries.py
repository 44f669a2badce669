"""Canaries: unique values planted on the device, so a send proves a read no hook saw.

A canary is a value nobody else has (a contact, the clipboard text, the device name, all
carrying one random token). If it shows up in a request, the app read it, whichever API,
native code or reflection it used. Everything planted is undone by :meth:`CanarySet.undo`.

How each canary is planted with stock Android's shell, no helper app:

* contact: ``content insert`` into ``content://com.android.contacts/raw_contacts`` (a local
  contact, no account; ``sync1`` holds the token so the row can be found again), then a
  name row and a phone row in ``.../data``. Undo deletes the raw contact as a sync adapter
  (``caller_is_syncadapter=true``), which removes it instead of only flagging it deleted.
* device name: ``settings put global device_name``; undo restores the previous value.
* clipboard: ``cmd clipboard set-primary-clip`` where the build has that shell command (many
  builds do not: stock Android's shell offers no way to set the clipboard); otherwise through
  the UI automation server already on the device for the scenario (uiautomator2's
  ``setClipboard``, run by its instrumentation, which may write the clipboard), read back to
  check it took. Without either, the canary is recorded as not planted, with the reason.
"""

from __future__ import annotations

import logging
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from harness.device import commands, parsers
from harness.device.shell import DeviceShell
from harness.errors import DeviceError, DeviceLost, UiError

log = logging.getLogger(__name__)

GROUND_TRUTH_EVENT = "device.ground_truth"
"""Event ``{values: {data_type: [value, ...]}}``: the device's own values, read at start."""
CANARY_EVENT = "device.canary"
"""Event ``{kind, data_type, value, planted, error}``: one planted (or failed) canary."""

RAW_CONTACTS = "content://com.android.contacts/raw_contacts"
CONTACT_DATA = "content://com.android.contacts/data"
NAME_MIME = "vnd.android.cursor.item/name"
PHONE_MIME = "vnd.android.cursor.item/phone_v2"

DATA_TYPE_ALIASES = {"advertising_id": "aaid", "gaid": "aaid", "adid": "aaid",
                     "phone_number": "phone", "line1_number": "phone"}
"""Ground-truth names -> the data types of hooks/catalogue and the traffic matcher."""


def normalize_types(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """Ground truth keyed by the catalogue's data type names, values deduplicated."""
    out: dict[str, list[str]] = {}
    for data_type, entries in values.items():
        bucket = out.setdefault(DATA_TYPE_ALIASES.get(data_type, data_type), [])
        bucket.extend(v for v in entries if v not in bucket)
    return out


@runtime_checkable
class ClipboardWriter(Protocol):
    """Something on the device that can set the clipboard when the shell cannot (raises
    :class:`~harness.errors.UiError`), such as the uiautomator2 driver."""

    def set_clipboard(self, text: str) -> None: ...

    def get_clipboard(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Canary:
    kind: str
    """``contact``, ``device_name`` or ``clipboard``."""
    data_type: str
    value: str
    planted: bool
    error: str | None = None
    via: str | None = None
    """How it was planted when there is more than one way (clipboard: ``cmd`` or ``ui``)."""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "data_type": self.data_type, "value": self.value,
                "planted": self.planted, "error": self.error, "via": self.via}


def new_token() -> str:
    """Eight random hex digits: unique enough per session, short enough for any field."""
    return secrets.token_hex(4)


def canary_values(token: str) -> dict[str, str]:
    """The planted texts for ``token`` (digits of the phone number derived from it)."""
    digits = f"{int(token, 16) % 10**8:08d}"
    return {"contact_name": f"Consentry Canary {token}", "contact_phone": f"+86139{digits}",
            "device_name": f"consentry-{token}", "clipboard": f"consentry-clip-{token}"}


# -- command lines (pure, tested without a device) -----------------------------------------

def insert_raw_contact(token: str) -> str:
    return (f"content insert --uri {RAW_CONTACTS} --bind account_type:n: "
            f"--bind account_name:n: --bind sync1:s:{commands.q('consentry-' + token)}")


def find_raw_contact(token: str) -> str:
    where = f"sync1='consentry-{token}'"
    return f"content query --uri {RAW_CONTACTS} --projection _id --where {commands.q(where)}"


def insert_contact_data(raw_id: int, mimetype: str, value: str) -> str:
    extra = " --bind data2:i:2" if mimetype == PHONE_MIME else ""  # 2 = TYPE_MOBILE
    return (f"content insert --uri {CONTACT_DATA} --bind raw_contact_id:i:{raw_id} "
            f"--bind mimetype:s:{mimetype} --bind data1:s:{commands.q(value)}{extra}")


def delete_raw_contact(raw_id: int) -> str:
    return (f"content delete --uri {commands.q(RAW_CONTACTS + '?caller_is_syncadapter=true')} "
            f"--where {commands.q(f'_id={raw_id}')}")


def set_clipboard(text: str) -> str:
    return f"cmd clipboard set-primary-clip {commands.q(text)}"


def clear_clipboard() -> str:
    return "cmd clipboard clear-primary-clip"


def get_device_name() -> str:
    return "settings get global device_name"


def put_device_name(name: str) -> str:
    return f"settings put global device_name {commands.q(name)}"


def delete_device_name() -> str:
    return "settings delete global device_name"


def parse_row_id(output: str) -> int | None:
    """``_id`` of the first row of ``content query`` output (``Row: 0 _id=42``)."""
    for line in output.splitlines():
        _, found, rest = line.partition("_id=")
        if found and rest.split(",")[0].strip().isdigit():
            return int(rest.split(",")[0].strip())
    return None


class CanarySet:
    """Plants the canaries of one session and undoes them (newest first)."""

    def __init__(self, device: DeviceShell, token: str | None = None, *,
                 clipboard: ClipboardWriter | None = None) -> None:
        self.device = device
        self.clipboard = clipboard
        self.token = token or new_token()
        self.values = canary_values(self.token)
        self._undo: list[tuple[str, Callable[[], object], str]] = []
        """(label, step, how to undo it by hand when the device is gone)."""

    def _run(self, command: str, what: str) -> str:
        result = self.device.shell(command, timeout=30.0)
        if not result.ok:
            raise DeviceError(f"{what} failed (exit {result.exit_code}): "
                              f"{result.output.strip()[:200]}")
        # `content` and `cmd` print errors but exit 0 on some releases
        if any(word in result.output for word in ("Error", "Exception", "Unknown command")):
            raise DeviceError(f"{what} failed: {result.output.strip()[:200]}")
        return result.output

    def plant(self) -> list[Canary]:
        """Plant every canary; one that cannot be planted is returned with its error (and
        logged as a warning), so the run says which proofs it lacks."""
        planted: list[Canary] = []
        for kind, step in (("contact", self._contact), ("device_name", self._device_name),
                           ("clipboard", self._clipboard)):
            try:
                planted.extend(step())
            except DeviceLost:
                raise  # not a canary failure: the run must stop and keep its evidence
            except DeviceError as exc:
                log.warning("canary %s not planted on %s: %s", kind, self.device.serial, exc)
                planted.append(Canary(kind, _type_of(kind), self._value_of(kind), False,
                                      str(exc)))
        return planted

    def _value_of(self, kind: str) -> str:
        return self.values["contact_name" if kind == "contact" else kind]

    def _contact(self) -> list[Canary]:
        self._run(insert_raw_contact(self.token), "inserting the canary contact")
        raw_id = parse_row_id(self._run(find_raw_contact(self.token), "finding it again"))
        if raw_id is None:
            raise DeviceError("the canary contact was inserted but cannot be found again")
        self._undo.append(("delete the canary contact",
                           lambda: self._run(delete_raw_contact(raw_id), "deleting it"),
                           self._by_hand(delete_raw_contact(raw_id))))
        name, phone = self.values["contact_name"], self.values["contact_phone"]
        self._run(insert_contact_data(raw_id, NAME_MIME, name), "adding its name")
        self._run(insert_contact_data(raw_id, PHONE_MIME, phone), "adding its number")
        return [Canary("contact", "contacts", name, True),
                Canary("contact", "contacts", phone, True)]

    def _device_name(self) -> list[Canary]:
        previous = parsers.parse_settings_value(
            self._run(get_device_name(), "reading device_name"))
        name = self.values["device_name"]
        self._run(put_device_name(name), "setting device_name")
        restore = put_device_name(previous) if previous else delete_device_name()
        self._undo.append(("restore device_name",
                           lambda: self._run(restore, "restoring device_name"),
                           self._by_hand(restore)))
        return [Canary("device_name", "device_name", name, True)]

    def _clipboard(self) -> list[Canary]:
        text = self.values["clipboard"]
        try:
            self._run(set_clipboard(text), "cmd clipboard")
        except DeviceLost:
            raise
        except DeviceError as exc:
            if self.clipboard is None:
                raise DeviceError(f"{exc}; this build has no shell command to set the "
                                  "clipboard (stock Android offers none without an app)") from exc
            self._clipboard_through_ui(text, shell_error=str(exc))
            return [Canary("clipboard", "clipboard", text, True, via="ui")]
        self._undo.append(("clear the clipboard",
                           lambda: self._run(clear_clipboard(), "clearing the clipboard"),
                           self._by_hand(clear_clipboard())))
        return [Canary("clipboard", "clipboard", text, True, via="cmd")]

    def _clipboard_through_ui(self, text: str, *, shell_error: str) -> None:
        assert self.clipboard is not None
        writer = self.clipboard
        try:
            previous = writer.get_clipboard()
            writer.set_clipboard(text)
            now = writer.get_clipboard()
        except UiError as exc:
            raise DeviceError(f"{shell_error}; setting it through the UI automation server "
                              f"failed too: {exc}") from exc
        if now != text:
            raise DeviceError(f"{shell_error}; the UI automation server accepted the clipboard "
                              f"text but reading it back gave {now!r}")

        def restore() -> None:
            try:
                writer.set_clipboard(previous or "")
            except UiError as exc:
                raise DeviceError(f"restoring the clipboard failed: {exc}") from exc
        # Stock Android's shell cannot set the clipboard (that is why the UI server did).
        self._undo.append(("restore the clipboard", restore,
                           f"on {self.device.serial}, copy any text of your own (the clipboard "
                           f"still holds {text!r}; no shell command can set it)"))

    def _by_hand(self, command: str) -> str:
        return f"adb -s {self.device.serial} shell {shlex.quote(command)}"

    def pending(self) -> list[dict[str, str]]:
        """What :meth:`undo` would still undo, newest first, each as ``step`` and ``by_hand``
        (the command to run when the device is back): said to the user when it cannot."""
        return [{"step": label, "by_hand": by_hand}
                for label, _, by_hand in reversed(self._undo)]

    def undo(self) -> None:
        """Undo everything planted, newest first; all failures are reported together."""
        failures: list[str] = []
        while self._undo:
            label, step, _ = self._undo[-1]
            try:
                step()
            except DeviceLost:
                raise  # the device is gone: this step and the older ones stay pending()
            except DeviceError as exc:
                failures.append(f"{label}: {exc}")
            self._undo.pop()
        if failures:
            raise DeviceError(f"device {self.device.serial}: canaries not fully removed; "
                              "fix by hand:\n  " + "\n  ".join(failures))


def _type_of(kind: str) -> str:
    return "contacts" if kind == "contact" else kind
