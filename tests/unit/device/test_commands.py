from __future__ import annotations

import shlex

from harness.device import commands


def test_values_are_quoted_against_the_shell() -> None:
    evil = "com.x; reboot"
    for build in (commands.pm_path, commands.pm_clear, commands.force_stop, commands.pidof,
                  commands.dumpsys_package):
        argv = shlex.split(build(evil))
        assert argv[-1] == evil


def test_proxy_commands() -> None:
    assert commands.set_global_http_proxy("127.0.0.1", 8080) == (
        "settings put global http_proxy 127.0.0.1:8080")
    assert commands.get_global_http_proxy() == "settings get global http_proxy"
    # "no proxy" must be written as :0, deleting the key only applies after a reboot
    for none in (None, "null", ":0", ""):
        assert commands.restore_global_http_proxy(none) == "settings put global http_proxy :0"
    assert commands.restore_global_http_proxy("10.1.2.3:3128") == (
        "settings put global http_proxy 10.1.2.3:3128")
    assert commands.reverse_spec(8080) == "tcp:8080"


def test_root_wrapping() -> None:
    assert commands.as_root("id -u", "adbd") == "id -u"
    wrapped = commands.as_root("cat '/data/x y'", "su")
    assert shlex.split(wrapped) == ["su", "0", "sh", "-c", "cat '/data/x y'"]


def test_ground_truth_commands() -> None:
    assert commands.service_call_iphonesubinfo(1) == (
        "service call iphonesubinfo 1 s16 com.android.shell")
    assert commands.android_id() == "settings get secure android_id"
    assert commands.wlan_mac() == "cat /sys/class/net/wlan0/address"
    assert commands.cat(commands.ADID_SETTINGS) == (
        "cat /data/data/com.google.android.gms/shared_prefs/adid_settings.xml")


def test_frida_server_commands() -> None:
    assert commands.frida_server_version() == "/data/local/tmp/frida-server --version"
    assert commands.frida_server_start() == (
        "chmod 755 /data/local/tmp/frida-server && /data/local/tmp/frida-server -D")
    assert commands.frida_server_start(listen="0.0.0.0:27099").endswith(" -D -l 0.0.0.0:27099")
    assert commands.kill(4821) == "kill 4821"
