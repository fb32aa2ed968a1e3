"""Issue 16: personal data stays out of logs and dead-letter headers.

A canary value stands in for a customer's surname. It is sent through every lane of the complaints
service on the real broker and store — applied, duplicate, refused by a rule, refused for want of
a verified identity, and dead-lettered for each reason the kit can read off the bytes — in values,
field names, message types, keys and headers. Afterwards no log line of any logger at any level,
no dead-letter header, no dead-letter announcement and no refusal's reason holds it.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from contracts.catalogue.complaints import FinaliseComplaint
from contracts.envelope import IDENTITY_HEADER
from contracts.topics import REJECTIONS_TOPIC, commands_topic, deadletter_topic, events_topic
from kit.identity import development_token
from kit.logs import configure
from services.complaints.app import create_runtime
from services.complaints.settings import ComplaintsSettings
from tests.conftest import Infra
from tests.support import Mesh, envelope
from tests.unit.complaints.helpers_complaints import CSID, OFFICER, an_id, record_complaint

CANARY = "Qzxwvbnmcanary"
COMMANDS = commands_topic("complaints")
EVENTS = events_topic("complaints")
DEAD_LETTERS = deadletter_topic("complaints")


class Everything(logging.Handler):
    """Every record of every logger, formatted with its exception and stack, if any."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = [record.getMessage(), json.dumps(getattr(record, "fields", {}), default=str)]
        if record.exc_info:
            text.append("".join(traceback.format_exception(*record.exc_info)))
        self.lines.append(" ".join(text))


@pytest.fixture
def logs() -> Iterator[Everything]:
    """Every logger at DEBUG, as an operator might set the root logger; the kit keeps the client
    libraries that quote records (aiokafka, pymongo) at INFO (kit/logs.py)."""
    handler = Everything()
    names = ["", "casemesh", "casemesh.broker", "faststream", "uvicorn", "aiokafka", "pymongo"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    configure(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    m = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    yield m
    await m.close()


def _command(**payload_changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(envelope(record_complaint(an_id(CANARY)), CSID).to_bytes())
    body["payload"].update(payload_changes)
    return body


def _bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def test_no_log_line_or_dead_letter_header_carries_a_payload_value_whatever_the_lane(
    mesh: Mesh, logs: Everything
) -> None:
    await mesh.start(create_runtime(mesh.settings(ComplaintsSettings, max_message_bytes=64 * 1024)))
    applied = envelope(record_complaint(an_id("canary complaint")), CSID)
    body = json.loads(applied.to_bytes())
    body["payload"]["details"] = f"Customer {CANARY} says the call-back was not made."
    applied_bytes = _bytes(body)
    await mesh.send(COMMANDS, applied_bytes, key=CSID)  # applied
    await mesh.send(COMMANDS, applied_bytes, key=CSID)  # duplicate
    refused = envelope(FinaliseComplaint(actor=OFFICER, complaint_id=an_id(CANARY)), CSID)
    await mesh.send(COMMANDS, refused, key=CSID)  # refused by a rule (no such complaint)
    await mesh.send(COMMANDS, _bytes(_command(details=CANARY)), key=CSID, headers={})  # unauthenticated
    await mesh.send(
        COMMANDS,
        _bytes(_command(details=CANARY)),
        key=CSID,
        headers={IDENTITY_HEADER: CANARY.encode()},
    )  # a header value that is not a token
    stranger = development_token(CANARY, ["CSO"])
    await mesh.send(
        COMMANDS, _bytes(_command(details=CANARY)), key=CSID, headers={IDENTITY_HEADER: stranger.encode()}
    )  # actor mismatch
    dead = {
        "not_json": f'{{"surname": "{CANARY}"'.encode(),
        "not_utf8": CANARY.encode() + b"\xff\xfe",
        "malformed_envelope": _bytes({**_command(), "message_id": CANARY}),
        "unknown_message_type": _bytes({**_command(), "message_type": CANARY}),
        "schema_violation (value)": _bytes(_command(level=CANARY)),
        "schema_violation (field name)": _bytes(_command(**{CANARY: "x"})),
        "too_deep": ('{"a":' * 40 + f'"{CANARY}"' + "}" * 40).encode(),
        "too_large": _bytes(_command(details=CANARY * 6000)),
    }
    for value in dead.values():
        await mesh.send(COMMANDS, value, key=CSID)
    await mesh.send(COMMANDS, _bytes(_command(details="x")), key=CANARY)  # key_mismatch
    letters = await mesh.read(DEAD_LETTERS, len(dead) + 1)
    events = await mesh.read(EVENTS, 5)
    announcements = await mesh.read(REJECTIONS_TOPIC, len(dead) + 1)

    reasons = {dict(r.headers)["x-reason-code"].decode() for r in letters}
    assert reasons == {
        "not_json",
        "not_utf8",
        "malformed_envelope",
        "unknown_message_type",
        "schema_violation",
        "too_deep",
        "too_large",
        "key_mismatch",
    }
    headers = [f"{name}={value!r}" for r in letters for name, value in r.headers]
    assert [h for h in headers if CANARY.encode() in h.encode()] == []
    assert [r.value for r in announcements if CANARY.encode() in r.value] == []
    refusals = [json.loads(r.value)["payload"] for r in events]
    refusal_reasons = [p["reason"] for p in refusals if "reason_code" in p]
    assert len(refusal_reasons) == 4
    assert [r for r in refusal_reasons if CANARY in r] == []
    assert sorted(p["reason_code"] for p in refusals if "reason_code" in p) == [
        "ACTOR_MISMATCH",
        "UNAUTHENTICATED",
        "UNAUTHENTICATED",
        "UNKNOWN_COMPLAINT",
    ]
    assert logs.lines, "the run logged nothing: the canary check would prove nothing"
    assert [line for line in logs.lines if CANARY in line] == []
