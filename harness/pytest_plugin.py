"""pytest plugin: scripted consentry sessions in tests (entry point ``consentry``).

    def test_no_tracking_before_consent(consentry):
        run = consentry.run(steps.launch().wait(3).consent("reject").wait(5))
        run.assert_no_findings("collect-before-consent", "send-before-consent")

Fixtures: ``consentry_app`` (which app on which target; override it in a conftest),
``consentry`` (runs scenarios, one bundle directory per run), ``consentry_run`` (the run of the
scenario named by ``@pytest.mark.consentry(scenario, variant=..., **run_options)``),
``consentry_settings``.
Every option is inert until a test asks for these fixtures, and the heavy modules (Frida,
mitmproxy) are only imported then, so installing consentry does not slow other test suites.

Options resolve CLI → ini → default. The target is ``android`` when it is asked for or when
``--consentry-package``/``--consentry-apk``/``--consentry-serial`` is given, otherwise ``local``
with the bundled JVM specimen app. Bundles go to ``--consentry-output`` (default
``consentry-runs/`` under the rootdir), ``<output>/<test id>/<n>-<scenario>``; those of passing
tests are deleted unless ``--consentry-keep``, those of failing tests are always kept, named in
the failure report and recorded as the ``consentry_bundle`` JUnit property.

A run that lost evidence fails the test: ``run()`` raises ``RunIncomplete`` (or the session's
own error), it never hands back findings that only look clean.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from harness.pytest_support.apps import AppUnderTest
    from harness.pytest_support.result import ConsentryRun
    from harness.pytest_support.runner import Consentry

TargetName = Literal["local", "android"]
CaptureName = Literal["regular", "wireguard"]
DEFAULT_OUTPUT = "consentry-runs"
BUNDLE_PROPERTY = "consentry_bundle"

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_RUNNER = pytest.StashKey["Consentry"]()


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The plugin's options, resolved (``consentry_settings`` fixture)."""

    target: TargetName
    package: str | None
    apk: Path | None
    serial: str | None
    variant: str
    """Specimen variant on the local target."""
    output: Path
    capture: CaptureName
    keep: bool


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("consentry", "consentry: scripted app sessions")
    group.addoption("--consentry-target", choices=("local", "android"), default=None,
                    help="where the app runs: android (a device or emulator over adb) or local "
                    "(the bundled JVM specimen). Default: android when a package, APK or serial "
                    "is given, else local.")
    group.addoption("--consentry-serial", default=None, metavar="SERIAL",
                    help="adb serial of the device (default: ANDROID_SERIAL, or the only "
                    "attached device)")
    group.addoption("--consentry-package", default=None, metavar="PACKAGE",
                    help="package name of the Android app under test")
    group.addoption("--consentry-apk", default=None, metavar="APK",
                    help="install this APK before each run")
    group.addoption("--consentry-variant", default=None, metavar="NAME",
                    help="local target: specimen variant (default, notice, second-layer, "
                    "permissions)")
    group.addoption("--consentry-output", default=None, metavar="DIR",
                    help=f"where run bundles go (default: {DEFAULT_OUTPUT}/ under the rootdir)")
    group.addoption("--consentry-capture", choices=("regular", "wireguard"), default=None,
                    help="traffic capture: regular (proxy setting, default) or wireguard "
                    "(android only, for apps that ignore the proxy)")
    group.addoption("--consentry-keep", action="store_true", default=None,
                    help="keep the bundles of passing tests too (failing tests always keep "
                    "theirs)")
    parser.addini("consentry_target", "consentry: default target (local or android)")
    parser.addini("consentry_package", "consentry: package name of the app under test")
    parser.addini("consentry_apk", "consentry: APK to install (relative to the rootdir)")
    parser.addini("consentry_output", "consentry: bundle directory (relative to the rootdir)")
    parser.addini("consentry_capture", "consentry: capture mode (regular or wireguard)")
    parser.addini("consentry_keep", "consentry: keep bundles of passing tests", type="bool",
                  default=False)


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value and value not in allowed:
        raise pytest.UsageError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
    return value or None


