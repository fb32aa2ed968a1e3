"""``casemesh dlq`` through the real broker, as the ``operator`` principal under the broker's ACLs.

The complaints service runs with a message size limit too small for a complaint, so it dead-letters
one (``too_large``). The operator lists it, sees it masked, is refused a replay without the officer's
token, fixes the service (restarts it with the usual limit) and replays it: the complaint is
recorded in answer to the replay's new message id, and the replay is audited. Revealing needs
privilege 5 and is audited; a purge needs confirmation and is audited.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from casemesh import dlq
from contracts.base import Role
from contracts.topics import OPERATIONS_AUDIT_TOPIC, commands_topic, deadletter_topic, events_topic
from deploy.kafka.acls import OPERATOR, acl_table, create_acls
from kit.identity import development_token
from services.complaints.app import create_runtime
from services.complaints.settings import ComplaintsSettings
from tests.conftest import Infra
from tests.support import Mesh, Record, envelope
from tests.unit.complaints.helpers_complaints import CSID, OFFICER, record_complaint

SMALL_LIMIT = 400
COMPLAINT = record_complaint()
#: What the complaint says and who handles it: never printed unless revealed.
PERSONAL = [CSID, COMPLAINT.details, OFFICER.first_name, OFFICER.officer_id, "COMPLAINT HANDLING"]


class Operator:
    """``casemesh dlq`` as an operator runs it: the shared CASEMESH_KAFKA_… variables, the
    deployment's topic suffix and the operator's own development token."""

    def __init__(self, infra: Infra, mesh: Mesh, tmp_path: Path) -> None:
        self.environ = {
            "CASEMESH_KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
            "CASEMESH_TOPIC_SUFFIX": mesh.suffix,
            "CASEMESH_OPERATOR_TOKEN": development_token(
                "OPS-1", [Role.SERVICE_SUPPORT_OFFICER], privilege=5
            ),
        }
        if infra.kafka.secured:  # the operator principal of the cluster's credentials file
            path = infra.kafka.path or infra.kafka.write(tmp_path / "credentials.json")
            self.environ["CASEMESH_KAFKA_SECURITY_FILE"] = str(path)

    async def __call__(self, *argv: str, answer: str = "", **environ: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = await asyncio.to_thread(
            dlq.main,
            list(argv),
            environ={**self.environ, **environ},
            out=out,
            err=err,
            ask=lambda _prompt: answer,
            interactive=bool(answer),
        )
        return status, out.getvalue(), err.getvalue()


@pytest.fixture
async def mesh(infra: Infra) -> AsyncIterator[Mesh]:
    if infra.kafka.secured:
        # What the broker's setup job does after an upgrade: the operator's bindings of the ACL table
        # (creating one that exists is a no-op).
        admin = AIOKafkaAdminClient(**infra.kafka.options())
        await admin.start()
        try:
            await create_acls(admin, [acl for acl in acl_table() if acl.principal == OPERATOR])
        finally:
            await admin.close()
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    try:
        yield mesh
    finally:
        await mesh.close()


async def dead_lettered_complaint(mesh: Mesh) -> tuple[ComplaintsSettings, Any, Record]:
    """Complaints with too small a limit, and the complaint it dead-lettered for it."""
    settings: ComplaintsSettings = mesh.settings(ComplaintsSettings, max_message_bytes=SMALL_LIMIT)
    runtime = await mesh.start(create_runtime(settings))
    sent = envelope(COMPLAINT, CSID)
    assert len(sent.to_bytes()) > SMALL_LIMIT
    await mesh.send(commands_topic("complaints"), sent)
    (dead,) = await mesh.read(deadletter_topic("complaints"), 1)
    assert dict(dead.headers)["x-reason-code"] == b"too_large"
    return settings, runtime, dead


def audit(records: list[Record], message_type: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records if dict(r.headers)["message-type"] == message_type.encode()]


async def test_a_dead_letter_is_listed_masked_replayed_after_the_fix_and_audited_through_the_real_broker(
    infra: Infra, mesh: Mesh, tmp_path: Path
) -> None:
    operator = Operator(infra, mesh, tmp_path)
    settings, runtime, dead = await dead_lettered_complaint(mesh)
    where = ["--service", "complaints", "--partition", str(dead.partition), "--offset", str(dead.offset)]

    status, out, err = await operator("list", "--json", "--records")
    assert status == 0, err
    listed = json.loads(out)
    assert [(g["service"], g["reason_code"], g["count"], g["replayed"]) for g in listed["groups"]] == [
        ("complaints", "too_large", 1, 0)
    ]
    assert listed["records"][0]["original"].startswith(commands_topic("complaints") + mesh.suffix)

    status, out, err = await operator("show", *where)
    assert status == 0, err
    original_id = str(envelope_of(dead)["message_id"])
    assert original_id in out and "RecordComplaint" in out and "too_large" in out
    assert not [secret for secret in PERSONAL if secret in out], "masked: nothing of the payload"

    status, out, _ = await operator("replay", *where)
    assert status == dlq.EXIT_FAILED and "--identity-token" in out, "dead letters keep no token"

    # The fix: the service runs again with the usual limit.
    await runtime.stop()
    await mesh.start(create_runtime(settings.model_copy(update={"max_message_bytes": 256 * 1024})))
    officers_token = development_token(OFFICER.officer_id, [OFFICER.role])
    status, out, err = await operator("replay", *where, "--identity-token", officers_token)
    assert status == 0, err + out
    assert "replayed" in out and not [secret for secret in PERSONAL if secret in out]

    (replayed,) = audit(await mesh.read(OPERATIONS_AUDIT_TOPIC, 1), "DeadLetterReplayed")
    assert replayed["replayed_from_message_id"] == original_id != replayed["message_id"]
    assert (replayed["deadletter_partition"], replayed["deadletter_offset"]) == (dead.partition, dead.offset)
    assert (replayed["operator_id"], replayed["reason_code"], replayed["identity_attached"]) == (
        "OPS-1",
        "too_large",
        True,
    )
    assert not [secret for secret in PERSONAL if secret in json.dumps(replayed)]

    def answered(records: list[Record]) -> bool:
        return any(envelope_of(r)["causation_id"] == replayed["message_id"] for r in records)

    events = await mesh.read(events_topic("complaints"), 1, until=answered)
    (recorded,) = [envelope_of(r) for r in events if envelope_of(r)["causation_id"] == replayed["message_id"]]
    assert recorded["message_type"] == "ComplaintRecorded"
    assert recorded["payload"]["complaint_id"] == str(COMPLAINT.complaint_id)

    status, out, _ = await operator("replay", *where, "--identity-token", officers_token)
    assert status == dlq.EXIT_FAILED and "replayed before" in out, "a replay is not repeated by accident"
    status, out, _ = await operator("list", "--json", "--service", "complaints")
    assert json.loads(out)["groups"][0]["replayed"] == 1


async def test_revealing_needs_privilege_5_and_purging_a_typed_confirmation_and_both_are_audited(
    infra: Infra, mesh: Mesh, tmp_path: Path
) -> None:
    operator = Operator(infra, mesh, tmp_path)
    _settings, _runtime, dead = await dead_lettered_complaint(mesh)
    where = ["--service", "complaints", "--partition", str(dead.partition), "--offset", str(dead.offset)]

    weaker = development_token("OPS-2", [Role.SERVICE_SUPPORT_OFFICER], privilege=4)
    status, out, err = await operator("show", *where, "--reveal", CASEMESH_OPERATOR_TOKEN=weaker)
    assert status == dlq.EXIT_FAILED and "not authorised to reveal" in err and not out
    status, out, err = await operator("show", *where, "--reveal", "--json")
    assert status == 0, err
    shown = json.loads(out)
    assert shown["revealed"] and shown["value"]["payload"]["details"] == COMPLAINT.details

    status, out, err = await operator("purge", "--service", "complaints", "--all", answer="referrals")
    assert status == dlq.EXIT_FAILED and "not confirmed" in err
    status, out, err = await operator("purge", "--service", "complaints", "--all", answer="complaints")
    assert status == 0, err
    assert "1 dead letters of complaints would be deleted" in out and "never replayed: 1" in out
    status, out, _ = await operator("list", "--service", "complaints")
    assert out.strip() == "no dead letters"

    records = await mesh.read(OPERATIONS_AUDIT_TOPIC, 2)
    (revealed,) = audit(records, "DeadLetterRevealed")
    (purged,) = audit(records, "DeadLettersPurged")
    assert (revealed["operator_id"], revealed["deadletter_offset"]) == ("OPS-1", dead.offset)
    assert (purged["deadletter_partition"], purged["before_offset"], purged["records_deleted"]) == (
        dead.partition,
        dead.offset + 1,
        1,
    )
    assert {r.key for r in records} == {b"complaints"}


def envelope_of(record: Record) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(record.value)
    return value
