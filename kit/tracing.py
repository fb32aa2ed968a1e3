"""OpenTelemetry traces of the mesh's flows; off by default (``tracing_enabled``).

**One flow, one trace.** A span's trace id is the envelope's ``correlation_id`` — its 128 bits —
which every message of a business flow carries, whichever service decided it. So a flow is one
trace across the mesh without any span context having to survive what lies between two services:
the outbox (an event may be published seconds after its decision, by another replica after a
takeover, or after a restart), a durable timer firing weeks later, a rebuild. Storing the
deciding span's ``traceparent`` in each outbox entry was the alternative: it changes the stored
documents and still breaks where an entry is published by code that never saw the span.

**Spans**, per message (a batch holds many flows, so a batch-wide span could belong to no trace):

- ``consume <topic>`` (consumer): from the batch's start to its offset commit. Its parent is the
  record's W3C ``traceparent`` header — the upstream ``publish`` span — when that header's trace is
  the flow's; otherwise it is the root of the flow's trace (a foreign trace is kept as a link).
- ``decide <message_type>``: the batch handler's call (claim, load, decide, store the commit
  record). The handler decides the whole batch in one call, so that call is each message's decide
  span. For a message applied or refused (the outcomes that publish) its span id is derived from
  the message id, so that
- ``publish <topic>`` (producer), made when the relay, the timer sweeper or a rejection
  announcement sends a record, has as parent the decide span of the message that caused it:
  span id derived from the envelope's ``causation_id``, trace id from its ``correlation_id`` —
  whenever and by whichever replica the entry is published. It ends when the broker acknowledges
  the record; its context goes on the record as ``traceparent``.
- ``commit``: from the batch's outcomes to its offset commit (the outbox's room included).

So a downstream ``consume`` span's parent chain is: the upstream ``publish``, that service's
``decide``, its ``consume``, and so on back to the flow's first message. A parent may be missing
from the backend (a message decided with tracing off, or by an API endpoint): the trace is still
one.

Spans are made after the fact from the batch's measured times (``start_time``/``end_time``): none
is open while a batch is processed. Disabled, the runtime holds no ``Tracing`` (None) and checks
that once per batch and per published record; OpenTelemetry is then not even imported (it is the
``tracing`` extra). Every flow is traced (``ALWAYS_ON``, whatever ``OTEL_TRACES_SAMPLER`` says):
OpenTelemetry's ratio sampler reads a trace id's low 64 bits, where a UUID's variant bits are fixed,
so it would keep all flows or none. On, the three spans of a message cost some 50 µs of CPU (the
SDK's span creation), about as much as the kit's own processing of a small message.

FastStream's ``KafkaTelemetryMiddleware`` is not used: it traces a batch subscriber as one span per
batch with a random trace id, before the kit has read any envelope, and injects its own context on
every publish; a flow's identity is the envelope's, which only the kit sees once it has decoded it.

Exporters (``tracing_exporter``): ``none`` (spans made, sent only to exporters added with
``export_to`` — the tests' in-memory one), ``console`` (stdout), ``otlp`` (the
``tracing`` extra's OTLP/HTTP exporter; configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables).
Span attributes are ids, topics, offsets and outcomes: never a payload value, nor the CSID.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from contracts.envelope import Envelope

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from kit.processing import Incoming, Outcome

Exporter = Literal["none", "console", "otlp"]

TRACEPARENT = "traceparent"
"""The W3C trace-context header every record the kit publishes carries while tracing is on."""

_PUBLISHING = frozenset({"applied", "refused"})
"""Outcomes whose decision may have stored events to publish: their decide span's id is derived."""


@dataclass
class BatchTrace:
    """What a batch's spans are made of, filled in as it is processed (epoch nanoseconds)."""

    started_ns: int = field(default_factory=time.time_ns)
    decided_from_ns: int = 0
    decided_to_ns: int = 0
    envelopes: Sequence[Envelope | None] = ()
    """Each record's envelope, None where it could not be read (such a record gets no span)."""
    settled_ns: int = 0


@dataclass(frozen=True)
class EnvelopeIds:
    """The ids of an envelope read from its serialized bytes, without parsing the payload."""

    message_id: str | None
    correlation_id: str
    causation_id: str | None


_HEAD = 1024
"""The envelope's ids lie within its first bytes, before the payload."""


