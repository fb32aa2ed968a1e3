"""What operators did to the mesh's dead letters (issue 18): the audit trail of ``casemesh dlq``.

Every replay of a dead letter, every reveal of one's personal data and every purge of a dead-letter
topic is published on ``casemesh.operations.audit.v1`` by the ``operator`` principal, at the moment
it happens (a replay's event follows its record onto the original topic):

* **key**: the service whose dead letters were acted on (UTF-8), so one service's operations keep
  their order;
* **value**: the event as compact UTF-8 JSON — *not* wrapped in an envelope (an operation concerns
  no one customer); headers ``message-type`` and ``schema-version``;
* nothing of the payload: coordinates, ids, the reason code and the operator's verified id only.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.base import Code, Event, Name
from contracts.catalogue.rejections import TopicName


class DeadLetterReplayed(Event):
    """An operator published a dead letter's original record to its original topic again."""

    service: Name = Field(description="The service that dead-lettered the record.", examples=["complaints"])
    deadletter_topic: TopicName = Field(
        description="Where the dead letter is.", examples=["casemesh.complaints.deadletter.v1"]
    )
    deadletter_partition: int = Field(ge=0, description="Its partition.", examples=[2])
    deadletter_offset: int = Field(ge=0, description="Its offset in that partition.", examples=[17])
    original_topic: TopicName = Field(
        description="The topic the record was first read from, and now published to again.",
        examples=["casemesh.complaints.commands.v1"],
    )
    original_partition: int = Field(ge=0, description="Its first partition.", examples=[2])
    original_offset: int = Field(ge=0, description="Its first offset.", examples=[1042])
    replayed_partition: int = Field(ge=0, description="The partition the replay landed on.", examples=[2])
    replayed_offset: int = Field(ge=0, description="The replay's offset there.", examples=[1107])
    message_id: UUID | None = Field(
        default=None,
        description="The replay's new envelope message_id; None when the record is not an envelope.",
        examples=["8f14e45f-ceea-467f-a0e6-1f4a3c2b9d10"],
    )
    replayed_from_message_id: UUID | None = Field(
        default=None,
        description="The dead-lettered envelope's message_id; None when it had no valid one.",
        examples=["0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1"],
    )
    reason_code: Code = Field(
        description="Why the record was dead-lettered (its x-reason-code).", examples=["too_large"]
    )
    identity_attached: bool = Field(
        description="Whether the replay carried an identity token the operator was given for it.",
        examples=[True],
    )
    operator_id: Name = Field(
        description="The operator, as their verified identity token says.", examples=["OPS-7"]
    )
    replayed_at: AwareDatetime = Field(description="When it was replayed.", examples=["2025-03-12T09:30:01Z"])


class DeadLetterRevealed(Event):
    """An operator was shown a dead letter's payload unmasked (its personal data)."""

    service: Name = Field(description="The service that dead-lettered the record.", examples=["complaints"])
    deadletter_topic: TopicName = Field(
        description="Where the dead letter is.", examples=["casemesh.complaints.deadletter.v1"]
    )
    deadletter_partition: int = Field(ge=0, description="Its partition.", examples=[2])
    deadletter_offset: int = Field(ge=0, description="Its offset in that partition.", examples=[17])
    operator_id: Name = Field(
        description="The operator, as their verified identity token says.", examples=["OPS-7"]
    )
    revealed_at: AwareDatetime = Field(description="When it was shown.", examples=["2025-03-12T09:30:01Z"])


class DeadLettersPurged(Event):
    """An operator deleted one partition's dead letters before an offset."""

    service: Name = Field(description="The service whose dead letters they were.", examples=["complaints"])
    deadletter_topic: TopicName = Field(
        description="The dead-letter topic.", examples=["casemesh.complaints.deadletter.v1"]
    )
    deadletter_partition: int = Field(ge=0, description="The partition.", examples=[2])
    before_offset: int = Field(
        ge=0, description="Every record before this offset is gone (its new first offset).", examples=[18]
    )
    records_deleted: int = Field(ge=0, description="How many records that deleted.", examples=[5])
    operator_id: Name = Field(
        description="The operator, as their verified identity token says.", examples=["OPS-7"]
    )
    purged_at: AwareDatetime = Field(description="When they were deleted.", examples=["2025-03-12T09:30:01Z"])


MESSAGES: tuple[type[Event], ...] = (DeadLetterReplayed, DeadLetterRevealed, DeadLettersPurged)
