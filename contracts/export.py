"""Export the contracts: a JSON Schema per message type and an AsyncAPI 3.0.0 document per party.

    python -m contracts.export DIR          # DIR/schemas/*.json and DIR/asyncapi/*.json
    python -m contracts.export --snapshot   # rewrite tests/unit/contracts/snapshot/

Standard library and pydantic only, so an upstream team can run it with nothing else installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from contracts.base import Command, Message
from contracts.catalogue import ALL_MESSAGES
from contracts.envelope import ENVELOPE_SCHEMA_VERSION, Envelope
from contracts.topics import (
    ANY,
    CHANNELS,
    READS,
    SENDS_MESSAGES,
    SERVICES,
    TOPICS,
    UPSTREAM,
    DeadLetterHeader,
    Topic,
    TopicKind,
    topic_of,
    topics_read_by,
    topics_written_by,
    typed_envelope,
)

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
#: Parties that get an AsyncAPI document: the five services, plus the upstream customer system
#: (which sends commands and reads events) and the downstream notification channels.
PARTIES: tuple[str, ...] = (*SERVICES, UPSTREAM, CHANNELS)

DEFAULT_SNAPSHOT_DIR = Path(__file__).resolve().parent.parent / "tests" / "unit" / "contracts" / "snapshot"


# --------------------------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------------------------


def message_schema(cls: type[Message]) -> dict[str, Any]:
    """The payload's JSON Schema (validation mode), with Casemesh metadata."""
    schema = cls.model_json_schema(mode="validation")
    schema["x-message-type"] = cls.MESSAGE_TYPE
    schema["x-schema-version"] = cls.SCHEMA_VERSION
    schema["x-topic"] = topic_of(cls).name
    return schema


def envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="validation")
    schema["x-schema-version"] = ENVELOPE_SCHEMA_VERSION
    return schema


def example_payload(cls: type[Message]) -> dict[str, Any]:
    """A payload built from each field's first example (every field has one)."""
    out: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if field.examples:
            out[name] = field.examples[0]
    return out


