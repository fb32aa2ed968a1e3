"""Every command's published example is one its service accepts, and its answers are documented.

Each example (``contracts.export.example_payload``, the AsyncAPI example) goes through the wire
format and the real decoder, then through its service's decider after the messages that put the
customer in the state the command is for (earlier examples, or facts from other services). The
decider must not refuse it, and everything it answers on its events topic must be listed in
``contracts.answers.ANSWERS`` for that command.

Timer commands (``Actor.system``: a service sends them to itself, with ids it minted) are only
decoded here: no upstream sender can send a valid one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from contracts.answers import ANSWERS, RESERVED_REASON_CODES, UPLOAD_REASON_CODES
from contracts.base import Message, Rejection
from contracts.catalogue import COMMANDS, EVENTS
from contracts.catalogue.approvals import ApprovalAccepted, RequestApproval, SubjectType
from contracts.catalogue.complaints import RecordComplaint, RecordIssueOutcome
from contracts.catalogue.customers import CustomerContactDetailsChanged, CustomerRegistered
from contracts.catalogue.notifications import TEMPLATES
from contracts.catalogue.referrals import IdentifyPresentingIssue, RecordCustomerContact
from contracts.envelope import Envelope, decode_payload
from contracts.export import example_payload
from contracts.topics import TOPICS, events_topic, topic_of

NOW = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
BEFORE_THE_MEETING = datetime(2025, 3, 11, 9, 0, tzinfo=UTC)
TIMER_COMMANDS = {
    "ExpireTransferMonitoring",
    "EscalateOverdueApproval",
    "RetryDelivery",
    "CheckDeliveryReceipt",
    "DecideWaitingCommand",
    "StartMSPReview",
    "ExpireMSP",
    "CheckTaskSla",
    "StartLeaveCover",
    "EndLeaveCover",
    "CoverCustomerTasks",
}

Step = Message | Callable[[list[Any]], Message]


def wire(cls: type[Message], **changes: Any) -> Message:
    """The example (with ``changes``) as a consumer reads it off the wire."""
    message = cls.build(**{**example_payload(cls), **changes})
    envelope = Envelope.wrap(message, csid="123456789", producer="upstream", occurred_at=NOW)
    return decode_payload(Envelope.from_bytes(envelope.to_bytes()), topic_of(cls))


def accepted_by(*, request: SubjectType, **changes: Any) -> Callable[[list[Any]], Message]:
    """Approvals' acceptance of the last RequestApproval of ``request``'s subject the service sent."""

    def build(outputs: list[Any]) -> Message:
        asked = [o for o in outputs if isinstance(o, RequestApproval) and o.subject_type is request][-1]
        ids = {"request_id": asked.request_id, "subject_id": asked.subject_id, "chain_id": asked.chain_id}
        return wire(ApprovalAccepted, subject_type=request.value, **ids, **changes)

    return build


# ------------------------------------------------------------------------------------ deciders


def referrals() -> Callable[[Any, Message], tuple[Any, Sequence[Any]]]:
    from services.referrals.settings import ReferralsSettings
    from services.referrals.spec import context_of, decide

    # A deployment whose PS Team 3 (the examples' team) has the examples' PS Service Officer, and
    # whose Change of Assessment area has the examples' COA Team 1.
    settings = ReferralsSettings(
        ps_teams={"PS Team 3": ("EMP30117",)}, area_teams={"CHANGE_OF_ASSESSMENT": ("COA Team 1",)}
    )
    context = context_of(settings)
    return lambda state, message: decide(state, message, NOW, context)


def approvals() -> Callable[[Any, Message], tuple[Any, Sequence[Any]]]:
    from services.approvals.spec import decide

    return lambda state, message: decide(state, message, NOW)


def notifications() -> Callable[[Any, Message], tuple[Any, Sequence[Any]]]:
    from services.notifications.domain import DEFAULT_POLICY, NO_SHARED_NUMBERS
    from services.notifications.spec import decide

    return lambda state, message: decide(state, message, NOW, DEFAULT_POLICY, NO_SHARED_NUMBERS)


def complaints() -> Callable[[Any, Message], tuple[Any, Sequence[Any]]]:
    from services.complaints.settings import ComplaintsSettings
    from services.complaints.spec import decide

    remedies = ComplaintsSettings().remedies
    return lambda state, message: decide(state, message, NOW, remedies=remedies)


def contacts() -> Callable[[Any, Message], tuple[Any, Sequence[Any]]]:
    """The contacts service's deciders, one aggregate per kind (as its handlers route them)."""
    from contracts.catalogue.contacts import AttachmentStatus, RecordMeetingMinutes
    from services.contacts import domain, spec
    from services.contacts.settings import ContactsSettings
    from services.contacts.spec import MEETING_COMMANDS

    settings = ContactsSettings()
    # The minutes' attachment, uploaded over HTTP beforehand (uploads are not commands).
    attachment_id = example_payload(RecordMeetingMinutes)["attachment_ids"][0]
    uploaded = {
        UUID(attachment_id): domain.AttachmentSummary(
            attachment_id=attachment_id,
            filename="minutes.pdf",
            media_type="application/pdf",
            size_bytes=48213,
            status=AttachmentStatus.AVAILABLE,
        )
    }

    def privilege_of(actor: Any) -> int:
        return int(settings.role_privileges.get(actor.role.value, settings.default_role_privilege))

    def decide(states: Any, message: Message) -> tuple[Any, Sequence[Any]]:
        states = dict(states or {})
        kind = type(message).__name__
        if kind == "AssessMeetingRequirement":
            always = frozenset(settings.meeting_required_case_types)
            state, out = spec.decide_assessment(states.get("a"), message, NOW, always_required=always)
            key = "a"
        elif isinstance(message, MEETING_COMMANDS):
            state, out = spec.decide_meeting(
                states.get("m"), message, BEFORE_THE_MEETING, csid="123456789", attachments=uploaded
            )
            key = "m"
        elif kind in ("AddNote", "EditNote"):
            state, out = spec.decide_note(
                states.get("n"), message, NOW, csid="123456789", privilege_of=privilege_of
            )
            key = "n"
        else:
            state, out = spec.decide_communication(
                states.get("c"), message, NOW, csid="123456789", source_message_id=None
            )
            key = "c"
        states[key] = state
        return states, out

    return decide


