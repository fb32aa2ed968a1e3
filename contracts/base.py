"""Building blocks shared by every message: constrained text, the CSID, Message/Command/Event, Actor.

Rules (issue 3, section 1):

* **Commands** are requests *into* a service. Imperative names (``AssignCustomerToPS``), strict:
  unknown fields are refused, nothing is coerced (``"5"`` is not an int), every string and
  every list has a length limit, and every command names its :class:`Actor`.
* **Events** are facts a service publishes. Past-tense names (``CustomerAssignedToPS``); they
  ignore unknown fields so an older consumer keeps working when a producer adds a field.
* **Refusals** are events named ``…Rejected`` that subclass :class:`Rejection`; each service
  narrows ``reason_code`` to its own ``str`` enum.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import to_json

from contracts.errors import SchemaViolation

# --------------------------------------------------------------------------------------------
# Constrained scalar types
# --------------------------------------------------------------------------------------------

#: Child Support Identifier — the customer key. Every envelope carries one and it is the Kafka
#: message key, so all of one customer's messages stay in order on one partition.
CSID = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6,12}$", max_length=12),
    Field(
        description="Child Support Identifier (CSID) of the customer: 6-12 digits.", examples=["123456789"]
    ),
]

#: A short identifier or code value from a configurable list (issue codes, areas, template ids).
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
#: A person's first name, a site, a team — anything name-like.
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
#: A reason, a summary, a one-paragraph free text.
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
#: Long free text: notes, details, rendered letter bodies.
LongText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
#: A phone number as dialled: optional leading +, then 6-15 digits.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{6,15}$", max_length=16)]
#: An e-mail address (structural check only; deliverability is the channel's business).
EmailAddress = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$", max_length=254)
]
#: A phone extension: digits only.
Extension = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,10}$", max_length=10)]
#: The name of a message type, e.g. ``AssignCustomerToPS``.
MessageTypeName = Annotated[str, StringConstraints(min_length=1, max_length=100)]

#: Identifiers are UUIDs when Casemesh mints them and ``Code`` when they come from elsewhere.
Identifier = UUID | Code


# --------------------------------------------------------------------------------------------
# Message base classes
# --------------------------------------------------------------------------------------------


class Message(BaseModel):
    """Base of every payload. ``MESSAGE_TYPE`` defaults to the class name."""

    MESSAGE_TYPE: ClassVar[str] = "Message"
    #: Raise this when a change is incompatible (field removed or renamed, type narrowed, new
    #: required field) — the snapshot test in ``tests/unit/contracts`` enforces it.
    SCHEMA_VERSION: ClassVar[int] = 1
    #: Values that replace the fields' first examples in this message's published example, where
    #: those alone would not make a message its service accepts (e.g. the role that may send it).
    #: Read from the class itself, never inherited.
    EXAMPLE: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "MESSAGE_TYPE" not in cls.__dict__:
            cls.MESSAGE_TYPE = cls.__name__

    @classmethod
    def build(cls, **values: Any) -> Self:
        """Build this message from plain values, by the same rules as the wire.

        ISO-8601 strings for dates, times and UUIDs, enum values as strings (``"CSO"``), nested
        models as dicts — or the typed values themselves. It validates exactly as a consumer's
        :func:`~contracts.envelope.decode_payload` does (JSON mode), so a command is still strict:
        ``"5"`` is not an int and an unknown field is refused. Raises
        :class:`~contracts.errors.SchemaViolation`, whose text names fields, never values.

            RecordComplaint.build(actor={"officer_id": "EMP10442", "role": "CSO", …},
                                  complaint_id="0b6f1c0e-…", received_at="2025-03-12T09:30:00+11:00", …)
        """
        try:
            return cls.model_validate_json(to_json(values))
        except ValidationError as exc:
            raise SchemaViolation.from_validation_error(cls.MESSAGE_TYPE, exc) from None

    @classmethod
    def upgrade_payload(cls, from_version: int, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Turn an older version's payload into the current one, or None if that is not possible.

        Override after raising ``SCHEMA_VERSION`` so consumers can be upgraded first and still read
        the older messages in flight; by default an older version is not readable.
        """
        return None


class Role(StrEnum):
    """A staff role, as used by the seeds' work lists and approval rules."""

    CSO = "CSO"  # Customer Service Officer
    PS_SERVICE_OFFICER = "PS_SERVICE_OFFICER"  # Personalised Services Service Officer (PSSO)
    SERVICE_MANAGER = "SERVICE_MANAGER"
    TEAM_LEADER = "TEAM_LEADER"
    APPROVED_DECISION_MAKER = "APPROVED_DECISION_MAKER"  # seed 002 step 2: only they may send an MSP SMS
    SERVICE_SUPPORT_OFFICER = "SERVICE_SUPPORT_OFFICER"
    SPECIALIST_OFFICER = "SPECIALIST_OFFICER"
    COMPLAINTS_OFFICER = "COMPLAINTS_OFFICER"
    ONE_MAIN_CONTACT = "ONE_MAIN_CONTACT"  # seed 002 step 1: the customer's One Main Contact (OMC)
    CASE_WORKER = "CASE_WORKER"  # seed 004: the operator managing a case's meetings, notes, attachments
    #: A Casemesh component acting on its own (a durable timer firing). See :meth:`Actor.system`.
    SYSTEM = "SYSTEM"