def snapshot_entry(cls: type[Message]) -> dict[str, Any]:
    """One snapshot file's content: what the compatibility check compares."""
    return {
        "message_type": cls.MESSAGE_TYPE,
        "schema_version": cls.SCHEMA_VERSION,
        "kind": "command" if issubclass(cls, Command) else "event",
        "topic": topic_of(cls).name,
        "schema": cls.model_json_schema(mode="validation"),
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


def _key_schema() -> dict[str, Any]:
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
    if topic.writer == party:
        return topic.messages
    if topic.kind is TopicKind.COMMANDS and topic.writer == ANY:
        if party == UPSTREAM:
            return topic.messages
        wanted = set(SENDS_MESSAGES.get(party, ()))
        return tuple(cls for cls in topic.messages if cls.MESSAGE_TYPE in wanted)
    return ()


def _party_topics(party: str) -> tuple[list[Topic], list[Topic]]:
    """(written, read) topics of a party."""
    if party in SERVICES:
        written = list(topics_written_by(party))
        read = list(topics_read_by(party))
    elif party == UPSTREAM:
        written = [t for t in TOPICS.values() if t.writer == UPSTREAM or t.kind is TopicKind.COMMANDS]
        read = [t for t in TOPICS.values() if t.kind is TopicKind.EVENTS and t.writer in SERVICES]
    elif party == CHANNELS:
        written = [t for t in TOPICS.values() if t.writer == CHANNELS]
        read = [t for t in TOPICS.values() if t.kind is TopicKind.DISPATCH]
    else:
        raise KeyError(f"unknown party {party!r}; expected one of {PARTIES}")
    return written, read


def asyncapi_document(party: str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of one party: the topics it writes and reads."""
    written, read = _party_topics(party)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    used: dict[str, type[Message]] = {}
    dead_letter_used = False

    def add_channel(topic: Topic) -> str:
        nonlocal dead_letter_used
        cid = channel_id(topic)
        if cid not in channels:
            if topic.kind is TopicKind.DEADLETTER:
                messages = {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}}
                dead_letter_used = True
            else:
                messages = {
                    cls.MESSAGE_TYPE: {"$ref": f"#/components/messages/{cls.MESSAGE_TYPE}"}
                    for cls in topic.messages
                }
                used.update({cls.MESSAGE_TYPE: cls for cls in topic.messages})
            channels[cid] = {
                "address": topic.name,
                "title": topic.name,
                "description": f"{topic.description} Writer: {topic.writer}. Kafka key: the envelope's csid.",
                "messages": messages,
                "bindings": {"kafka": {"topic": topic.name, "bindingVersion": KAFKA_BINDING_VERSION}},
            }
        return cid

    def message_refs(cid: str, types: Iterable[str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{cid}/messages/{t}"} for t in types]

    for topic in written:
        cid = add_channel(topic)
        if topic.kind is TopicKind.DEADLETTER:
            types: list[str] = ["DeadLetter"]
        else:
            types = [cls.MESSAGE_TYPE for cls in _sent_on(party, topic)]
        if types:
            operations[f"send_{cid}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{cid}"},
                "summary": f"{party} writes to {topic.name}.",
                "messages": message_refs(cid, types),
            }
    for topic in read:
        cid = add_channel(topic)
        operations[f"receive_{cid}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"{party} consumes {topic.name}.",
            "messages": message_refs(cid, [cls.MESSAGE_TYPE for cls in topic.messages]),
        }

    ordered = sorted(used.values(), key=lambda c: c.MESSAGE_TYPE)
    envelopes = [typed_envelope(cls) for cls in ordered]
    key_map, defs = models_json_schema(
        [(model, "validation") for model in envelopes], ref_template="#/components/schemas/{model}"
    )
    messages: dict[str, Any] = {}
    for cls, model in zip(ordered, envelopes, strict=True):
        messages[cls.MESSAGE_TYPE] = {
            "name": cls.MESSAGE_TYPE,
            "title": cls.MESSAGE_TYPE,
            "summary": _first_line(cls.__doc__),
            "description": (cls.__doc__ or "").strip(),
            "contentType": "application/json",
            "payload": key_map[(model, "validation")],
            "bindings": {"kafka": {"key": _key_schema(), "bindingVersion": KAFKA_BINDING_VERSION}},
            "examples": [{"name": "example", "payload": _example_envelope(cls)}],
            "x-schema-version": cls.SCHEMA_VERSION,
            "x-kind": "command" if issubclass(cls, Command) else "event",
        }
    if dead_letter_used:
        messages["DeadLetter"] = _dead_letter_message()

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"Casemesh - {party}",
            "version": "1.0.0",
            "description": _party_description(party),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": defs.get("$defs", {}), "messages": messages},
    }


def _example_envelope(cls: type[Message]) -> dict[str, Any]:
    return {
        "message_id": "0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1",
        "message_type": cls.MESSAGE_TYPE,
        "schema_version": cls.SCHEMA_VERSION,
        "occurred_at": "2025-03-12T09:30:00Z",
        "producer": topic_of(cls).writer if topic_of(cls).writer != ANY else "upstream",
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
            f"An upstream system: publishes customer facts, sends commands, reads services' events. {common}"
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
    written: list[Path] = []
    for cls in sorted(ALL_MESSAGES, key=lambda c: c.MESSAGE_TYPE):
        path = directory / "schemas" / f"{cls.MESSAGE_TYPE}.v{cls.SCHEMA_VERSION}.json"
        written.append(_write_json(path, message_schema(cls)))
    written.append(_write_json(directory / "schemas" / "Envelope.json", envelope_schema()))
    for party in PARTIES:
        written.append(_write_json(directory / "asyncapi" / f"{party}.json", asyncapi_document(party)))
    return written


def write_snapshot(directory: Path = DEFAULT_SNAPSHOT_DIR) -> list[Path]:
    """Rewrite the committed snapshot: one ``<MessageType>.json`` per message type (stale files removed)."""
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
        nargs="?",
        const=DEFAULT_SNAPSHOT_DIR,
        type=Path,
        metavar="DIR",
        help=f"rewrite the compatibility snapshot (default {DEFAULT_SNAPSHOT_DIR})",
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
