"""Seed 001 table 2: Minimum Collection Activity in one interaction — income, payments and debts,
payment arrangements, self-service promotion, and its outcome."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from contracts.catalogue.referrals import (
    IncomeCheckRecorded,
    MCAStatus,
    MinimumCollectionActivityOutcomeRecorded,
    PaymentArrangementRecorded,
    PaymentFrequency,
    PaymentsAndDebtsCheckRecorded,
    RecordIncomeCheck,
    RecordMinimumCollectionActivityOutcome,
    RecordPaymentArrangement,
    RecordPaymentsAndDebtsCheck,
    RecordSelfServicePromotion,
    ReferralsReasonCode,
    SelfServicePromotionRecorded,
)
from kit.spec import Refused
from services.referrals.domain.intake import (
    Arrangement,
    IncomeCheck,
    MCAOutcome,
    PaymentsCheck,
    Promotion,
    by,
    open_contact,
    with_mca,
)
from services.referrals.domain.state import Context, CustomerFile, Decided


def record_income_check(file: CustomerFile, cmd: RecordIncomeCheck, now: datetime, ctx: Context) -> Decided:
    contact = open_contact(file.intake, cmd.contact_id)
    # Step 2: "A reliable income is defined as any ATO issued income … If the income is not
    # reliable … Gain a commitment from the customer to lodge their tax return" — the answer is
    # recorded, whichever it is.
    if not cmd.income_reliable and cmd.tax_return_commitment is None:
        raise Refused(
            ReferralsReasonCode.TAX_RETURN_COMMITMENT_REQUIRED,
            "The income is not ATO-issued: record whether the customer committed to lodge a tax return.",
        )
    check = IncomeCheck(
        income_reliable=cmd.income_reliable,
        tax_return_commitment=cmd.tax_return_commitment,
        income_updated=cmd.income_updated,
        **by(cmd.actor, now),
    )
    recorded = IncomeCheckRecorded(
        contact_id=cmd.contact_id,
        actor=cmd.actor,
        income_reliable=cmd.income_reliable,
        tax_return_commitment=cmd.tax_return_commitment,
        income_updated=cmd.income_updated,
    )
    return file.with_intake(
        with_mca(file.intake, contact, income_checks=[*contact.mca.income_checks, check])
    ), [recorded]


def record_payments_and_debts_check(
    file: CustomerFile, cmd: RecordPaymentsAndDebtsCheck, now: datetime, ctx: Context
) -> Decided:
    # Step 3: a payer with a debt or an overpayment, a payee who is owed — checked, outcome recorded.
    contact = open_contact(file.intake, cmd.contact_id)
    check = PaymentsCheck(position=cmd.position, outcome=cmd.outcome, **by(cmd.actor, now))
    recorded = PaymentsAndDebtsCheckRecorded(
        contact_id=cmd.contact_id, actor=cmd.actor, position=cmd.position, outcome=cmd.outcome
    )
    return (
        file.with_intake(
            with_mca(file.intake, contact, payments_checks=[*contact.mca.payments_checks, check])
        ),
        [recorded],
    )


def arrangement_problems(
    cmd: RecordPaymentArrangement, today: dt.date
) -> list[tuple[ReferralsReasonCode, str]]:
    """Issue 9: a positive amount, a known frequency, a start date not in the past."""
    problems: list[tuple[ReferralsReasonCode, str]] = []
    if cmd.amount_cents <= 0:
        problems.append((ReferralsReasonCode.INVALID_AMOUNT, "the amount must be positive"))
    if cmd.frequency not in FREQUENCIES:
        problems.append(
            (ReferralsReasonCode.UNKNOWN_FREQUENCY, f"the frequency must be one of {', '.join(FREQUENCIES)}")
        )
    if cmd.start_date < today:
        problems.append(
            (ReferralsReasonCode.START_DATE_IN_PAST, f"the start date is before today ({today.isoformat()})")
        )
    return problems


FREQUENCIES = tuple(f.value for f in PaymentFrequency)


def record_payment_arrangement(
    file: CustomerFile, cmd: RecordPaymentArrangement, now: datetime, ctx: Context
) -> Decided:
    contact = open_contact(file.intake, cmd.contact_id)
    used = (a.arrangement_id for c in file.intake.contacts.values() for a in c.mca.arrangements)
    if cmd.arrangement_id in set(used):
        raise Refused(ReferralsReasonCode.INVALID_STATE, "The arrangement id was used before.")
    # Step 6: "If a payment arrangement is negotiated, record" amount, frequency and start date.
    # "Today" is the agency's calendar day. Every wrong field is named; the code is the first's.
    problems = arrangement_problems(cmd, now.astimezone(ctx.cma.timezone).date())
    if problems:
        reason = "Payment arrangement refused: " + "; ".join(text for _, text in problems) + "."
        raise Refused(problems[0][0], reason)
    frequency = PaymentFrequency(cmd.frequency)
    arrangement = Arrangement(
        arrangement_id=cmd.arrangement_id,
        amount_cents=cmd.amount_cents,
        frequency=frequency,
        start_date=cmd.start_date,
        **by(cmd.actor, now),
    )
    recorded = PaymentArrangementRecorded(
        contact_id=cmd.contact_id,
        actor=cmd.actor,
        arrangement_id=cmd.arrangement_id,
        amount_cents=cmd.amount_cents,
        frequency=frequency,
        start_date=cmd.start_date,
    )
    return (
        file.with_intake(
            with_mca(file.intake, contact, arrangements=[*contact.mca.arrangements, arrangement])
        ),
        [recorded],
    )


def record_self_service_promotion(
    file: CustomerFile, cmd: RecordSelfServicePromotion, now: datetime, ctx: Context
) -> Decided:
    # Step 1: "Promote digital self service through MyGov, CS Online, Child Support Express Plus
    # app and Infoserv services where applicable."
    contact = open_contact(file.intake, cmd.contact_id)
    services = tuple(dict.fromkeys(cmd.services))
    promotion = Promotion(services=services, **by(cmd.actor, now))
    recorded = SelfServicePromotionRecorded(contact_id=cmd.contact_id, actor=cmd.actor, services=services)
    return file.with_intake(
        with_mca(file.intake, contact, promotions=[*contact.mca.promotions, promotion])
    ), [recorded]


def record_mca_outcome(
    file: CustomerFile, cmd: RecordMinimumCollectionActivityOutcome, now: datetime, ctx: Context
) -> Decided:
    contact = open_contact(file.intake, cmd.contact_id)
    # Step 1: "check income, payments, and any debts" — the minimum for COMPLETED; NOT_REQUIRED
    # carries its reason in the summary. A later outcome for the same interaction replaces it.
    mca = contact.mca
    missing = [
        name
        for name, done in (("income", mca.income_checks), ("payments and debts", mca.payments_checks))
        if not done
    ]
    if cmd.status is MCAStatus.COMPLETED and missing:
        raise Refused(
            ReferralsReasonCode.MCA_CHECKS_INCOMPLETE,
            f"Minimum Collection Activity is not complete: check {' and '.join(missing)} first.",
        )
    outcome = MCAOutcome(status=cmd.status, summary=cmd.summary, **by(cmd.actor, now))
    recorded = MinimumCollectionActivityOutcomeRecorded(
        contact_id=cmd.contact_id, actor=cmd.actor, status=cmd.status, summary=cmd.summary
    )
    return file.with_intake(with_mca(file.intake, contact, outcome=outcome)), [recorded]
