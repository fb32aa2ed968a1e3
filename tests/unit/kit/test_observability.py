"""The operators' kit without a broker: per-message metrics, JSON lines from every logger, and the
pieces of tracing that need no second service (ids, headers, spans of one batch)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.envelope import Envelope
from kit.http import HttpServer, health_app
from kit.logs import LOGGER, JsonFormatter, configure
from kit.metrics import Metrics
from kit.processing import DeadLetter, Incoming, Outcome, Processor, one_by_one
from kit.settings import ServiceSettings
from kit.tracing import (
    TRACEPARENT,
    Tracing,
    decide_span_id,
    envelope_ids,
    parse_traceparent,
    trace_id_of,
    traceparent,
)
from tests.integration.kit.tally import COMMANDS, TOPICS, AddToTally, make_runtime
from tests.integration.kit.test_lanes import ACTOR

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SETTINGS = ServiceSettings(service_name="tally")
CANARY = "Qzxwvbnmcanary"


def good(amount: int = 1) -> Envelope:
    return Envelope.wrap(
        AddToTally(actor=ACTOR, amount=amount), csid="123456789", producer="t", occurred_at=NOW
    )


def record(value: bytes, offset: int = 7, headers: dict[str, bytes | None] | None = None) -> Incoming:
    return Incoming(
        topic=COMMANDS, partition=2, offset=offset, key=b"123456789", value=value, headers=headers or {}
    )


async def nothing(letter: DeadLetter) -> None:
    return None


def processor(metrics: Metrics, outcome: Outcome = Outcome.APPLIED) -> Processor:
    async def handle(envelope: Envelope, message: Any, now: datetime) -> Outcome:
        return outcome

    return Processor(
        settings=SETTINGS,
        topics=TOPICS,
        handle=one_by_one(handle),
        dead_letter=nothing,
        metrics=metrics,
        clock=lambda: NOW,
    )


class Lines(logging.Handler):
    """The JSON lines the kit's formatter makes of what reaches this handler."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    level = LOGGER.level
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)


async def test_each_record_is_counted_and_timed_by_topic_message_type_and_outcome() -> None:
    metrics = Metrics("tally")
    await processor(metrics).process_batch([record(good().to_bytes()), record(b"not json", offset=8)])
    text = metrics.render().decode()
    assert (
        f'casemesh_processed_total{{message_type="AddToTally",outcome="applied",topic="{COMMANDS}"}} 1.0'
        in text
    )
    assert (
        f'casemesh_processed_total{{message_type="unknown",outcome="dead_lettered",topic="{COMMANDS}"}} 1.0'
        in text
    )
    assert f'casemesh_processing_seconds_count{{message_type="AddToTally",topic="{COMMANDS}"}} 1.0' in text
    assert f'casemesh_processing_seconds_count{{message_type="unknown",topic="{COMMANDS}"}} 1.0' in text


def test_observing_one_amount_many_times_at_once_equals_observing_it_one_by_one() -> None:
    at_once, one_by_one_ = Metrics("a"), Metrics("b")
    for amount, count in ((0.003, 5), (0.2, 2), (99.0, 3)):
        at_once.observe_many(at_once.processing_of("t", "T"), amount, count)
        for _ in range(count):
            one_by_one_.processing_of("t", "T").observe(amount)

    def samples(metrics: Metrics) -> list[str]:
        text = metrics.render().decode()
        prefix = (
            "casemesh_processing_seconds_bucket",
            "casemesh_processing_seconds_sum",
            "casemesh_processing_seconds_count",
        )
        return [line for line in text.splitlines() if line.startswith(prefix)]

    assert samples(at_once) == samples(one_by_one_) and len(samples(at_once)) > 10


def test_each_service_registry_reports_the_process_and_platform_and_starts_not_ready() -> None:
    first, second = Metrics("a").render().decode(), Metrics("b").render().decode()
    for text in (first, second):
        assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text
        assert "python_info{" in text and "python_gc_collections_total" in text
        assert "casemesh_ready 0.0" in text


