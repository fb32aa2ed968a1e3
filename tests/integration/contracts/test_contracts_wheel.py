"""casemesh-contracts on its own: build the wheel, install it into a clean virtualenv with nothing
but pydantic, and build, send through the wire format and decode a message of every type there.

This is how CI builds the wheel (``make test`` runs it); ``make contracts-wheel`` builds the same
one into build/contracts/dist. pydantic comes from the package index pip is configured with (or its
cache), at the version the mesh pins.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pydantic

REPO = Path(__file__).resolve().parents[3]

IN_THE_CLEAN_VENV = r"""
import importlib.metadata as md, importlib.util, json, sys
from datetime import UTC, datetime

import contracts
from contracts import Envelope, decode_payload, topic_of
from contracts.catalogue import ALL_MESSAGES
from contracts.export import asyncapi_document, example_payload, message_schema

assert "site-packages" in contracts.__file__, contracts.__file__
for other in ("kit", "services", "casemesh", "faststream", "aiokafka", "pymongo", "jinja2"):
    assert importlib.util.find_spec(other) is None, f"{other} is installed"
requires = md.requires("casemesh-contracts") or []
assert [r.split(";")[0].replace(" ", "") for r in requires] == ["pydantic<3,>=2.9"], requires
assert md.version("casemesh-contracts") == contracts.__version__

now = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
for cls in ALL_MESSAGES:
    message = cls.build(**example_payload(cls))  # plain values, the wire's rules
    envelope = Envelope.wrap(message, csid="123456789", producer="upstream", occurred_at=now)
    decoded = decode_payload(Envelope.from_bytes(envelope.to_bytes()), topic_of(cls))
    assert decoded == message, cls.MESSAGE_TYPE
    assert message_schema(cls)["x-message-type"] == cls.MESSAGE_TYPE
assert asyncapi_document("upstream")["asyncapi"] == "3.0.0"
print(json.dumps({"messages": len(ALL_MESSAGES), "version": contracts.__version__}))
"""


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, check=False, cwd=cwd, timeout=300)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


def test_the_contracts_wheel_installs_alone_and_builds_every_message_type(tmp_path: Path) -> None:
    source = tmp_path / "src" / "contracts"
    shutil.copytree(
        REPO / "contracts", source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    )
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source))
    (wheel,) = dist.glob("casemesh_contracts-*-py3-none-any.whl")

    clean = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(clean)
    python = clean / "bin" / "python"
    _run(
        sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
        str(wheel), f"pydantic=={pydantic.VERSION}",
    )  # fmt: skip
    result = _run(str(python), "-I", "-c", IN_THE_CLEAN_VENV, cwd=tmp_path)
    from contracts.catalogue import ALL_MESSAGES
    from contracts.version import __version__

    assert f'"messages": {len(ALL_MESSAGES)}' in result.stdout
    assert wheel.name == f"casemesh_contracts-{__version__}-py3-none-any.whl"
