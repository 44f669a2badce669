"""``consentry demo``: the whole pipeline on the bundled specimen app, no device needed.

Real Frida, the real agent, a real mitmdump with TLS interception, and a local HTTPS
"tracker" standing in for alog.umeng.com (the proxy sends that host to it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.common import (
    add_session_arguments,
    categories,
    default_out,
    print_result,
    terminate_as_exit,
)
from harness.instrument.frida_adapter import ScriptRuntime
from harness.scenario.loader import load_scenario
from harness.session import Session, SessionOptions, SessionResult


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline on the bundled specimen app (no device needed)",
        description=__doc__)
    parser.add_argument("--scenario", default="accept",
                        help="built-in scenario name or a YAML path (default: accept)")
    parser.add_argument("--variant", default="default",
                        choices=["default", "notice", "second-layer", "permissions"],
                        help="specimen variant: the normal dialog, a pre-ticked notice, a "
                        "second layer after refusal, or a runtime-permission dialog")
    add_session_arguments(parser)
    parser.set_defaults(handler=run_demo)


def demo_session(scenario_name: str, out: Path, *, variant: str = "default",
                 settle: float = 2.0, analyze: bool = True,
                 category_filter: set[str] | None = None,
                 script_runtime: ScriptRuntime = "qjs") -> SessionResult:
    from harness.specimen.setup import specimen_with_tracker
    from harness.targets.local import LocalTarget

    scenario = load_scenario(scenario_name)
    with specimen_with_tracker(variant) as specimen:
        options = SessionOptions(
            out=out, categories=category_filter, settle=settle, analyze=analyze,
            resolve=specimen.resolve,
            ssl_insecure=True,  # only the proxy's upstream leg to the local tracker
            script_runtime=script_runtime,
        )
        return Session(LocalTarget(log_dir=out), specimen.app, scenario, options).run()


def run_demo(args: argparse.Namespace) -> int:
    terminate_as_exit()
    out = args.out or default_out("specimen", Path(args.scenario).stem)
    result = demo_session(args.scenario, out, variant=args.variant, settle=args.settle,
                          analyze=not args.no_analyze, category_filter=categories(args.categories),
                          script_runtime=args.script_runtime)
    print_result(result)
    return 0
