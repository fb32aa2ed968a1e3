"""What the demo's script drives the mesh with: an upstream system's view of the topics.

A workflow (``casemesh/demo/workflows/``) gets a :class:`Story` for one customer. ``send`` wraps
a command (or an upstream event) in an envelope, publishes it to its topic and waits until the
mesh has answered it — an event it caused, a ``…Rejected`` refusal or a dead letter — and, when
asked, until further events of its flow have arrived. Every answer is read off the topics by the
host's tap; nothing is looked up in a store. The workflow ends by stating its outcome, derived
from the events it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from casemesh.mesh import MeshHost, Processed, Record, digest
from contracts.base import Actor, Message, Role
from contracts.envelope import Envelope
from contracts.topics import topic_of

PRODUCER = "casemesh-demo"


def officer(
    officer_id: str, role: Role, first_name: str, *, team: str, extension: str, site: str = "Hobart"
) -> Actor:
    """A member of staff as the script's commands name them."""
    return Actor(
        officer_id=officer_id, role=role, first_name=first_name, site=site, team=team, extension=extension
    )


class DemoClock:
    """The mesh's clock during the demo: a working day that moves only when the script says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Decision(StrEnum):
    """What the mesh made of a message, from its consumers' outcomes and the records it caused."""

    ACCEPTED = "accepted"
    """Applied by a consumer (an upstream fact that changes nothing visible is still accepted)."""
    REFUSED = "refused"
    """A business refusal: a ``…Rejected`` event with a reason code."""
    DEAD_LETTERED = "dead-lettered"
    """Malformed or poison: sent to the consumer's dead-letter topic with the reason."""
    IGNORED = "ignored"
    """Every consumer read it and had nothing to do."""
    NO_ANSWER = "no answer"
    """Not processed by every consumer within the timeout."""


@dataclass(frozen=True)
class Seen:
    """A record on the mesh, decoded where it is an envelope."""

    order: int
    topic: str
    key: str
    message_type: str
    message_id: str | None
    correlation_id: str | None
    causation_id: str | None
    producer: str | None
    payload: dict[str, Any]
    headers: dict[str, str]
    value: bytes

    @property
    def is_dead_letter(self) -> bool:
        return ".deadletter." in self.topic

    @property
    def is_refusal(self) -> bool:
        return self.message_type.endswith("Rejected") and "reason_code" in self.payload

    @classmethod
    def of(cls, order: int, record: Record) -> Seen:
        body: dict[str, Any] = {}
        try:
            parsed = json.loads(record.value)
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        payload = body.get("payload")
        return cls(
            order=order,
            topic=record.topic,
            key=record.key.decode(errors="replace"),
            message_type=str(
                body.get("message_type")
                or record.headers.get("message-type")
                or ("DeadLetter" if ".deadletter." in record.topic else "?")
            ),
            message_id=_str(body.get("message_id")),
            correlation_id=_str(body.get("correlation_id")),
            causation_id=_str(body.get("causation_id")),
            producer=_str(body.get("producer")),
            payload=payload if isinstance(payload, dict) else {},
            headers=record.headers,
            value=record.value,
        )


def distinct(records: Sequence[Seen], message_type: str) -> list[Seen]:
    """The ``message_type`` records, once each (delivery is at least once), in arrival order."""
    found: dict[str | None, Seen] = {}
    for seen in records:
        if seen.message_type == message_type:
            found.setdefault(seen.message_id, seen)
    return list(found.values())


def _str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass
class Step:
    """One message the script sent, and what the mesh made of it."""

    title: str
    topic: str
    message_type: str
    message_id: str
    value: bytes
    decision: Decision = Decision.NO_ANSWER
    reason_code: str | None = None
    reason: str | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    """Each consuming service's outcome (applied, refused, dead_lettered, ignored, duplicate)."""
    effects: list[Seen] = field(default_factory=list)
    """Records of its flow (same correlation id), or its dead letter, in arrival order."""

    def effect(self, message_type: str) -> dict[str, Any]:
        """The payload of the first ``message_type`` record of this step's flow."""
        for seen in self.effects:
            if seen.message_type == message_type:
                return seen.payload
        raise LookupError(f"{self.title!r}: no {message_type} ({self.decision.value})")

    def distinct(self, message_type: str) -> list[Seen]:
        """The flow's ``message_type`` records, once each."""
        return distinct(self.effects, message_type)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "topic": self.topic,
            "message_type": self.message_type,
            "decision": self.decision.value,
            "reason_code": self.reason_code,
            "outcomes": self.outcomes,
            "events": [s.message_type for s in self.effects],
        }