def casework() -> Callable[[Any, Message], tuple[Any, Sequence[Any]]]:
    """Casework's deciders, a customer's case file holding the task the examples name (a task's id
    is minted by casework from the fact that opened it, so no upstream fact can make that one)."""
    import uuid

    from contracts.catalogue.casework import TASK_ID
    from contracts.catalogue.contacts import MeetingActionTaskCreated
    from services.casework.domain.state import CaseFile, Facts
    from services.casework.settings import CaseworkSettings
    from services.casework.spec import LEAVE_COVERS, decide

    policy = CaseworkSettings().policy()

    def facts(message: Message) -> Facts:
        return Facts(policy, NOW, uuid.uuid4(), message.MESSAGE_TYPE, "upstream", "123456789")

    action = wire(MeetingActionTaskCreated, owner="EMP10442")
    opened, _ = decide(None, action, NOW, facts(action))
    (task,) = opened.tasks.values()
    example_task = task.model_copy(update={"task_id": UUID(TASK_ID)})
    case = CaseFile(csid="123456789", tasks={TASK_ID: example_task})

    def run(state: Any, message: Message) -> tuple[Any, Sequence[Any]]:
        if type(message) in LEAVE_COVERS.rules:
            return decide(state, message, NOW, facts(message))
        return decide(state if state is not None else case, message, NOW, facts(message))

    return run


DECIDERS = {
    "casework": casework,
    "referrals": referrals,
    "approvals": approvals,
    "notifications": notifications,
    "complaints": complaints,
    "contacts": contacts,
}


# ------------------------------------------------------------------------------------ flows


def _registered() -> list[Step]:
    return [wire(CustomerRegistered)]


