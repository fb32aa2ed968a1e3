from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from contracts.catalogue import ALL_MESSAGES, operations
from contracts.export import PARTIES, asyncapi_document, export
from contracts.topics import SERVICES, TOPICS, commands_topic, events_topic

OPERATIONS = {cls.MESSAGE_TYPE for cls in operations.MESSAGES}

REPO = Path(__file__).resolve().parents[3]


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, ref
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_export_writes_a_schema_per_message_type_the_envelope_and_one_asyncapi_per_party(
    tmp_path: Path,
) -> None:
    written = export(tmp_path)
    assert all(path.exists() for path in written)
    for cls in ALL_MESSAGES:
        schema = json.loads(
            (tmp_path / "schemas" / f"{cls.MESSAGE_TYPE}.v{cls.SCHEMA_VERSION}.json").read_text()
        )
        assert schema["x-message-type"] == cls.MESSAGE_TYPE and schema["type"] == "object"
    assert "csid" in json.loads((tmp_path / "schemas" / "Envelope.json").read_text())["properties"]
    for party in PARTIES:
        assert (tmp_path / "asyncapi" / f"{party}.json").exists()
    assert len(written) == len(ALL_MESSAGES) + 1 + len(PARTIES)


def test_every_asyncapi_document_is_valid_shaped() -> None:
    for party in PARTIES:
        document = json.loads(json.dumps(asyncapi_document(party)))  # plain JSON
        assert document["asyncapi"] == "3.0.0"
        assert document["info"]["title"] and document["info"]["version"]
        assert document["channels"] and document["operations"]
        for cid, channel in document["channels"].items():
            assert channel["address"].startswith("casemesh."), cid
            assert channel["messages"], f"{party}: channel {cid} has no messages"
            assert channel["bindings"]["kafka"]["topic"] == channel["address"]
        for oid, operation in document["operations"].items():
            assert operation["action"] in ("send", "receive"), oid
            assert operation["messages"], oid
            channel_ref = operation["channel"]["$ref"]
            for message_ref in operation["messages"]:
                assert message_ref["$ref"].startswith(channel_ref + "/messages/"), (oid, message_ref)
        for name, message in document["components"]["messages"].items():
            assert message["payload"], name
            if name in ("MessageDeadLettered", "ReceiptDeadLettered"):  # bare, keyed by producer
                assert message["bindings"]["kafka"]["key"]["type"] == ["string", "null"]
                assert message["headers"]["properties"]["message-type"]
            elif name in OPERATIONS:  # bare, keyed by the service acted on
                assert message["bindings"]["kafka"]["key"]["type"] == "string"
                assert "pattern" not in message["bindings"]["kafka"]["key"]
                assert message["headers"]["properties"]["message-type"]
            elif name != "DeadLetter":
                assert message["bindings"]["kafka"]["key"]["pattern"] == "^[0-9]{6,12}$"
                assert message["examples"][0]["payload"]["message_type"] == name
                assert set(message["headers"]["properties"]) == {"message-type", "message-id"}
        assert document["servers"]["production"]["protocol"] == "kafka"
        for ref in _refs(document):
            _resolve(document, ref)


def test_the_operators_document_reads_the_dead_letters_and_writes_the_audit_topic() -> None:
    document = asyncapi_document("operators")
    addresses = {c["address"] for c in document["channels"].values()}
    assert "casemesh.operations.audit.v1" in addresses
    sent = {
        o["channel"]["$ref"].split("/")[-1] for o in document["operations"].values() if o["action"] == "send"
    }
    assert sent == {"operations_audit_v1"}


def test_each_service_document_covers_the_topics_it_writes_and_reads() -> None:
    for svc in SERVICES:
        document = asyncapi_document(svc)
        addresses = {c["address"] for c in document["channels"].values()}
        assert {commands_topic(svc), events_topic(svc), f"casemesh.{svc}.deadletter.v1"} <= addresses
        sends = {o["channel"]["$ref"] for o in document["operations"].values() if o["action"] == "send"}
        receives = {o["channel"]["$ref"] for o in document["operations"].values() if o["action"] == "receive"}
        assert "#/channels/" + f"{svc}_events_v1" in sends
        assert "#/channels/" + f"{svc}_commands_v1" in receives
    referrals = asyncapi_document("referrals")
    assert "#/channels/approvals_commands_v1" in {
        o["channel"]["$ref"] for o in referrals["operations"].values()
    }
    complaints = asyncapi_document("complaints")
    sent = [
        m["$ref"] for o in complaints["operations"].values() if o["action"] == "send" for m in o["messages"]
    ]
    assert "#/channels/notifications_commands_v1/messages/SendLetter" in sent
    assert "#/channels/notifications_commands_v1/messages/SendEmail" not in sent


def test_the_upstream_document_lists_every_command_topic() -> None:
    document = asyncapi_document("upstream")
    addresses = {c["address"] for c in document["channels"].values()}
    assert {commands_topic(svc) for svc in SERVICES} <= addresses
    assert "casemesh.customers.events.v1" in addresses
    assert {t for t in TOPICS if t.endswith(".events.v1")} <= addresses


def test_python_dash_m_contracts_export_writes_a_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contracts.export", str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "asyncapi" / "referrals.json").exists()


def test_python_dash_m_contracts_export_can_write_a_snapshot_elsewhere(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    result = subprocess.run(
        [sys.executable, "-m", "contracts.export", "--snapshot", str(target)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    entry = json.loads((target / "AssignCustomerToPS.json").read_text())
    assert entry["schema_version"] == 1 and entry["topic"] == commands_topic("referrals")
    assert (target / "Envelope.json").exists()


def test_the_upstream_document_answers_every_command_it_sends() -> None:
    from contracts.answers import ANSWERS

    document = asyncapi_document("upstream")
    for command, answers in ANSWERS.items():
        operation = document["operations"][f"send_{command}"]
        replies = {ref["$ref"].rsplit("/", 1)[-1] for ref in operation["reply"]["messages"]}
        assert set(answers.accepted) <= replies, command
        assert (answers.refused in replies) if answers.refused else True
        assert operation["reply"]["channel"]["$ref"] == f"#/channels/{answers.service}_events_v1"
        assert document["components"]["messages"][command]["x-casemesh-answers"] == answers.as_json()
    sms = document["operations"]["send_SendSms"]
    assert "SmsSuppressed" in {ref["$ref"].rsplit("/", 1)[-1] for ref in sms["reply"]["messages"]}


def test_the_rejections_topic_and_the_dead_letter_topics_are_documented() -> None:
    upstream = asyncapi_document("upstream")
    assert upstream["channels"]["rejections_v1"]["address"] == "casemesh.rejections.v1"
    assert "receive_rejections_v1" in upstream["operations"]
    assert "MessageDeadLettered" in upstream["components"]["messages"]
    operators = asyncapi_document("operators")
    addresses = {c["address"] for c in operators["channels"].values()}
    assert {f"casemesh.{svc}.deadletter.v1" for svc in SERVICES} | {"casemesh.rejections.v1"} <= addresses
    for svc in SERVICES:
        sends = asyncapi_document(svc)["operations"]
        assert "send_rejections_v1" in sends, svc


def test_the_templates_and_their_approved_versions_are_published() -> None:
    for party in ("upstream", "notifications"):
        templates = {t["template_id"]: t for t in asyncapi_document(party)["info"]["x-casemesh-templates"]}
        assert templates["msp-letter"]["final_approved_version"] == 2
        assert templates["msp-letter"]["draft_versions"] == [3]
