"""``consentry run``: one scripted session against an app on a device (or a local process)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.capture.proxy import MODES, WIREGUARD_PORT
from harness.commands.common import (
    add_session_arguments,
    categories,
    default_out,
    print_result,
    terminate_as_exit,
)
from harness.device.wireguard import EMULATOR_HOST
from harness.errors import ConfigError, DeviceLost
from harness.scenario.loader import builtin_names, load_scenario
from harness.session import Session, SessionOptions, SessionResult
from harness.targets.base import AppSpec, Target

#: Exit status when the device went away mid-run: the bundle is incomplete (but analysed)
#: and the device may still be set up for the run (proxy, CA, tunnel), so a script must not
#: take it for an ordinary failure (1) nor start the next run on that device blindly.
EXIT_DEVICE_LOST = 4

EPILOG = f"""exit status:
  0  the run ended (its status is in manifest.json)    1  it failed (the message says why)
  2  usage error    {EXIT_DEVICE_LOST}  the device was lost mid-run    130  interrupted
on {EXIT_DEVICE_LOST} the bundle is kept, analysed and marked incomplete; its manifest has
device_lost (cause, during) and not_restored (each change left on the device and the command
that undoes it, also printed); events.jsonl has device.lost and device.not_restored."""

if TYPE_CHECKING:
    from harness.targets.android import AndroidTarget
    from harness.targets.local import LocalTarget


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run", help="run a scenario against an app and write the evidence bundle",
        description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", help="Android package name (e.g. com.example.app)")
    parser.add_argument("--apk", type=Path, help="install this APK first")
    parser.add_argument("--scenario", default="accept",
                        help=f"built-in scenario ({', '.join(builtin_names())}) or a YAML path")
    parser.add_argument("--target", choices=["android", "local"], default="android")
    parser.add_argument("--serial", help="adb serial (default: ANDROID_SERIAL, or the only "
                        "attached device)")
    parser.add_argument("--command", help="local target: the command line to start")
    parser.add_argument("--no-clear", action="store_true",
                        help="keep the app's data (default: pm clear before the run)")
    parser.add_argument("--capture", choices=MODES, default="regular",
                        help="regular: the device's proxy setting (default); wireguard: a "
                        "WireGuard tunnel to mitmdump, for apps that ignore the proxy (android; "
                        "the WireGuard app must be installed, set up itself with root)")
    parser.add_argument("--wireguard-endpoint", metavar="HOST",
                        help="wireguard capture: this machine's address as the device reaches "
                        f"it (default on emulators: {EMULATOR_HOST}; required on real devices)")
    parser.add_argument("--wireguard-port", type=int, default=WIREGUARD_PORT, metavar="PORT",
                        help=f"wireguard capture: UDP port of the server "
                        f"(default {WIREGUARD_PORT})")
    add_session_arguments(parser)
    parser.set_defaults(handler=run_session, usage=parser.error)


def target_class(name: str) -> type[AndroidTarget] | type[LocalTarget]:
    if name == "android":
        from harness.targets.android import AndroidTarget

        return AndroidTarget
    from harness.targets.local import LocalTarget

    return LocalTarget


def capture_usage_error(args: argparse.Namespace) -> str | None:
    """Why the capture options do not fit the target (a usage error), or None."""
    modes = target_class(args.target).capture_modes
    if args.capture not in modes:
        return (f"--capture {args.capture} is not available for --target {args.target} "
                f"(it supports: {', '.join(modes)})")
    if args.capture != "wireguard" and args.wireguard_endpoint:
        return "--wireguard-endpoint only applies with --capture wireguard"
    if not 0 < args.wireguard_port < 65536:
        return f"--wireguard-port {args.wireguard_port}: not a UDP port (1-65535)"
    return None


def make_target(args: argparse.Namespace) -> tuple[Target, AppSpec]:
    if args.target == "android":
        from harness.targets.android import AndroidTarget

        if args.apk is not None and not args.apk.is_file():
            raise ConfigError(f"--apk {args.apk}: no such file")
        return (AndroidTarget(args.serial, wireguard_endpoint=args.wireguard_endpoint),
                AppSpec(package=args.package, apk=args.apk))
    from harness.targets.local import LocalTarget

    if not args.command:
        raise ConfigError("--target local needs --command 'PROGRAM ARGS...' "
                          "(or try `consentry demo` for the bundled specimen app)")
    out = args.out
    return LocalTarget(log_dir=out), AppSpec(package=args.package,
                                             command=shlex.split(args.command))


def run_session(args: argparse.Namespace) -> int:
    problem = capture_usage_error(args)
    if problem is not None:
        args.usage(problem)  # argparse: message and exit code 2, before anything starts
    terminate_as_exit()
    scenario = load_scenario(args.scenario)
    args.out = args.out or default_out(args.package, scenario.name)
    target, app = make_target(args)
    options = SessionOptions(out=args.out, categories=categories(args.categories),
                             settle=args.settle, analyze=not args.no_analyze,
                             clear=not args.no_clear, capture=args.capture,
                             wireguard_port=args.wireguard_port,
                             script_runtime=args.script_runtime)
    try:
        result = Session(target, app, scenario, options).run()
    except DeviceLost as lost:
        if isinstance(lost.result, SessionResult):
            print_result(lost.result)  # what was captured before the loss, judged
        print(f"consentry: device lost: {lost}", file=sys.stderr)
        return EXIT_DEVICE_LOST
    print_result(result)
    return 0
