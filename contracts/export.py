"""Export the contracts: a JSON Schema per message type and an AsyncAPI 3.0.0 document per party.

    python -m contracts.export DIR              # DIR/schemas/*.json and DIR/asyncapi/*.json
    python -m contracts.export --snapshot DIR   # one file per message type: what a release promises

Compatibility is checked against the last release in git history, not against a snapshot in the
tree: see :mod:`contracts.release`.

Standard library and pydantic only, so an upstream team can run it with nothing else installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from contracts.answers import ANSWERS
from contracts.base import Command, Message
from contracts.catalogue import ALL_MESSAGES
from contracts.catalogue.notifications import TEMPLATES
from contracts.envelope import ENVELOPE_SCHEMA_VERSION, Envelope
from contracts.rules import WIRE_RULES
from contracts.topics import (
    ANY,
    CHANNEL_ERRORS_TOPIC,
    CHANNELS,
    READS,
    REJECTIONS_TOPIC,
    SENDS_MESSAGES,
    SERVICES,
    TOPICS,
    UPSTREAM,
    DeadLetterHeader,
    Topic,
    TopicKey,
    TopicKind,
    topic_of,
    topics_read_by,
    topics_written_by,
    typed_envelope,
)
from contracts.version import __version__

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
#: Who runs the mesh: reads the dead-letter topics and the rejections topic.
OPERATORS = "operators"
#: The operators' principal, the writer of the operations audit topic.
OPERATOR = "operator"
#: Parties that get an AsyncAPI document: the five services, plus the upstream customer system
#: (which sends commands and reads events), the downstream notification channels and operators.
PARTIES: tuple[str, ...] = (*SERVICES, UPSTREAM, CHANNELS, OPERATORS)

#: The Kafka clusters a party connects to. Security schemes (SASL/TLS) come with the security work;
#: until then both listen in PLAINTEXT, inside the deployment's network only.
SERVERS: dict[str, Any] = {
    "production": {
        "host": "kafka:9092",
        "protocol": "kafka",
        "protocolVersion": "3.9.1",
        "description": (
            "The deployment's Kafka (docker-compose service `kafka`; in other deployments the "
            "bootstrap servers you were given). PLAINTEXT inside the deployment network until SASL/TLS "
            "security schemes land. Topic names may carry a deployment suffix."
        ),
    },
    "local": {
        "host": "127.0.0.1:19092",
        "protocol": "kafka",
        "protocolVersion": "3.9.1",
        "description": "`make infra-up` (deploy/local): Kafka on the developer's machine, PLAINTEXT.",
    },
}

#: Record headers Casemesh services set on every envelope they publish (senders may set them too;
#: readers rely on the envelope, never on the headers).
ENVELOPE_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message-type": {
            "type": "string",
            "description": "The envelope's message_type, for routing without parsing the value.",
            "examples": ["AssignCustomerToPS"],
        },
        "message-id": {
            "type": "string",
            "format": "uuid",
            "description": "The envelope's message_id.",
            "examples": ["0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1"],
        },
    },
}

#: Headers of a record that is not an envelope (casemesh.rejections.v1).
BARE_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message-type": {
            "type": "string",
            "description": "The message type.",
            "examples": ["MessageDeadLettered"],
        },
        "schema-version": {
            "type": "string",
            "description": "Its schema version (decimal).",
            "examples": ["1"],
        },
    },
}


# --------------------------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------------------------


def wire_rules() -> list[dict[str, Any]]:
    """The rules every message keeps that JSON Schema cannot say (:data:`contracts.rules.WIRE_RULES`)."""
    return [rule.entry() for rule in WIRE_RULES]


def message_schema(cls: type[Message]) -> dict[str, Any]:
    """The payload's JSON Schema (validation mode), with Casemesh metadata.

    Formats (``uuid``, ``date``, ``date-time``, ``email``-like patterns) are assertions, not
    annotations. Cross-field rules are in ``allOf`` and ``x-casemesh-rules``; the rules of the wire
    format in ``x-casemesh-wire-rules``; a command's possible answers in ``x-casemesh-answers``.
    """
    schema = cls.model_json_schema(mode="validation")
    schema["x-message-type"] = cls.MESSAGE_TYPE
    schema["x-schema-version"] = cls.SCHEMA_VERSION
    schema["x-topic"] = topic_of(cls).name
    schema["x-casemesh-wire-rules"] = wire_rules()
    if cls.MESSAGE_TYPE in ANSWERS:
        schema["x-casemesh-answers"] = ANSWERS[cls.MESSAGE_TYPE].as_json()
    return schema


def envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="validation")
    schema["x-schema-version"] = ENVELOPE_SCHEMA_VERSION
    return schema


def example_payload(cls: type[Message]) -> dict[str, Any]:
    """A payload built from each field's first example (every field has one), with the class's
    own ``EXAMPLE`` values over them: a message its service accepts (tests/unit/contracts checks)."""
    out: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if field.examples:
            out[name] = field.examples[0]
    out.update(cls.__dict__.get("EXAMPLE", {}))
    return out


def snapshot_entry(cls: type[Message]) -> dict[str, Any]:
    """One snapshot file's content: what the compatibility check compares."""
    return {
        "message_type": cls.MESSAGE_TYPE,
        "schema_version": cls.SCHEMA_VERSION,
        "kind": "command" if issubclass(cls, Command) else "event",
        "topic": topic_of(cls).name,
        "schema": cls.model_json_schema(mode="validation"),
        "example": example_payload(cls),
    }


