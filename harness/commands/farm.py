"""``consentry farm``: nightly runs over many devices, queued on Celery (Redis broker),
results in SQL (SQLite by default, PostgreSQL by URL), compared night to night.

    consentry farm worker --serial emulator-5554      # one per device, leave running
    consentry farm submit --night 2026-11-29 --apps apps.yaml
    consentry farm status --night 2026-11-29
    consentry farm diff --night 2026-11-29            # against the night before; exit 0/1/2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError

DEFAULT_BROKER = "redis://localhost:6379/0"
DEFAULT_RUNS = Path("consentry-runs") / "farm"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "farm", help="queue runs over many devices (Celery + Redis), results in SQL, "
        "night-to-night diffs", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="farm_command", metavar="FARM_COMMAND", required=True)

    submit = sub.add_parser("submit", help="queue one job per app of apps.yaml for a night")
    submit.add_argument("--night", required=True, help="night label, e.g. 2026-11-29")
    submit.add_argument("--apps", required=True, type=Path,
                        help="YAML list of apps: package, apk, scenario, target, options")
    submit.add_argument("--device", metavar="SERIAL",
                        help="queue for this device only (default: whichever is free)")
    _broker(submit)
    _storage(submit)
    submit.set_defaults(handler=handle_submit)

    worker = sub.add_parser("worker", help="run a Celery worker for one device (blocks)")
    worker.add_argument("--serial", required=True,
                        help="adb serial of the device this worker drives (local target: "
                        "any name)")
    worker.add_argument("--loglevel", default="INFO", help="Celery log level (default INFO)")
    worker.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                        help="stop a session after this long, keeping its bundle (default "
                        "2 h; must stay under the broker's 6 h visibility timeout)")
    _broker(worker)
    _storage(worker)
    worker.set_defaults(handler=handle_worker)

    status = sub.add_parser("status", help="the runs of a night, from the store")
    status.add_argument("--night", required=True)
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _storage(status)
    status.set_defaults(handler=handle_status)

    diff = sub.add_parser(
        "diff", help="compare a night with the previous one, app by app",
        description="Nights are ordered by their label compared as text (ISO dates sort by "
        "date). Each app is compared with its latest usable run of --against or, when that "
        "night has none (failed, not submitted, bundle gone), of the latest earlier night "
        "that has one. Exit status: 0 no new finding and no lost or missing run; 1 new "
        "findings, a run that lost evidence, failed or cannot be read, an app missing "
        "tonight, or an app with findings and no usable earlier run at all (a new app "
        "included: its findings were never seen pass); 2 usage error (unknown night, no "
        "night to compare against, --against not earlier than --night).")
    diff.add_argument("--night", required=True)
    diff.add_argument("--against", metavar="NIGHT",
                      help="compare with this night, which must sort before --night "
                      "(default: the night just before it)")
    diff.add_argument("--json", action="store_true", help="print JSON instead of text")
    _storage(diff)
    diff.set_defaults(handler=handle_diff)


def _broker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", default=os.environ.get("CONSENTRY_BROKER", DEFAULT_BROKER),
                        help=f"Celery broker URL (default: CONSENTRY_BROKER or {DEFAULT_BROKER})")


def _storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=Path,
                        default=Path(os.environ.get("CONSENTRY_FARM_RUNS", DEFAULT_RUNS)),
                        help="folder of the run bundles, one sub-folder per night (default: "
                        f"CONSENTRY_FARM_RUNS or {DEFAULT_RUNS})")
    parser.add_argument("--db", default=os.environ.get("CONSENTRY_FARM_DB"),
                        help="result store URL: sqlite:///PATH or postgresql://USER@HOST/DB "
                        "(default: CONSENTRY_FARM_DB or sqlite:///<runs>/farm.db)")


def _store(args: argparse.Namespace) -> Any:
    from harness.farm.store import FarmStore, default_url

    args.runs = args.runs.resolve()
    return FarmStore(args.db or default_url(args.runs))


def handle_submit(args: argparse.Namespace) -> int:
    from harness.farm.celery_app import make_app, submit
    from harness.farm.spec import load_apps

    specs = load_apps(args.apps, args.night)
    store, app = _store(args), make_app(args.broker)
    for index, spec in enumerate(specs, 1):
        job_id = submit(app, store, spec, args.device)
        print(f"[{index}/{len(specs)}] queued {spec.package} [{spec.scenario}, {spec.target}] "
              f"job {job_id}", file=sys.stderr)
    print(f"night {args.night}: {len(specs)} job(s) queued on "
          f"{args.device or 'the pool'}; follow with `consentry farm status --night "
          f"{args.night}`")
    return 0


def handle_worker(args: argparse.Namespace) -> int:
    from harness.farm.celery_app import SESSION_TIME_LIMIT, make_app, shown_broker
    from harness.farm.store import default_url
    from harness.farm.worker import argv_for, env_for

    runs = args.runs.resolve()
    runs.mkdir(parents=True, exist_ok=True)
    db = args.db or default_url(runs)
    store = _store(args)  # a bad --db or --broker fails here, not in the first job
    store.close()
    limit = SESSION_TIME_LIMIT if args.time_limit is None else args.time_limit
    make_app(args.broker, time_limit=limit)
    print(f"farm worker for {args.serial}: broker {shown_broker(args.broker)}, store "
          f"{store.shown}, runs {runs}, session time limit {limit:g} s",
          file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # a fresh process without frida loaded (see harness.farm.worker); same pid, so a
    # supervisor's SIGTERM still reaches the worker; URLs through the environment, not argv
    argv = argv_for(args.serial, runs, args.loglevel, limit)
    os.execve(argv[0], argv, env_for(args.broker, db))


def _seconds(value: float | None) -> str:
    return f"{value:.0f}s" if value is not None else "-"


def handle_status(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = store.runs_of(args.night)
    if not rows:
        raise ConfigError(f"night {args.night}: no job in {store.url}; known nights: "
                          f"{', '.join(store.night_names()) or 'none'}")
    if args.json:
        doc = [{"job_id": r.job_id, **r.spec.to_json(), "device": r.device, "status": r.status,
                "error": r.error, "bundle": r.bundle, "attempts": r.attempts,
                "history": r.history, "queued": r.queued, "started": r.started,
                "finished": r.finished, "findings": store.findings_of(r.job_id)}
               for r in rows]
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return 0
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
        running = time.time() - r.started if r.status == "running" and r.started else None
        took = _seconds(r.seconds if running is None else running)
        print(f"{r.status:<10} {r.spec.package} [{r.spec.scenario}, {r.spec.target}]  "
              f"device {r.device or '-'}  {took}  {r.findings} finding(s)  "
              f"{r.bundle or ''}")
        if r.error:
            print(f"           {r.error}")
        for earlier in r.history:
            print(f"           attempt {earlier['attempt']} on {earlier['device']}: "
                  f"{earlier['status']} {earlier['bundle']}")
    print(f"night {args.night}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 0


def handle_diff(args: argparse.Namespace) -> int:
    from harness.farm.nightdiff import EXIT_USAGE, night_diff, render

    try:
        store = _store(args)
        nights = store.night_names()
        if args.night not in nights:
            raise ConfigError(f"night {args.night}: unknown; known: {', '.join(nights) or 'none'}")
        against = args.against or store.previous_night(args.night)
        if against is None or against not in nights:
            why = (f"--against {args.against} is unknown" if args.against
                   else "it is the first night")
            raise ConfigError(f"night {args.night}: nothing to compare against ({why})")
        if not against < args.night:
            raise ConfigError(f"--against {against} is not earlier than {args.night} "
                              "(nights are ordered by label, compared as text)")

        def progress(index: int, total: int, identity: tuple[str, str, str]) -> None:
            print(f"[{index}/{total}] analysing {identity[0]} [{identity[1]}]",
                  file=sys.stderr)

        diff = night_diff(store, args.night, against, progress)
    except HarnessError as exc:
        # not 1, which a nightly job reads as "look at tonight"
        print(f"consentry: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(json.dumps(diff.to_json(), ensure_ascii=False, indent=2,
                                    sort_keys=True) + "\n")
    else:
        sys.stdout.write(render(diff))
    return diff.exit_code
