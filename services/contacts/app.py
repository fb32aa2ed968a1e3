"""The contacts service: its spec, run by the kit (topics from the contracts' registry), plus what
is its own — the read endpoints and the upload (``api``), the quarantine job (``jobs``), and the
facts its rules are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from faststream import FastStream

from contracts.catalogue.contacts import IssueMeetingMinutes, RecordMeetingMinutes
from contracts.envelope import Envelope
from kit.processing import Clock, one_message
from kit.runtime import Database, ServiceRuntime, Wiring, utc_now
from kit.spec import handler
from services.contacts.api import ContactsApi
from services.contacts.domain import Facts, Privileges
from services.contacts.jobs import QuarantineChecker
from services.contacts.settings import ContactsSettings
from services.contacts.spec import SPEC
from services.contacts.store import ContactsStore


class ContactsFacts:
    """The facts of one message: the configured rules, the envelope's customer and id, and the
    customer's attachments a minutes command refers to (read before deciding)."""

    def __init__(self, store: ContactsStore, settings: ContactsSettings) -> None:
        self.store = store
        self.configured = Facts(
            csid="",
            meeting_required_case_types=frozenset(settings.meeting_required_case_types),
            privilege_of=Privileges(settings.role_privileges, settings.default_role_privilege),
        )

    @staticmethod
    def reads_aggregates(message: Any) -> bool:
        """Minutes read the meeting and the customer's attachments, which earlier messages may change."""
        return isinstance(message, (RecordMeetingMinutes, IssueMeetingMinutes))

    async def __call__(self, envelope: Envelope, message: Any) -> Facts:
        ids: Sequence[UUID] = ()
        if isinstance(message, RecordMeetingMinutes):
            ids = message.attachment_ids
        elif isinstance(message, IssueMeetingMinutes):
            meeting = (await self.store.meetings.load(str(message.meeting_id))).state
            if meeting is not None and meeting.minutes is not None:
                ids = meeting.minutes.attachment_ids
        attachments = await self.store.attachment_summaries(envelope.csid, ids)
        return replace(
            self.configured, csid=envelope.csid, message_id=envelope.message_id, attachments=attachments
        )


def create_runtime(settings: ContactsSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
    settings = settings or ContactsSettings()

    async def build(database: Database, runtime: ServiceRuntime) -> Wiring:
        store = ContactsStore(database)
        await store.ensure_read_indexes()
        handle = handler(
            SPEC,
            store.aggregates,
            settings,
            ContactsFacts(store, settings),
            barrier=ContactsFacts.reads_aggregates,
        )
        one = one_message(handle)
        checker: QuarantineChecker | None = None

        def changed() -> None:
            if runtime.relay is not None:
                runtime.relay.notify()
            if checker is not None:
                checker.wake()

        name, interval = settings.service_name, settings.quarantine_interval_s
        checker = QuarantineChecker(store, one, name, clock, interval, changed)
        api = ContactsApi(store, one, settings, clock, changed)
        stores = list(store.aggregates.values())
        return Wiring(handle=handle, stores=stores, routes=api.routes(), background=[checker.run])

    return ServiceRuntime.for_service(settings, build=build, clock=clock)


def create_app(settings: ContactsSettings | None = None, clock: Clock = utc_now) -> FastStream:
    return create_runtime(settings, clock).app