def resolve_settings(config: pytest.Config) -> Settings:
    """Settings from the command line, then the ini file, then the defaults; inconsistent
    combinations are usage errors (pytest exits before collecting)."""
    opt: Callable[[str], Any] = config.getoption
    ini: Callable[[str], Any] = config.getini
    here = config.invocation_params.dir
    root = config.rootpath
    package = opt("consentry_package") or ini("consentry_package") or None
    apk_text = opt("consentry_apk")
    apk = here / apk_text if apk_text else (root / ini("consentry_apk")
                                            if ini("consentry_apk") else None)
    serial = opt("consentry_serial")
    target = opt("consentry_target") or _choice(ini("consentry_target"), ("local", "android"),
                                                "ini consentry_target")
    if target is None:
        target = "android" if (package or apk or serial) else "local"
    capture = opt("consentry_capture") or _choice(ini("consentry_capture"),
                                                  ("regular", "wireguard"),
                                                  "ini consentry_capture") or "regular"
    out_text = opt("consentry_output")
    output = here / out_text if out_text else root / (ini("consentry_output") or DEFAULT_OUTPUT)
    keep = bool(opt("consentry_keep") or ini("consentry_keep"))
    variant = opt("consentry_variant") or "default"
    if target == "android":
        if not package:
            raise pytest.UsageError(
                "--consentry-target android needs --consentry-package PACKAGE (the app's "
                "package name, e.g. com.example.app), or a consentry_app fixture of your own")
        if apk is not None and not apk.is_file():
            raise pytest.UsageError(f"--consentry-apk {apk}: no such file")
        if opt("consentry_variant"):
            raise pytest.UsageError("--consentry-variant only applies to --consentry-target "
                                    "local (the specimen app)")
    else:
        given = [name for name, value in (("--consentry-package", package),
                                          ("--consentry-apk", apk),
                                          ("--consentry-serial", serial)) if value]
        if given:
            raise pytest.UsageError(f"{', '.join(given)} only apply to --consentry-target "
                                    "android; the local target runs the bundled specimen app")
        if capture == "wireguard":
            raise pytest.UsageError("--consentry-capture wireguard needs --consentry-target "
                                    "android; the local target captures in regular mode only")
    return Settings(target="android" if target == "android" else "local", package=package,
                    apk=apk, serial=serial, variant=variant, output=output,
                    capture="wireguard" if capture == "wireguard" else "regular", keep=keep)


_SETTINGS = pytest.StashKey[Settings]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "consentry(scenario=None, *, variant=None, **run_options): the scenario "
        "the consentry_run fixture runs (with ConsentryRun.run options such as settle, "
        "allow_degraded) and the specimen variant of the default local app")
    config.stash[_SETTINGS] = resolve_settings(config)


@dataclass(frozen=True, slots=True)
class MarkerArgs:
    scenario: Any
    variant: str | None
    run_options: dict[str, Any]


def _marker_args(scenario: Any = None, *, variant: str | None = None,
                 **run_options: Any) -> MarkerArgs:
    return MarkerArgs(scenario, variant, run_options)


def marker_args(node: pytest.Item | pytest.Collector) -> MarkerArgs:
    """The closest ``@pytest.mark.consentry(...)`` of ``node``, checked against its signature."""
    marker = node.get_closest_marker("consentry")
    if marker is None:
        return MarkerArgs(None, None, {})
    try:
        return _marker_args(*marker.args, **marker.kwargs)
    except TypeError as exc:
        pytest.fail(f"@pytest.mark.consentry: {exc}; expected consentry(scenario=None, *, "
                    "variant=None, **run_options)", pytrace=False)


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[_SETTINGS]
    what = (f"{s.package} on {s.serial or 'the attached device'}" if s.target == "android"
            else f"specimen ({s.variant})")
    return f"consentry: target={s.target} app={what} output={s.output}"


@pytest.fixture(scope="session")
def consentry_settings(pytestconfig: pytest.Config) -> Settings:
    """The consentry options, resolved (CLI, then ini, then defaults)."""
    return pytestconfig.stash[_SETTINGS]


