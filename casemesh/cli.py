"""The ``casemesh`` command.

casemesh contracts export DIR   JSON Schema per message type and an AsyncAPI document per service
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="casemesh", description="Casemesh: the case-management mesh.")
    commands = parser.add_subparsers(dest="command", required=True)
    contracts = commands.add_parser("contracts", help="the message catalogue").add_subparsers(
        dest="action", required=True
    )
    export = contracts.add_parser("export", help="write JSON Schemas and AsyncAPI documents")
    export.add_argument("directory", type=Path)
    args = parser.parse_args(argv)

    if args.command == "contracts" and args.action == "export":
        from contracts.export import export as write

        written = write(args.directory)
        print(f"wrote {len(written)} files under {args.directory}")
        return 0
    parser.error("unknown command")
    return 2


if __name__ == "__main__":
    sys.exit(main())
