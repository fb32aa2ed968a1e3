"""A tiny service defined for the kit's tests: it keeps a running total per customer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase

from contracts.base import Actor, Command, Event, Message, Rejection
from contracts.envelope import Envelope
from contracts.topics import Topic, TopicKind
from kit.batch import Target, apply_batch
from kit.identity import Unverified
from kit.processing import Clock, Result
from kit.runtime import ServiceRuntime, Wiring, utc_now
from kit.settings import ServiceSettings
from kit.store import AggregateStore
from kit.timers import Deferred

COMMANDS = "casemesh.tally.commands.v1"
EVENTS = "casemesh.tally.events.v1"


class AddToTally(Command):
    amount: Annotated[int, Field(ge=0, description="How much to add.", examples=[5])]


class TallyIncreased(Event):
    total: int = Field(description="The new total.", examples=[5])


class TallyReasonCode(StrEnum):
    TOO_LARGE = "too_large"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"


class TallyRejected(Rejection):
    reason_code: TallyReasonCode = Field(description="Why.", examples=[TallyReasonCode.TOO_LARGE])


class Tally(BaseModel):
    total: int = 0


POISON_AMOUNT = 13
"""An amount the decider trips over: a stand-in for a bug that no retry cures."""


BONUS_DELAY = timedelta(days=90)


def decide(
    state: Tally | None, command: AddToTally | Unverified, now: datetime
) -> tuple[Tally | None, list[Message | Deferred]]:
    if isinstance(command, Unverified):
        # Wired by hand, not from a spec: it refuses an unverified command itself (kit/spec.py does
        # this for every service).
        code = TallyReasonCode(command.verdict.code)
        return state, [TallyRejected(reason_code=code, reason=command.verdict.reason)]
    tally = state or Tally()
    if command.amount == 0:
        # Adding nothing earns a bonus of 1, ninety days later (a stand-in for a durable timer).
        bonus = AddToTally(actor=Actor.system("tally-timer"), amount=1)
        return tally, [Deferred(bonus, now + BONUS_DELAY, "bonus")]
    if command.amount == POISON_AMOUNT:
        raise ValueError("unlucky")
    if command.amount > 100:
        return state, [
            TallyRejected(
                reason_code=TallyReasonCode.TOO_LARGE,
                reason="amounts over 100 are refused",
            )
        ]
    total = tally.total + command.amount
    return Tally(total=total), [TallyIncreased(total=total)]


TOPICS = {
    COMMANDS: Topic(
        name=COMMANDS,
        kind=TopicKind.COMMANDS,
        writer="any",
        messages=(AddToTally,),
        description="Commands for the tally test service",
    ),
}


def route(message: Message) -> str:
    return COMMANDS if isinstance(message, AddToTally) else EVENTS


def make_runtime(settings: ServiceSettings, clock: Clock = utc_now) -> ServiceRuntime:
    async def build(db: AsyncDatabase[dict[str, Any]], runtime: ServiceRuntime) -> Wiring:
        store = AggregateStore(db["tallies"], Tally)

        def target(envelope: Envelope, message: Any) -> Target:
            return Target(store, envelope.csid, lambda state, msg, at, facts: decide(state, msg, at))

        async def handle(items: Sequence[tuple[Envelope, Any]], now: datetime) -> list[Result]:
            return await apply_batch(items, now, settings, targets=target, route=route)

        return Wiring(handle=handle, stores=[store])

    runtime = ServiceRuntime(
        settings,
        consumes=[COMMANDS],
        produces=[EVENTS],
        build=build,
        clock=clock,
        extra_topics=TOPICS,
        deadletter="casemesh.tally.deadletter.v1",
    )

    @runtime.broker.subscriber(*runtime.topics, **runtime.subscription)
    async def on_tally_command(message: KafkaMessage) -> None:
        await runtime.consume(message)

    return runtime
