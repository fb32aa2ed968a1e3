"""The sender of an invalid message hears back on casemesh.rejections.v1 (issue 19, item 3)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from contracts.catalogue.rejections import MessageDeadLettered
from contracts.topics import REJECTIONS_TOPIC
from tests.conftest import Infra
from tests.integration.kit.test_lanes import Harness, command

DEADLETTER = "casemesh.tally.deadletter.v1"


@pytest.fixture
async def harness(infra: Infra, database_name: str) -> AsyncIterator[Harness]:
    h = Harness(infra, database_name)
    yield h
    await h.close()


async def test_a_dead_letter_is_announced_to_its_producer_by_key_without_payload_values(
    harness: Harness,
) -> None:
    await harness.start_tally()
    unknown = json.loads(command(1).to_bytes())
    unknown["message_type"] = "DoSomethingUnheardOf"
    unknown["producer"] = "upstream-billing"
    unknown["payload"] = {"secret": "Jane Citizen, 12 Example St"}
    await harness.send_command(json.dumps(unknown).encode())
    await harness.send_command(b"{ not json")

    (first, second) = await harness.read(REJECTIONS_TOPIC, 2)
    dead = await harness.read(DEADLETTER, 2)

    assert first.key == b"upstream-billing", "keyed by the producer the envelope names"
    announced = MessageDeadLettered.model_validate_json(first.value)
    assert announced.reason_code == "unknown_message_type"
    assert str(announced.message_id) == unknown["message_id"]
    # Issue 16: a type outside the catalogue is the producer's text, possibly personal data.
    assert announced.message_type is None
    assert announced.producer == "upstream-billing"
    assert announced.service == "tally"
    assert announced.deadletter_topic == harness.topic(DEADLETTER)
    letter = dict(dead[0].headers)
    assert (announced.original_topic, announced.original_partition, announced.original_offset) == (
        letter["x-original-topic"].decode(),
        int(letter["x-original-partition"]),
        int(letter["x-original-offset"]),
    )
    assert b"Jane Citizen" not in first.value
    assert dict(first.headers)["message-type"] == b"MessageDeadLettered"

    assert second.key is None, "an unreadable envelope names no producer"
    unreadable = MessageDeadLettered.model_validate_json(second.value)
    assert unreadable.reason_code == "not_json"
    assert unreadable.message_id is None and unreadable.producer is None
