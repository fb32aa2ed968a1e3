"""Issue 20 items 2 and 3, seed 002 steps 1-3: phone first, the MSP SMS when the phone fails; a
missing postal address holds only the letter, and the officer is asked to obtain one; the SMS goes
ahead of the letter once the letter is requested, never instead of it."""

from __future__ import annotations

import pytest
from helpers_notifications import (
    ADDRESS,
    MSP_ID,
    Run,
    customer,
    details,
    kinds,
    msp_approved,
    msp_sms,
    of,
    phone_outcome,
    receipt,
    registered,
    start_msp,
)

from contracts.catalogue.channels import (
    Channel,
    DeliveryStatus,
    LetterDispatch,
    PhoneOutcome,
    PhoneTaskDispatch,
    SmsDispatch,
)
from contracts.catalogue.notifications import (
    MSPContactStarted,
    MSPPostalAddressRequired,
    MSPSmsOptionOffered,
    NotificationDeliveryAbandoned,
    SmsSuppressed,
)
from services.notifications import templates as tpl
from services.notifications.domain import Policy


@pytest.mark.parametrize("outcome", [PhoneOutcome.NOT_REACHED, PhoneOutcome.UNPRODUCTIVE])
def test_an_unsuccessful_phone_call_offers_the_msp_sms_option_to_the_officer(
    outcome: PhoneOutcome,
) -> None:
    run = customer()
    [phone] = of(run(msp_approved(), start_msp()), PhoneTaskDispatch)
    [option] = of(run(phone_outcome(phone.delivery_id, outcome)), MSPSmsOptionOffered)
    assert (option.msp_id, option.phone_outcome, option.delivery_id) == (MSP_ID, outcome, phone.delivery_id)
    assert option.officer_id == "EMP30117"


@pytest.mark.parametrize("outcome", [PhoneOutcome.REACHED, PhoneOutcome.NOT_APPROPRIATE_TO_PHONE])
def test_a_reached_or_not_appropriate_call_offers_no_sms_option(outcome: PhoneOutcome) -> None:
    run = customer()
    [phone] = of(run(msp_approved(), start_msp()), PhoneTaskDispatch)
    assert of(run(phone_outcome(phone.delivery_id, outcome)), MSPSmsOptionOffered) == []


def test_without_any_phone_number_the_sms_option_is_offered_at_once() -> None:
    run = customer(mobile=None, phone=None)
    [option] = of(run(msp_approved(), start_msp()), MSPSmsOptionOffered)
    assert option.phone_outcome is PhoneOutcome.NOT_REACHED and option.delivery_id is None
    assert option.officer_id == "EMP10442"


def test_a_missing_postal_address_does_not_stop_the_phone_call_only_the_letter_and_asks_for_one() -> None:
    run = customer(address=None)
    out = run(msp_approved(), start_msp())
    assert len(of(out, MSPContactStarted)) == 1 and len(of(out, PhoneTaskDispatch)) == 1
    assert of(out, LetterDispatch) == []
    [required] = of(out, MSPPostalAddressRequired)
    assert required.msp_id == MSP_ID and required.officer_id == "EMP10442"


def test_the_waiting_letter_goes_once_an_address_is_recorded_and_only_once() -> None:
    run = customer(address=None)
    run(msp_approved(), start_msp())
    out = run(details(address=ADDRESS))
    [letter] = of(out, LetterDispatch)
    assert letter.postal_address == ADDRESS and letter.template_version == 2
    assert of(run(details(address=ADDRESS)), LetterDispatch) == [], "the letter goes once"


def test_contact_details_without_an_address_leave_the_letter_waiting() -> None:
    run = customer(address=None)
    run(msp_approved(), start_msp())
    out = run(details(address=None, mobile="0499999999"))
    assert of(out, LetterDispatch) == [] and of(out, SmsSuppressed) == []


# ------------------------------------------------------------------ issue 20 item 2: ahead of the letter


def test_an_msp_sms_goes_ahead_of_a_letter_that_is_requested_but_waits_for_an_address() -> None:
    run = customer(address=None)
    run(msp_approved(), start_msp())
    out = run(msp_sms(template_version=2))
    [sms] = of(out, SmsDispatch)
    assert "on its way" in sms.body and "1300000000" in sms.body
    assert of(out, LetterDispatch) == [], "the SMS complements the letter, which still follows"
    assert len(of(run(details(address=ADDRESS)), LetterDispatch)) == 1


def test_an_sms_asked_for_before_the_contact_starts_is_released_when_the_letter_is_requested() -> None:
    run = customer(address=None)
    run(msp_approved())
    assert kinds(run(msp_sms())) == ["SmsRequested"], "no letter is requested yet"
    out = run(start_msp())
    assert len(of(out, SmsDispatch)) == 1 and len(of(out, MSPPostalAddressRequired)) == 1


def test_an_msp_sms_still_needs_one_of_the_five_circumstances_ahead_of_the_letter() -> None:
    run = customer(address=None)
    run(msp_approved(), start_msp())
    [suppressed] = of(run(msp_sms(circumstance=None)), SmsSuppressed)
    assert [r.value for r in suppressed.reasons] == ["NO_CIRCUMSTANCE"]


def test_an_msp_sms_whose_letter_later_fails_ends_with_an_abandoned_letter_for_officers_to_follow_up() -> (
    None
):
    run = Run(Policy(max_attempts=1))
    run(registered(), details(address=None))
    run(msp_approved(), start_msp())
    assert len(of(run(msp_sms()), SmsDispatch)) == 1
    [letter] = of(run(details(address=ADDRESS)), LetterDispatch)
    [abandoned] = of(
        run(receipt(letter.delivery_id, Channel.LETTER, DeliveryStatus.BOUNCED)),
        NotificationDeliveryAbandoned,
    )
    assert abandoned.last_channel is Channel.LETTER  # a DELIVERY_ABANDONED task in casework


def test_the_final_approved_msp_sms_says_the_letter_is_on_its_way_not_that_it_was_sent() -> None:
    final = tpl.DEFAULT_REGISTRY.final_approved("msp-sms")
    assert final is not None and final.version == 2
    assert "on its way" in final.body and "we have sent" not in final.body
