"""One app session end to end: the composition root.

Order of start-up (torn down in reverse, even on failure): recorder → agent build →
mitmdump (awaited) → target prepare (install, clear, proxy, CA) → spawn gated → attach and
hook → resume → scenario → settle → stop app → stop proxy → HAR → manifest → analysis.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness import __version__
from harness.capture.har import write_har
from harness.capture.proxy import WIREGUARD_PORT, CaptureMode, MitmdumpProcess
from harness.device.bounded import run_bounded
from harness.device.canaries import (
    CANARY_EVENT,
    GROUND_TRUTH_EVENT,
    CanarySet,
    ClipboardWriter,
    normalize_types,
)
from harness.device.wireguard import parse_client_config, public_key, redact_client_config
from harness.errors import (
    CaptureError,
    ConfigError,
    DeviceError,
    DeviceLost,
    HarnessError,
    InstrumentationError,
    Leftover,
    UiError,
)
from harness.events import SCHEMA_VERSION
from harness.files import write_atomic
from harness.instrument import frida_adapter
from harness.instrument.agent_build import AgentBundle, build_agent
from harness.instrument.catalogue import Catalogue, load_catalogue
from harness.instrument.frida_adapter import ScriptRuntime
from harness.instrument.instrumenter import Instrumenter
from harness.recorder import EVENTS_FILE, Recorder, iso
from harness.scenario.model import Scenario
from harness.scenario.runner import ScenarioRunner
from harness.targets.base import AppSpec, SpawnedApp, Target, WireGuardEndpoint, WireGuardTarget

log = logging.getLogger(__name__)


WIREGUARD_CONFIG_FILE = "wireguard-client.conf"

#: Frida's detach reasons when the link to the device (not the app) ended.
LINK_LOST = ("device-lost", "connection-terminated")
#: Seconds between "is the device still there" checks while the scenario runs.
PROBE_EVERY = 2.0
#: Seconds detaching Frida may take after the device is gone, before the run moves on.
DETACH_TIMEOUT = 10.0
#: Seconds stopping the app (agent flush, kill, detach) or removing the canaries may take
#: before a round trip to the device decides whether it is hung (adbutils and Frida would
#: wait minutes).
CLEANUP_TIMEOUT = 30.0


@runtime_checkable
class LosableTarget(Protocol):
    """A target whose device can go away mid-run (android; the local host cannot)."""

    def device_lost(self, *, confirm: bool = False) -> str | None:
        """Why the device cannot be used now, or None (bounded). Without ``confirm`` the
        cheap periodic check; with it, after a failure, a real round trip to the device and
        a check that the run's links to it (adb reverse) are still there."""
        ...

    def mark_lost(self, reason: str) -> None:
        """Send the device no more commands; close lists what it could not undo."""
        ...

    def device_back(self) -> bool:
        """After :meth:`mark_lost`: does the device answer again (then commands go to it
        again)? The rule close uses; asked once before cleanup gives up on it."""
        ...

    def leftovers(self) -> list[Leftover]:
        """Changes to the device not undone: ``step``, ``by_hand``, ``why``."""
        ...


def wireguard_target(target: Target, mode: CaptureMode) -> WireGuardTarget | None:
    """``target`` as a WireGuard-capable one in ``wireguard`` mode, None in ``regular`` mode."""
    if mode not in target.capture_modes:
        raise ConfigError(f"the {target.name} target cannot capture in {mode!r} mode; it "
                          f"supports: {', '.join(target.capture_modes)}")
    if mode != "wireguard":
        return None
    if not isinstance(target, WireGuardTarget):
        raise ConfigError(f"the {target.name} target lists 'wireguard' but cannot set it up")
    return target


class AppEnded(Exception):
    """The app ended itself after a refusal: the scenario stops, the run still completes."""


