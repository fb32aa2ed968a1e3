"""What each command can be answered with: the events a sender reads back (issue 19).

Every answer is published on the commanding service's events topic, keyed by the command's
CSID, with ``causation_id`` = the command's ``message_id``, so a sender finds the answers to its
command by that id. A command is answered by:

* **accepted** — one or more of these facts (a command may cause several, and some only in
  some states: e.g. a lock that also assigns ownership);
* **refused** — the service's ``…Rejected`` event with one of ``reason_codes`` (approvals refuse
  a decision with ``DecisionRejected`` and any other request with ``ApprovalRequestRejected``);
* **suppressed** — for an SMS: ``SmsSuppressed`` with its ``SmsSuppressionReason`` list, when
  the send-time contact guard stops it. Not a refusal: the letter still goes out.

A message that cannot be read at all (malformed, unknown type, unsupported version, schema
violation) gets no answer here: it is dead-lettered and announced on ``casemesh.rejections.v1``
(:mod:`contracts.catalogue.rejections`).

The AsyncAPI documents list these per command (``x-casemesh-answers``); the contracts tests
check them against the services' deciders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.base import Rejection
from contracts.catalogue.msp import COMMANDS as MSP_RECORD_COMMANDS
from contracts.topics import HOME_TOPIC, TopicKind, events_topic


@dataclass(frozen=True)
class Answers:
    """The events one command can be answered with."""

    command: str
    service: str
    accepted: tuple[str, ...]
    refused: str | None
    reason_codes: tuple[str, ...]
    suppressed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "topic": events_topic(self.service),
            "accepted": list(self.accepted),
            "refused": (
                {"message": self.refused, "reason_codes": list(self.reason_codes)} if self.refused else None
            ),
            "suppressed": list(self.suppressed),
        }


def _refusal_of(service: str, command: str) -> str:
    if command in _MSP_RECORD_COMMANDS:
        return "MSPCommandRejected"
    if service == "approvals":
        return "DecisionRejected" if command == "RecordApprovalDecision" else "ApprovalRequestRejected"
    return f"{service.capitalize()}CommandRejected"


#: Issue 20 item 1: the MSP record's commands are refused with ``MSPCommandRejected``.
_MSP_RECORD_COMMANDS = frozenset(c.__name__ for c in MSP_RECORD_COMMANDS)

_TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    # referrals
    "ActionTransferOutOfPS": {
        "accepted": ("TransferOutOfPSActioned",),
        "codes": ("INVALID_STATE", "NOT_ASSIGNED_TEAM", "NOT_IN_PS", "UNKNOWN_REFERRAL"),
        "suppressed": (),
    },
    "AddPSStackingDocumentNote": {
        "accepted": ("PSStackingDocumentNoteAdded",),
        "codes": ("UNKNOWN_DOCUMENT",),
        "suppressed": (),
    },
    "AssignCustomerToPS": {
        "accepted": ("CustomerAssignedToPS", "CustomerLocked", "CustomerOwnershipAssigned"),
        "codes": (
            "ALREADY_IN_PS",
            "ALREADY_LOCKED",
            "ASSOCIATE_NOT_IN_PS",
            "INVALID_STATE",
            "NO_OFFICER_AVAILABLE",
            "OFFICER_NOT_IN_TEAM",
            "ROLE_NOT_PERMITTED",
            "UNKNOWN_CUSTOMER",
        ),
        "suppressed": (),
    },
    "CloseIntrayItem": {
        "accepted": ("IntrayItemClosed",),
        "codes": (
            "INTRAY_ISSUES_OUTSTANDING",
            "INTRAY_ITEM_CLOSED",
            "NO_ISSUES_IDENTIFIED",
            "UNKNOWN_INTRAY_ITEM",
        ),
        "suppressed": (),
    },
    "CreatePSStackingDocument": {
        "accepted": ("PSStackingDocumentCreated",),
        "codes": ("INVALID_STATE", "NOT_ASSIGNED_TEAM", "NOT_IN_PS", "ORIGIN_MISMATCH", "UNKNOWN_REFERRAL"),
        "suppressed": (),
    },
    "EscalateOwnershipDispute": {
        "accepted": ("CustomerLocked", "CustomerOwnershipAssigned", "OwnershipDisputeEscalated"),
        "codes": ("ALREADY_LOCKED", "INVALID_STATE", "NOT_LOCKED", "UNKNOWN_AREA"),
        "suppressed": (),
    },
    "ExpireTransferMonitoring": {"accepted": ("TransferMonitoringExpired",), "codes": (), "suppressed": ()},
    "FinaliseInteraction": {
        "accepted": ("InteractionFinalised",),
        "codes": ("CONTACT_FINALISED", "MCA_OUTCOME_REQUIRED", "UNKNOWN_CONTACT"),
        "suppressed": (),
    },
    "FinaliseIssue": {
        "accepted": ("CustomerLocked", "CustomerOwnershipAssigned", "CustomerUnlocked", "IssueFinalised"),
        "codes": (
            "ALREADY_LOCKED",
            "ISSUE_ALREADY_FINALISED",
            "NOT_OWNER",
            "OPTIONS_NOT_EXPLAINED",
            "UNKNOWN_ISSUE",
        ),
        "suppressed": (),
    },
    "IdentifyPresentingIssue": {
        "accepted": (
            "CustomerLocked",
            "CustomerOwnershipAssigned",
            "PresentingIssueIdentified",
            "SpecialisedIssueNoticeRequired",
            "SpecialisedIssueReferred",
            "SpecialistAreaConsultationRequested",
        ),
        "codes": (
            "ALREADY_LOCKED",
            "CONTACT_FINALISED",
            "INTRAY_ITEM_CLOSED",
            "INVALID_STATE",
            "UNKNOWN_CONTACT",
            "UNKNOWN_INTRAY_ITEM",
            "UNKNOWN_ISSUE_CODE",
        ),
        "suppressed": (),
    },
    "LockCustomer": {
        "accepted": (
            "CustomerLocked",
            "CustomerOwnershipAssigned",
            "SpecialisedIssueNoticeRequired",
            "SpecialistAreaConsultationRequested",
        ),
        "codes": (
            "UNKNOWN_CUSTOMER",
            "ALREADY_LOCKED",
        ),
        "suppressed": (),
    },
    "MarkCMPForApproval": {
        "accepted": ("CMPMarkedForApproval",),
        "codes": ("INVALID_STATE", "NOT_ASSIGNED_TEAM", "NOT_IN_PS", "UNKNOWN_REFERRAL"),
        "suppressed": (),
    },
    "RecategoriseIntrayItem": {
        "accepted": ("IntrayItemRecategorised",),
        "codes": ("INTRAY_ITEM_CLOSED", "INVALID_STATE", "UNKNOWN_INTRAY_ITEM"),
        "suppressed": (),
    },
    "RecordCMP": {
        "accepted": ("CMPRecorded",),
        "codes": (
            "INVALID_STATE",
            "NOT_ASSIGNED",
            "NOT_ASSIGNED_TEAM",
            "NOT_IN_PS",
            "REFERRAL_TYPE_MISMATCH",
            "UNKNOWN_DOCUMENT",
            "UNKNOWN_REFERRAL",
        ),
        "suppressed": (),
    },
    "RecordCustomerContact": {
        "accepted": ("CustomerContactRecorded", "IntrayItemOpened"),
        "codes": ("INVALID_STATE", "UNKNOWN_CUSTOMER"),
        "suppressed": (),
    },
    "RecordExternalReferral": {
        "accepted": ("ExternalReferralRecorded",),
        "codes": ("CONTACT_FINALISED", "UNKNOWN_CONTACT", "UNKNOWN_REFERRAL_TYPE"),
        "suppressed": (),
    },
    "RecordIdentifiedError": {
        "accepted": ("IdentifiedErrorRecorded", "OfficerFeedbackSent"),
        "codes": ("CONTACT_FINALISED", "FEEDBACK_NEEDS_OFFICER", "INVALID_STATE", "UNKNOWN_CONTACT"),
        "suppressed": (),
    },
    "RecordIncomeCheck": {
        "accepted": ("IncomeCheckRecorded",),
        "codes": ("CONTACT_FINALISED", "TAX_RETURN_COMMITMENT_REQUIRED", "UNKNOWN_CONTACT"),
        "suppressed": (),
    },
    "RecordMinimumCollectionActivityOutcome": {
        "accepted": ("MinimumCollectionActivityOutcomeRecorded",),
        "codes": ("CONTACT_FINALISED", "MCA_CHECKS_INCOMPLETE", "UNKNOWN_CONTACT"),
        "suppressed": (),
    },
    "RecordPaymentArrangement": {
        "accepted": ("PaymentArrangementRecorded",),
        "codes": (
            "CONTACT_FINALISED",
            "INVALID_AMOUNT",
            "INVALID_STATE",
            "START_DATE_IN_PAST",
            "UNKNOWN_CONTACT",
            "UNKNOWN_FREQUENCY",
        ),
        "suppressed": (),
    },
    "RecordPaymentsAndDebtsCheck": {
        "accepted": ("PaymentsAndDebtsCheckRecorded",),
        "codes": ("CONTACT_FINALISED", "UNKNOWN_CONTACT"),
        "suppressed": (),
    },
    "RecordSelfServicePromotion": {
        "accepted": ("SelfServicePromotionRecorded",),
        "codes": ("CONTACT_FINALISED", "UNKNOWN_CONTACT"),
        "suppressed": (),
    },
    "ReferCustomerForTransferOutOfPS": {
        "accepted": ("TransferOutOfPSReferred",),
        "codes": ("INVALID_STATE", "NOT_ASSIGNED_TEAM", "NOT_IN_PS", "UNKNOWN_REFERRAL"),
        "suppressed": (),
    },
    "ReleaseParentLock": {
        "accepted": ("CustomerLockReleased", "CustomerOwnershipAssigned", "CustomerUnlocked"),
        "codes": ("NOT_LOCKED",),
        "suppressed": (),
    },
    "ResolveOwnershipDispute": {
        "accepted": (
            "CustomerLocked",
            "CustomerOwnershipAssigned",
            "CustomerOwnershipTransferred",
            "OwnershipDisputeResolved",
        ),
        "codes": ("ALREADY_LOCKED", "NO_DISPUTE", "ROLE_NOT_PERMITTED", "UNKNOWN_AREA"),
        "suppressed": (),
    },
    "TransferCustomerOwnership": {
        "accepted": ("CustomerLocked", "CustomerOwnershipAssigned", "CustomerOwnershipTransferred"),
        "codes": ("ALREADY_LOCKED", "INVALID_STATE", "NOT_LOCKED", "NOT_OWNER", "UNKNOWN_AREA"),
        "suppressed": (),
    },
    "UnlockCustomer": {
        "accepted": ("CustomerLocked", "CustomerOwnershipAssigned", "CustomerUnlocked"),
        "codes": ("ALREADY_LOCKED", "NOT_LOCKED", "NOT_OWNER", "SPECIALISED_ISSUES_OUTSTANDING"),
        "suppressed": (),
    },
    "WarmTransferContact": {
        "accepted": (
            "ContactWarmTransferred",
            "CustomerLocked",
            "CustomerOwnershipAssigned",
            "CustomerOwnershipTransferred",
        ),
        "codes": (
            "ALREADY_LOCKED",
            "CONTACT_FINALISED",
            "INVALID_STATE",
            "NOT_LOCKED",
            "NOT_OWNER",
            "UNKNOWN_AREA",
            "UNKNOWN_CONTACT",
        ),
        "suppressed": (),
    },
    # casework (issue 17)
    "ClaimTask": {
        "accepted": ("TaskClaimed",),
        "codes": ("CLAIMED_BY_ANOTHER", "NOT_ASSIGNABLE", "TASK_CLOSED", "UNKNOWN_TASK"),
        "suppressed": (),
    },
    "ReleaseTask": {
        "accepted": ("TaskReleased",),
        "codes": ("NOT_CLAIMED", "TASK_CLOSED", "UNKNOWN_TASK"),
        "suppressed": (),
    },
    "CompleteTask": {
        "accepted": ("TaskCompleted",),
        "codes": ("NOT_CLAIMED", "TASK_CLOSED", "UNKNOWN_TASK"),
        "suppressed": (),
    },
    "ReassignTask": {
        "accepted": ("TaskReassigned",),
        "codes": ("TASK_CLOSED", "TEAM_LEADER_REQUIRED", "UNKNOWN_TASK"),
        "suppressed": (),
    },
    "AddTaskNote": {
        "accepted": ("TaskNoteAdded",),
        "codes": ("DUPLICATE_NOTE", "UNKNOWN_TASK"),
        "suppressed": (),
    },
    "PauseTask": {
        "accepted": ("TaskPaused",),
        "codes": ("ALREADY_PAUSED", "NOT_ASSIGNABLE", "TASK_CLOSED", "UNKNOWN_TASK"),
        "suppressed": (),
    },
    "ResumeTask": {
        "accepted": ("TaskResumed",),
        "codes": ("NOT_ASSIGNABLE", "NOT_PAUSED", "TASK_CLOSED", "UNKNOWN_TASK"),
        "suppressed": (),
    },
    "CheckTaskSla": {"accepted": ("TaskSlaWarned", "TaskSlaBreached"), "codes": (), "suppressed": ()},
    "ArrangeLeaveCover": {
        "accepted": ("LeaveCoverArranged",),
        "codes": ("DUPLICATE_COVER", "INVALID_PERIOD", "SAME_OFFICER", "TEAM_LEADER_REQUIRED"),
        "suppressed": (),
    },
    "StartLeaveCover": {"accepted": ("LeaveCoverStarted",), "codes": ("UNKNOWN_COVER",), "suppressed": ()},
    "EndLeaveCover": {"accepted": ("LeaveCoverEnded",), "codes": ("UNKNOWN_COVER",), "suppressed": ()},
    "CoverCustomerTasks": {"accepted": ("TaskReassigned",), "codes": (), "suppressed": ()},
    # approvals
    "CloseApprovalSubject": {
        "accepted": ("ApprovalSubjectClosed", "ApprovalWithdrawn"),
        "codes": ("SUBJECT_CLOSED",),
        "suppressed": (),
    },
    "EscalateOverdueApproval": {
        "accepted": ("ApprovalEscalated",),
        "codes": ("ALREADY_ESCALATED", "NOT_OVERDUE", "UNKNOWN_REQUEST"),
        "suppressed": (),
    },
    "RecordApprovalDecision": {
        "accepted": ("ApprovalAccepted", "ApprovalRejected"),
        "codes": (
            "ACTED_ON_EARLIER_STAGE",
            "ALREADY_DECIDED",
            "MONITORING_DAYS_NOT_ALLOWED",
            "MONITORING_DAYS_REQUIRED",
            "ROLE_NOT_HELD",
            "SELF_APPROVAL",
            "SUBJECT_CLOSED",
            "UNKNOWN_REQUEST",
            "WITHDRAWN",
        ),
        "suppressed": (),
    },
    "RequestApproval": {
        "accepted": ("ApprovalRequested",),
        "codes": ("DUPLICATE_REQUEST", "SUBJECT_CLOSED"),
        "suppressed": (),
    },
    "WithdrawApprovalRequest": {
        "accepted": ("ApprovalWithdrawn",),
        "codes": ("ALREADY_DECIDED", "NOT_REQUESTER", "SUBJECT_CLOSED", "UNKNOWN_REQUEST", "WITHDRAWN"),
        "suppressed": (),
    },
    # notifications
    # Issue 18: a receipt timeout — nothing when the receipt came, else the path of a failed
    # delivery (retried later, or the fallback letter dispatched, or abandoned).
    "CheckDeliveryReceipt": {
        "accepted": (
            "DeliveryTimedOut",
            "MSPContactResultRecorded",
            "NotificationDeliveryAbandoned",
            "NotificationDeliveryFailed",
            "NotificationDispatched",
            "NotificationFellBack",
        ),
        "codes": ("UNKNOWN_DELIVERY",),
        "suppressed": (),
    },
    # Issue 20 item 9: the wait of a command for its fact is over — what the command would have
    # got (sent, or refused with its reason; the refusal names the waiting command).
    "DecideWaitingCommand": {
        "accepted": ("MSPContactResultRecorded", "NotificationDispatched", "SmsRequested"),
        "codes": (
            "CONTENT_REQUIRED",
            "DUPLICATE_NOTIFICATION",
            "NO_EMAIL_ADDRESS",
            "NO_POSTAL_ADDRESS",
            "NO_REPRESENTATIVE",
            "TEMPLATE_NOT_APPROVED",
            "TEMPLATE_NOT_FOUND",
            "TEMPLATE_REQUIRED",
            "UNKNOWN_CUSTOMER",
            "UNKNOWN_MSP",
        ),
        "suppressed": ("SmsSuppressed",),
    },
    "RetryDelivery": {
        "accepted": ("MSPContactResultRecorded", "NotificationDispatched"),
        "codes": ("DELIVERY_ALREADY_FINAL", "UNKNOWN_DELIVERY"),
        "suppressed": ("SmsSuppressed",),
    },
    # Issue 20 item 9: a request before the customer fact it depends on answers
    # NotificationRequestParked, then its answer when the fact comes or the wait is over.
    "SendEmail": {
        "accepted": ("NotificationDispatched", "NotificationRequestParked"),
        "codes": (
            "CONTENT_REQUIRED",
            "DUPLICATE_NOTIFICATION",
            "NO_EMAIL_ADDRESS",
            "TEMPLATE_NOT_APPROVED",
            "TEMPLATE_NOT_FOUND",
            "UNKNOWN_CUSTOMER",
        ),
        "suppressed": (),
    },
    "SendLetter": {
        "accepted": ("NotificationDispatched", "NotificationRequestParked"),
        "codes": (
            "CONTENT_REQUIRED",
            "DUPLICATE_NOTIFICATION",
            "NO_POSTAL_ADDRESS",
            "NO_REPRESENTATIVE",
            "TEMPLATE_NOT_APPROVED",
            "TEMPLATE_NOT_FOUND",
            "TEMPLATE_REQUIRED",
            "UNKNOWN_CUSTOMER",
        ),
        "suppressed": (),
    },
    "SendSms": {
        "accepted": (
            "MSPContactResultRecorded",
            "NotificationDispatched",
            "NotificationRequestParked",
            "SmsRequested",
        ),
        "codes": (
            "CONTENT_REQUIRED",
            "DUPLICATE_NOTIFICATION",
            "TEMPLATE_NOT_APPROVED",
            "TEMPLATE_NOT_FOUND",
            "UNKNOWN_CUSTOMER",
            "UNKNOWN_MSP",
        ),
        "suppressed": ("SmsSuppressed",),
    },
    "StartMSPContact": {
        # Issue 20 item 3: no postal address starts the contact (the phone call goes ahead) and
        # answers MSPPostalAddressRequired; no phone number answers MSPSmsOptionOffered.
        "accepted": (
            "MSPActivated",
            "MSPContactResultRecorded",
            "MSPContactStarted",
            "MSPPostalAddressRequired",
            "MSPSmsOptionOffered",
            "NotificationDispatched",
        ),
        "codes": (
            "CONTENT_REQUIRED",
            "MSP_ALREADY_STARTED",
            "MSP_NOT_APPROVED",
            "TEMPLATE_NOT_APPROVED",
            "TEMPLATE_NOT_FOUND",
            "UNKNOWN_CUSTOMER",
        ),
        "suppressed": ("SmsSuppressed",),
    },
    # notifications, the MSP record (issue 20 item 1)
    "ProposeMSP": {
        "accepted": ("MSPProposed",),
        "codes": (
            "MSP_ALREADY_PROPOSED",
            "REASONS_NOT_EXPLAINED",
            "REVIEW_AFTER_EXPIRY",
            "UNKNOWN_CUSTOMER",
        ),
        "suppressed": (),
    },
    "AddMSPNote": {"accepted": ("MSPNoteAdded",), "codes": ("UNKNOWN_MSP",), "suppressed": ()},
    "RecordMSPReview": {
        "accepted": ("MSPEnded", "MSPReviewed"),
        "codes": ("MSP_NOT_IN_FORCE", "NOT_UNDER_REVIEW", "UNKNOWN_MSP"),
        "suppressed": (),
    },
    "EndMSP": {"accepted": ("MSPEnded",), "codes": ("MSP_NOT_IN_FORCE", "UNKNOWN_MSP"), "suppressed": ()},
    "StartMSPReview": {"accepted": ("MSPReviewStarted",), "codes": (), "suppressed": ()},
    "ExpireMSP": {"accepted": ("MSPExpired",), "codes": (), "suppressed": ()},
    # complaints
    "AddInvestigationStep": {
        "accepted": ("InvestigationStepAdded",),
        "codes": ("COMPLAINT_FINALISED", "DUPLICATE_INVESTIGATION_STEP", "UNKNOWN_COMPLAINT"),
        "suppressed": (),
    },
    "FinaliseComplaint": {
        "accepted": (
            "ComplaintEscalated",
            "ComplaintFinalised",
            "ComplaintRecorded",
            "StaffFeedbackPrepared",
        ),
        "codes": ("COMPLAINT_FINALISED", "OUTCOMES_INCOMPLETE", "UNKNOWN_COMPLAINT"),
        "suppressed": (),
    },
    "RecordComplaint": {
        "accepted": ("ComplaintRecorded",),
        "codes": ("COMPLAINT_ALREADY_RECORDED", "DUPLICATE_ISSUE"),
        "suppressed": (),
    },
    "RecordCompliment": {
        "accepted": ("ComplimentForwarded", "ComplimentRecorded"),
        "codes": ("DUPLICATE_COMPLIMENT", "STAFF_MEMBER_REQUIRED", "TEAM_REQUIRED"),
        "suppressed": (),
    },
    "RecordFinalisationSummary": {
        "accepted": ("ComplaintFinalisationSummaryRecorded",),
        "codes": ("COMPLAINT_FINALISED", "UNKNOWN_COMPLAINT"),
        "suppressed": (),
    },
    "RecordIssueOutcome": {
        "accepted": ("ComplaintCategoryDerived", "ComplaintIssueOutcomeRecorded"),
        "codes": (
            "COMPLAINT_FINALISED",
            "ESCALATION_NOT_ALLOWED_AT_LEVEL_2",
            "UNKNOWN_COMPLAINT",
            "UNKNOWN_ISSUE",
        ),
        "suppressed": (),
    },
    "RecordRemedy": {
        "accepted": ("ComplaintRemedyRecorded",),
        "codes": ("COMPLAINT_FINALISED", "REMEDY_NOT_IN_LIST", "UNKNOWN_COMPLAINT"),
        "suppressed": (),
    },
    "RequestWrittenResponse": {
        "accepted": ("WrittenResponseRequested",),
        "codes": ("UNKNOWN_COMPLAINT", "WRITTEN_RESPONSE_ONLY_FOR_LEVEL_2"),
        "suppressed": (),
    },
    # contacts
    "AddNote": {
        "accepted": ("NoteAdded",),
        "codes": ("INSUFFICIENT_PRIVILEGE", "NOTE_ALREADY_EXISTS"),
        "suppressed": (),
    },
    "AssessMeetingRequirement": {"accepted": ("MeetingRequirementAssessed",), "codes": (), "suppressed": ()},
    "EditNote": {
        "accepted": ("NoteEdited",),
        "codes": ("INSUFFICIENT_PRIVILEGE", "NOTE_VERSION_CONFLICT", "UNKNOWN_NOTE"),
        "suppressed": (),
    },
    "IssueMeetingMinutes": {
        "accepted": ("MeetingActionTaskCreated", "MeetingMinutesIssued"),
        "codes": (
            "UNKNOWN_MEETING",
            "ATTACHMENT_QUARANTINED",
            "MINUTES_ALREADY_ISSUED",
            "MINUTES_NOT_RECORDED",
            "UNKNOWN_ATTACHMENT",
        ),
        "suppressed": (),
    },
    "RecordCommunication": {"accepted": ("CommunicationLogged",), "codes": (), "suppressed": ()},
    "RecordMeetingMinutes": {
        "accepted": ("MeetingMinutesRecorded",),
        "codes": ("UNKNOWN_MEETING", "MINUTES_ALREADY_ISSUED", "UNKNOWN_ATTACHMENT", "UNKNOWN_ATTENDEE"),
        "suppressed": (),
    },
    "RespondToMeetingInvitation": {
        "accepted": ("MeetingInvitationAccepted", "MeetingInvitationDeclined"),
        "codes": ("UNKNOWN_MEETING", "MINUTES_ALREADY_ISSUED", "NOT_INVITED"),
        "suppressed": (),
    },
    "ScheduleMeeting": {
        "accepted": ("MeetingScheduled",),
        "codes": ("MEETING_ALREADY_SCHEDULED", "MEETING_IN_PAST"),
        "suppressed": (),
    },
}

#: Codes given by the contacts service's HTTP upload (answered by AttachmentRefused), not by a command.
UPLOAD_REASON_CODES: tuple[str, ...] = (
    "ATTACHMENT_TOO_LARGE",
    "ATTACHMENT_TYPE_UNKNOWN",
    "ATTACHMENT_UNREADABLE",
    "ATTACHMENT_TYPE_NOT_ALLOWED",
    "ATTACHMENT_TYPE_MISMATCH",
)


#: Codes any command with an ``actor`` may be refused with (issue 16, kit/identity.py): no
#: verified identity token in the ``x-casemesh-identity`` header, or one naming someone else.
IDENTITY_REASON_CODES: tuple[str, ...] = ("UNAUTHENTICATED", "ACTOR_MISMATCH")


#: Codes in a service's enum that no command is refused with today (kept: removing an enum value
#: from an event is a breaking change).
RESERVED_REASON_CODES: tuple[str, ...] = ("UNKNOWN_CASE",)


def _build() -> dict[str, Answers]:
    out: dict[str, Answers] = {}
    for command, row in _TABLE.items():
        topic = HOME_TOPIC[command]
        if topic.kind is not TopicKind.COMMANDS:
            raise ValueError(f"{command} is not a command")
        service = topic.name.split(".")[1]
        codes = row["codes"]
        if "actor" in topic.message_class(command).model_fields:
            codes = (*codes, *IDENTITY_REASON_CODES)
        out[command] = Answers(
            command=command,
            service=service,
            accepted=row["accepted"],
            refused=_refusal_of(service, command) if codes else None,
            reason_codes=codes,
            suppressed=row["suppressed"],
        )
    return out


#: ``command → Answers`` for every command in the catalogue.
ANSWERS: Mapping[str, Answers] = _build()


def is_refusal(message_type: str) -> bool:
    """Whether an answer is a refusal (a :class:`~contracts.base.Rejection`)."""
    return issubclass(HOME_TOPIC[message_type].message_class(message_type), Rejection)