def current_snapshot() -> dict[str, dict[str, Any]]:
    """``message_type → snapshot entry`` for the whole catalogue, plus the Envelope."""
    entries = {cls.MESSAGE_TYPE: snapshot_entry(cls) for cls in ALL_MESSAGES}
    entries["Envelope"] = {
        "message_type": "Envelope",
        "schema_version": ENVELOPE_SCHEMA_VERSION,
        "kind": "envelope",
        "topic": None,
        "schema": Envelope.model_json_schema(mode="validation"),
    }
    return entries


# --------------------------------------------------------------------------------------------
# AsyncAPI
# --------------------------------------------------------------------------------------------


def channel_id(topic: Topic) -> str:
    """``casemesh.referrals.commands.v1`` → ``referrals_commands_v1``."""
    return topic.name.removeprefix("casemesh.").replace(".", "_")


def _key_schema(key: TopicKey = TopicKey.CSID) -> dict[str, Any]:
    if key is TopicKey.PRODUCER:
        return {
            "type": ["string", "null"],
            "description": (
                "The producer named in the dead-lettered envelope, UTF-8: subscribe to your own. "
                "No key when the envelope could not be read."
            ),
            "examples": ["upstream"],
        }
    if key is TopicKey.SERVICE:
        return {
            "type": "string",
            "description": "The service whose dead letters an operator acted on, UTF-8.",
            "examples": ["complaints"],
        }
    return {
        "type": "string",
        "pattern": r"^[0-9]{6,12}$",
        "description": "The envelope's csid (Child Support Identifier), UTF-8: keeps a customer's order.",
        "examples": ["123456789"],
    }


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record that could not be processed, unchanged, with the reason in headers.",
        "contentType": "application/octet-stream",
        "payload": {
            "type": "string",
            "format": "binary",
            "description": "The original record value, byte for byte.",
        },
        "headers": {
            "type": "object",
            "properties": {
                DeadLetterHeader.ORIGINAL_TOPIC.value: {
                    "type": "string",
                    "description": "Topic it was read from.",
                },
                DeadLetterHeader.ORIGINAL_PARTITION.value: {
                    "type": "string",
                    "description": "Partition (decimal).",
                },
                DeadLetterHeader.ORIGINAL_OFFSET.value: {
                    "type": "string",
                    "description": "Offset (decimal).",
                },
                DeadLetterHeader.ERROR_CLASS.value: {
                    "type": "string",
                    "description": "e.g. SchemaViolation.",
                },
                DeadLetterHeader.REASON_CODE.value: {
                    "type": "string",
                    "description": "e.g. schema_violation.",
                },
                DeadLetterHeader.REASON.value: {
                    "type": "string",
                    "description": "Value-free explanation (never payload content).",
                },
                "x-original-size": {"type": "string", "description": "The original value's size in bytes."},
                "x-original-sha256": {
                    "type": "string",
                    "description": "SHA-256 of the original value (hex).",
                },
                "x-truncated": {
                    "type": "string",
                    "description": "true when the key or value was left off or cut to fit the limit.",
                },
            },
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record key, unchanged."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _sent_on(party: str, topic: Topic) -> tuple[type[Message], ...]:
    """Messages ``party`` sends on ``topic``."""
    if (
        topic.writer == party
        or (party == OPERATORS and topic.writer == OPERATOR)
        or (topic.kind is TopicKind.REJECTIONS and party in SERVICES)
    ):
        return topic.messages
    if topic.kind is TopicKind.COMMANDS and topic.writer == ANY:
        if party == UPSTREAM:
            return topic.messages
        wanted = set(SENDS_MESSAGES.get(party, ()))
        return tuple(cls for cls in topic.messages if cls.MESSAGE_TYPE in wanted)
    return ()


def _party_topics(party: str) -> tuple[list[Topic], list[Topic]]:
    """(written, read) topics of a party."""
    rejections = TOPICS[REJECTIONS_TOPIC]
    if party in SERVICES:
        written = [*topics_written_by(party), rejections]
        read = list(topics_read_by(party))
    elif party == UPSTREAM:
        written = [t for t in TOPICS.values() if t.writer == UPSTREAM or t.kind is TopicKind.COMMANDS]
        read = [t for t in TOPICS.values() if t.kind is TopicKind.EVENTS and t.writer in SERVICES]
        read.append(rejections)
    elif party == OPERATORS:
        # `casemesh dlq` (issue 18): replays audited on the operations topic, the operators' own.
        written = [t for t in TOPICS.values() if t.writer == OPERATOR]
        read = [t for t in TOPICS.values() if t.kind is TopicKind.DEADLETTER] + [rejections]
    elif party == CHANNELS:
        written = [t for t in TOPICS.values() if t.writer == CHANNELS]
        # The receipts notifications could not read are answered on the channel-errors topic.
        read = [t for t in TOPICS.values() if t.kind is TopicKind.DISPATCH] + [TOPICS[CHANNEL_ERRORS_TOPIC]]
    else:
        raise KeyError(f"unknown party {party!r}; expected one of {PARTIES}")
    return written, read


def asyncapi_document(party: str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of one party: the topics it writes and reads.

    Besides channels and operations: the Kafka ``servers``, record headers, each command's
    possible answers (``x-casemesh-answers`` on the message; for the upstream document one send
    operation per command with a ``reply`` listing them), the notification templates and their
    approved versions, and the wire rules (``info.x-casemesh-…``).
    """
    written, read = _party_topics(party)
    channels = _Channels()
    for topic in [*written, *read]:
        channels.add(topic)
    operations = {**_send_operations(party, written, channels), **_receive_operations(party, read)}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(party),
        "servers": SERVERS,
        "defaultContentType": "application/json",
        "channels": channels.channels,
        "operations": operations,
        "components": _components(channels),
    }


class _Channels:
    """The channels of one AsyncAPI document, in the order they were added, and what they carry."""

    def __init__(self) -> None:
        self.channels: dict[str, Any] = {}
        #: message type → class, Kafka key; ``bare``: the types that travel without an envelope.
        self.used: dict[str, type[Message]] = {}
        self.keys: dict[str, TopicKey] = {}
        self.bare: set[str] = set()
        self.dead_letter_used = False

    def add(self, topic: Topic) -> str:
        """Adds the topic's channel unless it is there already; returns the channel id."""
        cid = channel_id(topic)
        if cid not in self.channels:
            self.channels[cid] = self._channel(topic)
        return cid

    def _channel(self, topic: Topic) -> dict[str, Any]:
        key = _key_description(topic)
        channel: dict[str, Any] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} Writer: {topic.writer}. Kafka key: {key}.",
            "messages": self._messages(topic),
            "bindings": {"kafka": {"topic": topic.name, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        if topic.kind is TopicKind.DEADLETTER:
            channel["tags"] = [{"name": "operators", "description": "For the people running the mesh."}]
        return channel

    def _messages(self, topic: Topic) -> dict[str, Any]:
        if topic.kind is TopicKind.DEADLETTER:
            self.dead_letter_used = True
            return {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}}
        self.used.update({cls.MESSAGE_TYPE: cls for cls in topic.messages})
        self.keys.update({cls.MESSAGE_TYPE: topic.key for cls in topic.messages})
        if not topic.enveloped:
            self.bare.update(cls.MESSAGE_TYPE for cls in topic.messages)
        return {
            cls.MESSAGE_TYPE: {"$ref": f"#/components/messages/{cls.MESSAGE_TYPE}"} for cls in topic.messages
        }


def _key_description(topic: Topic) -> str:
    if topic.key is TopicKey.PRODUCER:
        return "the producer named in the envelope"
    if topic.key is TopicKey.SERVICE:
        return "the service whose dead letters were acted on"
    return "the envelope's csid"


def _message_refs(cid: str, types: Iterable[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{cid}/messages/{t}"} for t in types]


def _send_operations(party: str, written: Iterable[Topic], channels: _Channels) -> dict[str, Any]:
    """One send operation per written topic; for upstream, one per command (with its ``reply``)."""
    operations: dict[str, Any] = {}
    for topic in written:
        cid = channel_id(topic)
        if topic.kind is TopicKind.DEADLETTER:
            types: list[str] = ["DeadLetter"]
        else:
            types = [cls.MESSAGE_TYPE for cls in _sent_on(party, topic)]
        if not types:
            continue
        if party == UPSTREAM and topic.kind is TopicKind.COMMANDS:
            for message_type in types:
                operations[f"send_{message_type}"] = _command_operation(cid, message_type, channels.add)
            continue
        operations[f"send_{cid}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"{party} writes to {topic.name}.",
            "messages": _message_refs(cid, types),
        }
    return operations


def _receive_operations(party: str, read: Iterable[Topic]) -> dict[str, Any]:
    """One receive operation per topic read."""
    operations: dict[str, Any] = {}
    for topic in read:
        cid = channel_id(topic)
        is_dead_letter = topic.kind is TopicKind.DEADLETTER
        operations[f"receive_{cid}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"{party} consumes {topic.name}.",
            "messages": _message_refs(cid, ["DeadLetter"] if is_dead_letter else topic.message_types),
        }
    return operations


def _components(channels: _Channels) -> dict[str, Any]:
    """The schemas and messages of every message type the channels carry, sorted by type."""
    ordered = sorted(channels.used.values(), key=lambda c: c.MESSAGE_TYPE)
    models: list[type[Message] | type[Envelope]] = [
        cls if cls.MESSAGE_TYPE in channels.bare else typed_envelope(cls) for cls in ordered
    ]
    key_map, defs = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    messages: dict[str, Any] = {
        cls.MESSAGE_TYPE: _message_component(cls, key_map[(model, "validation")], channels)
        for cls, model in zip(ordered, models, strict=True)
    }
    if channels.dead_letter_used:
        messages["DeadLetter"] = _dead_letter_message()
    return {"schemas": defs.get("$defs", {}), "messages": messages}


def _message_component(cls: type[Message], payload: Any, channels: _Channels) -> dict[str, Any]:
    name = cls.MESSAGE_TYPE
    bare = name in channels.bare
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "summary": _first_line(cls.__doc__),
        "description": (cls.__doc__ or "").strip(),
        "contentType": "application/json",
        "headers": BARE_HEADERS if bare else ENVELOPE_HEADERS,
        "payload": payload,
        "bindings": {
            "kafka": {"key": _key_schema(channels.keys[name]), "bindingVersion": KAFKA_BINDING_VERSION}
        },
        "examples": [
            {"name": "example", "payload": example_payload(cls) if bare else _example_envelope(cls)}
        ],
        "x-schema-version": cls.SCHEMA_VERSION,
        "x-kind": "command" if issubclass(cls, Command) else "event",
    }
    if name in ANSWERS:
        message["x-casemesh-answers"] = ANSWERS[name].as_json()
    return message


def _info(party: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "title": f"Casemesh - {party}",
        "version": __version__,
        "description": _party_description(party),
        "x-casemesh-wire-rules": wire_rules(),
    }
    if party in (UPSTREAM, "notifications", "complaints", "contacts"):
        info["x-casemesh-templates"] = templates_table()
    return info


def templates_table() -> list[dict[str, Any]]:
    """The notification templates and their approved versions (drafts are refused)."""
    return [
        {
            "template_id": t.template_id,
            "channel": t.channel.value,
            "approved_versions": list(t.approved_versions),
            "final_approved_version": t.final_approved,
            "draft_versions": list(t.draft_versions),
            "used_for": t.used_for,
        }
        for t in TEMPLATES
    ]


def _command_operation(cid: str, message_type: str, add_channel: Callable[[Topic], str]) -> dict[str, Any]:
    """Sending one command, with the events it can be answered with as the operation's ``reply``."""
    answers = ANSWERS[message_type]
    events = TOPICS[answers.as_json()["topic"]]  # type: ignore[index]
    reply_cid = add_channel(events)
    replies = [*answers.accepted, *([answers.refused] if answers.refused else []), *answers.suppressed]
    refused = f"; refused: {answers.refused} ({', '.join(answers.reason_codes)})" if answers.refused else ""
    suppressed = f"; suppressed: {', '.join(answers.suppressed)}" if answers.suppressed else ""
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{cid}"},
        "summary": f"Send {message_type}.",
        "description": (
            f"Answered on {events.name} with causation_id = the command's message_id: "
            f"accepted: {', '.join(answers.accepted)}{refused}{suppressed}."
        ),
        "messages": [{"$ref": f"#/channels/{cid}/messages/{message_type}"}],
        "reply": {
            "channel": {"$ref": f"#/channels/{reply_cid}"},
            "messages": [{"$ref": f"#/channels/{reply_cid}/messages/{t}"} for t in replies],
        },
        "x-casemesh-answers": answers.as_json(),
    }


def _example_envelope(cls: type[Message]) -> dict[str, Any]:
    return {
        "message_id": "0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1",
        "message_type": cls.MESSAGE_TYPE,
        "schema_version": cls.SCHEMA_VERSION,
        "occurred_at": "2025-03-12T09:30:00Z",
        "producer": topic_of(cls).writer if topic_of(cls).writer not in (ANY, "services") else "upstream",
        "correlation_id": "0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1",
        "causation_id": None,
        "csid": "123456789",
        "payload": example_payload(cls),
    }


def _party_description(party: str) -> str:
    common = (
        "Every record value is a Casemesh envelope (compact UTF-8 JSON) whose payload is the message; "
        "every record key is the envelope's csid, so one customer's messages stay in order. "
        "Commands are strict (unknown fields refused, no coercion, bounded strings and lists); "
        "events ignore unknown fields. A refused command is answered by a …Rejected event."
    )
    if party in SERVICES:
        reads = ", ".join(READS[party])
        return f"The {party} service. Consumes: {reads}. {common}"
    if party == UPSTREAM:
        return (
            "An upstream system: publishes customer facts, sends commands, reads services' events and, "
            "keyed by its own producer name, the announcements of its messages that were dead-lettered "
            f"(casemesh.rejections.v1). {common}"
        )
    if party == OPERATORS:
        return (
            "The people running the mesh: every service's dead-letter topic (the original bytes with the "
            f"reason in headers) and casemesh.rejections.v1. {common}"
        )
    return f"Downstream notification channels: consume dispatches, report receipts. {common}"


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def export(directory: Path) -> list[Path]:
    """Write ``schemas/<MessageType>.v<N>.json``, ``schemas/Envelope.json`` and ``asyncapi/<party>.json``."""
    directory = Path(directory)
    schemas = directory / "schemas"
    written = [
        _write_json(schemas / f"{cls.MESSAGE_TYPE}.v{cls.SCHEMA_VERSION}.json", message_schema(cls))
        for cls in sorted(ALL_MESSAGES, key=lambda c: c.MESSAGE_TYPE)
    ]
    written.append(_write_json(schemas / "Envelope.json", envelope_schema()))
    written.extend(
        _write_json(directory / "asyncapi" / f"{party}.json", asyncapi_document(party)) for party in PARTIES
    )
    return written


def write_snapshot(directory: Path) -> list[Path]:
    """Write one ``<MessageType>.json`` per message type (stale files removed): what a release promises.

    For reading and diffing only; compatibility is checked against git history (:mod:`contracts.release`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    entries = current_snapshot()
    for stale in directory.glob("*.json"):
        if stale.stem not in entries:
            stale.unlink()
    return [_write_json(directory / f"{name}.json", entry) for name, entry in sorted(entries.items())]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.export", description="Export Casemesh JSON Schemas and AsyncAPI documents."
    )
    parser.add_argument("directory", nargs="?", type=Path, help="where to write schemas/ and asyncapi/")
    parser.add_argument(
        "--snapshot",
        type=Path,
        metavar="DIR",
        help="write one JSON per message type (compatibility is checked against git history, "
        "python -m contracts.release check)",
    )
    args = parser.parse_args(argv)
    if args.directory is None and args.snapshot is None:
        parser.error("give a DIRECTORY, --snapshot, or both")
    if args.directory is not None:
        paths = export(args.directory)
        print(f"wrote {len(paths)} files under {args.directory}")
    if args.snapshot is not None:
        paths = write_snapshot(args.snapshot)
        print(f"wrote {len(paths)} snapshot files under {args.snapshot}")
    return 0


__all__ = [
    "PARTIES",
    "asyncapi_document",
    "current_snapshot",
    "envelope_schema",
    "example_payload",
    "export",
    "main",
    "message_schema",
    "snapshot_entry",
    "write_snapshot",
]

if __name__ == "__main__":
    sys.exit(main())
