from __future__ import annotations

from typing import get_args

import pytest
from helpers_contracts import CSID, NOW, example
from pydantic import TypeAdapter, ValidationError

from contracts.base import Command, Event
from contracts.catalogue.channels import DeliveryReceipted, SmsDispatch
from contracts.catalogue.customers import RiskFlagRaised
from contracts.catalogue.referrals import AssignCustomerToPS, RecordCMP
from contracts.envelope import Envelope
from contracts.errors import UnknownMessageType
from contracts.topics import (
    CUSTOMERS_TOPIC,
    READS,
    RECEIPTS_TOPIC,
    SENDS_MESSAGES,
    SERVICES,
    TOPICS,
    TopicKind,
    commands_topic,
    deadletter_topic,
    dispatch_topic,
    events_topic,
    topic_of,
)


def test_the_six_services_are_named() -> None:
    assert SERVICES == ("referrals", "approvals", "notifications", "complaints", "contacts", "casework")


def test_each_service_has_a_commands_an_events_and_a_deadletter_topic() -> None:
    for svc in SERVICES:
        assert commands_topic(svc) == f"casemesh.{svc}.commands.v1"
        assert events_topic(svc) == f"casemesh.{svc}.events.v1"
        assert deadletter_topic(svc) == f"casemesh.{svc}.deadletter.v1"
        assert TOPICS[commands_topic(svc)].kind is TopicKind.COMMANDS
        assert TOPICS[events_topic(svc)].kind is TopicKind.EVENTS
        assert TOPICS[deadletter_topic(svc)].kind is TopicKind.DEADLETTER


def test_the_channel_receipt_and_customer_topics_are_named() -> None:
    for channel in ("sms", "email", "letter", "phone"):
        topic = TOPICS[dispatch_topic(channel)]
        assert topic.name == f"casemesh.notifications.dispatch.{channel}.v1"
        assert (topic.kind, topic.writer) == (TopicKind.DISPATCH, "notifications")
    assert dispatch_topic("SMS") == "casemesh.notifications.dispatch.sms.v1"
    assert (
        RECEIPTS_TOPIC == "casemesh.notifications.receipts.v1" and TOPICS[RECEIPTS_TOPIC].writer == "channels"
    )
    assert CUSTOMERS_TOPIC == "casemesh.customers.events.v1" and TOPICS[CUSTOMERS_TOPIC].writer == "upstream"
    # + rejections, operations audit, channel errors
    assert len(TOPICS) == 3 * len(SERVICES) + 4 + 2 + 1 + 1 + 1


def test_unknown_services_and_channels_are_refused() -> None:
    for helper in (commands_topic, events_topic, deadletter_topic):
        with pytest.raises(KeyError):
            helper("billing")
    with pytest.raises(KeyError):
        dispatch_topic("pigeon")


def test_every_events_topic_has_exactly_one_writer_and_each_writer_one_events_topic() -> None:
    events_topics = [t for t in TOPICS.values() if t.kind is TopicKind.EVENTS]
    writers = [t.writer for t in events_topics]
    assert len(writers) == len(set(writers)), writers
    assert set(writers) == {*SERVICES, "upstream", "operator"}
    for topic in events_topics:
        assert topic.writer != "any"
    for svc in SERVICES:
        assert TOPICS[events_topic(svc)].writer == svc


def test_only_command_topics_are_open_to_any_writer() -> None:
    for topic in TOPICS.values():
        assert (topic.writer == "any") == (topic.kind is TopicKind.COMMANDS), topic.name


def test_command_topics_carry_only_commands_and_other_topics_only_events() -> None:
    for topic in TOPICS.values():
        for cls in topic.messages:
            if topic.kind is TopicKind.COMMANDS:
                assert issubclass(cls, Command), (topic.name, cls.__name__)
            else:
                assert issubclass(cls, Event), (topic.name, cls.__name__)


def test_dead_letter_topics_carry_raw_records_not_envelopes() -> None:
    for svc in SERVICES:
        topic = TOPICS[deadletter_topic(svc)]
        assert topic.messages == () and topic.writer == svc
        with pytest.raises(ValueError):
            topic.union()


def test_message_class_finds_a_type_or_says_it_is_unknown() -> None:
    topic = TOPICS[commands_topic("referrals")]
    assert topic.message_class("AssignCustomerToPS") is AssignCustomerToPS
    with pytest.raises(UnknownMessageType) as caught:
        topic.message_class("RiskFlagRaised")
    assert caught.value.reason_code == "unknown_message_type"
    assert topic_of(RiskFlagRaised).name == CUSTOMERS_TOPIC
    assert topic_of("SmsDispatch").name == dispatch_topic("sms")
    with pytest.raises(UnknownMessageType):
        topic_of("NoSuchThing")


def test_a_topic_union_discriminates_on_the_message_type() -> None:
    adapter = TypeAdapter(TOPICS[commands_topic("referrals")].union())
    envelope = Envelope.wrap(example(RecordCMP), csid=CSID, producer="upstream", occurred_at=NOW)
    parsed = adapter.validate_json(envelope.to_bytes())
    assert isinstance(parsed.payload, RecordCMP)
    schema = adapter.json_schema()
    assert schema["discriminator"]["propertyName"] == "message_type"
    assert len(schema["oneOf"]) == len(TOPICS[commands_topic("referrals")].messages)


def test_a_topic_union_refuses_a_type_from_another_topic() -> None:
    adapter = TypeAdapter(TOPICS[commands_topic("referrals")].union())
    envelope = Envelope.wrap(example(DeliveryReceipted), csid=CSID, producer="channels", occurred_at=NOW)
    with pytest.raises(ValidationError):
        adapter.validate_json(envelope.to_bytes())


def test_a_single_message_topic_union_is_its_typed_envelope() -> None:
    model = TOPICS[dispatch_topic("sms")].union()
    assert get_args(model.model_fields["message_type"].annotation) == ("SmsDispatch",)
    envelope = Envelope.wrap(example(SmsDispatch), csid=CSID, producer="notifications", occurred_at=NOW)
    assert isinstance(model.model_validate_json(envelope.to_bytes()).payload, SmsDispatch)


def test_services_read_and_send_on_existing_topics() -> None:
    for svc in SERVICES:
        assert commands_topic(svc) in READS[svc]
        for name in READS[svc]:
            assert name in TOPICS
        for message_type in SENDS_MESSAGES[svc]:
            topic = topic_of(message_type)
            assert topic.kind is TopicKind.COMMANDS


def test_cross_service_requests_go_through_command_topics() -> None:
    assert topic_of("RequestApproval").name == commands_topic("approvals")
    assert topic_of("SendLetter").name == commands_topic("notifications")
    assert topic_of("SendEmail").name == commands_topic("notifications")
    assert {"ApprovalAccepted", "ApprovalRejected", "ApprovalEscalated", "DecisionRejected"} <= set(
        TOPICS[events_topic("approvals")].message_types
    )
    assert (
        events_topic("approvals") in READS["referrals"]
        and events_topic("approvals") in READS["notifications"]
    )