def _ps(upto: str) -> list[Step]:
    from contracts.catalogue import referrals as r

    steps: list[Step] = [
        *_registered(),
        wire(r.AssignCustomerToPS),
        wire(r.RecordCMP),
        wire(r.MarkCMPForApproval),
        accepted_by(request=SubjectType.CMP, monitoring_days=None),
        wire(r.CreatePSStackingDocument),
        wire(r.ReferCustomerForTransferOutOfPS),
        accepted_by(request=SubjectType.MONITORING, monitoring_days=90),
    ]
    cut = {
        "AssignCustomerToPS": 1,
        "RecordCMP": 2,
        "MarkCMPForApproval": 3,
        "CreatePSStackingDocument": 5,
        "AddPSStackingDocumentNote": 6,
        "ReferCustomerForTransferOutOfPS": 6,
        "ActionTransferOutOfPS": 8,
    }[upto]
    return steps[:cut]


def _intake(*more: str) -> list[Step]:
    from contracts.catalogue import referrals as r

    return [
        *_registered(),
        wire(RecordCustomerContact),
        wire(IdentifyPresentingIssue),
        *(wire(getattr(r, name)) for name in more),
    ]


def _two_specialised_issues() -> list[Step]:
    second = {"issue_id": "b4d0f3e2-8c7a-4b69-8f1e-2d3c4b5a6f7e", "issue_code": "PART_6A_OBJECTION"}
    return [*_intake(), wire(IdentifyPresentingIssue, **second)]


def _phone_contact() -> list[Step]:
    return [
        *_registered(),
        wire(RecordCustomerContact, channel="PHONE", intray_item_id=None, intray_category=None),
    ]


def _notifications_customer() -> list[Step]:
    return [wire(CustomerRegistered), wire(CustomerContactDetailsChanged)]


def _msp_proposed() -> list[Step]:
    from contracts.catalogue.msp import ProposeMSP

    return [*_notifications_customer(), wire(ProposeMSP)]


def _msp_under_review() -> list[Step]:
    """The example MSP restricts a channel: two approvers accept it, its contact starts, and its
    review timer fires."""
    from contracts.catalogue.msp import StartMSPReview
    from contracts.catalogue.notifications import MSP_ID, StartMSPContact
    from kit.timers import Deferred

    def approved(request_id: str, approver: str) -> Message:
        decided_by = {**example_payload(ApprovalAccepted)["decided_by"], "officer_id": approver}
        ids = {"subject_id": MSP_ID, "chain_id": MSP_ID, "request_id": request_id}
        return wire(ApprovalAccepted, subject_type="MSP", monitoring_days=None, decided_by=decided_by, **ids)

    completing = example_payload(StartMSPContact)["approval_request_id"]

    def review_due(outputs: list[Any]) -> Message:
        timers = [o.message for o in outputs if isinstance(o, Deferred)]
        return [t for t in timers if isinstance(t, StartMSPReview)][-1]

    return [
        *_msp_proposed(),
        approved("0e9d8c7b-6a5f-4e4d-8c2b-1a0f9e8d7c6b", "EMP40001"),
        approved(completing, "EMP40002"),
        wire(StartMSPContact),
        review_due,
    ]


