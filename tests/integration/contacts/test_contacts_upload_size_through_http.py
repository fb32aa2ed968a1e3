"""Attachment size through the real HTTP port, broker and store (seed 004, Allegati; issue 20
item 5): "Il sistema non limita la dimensione del file dell'allegato, tuttavia l'agenzia potrebbe
voler impostare un limite mediante una variabile di ambiente" — no limit unless the agency sets
one. This service runs with the agency's limit unset; only the transport's body limit applies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.contacts.app import create_runtime
from services.contacts.settings import UPLOAD_BODY_MAX_BYTES, ContactsSettings
from tests.conftest import Infra
from tests.integration.contacts.test_contacts_service import (
    CASE,
    CASE_WORKER,
    CONTACTS_EVENTS,
    Contacts,
    actor_header,
    free_port,
)
from tests.support import Mesh, bearer, payloads, types
from tests.unit.contacts import contacts_samples as samples

MIB = 1024 * 1024
OLD_DEFAULT = 10 * MIB  # the limit the service used to set by default


@pytest.fixture(scope="module")
async def unlimited(infra: Infra) -> AsyncIterator[Contacts]:
    mesh = Mesh(infra.bootstrap_servers, infra.mongodb_url, infra.kafka)
    port = free_port()
    settings = mesh.settings(
        ContactsSettings, api_port=port, http_port=free_port(), quarantine_interval_s=0.2
    )
    runtime = await mesh.start(create_runtime(settings))
    officer = bearer(CASE_WORKER.officer_id, CASE_WORKER.role)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60.0, headers=officer)
    try:
        yield Contacts(mesh, runtime, client)
    finally:
        await client.aclose()
        await mesh.close()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url)
        with contextlib.suppress(Exception):
            await mongo.drop_database(settings.mongodb_database)
        await mongo.close()


async def test_with_no_agency_limit_a_large_upload_is_accepted_and_only_the_transports_limit_refuses(
    unlimited: Contacts,
) -> None:
    csid = "100000021"
    settings = unlimited.runtime.settings
    assert isinstance(settings, ContactsSettings) and settings.attachment_max_bytes == 0, "unset: none"

    async def post(name: str, size: int) -> httpx.Response:
        content = samples.png() + b"\0" * (size - len(samples.png()))
        return await unlimited.http.post(
            f"/customers/{csid}/attachments",
            params={"case_id": CASE},
            files={"file": (name, content, "image/png")},
            headers=actor_header(),
        )

    large = await post("scan.png", OLD_DEFAULT + MIB)
    beyond = await post("huge.png", UPLOAD_BODY_MAX_BYTES + MIB)

    assert large.status_code == 201, large.text
    assert large.json()["size_bytes"] == OLD_DEFAULT + MIB
    assert beyond.status_code == 413
    assert beyond.json()["reason_code"] == "ATTACHMENT_TOO_LARGE"
    assert f"body limit of {UPLOAD_BODY_MAX_BYTES} bytes" in beyond.json()["reason"]
    records = await unlimited.records(CONTACTS_EVENTS, csid, 2)
    for _ in range(20):  # the quarantine may release the large file before the refusal is published
        if {"AttachmentRefused", "AttachmentUploaded"} <= set(types(records)):
            break
        await asyncio.sleep(0.5)
        records = await unlimited.records(CONTACTS_EVENTS, csid, len(records) + 1)
    (uploaded,) = payloads(records, "AttachmentUploaded")
    assert uploaded["size_bytes"] == OLD_DEFAULT + MIB
    (refused,) = payloads(records, "AttachmentRefused")
    assert refused["reason_code"] == "ATTACHMENT_TOO_LARGE"
    assert refused["size_bytes"] > UPLOAD_BODY_MAX_BYTES, "the size received"
