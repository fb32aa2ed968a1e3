"""A customer's timeline and case summary as pure decisions: one plain-words line per fact, never
free text; the summary the facts keep current; the cap; and a replay deciding the same (issue 17)."""

from __future__ import annotations

import typing
from datetime import timedelta
from typing import Any

import pytest
from pydantic import StringConstraints

from contracts.base import Message
from contracts.catalogue import EVENTS, complaints, msp, notifications, referrals
from contracts.catalogue.casework import CoverCustomerTasks, SlaStage
from contracts.export import example_payload
from services.casework.domain.state import TIMELINE_LIMIT, ActiveCover, CaseFile, Lock
from services.casework.domain.tasks import SYSTEM
from services.casework.domain.timeline import type_in_words
from services.casework.spec import FACTS
from tests.unit.casework.helpers import (
    ALEX,
    JO,
    PRIYA,
    SAM,
    WALL_CLOCK,
    Run,
    an_id,
    check,
    claim,
    complete,
    fact,
    note,
    pause,
    reassign,
    release,
    resume,
)

SECRET = "Zebra-confidential"


def lines(case: CaseFile) -> list[tuple[str, str | None, str | None]]:
    return [(line.words, line.outcome, line.who) for line in case.timeline]


def said(case: CaseFile) -> str:
    """Everything the timeline shows, as one text."""
    return " | ".join(f"{line.words} {line.outcome} {line.who}" for line in case.timeline)


def _free_text(annotation: Any, metadata: typing.Sequence[Any] = ()) -> bool:
    """A ``ShortText`` or ``LongText`` field (contracts.base), optional or in a tuple."""
    if any(
        isinstance(m, StringConstraints) and (m.max_length or 0) >= 500 and not m.pattern for m in metadata
    ):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *meta = typing.get_args(annotation)
        return _free_text(inner, meta)
    return any(_free_text(arg) for arg in typing.get_args(annotation))


FREE_TEXT = {
    cls: [name for name, field in cls.model_fields.items() if _free_text(field.annotation, field.metadata)]
    for cls in FACTS
}
WITH_FREE_TEXT = [cls for cls, names in FREE_TEXT.items() if names]


def test_type_names_read_as_words_with_their_acronyms_kept() -> None:
    assert type_in_words("ComplaintFinalised") == "Complaint finalised"
    assert type_in_words("MSPContactStarted") == "MSP contact started"
    assert type_in_words("CustomerTransferredOutOfPS") == "Customer transferred out of PS"
    assert type_in_words("TaskSlaBreached") == "Task SLA breached"
    assert type_in_words("SmsSuppressed") == "SMS suppressed"


@pytest.mark.parametrize("cls", FACTS, ids=lambda cls: cls.__name__)
def test_every_fact_adds_one_line_in_plain_words_at_its_own_time(cls: type[Message]) -> None:
    run = Run()

    run(fact(cls), message_id=an_id("the fact"))

    line = run.case.timeline[0]
    assert line.words == type_in_words(cls.MESSAGE_TYPE)
    assert (line.at, line.message_id, line.message_type) == (run.at, an_id("the fact"), cls.MESSAGE_TYPE)
    assert line.service == next(service for service, events in EVENTS.items() if cls in events)
    assert [entry.service for entry in run.case.timeline[1:]] == ["casework"] * (
        len(run.case.timeline) - 1
    ), "only casework's own facts follow it"
    assert run.case.csid == run.csid


def test_the_free_text_fields_of_the_facts_are_known() -> None:
    assert "summary" in FREE_TEXT[referrals.OwnershipDisputeEscalated]
    assert "feedback" in FREE_TEXT[referrals.OfficerFeedbackSent]
    assert "summary" in FREE_TEXT[complaints.StaffFeedbackPrepared]
    assert len(WITH_FREE_TEXT) > 30


@pytest.mark.parametrize("cls", WITH_FREE_TEXT, ids=lambda cls: cls.__name__)
def test_no_free_text_a_fact_carries_appears_in_the_timeline(cls: type[Message]) -> None:
    payload = example_payload(cls)
    secrets = {
        name: [f"{SECRET} {name}"] if isinstance(payload[name], list) else f"{SECRET} {name}"
        for name in FREE_TEXT[cls]
    }
    run = Run()

    run(fact(cls, **secrets))

    assert SECRET not in said(run.case)
    assert SECRET not in run.case.model_dump_json(include={"timeline"})


