"""Casemesh contracts: the envelope, the message catalogue and the topic registry.

Pydantic 2 and the standard library only — an upstream system can depend on this package alone.

    from contracts import Envelope, decode_payload, TOPICS
    from contracts.catalogue.referrals import AssignCustomerToPS
"""

from contracts.base import (
    CSID,
    Actor,
    Code,
    Command,
    Event,
    LongText,
    Message,
    Name,
    Rejection,
    Role,
    ShortText,
    StaffReference,
)
from contracts.envelope import Envelope, decode_payload
from contracts.errors import (
    ContractError,
    MalformedEnvelope,
    SchemaViolation,
    UnknownMessageType,
    UnsupportedSchemaVersion,
)
from contracts.topics import (
    CUSTOMERS_TOPIC,
    RECEIPTS_TOPIC,
    SERVICES,
    TOPICS,
    DeadLetterHeader,
    Topic,
    TopicKind,
    commands_topic,
    deadletter_topic,
    dispatch_topic,
    events_topic,
    topic_of,
)

__all__ = [
    "CSID",
    "CUSTOMERS_TOPIC",
    "RECEIPTS_TOPIC",
    "SERVICES",
    "TOPICS",
    "Actor",
    "Code",
    "Command",
    "ContractError",
    "DeadLetterHeader",
    "Envelope",
    "Event",
    "LongText",
    "MalformedEnvelope",
    "Message",
    "Name",
    "Rejection",
    "Role",
    "SchemaViolation",
    "ShortText",
    "StaffReference",
    "Topic",
    "TopicKind",
    "UnknownMessageType",
    "UnsupportedSchemaVersion",
    "commands_topic",
    "deadletter_topic",
    "decode_payload",
    "dispatch_topic",
    "events_topic",
    "topic_of",
]
