"""Consumer lag, exported by the service itself: per topic and partition of its own group, how many
records the broker holds past the group's committed offset.

The end of a partition is the high watermark the service's consumer last fetched; the committed
offset is the group's, read from the broker. A partition this replica is not assigned is another
replica's to report, so the gauge of a group is the sum over its replicas.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Gauge

LAG_INTERVAL_S = 15.0
"""How often the lag is read: a Prometheus scrape and KEDA's polling are both of this order."""


class ConsumerLag:
    def __init__(self, registry: CollectorRegistry, subscriber: Any, suffix: str = "") -> None:
        self.subscriber = subscriber
        self.suffix = suffix
        self.gauge = Gauge(
            "casemesh_consumer_lag",
            "Records past the service's committed offset, per topic and partition it is assigned",
            ["topic", "partition"],
            registry=registry,
        )

    async def refresh(self) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:  # not started yet, or FastStream's in-memory broker
            return
        lags: dict[tuple[str, str], int] = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            committed = await consumer.committed(tp) or 0
            lags[(tp.topic.removesuffix(self.suffix), str(tp.partition))] = max(high - committed, 0)
        self.gauge.clear()
        for (topic, partition), lag in lags.items():
            self.gauge.labels(topic, partition).set(lag)