def test_a_rejection_says_what_was_refused_by_its_reason_code_in_words_without_its_reason() -> None:
    run = Run()

    run(fact(complaints.ComplaintsCommandRejected, reason_code="COMPLAINT_FINALISED", reason=SECRET))

    assert lines(run.case) == [("Complaints command rejected", "refused: complaint finalised", None)]


def test_facts_with_codes_say_them_in_words() -> None:
    run = Run()

    run(fact(referrals.CustomerOwnershipTransferred))
    run(fact(complaints.ComplaintFinalised))
    run(fact(referrals.IssueFinalised, customer_agrees=False))

    assert lines(run.case)[0] == (
        "Customer ownership transferred",
        "from DEBT to OBJECTIONS",
        "Priya (cso, PS Team 3)",
    )
    assert lines(run.case)[1] == ("Complaint finalised", "upheld", "Priya (cso, PS Team 3)")
    assert lines(run.case)[2][:2] == ("Issue finalised", "customer does not agree")


def test_the_task_events_casework_publishes_join_the_timeline_with_who_acted() -> None:
    run = Run()
    run(fact(notifications.NotificationDeliveryAbandoned))
    task_id = run.task.task_id
    run(claim(task_id))
    run(release(task_id, reason=SECRET))
    run(reassign(task_id, reason=SECRET, officer_id="EMP10777"))
    run(claim(task_id, by=ALEX))
    run(pause(task_id, by=ALEX, reason=SECRET))
    run(resume(task_id, by=ALEX))
    run(check(task_id, SlaStage.WARNING, run.task.arming))
    run(check(task_id, SlaStage.BREACH, run.task.arming))
    run(complete(task_id, by=ALEX, outcome="CUSTOMER_CALLED"))

    assert lines(run.case) == [
        ("Notification delivery abandoned", None, None),
        ("Task opened", "Contact the customer another way: a notification could not be delivered", None),
        ("Task claimed", None, "Priya (cso, PS Team 3)"),
        ("Task released", None, "Priya (cso, PS Team 3)"),
        ("Task reassigned", "EMP10777", "Jo (team leader, PS Team 3)"),
        ("Task claimed", None, "Alex (cso, PS Team 3)"),
        ("Task paused", None, "Alex (cso, PS Team 3)"),
        ("Task resumed", None, "Alex (cso, PS Team 3)"),
        ("Task SLA warned", None, None),
        ("Task SLA breached", "escalated to team leader", None),
        ("Task completed", "customer called", "Alex (cso, PS Team 3)"),
    ]
    assert SECRET not in said(run.case)


def test_a_note_adds_a_line_that_says_who_added_it_but_never_its_text() -> None:
    run = Run()
    run(fact(notifications.NotificationDeliveryAbandoned))

    run(note(run.task.task_id, text=f"{SECRET}: customer's new address"))

    assert lines(run.case)[-1] == ("Task note added", None, "Priya (cso, PS Team 3)")
    assert SECRET not in said(run.case)


def test_a_dispute_summary_and_an_officers_feedback_stay_out_of_the_timeline() -> None:
    run = Run()

    run(fact(referrals.OwnershipDisputeEscalated, summary=SECRET))
    run(fact(referrals.OfficerFeedbackSent, feedback=SECRET))

    assert SECRET not in said(run.case)
    assert [line.words for line in run.case.timeline] == [
        "Ownership dispute escalated",
        "Task opened",
        "Officer feedback sent",
        "Task opened",
    ]


def test_a_leave_cover_move_says_who_covers_and_is_done_by_casemesh() -> None:
    run = Run()
    cover = ActiveCover(
        cover_id=an_id("cover"), officer_id=SAM.officer_id, cover_officer_id="EMP10777", reason=SECRET
    )
    run(fact(complaints.StaffFeedbackPrepared), covers=[cover])
    run(
        CoverCustomerTasks(
            csid=run.csid,
            cover_id=an_id("cover"),
            officer_id=SAM.officer_id,
            cover_officer_id="EMP10777",
            reason=SECRET,
            revert=True,
            actor=SYSTEM,
        )
    )

    assert lines(run.case)[2] == ("Task reassigned", "EMP10777 / Mainstream 12", "Casemesh")
    assert lines(run.case)[3] == ("Task reassigned", "EMP20931 / Mainstream 12", "Casemesh")
    assert SECRET not in said(run.case)


