"""Issue 20 item 9: a request to send that arrives before the customer fact it depends on waits
for it, bounded by a setting, then is decided, or refused with the reason it would have got."""

from __future__ import annotations

import uuid
from datetime import timedelta

from helpers_notifications import ADM, NOW, details, of, registered, timers

from contracts.base import Actor, Message
from contracts.catalogue.channels import LetterDispatch, Purpose, SmsDispatch
from contracts.catalogue.notifications import (
    DecideWaitingCommand,
    NotificationDispatched,
    NotificationRequestParked,
    NotificationsCommandRejected,
    NotificationsReasonCode,
    SendLetter,
    SendSms,
    SmsRequested,
    SmsSuppressed,
)
from kit.timers import Deferred
from services.notifications.domain import NO_SHARED_NUMBERS, CustomerState, Facts, Output, Policy
from services.notifications.settings import NotificationsSettings
from services.notifications.spec import SPEC

NOTIFICATION = uuid.UUID("6c5b4a39-2817-4f06-95e4-d3c2b1a09f8e")


class Deliveries:
    """Feeds messages to the spec as the handler does: each with its envelope's message id."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.state: CustomerState | None = None
        self.policy = policy or Policy()
        self.now = NOW

    def __call__(self, message: Message, message_id: uuid.UUID | None = None) -> list[Output]:
        message_id = message_id or uuid.uuid4()
        facts = Facts(self.policy, NO_SHARED_NUMBERS, str(message_id), message.MESSAGE_TYPE)
        self.state, outputs = SPEC.decide(self.state, message, self.now, facts)
        return list(outputs)

    @property
    def waiting(self) -> list[str]:
        return [] if self.state is None else list(self.state.waiting)


def letter(**overrides: object) -> SendLetter:
    values: dict[str, object] = {
        "actor": ADM,
        "notification_id": NOTIFICATION,
        "purpose": Purpose.COMPLAINT_RESPONSE,
        "body": "Dear Jordan, we have looked into your complaint.",
        **overrides,
    }
    return SendLetter.model_validate(values)


def sms() -> SendSms:
    return SendSms(actor=ADM, notification_id=NOTIFICATION, purpose=Purpose.GENERAL, text="Please call us.")


def wait_timer(outputs: list[Output]) -> Deferred:
    [timer] = [t for t in timers(outputs) if isinstance(t.message, DecideWaitingCommand)]
    return timer


def test_a_letter_asked_for_before_the_address_waits_and_is_sent_when_the_contact_details_bring_one() -> None:
    run = Deliveries()
    run(registered())
    run(details(address=None))
    letter_id = uuid.uuid4()
    asked = run(letter(), letter_id)
    assert not of(asked, NotificationsCommandRejected), "no spurious NO_POSTAL_ADDRESS"
    assert of(asked, NotificationRequestParked) == [
        NotificationRequestParked(
            notification_id=NOTIFICATION, awaiting="NO_POSTAL_ADDRESS", until=NOW + timedelta(minutes=5)
        )
    ]
    timer = wait_timer(asked)
    assert timer.due_at == NOW + timedelta(minutes=5)
    assert timer.timer_id == f"wait-{letter_id}"
    assert timer.message == DecideWaitingCommand(
        actor=Actor.system("notifications-fact-wait"), message_id=letter_id
    )
    assert run.waiting == [str(letter_id)]

    sent = run(details())
    assert len(of(sent, LetterDispatch)) == 1
    [dispatched] = of(sent, NotificationDispatched)
    assert dispatched.notification_id == NOTIFICATION
    assert run.waiting == []

    run.now = timer.due_at
    assert run(timer.message) == [], "the timer of a request no longer waiting changes nothing"


def test_an_sms_asked_for_before_the_registration_waits_and_is_sent_when_the_customer_registers() -> None:
    run = Deliveries()
    run(details())
    asked = run(sms())
    [waiting] = of(asked, NotificationRequestParked)
    assert waiting.awaiting == NotificationsReasonCode.UNKNOWN_CUSTOMER
    assert not of(asked, SmsRequested)

    decided = run(registered())
    assert of(decided, SmsRequested)
    assert len(of(decided, SmsDispatch)) == 1
    [dispatched] = of(decided, NotificationDispatched)
    assert dispatched.notification_id == NOTIFICATION
    assert run.waiting == []


def test_an_sms_before_the_registration_and_the_mobile_number_waits_for_both() -> None:
    run = Deliveries()
    run(sms())
    assert run(registered()) == [], "registered, but no mobile number yet: it still waits"
    assert len(run.waiting) == 1
    decided = run(details())
    assert of(decided, SmsDispatch)
    assert not of(decided, SmsSuppressed)
    assert run.waiting == []


def test_a_letter_whose_address_never_comes_is_refused_at_the_end_of_the_wait_as_it_would_have_been() -> None:
    run = Deliveries()
    run(registered())
    letter_id = uuid.uuid4()
    timer = wait_timer(run(letter(), letter_id))
    run(details(address=None))
    assert run.waiting == [str(letter_id)], "contact details without an address: it still waits"

    run.now = timer.due_at
    [refused] = run(timer.message)
    assert isinstance(refused, NotificationsCommandRejected)
    assert refused.reason_code is NotificationsReasonCode.NO_POSTAL_ADDRESS
    assert refused.rejected_message_id == letter_id
    assert refused.rejected_message_type == "SendLetter"
    assert refused.notification_id == NOTIFICATION
    assert refused.attempted_by == ADM
    assert run.waiting == []
    assert run(timer.message) == [], "the same timer again changes nothing"


def test_an_sms_without_a_mobile_number_when_the_wait_is_over_is_suppressed_as_it_would_have_been() -> None:
    run = Deliveries()
    run(registered())
    timer = wait_timer(run(sms()))
    run.now = timer.due_at
    decided = run(timer.message)
    [suppressed] = of(decided, SmsSuppressed)
    assert suppressed.reasons == ("NO_MOBILE_NUMBER",)
    assert run.waiting == []


def test_an_sms_to_a_customer_whose_contact_details_have_no_mobile_number_is_suppressed_at_once() -> None:
    run = Deliveries()
    run(registered())
    run(details(mobile=None))
    [suppressed] = of(run(sms()), SmsSuppressed)
    assert suppressed.reasons == ("NO_MOBILE_NUMBER",)
    assert run.waiting == []


def test_a_waiting_sms_is_suppressed_when_contact_details_come_without_a_mobile_number() -> None:
    run = Deliveries()
    run(sms())
    run(registered())
    [suppressed] = of(run(details(mobile=None)), SmsSuppressed)
    assert suppressed.reasons == ("NO_MOBILE_NUMBER",)
    assert run.waiting == []


def test_with_no_wait_configured_a_letter_without_an_address_is_refused_at_once() -> None:
    run = Deliveries(NotificationsSettings(fact_wait_s=0).policy())
    run(registered())
    [refused] = run(letter())
    assert isinstance(refused, NotificationsCommandRejected)
    assert refused.reason_code is NotificationsReasonCode.NO_POSTAL_ADDRESS
    assert run.waiting == []


def test_the_wait_is_five_minutes_unless_configured() -> None:
    assert NotificationsSettings().policy().fact_wait == timedelta(minutes=5)
    assert NotificationsSettings(fact_wait_s=30).policy().fact_wait == timedelta(seconds=30)


def test_a_refusal_no_customer_fact_can_cure_is_given_at_once() -> None:
    run = Deliveries()
    run(registered())
    run(details())
    [refused] = run(letter(body=None))
    assert isinstance(refused, NotificationsCommandRejected)
    assert refused.reason_code is NotificationsReasonCode.CONTENT_REQUIRED
    assert run.waiting == []


def test_a_waiting_letter_refused_for_another_reason_once_its_address_comes_names_the_waiting_command() -> (
    None
):
    run = Deliveries()
    run(registered())
    letter_id = uuid.uuid4()
    run(letter(body=None), letter_id)
    [refused] = of(run(details()), NotificationsCommandRejected)
    assert refused.reason_code is NotificationsReasonCode.CONTENT_REQUIRED
    assert refused.rejected_message_id == letter_id
    assert refused.rejected_message_type == "SendLetter"
    assert run.waiting == []


def test_the_same_request_delivered_twice_waits_once() -> None:
    run = Deliveries()
    run(registered())
    letter_id = uuid.uuid4()
    assert of(run(letter(), letter_id), NotificationRequestParked)
    assert run(letter(), letter_id) == [], "the same message again"
    assert run(letter()) == [], "the same notification asked for again"
    assert run.waiting == [str(letter_id)]
    [refused] = run(letter(body="Other content."))
    assert isinstance(refused, NotificationsCommandRejected)
    assert refused.reason_code is NotificationsReasonCode.DUPLICATE_NOTIFICATION
    sent = run(details())
    assert len(of(sent, LetterDispatch)) == 1


def test_waiting_requests_are_decided_oldest_first() -> None:
    run = Deliveries()
    run(registered())
    first, second = uuid.uuid4(), uuid.uuid4()
    run(letter(notification_id=first))
    run.now = NOW + timedelta(seconds=10)
    run(letter(notification_id=second))
    sent = of(run(details()), NotificationDispatched)
    assert [d.notification_id for d in sent] == [first, second]


def test_without_its_message_id_a_request_is_decided_at_once_as_before() -> None:
    facts = Facts(Policy(), NO_SHARED_NUMBERS)
    state, _ = SPEC.decide(None, registered(), NOW, facts)
    _, [refused] = SPEC.decide(state, letter(), NOW, facts)
    assert isinstance(refused, NotificationsCommandRejected)
    assert refused.reason_code is NotificationsReasonCode.NO_POSTAL_ADDRESS
