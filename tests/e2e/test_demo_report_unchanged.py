"""Writing the services in one style changed no behaviour: the demo tells the same day (issue 14).

``demo_report.json`` is the embedded demo's JSON report from the commit before the services were
rewritten (8c7dfe7), timings left out. Within one step, events of different services arrive in
an order that varies from run to run (it did before the rewrite too), so each step's events are
compared as a sorted list; everything else is compared as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from casemesh.demo.main import mesh_config, run_demo

BEFORE = Path(__file__).with_name("demo_report.json")


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    report = {k: v for k, v in report.items() if k != "timings_s"}
    for story in report["stories"]:
        for step in story["steps"]:
            step["events"] = sorted(step["events"], key=lambda e: json.dumps(e, sort_keys=True))
    return report


async def test_the_demo_report_is_the_same_as_before_the_services_were_rewritten() -> None:
    report = (await run_demo(mesh_config(None, None), mode="embedded")).to_json()
    before = json.loads(BEFORE.read_text())
    assert comparable(json.loads(json.dumps(report))) == comparable(before)
