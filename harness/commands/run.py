"""``consentry run``: one scripted session against an app on a device (or a local process)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from harness.commands.common import (
    add_session_arguments,
    categories,
    default_out,
    print_result,
    terminate_as_exit,
)
from harness.errors import ConfigError
from harness.scenario.loader import builtin_names, load_scenario
from harness.session import Session, SessionOptions
from harness.targets.base import AppSpec, Target


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run", help="run a scenario against an app and write the evidence bundle",
        description=__doc__)
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
    add_session_arguments(parser)
    parser.set_defaults(handler=run_session)


def make_target(args: argparse.Namespace) -> tuple[Target, AppSpec]:
    if args.target == "android":
        from harness.targets.android import AndroidTarget

        if args.apk is not None and not args.apk.is_file():
            raise ConfigError(f"--apk {args.apk}: no such file")
        return AndroidTarget(args.serial), AppSpec(package=args.package, apk=args.apk)
    from harness.targets.local import LocalTarget

    if not args.command:
        raise ConfigError("--target local needs --command 'PROGRAM ARGS...' "
                          "(or try `consentry demo` for the bundled specimen app)")
    out = args.out
    return LocalTarget(log_dir=out), AppSpec(package=args.package,
                                             command=shlex.split(args.command))


def run_session(args: argparse.Namespace) -> int:
    terminate_as_exit()
    scenario = load_scenario(args.scenario)
    args.out = args.out or default_out(args.package, scenario.name)
    target, app = make_target(args)
    options = SessionOptions(out=args.out, categories=categories(args.categories),
                             settle=args.settle, analyze=not args.no_analyze,
                             clear=not args.no_clear)
    result = Session(target, app, scenario, options).run()
    print_result(result)
    return 0
