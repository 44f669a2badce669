"""``AndroidTarget``: the app runs on a device or emulator reached over adb.

Every change made to the device (proxy setting, adb reverse/forward, CA store, frida-server we
started) is pushed on an undo list as it is made; :meth:`AndroidTarget.close` runs that list
backwards and keeps going past failures, so a run that dies half-way still leaves the device
as it found it (above all: no global proxy pointing at a proxy that is gone).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shlex
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.device import cacert, commands, frida_server, groundtruth, parsers, wireguard
from harness.device.bounded import run_bounded
from harness.device.shell import DeviceShell, RootMode, check_output, detect_root, root_shell
from harness.errors import ConfigError, DeviceError, DeviceLost, Leftover
from harness.files import sha256_file
from harness.targets.base import (
    AppSpec,
    CaptureMode,
    FridaDeviceRef,
    ProxyEndpoint,
    SpawnedApp,
    WireGuardEndpoint,
)
from harness.ui.base import UiDriver

log = logging.getLogger(__name__)

_UNSET: Any = object()

#: Seconds one undo step at close may take before the device is taken for hung (adbutils
#: waits up to 600 s on a dead connection; a run must not).
UNDO_TIMEOUT = 30.0

#: An undo step at close: its label, the call that undoes it, the command to do it by hand.
UndoStep = tuple[str, Callable[[], None], str]


class AndroidTarget:
    name = "android"
    capture_modes: tuple[CaptureMode, ...] = ("regular", "wireguard")

    def __init__(self, serial: str | None = None, *, frida_server: str | None = None,
                 device: DeviceShell | None = None, require_ca: bool = True,
                 host_frida_version: str | None = None, wireguard_endpoint: str | None = None,
                 tunnel_timeout: float = 20.0) -> None:
        """``frida_server``: ``host:port`` of a frida-server listening on a custom port
        (``127.0.0.1:PORT`` is forwarded to the device with adb); default: USB.
        ``wireguard_endpoint``: this host's address as the device reaches it (WireGuard
        capture on a physical device); ``tunnel_timeout``: seconds to wait for the tunnel."""
        if device is None:
            from harness.device.adb import AdbutilsDevice

            device = AdbutilsDevice(serial)
        self.device = device
        self.serial = device.serial
        self._frida_server = frida_server
        self._require_ca = require_ca
        self._host_frida_version = host_frida_version
        self._props: dict[str, str] | None = None
        self._root: RootMode | None = _UNSET
        self._undo: list[UndoStep] = []
        self._leftovers: list[Leftover] = []
        self.lost: str | None = None
        """Why the device went away mid-run (set by :meth:`mark_lost`), or None; cleared
        when :meth:`device_back` finds it answering again."""
        self._was_lost = False
        self._reverse: str | None = None
        """The ``adb reverse`` the app's proxy rides on (regular capture), to check it."""
        self._ui: UiDriver | None = None
        self._wireguard_endpoint = wireguard_endpoint
        self._tunnel_timeout = tunnel_timeout

    # --- facts ------------------------------------------------------------------------

    def props(self) -> dict[str, str]:
        if self._props is None:
            self._props = parsers.parse_getprop(
                check_output(self.device, commands.getprop(), what="Reading device properties"))
        return self._props

    @property
    def sdk(self) -> int:
        value = self.props().get("ro.build.version.sdk", "")
        return int(value) if value.isdigit() else 0

    @property
    def root(self) -> RootMode | None:
        if self._root is _UNSET:
            self._root = detect_root(self.device)
        root: RootMode | None = self._root
        return root

    def describe(self) -> dict[str, Any]:
        return describe_props(self.props(), self.serial)

    # --- proxy --------------------------------------------------------------------------

    def proxy_listen_host(self) -> str:
        return "127.0.0.1"

    def app_proxy(self, listen_port: int, ca_pem: Path) -> ProxyEndpoint:
        # `adb reverse tcp:P tcp:P` makes the device's 127.0.0.1:P the host's 127.0.0.1:P.
        return ProxyEndpoint(host="127.0.0.1", port=listen_port, ca_pem=ca_pem)

    def prepare(self, app: AppSpec, proxy: ProxyEndpoint, *, clear: bool = True) -> dict[str, Any]:
        facts = self._prepare_app(app, clear)
        self._point_at_proxy(proxy)
        facts["proxy"] = f"{proxy.host}:{proxy.port}"
        facts["ca"] = self._trust_ca(proxy.ca_pem)
        facts["frida_server"] = self._frida_server_running()
        return facts

    def _prepare_app(self, app: AppSpec, clear: bool) -> dict[str, Any]:
        facts: dict[str, Any] = {"package": app.package}
        facts.update(self._install_or_locate(app))
        if clear:
            out = check_output(self.device, commands.pm_clear(app.package),
                               what=f"Clearing the data of {app.package}")
            if "Success" not in out:
                raise DeviceError(f"`pm clear {app.package}` did not succeed: {out.strip()}")
        version = parsers.parse_package_version(
            self.device.shell(commands.dumpsys_package(app.package)).output)
        facts["version_name"] = version.version_name
        facts["version_code"] = version.version_code
        return facts

    def _install_or_locate(self, app: AppSpec) -> dict[str, Any]:
        if app.apk is not None:
            self.device.install(app.apk)
        paths = parsers.parse_pm_path(self.device.shell(commands.pm_path(app.package)).output)
        if not paths:
            hint = (f"{app.apk} installed but package {app.package} is not there: check the "
                    "package name matches the APK" if app.apk else
                    "install it first or pass its APK")
            raise DeviceError(f"Package {app.package} is not installed on {self.serial}: {hint}")
        base = next((p for p in paths if p.endswith("/base.apk")), paths[0])
        sha = (sha256_file(app.apk) if app.apk is not None else self._remote_sha256(base))
        return {"apk_paths": paths, "sha256": sha,
                "apk_source": str(app.apk) if app.apk else "installed"}

    def _remote_sha256(self, path: str) -> str:
        result = self.device.shell(commands.sha256sum(path))
        digest = parsers.parse_sha256sum(result.output) if result.ok else None
        if digest:
            return digest
        with tempfile.TemporaryDirectory() as tmp:  # old toybox: no sha256sum, hash a copy
            local = Path(tmp) / "base.apk"
            self.device.pull(path, local)
            return sha256_file(local)

    def _point_at_proxy(self, proxy: ProxyEndpoint) -> None:
        previous = parsers.parse_settings_value(
            check_output(self.device, commands.get_global_http_proxy(),
                         what="Reading the global proxy setting"))
        spec = commands.reverse_spec(proxy.port)
        self._on_close(f"remove adb reverse {spec}", lambda: self.device.reverse_remove(spec),
                       f"adb -s {self.serial} reverse --remove {spec}")
        self.device.reverse(spec, spec)
        self._reverse = spec
        restore = commands.restore_global_http_proxy(previous)
        # Registered before the change: if `put` half-worked, close still restores.
        self._undo_command(f"restore http_proxy ({previous or 'none'})", restore,
                           "Restoring the global proxy setting")
        self._must(commands.set_global_http_proxy(proxy.host, proxy.port),
                   "Setting the global proxy")

    def _trust_ca(self, ca_pem: Path) -> dict[str, Any]:
        try:
            pem = ca_pem.read_bytes()
        except OSError as exc:
            raise DeviceError(f"{ca_pem}: cannot read the proxy CA ({exc}); start mitmdump once "
                              "so it creates ~/.mitmproxy/mitmproxy-ca-cert.pem") from exc
        # Registered before the change: a device lost half-way may keep the tmpfs mount, and
        # the user must be told how to remove it (umount of an unmounted store is harmless).
        root = self.root
        marker = len(self._undo)
        if root is not None:
            for command in reversed(cacert.build_undo(self.sdk)):  # popped in build_undo order
                line = commands.as_root(command, root)
                self._undo_command(f"undo CA: {command}", line, "Removing the proxy CA",
                                   root=root)
        try:
            done = cacert.install_ca(self.device, pem, sdk=self.sdk, root=root)
        except DeviceLost:
            raise
        except DeviceError as exc:
            del self._undo[marker:]  # install_ca undid its own half-done change
            if self._require_ca:
                raise
            log.warning("proxy CA not trusted, HTTPS will not be decrypted: %s", exc)
            return {"trusted": False, "reason": str(exc)}
        if not done.undo:  # already trusted: nothing was changed
            del self._undo[marker:]
        return {"trusted": True, "file": done.name, "preinstalled": done.already_trusted}

    # --- WireGuard capture ----------------------------------------------------------------

    def wireguard_listen_host(self) -> str:
        # UDP cannot ride `adb reverse`: listen where the device can reach this host. A
        # WireGuard server answers only the peer holding the generated client key.
        return "0.0.0.0"

    def is_emulator(self) -> bool:
        return self.serial.startswith("emulator-") or bool(self.describe()["emulator"])

    def wireguard_endpoint_host(self) -> str:
        if self._wireguard_endpoint:
            return self._wireguard_endpoint
        if self.is_emulator():
            return wireguard.EMULATOR_HOST
        raise ConfigError(
            f"device {self.serial} is not an emulator, so consentry cannot know how it reaches "
            "this machine: pass --wireguard-endpoint HOST, this machine's address on a network "
            "the device is on (e.g. its Wi-Fi LAN IP from `ip -4 addr`), with UDP allowed in")

    def prepare_wireguard(self, app: AppSpec, endpoint: WireGuardEndpoint, *,
                          clear: bool = True) -> dict[str, Any]:
        tunnel = self._wireguard_tunnel(endpoint)  # first: it checks what the user must fix
        facts = self._prepare_app(app, clear)
        facts["wireguard"] = tunnel
        facts["ca"] = self._trust_ca(endpoint.ca_pem)
        facts["frida_server"] = self._frida_server_running()
        return facts

    def _wireguard_tunnel(self, endpoint: WireGuardEndpoint) -> dict[str, Any]:
        steps = wireguard.manual_steps(str(endpoint.config_file))
        if not parsers.parse_pm_path(self.device.shell(commands.pm_path(wireguard.PACKAGE)).output):
            raise DeviceError(f"WireGuard capture: the WireGuard app is not installed on "
                              f"{self.serial}; {steps}")
        root = self.root
        if root is None:
            network = wireguard.tunnel_up(self._dumpsys_connectivity())
            if network is None:
                raise DeviceError(f"WireGuard capture needs root on {self.serial} to set the "
                                  f"tunnel up, or a tunnel the user already switched on; {steps}")
            log.warning("no root on %s: using the WireGuard tunnel already up on %s as it is; "
                        "make sure it is the one in %s", self.serial, network.interface,
                        endpoint.config_file)
            return {"managed": False, "interface": network.interface, "session": network.session}
        return self._start_tunnel(endpoint, root)

    def _start_tunnel(self, endpoint: WireGuardEndpoint, root: RootMode) -> dict[str, Any]:
        app_dir = wireguard.data_dir()
        owner = wireguard.parse_owner(root_shell(
            self.device, root, wireguard.owner_of(app_dir), what="Reading the WireGuard app's uid"))
        context = wireguard.parse_context(root_shell(
            self.device, root, wireguard.context_of(app_dir),
            what="Reading the WireGuard app's SELinux label"))
        if owner is None or context is None:
            raise DeviceError(f"cannot tell the owner/SELinux label of {app_dir} on "
                              f"{self.serial} (got {owner!r}, {context!r})")
        place = functools.partial(self._put_app_file, owner=owner, context=context, root=root)
        # The app lists tunnels and reads its preferences once per process: stop it first.
        self._must(commands.force_stop(wireguard.PACKAGE), "Stopping the WireGuard app")
        store = wireguard.datastore_path()
        original = self._get_app_file(store, root)
        try:
            preferences = wireguard.set_boolean_preference(
                original or b"", wireguard.REMOTE_CONTROL_KEY, True)
        except ValueError as exc:
            raise DeviceError(f"cannot read WireGuard's preferences {store} ({exc}); open the "
                              "app once, or clear its data, and run again") from exc
        # Registered before each change, so a half-done change is still undone at close.
        was_on = original is not None and wireguard.boolean_value(wireguard.preference_keys(
            original).get(wireguard.REMOTE_CONTROL_KEY, b"")) is True
        if original is None:
            by_hand = self._by_hand(commands.as_root(wireguard.remove(store), root), root=root)
        elif was_on:
            by_hand = "nothing: \"Allow remote control apps\" was already on in the WireGuard app"
        else:  # no shell command writes the app's DataStore file back as the app owns it
            by_hand = ("in the WireGuard app's settings switch \"Allow remote control apps\" "
                       "back off (it was off; consentry switched it on)")
        self._on_close("restore the WireGuard app's preferences",
                       functools.partial(self._restore_app_file, store, original, place, root),
                       by_hand)
        root_shell(self.device, root, wireguard.make_private_dirs(
            [wireguard.files_dir(), wireguard.datastore_dir()], owner, context),
            what="Creating the WireGuard app's files dir")
        place(preferences, store)
        conf = wireguard.config_path()
        remove_conf = commands.as_root(wireguard.remove(conf), root)
        self._undo_command(f"remove {conf}", remove_conf,
                           "Removing the consentry WireGuard tunnel", root=root)
        place(endpoint.client_config.encode("utf-8"), conf)
        # Newest first at close: tunnel down, app stopped (forgets the tunnel), then files.
        self._undo_command("stop the WireGuard app", commands.force_stop(wireguard.PACKAGE),
                           "Stopping the WireGuard app")
        self._pregrant_vpn()
        self._on_close("bring the WireGuard tunnel down",
                       functools.partial(self._broadcast, wireguard.ACTION_DOWN, root),
                       self._by_hand(commands.as_root(wireguard.broadcast(wireguard.ACTION_DOWN),
                                                      root), root=root))
        self._broadcast(wireguard.ACTION_UP, root)
        network = self._wait_for_tunnel()
        return {"managed": True, "tunnel": wireguard.TUNNEL, "interface": network.interface,
                "session": network.session, "endpoint": f"{endpoint.host}:{endpoint.port}"}

    def _pregrant_vpn(self) -> None:
        previous = wireguard.parse_appops_mode(check_output(
            self.device, wireguard.appops_get(), what="Reading WireGuard's VPN consent"))
        restore = wireguard.appops_set(previous or "default")
        self._undo_command(f"restore WireGuard's VPN consent ({previous or 'default'})",
                           restore, "Restoring WireGuard's VPN consent")
        self._must(wireguard.appops_set("allow"), "Pre-granting WireGuard's VPN consent")
        # Started by a broadcast, the app is in the background, where Android 8+ refuses to
        # start its VpnService; the temporary allow-list expires by itself.
        allow = self.device.shell(wireguard.temp_allowlist())
        if not allow.ok:
            log.warning("could not allow-list WireGuard for a background start (%s); the "
                        "tunnel may not come up", allow.output.strip())

    def _broadcast(self, action: str, root: RootMode) -> None:
        # Only root is exempt from the receiver's CONTROL_TUNNELS permission.
        out = root_shell(self.device, root, wireguard.broadcast(action),
                         what=f"Sending {action.rsplit('.', 1)[-1]} to WireGuard")
        if not wireguard.broadcast_delivered(out):
            raise DeviceError(f"WireGuard did not take {action}: `am broadcast` printed "
                              f"{out.strip()[:300] or '(nothing)'}")

    def _dumpsys_connectivity(self) -> str:
        return check_output(self.device, wireguard.dumpsys_connectivity(),
                            what="Reading the network state")

    def _wait_for_tunnel(self) -> wireguard.VpnNetwork:
        deadline = time.monotonic() + self._tunnel_timeout
        while True:
            network = wireguard.tunnel_up(self._dumpsys_connectivity())
            if network is not None:
                return network
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        lines = wireguard.wireguard_log(self.device.shell(wireguard.logcat_recent()).output)
        said = ("; WireGuard logged:\n  " + "\n  ".join(lines)) if lines else ""
        raise DeviceError(
            f"the WireGuard tunnel did not come up on {self.serial} within "
            f"{self._tunnel_timeout:g}s (`dumpsys connectivity` shows no connected VPN of "
            f"{wireguard.PACKAGE}); open the WireGuard app to see why{said}")

    def _get_app_file(self, path: str, root: RootMode) -> bytes | None:
        """The bytes of a file in the app's private dir, or None when it does not exist.
        A check that cannot answer raises: None would make the restore at close delete it."""
        answer = root_shell(self.device, root, wireguard.exists(path),
                            what=f"Checking whether {path} exists")
        present = wireguard.parse_exists(answer)
        if present is None:
            raise DeviceError(f"cannot tell whether {path} exists on {self.serial}: the check "
                              f"printed {answer.strip()[:200] or '(nothing)'}; nothing was "
                              "changed")
        if not present:
            return None
        staged = wireguard.staging_path("pull-" + Path(path).name)
        with self._staging(root):
            root_shell(self.device, root, wireguard.copy_out(path, staged),
                       what=f"Copying {path} out")
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / "file"
                self.device.pull(staged, local)
                return local.read_bytes()

    def _put_app_file(self, data: bytes, path: str, *, owner: str, context: str,
                      root: RootMode) -> None:
        """Write ``path`` in the app's private dir as the app itself would have."""
        staged = wireguard.staging_path(Path(path).name)
        with self._staging(root):
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / Path(path).name
                local.write_bytes(data)
                self.device.push(local, staged)
            root_shell(self.device, root, wireguard.copy_in(staged, path, owner, context),
                       what=f"Writing {path}")

    @contextlib.contextmanager
    def _staging(self, root: RootMode) -> Iterator[None]:
        """The staging dir for one copy, removed after it. Its undo step is on the stack
        while it exists: a staged copy may hold the tunnel's private key, and a device lost
        mid-copy must leave the user the command that removes it."""
        remove = commands.as_root(wireguard.remove_staging(), root)
        step = self._undo_command("remove the staging dir " + wireguard.STAGING, remove,
                                  "Removing the staging dir", root=root)
        root_shell(self.device, root, wireguard.make_staging(), what="Creating a staging dir")
        try:
            yield
        finally:
            root_shell(self.device, root, wireguard.remove_staging(),
                       what="Removing the staging dir")
            self._undo.remove(step)  # only once it is really gone

    def _restore_app_file(self, path: str, original: bytes | None,
                          place: Callable[[bytes, str], None], root: RootMode) -> None:
        if original is None:
            root_shell(self.device, root, wireguard.remove(path), what=f"Removing {path}")
        else:
            place(original, path)

    # --- frida --------------------------------------------------------------------------

    def frida_device(self) -> FridaDeviceRef:
        if self._frida_server:
            return FridaDeviceRef(kind="remote", serial=self._frida_server)
        return FridaDeviceRef(kind="usb", serial=self.serial)

    def _frida_server_running(self) -> dict[str, Any]:
        version = self._host_frida_version
        if version is None:
            from harness.instrument import frida_adapter

            version = frida_adapter.frida_version()
        listen = None
        if self._frida_server:
            host, _, port = self._frida_server.rpartition(":")
            listen = f"0.0.0.0:{port}"
            if host in ("127.0.0.1", "localhost"):
                self.device.forward(f"tcp:{port}", f"tcp:{port}")
                self._on_close(f"remove adb forward tcp:{port}",
                               lambda: self.device.forward_remove(f"tcp:{port}"),
                               f"adb -s {self.serial} forward --remove tcp:{port}")
        before = frida_server.running_pids(self.device)
        root = self.root or "su"
        if not before:
            # Registered before the start: a device lost while it starts must still say how
            # to stop it (its pid unknown yet: every frida-server, none ran before).
            kill_all = commands.as_root(
                "for pid in $(pidof frida-server); do kill $pid; done", root)
            pending = self._undo_command("stop the frida-server consentry started", kill_all,
                                         "Stopping frida-server", root=root)
        try:
            status = frida_server.ensure_running(
                self.device, root=self.root, host_version=version,
                abi=self.props().get("ro.product.cpu.abi", "unknown"), listen=listen)
        except DeviceLost:
            raise
        except DeviceError:
            if not before:
                self._undo.remove(pending)  # it did not start: nothing to stop
            raise
        if not before:
            self._undo.remove(pending)
            for pid in status.pids:
                # Only if that pid is still frida-server: after a reboot it may be anything.
                kill = commands.as_root(f"if pidof frida-server | grep -qw {pid}; then "
                                        f"{commands.kill(pid)}; fi", root)
                self._undo_command(f"stop frida-server {pid}", kill, "Stopping frida-server",
                                   root=root)
        return {"version": status.version, "pids": status.pids, "started": not before}

    def spawn(self, app: AppSpec) -> SpawnedApp:
        from harness.instrument import frida_adapter

        pid = frida_adapter.spawn(self.frida_device(), app.package)
        return SpawnedApp(pid=pid, process=app.package)

    def resume(self, spawned: SpawnedApp) -> None:
        from harness.instrument import frida_adapter

        frida_adapter.resume(self.frida_device(), spawned.pid)

    def stop_app(self, app: AppSpec) -> None:
        stop = commands.force_stop(app.package)
        if self.lost is not None:  # no command to a device that is gone: note it instead
            self._left(f"stop {app.package}", self._by_hand(stop), f"device lost ({self.lost})")
            return
        self._must(stop, f"Stopping {app.package}")

    def is_running(self, spawned: SpawnedApp) -> bool:
        pids = parsers.parse_pidof(self.device.shell(commands.pidof(spawned.process)).output)
        return spawned.pid in pids

    # --- UI and ground truth ------------------------------------------------------------

    def ui(self) -> UiDriver:
        if self._ui is None:
            from harness.ui.u2 import Uiautomator2Driver

            self._ui = Uiautomator2Driver(self.serial, lost_reason=self.device.confirm_lost)
        return self._ui

    def ground_truth(self) -> dict[str, list[str]]:
        return groundtruth.collect(self.device, sdk=self.sdk, root=self.root)

    # --- undo ---------------------------------------------------------------------------

    def _must(self, command: str, what: str) -> None:
        check_output(self.device, command, what=what)

    def _on_close(self, label: str, undo: Callable[[], None], by_hand: str) -> None:
        """Push an undo step; ``by_hand`` is how the user undoes it when close cannot."""
        self._undo.append((label, undo, by_hand))

    def _undo_command(self, label: str, command: str, what: str, *,
                      root: RootMode | None = None) -> UndoStep:
        """Push an undo step that runs one shell ``command`` (``what`` names it in errors);
        by hand it is the same command through adb. Returned, so a step found needless can
        be taken off again."""
        step = (label, functools.partial(self._must, command, what),
                self._by_hand(command, root=root))
        self._undo.append(step)
        return step

    def _by_hand(self, command: str, *, root: RootMode | None = None) -> str:
        """The adb command line that runs ``command``; as root through adbd it needs
        ``adb root`` first (a reboot puts adbd back to the shell user)."""
        shell = f"adb -s {self.serial} shell {shlex.quote(command)}"
        if root == "adbd":
            return f"adb -s {self.serial} root && adb -s {self.serial} wait-for-device " + \
                shell.removeprefix(f"adb -s {self.serial} ")
        return shell

    def _left(self, step: str, by_hand: str, why: str) -> None:
        self._leftovers.append(Leftover(step=step, by_hand=by_hand, why=why))

    # --- a device that goes away ------------------------------------------------------------

    def device_lost(self, *, confirm: bool = False) -> str | None:
        """Why the device cannot be used now, or None. Without ``confirm`` the cheap check
        the session makes every few seconds; with it (after a failure) a real round trip,
        and the ``adb reverse`` the app's traffic rides on must still be there: an adb
        server restart drops it silently, and the run would go on capturing nothing."""
        if not confirm:
            return self.device.lost_reason()
        gone = self.device.confirm_lost()
        if gone is not None or self._reverse is None or self.lost is not None:
            return gone
        try:
            listed = self.device.reverse_list()
        except DeviceLost as exc:
            return exc.cause or str(exc)
        except DeviceError as exc:
            log.warning("cannot list the adb reverses of %s: %s", self.serial, exc)
            return None
        if self._reverse not in listed:
            return (f"adb reverse {self._reverse} is gone, so the app's traffic no longer "
                    "reaches the proxy: the adb server restarted")
        return None

    def device_back(self) -> bool:
        """After a loss: does the device answer again (a real round trip)? Then commands
        go to it again (close and the session's cleanup undo everything as usual)."""
        if self.lost is None:
            return True
        if self.device.confirm_lost() is not None:
            return False
        log.warning("device %s answers again: undoing the run's changes", self.serial)
        self.lost = None
        return True

    def mark_lost(self, reason: str) -> None:
        """The device went away: stop sending it commands; close only checks whether it came
        back, and lists what it could not undo (:meth:`leftovers`)."""
        self.lost = reason
        self._was_lost = True

    def leftovers(self) -> list[Leftover]:
        """Changes made to the device that close could not undo: ``step``, ``by_hand`` (the
        command that undoes it), ``why``."""
        return list(self._leftovers)

    def close(self) -> None:
        """Run every undo step, newest first; report all that failed together.

        A device lost before close is checked once (:meth:`device_back`): if it is back (an
        adb server restart) everything is undone as usual, else nothing is tried and every
        step is listed in :meth:`leftovers`. A device lost or hung during close stops it the
        same way (DeviceLost): one step is waited for at most UNDO_TIMEOUT, then a round
        trip decides."""
        # After a loss the session already fails with DeviceLost: only list what is left.
        quiet = self._was_lost
        self.device_back()
        lost = self.lost
        failures: list[str] = []
        while self._undo:
            label, undo, by_hand = self._undo.pop()
            if lost is not None:
                self._left(label, by_hand, f"device lost ({lost})")
                continue
            try:
                run_bounded(undo, UNDO_TIMEOUT, f"undo: {label}")
            except DeviceLost as exc:
                lost = exc.cause or str(exc)
                self._left(label, by_hand, f"device lost ({lost})")
            except Exception as exc:  # noqa: BLE001 - keep restoring; reported below
                if isinstance(exc, TimeoutError):  # hung: does the device still answer?
                    lost = self.device.confirm_lost()
                if lost is not None:
                    self._left(label, by_hand, f"device lost ({lost}) after {exc}")
                    continue
                log.error("could not %s on %s: %s", label, self.serial, exc)
                failures.append(f"{label}: {exc}\n    by hand: {by_hand}")
                self._left(label, by_hand, str(exc))
        if lost is not None:
            self.mark_lost(lost)
        if quiet:
            return
        if lost is not None:
            raise DeviceLost(
                f"device {self.serial} was lost while consentry restored it ({lost}); undo "
                "by hand when it is back:\n  " + "\n  ".join(
                    f"{left['step']}: {left['by_hand']}" for left in self._leftovers),
                serial=self.serial, cause=lost, not_restored=self.leftovers())
        if failures:
            raise DeviceError(
                f"Device {self.serial} was not fully restored; fix by hand:\n  "
                + "\n  ".join(failures)
                + "\n(`adb shell settings put global http_proxy :0` removes a stale proxy)"
            )


def describe_props(props: dict[str, str], serial: str) -> dict[str, Any]:
    """The manifest's device facts from ``getprop`` output."""
    sdk = props.get("ro.build.version.sdk", "")
    emulator = (props.get("ro.kernel.qemu") == "1" or props.get("ro.boot.qemu") == "1"
                or props.get("ro.hardware") in ("goldfish", "ranchu")
                or "emulator" in props.get("ro.build.characteristics", ""))
    return {
        "serial": serial,
        "model": props.get("ro.product.model"),
        "manufacturer": props.get("ro.product.manufacturer"),
        "android_release": props.get("ro.build.version.release"),
        "sdk": int(sdk) if sdk.isdigit() else None,
        "abi": props.get("ro.product.cpu.abi"),
        "emulator": emulator,
        "fingerprint": props.get("ro.build.fingerprint"),
    }
