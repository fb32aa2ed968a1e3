"""Background work of the contacts service: checking quarantined attachments (issue 7)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime

from kit.loops import Periodic
from kit.processing import Clock, Handler, Outcome
from services.contacts import filetypes
from services.contacts.domain import (
    CONTACTS_NAMESPACE,
    AttachmentState,
    QuarantineCheck,
    quarantine_verdict,
    sha256_hex,
)
from services.contacts.spec import internal_envelope
from services.contacts.store import ContactsStore


class QuarantineChecker:
    """Checks every quarantined attachment, woken after each upload and on a timer (which also
    retries those whose stored copy could not be read)."""

    def __init__(
        self,
        store: ContactsStore,
        handle: Handler,
        producer: str,
        clock: Clock,
        interval_s: float,
        on_change: Callable[[], None],
    ) -> None:
        self.store = store
        self.handle = handle
        self.producer = producer
        self.clock = clock
        self.interval_s = interval_s
        self.on_change = on_change
        self._loop = Periodic("quarantine_check", self.check_once, interval_s)

    def wake(self) -> None:
        self._loop.wake()

    async def check(self, attachment: AttachmentState, now: datetime) -> Outcome:
        """Issue 7: run the checks on a quarantined attachment; release it or refuse it.

        The check of one attachment has one message id, so replicas checking the same one at
        once apply it once. A stored copy that cannot be read (or reads back different) stays
        quarantined and is checked again later.
        """
        if attachment.storage_ref is None or attachment.media_type is None:
            return Outcome.IGNORED
        content = await self.store.files.get(attachment.storage_ref)
        if content is None or sha256_hex(content) != attachment.sha256:
            return Outcome.IGNORED
        # A hostile file may take seconds to walk: off the event loop, so consuming goes on.
        findings = await asyncio.to_thread(filetypes.inspect, content, attachment.media_type)
        verdict = quarantine_verdict(findings)
        check = QuarantineCheck(
            attachment_id=attachment.attachment_id,
            refusal=verdict[0] if verdict else None,
            reason=verdict[1] if verdict else None,
        )
        envelope = internal_envelope(
            "CheckQuarantinedAttachment",
            attachment.csid,
            now,
            self.producer,
            message_id=uuid.uuid5(CONTACTS_NAMESPACE, f"quarantine-check:{attachment.attachment_id}"),
            correlation_id=attachment.upload_message_id,
            payload={"attachment_id": str(attachment.attachment_id)},
        )
        outcome = await self.handle(envelope, check, now)
        if verdict is not None and outcome is Outcome.APPLIED:
            # A refused file is not kept: only its audit record (AttachmentRefused) remains.
            await self.store.files.delete(attachment.storage_ref)
        return outcome

    async def check_once(self) -> int:
        changed = 0
        for attachment in await self.store.quarantined():
            outcome = await self.check(attachment, self.clock())
            if outcome is Outcome.APPLIED:
                changed += 1
        if changed:
            self.on_change()
        return changed

    async def run(self) -> None:
        """Until cancelled: a failed round (the store away) is tried again on the next one."""
        await self._loop.run()
