"""``make demo ARGS=--json`` prints the JSON report and nothing else on stdout (issue 18).

Make echoes recipes, the venv's install prints, a sub-make announces its folder: any of them on
stdout would spoil the document a machine reads. Runs the embedded demo, a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.image import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_demo_with_json_prints_only_the_json_report_on_stdout() -> None:
    # As from an operator's shell: not a sub-make of `make test`, whose flags would reach this one,
    # and with no Kafka named, so the demo is the embedded one.
    outside = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CASEMESH_KAFKA_BOOTSTRAP_SERVERS", "CASEMESH_MONGODB_URL"}
    env = {name: value for name, value in os.environ.items() if name not in outside}
    shown = subprocess.run(
        ["make", "demo", "ARGS=--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    report = json.loads(shown.stdout)
    assert report["ok"] is True
    assert report["mode"] == "embedded"
