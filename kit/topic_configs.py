"""Every registered topic's configuration, in one place: how long it keeps records, and whose clock
stamps them. Whoever creates a registered topic takes its configuration from here: a service's
``ensure_topics`` (what creates them on ``deploy/local``'s broker) and the broker's setup job
(``python -m deploy.kafka setup``, compose's ``topics`` job), which also brings existing topics
back to it.

- **events** (the services' and the customers'), **receipts** and **dispatch**: kept
  (``retention.ms=-1``). A rebuild (``casemesh rebuild``, kit/rebuild.py) replays what a service
  reads from the first offset; dispatch is the record of what was sent to whom.
- **commands**: kept too, and stamped by the broker (``LogAppendTime``). A service reads its own
  commands topic (officers' commands, its timers), so a rebuild replays it as well.
- **dead letters** and **rejections**: ``CASEMESH_TOPIC_DEADLETTER_RETENTION_DAYS`` days (default
  30). Operators and senders read them; no rebuild does; dead letters keep original payloads.

- **replication**: ``CASEMESH_TOPIC_REPLICATION_FACTOR`` brokers (default 1, one local broker) keep
  each partition; the setup job creates topics with it. Kubernetes' production overlay sets 3, and
  the Strimzi ``KafkaTopic`` manifests (``python -m deploy.k8s``) take it from the same place.

Topic-level configurations win over the broker's defaults (``log.retention.hours``), so a broker
may keep throwaway topics briefly without shortening these. ``cleanup.policy`` is always
``delete``: records are keyed by CSID and every one of them matters, so compaction (the newest
record per key) would throw history away. Why and what it costs: docs/decisions/0009-event-retention.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from contracts.topics import Topic, TopicKind

KEPT = "-1"
"""``retention.ms`` (and ``retention.bytes``) of a topic whose records are never deleted."""

DAY_MS = 24 * 60 * 60 * 1000

DEADLETTER_RETENTION_DAYS = 30
"""Long enough for an operator to read, fix and replay a dead letter after a holiday; short enough
that the original payloads (personal data) it keeps do not linger."""

DEADLETTER_RETENTION_VARIABLE = "CASEMESH_TOPIC_DEADLETTER_RETENTION_DAYS"

REPLICATION_FACTOR = 1
"""Replicas of every registered topic by default: the local broker and compose's have one node. A
cluster sets ``CASEMESH_TOPIC_REPLICATION_FACTOR`` (deploy/k8s/overlays/production: 3)."""

REPLICATION_FACTOR_VARIABLE = "CASEMESH_TOPIC_REPLICATION_FACTOR"

STAMPED_BY_THE_BROKER = {"message.timestamp.type": "LogAppendTime"}
"""Commands topics' stamp: the broker's time of arrival is when a command's identity token is judged
(kit/identity.py), and no producer can set it."""

REPLAYED: frozenset[TopicKind] = frozenset(
    {TopicKind.COMMANDS, TopicKind.EVENTS, TopicKind.DISPATCH, TopicKind.RECEIPTS}
)
"""Kinds whose records are kept: what a rebuild reads, and the record of what was sent to whom."""


def deadletter_retention_days(environ: Mapping[str, str] = os.environ) -> int:
    """``CASEMESH_TOPIC_DEADLETTER_RETENTION_DAYS``, else 30; a value that is not a positive whole
    number is refused by name rather than applied to the broker."""
    return _whole_number(environ, DEADLETTER_RETENTION_VARIABLE, DEADLETTER_RETENTION_DAYS, " of days")


def replication_factor(environ: Mapping[str, str] = os.environ) -> int:
    """``CASEMESH_TOPIC_REPLICATION_FACTOR``, else 1: how many brokers keep each partition of a
    registered topic when the setup job creates it. Refused by name unless a positive whole number."""
    return _whole_number(environ, REPLICATION_FACTOR_VARIABLE, REPLICATION_FACTOR, "")


def _whole_number(environ: Mapping[str, str], variable: str, default: int, unit: str) -> int:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{variable} must be a whole number{unit}, at least 1")
    return int(raw)


def retention_ms(kind: TopicKind, deadletter_days: int | None = None) -> str:
    """A topic kind's ``retention.ms``: kept for the replayed kinds, else the dead letters' days."""
    if kind in REPLAYED:
        return KEPT
    days = deadletter_retention_days() if deadletter_days is None else deadletter_days
    return str(days * DAY_MS)


def topic_configs(topic: Topic, *, deadletter_days: int | None = None) -> dict[str, str]:
    """The configuration ``topic`` is created (and, by the setup job, kept) with."""
    configs = {
        "cleanup.policy": "delete",
        "retention.ms": retention_ms(topic.kind, deadletter_days),
        "retention.bytes": KEPT,
    }
    if topic.kind is TopicKind.COMMANDS:
        configs |= STAMPED_BY_THE_BROKER
    return configs
