"""Casemesh contracts: the envelope, the message catalogue and the topic registry.

Pydantic 2 and the standard library only — an upstream system can depend on this package alone.

    from contracts import Envelope, decode_payload, TOPICS
    from contracts.catalogue.referrals import AssignCustomerToPS

    command = AssignCustomerToPS.build(actor={...}, referral_id="c1a7…", referral_type="OTHER", …)

Distributed as ``casemesh-contracts`` (``contracts/pyproject.toml``); see docs/upstream.md.
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
    REJECTIONS_TOPIC,
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
from contracts.version import __version__

__all__ = [
    "CSID",
    "CUSTOMERS_TOPIC",
    "RECEIPTS_TOPIC",
    "REJECTIONS_TOPIC",
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
    "__version__",
    "commands_topic",
    "deadletter_topic",
    "decode_payload",
    "dispatch_topic",
    "events_topic",
    "topic_of",
]
