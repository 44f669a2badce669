"""The ``local`` target: the app is a process on this host (above all the JVM specimen).

Traffic goes to mitmdump through the JVM's proxy properties (or HTTP(S)_PROXY for other
programs) with the proxy's CA as the only trusted root; the UI is the app's control channel.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError, ToolchainError, UiError
from harness.specimen import facts
from harness.specimen.build import build_specimen
from harness.specimen.process import ControlledProcess, pid_alive
from harness.targets.base import AppSpec, CaptureMode, FridaDeviceRef, ProxyEndpoint, SpawnedApp
from harness.ui.control import ControlChannelDriver

log = logging.getLogger(__name__)

TRUSTSTORE_PASSWORD = "consentry"
_LOCAL = FridaDeviceRef(kind="local")


def is_jvm_command(command: list[str]) -> bool:
    return bool(command) and Path(command[0]).name in {"java", "java.exe"}


def jvm_properties(proxy: ProxyEndpoint | None, truststore: Path | None,
                   password: str = TRUSTSTORE_PASSWORD) -> dict[str, str]:
    """System properties pointing a JVM at the proxy and at a trust store."""
    props: dict[str, str] = {"java.awt.headless": "true"}
    if proxy is not None:
        props.update({
            "https.proxyHost": proxy.host, "https.proxyPort": str(proxy.port),
            "http.proxyHost": proxy.host, "http.proxyPort": str(proxy.port),
            # Empty, not the JDK default "localhost|127.*|[::1]": nothing bypasses the proxy.
            "http.nonProxyHosts": "",
        })
    if truststore is not None:
        props.update({
            "javax.net.ssl.trustStore": str(truststore),
            "javax.net.ssl.trustStorePassword": password,
            "javax.net.ssl.trustStoreType": "PKCS12",
        })
    return props


def java_tool_options(props: dict[str, str], existing: str | None = None) -> str:
    """``JAVA_TOOL_OPTIONS`` for ``props`` (after any existing options); the JVM splits it on
    white space and honours double quotes."""
    parts = [existing.strip()] if existing and existing.strip() else []
    for name, value in props.items():
        if '"' in value or '"' in name:
            raise ConfigError(f"cannot pass JVM property {name}={value!r}: it contains a quote")
        option = f"-D{name}={value}"
        parts.append(f'"{option}"' if any(c.isspace() for c in option) else option)
    return " ".join(parts)


def proxy_environment(proxy: ProxyEndpoint) -> dict[str, str]:
    """Environment for programs that honour the usual proxy and CA variables."""
    url = f"http://{proxy.host}:{proxy.port}"
    ca = str(proxy.ca_pem)
    return {"HTTPS_PROXY": url, "HTTP_PROXY": url, "https_proxy": url, "http_proxy": url,
            "NO_PROXY": "", "no_proxy": "", "SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca}


def make_truststore(ca_pem: Path, directory: Path, *, keytool: str | None = None,
                    password: str = TRUSTSTORE_PASSWORD) -> Path:
    """A PKCS12 trust store holding only ``ca_pem`` (made with the JDK's keytool)."""
    if not ca_pem.is_file():
        raise ConfigError(f"CA certificate {ca_pem} does not exist; expected a PEM file")
    tool = keytool or shutil.which("keytool")
    if tool is None:
        raise ToolchainError("keytool not found on PATH; install a JDK 17 "
                             "(e.g. `apt-get install openjdk-17-jdk-headless`)")
    store = directory / "truststore.p12"
    store.unlink(missing_ok=True)
    result = subprocess.run(
        [tool, "-importcert", "-noprompt", "-alias", "consentry-ca", "-file", str(ca_pem),
         "-keystore", str(store), "-storetype", "PKCS12", "-storepass", password],
        capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise ConfigError(f"keytool could not import {ca_pem} (is it a PEM certificate?): "
                          f"{(result.stderr or result.stdout).strip()[-800:]}")
    return store


def specimen_app(data_dir: Path, *, variant: str = "default",
                 tracker_url: str | None = None) -> AppSpec:
    """Compile (or find in the cache) the specimen and describe how to run it."""
    if variant not in facts.VARIANTS:
        raise ConfigError(f"unknown specimen variant {variant!r}; expected one of "
                          f"{', '.join(facts.VARIANTS)}")
    build = build_specimen()
    command = ["java", f"-D{facts.TRACKER_PROPERTY}={tracker_url or facts.TRACKER_URL}",
               "-cp", str(build.classes_dir), facts.MAIN_CLASS, "--control-port", "0",
               "--data-dir", str(data_dir), "--variant", variant]
    return AppSpec(package=facts.PACKAGE, command=command, options={
        "control": True, "data_dir": str(data_dir), "variant": variant,
        "sha256": build.classes_sha256, "version": f"specimen+{build.source_hash[:12]}"})


@dataclass(slots=True)
class _Prepared:
    app: AppSpec
    env: dict[str, str]


class LocalTarget:
    name = "local"
    capture_modes: tuple[CaptureMode, ...] = ("regular",)
    """Proxy properties/variables only: a tunnel would need root on this host."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="consentry-local-"))
        self._log_dir = log_dir or self._tmp / "logs"
        self._prepared: dict[str, _Prepared] = {}
        self._controlled: dict[int, ControlledProcess] = {}
        self._spawned_by_frida: dict[int, str] = {}
        self._current: ControlledProcess | None = None
        self._package_of: dict[int, str] = {}
        self._launches = 0
        self.exit_codes: dict[int, int] = {}
        self.on_relaunch: Callable[[SpawnedApp], None] | None = None
        """Called between spawn and resume when ``ui().app_start`` starts a fresh process
        (the session attaches the agent there)."""

    # --- facts and proxy ---

    def describe(self) -> dict[str, Any]:
        return {"target": self.name, "os": platform.system(), "os_release": platform.release(),
                "platform": platform.platform(), "machine": platform.machine(),
                "python": platform.python_version(), "java": _java_version()}

    def proxy_listen_host(self) -> str:
        return "127.0.0.1"

    def app_proxy(self, listen_port: int, ca_pem: Path) -> ProxyEndpoint:
        return ProxyEndpoint(host="127.0.0.1", port=listen_port, ca_pem=ca_pem)

    def prepare(self, app: AppSpec, proxy: ProxyEndpoint, *, clear: bool = True) -> dict[str, Any]:
        return self._prepare(app, proxy, proxy.ca_pem, clear)

    def prepare_without_proxy(self, app: AppSpec, trust_pem: Path | None = None, *,
                              clear: bool = True) -> dict[str, Any]:
        """Like :meth:`prepare` but the app talks directly (tests against a local server)."""
        return self._prepare(app, None, trust_pem, clear)

    def _prepare(self, app: AppSpec, proxy: ProxyEndpoint | None, trust_pem: Path | None,
                 clear: bool) -> dict[str, Any]:
        if not app.command:
            raise ConfigError(f"app {app.package}: the local target needs AppSpec.command "
                              "(the argv that starts the program)")
        data_dir = app.options.get("data_dir")
        if clear and data_dir and Path(data_dir).exists():
            shutil.rmtree(data_dir)  # the local "pm clear"
        env = {str(k): str(v) for k, v in app.options.get("env", {}).items()}
        if is_jvm_command(app.command):
            store_dir = Path(tempfile.mkdtemp(prefix="trust-", dir=self._tmp))
            store = make_truststore(trust_pem, store_dir) if trust_pem else None
            props = jvm_properties(proxy, store)
            props.update({str(k): str(v) for k, v in app.options.get("jvm_properties", {}).items()})
            env["JAVA_TOOL_OPTIONS"] = java_tool_options(props, os.environ.get("JAVA_TOOL_OPTIONS"))
        elif proxy is not None:
            env.update(proxy_environment(proxy))
        self._prepared[app.package] = _Prepared(app, env)
        return {"package": app.package, "program": app.command[0],
                "sha256": app.options.get("sha256") or _program_sha256(app.command[0]),
                "version": app.options.get("version")}

    # --- process lifecycle ---

    def frida_device(self) -> FridaDeviceRef:
        return _LOCAL

    def spawn(self, app: AppSpec) -> SpawnedApp:
        prepared = self._prepared.get(app.package)
        if prepared is None or not app.command:
            raise ConfigError(f"app {app.package} was not prepared on the local target; "
                              "call prepare() before spawn()")
        env = {**os.environ, **prepared.env}
        cwd = app.options.get("cwd")
        if app.options.get("control"):
            self._launches += 1
            log_path = self._log_dir / f"{app.package}.{self._launches}.log"
            process = ControlledProcess.start(app.command, env=env, log_path=log_path,
                                              cwd=Path(cwd) if cwd else None)
            self._controlled[process.pid] = process
            self._package_of[process.pid] = app.package
            self._current = process
            return SpawnedApp(pid=process.pid, process=app.package)
        from harness.instrument import frida_adapter

        pid = frida_adapter.spawn(_LOCAL, app.command, env=env, cwd=cwd)
        self._spawned_by_frida[pid] = app.package
        return SpawnedApp(pid=pid, process=app.package)

    def resume(self, spawned: SpawnedApp) -> None:
        process = self._controlled.get(spawned.pid)
        if process is None:
            from harness.instrument import frida_adapter

            frida_adapter.resume(_LOCAL, spawned.pid)
            return
        state = ControlChannelDriver(process.address).resume()
        if state.get("state") != "running":
            raise HarnessError(f"the app (pid {spawned.pid}) did not start on resume: {state}")

    def stop_app(self, app: AppSpec) -> None:
        for pid, process in list(self._controlled.items()):
            if self._package_of.get(pid) != app.package:
                continue
            if process.alive():
                self._stop_controlled(process)
            self.exit_codes[pid] = process.end()
            del self._controlled[pid]
        for pid, package in list(self._spawned_by_frida.items()):
            if package == app.package and pid_alive(pid):
                from harness.instrument import frida_adapter

                frida_adapter.kill(_LOCAL, pid)
            self._spawned_by_frida.pop(pid, None)

    def _stop_controlled(self, process: ControlledProcess) -> None:
        try:
            ControlChannelDriver(process.address, timeout=10).request("POST", "/stop")
        except UiError as exc:
            log.warning("app %s did not take /stop (%s); terminating it", process.pid, exc)
        if process.wait(15.0) is None:
            log.warning("app %s still running 15 s after /stop; terminating it", process.pid)

    def is_running(self, spawned: SpawnedApp) -> bool:
        process = self._controlled.get(spawned.pid)
        return process.alive() if process is not None else pid_alive(spawned.pid)

    # --- UI and ground truth ---

    def ui(self) -> ControlChannelDriver:
        return ControlChannelDriver(self._control_address, launch=self._relaunch,
                                    stop=self._stop_package)

    def _control_address(self) -> str:
        if self._current is None or not self._current.alive():
            raise UiError("no app process runs on the local target; start it with app_start")
        return self._current.address

    def _relaunch(self, package: str) -> bool:
        if self._current is not None and self._current.alive():
            return False
        prepared = self._prepared.get(package)
        if prepared is None:
            raise UiError(f"cannot start {package}: it was never prepared on the local target")
        spawned = self.spawn(prepared.app)
        if self.on_relaunch is not None:
            self.on_relaunch(spawned)
        self.resume(spawned)
        return True

    def _stop_package(self, package: str) -> None:
        prepared = self._prepared.get(package)
        if prepared is None:
            raise UiError(f"cannot stop {package}: it was never prepared on the local target")
        self.stop_app(prepared.app)

    @property
    def current_process(self) -> ControlledProcess | None:
        """The latest control-channel process (its log path, exit state)."""
        return self._current

    def ground_truth(self) -> dict[str, list[str]]:
        specimen = self._prepared.get(facts.PACKAGE)
        if specimen is None or not specimen.app.options.get("control"):
            return {}
        return {kind: list(values) for kind, values in facts.GROUND_TRUTH.items()}

    def close(self) -> None:
        for package in {p.app.package for p in self._prepared.values()}:
            try:
                self.stop_app(self._prepared[package].app)
            except HarnessError as exc:
                log.warning("could not stop %s cleanly: %s", package, exc)
        for process in list(self._controlled.values()):
            process.end()
        self._controlled.clear()
        shutil.rmtree(self._tmp, ignore_errors=True)


def _program_sha256(program: str) -> str | None:
    path = shutil.which(program)
    if path is None:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _java_version() -> str | None:
    java = shutil.which("java")
    if java is None:
        return None
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[0] if lines else None