async def test_a_runtime_that_has_not_started_is_not_ready_and_says_so_in_its_gauge() -> None:
    runtime = make_runtime(ServiceSettings(service_name="tally"))
    assert runtime.settings.readiness_timeout_s == 0.8
    assert await runtime.ready() is False
    assert "casemesh_ready 0.0" in runtime.metrics.render().decode()


async def test_a_processing_line_carries_the_ids_coordinates_and_duration_and_never_the_payload(
    lines: Lines,
) -> None:
    message = Envelope.wrap(
        AddToTally(actor=ACTOR.model_copy(update={"first_name": CANARY}), amount=2),
        csid="123456789",
        producer="t",
        occurred_at=NOW,
    )
    await processor(Metrics("tally")).process_batch([record(message.to_bytes())])
    (line,) = [line for line in lines.lines if line["event"] == "processed"]
    assert line["level"] == "debug"
    assert {k: line[k] for k in ("service", "topic", "partition", "offset", "outcome")} == {
        "service": "tally",
        "topic": COMMANDS,
        "partition": 2,
        "offset": 7,
        "outcome": "applied",
    }
    assert (line["message_type"], line["message_id"], line["correlation_id"]) == (
        "AddToTally",
        str(message.message_id),
        str(message.correlation_id),
    )
    assert isinstance(line["duration_ms"], float)
    (batch,) = [line for line in lines.lines if line["event"] == "batch_processed"]
    assert (batch["level"], batch["records"], batch["applied"]) == ("info", 1, 1)
    assert CANARY not in json.dumps(lines.lines)


async def test_a_refusal_keeps_its_processing_line_at_info() -> None:
    handler = Lines()
    LOGGER.addHandler(handler)
    level = LOGGER.level
    LOGGER.setLevel(logging.INFO)
    try:
        await processor(Metrics("tally"), Outcome.REFUSED).process_batch([record(good().to_bytes())])
        await processor(Metrics("tally")).process_batch([record(good().to_bytes())])
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)
    assert [
        (line["event"], line.get("outcome")) for line in handler.lines if line["event"] == "processed"
    ] == [("processed", "refused")]


def root_json_handler() -> logging.Handler:
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    return handler


def test_every_library_logger_writes_json_through_the_root_and_its_repeated_warnings_are_limited() -> None:
    plain = logging.StreamHandler(io.StringIO())
    logging.getLogger("faststream").addHandler(plain)
    # A fresh root handler (and repeat filter): what earlier tests logged must not count here.
    root = logging.getLogger()
    earlier = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    for h in earlier:
        root.removeHandler(h)
    configure()
    handler = root_json_handler()
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        assert plain not in logging.getLogger("faststream").handlers
        for _ in range(5):
            logging.getLogger("aiokafka.conn").warning("Unable connect to node with id %s: %s", 1, "refused")
        try:
            raise ValueError(CANARY)
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("pymongo.topology").debug("a document: %s", CANARY)
    finally:
        root.removeHandler(handler)
        for h in earlier:
            root.addHandler(h)
    written = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(w["logger"], w["level"]) for w in written] == [
        ("aiokafka.conn", "warning"),
        ("uvicorn.error", "error"),
    ]
    assert written[0]["event"] == "Unable connect to node with id 1: refused"
    assert written[1]["error_class"] == "ValueError"
    assert CANARY not in stream.getvalue()
    assert logging.getLogger("pymongo").getEffectiveLevel() >= logging.INFO


def test_the_http_server_leaves_uvicorns_loggers_to_the_root_json_handler() -> None:
    configure()
    HttpServer(health_app(Metrics("tally"), _never_ready), "127.0.0.1", 0)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        assert not [h for h in logger.handlers if not isinstance(h.formatter, JsonFormatter)], name
        assert logger.propagate


async def _never_ready() -> bool:
    return False