class Actor(BaseModel):
    """Who asked for this: the officer's id and role, plus what staff referencing allows.

    Seed 003 table 1 step 2: "When referring to a staff member, use their first name, site,
    team and extension at the time of the interaction." A surname is never carried — there is
    no field for it and unknown fields are refused, so ``surname``/``last_name`` fail validation.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    officer_id: Code = Field(description="The officer's staff id.", examples=["EMP10442"])
    # strict=False for this one field: a role arriving as its string value (a JSON-decoded dict,
    # a stored document) is still accepted; every other Actor field stays strict.
    role: Role = Field(
        strict=False, description="The role the officer acts in for this request.", examples=["CSO"]
    )
    first_name: Name = Field(description="First name only — never a surname (seed 003).", examples=["Priya"])
    site: Name = Field(description="The officer's site at the time of the interaction.", examples=["Hobart"])
    team: Name = Field(
        description="The officer's team at the time of the interaction.", examples=["PS Team 3"]
    )
    extension: Extension = Field(description="Phone extension, digits only.", examples=["4471"])

    @classmethod
    def system(cls, component: str) -> Actor:
        """The actor of a command a Casemesh component issues itself (e.g. a durable timer)."""
        return cls(
            officer_id=f"system:{component}"[:64],
            role=Role.SYSTEM,
            first_name="Casemesh",
            site="Casemesh",
            team=component[:100] or "casemesh",
            extension="00",
        )


ACTOR_EXAMPLE: dict[str, str] = {
    "officer_id": "EMP10442",
    "role": "CSO",
    "first_name": "Priya",
    "site": "Hobart",
    "team": "PS Team 3",
    "extension": "4471",
}


class StaffReference(BaseModel):
    """A staff member as referenced in a record: first name, site, team, extension — no surname.

    Seed 003 table 1 step 2 (used where the staff member is *mentioned*, not acting).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    officer_id: Code | None = Field(default=None, description="Staff id, when known.", examples=["EMP20931"])
    first_name: Name = Field(description="First name only — never a surname (seed 003).", examples=["Sam"])
    site: Name = Field(description="Site at the time of the interaction.", examples=["Parramatta"])
    team: Name = Field(description="Team at the time of the interaction.", examples=["Mainstream 12"])
    extension: Extension = Field(description="Phone extension, digits only.", examples=["3310"])


STAFF_EXAMPLE: dict[str, str] = {
    "officer_id": "EMP20931",
    "first_name": "Sam",
    "site": "Parramatta",
    "team": "Mainstream 12",
    "extension": "3310",
}


#: Configuration of commands and of the models nested in them.
COMMAND_CONFIG = ConfigDict(extra="forbid", strict=True, str_max_length=10_000, frozen=True)
#: Configuration of events and of the models nested in them.
EVENT_CONFIG = ConfigDict(extra="ignore", frozen=True)


class CommandPart(BaseModel):
    """Base of a model nested in a command: as strict and closed as the command itself.

    A part that appears in both a command and an event is defined once as an
    :class:`EventPart` (tolerant) and narrowed for the command by a subclass that sets
    ``model_config = COMMAND_CONFIG`` (named ``…Input``).
    """

    model_config = COMMAND_CONFIG


class EventPart(BaseModel):
    """Base of a model nested in an event: tolerant of unknown fields, like the event."""

    model_config = EVENT_CONFIG


class Command(Message):
    """A request into a service: strict, closed, bounded, and always with an actor."""

    model_config = COMMAND_CONFIG

    actor: Actor = Field(description="The officer (or component) asking for this.", examples=[ACTOR_EXAMPLE])


class Event(Message):
    """A fact a service publishes. Tolerates unknown fields so older consumers keep working."""

    model_config = EVENT_CONFIG


class Rejection(Event):
    """Base of every business refusal (``…Rejected``): the sender learns what was refused and why.

    Published on the refusing service's events topic, keyed by the refused message's CSID, with
    ``causation_id`` = the refused message's id.
    """

    # The decider cannot know the envelope; the service kit fills these two from the refused
    # message's envelope before the event is stored, so on the wire they are always present.
    rejected_message_id: UUID | None = Field(
        default=None,
        description="message_id of the refused command.",
        examples=["0b6f1c0e-4a51-4d8e-9a43-64f0a0b4a3b1"],
    )
    rejected_message_type: MessageTypeName | None = Field(
        default=None, description="Message type of the refused command.", examples=["AssignCustomerToPS"]
    )
    reason_code: str = Field(description="Machine-readable refusal reason.", examples=["INVALID_STATE"])
    reason: ShortText = Field(
        description="Human explanation, free of personal data.",
        examples=["The customer is already in Personalised Services."],
    )
    attempted_by: Actor | None = Field(
        default=None,
        description="The actor of the refused command (audit of segregation-of-duties refusals).",
        examples=[ACTOR_EXAMPLE],
    )