# --------------------------------------------------------------------------------------------
# The case summary
# --------------------------------------------------------------------------------------------


def test_the_summary_follows_the_customers_owner_lock_and_ps_status() -> None:
    run = Run()

    run(fact(referrals.CustomerOwnershipAssigned, owner_area="PERSONALISED_SERVICES"))
    assert run.case.owner_area == "PERSONALISED_SERVICES"
    run(fact(referrals.CustomerOwnershipTransferred, from_area="PERSONALISED_SERVICES", to_area="DEBT"))
    assert run.case.owner_area == "DEBT"
    run(fact(referrals.OwnershipDisputeResolved, owner_area="OBJECTIONS"))
    assert run.case.owner_area == "OBJECTIONS"

    locked = fact(referrals.CustomerLocked)
    run(locked)
    assert run.case.lock == Lock(
        kind="officer", officer_id=locked.lock_to.officer_id, area=locked.lock_to.area, reason=locked.reason
    )
    run(fact(referrals.CustomerUnlocked))
    assert run.case.lock is None

    run(fact(referrals.CustomerAssignedToPS))
    assert run.case.in_ps
    run(fact(referrals.CustomerTransferredOutOfPS))
    assert not run.case.in_ps


def test_the_summary_lists_open_issues_until_each_is_finalised() -> None:
    run = Run()
    first, second = an_id("issue 1"), an_id("issue 2")

    run(fact(referrals.PresentingIssueIdentified, issue_id=str(first)))
    run(
        fact(
            referrals.PresentingIssueIdentified,
            issue_id=str(second),
            issue_code="INCOME",
            specialist_area=None,
        )
    )
    assert run.case.open_issues == {
        str(first): "change of assessment (CHANGE_OF_ASSESSMENT)",
        str(second): "income",
    }

    run(fact(referrals.IssueFinalised, issue_id=str(first)))
    assert run.case.open_issues == {str(second): "income"}


def test_the_summary_follows_each_complaint_and_msp() -> None:
    run = Run()
    complaint = an_id("complaint")
    msp_id = an_id("msp")

    run(fact(complaints.ComplaintRecorded, complaint_id=str(complaint), escalated_from_complaint_id=None))
    assert run.case.complaints == {str(complaint): "open at level 1"}
    run(fact(complaints.ComplaintEscalated, complaint_id=str(complaint)))
    assert run.case.complaints == {str(complaint): "escalated to level 2"}
    run(fact(complaints.ComplaintFinalised, complaint_id=str(complaint), category="PARTIALLY_UPHELD"))
    assert run.case.complaints == {str(complaint): "finalised: partially upheld"}

    run(fact(notifications.MSPContactStarted, msp_id=str(msp_id)))
    assert run.case.msp == {str(msp_id): "contact started"}
    run(fact(notifications.MSPContactResultRecorded, msp_id=str(msp_id)))
    assert run.case.msp[str(msp_id)].startswith("contact started; last result: ")


def test_the_summary_follows_the_msp_records_lifecycle_keeping_the_last_contact_result() -> None:
    run = Run()
    msp_id = str(an_id("msp"))

    def status_after(message: Message) -> str:
        run(message)
        return run.case.msp[msp_id]

    assert status_after(fact(msp.MSPProposed, msp_id=msp_id, status="PROVISIONAL")) == "provisional"
    assert status_after(fact(msp.MSPProposed, msp_id=msp_id)) == "proposed"
    assert status_after(fact(msp.MSPApprovalStageAccepted, msp_id=msp_id)) == "proposed"
    assert status_after(fact(msp.MSPApproved, msp_id=msp_id)) == "approved"
    assert status_after(fact(notifications.MSPContactStarted, msp_id=msp_id)) == "approved"
    assert status_after(fact(msp.MSPActivated, msp_id=msp_id)) == "active"
    result = status_after(fact(notifications.MSPContactResultRecorded, msp_id=msp_id))
    assert result.startswith("active; last result: ")
    last = result.removeprefix("active")
    assert status_after(fact(msp.MSPNoteAdded, msp_id=msp_id)) == "active" + last
    assert status_after(fact(msp.MSPReviewStarted, msp_id=msp_id)) == "under review" + last
    assert status_after(fact(msp.MSPReviewed, msp_id=msp_id)) == "active" + last
    assert status_after(fact(msp.MSPExpired, msp_id=msp_id)) == "expired" + last
    assert status_after(fact(msp.MSPEnded, msp_id=msp_id)) == "ended: ended at review" + last