@dataclass(kw_only=True)
class SessionOptions:
    out: Path
    categories: set[str] | None = None
    """Only hook these catalogue categories (default: all)."""
    resolve: Sequence[str] = ()
    """Proxy-side host overrides ("host:port=ip:port"), e.g. for a local tracker server."""
    ssl_insecure: bool = False
    """Do not verify upstream certificates (only for local test servers)."""
    settle: float = 2.0
    """Seconds to wait after the last step for late events and flows."""
    mitm_confdir: Path | None = None
    clear: bool = True
    analyze: bool = True
    follow_children: bool = True
    """Hold the app's forked children at birth and instrument them too (child gating); on
    Android also its other processes (``pkg:push``) through spawn gating."""
    script_runtime: ScriptRuntime = "qjs"
    """Frida's JavaScript runtime for the agent: ``qjs`` (default, fast Java hooks) or ``v8``
    (forked children never cost the parent's session; Java hooks much slower, see
    :meth:`harness.instrument.frida_adapter.AgentSession.load`)."""
    capture: CaptureMode = "regular"
    """``regular``: the app's proxy setting; ``wireguard``: a WireGuard tunnel to mitmdump,
    for apps that ignore the proxy (targets that list it in ``capture_modes``)."""
    wireguard_port: int = WIREGUARD_PORT
    """UDP port of the WireGuard server (fixed, so a hand-imported tunnel stays valid)."""


@dataclass
class SessionResult:
    run_dir: Path
    status: str
    reason: str | None
    analysis: Any = None
    coverage: dict[str, Any] = field(default_factory=dict)


