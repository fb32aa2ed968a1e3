"""Requests to send that arrive before the customer fact they depend on (issue 20 item 9).

The customer system's facts (``CustomerRegistered``, ``CustomerContactDetailsChanged``) and the
requests to send (``SendSms``, ``SendLetter``, ``SendEmail``) come on different topics, so nothing
orders them: a ``SendLetter`` may come before the address it is sent to. Such a request is not
refused at once: it waits, for ``Policy.fact_wait``, for the fact (``NotificationRequestParked``
tells the sender). Each customer fact decides the waiting requests again, oldest first; when the
wait is over (a ``DecideWaitingCommand`` timer) a request still waiting is decided one last time:
sent, or refused with the reason it would have got, naming the waiting command.

Awaited are the refusals a later customer fact cures: the customer not registered yet, no postal
or e-mail address recorded, and, for an SMS, the guard's want of a mobile number while no contact
details have come at all (once they have, a customer without a mobile number is a fact: the SMS
is suppressed at once, as before).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from contracts.base import Actor, Command
from contracts.catalogue.notifications import (
    DecideWaitingCommand,
    NotificationRequestParked,
    NotificationsCommandRejected,
    NotificationsReasonCode,
    SendEmail,
    SendLetter,
    SendSms,
    SmsSuppressed,
    SmsSuppressionReason,
)
from kit.spec import Refused
from kit.timers import Deferred
from services.notifications.domain import requests
from services.notifications.domain.state import CustomerState, Decision, Facts, Output, WaitingCommand

#: The refusals (and, for an SMS, the suppression) that mean "a customer fact has not arrived yet".
AWAITED = frozenset(
    {
        NotificationsReasonCode.UNKNOWN_CUSTOMER,
        NotificationsReasonCode.NO_POSTAL_ADDRESS,
        NotificationsReasonCode.NO_EMAIL_ADDRESS,
        SmsSuppressionReason.NO_MOBILE_NUMBER,
    }
)

TIMER_ACTOR = Actor.system("notifications-fact-wait")

Rule = Callable[[CustomerState, Any, datetime, Facts], Decision]

#: The requests that may wait, by message type: their contract and their rule.
REQUESTS: Mapping[str, tuple[type[Command], Rule]] = {
    SendSms.MESSAGE_TYPE: (SendSms, requests.send_sms_command),
    SendLetter.MESSAGE_TYPE: (SendLetter, requests.send_letter),
    SendEmail.MESSAGE_TYPE: (SendEmail, requests.send_email),
}


def waits(rule: Rule) -> Rule:
    """``rule`` for a request to send, which waits for an awaited fact instead of being refused."""

    def deciding(state: CustomerState, cmd: Any, now: datetime, facts: Facts) -> Decision:
        if facts.message_id is not None and facts.message_id in state.waiting:
            return state, []  # the same message again
        repeated = _waiting_repeat(state, cmd)
        if repeated:
            return state, []
        outcome = _attempt(rule, state, cmd, now, facts)
        if outcome.awaiting is None or not _may_wait(facts):
            return outcome.result()
        assert facts.message_id is not None
        return _park(state, cmd, now, facts, facts.message_id, outcome.awaiting)

    return deciding


def then_waiting(rule: Rule) -> Rule:
    """``rule`` for a customer fact, then every waiting request decided again on the new state,
    oldest first: sent, or refused for another reason, or still waiting for its fact."""

    def deciding(state: CustomerState, event: Any, now: datetime, facts: Facts) -> Decision:
        new, outputs = rule(state, event, now, facts)
        if new is None or not new.waiting:
            return new, outputs
        current, out = new, list(outputs)
        for entry in sorted(new.waiting.values(), key=lambda w: w.until):
            decided, more = _decide_again(current, entry, now, facts, last=False)
            current = current if decided is None else decided
            out.extend(more)
        return current, out

    return deciding


def decide_waiting_command(
    state: CustomerState, cmd: DecideWaitingCommand, now: datetime, facts: Facts
) -> Decision:
    """The wait is over: the request is decided with what is known now, and cannot wait again."""
    entry = state.waiting.get(str(cmd.message_id))
    if entry is None:
        return state, []  # decided when its fact came: a timer whose reason has passed
    return _decide_again(state, entry, now, facts, last=True)


# -------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class _Outcome:
    """A rule's decision, or its refusal; and the awaited fact it lacks, if any."""

    decision: Decision | None
    refused: Refused | None
    awaiting: str | None

    def result(self) -> Decision:
        if self.refused is not None:
            raise self.refused
        assert self.decision is not None
        return self.decision