def test_each_msp_lifecycle_event_reads_in_plain_words_without_its_notes_text() -> None:
    run = Run()
    msp_id = str(an_id("msp"))

    for cls in (msp.MSPProposed, msp.MSPApprovalStageAccepted, msp.MSPApproved, msp.MSPActivated):
        run(fact(cls, msp_id=msp_id))
    run(fact(msp.MSPNoteAdded, msp_id=msp_id))
    for cls in (msp.MSPReviewStarted, msp.MSPReviewed, msp.MSPExpired, msp.MSPEnded):
        run(fact(cls, msp_id=msp_id))

    assert [(words, outcome) for words, outcome, _ in lines(run.case) if words.startswith("MSP")] == [
        ("MSP proposed", "proposed, 2 approval stage(s); phone restricted"),
        ("MSP approval stage accepted", "stage 1 of 2 accepted"),
        ("MSP approved", "approved"),
        ("MSP activated", "active: review 2025-08-10, expires 2025-09-09"),
        ("MSP note added", None),
        ("MSP review started", "under review until it expires 2025-09-09"),
        ("MSP reviewed", "continued: review 2025-11-01, expires 2025-12-01"),
        ("MSP expired", "expired"),
        ("MSP ended", "ended: ended at review"),
    ]
    assert "Tuesdays" not in said(run.case), "a restriction's conditions are free text"


def test_the_timeline_keeps_the_newest_lines_up_to_its_limit() -> None:
    run = Run()

    for n in range(TIMELINE_LIMIT + 5):
        run(fact(referrals.CustomerUnlocked), message_id=an_id(f"unlocked {n}"))

    assert len(run.case.timeline) == TIMELINE_LIMIT
    assert run.case.timeline[0].message_id == an_id("unlocked 5")
    assert run.case.timeline[-1].message_id == an_id(f"unlocked {TIMELINE_LIMIT + 4}")


# --------------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------------


def story(now: Any) -> Run:
    """A customer's week: facts, officers' commands, timers; decided with ``now`` as the clock."""
    run = Run()
    day = timedelta(days=1)
    run(fact(complaints.ComplaintRecorded), now=now)
    run(fact(complaints.StaffFeedbackPrepared), now=now + day)
    feedback = next(t for t in run.case.tasks.values() if t.kind.value == "STAFF_FEEDBACK").task_id
    run(claim(feedback, by=SAM), now=now + 2 * day)
    run(pause(feedback, by=SAM), now=now + 3 * day)
    run(resume(feedback, by=SAM), at=run.at + 2 * day, now=now)
    run(
        check(feedback, SlaStage.WARNING, run.task_of(feedback).arming),
        at=run.task_of(feedback).warn_at,
        now=now,
    )
    run(note(feedback, by=SAM), now=now - day)
    run(complete(feedback, by=SAM), now=now)
    run(reassign(next(iter(run.case.tasks.values())).task_id, by=JO, officer_id=PRIYA.officer_id), now=now)
    run(fact(complaints.ComplaintFinalised), now=now)
    return run


def test_replaying_the_same_messages_with_another_clock_decides_the_same_state() -> None:
    first, second = story(WALL_CLOCK), story(WALL_CLOCK + timedelta(days=400))

    assert first.case == second.case
    assert first.case.model_dump_json() == second.case.model_dump_json()
    assert WALL_CLOCK.year not in {line.at.year for line in first.case.timeline}