class Session:
    """Runs one scenario against one app on one target and writes the evidence bundle."""

    def __init__(self, target: Target, app: AppSpec, scenario: Scenario,
                 options: SessionOptions) -> None:
        self.target = target
        self.app = app
        self.package = app.package
        self.scenario = scenario
        self.options = options
        self.recorder = Recorder(options.out)
        self._capture_error: str | None = None
        self._instrumenter: Instrumenter | None = None
        self._spawned: SpawnedApp | None = None
        self._proxy: MitmdumpProcess | None = None
        self._runner: ScenarioRunner | None = None
        self._lost: DeviceLost | None = None
        self._lost_during: str | None = None
        self._phase = "starting"
        self._next_probe = 0.0
        self._not_restored: list[Leftover] = []
        """Session-side cleanup not done because the device was gone (canaries)."""
        self._client_public_key: str | None = None
        """WireGuard capture: the device's public key (the private one stays out of the
        bundle), worked out once with the config's checks."""
        self._back: bool | None = None
        """After a loss: whether the device answered again when cleanup asked (once)."""

    # -- AppControl (used by the scenario runner) -----------------------------------------

    def launch(self) -> None:
        assert self._instrumenter is not None
        spawned = self.target.spawn(self.app)
        self._spawned = spawned
        self.recorder.record("app.spawn", {"pid": spawned.pid, "process": spawned.process})
        coverage = self._instrumenter.attach(spawned)
        log.info("agent: %d/%d hooks installed (%s)", coverage["installed"], coverage["total"],
                 coverage.get("runtime"))
        self.target.resume(spawned)
        self.recorder.record("app.resume", {"pid": spawned.pid, "process": spawned.process})

    def restart(self) -> None:
        try:
            self._bounded(lambda: self._stop_app("restart"), CLEANUP_TIMEOUT, "stopping the app")
        except TimeoutError as exc:
            lost = self._hung("stopping the app for a restart", exc)
            if lost is not None:
                raise lost from exc
            raise InstrumentationError(
                f"stopping the app for a restart did not finish ({exc}); check the app "
                "and frida-server on the device") from exc
        self.launch()

    def check(self) -> None:
        self.recorder.check()
        if self._capture_error is not None:
            raise CaptureError(f"traffic capture failed: {self._capture_error}")
        self._check_device()
        if self._instrumenter is not None and self._instrumenter.unexpected_exit is not None:
            self._check_frida_link(self._instrumenter.unexpected_exit)
            if self._runner is not None and self._runner.consent == "reject":
                # Quitting after a refusal is the app's answer (exit-after-refusal), an
                # observation to judge, not a fault of the run: stop the scenario there.
                raise AppEnded(self._instrumenter.unexpected_exit)
            raise InstrumentationError(
                f"the app process ended unexpectedly ({self._instrumenter.unexpected_exit})")

    def _check_device(self) -> None:
        """Every PROBE_EVERY seconds: is the device still there? (adb answers at once for a
        device that went away, so a lost device stops the run within seconds, not at the
        next step that happens to need it.)"""
        if not isinstance(self.target, LosableTarget) or time.monotonic() < self._next_probe:
            return
        self._next_probe = time.monotonic() + PROBE_EVERY
        gone = self.target.device_lost()
        if gone is not None:
            raise DeviceLost(f"the device stopped answering ({gone})", cause=gone)

    def _check_frida_link(self, reason: str) -> None:
        if not reason.startswith(LINK_LOST):
            return
        gone = self._confirm_lost()
        if gone is not None:
            raise DeviceLost(f"Frida lost the device ({reason}); adb: {gone}", cause=gone)
        raise InstrumentationError(
            f"Frida's link to the device ended ({reason}) while the device still answers: "
            "frida-server was killed or crashed, or the adb server restarted; check `adb "
            "shell pidof frida-server` and run again")

    def _stop_app(self, why: str) -> None:
        # Flush, then kill, then detach: unloading hooks from a live process first is
        # pointless (it is about to die) and slow (HotSpot redefines every hooked class).
        instrumenter = self._instrumenter
        if instrumenter is not None:
            instrumenter.expect_exit()
            instrumenter.flush()
        try:
            self.target.stop_app(self.app)
        finally:
            # Also when the kill fails: detach turns device-wide spawn gating off again.
            if instrumenter is not None:
                instrumenter.detach()
        self.recorder.record("app.stop", {"reason": why, "package": self.package})

    # -- the run --------------------------------------------------------------------------

    def _on_capture_error(self, message: str) -> None:
        self._capture_error = message
        self.recorder.record("capture.error", {"message": message}, source="proxy")

    def _on_flow(self, payload: dict[str, Any]) -> None:
        t = payload.get("t_request")
        self.recorder.record("flow.http", payload, t=float(t) if t else None, source="proxy")

    def _start_manifest(self, bundle: AgentBundle, catalogue: Catalogue) -> None:
        now = time.time()
        self.recorder.write_manifest(
            schema=SCHEMA_VERSION, consentry=__version__,
            frida={"version": frida_adapter.frida_version(), "java_bridge": bundle.java_bridge},
            agent={"sha256": bundle.sha256, "catalogue_entries": len(catalogue.entries)},
            target={"name": self.target.name},
            app={"package": self.package},
            scenario=self.scenario.to_manifest(),
            started_at=iso(now), t_start=now, ended_at=None, t_end=None,
            status="incomplete", incomplete_reason="running", degraded=[],
        )
        self.recorder.record("session.start", {"target": self.target.name, "app": self.package,
                                               "scenario": self.scenario.name}, t=now)

    def run(self) -> SessionResult:
        catalogue = load_catalogue().filter(self.options.categories)
        bundle = build_agent()
        self._start_manifest(bundle, catalogue)
        status: str = "incomplete"
        reason: str | None = "interrupted"
        lost: DeviceLost | None = None
        try:
            with contextlib.ExitStack() as stack:
                stack.callback(self.target.close)
                try:
                    self._run(stack, catalogue, bundle)
                except HarnessError as exc:
                    # Before the stack unwinds: cleanup must know the device is gone.
                    found = self._as_lost(exc)
                    if found is None:
                        raise
                    self._device_lost(found)
                    if found is not exc:
                        raise found from exc
                    raise
            if self._lost is not None:  # noticed by a cleanup step after the scenario
                raise self._lost
            status, reason = "complete", None
        except DeviceLost as exc:  # mid-run, or while the device was being restored
            if self._lost is None:
                self._device_lost(exc, during="restoring the device")
            lost = exc
            reason = (f"device lost during {self._lost_during}: "
                      f"{exc.cause or exc}")
        except HarnessError as exc:
            reason = str(exc)
            raise
        except BaseException as exc:  # KeyboardInterrupt, SystemExit from SIGTERM, bugs
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise
        finally:
            self._finish(status, reason)
        result = SessionResult(self.options.out, status, reason,
                               coverage=self._instrumenter.coverage if self._instrumenter else {})
        if self.options.analyze:
            from harness.analysis.engine import analyze, write_outputs

            result.analysis = analyze(self.options.out)
            write_outputs(self.options.out, result.analysis)
        if lost is not None:
            raise self._lost_report(lost, result) from lost
        return result

    # -- a device that goes away ------------------------------------------------------------

    def _confirm_lost(self) -> str | None:
        """Why the device is gone or hung, by a real round trip (None: it answers, or the
        target has no device to lose)."""
        if not isinstance(self.target, LosableTarget):
            return None
        return self.target.device_lost(confirm=True)

    def _as_lost(self, exc: HarnessError) -> DeviceLost | None:
        """``exc`` as DeviceLost when the device is gone: whichever layer noticed first (a UI
        call, a Frida RPC, an adb command) words it its own way, so ask the device."""
        if isinstance(exc, DeviceLost):
            return exc
        gone = self._confirm_lost()
        if gone is None:
            return None
        return DeviceLost(f"the device is gone ({gone}): {exc}", cause=gone)

    def _device_lost(self, lost: DeviceLost, *, during: str | None = None) -> None:
        self._lost = lost
        self._lost_during = during or self._where()
        cause = lost.cause or str(lost)
        self.recorder.record("device.lost", {
            "serial": lost.serial or self.recorder.manifest.get("target", {}).get("serial"),
            "cause": cause, "during": self._lost_during, "step": self._last_step(),
            "message": str(lost)})
        if isinstance(self.target, LosableTarget):
            self.target.mark_lost(cause)
        log.error("device lost during %s: %s", self._lost_during, cause)

    def _where(self) -> str:
        step = self._last_step() if self._phase == "scenario" else None
        if step is None:
            return self._phase
        total = len(self.scenario.steps)
        return f"scenario step {step.get('index')}/{total} ({step.get('detail')})"

    def _last_step(self) -> dict[str, Any] | None:
        """The last ``ui.step`` on the timeline (read back once, at a fault)."""
        last: dict[str, Any] | None = None
        try:
            with (self.options.out / EVENTS_FILE).open(encoding="utf-8") as events:
                for line in events:
                    if '"ui.step"' in line:
                        with contextlib.suppress(ValueError):
                            last = dict(json.loads(line).get("data") or {})
        except OSError:
            return None
        return last

    def _leftovers(self) -> list[Leftover]:
        target = self.target.leftovers() if isinstance(self.target, LosableTarget) else []
        return [*target, *self._not_restored]

    def _lost_report(self, lost: DeviceLost, result: SessionResult) -> DeviceLost:
        """The error the caller sees: what happened, where the evidence is, what to undo."""
        serial = lost.serial or self.recorder.manifest.get("target", {}).get("serial", "")
        analysed = " and analysed (the report says it is incomplete)" \
            if result.analysis is not None else ""
        lines = [f"device {serial} was lost during {self._lost_during} "
                 f"({lost.cause or lost}).",
                 f"The evidence recorded until then is kept in {self.options.out}, marked "
                 f"incomplete{analysed}."]
        left = self._leftovers()
        if left:
            lines.append("The device may still be set up by consentry; once it is back, "
                         "undo by hand:")
            lines += [f"  - {entry['step']}: {entry['by_hand']}" for entry in left]
        lines.append("Reconnect the device (`adb devices` must list it as `device`) and "
                     "run again.")
        return DeviceLost("\n".join(lines), serial=serial or None, cause=lost.cause,
                          not_restored=left, result=result)

    def _release_instrumenter(self) -> None:
        """Detach Frida from a device that is gone, without waiting on it for long."""
        instrumenter = self._instrumenter
        if instrumenter is None:
            return
        instrumenter.expect_exit()
        try:
            self._bounded(instrumenter.detach, DETACH_TIMEOUT, "detaching Frida")
        except TimeoutError as exc:
            self.recorder.record("agent.error", {
                "message": f"detaching Frida after the device was lost: {exc}"})
        except HarnessError as exc:
            log.warning("detaching Frida from the lost device failed: %s", exc)

    def _bounded(self, step: Callable[[], None], seconds: float, label: str) -> None:
        """``step`` given up after ``seconds`` (TimeoutError); what it raises after that
        is still recorded (the bundle keeps it, or counts it once closed)."""
        def late(exc: BaseException) -> None:
            self.recorder.record("agent.error", {
                "message": f"{label} failed after the run gave up on it: "
                           f"{type(exc).__name__}: {exc}"})
        run_bounded(step, seconds, label, late=late)

    def _device_back(self) -> bool:
        """Whether cleanup may send the device commands: no loss recorded, or the device
        answers again (asked once, by the rule AndroidTarget.close uses)."""
        if self._lost is None:
            return True
        if self._back is None:
            self._back = isinstance(self.target, LosableTarget) and self.target.device_back()
            if self._back:
                self.recorder.record("device.back", {"after": self._lost_during})
        return self._back

    def _hung(self, what: str, exc: TimeoutError) -> DeviceLost | None:
        """A cleanup step that did not finish: DeviceLost when a round trip says the device
        is gone or hung, else None (the step was only slow or stuck on the host)."""
        gone = self._confirm_lost()
        if gone is None:
            return None
        return DeviceLost(f"{what} did not finish ({exc}) and the device does not answer "
                          f"({gone})", cause=gone)

    def _undo_canaries(self, canaries: CanarySet) -> None:
        if self._device_back():
            try:
                self._bounded(canaries.undo, CLEANUP_TIMEOUT, "removing the canaries")
                return
            except DeviceLost as exc:
                self._device_lost(exc, during="removing the canaries")
            except TimeoutError as exc:
                lost = self._hung("removing the canaries", exc)
                if lost is None:
                    raise DeviceError(f"removing the canaries did not finish: {exc}; remove "
                                       "them by hand: " + "; ".join(
                                           e["by_hand"] for e in canaries.pending())) from exc
                self._device_lost(lost, during="removing the canaries")
        self._not_restored += [Leftover(step=entry["step"], by_hand=entry["by_hand"],
                                        why=f"device lost ({self._lost_cause()})")
                               for entry in canaries.pending()]

    def _lost_cause(self) -> str:
        return (self._lost.cause or str(self._lost)) if self._lost is not None else ""

    def _run(self, stack: contextlib.ExitStack, catalogue: Catalogue,
             bundle: AgentBundle) -> None:
        self.recorder.write_manifest(target={"name": self.target.name, **self.target.describe()})
        wireguard = wireguard_target(self.target, self.options.capture)
        proxy, tunnel = self._start_proxy(stack, wireguard)
        capture = self._capture_facts(proxy, tunnel)
        self._phase = "preparing the device"
        if wireguard is not None and tunnel is not None:
            app_facts = wireguard.prepare_wireguard(self.app, tunnel, clear=self.options.clear)
        else:
            endpoint = self.target.app_proxy(proxy.port, proxy.ca_cert_path)
            app_facts = self.target.prepare(self.app, endpoint, clear=self.options.clear)
            capture["app_proxy"] = f"{endpoint.host}:{endpoint.port}"
        self._record_known_values(stack)
        self.recorder.write_manifest(app={"package": self.package, **app_facts}, capture=capture)
        self._instrumenter = Instrumenter(self.recorder, catalogue, bundle,
                                          self.target.frida_device(),
                                          follow_children=self.options.follow_children,
                                          script_runtime=self.options.script_runtime,
                                          # zygote starts :push/:remote: spawn gating
                                          follow_app_processes=self.options.follow_children
                                          and self.target.name == "android")
        stack.callback(self._stop_app_quietly)
        runner = ScenarioRunner(self.target.ui(), self, self.recorder)
        self._runner = runner
        self._phase = "scenario"
        try:
            runner.run(self.scenario)
        except (AppEnded, UiError) as ended:
            if isinstance(ended, UiError) and not self._ended_after_refusal():
                raise
            self.recorder.record("scenario.stopped", {
                "reason": f"the app ended itself after the refusal ({ended})"})
            self._spawned = None  # nothing left to stop
            log.warning("the app ended itself after the refusal; remaining steps skipped")
            return
        self._settle()
        self._check_links()

    def _check_links(self) -> None:
        """Before calling the run complete: the device still answers and its links are in
        place. An adb server restart the periodic check missed drops the adb reverse, and
        the app's traffic silently stops reaching the proxy: that run is not complete."""
        gone = self._confirm_lost()
        if gone is not None:
            raise DeviceLost(f"the device's link broke during the run ({gone})", cause=gone)

    def _start_proxy(self, stack: contextlib.ExitStack, wireguard: WireGuardTarget | None
                     ) -> tuple[MitmdumpProcess, WireGuardEndpoint | None]:
        """mitmdump in the capture mode asked for (stopped by ``stack``), and in WireGuard mode
        the tunnel endpoint the device must use."""
        # Asked before mitmdump starts: a physical device without an endpoint fails at once.
        endpoint_host = wireguard.wireguard_endpoint_host() if wireguard else None
        proxy = MitmdumpProcess(
            self.options.out,
            listen_host=(wireguard.wireguard_listen_host() if wireguard
                         else self.target.proxy_listen_host()),
            listen_port=self.options.wireguard_port if wireguard else 0,
            confdir=self.options.mitm_confdir, resolve=self.options.resolve,
            ssl_insecure=self.options.ssl_insecure, on_flow=self._on_flow,
            on_error=self._on_capture_error, mode=self.options.capture)
        proxy.start()
        self._proxy = proxy
        stack.callback(self._stop_proxy)
        if endpoint_host is None:
            return proxy, None
        return proxy, self._wireguard_endpoint(proxy, endpoint_host)

    def _capture_facts(self, proxy: MitmdumpProcess,
                       tunnel: WireGuardEndpoint | None) -> dict[str, Any]:
        """The manifest's ``capture`` section: the mode and where the device sends traffic."""
        facts: dict[str, Any] = {"mode": self.options.capture,
                                 "proxy": f"{proxy.address[0]}:{proxy.port}",
                                 "mitmproxy": proxy.mitmproxy_version}
        if tunnel is not None:
            facts.update(udp_port=tunnel.port, endpoint=f"{tunnel.host}:{tunnel.port}",
                         client_config=WIREGUARD_CONFIG_FILE,
                         client_public_key=self._client_public_key)
        return facts

    def _wireguard_endpoint(self, proxy: MitmdumpProcess, host: str) -> WireGuardEndpoint:
        """mitmproxy's client config pointed at ``host``, checked. The device's copy (with the
        private key) is a 0600 file in mitmproxy's confdir, next to the key pair mitmproxy
        already keeps there: it outlives the run because a user without root imports it by
        hand and runs again. The bundle gets it with the key redacted and the public key
        noted."""
        text = proxy.wireguard_client_config(host)
        try:
            redacted = redact_client_config(text)
            self._client_public_key = public_key(parse_client_config(text).private_key)
        except ValueError as exc:
            raise CaptureError(f"mitmdump handed out an unusable WireGuard config: {exc}") from exc
        write_atomic(self.options.out / WIREGUARD_CONFIG_FILE, redacted)
        return WireGuardEndpoint(host=host, port=proxy.port, client_config=text,
                                 config_file=_private_file(
                                     proxy.confdir / f"consentry-wireguard-{proxy.port}.conf",
                                     text),
                                 ca_pem=proxy.ca_cert_path)

    def _record_known_values(self, stack: contextlib.ExitStack) -> None:
        """Ground truth and canaries (see harness.device.canaries): values a send can be
        proven with when no hook saw the read. Canaries are undone at close."""
        values = normalize_types(self.target.ground_truth())
        self.recorder.record(GROUND_TRUTH_EVENT, {"values": values})
        device = getattr(self.target, "device", None)
        if self.target.name != "android" or device is None:
            return
        ui = self.target.ui()
        canaries = CanarySet(device, clipboard=ui if isinstance(ui, ClipboardWriter) else None)
        stack.callback(self._undo_canaries, canaries)
        failed = []
        for canary in canaries.plant():
            self.recorder.record(CANARY_EVENT, canary.to_json())
            if not canary.planted:
                failed.append(f"canary {canary.kind} not planted: {canary.error}")
        if failed:
            degraded = list(self.recorder.manifest.get("degraded", []))
            self.recorder.write_manifest(degraded=degraded + failed)

    def _ended_after_refusal(self, wait: float = 3.0) -> bool:
        """After a refusal, did the app process end (a UI call failing because of it)?"""
        if self._runner is None or self._runner.consent != "reject" or self._spawned is None:
            return False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.target.is_running(self._spawned):
                return True
            time.sleep(0.2)
        return False

    def _settle(self) -> None:
        self._phase = "waiting for late events"
        deadline = time.monotonic() + self.options.settle
        while time.monotonic() < deadline:
            self.check()
            time.sleep(0.2)
        if self._instrumenter is not None:
            self._instrumenter.flush()
        self.check()

    def _stop_app_quietly(self) -> None:
        if self._spawned is None:
            return
        self._phase = "stopping the app"
        if self._device_back():
            try:
                self._bounded(lambda: self._stop_app("session end"), CLEANUP_TIMEOUT,
                              "stopping the app")
                return
            except DeviceLost as exc:  # the scenario was done; what is left of cleanup adapts
                self._device_lost(exc)
            except TimeoutError as exc:
                lost = self._hung("stopping the app", exc)
                if lost is None:
                    log.warning("stopping the app did not finish: %s", exc)
                    return
                self._device_lost(lost)
            except HarnessError as exc:
                log.warning("stopping the app failed: %s", exc)
                return
        self._release_instrumenter()
        try:
            self.target.stop_app(self.app)  # a lost android target only notes it
        except HarnessError as exc:
            log.warning("stopping the app failed: %s", exc)
        self.recorder.record("app.stop", {"reason": "device lost", "package": self.package,
                                          "done": False})

    def _stop_proxy(self) -> None:
        if self._proxy is None:
            return
        flows = self._proxy.stop()
        self.recorder.write_manifest(capture={**self.recorder.manifest.get("capture", {}),
                                              "flows": flows})
        flows_path = self._proxy.flows_path
        if flows_path.exists():
            write_har(flows_path, self.options.out / "traffic.har")

    def _finish(self, status: str, reason: str | None) -> None:
        now = time.time()
        degraded = list(self.recorder.manifest.get("degraded", []))
        instrumenter = self._instrumenter
        if instrumenter is not None and instrumenter.dropped:
            degraded.append(f"agent dropped {instrumenter.dropped} events")
        if instrumenter is not None:
            degraded.extend(instrumenter.uninstrumented)
        if self.options.capture == "wireguard" and self._proxy is not None \
                and self._proxy.flows_seen == 0:
            # An interface that is up proves nothing: WireGuard has no handshake before traffic.
            degraded.append("wireguard capture saw no traffic at all: check that the device's "
                            "tunnel reaches mitmdump (endpoint, UDP port, firewall)")
        if self._capture_error is not None:
            status, reason = "incomplete", reason or f"capture failed: {self._capture_error}"
        extra: dict[str, Any] = {}
        if self._lost is not None:
            extra["device_lost"] = {"cause": self._lost.cause or str(self._lost),
                                    "during": self._lost_during}
        left = self._leftovers()
        if left:
            # Said in the bundle too: the device may still proxy, trust our CA, run a tunnel.
            self.recorder.record("device.not_restored", {"steps": left})
            extra["not_restored"] = left
        self.recorder.record("session.end", {"status": status, "reason": reason}, t=now)
        self.recorder.close()
        try:
            self.recorder.check()
        except HarnessError as exc:
            status, reason = "incomplete", str(exc)
        if self.recorder.late:
            # A helper thread the run gave up on (detach, app stop) finished after the close.
            extra["late_events_dropped"] = dict(self.recorder.late)
        self.recorder.write_manifest(
            ended_at=iso(now), t_end=now, status=status, incomplete_reason=reason,
            degraded=degraded,
            clock=instrumenter.clock.to_json() if instrumenter else None,
            coverage=instrumenter.coverage if instrumenter else {},
            files=self.recorder.file_hashes(), **extra)


def _private_file(path: Path, text: str) -> Path:
    """``text`` in a file only this user can read (0600), replaced atomically: for secrets
    the run needs on disk but the bundle must not hold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return path.resolve()
