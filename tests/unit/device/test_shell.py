from __future__ import annotations

import pytest
from fakeshell import FakeShell

from harness.device.shell import check_output, detect_root, root_shell, select_serial
from harness.errors import AmbiguousDevice, DeviceError, DeviceNotFound


def test_select_serial_order() -> None:
    assert select_serial("abc", "env1", ["x", "y"]) == "abc"
    assert select_serial(None, "env1", ["x", "y"]) == "env1"
    assert select_serial(None, None, ["only"]) == "only"


def test_select_serial_errors_say_what_to_do() -> None:
    with pytest.raises(DeviceNotFound, match="adb devices"):
        select_serial(None, None, [])
    with pytest.raises(AmbiguousDevice, match="pass --serial, set ANDROID_SERIAL"):
        select_serial(None, None, ["emulator-5554", "R58M123"])


def test_detect_root_modes() -> None:
    assert detect_root(FakeShell().on(r"^id -u$", "0\n")) == "adbd"
    su = FakeShell().on(r"^id -u$", "2000\n").on(r"^su 0 sh -c 'id -u'$", "0\n")
    assert detect_root(su) == "su"
    none = FakeShell().on(r"^id -u$", "2000\n").on(r"^su ", "/system/bin/sh: su: not found",
                                                   exit_code=127)
    assert detect_root(none) is None


def test_check_output_and_root_shell_errors() -> None:
    fake = FakeShell().on("pm clear", "Error: java.lang.SecurityException", exit_code=1)
    with pytest.raises(DeviceError, match=r"Clearing failed on device emulator-5554 \(exit 1\)"):
        check_output(fake, "pm clear x", what="Clearing")
    with pytest.raises(DeviceError, match="needs root"):
        root_shell(fake, None, "mount", what="Mounting")
    fake.on("^su 0 sh -c mount$", "ok")
    assert root_shell(fake, "su", "mount", what="Mounting") == "ok"