FLOWS: dict[str, Callable[[], list[Step]]] = {
    # referrals: Personalised Services
    **{
        name: (lambda name=name: _ps(name))
        for name in (
            "AssignCustomerToPS",
            "RecordCMP",
            "MarkCMPForApproval",
            "CreatePSStackingDocument",
            "AddPSStackingDocumentNote",
            "ReferCustomerForTransferOutOfPS",
            "ActionTransferOutOfPS",
        )
    },
    # referrals: the CMA intake, then ownership and locking
    "RecordCustomerContact": _registered,
    "IdentifyPresentingIssue": lambda: _intake()[:-1],
    "WarmTransferContact": _phone_contact,
    **{
        name: _intake
        for name in (
            "RecordExternalReferral",
            "RecategoriseIntrayItem",
            "RecordIdentifiedError",
            "RecordIncomeCheck",
            "RecordPaymentsAndDebtsCheck",
            "RecordPaymentArrangement",
            "RecordSelfServicePromotion",
            "FinaliseIssue",
        )
    },
    "LockCustomer": _registered,
    "UnlockCustomer": lambda: [*_registered(), wire_referrals("LockCustomer")],
    "ReleaseParentLock": lambda: [*_registered(), wire_referrals("LockCustomer")],
    "TransferCustomerOwnership": _two_specialised_issues,
    "EscalateOwnershipDispute": _two_specialised_issues,
    "ResolveOwnershipDispute": lambda: [
        *_two_specialised_issues(),
        wire_referrals("EscalateOwnershipDispute"),
    ],
    "CloseIntrayItem": lambda: _intake("FinaliseIssue"),
    "RecordMinimumCollectionActivityOutcome": lambda: _intake(
        "RecordIncomeCheck", "RecordPaymentsAndDebtsCheck"
    ),
    "FinaliseInteraction": lambda: _intake(
        "RecordIncomeCheck", "RecordPaymentsAndDebtsCheck", "RecordMinimumCollectionActivityOutcome"
    ),
    # approvals
    "RequestApproval": list,
    "RecordApprovalDecision": lambda: [wire(RequestApproval)],
    "WithdrawApprovalRequest": lambda: [wire(RequestApproval)],
    "CloseApprovalSubject": lambda: [wire(RequestApproval)],
    # notifications
    "StartMSPContact": lambda: [
        *_notifications_customer(),
        wire(
            ApprovalAccepted,
            subject_type="MSP",
            subject_id="9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            chain_id="9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            monitoring_days=None,
        ),
    ],
    "SendSms": _notifications_customer,
    "ProposeMSP": _notifications_customer,
    "AddMSPNote": _msp_proposed,
    "EndMSP": _msp_proposed,
    "RecordMSPReview": _msp_under_review,
    "SendLetter": _notifications_customer,
    "SendEmail": _notifications_customer,
    # complaints
    "RecordComplaint": list,
    "RecordCompliment": list,
    **{
        name: (lambda: [wire(RecordComplaint)])
        for name in (
            "AddInvestigationStep",
            "RecordIssueOutcome",
            "RecordFinalisationSummary",
            "RecordRemedy",
        )
    },
    "FinaliseComplaint": lambda: [wire(RecordComplaint), wire(RecordIssueOutcome)],
    "RequestWrittenResponse": lambda: [wire(RecordComplaint, level=2)],
    # casework: the case file already holds the examples' task (see casework())
    "ClaimTask": list,
    "ReleaseTask": lambda: [wire_casework("ClaimTask")],
    "CompleteTask": lambda: [wire_casework("ClaimTask")],
    "ReassignTask": list,
    "AddTaskNote": list,
    "PauseTask": list,
    "ResumeTask": lambda: [wire_casework("PauseTask")],
    "ArrangeLeaveCover": list,
    # contacts
    "AssessMeetingRequirement": list,
    "ScheduleMeeting": list,
    "RespondToMeetingInvitation": lambda: [wire_contacts("ScheduleMeeting")],
    "RecordMeetingMinutes": lambda: [wire_contacts("ScheduleMeeting")],
    "IssueMeetingMinutes": lambda: [wire_contacts("ScheduleMeeting"), wire_contacts("RecordMeetingMinutes")],
    "AddNote": list,
    "EditNote": lambda: [wire_contacts("AddNote")],
    "RecordCommunication": list,
}


def wire_referrals(name: str) -> Message:
    from contracts.catalogue import referrals as r

    cls: type[Message] = getattr(r, name)
    return wire(cls)


def wire_casework(name: str) -> Message:
    from contracts.catalogue import casework as c

    cls: type[Message] = getattr(c, name)
    return wire(cls)


def wire_contacts(name: str) -> Message:
    from contracts.catalogue import contacts as c

    cls: type[Message] = getattr(c, name)
    return wire(cls)


def _service_of(command: str) -> str:
    return topic_of(command).name.split(".")[1]


