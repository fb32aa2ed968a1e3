"""notifications service, the Managed Service Plan record (issue 20 item 1; seed 002 step 4 and
its task cards "Recording Managed Service Plan (MSP)", "Recording a Provisional Managed Service
Plan (MSP)" and "Approving a Managed Service Plan (MSP) with Service Channel Restrictions").

An MSP is proposed (or recorded as provisional), approved through the approvals service
(``RequestApproval`` with subject ``MSP`` and ``subject_id`` = the MSP id; two stages in the chain
``msp_id`` when it restricts a service channel), becomes active when its contact starts
(:class:`~contracts.catalogue.notifications.StartMSPContact`), comes under review at its review
date, and expires at the end of its duration unless a review continues or ends it. These
messages travel on the notifications topics; their refusals are :class:`MSPCommandRejected`.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from contracts.base import ACTOR_EXAMPLE, Actor, Code, Command, CommandPart, Event, Rejection, ShortText
from contracts.catalogue.notifications import CONTACT_CARD_EXAMPLE, MSP_ID, REQUEST_ID, ContactCard
from contracts.rules import absent, present, published, unique_by, when

NOTE_ID = "2e1d0c9b-8a7f-4e6d-9c5b-4a3f2e1d0c9b"


class MSPStatus(StrEnum):
    """Where an MSP is in its life."""

    PROPOSED = "PROPOSED"
    #: Task card "Recording a Provisional Managed Service Plan (MSP)": in force while approval is sought.
    PROVISIONAL = "PROVISIONAL"
    APPROVED = "APPROVED"
    ACTIVE = "ACTIVE"
    UNDER_REVIEW = "UNDER_REVIEW"
    EXPIRED = "EXPIRED"
    ENDED = "ENDED"


class ServiceChannel(StrEnum):
    """A way the customer reaches the agency, which an MSP may restrict."""

    PHONE = "PHONE"
    FACE_TO_FACE = "FACE_TO_FACE"
    MAIL = "MAIL"
    EMAIL = "EMAIL"
    ONLINE = "ONLINE"
    SMS = "SMS"


class ChannelAccess(StrEnum):
    ALLOWED = "ALLOWED"
    RESTRICTED = "RESTRICTED"  # allowed only as its conditions say
    NOT_ALLOWED = "NOT_ALLOWED"


class ChannelRestriction(CommandPart):
    """Seed 002 step 1: "how the customer can access services for the duration of the MSP"."""

    model_config = ConfigDict(
        json_schema_extra=published(
            when(
                ("access", "RESTRICTED"),
                then=present("conditions"),
                otherwise=absent("conditions"),
                rule_id="conditions-when-restricted",
                description="conditions are given when, and only when, access is RESTRICTED.",
            )
        )
    )

    channel: ServiceChannel = Field(description="The service channel.", examples=["PHONE"])
    access: ChannelAccess = Field(description="Allowed, restricted or not allowed.", examples=["RESTRICTED"])
    conditions: ShortText | None = Field(
        default=None,
        description="How the channel may be used (required when RESTRICTED).",
        examples=["Only through the One Main Contact, Tuesdays 10:00-12:00."],
    )

    @model_validator(mode="after")
    def _conditions_when_restricted(self) -> ChannelRestriction:
        if (self.access is ChannelAccess.RESTRICTED) != (self.conditions is not None):
            raise ValueError("conditions are given when, and only when, access is RESTRICTED")
        return self


RESTRICTION_EXAMPLE = {
    "channel": "PHONE",
    "access": "RESTRICTED",
    "conditions": "Only through the One Main Contact, Tuesdays 10:00-12:00.",
}


class MSPReviewOutcome(StrEnum):
    CONTINUE = "CONTINUE"
    END = "END"


class MSPEndReason(StrEnum):
    NOT_APPROVED = "NOT_APPROVED"  # the approver rejected it
    ENDED_BY_OFFICER = "ENDED_BY_OFFICER"
    ENDED_AT_REVIEW = "ENDED_AT_REVIEW"


class MSPReasonCode(StrEnum):
    """Why the notifications service refused an MSP record command."""

    UNAUTHENTICATED = "UNAUTHENTICATED"  # issue 16, as for every command
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
    UNKNOWN_MSP = "UNKNOWN_MSP"
    MSP_ALREADY_PROPOSED = "MSP_ALREADY_PROPOSED"  # the id names an MSP with other details
    # Seed 002 step 1: "Do not summarise the customer's behaviours as 'inappropriate' or
    # 'aggressive' without explaining why".
    REASONS_NOT_EXPLAINED = "REASONS_NOT_EXPLAINED"
    MSP_NOT_IN_FORCE = "MSP_NOT_IN_FORCE"  # ended or expired: nothing more can be recorded on it
    NOT_UNDER_REVIEW = "NOT_UNDER_REVIEW"  # a review outcome before the review date came
    REVIEW_AFTER_EXPIRY = "REVIEW_AFTER_EXPIRY"  # review_after_days is later than duration_days


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


class ProposeMSP(Command):
    """Propose an MSP (or record a provisional one) with its reasons, duration, review date,
    service channel restrictions and contact details. Approval is asked of the approvals service.

    Rule (``x-casemesh-rules``, not expressible in JSON Schema): each channel is restricted once.
    """

    model_config = ConfigDict(
        json_schema_extra=published(
            unique_by(
                "channel_restrictions",
                "channel",
                rule_id="one-restriction-per-channel",
                description="channel_restrictions names each channel once.",
            )
        )
    )

    msp_id: UUID = Field(description="New id for the MSP, chosen by the sender.", examples=[MSP_ID])
    provisional: bool = Field(
        default=False,
        description="A provisional MSP (task card) is in force at once, while its approval is sought.",
        examples=[False],
    )
    reasons_summary: ShortText = Field(
        description=(
            "Seed 002 step 1: the reasons, with the behaviours considered; a summary that is only "
            "'inappropriate' or 'aggressive' is refused REASONS_NOT_EXPLAINED."
        ),
        examples=["Repeated threatening calls to the service centre on 3 and 5 March."],
    )
    duration_days: int = Field(
        ge=1, le=730, description="How long the MSP lasts once active.", examples=[180]
    )
    review_after_days: int = Field(
        ge=1,
        le=730,
        description=(
            "Days after it becomes active when it is reviewed; later than its duration is refused "
            "REVIEW_AFTER_EXPIRY."
        ),
        examples=[150],
    )
    channel_restrictions: tuple[ChannelRestriction, ...] = Field(
        min_length=1,
        max_length=len(ServiceChannel),
        description="Seed 002 step 1: how the customer can access services for the duration.",
        examples=[[RESTRICTION_EXAMPLE]],
    )
    contact_card: ContactCard = Field(
        description="Seed 002 step 1: the OMC/PSSO and urgent voicemail numbers.",
        examples=[CONTACT_CARD_EXAMPLE],
    )

    @model_validator(mode="after")
    def _one_restriction_per_channel(self) -> ProposeMSP:
        channels = [r.channel for r in self.channel_restrictions]
        if len(set(channels)) != len(channels):
            raise ValueError("channel_restrictions names each channel once")
        return self


class AddMSPNote(Command):
    """Seed 002 step 3: "the letter may be hand delivered by the local Police … Record this in the
    MSP notes." The note's text stays in the MSP record (read API), never on a topic."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    note_id: UUID = Field(description="New id for the note.", examples=[NOTE_ID])
    text: ShortText = Field(
        description="The note.", examples=["Letter hand-delivered by local police on 12 March."]
    )


