"""The image's install step, without Docker: the demo runs from what it installs, outside the checkout.

The Dockerfile's build-stage ``RUN`` runs as written in a copy of the build context (``.dockerignore``
applied), with a temporary venv in place of ``/opt/casemesh``; the dependencies come from PyPI, as
in the image build (about 30 s). The demo then runs from that venv in a folder outside the
checkout, so neither the sources nor the repository's venv can stand in for the installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.image import ROOT, copy_context, stages

#: Every module of the services, the CLI and the broker's deploy jobs (python -m deploy.kafka): the
#: image's commands other than the demo and the bench, whose modules (and tools built on them) need rich.
IMPORT_ALL_BUT_THE_DEMO = """
import importlib, pkgutil, sys
for top in ("contracts", "kit", "services", "casemesh", "deploy.kafka"):
    for module in pkgutil.walk_packages(importlib.import_module(top).__path__, top + "."):
        if not module.name.startswith(("casemesh.demo", "casemesh.bench", "kit.memory")):
            importlib.import_module(module.name)
print(sorted({"rich", "mongomock", "typer"} & set(sys.modules)))
"""


def clean_environment() -> dict[str, str]:
    """The environment without anything that points Python at the checkout or its venv, or the demo
    at a Kafka (it is the embedded demo that must work in the image)."""
    outside = {"PYTHONPATH", "VIRTUAL_ENV", "CASEMESH_KAFKA_BOOTSTRAP_SERVERS", "CASEMESH_MONGODB_URL"}
    env = {name: value for name, value in os.environ.items() if name not in outside}
    # `python` and `pip` as the Dockerfile's RUN names them: here the repository venv's, which
    # install into the other venv only (pip --python).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("context")
    copy_context(context)
    target = tmp_path_factory.mktemp("image") / "casemesh"
    (install,) = stages()[0].arguments("RUN")
    subprocess.run(
        ["sh", "-c", install.replace("/opt/casemesh", str(target))],
        cwd=context,
        env=clean_environment(),
        check=True,
        capture_output=True,
        timeout=240,
    )
    return target


def run(venv: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = clean_environment()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_demo_runs_from_the_installed_wheels_in_a_folder_outside_the_checkout(
    venv: Path, tmp_path: Path
) -> None:
    shown = run(venv, tmp_path, "casemesh", "demo", "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    report = json.loads(shown.stdout)
    assert report["ok"] is True
    assert report["mode"] == "embedded"

    where = run(
        venv, tmp_path, "python", "-c", "import casemesh, contracts, deploy; print(casemesh.__file__)"
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)


def test_without_the_demo_extra_every_service_module_imports_and_a_memory_store_says_what_to_install(
    venv: Path, tmp_path: Path
) -> None:
    python = str(venv / "bin" / "python")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "uninstall", "-q", "-y", "rich", "mongomock"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    imported = run(venv, tmp_path, "python", "-c", IMPORT_ALL_BUT_THE_DEMO)
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert imported.stdout.strip() == "[]"

    opened = run(
        venv,
        tmp_path,
        "python",
        "-c",
        "from kit.twin import memory_database; memory_database('memory:x', 'd')",
    )
    assert "pip install 'casemesh[demo]'" in opened.stderr