def _attempt(rule: Rule, state: CustomerState, cmd: Any, now: datetime, facts: Facts) -> _Outcome:
    try:
        new, outputs = rule(state, cmd, now, facts)
    except Refused as refused:
        return _Outcome(None, refused, refused.code if refused.code in AWAITED else None)
    # An SMS the guard stops for want of a mobile number waits for the contact details, if none came.
    no_mobile = not _contact_details_known(state) and any(
        isinstance(o, SmsSuppressed) and SmsSuppressionReason.NO_MOBILE_NUMBER in o.reasons for o in outputs
    )
    return _Outcome((new, outputs), None, SmsSuppressionReason.NO_MOBILE_NUMBER if no_mobile else None)


def _contact_details_known(state: CustomerState) -> bool:
    """Whether a ``CustomerContactDetailsChanged`` has recorded any way to reach the customer."""
    reachable = (state.mobile_number, state.phone_number, state.email, state.postal_address)
    return any(value is not None for value in reachable) or bool(state.representatives)


def _may_wait(facts: Facts) -> bool:
    return facts.policy.fact_wait > timedelta(0) and facts.message_id is not None


def _park(
    state: CustomerState, cmd: Any, now: datetime, facts: Facts, message_id: str, awaiting: str
) -> Decision:
    until = now + facts.policy.fact_wait
    entry = WaitingCommand(
        message_id=message_id,
        message_type=facts.message_type or cmd.MESSAGE_TYPE,
        payload=cmd.model_dump(mode="json"),
        until=until,
        reason_code=awaiting,
    )
    parked = state.model_copy(update={"waiting": {**state.waiting, message_id: entry}})
    timer = DecideWaitingCommand(actor=TIMER_ACTOR, message_id=uuid.UUID(message_id))
    outputs: list[Output] = [
        NotificationRequestParked(notification_id=cmd.notification_id, awaiting=awaiting, until=until),
        Deferred(timer, due_at=until, timer_id=f"wait-{message_id}"),
    ]
    return parked, outputs


def _waiting_repeat(state: CustomerState, cmd: Any) -> bool:
    """The same notification asked for again while it waits changes nothing; its id reused for
    other content is refused (as once it is sent, ``requests``)."""
    notification_id = str(cmd.notification_id)
    content = cmd.model_dump(mode="json", exclude={"actor"})
    for entry in state.waiting.values():
        if str(entry.payload.get("notification_id")) != notification_id:
            continue
        if entry.message_type == cmd.MESSAGE_TYPE and _without_actor(entry.payload) == content:
            return True
        raise Refused(
            NotificationsReasonCode.DUPLICATE_NOTIFICATION,
            "This notification id was used for other content.",
            notification_id=cmd.notification_id,
        )
    return False


def _without_actor(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "actor"}


def _decide_again(
    state: CustomerState, entry: WaitingCommand, now: datetime, facts: Facts, *, last: bool
) -> Decision:
    contract, rule = REQUESTS[entry.message_type]
    cmd = contract.build(**entry.payload)
    others = {k: w for k, w in state.waiting.items() if k != entry.message_id}
    rest = state.model_copy(update={"waiting": others})
    own_facts = replace(facts, message_id=entry.message_id, message_type=entry.message_type)
    outcome = _attempt(rule, rest, cmd, now, own_facts)
    if outcome.awaiting is not None and not last:
        return state, []  # still waiting for its fact
    if outcome.refused is not None:
        return rest, [_rejected(outcome.refused, cmd, entry), *outcome.refused.outputs]
    new, outputs = outcome.result()
    return (rest if new is None else new), outputs


def _rejected(refused: Refused, cmd: Any, entry: WaitingCommand) -> NotificationsCommandRejected:
    """The refusal the kit would have published for the waiting command (``ServiceSpec.refusal``),
    naming it: the sender finds it by the command's message id."""
    details = {"attempted_by": getattr(cmd, "actor", None), **refused.details}
    return NotificationsCommandRejected(
        reason_code=refused.code,
        reason=refused.reason,
        rejected_message_id=uuid.UUID(entry.message_id),
        rejected_message_type=entry.message_type,
        **details,
    )