class RecordMSPReview(Command):
    """The review's outcome: continue for a further duration, or end the MSP."""

    model_config = ConfigDict(
        json_schema_extra=published(
            when(
                ("outcome", "CONTINUE"),
                then=present("further_days"),
                otherwise=absent("further_days"),
                rule_id="further-days-when-continued",
                description="further_days is given when, and only when, the outcome is CONTINUE.",
            )
        )
    )

    msp_id: UUID = Field(description="The MSP under review.", examples=[MSP_ID])
    outcome: MSPReviewOutcome = Field(description="Continue or end.", examples=["CONTINUE"])
    further_days: int | None = Field(
        default=None,
        ge=1,
        le=730,
        description="For CONTINUE: days from now until it next expires (reviewed as before).",
        examples=[90],
    )
    reason: ShortText = Field(description="Why.", examples=["Contact through the OMC remains needed."])

    @model_validator(mode="after")
    def _days_for_continue(self) -> RecordMSPReview:
        if (self.outcome is MSPReviewOutcome.CONTINUE) != (self.further_days is not None):
            raise ValueError("further_days is given when, and only when, the outcome is CONTINUE")
        return self


class EndMSP(Command):
    """End an MSP before it expires."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    reason: ShortText = Field(description="Why.", examples=["Customer behaviour has improved."])


class StartMSPReview(Command):
    """Durable-timer command (actor ``Actor.system``): the MSP's review date has come."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    review_at: AwareDatetime = Field(
        description="The review date the timer was armed for.", examples=["2025-08-10T09:00:00+10:00"]
    )