ALL_COMMANDS = [cls for service in COMMANDS.values() for cls in service]


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.MESSAGE_TYPE)
def test_every_command_example_is_accepted_by_its_service_and_answered_as_documented(
    cls: type[Message],
) -> None:
    example = wire(cls)  # the published example, through the wire format and the real decoder
    assert type(example) is cls
    if cls.MESSAGE_TYPE in TIMER_COMMANDS:
        return
    service = _service_of(cls.MESSAGE_TYPE)
    decide = DECIDERS[service]()
    state: Any = None
    seen: list[Any] = []
    for step in FLOWS[cls.MESSAGE_TYPE]():
        message = step if isinstance(step, Message) else step(seen)
        state, out = decide(state, message)
        refused = [o for o in out if isinstance(o, Rejection)]
        assert not refused, f"setting up {cls.MESSAGE_TYPE}: {message.MESSAGE_TYPE} refused: {refused}"
        seen.extend(out)
    state, answers = decide(state, example)
    refusals = [(o.reason_code, o.reason) for o in answers if isinstance(o, Rejection)]
    assert not refusals, f"{cls.MESSAGE_TYPE}'s example is refused: {refusals}"
    on_events_topic = set(TOPICS[events_topic(service)].message_types)
    answered = {
        o.MESSAGE_TYPE for o in answers if isinstance(o, Message) and o.MESSAGE_TYPE in on_events_topic
    }
    documented = ANSWERS[cls.MESSAGE_TYPE]
    assert answered, f"{cls.MESSAGE_TYPE}'s example got no answer"
    assert answered <= {*documented.accepted, *documented.suppressed}, answered


def test_every_command_has_its_answers_documented_with_real_events_and_reason_codes() -> None:
    assert set(ANSWERS) == {cls.MESSAGE_TYPE for cls in ALL_COMMANDS}
    for command, answers in ANSWERS.items():
        topic = TOPICS[events_topic(answers.service)]
        assert answers.service == _service_of(command)
        for event in (
            *answers.accepted,
            *answers.suppressed,
            *([answers.refused] if answers.refused else []),
        ):
            assert event in topic.message_types, (command, event)
        if answers.refused:
            enum = topic.message_class(answers.refused).model_fields["reason_code"].annotation
            assert set(answers.reason_codes) <= {code.value for code in enum}, command  # type: ignore[union-attr]
            assert issubclass(topic.message_class(answers.refused), Rejection)


def test_every_reason_code_of_every_service_answers_some_command() -> None:
    for service, events in EVENTS.items():
        refusals = {cls.MESSAGE_TYPE: cls for cls in events if issubclass(cls, Rejection)}
        enums = {cls.model_fields["reason_code"].annotation for cls in refusals.values()}
        declared = {code for a in ANSWERS.values() if a.refused in refusals for code in a.reason_codes}
        unused = (
            {code.value for enum in enums for code in enum}
            - declared
            - {*UPLOAD_REASON_CODES, *RESERVED_REASON_CODES}
        )  # type: ignore[union-attr]
        assert not unused, (service, sorted(unused))


def test_the_published_templates_are_the_ones_the_notifications_service_ships() -> None:
    from services.notifications.templates import BUILT_IN

    shipped: dict[str, tuple[set[int], set[int], str]] = {}
    for template in BUILT_IN:
        approved, drafts, _ = shipped.setdefault(template.template_id, (set(), set(), template.channel.value))
        (approved if template.approved else drafts).add(template.version)
    published = {
        t.template_id: (set(t.approved_versions), set(t.draft_versions), t.channel.value) for t in TEMPLATES
    }
    assert published == shipped


def test_the_msp_letter_example_names_the_final_approved_template_version() -> None:
    from contracts.catalogue.notifications import StartMSPContact

    (letter,) = [t for t in TEMPLATES if t.template_id == "msp-letter"]
    payload = example_payload(StartMSPContact)
    assert payload["letter_template_id"] == "msp-letter"
    assert payload["letter_template_version"] == letter.final_approved == 2
    assert 3 in letter.draft_versions