@dataclass
class StoryResult:
    name: str
    csid: str
    steps: list[Step]
    outcome: str
    facts: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        counts = {d.value: sum(1 for s in self.steps if s.decision is d) for d in Decision}
        return {
            "name": self.name,
            "csid": self.csid,
            "outcome": self.outcome,
            "facts": self.facts,
            "decisions": counts,
            "steps": [s.to_json() for s in self.steps],
        }


def default_topic(message: Message) -> str:
    """The one topic the contracts' registry carries this message type on."""
    return topic_of(message).name


class Mesh:
    """The tap's records, decoded, and a way to wait for the ones a step needs."""

    def __init__(self, host: MeshHost, clock: DemoClock, timeout_s: float) -> None:
        self.host = host
        self.clock = clock
        self.timeout_s = timeout_s
        self.seen: list[Seen] = []
        self.processed: list[Processed] = []
        self._changed = asyncio.Event()
        host.listen(self._note)

    def _note(self, item: Record | Processed) -> None:
        if isinstance(item, Record):
            self.seen.append(Seen.of(len(self.seen), item))
        else:
            self.processed.append(item)
        self._changed.set()

    def outcomes(self, topic: str, value: bytes) -> dict[str, str]:
        """What each service that read this record made of it (first outcome per service)."""
        key = digest(value)
        found: dict[str, str] = {}
        for p in self.processed:
            if p.topic == topic and p.digest == key:
                found.setdefault(p.service, p.outcome)
        return found

    async def until(self, check: Callable[[], bool], timeout_s: float | None = None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout_s if timeout_s is None else timeout_s)
        while not check():
            left = deadline - loop.time()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.05))
        return True

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        await self.host.publish(topic, key.encode(), value, headers)


