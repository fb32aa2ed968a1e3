"""The ``casemesh`` command.

casemesh demo [--infra MODE] [--json]
                                the whole mesh in one process, driven through a scripted working day
casemesh contracts export DIR   JSON Schema per message type and an AsyncAPI document per service
casemesh contracts check        the contracts against their last release in git history
casemesh run SERVICE            one service until SIGTERM/SIGINT, configured by its CASEMESH_<SERVICE>_…
                                and the shared CASEMESH_… environment variables (what each docker-compose
                                container runs); --help lists the services and their settings
casemesh settings SERVICE [--json] | --doc
                                the settings SERVICE would run with, secrets masked; --doc prints
                                docs/settings.md, generated from the settings classes
casemesh rebuild SERVICE [--timeout S]
                                the service's database built again from the topics it reads, beside
                                the live one and publishing nothing, then made live (docs/rebuild.md)
casemesh bench [--infra MODE] [--quick] [--json]
                                throughput and latency of the mesh beside its raw parts
casemesh token OFFICER_ID --role ROLE [--role ROLE …] [--privilege N] [--ttl SECONDS] [--jwks]
                                an identity token signed with the DEVELOPMENT key (local runs, the
                                demo and tests; production settings refuse that key)
casemesh channel-sim --channel CHANNEL [--latency-ms MS] [--failure-rate R] [--duplicate-rate R] [--json]
                                a reference channel adapter: dispatches in, receipts out (issue 18)
casemesh dlq list|show|replay|purge …
                                the dead letters: by service, reason and age; masked or revealed;
                                replayed to their commands topic; purged — audited (docs/operators.md)
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from casemesh import channel_sim, dlq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="casemesh", description="Casemesh: the case-management mesh.")
    commands = parser.add_subparsers(dest="command", required=True)
    contracts = commands.add_parser("contracts", help="the message catalogue").add_subparsers(
        dest="action", required=True
    )
    export = contracts.add_parser("export", help="write JSON Schemas and AsyncAPI documents")
    export.add_argument("directory", type=Path)
    contracts.add_parser("check", help="check the contracts against their last release in git history")
    run = commands.add_parser(
        "run",
        help="run one service until SIGTERM or SIGINT",
        description=textwrap.fill(
            "Runs one service against the Kafka and MongoDB its CASEMESH_<SERVICE>_… environment "
            "variables name (else the shared CASEMESH_… ones). Replicas share the service's consumer "
            "group and split its partitions. SIGTERM or SIGINT drains the records in flight, commits "
            "them and exits 0.",
            width=88,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    run.add_argument("-h", "--help", action=RunHelp, help="show this help, the services and their settings")
    run.add_argument("service", metavar="SERVICE", help="the service to run, e.g. referrals")
    settings = commands.add_parser(
        "settings",
        help="print a service's effective settings, secrets masked",
        description="Prints the settings SERVICE would start with, from the environment as `casemesh run "
        "SERVICE` reads it, and the variable each came from; secrets show only whether they are set. "
        "--doc prints docs/settings.md instead (every service's settings, generated from their classes).",
    )
    settings.add_argument("service", metavar="SERVICE", nargs="?", help="e.g. referrals")
    settings.add_argument("--json", action="store_true", help="print them as JSON")
    settings.add_argument(
        "--doc", action="store_true", help="print the settings reference (docs/settings.md)"
    )
    rebuild = commands.add_parser(
        "rebuild",
        help="rebuild a service's database from the topics it reads, then switch to it",
        description="Replays every topic SERVICE reads, from the first offset, into a new database with "
        "a new consumer group (its next generation), while the live service keeps running; publishes "
        "nothing meanwhile. Once the copy has caught up and the live service has stored as much, records "
        "the new generation as live: `casemesh run SERVICE` starts on it, and running replicas stop "
        "(exit 3) for their supervisor to restart them. Settings as for `casemesh run SERVICE`. Exit "
        "status 0 when switched, 1 when not (timeout, failure), 2 for an unknown service or invalid "
        "settings. See docs/rebuild.md.",
    )
    rebuild.add_argument("service", metavar="SERVICE", help="the service to rebuild, e.g. contacts")
    rebuild.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds before giving up without switching (default 3600)",
    )
    demo = commands.add_parser(
        "demo",
        help="run the six services in one process through a scripted working day",
        description="Runs all six services in one process and drives a scripted working day through "
        "every workflow, only through the topics, then shows a timeline per customer and a summary. "
        "With no Kafka configured it needs nothing but Python (in-memory broker and stores).",
    )
    demo.add_argument(
        "--infra",
        choices=["auto", "embedded", "env", "local"],
        default="auto",
        help="embedded: in-memory broker and stores; env: the Kafka and MongoDB named by "
        "CASEMESH_KAFKA_BOOTSTRAP_SERVERS and CASEMESH_MONGODB_URL (a secured Kafka's credentials file "
        "by CASEMESH_KAFKA_SECURITY_FILE); local: start deploy/local's Kafka "
        "and FerretDB. auto (default): env when CASEMESH_KAFKA_BOOTSTRAP_SERVERS is set, else embedded",
    )
    demo.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    demo.add_argument("--log", type=Path, default=None, help="where the services' logs go")
    bench = commands.add_parser(
        "bench",
        help="measure the mesh's throughput and latency beside its raw parts",
        description="Measures raw Kafka and store rates, a naive FastStream consumer and `casemesh run "
        "complaints` (one replica, two, and on the in-memory store) end to end, in interleaved rounds; "
        "prints medians, ratios, latency and per-message costs beside the targets.",
    )
    bench.add_argument(
        "--infra",
        choices=["local", "env"],
        default="local",
        help="local (default): start deploy/local's Kafka and FerretDB; env: the Kafka and MongoDB named "
        "by CASEMESH_KAFKA_BOOTSTRAP_SERVERS and CASEMESH_MONGODB_URL (and CASEMESH_KAFKA_SECURITY_FILE)",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes and one round (a minute or two)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    bench.add_argument("--customers", type=int, default=None, help="pre-existing customers (default 1000)")
    bench.add_argument("--commands", type=int, default=None, help="timed commands per run (default 5000)")
    bench.add_argument("--repeat", type=int, default=None, help="rounds (default 3)")
    token = commands.add_parser(
        "token",
        help="issue a development identity token (never valid in production)",
        description="Prints a JWT signed with Casemesh's development key, for an officer command's "
        "x-casemesh-identity header or an endpoint's Authorization: Bearer header. Services accept it "
        "only with identity_jwks=development, which production settings refuse.",
    )
    token.add_argument("officer_id", nargs="?", help="the token's subject (the officer id)")
    token.add_argument("--role", action="append", default=[], help="a role the officer holds (repeatable)")
    token.add_argument("--privilege", type=int, choices=range(1, 6), default=None, help="privilege 1-5")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    token.add_argument("--jwks", action="store_true", help="print the development key's public JWKS instead")
    dlq.register(commands)  # casemesh dlq list|show|replay|purge (docs/operators.md)
    channel_sim.add_parser(commands)  # casemesh channel-sim: a reference channel adapter (issue 18)
    args = parser.parse_args(argv)

    if args.command in ("token", "dlq", "channel-sim"):
        own = {"dlq": dlq.run, "channel-sim": channel_sim.main}.get(args.command)
        return own(args) if own is not None else _token(parser, args)

    if args.command == "bench":
        from casemesh.bench.main import main as run_bench

        return run_bench(
            args.infra,
            quick=args.quick,
            as_json=args.json,
            customers=args.customers,
            commands=args.commands,
            repeat=args.repeat,
        )

    if args.command == "demo":
        from casemesh.demo.main import main as run_demo

        return run_demo(args.infra, as_json=args.json, log_path=args.log)

    if args.command == "settings":
        return _settings(settings, args)

    if args.command == "run":
        from casemesh.run import main as run_service  # imported here: it loads every service's stack

        return run_service(args.service)

    if args.command == "rebuild":
        if not args.timeout > 0:
            parser.error("--timeout must be more than 0 seconds")
        return _rebuild(args.service, args.timeout)

    if args.command == "contracts" and args.action == "export":
        from contracts.export import export as write

        written = write(args.directory)
        print(f"wrote {len(written)} files under {args.directory}")
        return 0
    if args.command == "contracts" and args.action == "check":
        from contracts.release import main as check_release

        return check_release(["check"])
    parser.error("unknown command")
    return 2


class RunHelp(argparse.Action):
    """``casemesh run --help``: the usual help, then the services and their settings (read only
    when asked for: loading every service's settings takes a second)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from casemesh.configuration import run_help

        parser.epilog = run_help()
        parser.print_help()
        parser.exit()


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import os

    from casemesh.configuration import render_effective, settings_doc
    from casemesh.run import RunError, load_settings
    from casemesh.services import SERVICES

    if args.doc:
        if args.service or args.json:
            parser.error("settings --doc takes no SERVICE and no --json")
        sys.stdout.write(settings_doc())
        return 0
    if not args.service:
        parser.error(f"settings needs SERVICE ({', '.join(SERVICES)}) or --doc")
    try:
        settings = load_settings(args.service)
    except RunError as error:
        print(f"casemesh settings: {error}", file=sys.stderr)
        return error.status
    print(render_effective(settings, os.environ, as_json=args.json))
    return 0


def _rebuild(service: str, timeout_s: float) -> int:
    import asyncio

    from casemesh.run import EXIT_FAILED, RunError, describe_error, load_settings
    from casemesh.services import SERVICES
    from kit.rebuild import RebuildRefused, rebuild
    from kit.transport import KafkaSecurityError

    prefix = "casemesh rebuild"
    try:
        settings = load_settings(service)
        entry = SERVICES[service]
        result = asyncio.run(
            rebuild(settings, lambda s: entry.runtime(s), timeout_s=timeout_s, progress=print)
        )
    except RunError as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return error.status
    except (RebuildRefused, KafkaSecurityError) as error:
        print(f"{prefix} {service}: refused: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # the broker or the store out of reach before a generation was claimed
        print(f"{prefix} {service}: failed: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    for line in result.summary():
        print(line)
    return 0 if result.switched else EXIT_FAILED


def _token(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import json

    from contracts.base import Role
    from kit.identity import development_jwks, development_token

    if args.jwks:
        print(json.dumps(development_jwks(), indent=2))
        return 0
    if not args.officer_id or not args.role:
        parser.error("token needs OFFICER_ID and at least one --role")
    unknown = [r for r in args.role if r not in Role.__members__ or r == Role.SYSTEM]
    if unknown:
        parser.error(f"not an officer's role: {', '.join(unknown)}")
    if not 0 < args.ttl <= 86_400:
        parser.error("--ttl must be 1-86400 seconds")
    print(development_token(args.officer_id, args.role, privilege=args.privilege, ttl_s=args.ttl))
    print("DEVELOPMENT TOKEN: signed with the development key, refused in production", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
