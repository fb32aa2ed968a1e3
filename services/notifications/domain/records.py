"""The MSP record's state (issue 20 item 1; seed 002 step 4 "Record the result of the customer
contact in the MSP record"): what the customer's aggregate keeps of each Managed Service Plan."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.catalogue.channels import Recipient
from contracts.catalogue.msp import ChannelAccess, MSPStatus, ServiceChannel
from contracts.catalogue.notifications import ContactCardKind, MSPContactStep

#: While an MSP is in these states its restrictions apply.
IN_FORCE = frozenset({MSPStatus.PROVISIONAL, MSPStatus.ACTIVE, MSPStatus.UNDER_REVIEW})
CLOSED = frozenset({MSPStatus.EXPIRED, MSPStatus.ENDED})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MspCard(_Frozen):
    """Seed 002 step 1: "provide contact details. For example One Main Contact (OMC), Personalised
    Services Service Officer (PSSO) or urgent query voicemail number"."""

    kind: ContactCardKind
    first_name: str
    phone_number: str
    urgent_voicemail: str | None = None


class MspRestriction(_Frozen):
    """Seed 002 step 1: "how the customer can access services for the duration of the MSP"."""

    channel: ServiceChannel
    access: ChannelAccess
    conditions: str | None = None


class MspApproval(_Frozen):
    request_id: str
    approved_by: str


class MspNote(_Frozen):
    note_id: str
    at: datetime
    by: str
    text: str


class MspContactResult(_Frozen):
    """Seed 002 step 4: the result of one customer contact (phone, SMS or letter)."""

    at: datetime
    step: MSPContactStep
    contacted: Recipient
    outcome: str
    delivery_id: str | None = None
    note: str | None = None


class MspLetter(_Frozen):
    """Seed 002 step 3: "Ensure that only the final approved letter is attached to the MSP"."""

    template_id: str
    template_version: int
    notification_id: str


class MspHistoryEntry(_Frozen):
    at: datetime
    what: str
    by: str | None = None
    detail: str | None = None


class MspRecord(_Frozen):
    msp_id: str
    status: MSPStatus
    provisional: bool
    reasons_summary: str
    duration_days: int
    review_after_days: int
    channel_restrictions: tuple[MspRestriction, ...]
    contact_card: MspCard
    owner_officer_id: str
    owner_team: str | None = None
    approval_stages: int = 1
    #: One per accepted stage (FerretDB stores no arrays of arrays).
    approvals: tuple[MspApproval, ...] = ()
    review_at: datetime | None = None
    expires_at: datetime | None = None
    letter: MspLetter | None = None
    notes: tuple[MspNote, ...] = ()
    results: tuple[MspContactResult, ...] = ()
    history: tuple[MspHistoryEntry, ...] = ()

    @property
    def restricts_a_channel(self) -> bool:
        return any(r.access is not ChannelAccess.ALLOWED for r in self.channel_restrictions)

    def noted(self, at: datetime, what: str, by: str | None = None, detail: str | None = None) -> MspRecord:
        entry = MspHistoryEntry(at=at, what=what, by=by, detail=detail)
        return self.model_copy(update={"history": (*self.history, entry)})