def _android_serial(settings: Settings) -> str:
    """The device to use: the option, ANDROID_SERIAL, or the one attached device; skips the
    test when there is none (like the device tests), fails when the choice is ambiguous."""
    serial = settings.serial or os.environ.get("ANDROID_SERIAL")
    if serial:
        return serial
    from harness.device.adb import attached_serials
    from harness.errors import DeviceError

    try:
        serials = attached_serials()
    except DeviceError as exc:
        pytest.skip(f"consentry: no Android device ({exc})")
    if not serials:
        pytest.skip("consentry: no Android device attached (`adb devices` lists none in state "
                    "`device`); attach one or pass --consentry-serial")
    if len(serials) > 1:
        pytest.fail(f"consentry: several devices attached ({', '.join(serials)}); pass "
                    "--consentry-serial or set ANDROID_SERIAL", pytrace=False)
    return serials[0]


@pytest.fixture
def consentry_app(request: pytest.FixtureRequest,
                  consentry_settings: Settings) -> AppUnderTest:
    """The app under test and its target, from the options: the specimen app on the local
    target (variant from ``@pytest.mark.consentry(variant=...)`` or ``--consentry-variant``),
    or ``--consentry-package`` on an Android device. Override this fixture to test something
    else (``SpecimenApp``, ``AndroidApp``, ``LocalApp`` from ``harness.pytest_support``)."""
    from harness.pytest_support.apps import AndroidApp, SpecimenApp

    s = consentry_settings
    variant = marker_args(request.node).variant
    if s.target == "local":
        return SpecimenApp(variant=variant or s.variant)
    if variant is not None:
        pytest.fail("@pytest.mark.consentry(variant=...) picks a specimen variant; it does not "
                    "apply to --consentry-target android", pytrace=False)
    assert s.package is not None  # resolve_settings made sure
    return AndroidApp(package=s.package, apk=s.apk, serial=_android_serial(s))


@pytest.fixture
def consentry(request: pytest.FixtureRequest, consentry_app: AppUnderTest,
              consentry_settings: Settings) -> Generator[Consentry]:
    """Runs scenarios against ``consentry_app``: ``consentry.run(scenario, **options)`` returns
    a ``ConsentryRun`` (findings, consent, assertion helpers). Bundles of a failing test are
    kept and named in its report."""
    from harness.pytest_support.runner import Consentry, unique_slug

    test_dir = consentry_settings.output / unique_slug(request.node.nodeid)
    # A previous session's bundles of this same test: replaced, never mixed with new ones.
    shutil.rmtree(test_dir, ignore_errors=True)
    runner = Consentry(consentry_app, test_dir, capture=consentry_settings.capture)
    request.node.stash[_RUNNER] = runner
    yield runner
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    lost = any(r.result is None or r.result.status != "complete" for r in runner.runs)
    if failed or lost or consentry_settings.keep:
        # What record_property does, without its warning under the default xunit2 family
        # (pytest still writes the property into the JUnit XML).
        request.node.user_properties.extend((BUNDLE_PROPERTY, str(record.dir))
                                            for record in runner.runs)
    elif test_dir.exists():
        shutil.rmtree(test_dir)


@pytest.fixture
def consentry_run(request: pytest.FixtureRequest, consentry: Consentry) -> ConsentryRun:
    """The run of the scenario named by ``@pytest.mark.consentry(scenario, **run_options)``."""
    args = marker_args(request.node)
    if args.scenario is None:
        pytest.fail("consentry_run needs @pytest.mark.consentry(scenario=...) on the test "
                    "(or use the consentry fixture: consentry.run(scenario))", pytrace=False)
    return consentry.run(args.scenario, **args.run_options)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                        pytest.TestReport]:
    # Kept per phase so the fixture's teardown knows whether the test failed (the pattern
    # playwright-pytest uses to retain artifacts only on failure).
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    runner = item.stash.get(_RUNNER, None)
    # Runs happen in the call, or in setup through consentry_run.
    if runner is not None and runner.runs and report.failed and report.when != "teardown":
        report.sections.append(("consentry runs",
                                "\n\n".join(r.summary() for r in runner.runs)))
    return report