def test_an_envelopes_ids_are_read_from_its_bytes_without_parsing_the_payload() -> None:
    first = good()
    caused = Envelope.caused_by(first, AddToTally(actor=ACTOR, amount=3), producer="t", occurred_at=NOW)
    ids = envelope_ids(caused.to_bytes())
    assert ids is not None
    assert (ids.message_id, ids.correlation_id, ids.causation_id) == (
        str(caused.message_id),
        str(first.message_id),
        str(first.message_id),
    )
    root = envelope_ids(first.to_bytes())
    assert root is not None and root.causation_id is None
    assert envelope_ids(b'{"payload":{"x":1}}') is None
    assert envelope_ids(b"\xff\xfe not json") is None


def test_a_traceparent_names_the_flows_trace_and_a_span_and_a_malformed_one_is_none() -> None:
    flow = uuid.uuid4()
    value = traceparent(trace_id_of(flow), decide_span_id(flow))
    assert parse_traceparent(value.encode()) == (flow.int, decide_span_id(str(flow)))
    for bad in (None, b"", b"00-xyz-abc-01", b"01-" + b"0" * 32 + b"-" + b"1" * 16 + b"-01", b"\xff"):
        assert parse_traceparent(bad) is None


def test_a_batchs_spans_are_one_trace_per_flow_and_the_decide_span_is_the_one_its_events_name() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing("tally")
    tracing.export_to(exporter)
    upstream = uuid.uuid4()
    first, second = good(), good(2)
    header = traceparent(trace_id_of(second.correlation_id), 0xABC).encode()
    batch = [
        record(first.to_bytes()),
        record(second.to_bytes(), offset=8, headers={TRACEPARENT: header}),
        record(b"not json", offset=9, headers={TRACEPARENT: traceparent(upstream.int, 1).encode()}),
    ]
    trace = tracing.batch()
    trace.decided_from_ns, trace.decided_to_ns, trace.settled_ns = 1, 2, 3
    trace.envelopes = [first, second, None]
    tracing.record(trace, batch, [Outcome.APPLIED, Outcome.DUPLICATE, Outcome.DEAD_LETTERED])

    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == sorted(
        [f"consume {COMMANDS}", "decide AddToTally", "commit"] * 2
    ), "no span for a record without an envelope"
    by_trace: dict[int, list[Any]] = {}
    for span in spans:
        assert span.context is not None
        by_trace.setdefault(span.context.trace_id, []).append(span)
    assert set(by_trace) == {first.correlation_id.int, second.correlation_id.int}
    (root,) = [s for s in by_trace[first.correlation_id.int] if s.name.startswith("consume")]
    assert root.parent is None
    (decided,) = [s for s in by_trace[first.correlation_id.int] if s.name.startswith("decide")]
    assert decided.context is not None and decided.context.span_id == decide_span_id(first.message_id)
    assert decided.parent is not None and root.context is not None
    assert decided.parent.span_id == root.context.span_id
    (continued,) = [s for s in by_trace[second.correlation_id.int] if s.name.startswith("consume")]
    assert continued.parent is not None and continued.parent.span_id == 0xABC

    caused = Envelope.caused_by(first, AddToTally(actor=ACTOR, amount=3), producer="t", occurred_at=NOW)
    ids = envelope_ids(caused.to_bytes())
    assert ids is not None
    sending, header_value = tracing.start_publish("casemesh.tally.events.v1", ids)
    tracing.end_publish(sending, None)
    published = exporter.get_finished_spans()[-1]
    assert published.name == "publish casemesh.tally.events.v1" and published.parent is not None
    assert published.parent.span_id == decide_span_id(first.message_id)
    assert parse_traceparent(header_value) == (first.correlation_id.int, sending.get_span_context().span_id)


def test_tracing_to_otlp_exports_over_http_with_the_tracing_extras_exporter() -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    tracing = Tracing("tally", "otlp")
    processors = tracing.provider._active_span_processor._span_processors
    assert [type(p.span_exporter) for p in processors] == [OTLPSpanExporter]  # type: ignore[attr-defined]
    tracing.provider.shutdown()


def test_tracing_is_off_by_default_and_then_the_runtime_holds_no_tracer() -> None:
    runtime = make_runtime(ServiceSettings(service_name="tally"))
    assert runtime.settings.tracing_enabled is False and runtime.tracing is None
