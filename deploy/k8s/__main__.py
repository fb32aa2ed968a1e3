"""``python -m deploy.k8s generate [--check]`` writes (or checks) the generated manifests;
``python -m deploy.k8s render dev|production|base`` prints what ``kubectl apply -k`` would apply."""

from __future__ import annotations

import argparse
import sys

from deploy.k8s.manifests import BASE, HERE, OVERLAYS, generated_files
from deploy.k8s.render import build, render


def generate(check: bool) -> int:
    stale = []
    for path, text in generated_files().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.relative_to(HERE.parents[1]))
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if check else 'wrote'}: {path}")
    return 1 if check and stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.k8s", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("generate", help="write the manifests that follow from the code")
    made.add_argument("--check", action="store_true", help="only say which are out of date (exit 1)")
    shown = commands.add_parser("render", help="print an overlay's resources as kustomize would")
    shown.add_argument("overlay", choices=[*OVERLAYS, "base"])
    args = parser.parse_args(argv)
    if args.command == "generate":
        return generate(args.check)
    directory = BASE if args.overlay == "base" else OVERLAYS[args.overlay].directory
    sys.stdout.write(render(build(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