class Story:
    """One customer's workflow as the script tells it."""

    def __init__(self, mesh: Mesh, name: str, csid: str) -> None:
        self.mesh = mesh
        self.name = name
        self.csid = csid
        self.steps: list[Step] = []

    # -- sending

    async def send(
        self,
        message: Message,
        title: str,
        *,
        topic: str | None = None,
        expect: Sequence[str] = (),
        pause: timedelta = timedelta(minutes=1),
    ) -> Step:
        """Publishes ``message``; waits for the mesh's answer and until every ``expect`` type of its flow
        has been read by all the services that read its topic."""
        self.mesh.clock.advance(pause)
        envelope = Envelope.wrap(message, csid=self.csid, producer=PRODUCER, occurred_at=self.mesh.clock())
        step = Step(
            title=title,
            topic=topic or default_topic(message),
            message_type=envelope.message_type,
            message_id=str(envelope.message_id),
            value=envelope.to_bytes(),
        )
        headers = {"message-type": envelope.message_type, "message-id": step.message_id}
        return await self._publish(step, headers, expect)

    async def send_bytes(self, value: bytes, title: str, *, topic: str, message_type: str) -> Step:
        """Publishes raw bytes (e.g. a malformed message) and waits for the mesh's answer."""
        step = Step(
            title=title, topic=topic, message_type=message_type, message_id=str(uuid.uuid4()), value=value
        )
        return await self._publish(step, {"message-type": message_type}, ())

    async def _publish(self, step: Step, headers: dict[str, str], expect: Sequence[str]) -> Step:
        self.steps.append(step)
        await self.mesh.publish(step.topic, self.csid, step.value, headers)

        consumers = set(self.mesh.host.consumers_of(step.topic))

        def answered() -> bool:
            self._judge(step)
            if set(step.outcomes) < consumers or step.decision is Decision.NO_ANSWER:
                return False
            return step.decision is not Decision.ACCEPTED or all(self._settled(step, t) for t in expect)

        if not await self.mesh.until(answered):
            step.decision = Decision.NO_ANSWER
        return step

    async def settle(self, step: Step, counts: dict[str, int]) -> Step:
        """Waits until the step's flow holds ``counts`` distinct records of each type (a fan-out whose
        size an event told), then judges the step again on its whole flow."""

        def complete() -> bool:
            self._judge(step)
            return all(len(step.distinct(t)) >= n for t, n in counts.items())

        await self.mesh.until(complete)
        return step

    def record(self, title: str, *, topic: str, message_type: str, value: bytes, answer: Seen | None) -> Step:
        """Records a step that did not go through a topic (an upload over HTTP), judged by the event
        ``answer`` its service published about it: refused if that is a refusal, else accepted."""
        step = Step(
            title=title, topic=topic, message_type=message_type, message_id=str(uuid.uuid4()), value=value
        )
        self.steps.append(step)
        if answer is None:
            return step
        step.effects = [s for s in self.mesh.seen if s.correlation_id == answer.correlation_id]
        service = answer.producer or "?"
        refused = "reason_code" in answer.payload
        step.decision = Decision.REFUSED if refused else Decision.ACCEPTED
        step.outcomes = {service: "refused" if refused else "applied"}
        if refused:
            step.reason_code = str(answer.payload.get("reason_code"))
            step.reason = _str(answer.payload.get("reason"))
        return step

    def _settled(self, step: Step, message_type: str) -> bool:
        """A ``message_type`` record of the step's flow exists and every service reading it has read it.

        Records on different topics are not ordered, so the next step waits until each expected event
        has reached all its consumers (e.g. notifications has taken in an approval before the next
        command on its own topic arrives).
        """
        found = next((s for s in step.effects if s.message_type == message_type), None)
        if found is None:
            return False
        readers = set(self.mesh.host.consumers_of(found.topic))
        return readers <= set(self.mesh.outcomes(found.topic, found.value))

    def _judge(self, step: Step) -> None:
        step.outcomes = self.mesh.outcomes(step.topic, step.value)
        step.effects = [
            s
            for s in self.mesh.seen
            if (s.correlation_id == step.message_id and s.message_id != step.message_id)
            or (s.is_dead_letter and s.key == self.csid and s.value == step.value)
        ]
        direct = [s for s in step.effects if s.causation_id == step.message_id or s.is_dead_letter]
        refusal = next((s for s in direct if s.is_refusal), None)
        letter = next((s for s in direct if s.is_dead_letter), None)
        results = set(step.outcomes.values())
        step.decision = Decision.NO_ANSWER
        if "dead_lettered" in results:
            # The dead letter itself (with its reason) follows the outcome by a moment.
            if letter is not None:
                step.decision = Decision.DEAD_LETTERED
                step.reason_code = letter.headers.get("x-reason-code")
                step.reason = letter.headers.get("x-reason")
        elif "refused" in results:
            if refusal is not None:
                step.decision = Decision.REFUSED
                step.reason_code = str(refusal.payload.get("reason_code"))
                step.reason = _str(refusal.payload.get("reason"))
        elif "applied" in results:
            step.decision = Decision.ACCEPTED
        elif results and results <= {"ignored", "duplicate"}:
            step.decision = Decision.IGNORED

    # -- reading

    def events(self, message_type: str | None = None, topic: str | None = None) -> list[Seen]:
        """Everything seen about this customer (of one type, on one topic), in arrival order."""
        return [
            s
            for s in self.mesh.seen
            if s.key == self.csid
            and (message_type is None or s.message_type == message_type)
            and (topic is None or s.topic == topic)
        ]

    async def wait_for(self, message_type: str, *, topic: str | None = None, nth: int = 1) -> Seen:
        """The ``nth`` record of ``message_type`` about this customer, waiting for it."""
        if not await self.mesh.until(lambda: len(self.events(message_type, topic)) >= nth):
            raise TimeoutError(f"{self.name}: no {message_type} for {self.csid}")
        return self.events(message_type, topic)[nth - 1]

    def last(self, message_type: str) -> Seen | None:
        found = self.events(message_type)
        return found[-1] if found else None

    def result(self, outcome: str, **facts: Any) -> StoryResult:
        return StoryResult(self.name, self.csid, list(self.steps), outcome, facts)
