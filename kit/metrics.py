"""Prometheus metrics, one registry per service so several can share a process (the demo).

``casemesh_processed_total{topic,message_type,outcome}`` counts every consumed record by its
outcome (the kit's ``Outcome``: applied, duplicate, refused, ignored, dead_lettered); a record
dead-lettered before its envelope could be read has the message type ``unknown`` (the type named
by a malformed record is never a label: it could be anything, and unbounded).

``casemesh_processing_seconds{topic,message_type}`` is, for each message, the time from the start
of processing its batch to the batch's outcomes being settled (decoded, decided, the commit record
stored, dead letters published): the latency processing added to that message. Every message of
a batch observes the same value, its batch's; the offset commit after it is not included (see
``casemesh_batch_seconds`` for whole batches).

``casemesh_ready`` is 1 while the last readiness check passed, 0 after one failed. The process's
CPU, memory, file descriptors and garbage collections come from prometheus_client's standard
collectors (``process_*``, ``python_*``), registered in each service's registry: services sharing
a process report the same process figures.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from kit.instrument import ProcessCounts

UNKNOWN_TYPE = "unknown"
"""The message type label of a record whose envelope could not be read."""

PROCESSING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service}
        r = self.registry
        self.consumed = Counter("casemesh_consumed", "Records consumed", ["topic"], registry=r)
        self.applied = Counter("casemesh_applied", "Messages applied", registry=r)
        self.duplicates = Counter(
            "casemesh_duplicates", "Redelivered messages that changed nothing", registry=r
        )
        self.refused = Counter("casemesh_refused", "Messages refused with a reason code", registry=r)
        self.ignored = Counter("casemesh_ignored", "Messages of no interest to this service", registry=r)
        self.dead_lettered = Counter(
            "casemesh_dead_lettered", "Records sent to dead letters", ["reason_code"], registry=r
        )
        self.processed = Counter(
            "casemesh_processed",
            "Records processed, by input topic, message type and outcome",
            ["topic", "message_type", "outcome"],
            registry=r,
        )
        self.processing = Histogram(
            "casemesh_processing_seconds",
            "Per message: time from the start of its batch's processing to its outcome being stored",
            ["topic", "message_type"],
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.infrastructure_retries = Counter(
            "casemesh_infrastructure_retries", "Retries while the store or broker was unavailable", registry=r
        )
        self.latency = Histogram(
            "casemesh_batch_seconds",
            "Time to process one batch of records, to its commit",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.batch_size = Histogram(
            "casemesh_batch_records",
            "Records per consumed batch",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "casemesh_outbox_backlog", "Commit records whose events are not yet published", registry=r
        )
        self.published = Counter("casemesh_published", "Events published from the outbox", registry=r)
        self.ready = Gauge("casemesh_ready", "1 while the last readiness check passed, else 0", registry=r)
        self.info = Gauge("casemesh_service_info", "Service identity", list(labels), registry=r)
        self.info.labels(**labels).set(1)
        r.register(ProcessCounts())
        # The standard process, platform and GC collectors (their default instances are on the
        # global registry, which the services do not expose); each reads the process's own figures.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)
        self._consumed: dict[str, Any] = {}
        self._processed: dict[tuple[str, str, str], Any] = {}
        self._processing: dict[tuple[str, str], Any] = {}

    def consumed_on(self, topic: str) -> Any:
        """The consumed counter of one topic (looked up once: ``labels`` is costly per record)."""
        child = self._consumed.get(topic)
        if child is None:
            child = self._consumed[topic] = self.consumed.labels(topic)
        return child

    def processed_of(self, topic: str, message_type: str, outcome: str) -> Any:
        """The processed counter of one topic, message type and outcome (looked up once)."""
        key = (topic, message_type, outcome)
        child = self._processed.get(key)
        if child is None:
            child = self._processed[key] = self.processed.labels(*key)
        return child

    def processing_of(self, topic: str, message_type: str) -> Any:
        """The processing-time histogram of one topic and message type (looked up once)."""
        key = (topic, message_type)
        child = self._processing.get(key)
        if child is None:
            child = self._processing[key] = self.processing.labels(*key)
        return child

    @staticmethod
    def observe_many(histogram: Any, amount: float, count: int) -> None:
        """``count`` observations of one ``amount`` on a histogram's child, as one update of its sum
        and bucket: what ``observe`` does ``count`` times over, at the cost of one (a batch's
        messages share their batch's time). It updates the child's fields as ``observe`` does in
        prometheus_client 0.26 (pinned); other versions fall back to observing one by one."""
        bounds = getattr(histogram, "_upper_bounds", None)
        buckets = getattr(histogram, "_buckets", None)
        total = getattr(histogram, "_sum", None)
        if bounds is None or buckets is None or total is None:
            for _ in range(count):
                histogram.observe(amount)
            return
        total.inc(amount * count)
        for index, bound in enumerate(bounds):
            if amount <= bound:
                buckets[index].inc(count)
                break

    def render(self) -> bytes:
        return generate_latest(self.registry)