def envelope_ids(value: bytes) -> EnvelopeIds | None:
    """The ids of a serialized envelope (compact JSON as ``Envelope.to_bytes`` writes it, where the
    payload comes last, so the first match of a field name is the envelope's); None where the value
    is not such an envelope. The outbox holds envelopes serialized so: this avoids parsing each
    entry again to publish it."""
    correlation = _uuid_after(value, b'"correlation_id":"')
    if correlation is None:
        return None
    return EnvelopeIds(
        _uuid_after(value, b'"message_id":"'), correlation, _uuid_after(value, b'"causation_id":"')
    )


def _uuid_after(value: bytes, name: bytes) -> str | None:
    at = value.find(name, 0, _HEAD)
    if at < 0:
        return None
    start = at + len(name)
    text = value[start : start + 36]
    try:
        return str(uuid.UUID(text.decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None


def trace_id_of(correlation_id: uuid.UUID | str) -> int:
    """A flow's trace id: its correlation id's 128 bits."""
    return (correlation_id if isinstance(correlation_id, uuid.UUID) else uuid.UUID(correlation_id)).int


def decide_span_id(message_id: uuid.UUID | str) -> int:
    """The span id of a message's ``decide`` span: 64 bits of a hash of its id (never 0)."""
    digest = hashlib.blake2b(str(message_id).encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def parse_traceparent(value: bytes | str | None) -> tuple[int, int] | None:
    """``(trace_id, span_id)`` of a version-00 ``traceparent`` value; None if it is not one."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    parts = text.strip().split("-")
    if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id = int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    return (trace_id, span_id) if trace_id and span_id else None


class Tracing:
    """One service's tracer provider (several services may share a process: one each)."""

    def __init__(self, service: str, exporter: Exporter = "none") -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        self.service = service
        self._ids: ChosenIds = _chosen_ids()
        self.provider: TracerProvider = TracerProvider(
            sampler=ALWAYS_ON, resource=Resource.create({"service.name": service}), id_generator=self._ids
        )
        processor = _processor(exporter)
        if processor is not None:
            self.provider.add_span_processor(processor)
        self.tracer: Tracer = self.provider.get_tracer("casemesh.kit")

    @classmethod
    def from_settings(cls, settings: Any) -> Tracing | None:
        """The service's tracing, or None when ``tracing_enabled`` is off."""
        if not getattr(settings, "tracing_enabled", False):
            return None
        return cls(settings.service_name, getattr(settings, "tracing_exporter", "none"))

    def export_to(self, exporter: SpanExporter) -> None:
        """Sends every span, as it ends, to ``exporter`` too (the tests' in-memory exporter)."""
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        self.provider.add_span_processor(SimpleSpanProcessor(exporter))

    def shutdown(self) -> None:
        self.provider.shutdown()

    # -- consuming

    def batch(self) -> BatchTrace:
        return BatchTrace()

    def record(self, trace: BatchTrace, batch: Sequence[Incoming], outcomes: Sequence[Outcome]) -> None:
        """The spans of a committed batch's messages, ending now."""
        committed_ns = time.time_ns()
        settled_ns = trace.settled_ns or committed_ns
        for incoming, envelope, outcome in zip(batch, trace.envelopes, outcomes, strict=True):
            if envelope is not None:
                self._message(trace, incoming, envelope, str(outcome), settled_ns, committed_ns)

    def _message(
        self,
        trace: BatchTrace,
        incoming: Incoming,
        envelope: Envelope,
        outcome: str,
        settled_ns: int,
        committed_ns: int,
    ) -> None:
        from opentelemetry.trace import Link, SpanKind, Status, StatusCode, set_span_in_context

        flow = trace_id_of(envelope.correlation_id)
        parent, links = self._upstream(flow, incoming.headers)
        attributes = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": incoming.topic,
            "messaging.destination.partition.id": str(incoming.partition),
            "messaging.kafka.offset": incoming.offset,
            "messaging.message.id": str(envelope.message_id),
            "casemesh.message_type": envelope.message_type,
            "casemesh.correlation_id": str(envelope.correlation_id),
            "casemesh.causation_id": str(envelope.causation_id or ""),
            "casemesh.outcome": outcome,
        }
        consume = self._start(
            f"consume {incoming.topic}",
            parent,
            trace_id=flow,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=[Link(c) for c in links],
            start_time=trace.started_ns,
        )
        if outcome == "dead_lettered":
            consume.set_status(Status(StatusCode.ERROR, "dead-lettered"))
        inside = set_span_in_context(consume)
        if trace.decided_from_ns:
            decide = self._start(
                f"decide {envelope.message_type}",
                inside,
                span_id=decide_span_id(envelope.message_id) if outcome in _PUBLISHING else 0,
                attributes={"casemesh.outcome": outcome},
                start_time=trace.decided_from_ns,
            )
            decide.end(end_time=trace.decided_to_ns or settled_ns)
        self._start("commit", inside, start_time=settled_ns).end(end_time=committed_ns)
        consume.end(end_time=committed_ns)

    def _upstream(self, flow: int, headers: Mapping[str, bytes | None]) -> tuple[Context, list[Any]]:
        """The consume span's parent: the record's traceparent when it is of this flow's trace;
        otherwise none (the span is the root of the flow's trace), a foreign one kept as a link."""
        from opentelemetry.context import Context
        from opentelemetry.trace import NonRecordingSpan, set_span_in_context

        found = parse_traceparent(headers.get(TRACEPARENT))
        if found is None:
            return Context(), []
        remote = _remote(*found)
        if found[0] != flow:
            return Context(), [remote]
        return set_span_in_context(NonRecordingSpan(remote)), []

    # -- publishing

    def start_publish(self, topic: str, ids: EnvelopeIds) -> tuple[Span, str]:
        """The ``publish <topic>`` span of a record and the ``traceparent`` it carries."""
        from opentelemetry.context import Context
        from opentelemetry.trace import NonRecordingSpan, SpanKind, set_span_in_context

        flow = trace_id_of(ids.correlation_id)
        parent = (
            set_span_in_context(NonRecordingSpan(_remote(flow, decide_span_id(ids.causation_id))))
            if ids.causation_id
            else Context()
        )
        span = self._start(
            f"publish {topic}",
            parent,
            trace_id=flow,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.message.id": ids.message_id or "",
                "casemesh.correlation_id": ids.correlation_id,
                "casemesh.causation_id": ids.causation_id or "",
            },
        )
        context = span.get_span_context()
        return span, traceparent(context.trace_id, context.span_id)

    def end_publish(self, span: Span, ack: Any) -> None:
        """Ends the span when the broker acknowledges the record (now, if ``ack`` is no future)."""
        add_done_callback = getattr(ack, "add_done_callback", None)
        if add_done_callback is None:
            span.end()
            return

        def acknowledged(future: Any) -> None:
            if future.cancelled():
                self.fail_publish(span, None)
                return
            error = future.exception()
            if error is not None:
                self.fail_publish(span, error)
                return
            span.end()

        add_done_callback(acknowledged)

    def fail_publish(self, span: Span, error: BaseException | None) -> None:
        from opentelemetry.trace import Status, StatusCode

        # The class only: an exception's text may quote a value.
        name = type(error).__name__ if error is not None else "cancelled"
        span.set_status(Status(StatusCode.ERROR, name))
        span.end()

    # -- span ids

    def _start(
        self,
        name: str,
        context: Context,
        *,
        trace_id: int = 0,
        span_id: int = 0,
        **options: Any,
    ) -> Span:
        """A span whose trace id (when it has no parent) and span id may be chosen."""
        self._ids.trace_id, self._ids.span_id = trace_id, span_id
        try:
            return self.tracer.start_span(name, context, **options)
        finally:
            self._ids.trace_id = self._ids.span_id = 0


def _remote(trace_id: int, span_id: int) -> Any:
    from opentelemetry.trace import SpanContext, TraceFlags

    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))


class ChosenIds:
    """Random ids, except the ones chosen for the next span (``start_span`` asks for them at once,
    synchronously, so no other span can take them)."""

    trace_id: int
    span_id: int


def _chosen_ids() -> Any:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class Chosen(RandomIdGenerator, ChosenIds):
        trace_id = 0
        span_id = 0

        def generate_span_id(self) -> int:
            return self.span_id or super().generate_span_id()

        def generate_trace_id(self) -> int:
            return self.trace_id or super().generate_trace_id()

        def is_trace_id_random(self) -> bool:
            # A flow's trace id is its correlation id: a UUID, random only for a flow's first message.
            return False

    return Chosen()


def _processor(exporter: Exporter) -> SpanProcessor | None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if exporter == "none":
        return None
    if exporter == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
    except ImportError:
        raise RuntimeError(
            "tracing_exporter is otlp but opentelemetry-exporter-otlp is not installed; "
            "install it, or choose console or none"
        ) from None
    return BatchSpanProcessor(OTLPSpanExporter())