class ExpireMSP(Command):
    """Durable-timer command (actor ``Actor.system``): the MSP's duration has run out."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    expires_at: AwareDatetime = Field(
        description="The expiry the timer was armed for.", examples=["2025-09-09T09:00:00+10:00"]
    )


COMMANDS: tuple[type[Command], ...] = (
    ProposeMSP,
    AddMSPNote,
    RecordMSPReview,
    EndMSP,
    StartMSPReview,
    ExpireMSP,
)


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


class MSPProposed(Event):
    """An MSP was proposed (PROPOSED) or recorded as provisional (PROVISIONAL)."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    status: MSPStatus = Field(description="PROPOSED or PROVISIONAL.", examples=["PROPOSED"])
    duration_days: int = Field(ge=1, description="Its duration once active.", examples=[180])
    review_after_days: int = Field(ge=1, description="When it is reviewed, once active.", examples=[150])
    channel_restrictions: tuple[ChannelRestriction, ...] = Field(
        description="The service channel restrictions.", examples=[[RESTRICTION_EXAMPLE]]
    )
    approval_stages: int = Field(
        ge=1, le=2, description="Accepted approvals it needs (two when it restricts a channel).", examples=[2]
    )
    proposed_by: Actor = Field(description="Who proposed it.", examples=[ACTOR_EXAMPLE])


class MSPApprovalStageAccepted(Event):
    """One approval stage of two accepted; the MSP waits for the next."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    request_id: UUID = Field(description="The accepted approval request.", examples=[REQUEST_ID])
    stage: int = Field(ge=1, description="The stage accepted.", examples=[1])
    stages: int = Field(ge=1, description="The stages needed.", examples=[2])


class MSPApproved(Event):
    """Every approval stage is accepted: the MSP's contact may start."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    request_id: UUID = Field(description="The approval request that completed it.", examples=[REQUEST_ID])


class MSPActivated(Event):
    """The MSP's contact started (``StartMSPContact``): it is in force until ``expires_at``."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    review_at: AwareDatetime = Field(description="Its review date.", examples=["2025-08-10T09:00:00+10:00"])
    expires_at: AwareDatetime = Field(description="When it expires.", examples=["2025-09-09T09:00:00+10:00"])


class MSPReviewStarted(Event):
    """The review date came: the review is on the owner's work list until the MSP expires."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    officer_id: Code | None = Field(
        default=None, description="The MSP's owner (who proposed it).", examples=["EMP10442"]
    )
    team: Code | None = Field(default=None, description="The owner's team.", examples=["PS-Hobart-2"])
    expires_at: AwareDatetime = Field(description="When it expires.", examples=["2025-09-09T09:00:00+10:00"])


class MSPReviewed(Event):
    """The review continued the MSP."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    review_at: AwareDatetime = Field(
        description="Its next review date.", examples=["2025-11-01T09:00:00+11:00"]
    )
    expires_at: AwareDatetime = Field(
        description="When it now expires.", examples=["2025-12-01T09:00:00+11:00"]
    )
    actor: Actor = Field(description="Who reviewed it.", examples=[ACTOR_EXAMPLE])


class MSPExpired(Event):
    """The MSP's duration ran out with no review continuing it."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])


class MSPEnded(Event):
    """The MSP ended: not approved, ended by an officer, or ended at its review."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    reason_code: MSPEndReason = Field(description="Why it ended.", examples=["ENDED_AT_REVIEW"])
    actor: Actor | None = Field(default=None, description="Who ended it.", examples=[ACTOR_EXAMPLE])


class MSPNoteAdded(Event):
    """A note was added to the MSP record (its text stays in the record)."""

    msp_id: UUID = Field(description="The MSP.", examples=[MSP_ID])
    note_id: UUID = Field(description="The note.", examples=[NOTE_ID])
    actor: Actor = Field(description="Who wrote it.", examples=[ACTOR_EXAMPLE])


class MSPCommandRejected(Rejection):
    """An MSP record command was refused."""

    reason_code: MSPReasonCode = Field(description="Why it was refused.", examples=["REASONS_NOT_EXPLAINED"])
    msp_id: UUID | None = Field(default=None, description="The MSP concerned.", examples=[MSP_ID])


EVENTS: tuple[type[Event], ...] = (
    MSPProposed,
    MSPApprovalStageAccepted,
    MSPApproved,
    MSPActivated,
    MSPReviewStarted,
    MSPReviewed,
    MSPExpired,
    MSPEnded,
    MSPNoteAdded,
    MSPCommandRejected,
)
