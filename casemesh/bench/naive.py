"""The naive consumer: what a user writes with FastStream and PyMongo before reaching for a kit.

    python -m casemesh.bench.naive --bootstrap-servers … --mongodb-url … --database … \
        --topic … --group … --expect N --result result.json [--security-file credentials.json]

On a secured broker (``--security-file``: deploy/local's credentials file) it acts as the admin,
as the bench's own clients do.

One subscriber in a consumer group with manual acknowledgement; each message is upserted into the
customer's document, then acknowledged (a commit per message). It exits once it has handled
``--expect`` messages (or ``--cap-s`` after the first), writing what it measured to ``--result``: the
time from the first message to the last, and the store commands, Kafka requests and CPU time
spent in between. The measuring is kept apart below the consumer, which is all the user wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka.conn import AIOKafkaConnection
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo import AsyncMongoClient, monitoring

from casemesh.bench.workload import cpu_seconds
from kit.transport import ADMIN, KafkaCluster


def consumer(
    broker: KafkaBroker, client: AsyncMongoClient[dict[str, Any]], args: argparse.Namespace, meter: Meter
) -> None:
    customers = client[args.database]["customers"]

    async def on_command(msg: KafkaMessage) -> None:
        meter.begin()
        command = json.loads(msg.body)
        await customers.update_one(
            {"_id": command["csid"]},
            {
                "$set": {"last_message_id": command["message_id"], "last_type": command["message_type"]},
                "$inc": {"commands": 1},
            },
            upsert=True,
        )
        await msg.ack()
        meter.handled()

    broker.subscriber(
        args.topic, group_id=args.group, ack_policy=AckPolicy.MANUAL, auto_offset_reset="earliest"
    )(on_command)


# -- measuring


STORE_COMMANDS: Counter[str] = Counter()
KAFKA_REQUESTS: Counter[str] = Counter()


class StoreCommands(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in ("hello", "ismaster", "isMaster", "ping", "endSessions"):
            STORE_COMMANDS[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


def count_kafka_requests() -> None:
    """Every request any aiokafka client of the process writes to a broker, by type."""
    send = AIOKafkaConnection.send

    @functools.wraps(send)
    def counted(self: AIOKafkaConnection, request: Any, expect_response: bool = True) -> Any:
        KAFKA_REQUESTS[type(request).__name__.split("_")[0]] += 1
        return send(self, request, expect_response)

    AIOKafkaConnection.send = counted


def snapshot() -> dict[str, Any]:
    return {
        "at": time.time(),
        "cpu_s": cpu_seconds(),
        "store": dict(STORE_COMMANDS),
        "kafka": dict(KAFKA_REQUESTS),
    }


class Meter:
    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.count = 0
        self.first: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.begun = asyncio.Event()
        self.done = asyncio.Event()

    def begin(self) -> None:
        if self.first is None:
            self.first = snapshot()
            self.begun.set()

    def handled(self) -> None:
        self.count += 1
        if self.count >= self.expect:
            self.last = snapshot()
            self.done.set()

    def stop(self) -> None:
        """At the cap: what was handled so far is the measurement."""
        if self.last is None:
            self.last = snapshot()

    def result(self) -> dict[str, Any]:
        last = self.last or snapshot()
        first = self.first or last
        return {"count": self.count, "first": first, "last": last, "capped": self.count < self.expect}


async def run(args: argparse.Namespace) -> Meter:
    count_kafka_requests()
    security = (
        KafkaCluster.read(args.security_file, args.bootstrap_servers).security(ADMIN)
        if args.security_file
        else None
    )
    broker = KafkaBroker(args.bootstrap_servers, security=security, log_level=logging.WARNING)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        args.mongodb_url, event_listeners=[StoreCommands()]
    )
    meter = Meter(args.expect)
    consumer(broker, client, args, meter)
    await broker.start()
    try:
        await asyncio.wait_for(meter.begun.wait(), timeout=args.timeout_s)
        await asyncio.wait_for(meter.done.wait(), timeout=args.cap_s)
    except TimeoutError:
        meter.stop()
    finally:
        await broker.stop()
        await client.close()
    return meter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="casemesh.bench.naive", description=__doc__.splitlines()[0])
    for name in ("bootstrap-servers", "mongodb-url", "database", "topic", "group", "result"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--security-file", help="the broker's credentials file (absent: PLAINTEXT)")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="for the first message")
    parser.add_argument("--cap-s", type=float, default=300.0, help="from the first message to the last")
    args = parser.parse_args(argv)
    meter = asyncio.run(run(args))
    Path(args.result).write_text(json.dumps(meter.result()), encoding="utf-8")
    return 0 if meter.count >= args.expect else 1


if __name__ == "__main__":
    sys.exit(main())
