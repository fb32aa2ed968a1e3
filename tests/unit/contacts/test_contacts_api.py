"""The contacts endpoints behind verified tokens (issue 16), on the in-memory twin of the store:
who may read what, privilege from the token's claims, malformed input answered 4xx, and an upload
that fails leaving no file in the file store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest

from contracts.base import Actor, Role
from contracts.catalogue.contacts import AddNote
from contracts.envelope import Envelope
from kit.http import api_app
from kit.identity import Verifier, development_token
from kit.memory import forget, memory_database
from kit.processing import Handler, Outcome, one_message
from kit.spec import handler
from services.contacts.api import ContactsApi
from services.contacts.app import ContactsFacts
from services.contacts.settings import ContactsSettings
from services.contacts.spec import SPEC
from services.contacts.store import ContactsStore
from tests.unit.contacts import contacts_samples as samples

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CSID = "100000042"
CASE_WORKER = Actor(
    officer_id="EMP1", role=Role.CASE_WORKER, first_name="Priya", site="Hobart", team="T1", extension="4471"
)


@dataclass
class Contacts:
    http: httpx.AsyncClient
    database: Any
    store: ContactsStore
    handle: Handler

    async def stored_files(self) -> int:
        count: int = await self.database["attachment_files.files"].count_documents({})
        return count

    async def note(self, level: int) -> str:
        note_id = uuid.uuid4()
        command = AddNote(
            actor=CASE_WORKER.model_copy(update={"role": Role.SERVICE_MANAGER}),
            note_id=note_id,
            sensitivity_level=level,
            text=f"level {level} text",
        )
        sent = Envelope.wrap(command, csid=CSID, producer="test", occurred_at=NOW)
        assert await self.handle(sent, command, NOW) is Outcome.APPLIED
        return str(note_id)


HandleWrapper = Callable[[Handler], Handler]


async def make_contacts(wrap: HandleWrapper | None = None, max_bytes: int = 4096) -> tuple[Contacts, str]:
    url = f"memory:{uuid.uuid4().hex}"
    settings = ContactsSettings(mongodb_url=url, attachment_max_bytes=max_bytes)
    database = memory_database(url, settings.mongodb_database)
    store = ContactsStore(cast(Any, database))
    facts = ContactsFacts(store, settings)
    handle = one_message(handler(SPEC, store.aggregates, settings, facts, barrier=facts.reads_aggregates))
    api = ContactsApi(store, wrap(handle) if wrap else handle, settings, lambda: NOW, lambda: None)
    app = api_app(api.routes(), Verifier.from_settings(settings))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://contacts")
    return Contacts(http, database, store, handle), url


@pytest.fixture
async def contacts() -> AsyncIterator[Contacts]:
    made, url = await make_contacts()
    yield made
    await made.http.aclose()
    forget(url)


def token(officer_id: str, *roles: Role, privilege: int | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {development_token(officer_id, roles, privilege=privilege)}"}


def uploader(actor: Actor = CASE_WORKER, *roles: Role) -> dict[str, str]:
    return {**token(actor.officer_id, *(roles or (actor.role,))), "X-Casemesh-Actor": actor.model_dump_json()}


async def pdf_upload(contacts: Contacts, csid: str, headers: dict[str, str]) -> httpx.Response:
    return await contacts.http.post(
        f"/customers/{csid}/attachments",
        files={"file": ("payslip.pdf", samples.pdf(), "application/pdf")},
        headers=headers,
    )


READS = [
    "/communications",
    "/notes",
    f"/notes/{uuid.uuid4()}",
    "/incidents",
    "/attachments",
    f"/attachments/{uuid.uuid4()}",
    f"/attachments/{uuid.uuid4()}/content",
]


async def test_every_contacts_endpoint_is_401_without_a_token(contacts: Contacts) -> None:
    for path in READS:
        answer = await contacts.http.get(f"/customers/{CSID}{path}")
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["reason_code"] == "UNAUTHENTICATED"
    refused = await pdf_upload(contacts, CSID, {"X-Casemesh-Actor": CASE_WORKER.model_dump_json()})
    assert refused.status_code == 401
    assert await contacts.stored_files() == 0


async def test_a_notes_readers_privilege_is_the_tokens_claim_else_the_highest_of_its_roles(
    contacts: Contacts,
) -> None:
    note_id = await contacts.note(level=4)
    path = f"/customers/{CSID}/notes"

    as_case_worker = await contacts.http.get(path, headers=token("EMP1", Role.CASE_WORKER))  # role: 3
    assert as_case_worker.json()["withheld"] == 1
    refused = await contacts.http.get(f"{path}/{note_id}", headers=token("EMP1", Role.CASE_WORKER))
    assert refused.status_code == 403
    assert refused.json()["reason_code"] == "INSUFFICIENT_PRIVILEGE"

    claimed = token("EMP1", Role.CASE_WORKER, privilege=4)
    assert (await contacts.http.get(path, headers=claimed)).json()["withheld"] == 0
    assert (await contacts.http.get(f"{path}/{note_id}", headers=claimed)).json()["text"] == "level 4 text"

    two_roles = token("EMP3", Role.CSO, Role.TEAM_LEADER)  # 2 and 4: the higher counts
    assert (await contacts.http.get(path, headers=two_roles)).json()["withheld"] == 0

    # The header callers once set is no longer believed.
    spoofed = {**token("EMP2", Role.CSO), "X-Casemesh-Privilege": "5"}
    assert (await contacts.http.get(path, headers=spoofed)).json()["withheld"] == 1


async def test_a_claim_lower_than_the_roles_privilege_is_what_counts(contacts: Contacts) -> None:
    await contacts.note(level=3)
    headers = token("EMP1", Role.SERVICE_MANAGER, privilege=2)
    assert (await contacts.http.get(f"/customers/{CSID}/notes", headers=headers)).json()["withheld"] == 1


@pytest.mark.parametrize("limit", ["²", "³", "¹⁰", "\u0663"])
async def test_superscript_and_other_non_ascii_digits_in_limit_are_400(
    contacts: Contacts, limit: str
) -> None:
    answer = await contacts.http.get(
        f"/customers/{CSID}/communications", params={"limit": limit}, headers=token("EMP1", Role.CSO)
    )
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "INVALID_PARAMETER"


async def test_a_superscript_privilege_level_on_upload_is_400_and_stores_nothing(contacts: Contacts) -> None:
    answer = await contacts.http.post(
        f"/customers/{CSID}/attachments",
        params={"required_privilege_level": "²"},
        files={"file": ("payslip.pdf", samples.pdf(), "application/pdf")},
        headers=uploader(),
    )
    assert answer.status_code == 400
    assert await contacts.stored_files() == 0


@pytest.mark.parametrize("path", READS)
async def test_a_csid_with_a_trailing_newline_is_400_on_every_read(contacts: Contacts, path: str) -> None:
    answer = await contacts.http.get(f"/customers/{CSID}%0A{path}", headers=token("EMP1", Role.CSO))
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "INVALID_CSID"


async def test_a_csid_with_a_trailing_newline_is_400_on_upload_and_stores_nothing(contacts: Contacts) -> None:
    answer = await pdf_upload(contacts, f"{CSID}%0A", uploader())
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "INVALID_CSID"
    assert await contacts.stored_files() == 0


async def test_a_malformed_note_or_attachment_id_is_400(contacts: Contacts) -> None:
    for path in ("/notes/not-a-uuid", f"/attachments/{{{uuid.uuid4()}}}", f"/notes/{uuid.uuid4()}%0A"):
        answer = await contacts.http.get(f"/customers/{CSID}{path}", headers=token("EMP1", Role.CSO))
        assert answer.status_code == 400, path


async def test_an_accepted_upload_stores_its_file_once_and_lists_it_as_downloadable_by_privilege(
    contacts: Contacts,
) -> None:
    answer = await pdf_upload(contacts, CSID, uploader())
    assert answer.status_code == 201, answer.text
    assert await contacts.stored_files() == 1
    listing = await contacts.http.get(f"/customers/{CSID}/attachments", headers=token("EMP1", Role.CSO))
    [entry] = listing.json()["attachments"]
    assert entry["uploaded_by"]["officer_id"] == "EMP1"
    assert entry["downloadable"] is False  # quarantined until checked


async def test_an_upload_without_the_actor_header_is_400_and_stores_nothing(contacts: Contacts) -> None:
    answer = await pdf_upload(contacts, CSID, token("EMP1", Role.CASE_WORKER))
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "ACTOR_REQUIRED"
    assert await contacts.stored_files() == 0


@pytest.mark.parametrize(
    ("actor", "roles"),
    [
        (CASE_WORKER.model_copy(update={"officer_id": "EMP9"}), (Role.CASE_WORKER,)),  # another officer
        (
            CASE_WORKER.model_copy(update={"role": Role.SERVICE_MANAGER}),
            (Role.CASE_WORKER,),
        ),  # a role not held
    ],
)
async def test_an_upload_whose_actor_disagrees_with_the_token_is_403_and_stores_nothing(
    contacts: Contacts, actor: Actor, roles: tuple[Role, ...]
) -> None:
    headers = {**token("EMP1", *roles), "X-Casemesh-Actor": actor.model_dump_json()}
    answer = await pdf_upload(contacts, CSID, headers)
    assert answer.status_code == 403
    assert answer.json()["reason_code"] == "ACTOR_MISMATCH"
    assert await contacts.stored_files() == 0


async def test_an_upload_with_an_unreadable_actor_header_is_400(contacts: Contacts) -> None:
    headers = {**token("EMP1", Role.CASE_WORKER), "X-Casemesh-Actor": '{"officer_id": "EMP1"'}
    answer = await pdf_upload(contacts, CSID, headers)
    assert answer.status_code == 400
    assert answer.json()["reason_code"] == "INVALID_ACTOR"


async def test_an_upload_the_store_fails_to_record_leaves_no_file() -> None:
    def failing(handle: Handler) -> Handler:
        async def fail(envelope: Envelope, message: Any, now: datetime) -> Outcome:
            raise RuntimeError("the store is down")

        return fail

    contacts, url = await make_contacts(failing)
    try:
        answer = await pdf_upload(contacts, CSID, uploader())
        assert answer.status_code == 500
        assert answer.json() == {
            "reason_code": "INTERNAL_ERROR",
            "reason": "The request could not be completed.",
        }
        assert await contacts.stored_files() == 0
    finally:
        await contacts.http.aclose()
        forget(url)


async def test_a_cancelled_upload_leaves_no_file() -> None:
    recording = asyncio.Event()

    def hanging(handle: Handler) -> Handler:
        async def hang(envelope: Envelope, message: Any, now: datetime) -> Outcome:
            recording.set()
            await asyncio.Event().wait()
            raise AssertionError("never reached")

        return hang

    contacts, url = await make_contacts(hanging)
    try:
        request = asyncio.create_task(pdf_upload(contacts, CSID, uploader()))
        await asyncio.wait_for(recording.wait(), timeout=5)
        assert await contacts.stored_files() == 1  # the file went in before the record
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        for _ in range(50):
            if await contacts.stored_files() == 0:
                break
            await asyncio.sleep(0.01)
        assert await contacts.stored_files() == 0
    finally:
        await contacts.http.aclose()
        forget(url)


async def test_the_actor_header_is_read_as_utf8_json(contacts: Contacts) -> None:
    zoe = CASE_WORKER.model_copy(update={"first_name": "Zoë"})
    headers = {**token("EMP1", Role.CASE_WORKER), "X-Casemesh-Actor": zoe.model_dump_json().encode()}
    answer = await pdf_upload(contacts, CSID, cast(Any, headers))
    assert answer.status_code == 201, answer.text
    listing = await contacts.http.get(f"/customers/{CSID}/attachments", headers=token("EMP1", Role.CSO))
    assert listing.json()["attachments"][0]["uploaded_by"]["first_name"] == "Zoë"
