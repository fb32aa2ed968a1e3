"""A PS referral to transfer out (seed 000 tables 1-6): referrals and approvals, through topics only.

The Service Manager assigns the customer to a PS team; the PS Service Officer records the
Customer Management Plan and a CSO marks it for approval; the manager accepts it on their work
list (an approvals command). Later the CSO refers the customer for transfer out, the manager
accepts up to 90 days of monitoring, the CSO actions the transfer and the manager accepts it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from casemesh.demo.driver import Mesh, Story, StoryResult, officer
from casemesh.demo.runner import Chapter
from contracts.base import Role
from contracts.catalogue.approvals import Decision, RecordApprovalDecision
from contracts.catalogue.customers import CustomerRegistered
from contracts.catalogue.referrals import (
    ActionTransferOutOfPS,
    AssignCustomerToPS,
    CoreIssueInput,
    MarkCMPForApproval,
    PSReferralType,
    RecordCMP,
    ReferCustomerForTransferOutOfPS,
    TriggerDetailsInput,
)
from contracts.topics import events_topic

CSID = "300000001"
TEAM = "PS Team Hobart"
APPROVALS_EVENTS = events_topic("approvals")


MANAGER = officer("SM-10", Role.SERVICE_MANAGER, "Robin", team="PS Managers", extension="4100")
SERVICE_OFFICER = officer("PSSO-11", Role.PS_SERVICE_OFFICER, "Kim", team=TEAM, extension="4100")
CSO = officer("CSO-12", Role.CSO, "Ari", team=TEAM, extension="4100")


async def personalised_services(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "PS referral to transfer out", CSID)
    await story.send(
        CustomerRegistered(
            given_name="Jordan",
            family_name="Lee",
            is_international=False,
            is_centrelink_customer=True,
            site="Hobart",
            team="Mainstream 12",
        ),
        "The customer system registers the customer",
    )
    referral_id = uuid.uuid4()
    await story.send(
        AssignCustomerToPS(
            actor=MANAGER,
            referral_id=referral_id,
            referral_type=PSReferralType.OTHER,
            team=TEAM,
            officer_id=None,
        ),
        "The Service Manager assigns the customer to a PS team",
        expect=["CustomerAssignedToPS"],
    )
    await story.send(
        RecordCMP(
            actor=SERVICE_OFFICER,
            referral_id=referral_id,
            core_issue=CoreIssueInput(internal_referral_type=PSReferralType.OTHER),
            trigger=TriggerDetailsInput(segment="HIGH_CONFLICT", issue="Repeated escalations across areas"),
        ),
        "The PS Service Officer records the Customer Management Plan",
        expect=["CMPRecorded"],
    )
    marked = await story.send(
        MarkCMPForApproval(actor=CSO, referral_id=referral_id),
        "A CSO marks the plan for approval",
        expect=["CMPMarkedForApproval", "ApprovalRequested"],
    )
    plan = marked.effect("CMPMarkedForApproval")
    await _accept(story, plan, "The manager approves the plan", "CMPAccepted")
    referred = await story.send(
        ReferCustomerForTransferOutOfPS(actor=CSO, referral_id=referral_id, reason="Issues resolved"),
        "The CSO refers the customer for transfer out of PS",
        expect=["TransferOutOfPSReferred", "ApprovalRequested"],
        pause=timedelta(days=30),
    )
    await _accept(
        story,
        referred.effect("TransferOutOfPSReferred"),
        "The manager accepts 90 days of monitoring",
        "TransferMonitoringStarted",
        monitoring_days=90,
    )
    actioned = await story.send(
        ActionTransferOutOfPS(actor=CSO, referral_id=referral_id),
        "The CSO actions the transfer out of PS",
        expect=["TransferOutOfPSActioned", "ApprovalRequested"],
        pause=timedelta(days=14),
    )
    await _accept(
        story,
        actioned.effect("TransferOutOfPSActioned"),
        "The manager approves the transfer",
        "CustomerTransferredOutOfPS",
    )
    out = story.last("CustomerTransferredOutOfPS")
    requests = story.events("ApprovalRequested", topic=APPROVALS_EVENTS)
    return story.result(
        "transferred out of PS" if out is not None else "still in PS",
        approvals_requested=len(requests),
        approval_subjects=[r.payload.get("subject_type") for r in requests],
    )


async def _accept(
    story: Story, asked: dict[str, object], title: str, then: str, monitoring_days: int | None = None
) -> None:
    await story.send(
        RecordApprovalDecision(
            actor=MANAGER,
            request_id=uuid.UUID(str(asked["approval_request_id"])),
            decision=Decision.ACCEPT,
            reason="Considered on the Actions List",
            monitoring_days=monitoring_days,
        ),
        title,
        expect=[then],
    )


CHAPTER = Chapter(personalised_services, settings={"referrals": {"ps_teams": {TEAM: ["PSSO-11"]}}})
