"""Process-wide counts of store commands and Kafka requests, for ``/metrics`` and ``casemesh bench``.

The store's are counted by a PyMongo command listener on the service's client (and by the in-memory
twin, one per call). Kafka's are counted where aiokafka writes a request to a broker connection,
which every producer, consumer and admin client of the process goes through: the count is by
request type (``ProduceRequest``, ``FetchRequest``, ``OffsetCommitRequest``, …).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiokafka.conn import AIOKafkaConnection
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from pymongo import monitoring

STORE_COMMANDS: Counter[str] = Counter()
KAFKA_REQUESTS: Counter[str] = Counter()

_IGNORED_COMMANDS = frozenset(
    {"hello", "ismaster", "isMaster", "ping", "endSessions", "saslStart", "saslContinue"}
)


class StoreCommandListener(monitoring.CommandListener):
    """Counts every command a client sends, by name (handshakes and heartbeats excepted)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _IGNORED_COMMANDS:
            STORE_COMMANDS[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


def count_store_command(name: str) -> None:
    STORE_COMMANDS[name] += 1


def count_kafka_requests() -> None:
    """Counts each request the process's Kafka clients send (installed once per process)."""
    send = AIOKafkaConnection.send
    if getattr(send, "_casemesh_counted", False):
        return

    @functools.wraps(send)
    def counted(self: AIOKafkaConnection, request: Any, expect_response: bool = True) -> Any:
        KAFKA_REQUESTS[type(request).__name__.split("_")[0]] += 1
        return send(self, request, expect_response)

    counted._casemesh_counted = True  # type: ignore[attr-defined]
    AIOKafkaConnection.send = counted


class ProcessCounts(Collector):
    """``casemesh_store_commands_total`` and ``casemesh_kafka_requests_total`` for the process."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        store = CounterMetricFamily(
            "casemesh_store_commands", "Store commands this process sent, by command", labels=["command"]
        )
        for name, count in sorted(STORE_COMMANDS.items()):
            store.add_metric([name], count)
        yield store
        kafka = CounterMetricFamily(
            "casemesh_kafka_requests", "Kafka requests this process sent, by type", labels=["request"]
        )
        for name, count in sorted(KAFKA_REQUESTS.items()):
            kafka.add_metric([name], count)
        yield kafka
