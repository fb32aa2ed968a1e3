"""The SMS contact guard as a pure function: every rule alone, every combination, both purposes."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from contracts.catalogue.channels import Purpose
from contracts.catalogue.customers import RiskFlag
from contracts.catalogue.notifications import SmsCircumstance, SmsSuppressionReason
from services.notifications.domain.guard import SmsFacts, check_sms

R = SmsSuppressionReason

ALLOWED = SmsFacts(
    purpose=Purpose.MSP_SMS,
    is_centrelink_customer=True,
    approved_decision_maker=True,
    circumstance=SmsCircumstance.CANNOT_CONTACT_BY_PHONE,
    mobile_number="0412345678",
    other_records_on_number=frozenset(),
    risk_flags=frozenset(),
    msp_letter_on_its_way=True,
)

#: One way to break each rule, and the reason it must give.
BREAKS: dict[R, dict[str, object]] = {
    R.NOT_CENTRELINK_CUSTOMER: {"is_centrelink_customer": False},
    R.NOT_APPROVED_DECISION_MAKER: {"approved_decision_maker": False},
    R.NO_CIRCUMSTANCE: {"circumstance": None},
    R.NO_MOBILE_NUMBER: {"mobile_number": None},
    R.SHARED_MOBILE_NUMBER: {"other_records_on_number": frozenset({"987654321"})},
    R.RISK_SUICIDE_OR_SELF_HARM: {"risk_flags": frozenset({RiskFlag.SUICIDE_OR_SELF_HARM})},
    R.RISK_FDV_IMMEDIATE_THREAT: {"risk_flags": frozenset({RiskFlag.FDV_IMMEDIATE_THREAT})},
    R.LETTER_NOT_DISPATCHED: {"msp_letter_on_its_way": False},
}


def test_every_suppression_reason_has_a_rule_that_gives_it() -> None:
    assert set(BREAKS) == set(SmsSuppressionReason)


def test_an_msp_sms_passing_every_rule_may_be_sent() -> None:
    assert check_sms(ALLOWED) == ()


@pytest.mark.parametrize("circumstance", list(SmsCircumstance))
def test_each_of_the_seeds_five_circumstances_allows_an_sms(circumstance: SmsCircumstance) -> None:
    assert check_sms(replace(ALLOWED, circumstance=circumstance)) == ()


@pytest.mark.parametrize("reason", list(BREAKS))
def test_breaking_one_rule_suppresses_the_sms_with_exactly_that_reason(reason: R) -> None:
    facts = replace(ALLOWED, **BREAKS[reason])  # type: ignore[arg-type]
    assert check_sms(facts) == (reason,)


def test_every_combination_of_broken_rules_reports_each_broken_rule_in_a_stable_order() -> None:
    # Both risk flags are one field, so they are combined here as one set.
    independent = [r for r in BREAKS if r not in (R.RISK_SUICIDE_OR_SELF_HARM, R.RISK_FDV_IMMEDIATE_THREAT)]
    flag_sets = {
        (): frozenset(),
        (R.RISK_SUICIDE_OR_SELF_HARM,): frozenset({RiskFlag.SUICIDE_OR_SELF_HARM}),
        (R.RISK_FDV_IMMEDIATE_THREAT,): frozenset({RiskFlag.FDV_IMMEDIATE_THREAT}),
        (R.RISK_SUICIDE_OR_SELF_HARM, R.RISK_FDV_IMMEDIATE_THREAT): frozenset(
            {RiskFlag.SUICIDE_OR_SELF_HARM, RiskFlag.FDV_IMMEDIATE_THREAT, RiskFlag.AGGRESSION}
        ),
    }
    order = list(SmsSuppressionReason)
    checked = 0
    for toggles in itertools.product([False, True], repeat=len(independent)):
        broken = [r for r, on in zip(independent, toggles, strict=True) if on]
        for flag_reasons, flags in flag_sets.items():
            changes: dict[str, object] = {"risk_flags": flags}
            for r in broken:
                changes.update(BREAKS[r])
            if R.NO_MOBILE_NUMBER in broken and R.SHARED_MOBILE_NUMBER in broken:
                # Without a number there is nothing to share: only NO_MOBILE_NUMBER is reported.
                expected = {*broken, *flag_reasons} - {R.SHARED_MOBILE_NUMBER}
            else:
                expected = {*broken, *flag_reasons}
            got = check_sms(replace(ALLOWED, **changes))  # type: ignore[arg-type]
            assert set(got) == expected
            assert list(got) == sorted(got, key=order.index)
            checked += 1
    assert checked == 2 ** len(independent) * len(flag_sets)


def test_an_aggression_flag_alone_does_not_stop_an_sms() -> None:
    assert check_sms(replace(ALLOWED, risk_flags=frozenset({RiskFlag.AGGRESSION}))) == ()


#: Issue 20 item 4: the rules a general (non-MSP) SMS meets; the others are for an MSP SMS only.
GENERAL_RULES = (
    R.NO_MOBILE_NUMBER,
    R.SHARED_MOBILE_NUMBER,
    R.RISK_SUICIDE_OR_SELF_HARM,
    R.RISK_FDV_IMMEDIATE_THREAT,
)


@pytest.mark.parametrize("reason", GENERAL_RULES)
def test_a_general_sms_is_stopped_by_each_general_rule(reason: R) -> None:
    general = replace(ALLOWED, purpose=Purpose.GENERAL)
    assert check_sms(replace(general, **BREAKS[reason])) == (reason,)  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", [r for r in BREAKS if r not in GENERAL_RULES])
def test_a_general_sms_ignores_the_msp_only_rules(reason: R) -> None:
    general = replace(ALLOWED, purpose=Purpose.GENERAL)
    assert check_sms(replace(general, **BREAKS[reason])) == ()  # type: ignore[arg-type]


def test_a_general_sms_to_a_non_centrelink_customer_without_a_circumstance_may_be_sent() -> None:
    general = replace(
        ALLOWED,
        purpose=Purpose.GENERAL,
        is_centrelink_customer=False,
        approved_decision_maker=False,
        circumstance=None,
        msp_letter_on_its_way=False,
    )
    assert check_sms(general) == ()
