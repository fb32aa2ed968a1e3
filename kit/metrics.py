"""Prometheus metrics, one registry per service so several can share a process (the demo)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from kit.instrument import ProcessCounts


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
        self.info = Gauge("casemesh_service_info", "Service identity", list(labels), registry=r)
        self.info.labels(**labels).set(1)
        r.register(ProcessCounts())
        self._consumed: dict[str, Any] = {}

    def consumed_on(self, topic: str) -> Any:
        """The consumed counter of one topic (looked up once: ``labels`` is costly per record)."""
        child = self._consumed.get(topic)
        if child is None:
            child = self._consumed[topic] = self.consumed.labels(topic)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)
