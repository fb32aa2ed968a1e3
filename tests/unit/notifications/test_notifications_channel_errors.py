"""Issue 18: a receipt notifications cannot read is answered to its channel on the channel-errors
topic — the ids that could be read, the reason code and the fields at fault, never a value."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.catalogue.channels import Channel, DeliveryReceipted, DeliveryStatus
from contracts.envelope import Envelope
from contracts.topics import CHANNEL_ERRORS_TOPIC, RECEIPTS_TOPIC, TOPICS, commands_topic
from kit.codec import decode
from kit.errors import Malformed
from kit.processing import DeadLetter, Incoming
from services.notifications.channel_errors import channel_error_answer
from services.notifications.settings import NotificationsSettings

NOW = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)
SUFFIX = ".tunit"
SETTINGS = NotificationsSettings(topic_suffix=SUFFIX)
DELIVERY_ID = uuid.UUID("3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d")
SECRET = "Handset of Jordan Lee, 0412345678"


def receipt_bytes(**payload_changes: Any) -> bytes:
    receipt = DeliveryReceipted(
        delivery_id=DELIVERY_ID, attempt=2, channel=Channel.SMS, status=DeliveryStatus.DELIVERED
    )
    envelope = Envelope.wrap(receipt, csid="123456789", producer="channel-sms", occurred_at=NOW)
    document = json.loads(envelope.to_bytes())
    document["payload"].update(payload_changes)
    return json.dumps(document).encode()


def dead_letter(value: bytes, topic: str = RECEIPTS_TOPIC) -> DeadLetter:
    """The dead letter the kit makes of ``value`` read from ``topic`` (its own decoder's reason)."""
    incoming = Incoming(topic=topic + SUFFIX, partition=3, offset=41, key=b"123456789", value=value)
    try:
        decode(value, TOPICS[topic], max_bytes=262144, max_depth=32)
    except Malformed as exc:
        return DeadLetter.of(incoming, exc.reason_code, exc.reason, "Malformed", 512 * 1024)
    raise AssertionError("the record is readable")


def answered(letter: DeadLetter) -> tuple[str, bytes | None, dict[str, Any], dict[str, str]]:
    found = channel_error_answer(SETTINGS)(letter, NOW)
    assert found is not None
    topic, key, value, headers = found
    return topic, key, json.loads(value), headers


def test_a_receipt_with_an_unknown_status_is_answered_naming_its_delivery_and_field_but_no_value() -> None:
    letter = dead_letter(receipt_bytes(status="LOST_IN_SPACE", detail=SECRET))
    topic, key, answer, headers = answered(letter)
    assert topic == CHANNEL_ERRORS_TOPIC + SUFFIX and key == b"channel-sms"
    assert headers == {"message-type": "ReceiptDeadLettered", "schema-version": "1"}
    assert answer["delivery_id"] == str(DELIVERY_ID) and answer["attempt"] == 2 and answer["channel"] == "SMS"
    assert answer["message_type"] == "DeliveryReceipted" and answer["producer"] == "channel-sms"
    assert answer["reason_code"] == "schema_violation"
    assert answer["problems"] == [{"field": "payload.status", "error": "enum"}]
    assert (answer["original_topic"], answer["original_partition"], answer["original_offset"]) == (
        RECEIPTS_TOPIC + SUFFIX,
        3,
        41,
    )
    text = json.dumps(answer)
    assert "LOST_IN_SPACE" not in text and "0412345678" not in text and "Jordan" not in text


def test_a_receipt_that_is_not_json_is_answered_with_its_coordinates_and_reason_and_no_key() -> None:
    _, key, answer, _ = answered(dead_letter(b"delivered: " + SECRET.encode()))
    assert key is None
    assert answer["reason_code"] == "not_json" and answer["problems"] == []
    assert answer["delivery_id"] is None and answer["message_id"] is None
    assert "0412345678" not in json.dumps(answer)


def test_a_receipt_whose_envelope_is_broken_names_the_envelope_fields_at_fault() -> None:
    document = json.loads(receipt_bytes())
    document["csid"] = "not a csid"
    _, _, answer, _ = answered(dead_letter(json.dumps(document).encode()))
    assert answer["reason_code"] == "malformed_envelope"
    assert {"field": "csid", "error": "string_pattern_mismatch"} in answer["problems"]
    assert answer["delivery_id"] == str(DELIVERY_ID), "what could be read is still named"
    assert "not a csid" not in json.dumps(answer)


def test_a_phone_outcome_that_cannot_be_read_is_answered_as_the_phone_channels() -> None:
    document = json.loads(receipt_bytes())
    document["message_type"] = "PhoneTaskOutcomeReported"
    document["payload"] = {"delivery_id": str(DELIVERY_ID), "attempt": 1, "outcome": "MAYBE"}
    _, _, answer, _ = answered(dead_letter(json.dumps(document).encode()))
    assert answer["channel"] == "PHONE" and answer["attempt"] == 1
    assert {"field": "payload.outcome", "error": "enum"} in answer["problems"]


def test_a_dead_letter_from_another_topic_is_not_answered_to_the_channels() -> None:
    letter = dead_letter(b"{", topic=commands_topic("notifications"))
    assert channel_error_answer(SETTINGS)(letter, NOW) is None


def test_a_minimal_dead_letter_is_still_answered_with_its_coordinates() -> None:
    letter = dead_letter(receipt_bytes(status="LOST")).minimal()
    _, key, answer, _ = answered(letter)
    assert key is None and answer["reason_code"] == "schema_violation" and answer["problems"] == []
