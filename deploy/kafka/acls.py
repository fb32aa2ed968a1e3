"""Who may do what on the broker: the principals and the ACL table, derived from the topic registry.

Every client authenticates (SASL/SCRAM) as one principal, and the broker's StandardAuthorizer
allows only what an ACL here allows (``allow.everyone.if.no.acl.found=false``):

- **a service** (``referrals``, ``approvals``, ``notifications``, ``complaints``, ``contacts``,
  ``casework``) WRITEs the topics it writes (``topics_written_by``: its events, its dead letters,
  the channels' dispatch for notifications, the command topics it sends to) and the rejections
  topic; READs only the topics it consumes (``READS``); DESCRIBEs and CREATEs both (a service
  creates its missing topics at start); READs its own consumer group ``casemesh-<service>``;
  IDEMPOTENT_WRITE on the cluster (its producer is idempotent);
- **upstream** WRITEs the topics whose writer is upstream or anyone (every commands topic, the
  customers topic) and READs what answers it: the services' events topics and the rejections
  topic (docs/upstream.md), with groups ``casemesh-upstream…``;
- **channels** WRITE the receipts topic and READ the dispatch topics and the channel-errors topic
  (notifications' answer to a receipt it could not read, issue 18), groups ``casemesh-channels…``;
- **operator** READs every topic, dead letters included, with groups ``casemesh-ops…``, and may
  DESCRIBE every Casemesh group (lag). **Only the operator may read a dead-letter topic**: dead
  letters keep the original payloads. For ``casemesh dlq`` (docs/operators.md) it also WRITEs the
  topics anyone may write (the commands topics: a replay goes back to where it came from, never
  onto an events topic, whose single writer stays its service), WRITEs and CREATEs the operations
  audit topic, and DELETEs records of the dead-letter topics (a purge);
- **admin** and the broker itself are super users (no ACL): topic and ACL setup, and the tests'
  harness.

Resource patterns are PREFIXED, because test runs, the demo and the bench append a suffix to
every topic and group name (``casemesh.approvals.events.v1.t1a2b3c4``). No registered topic name
is a prefix of another (checked by ``overlapping_prefixes`` and a unit test), so a prefix never
reaches a topic of another kind or owner.

``python -m deploy.local.localinfra acls`` prints the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from contracts.topics import (
    ANY,
    CHANNEL_ERRORS_TOPIC,
    CHANNELS,
    OPERATIONS_AUDIT_TOPIC,
    READS,
    REJECTIONS_TOPIC,
    SERVICES,
    TOPICS,
    UPSTREAM,
    TopicKind,
    deadletter_topic,
    topics_written_by,
)

SERVICE_PRINCIPALS: tuple[str, ...] = SERVICES
OPERATOR = "operator"
ADMIN = "admin"
BROKER = "broker"
#: Principals a client may authenticate as (each has a SCRAM credential).
CLIENT_PRINCIPALS: tuple[str, ...] = (*SERVICE_PRINCIPALS, UPSTREAM, CHANNELS, OPERATOR, ADMIN)
#: Principals the authorizer lets do anything.
SUPER_USERS: tuple[str, ...] = (BROKER, ADMIN)
#: Every SCRAM user of the cluster.
ALL_PRINCIPALS: tuple[str, ...] = (*CLIENT_PRINCIPALS, BROKER)

CLUSTER = "kafka-cluster"
"""The name of the one cluster resource."""
TOPIC_NAMESPACE = "casemesh."
"""Every Casemesh topic's prefix (the operator's read)."""
GROUP_NAMESPACE = "casemesh-"
"""Every Casemesh consumer group's prefix."""
OPERATOR_GROUP = "casemesh-ops"


class ResourceType(IntEnum):
    """Kafka's resource types (wire values)."""

    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class Operation(IntEnum):
    """Kafka's ACL operations (wire values)."""

    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    DESCRIBE = 8
    IDEMPOTENT_WRITE = 12


class PatternType(IntEnum):
    """Kafka's resource pattern types (wire values)."""

    LITERAL = 3
    PREFIXED = 4


ALLOW = 3
"""Kafka's ALLOW permission (wire value); the table holds no DENY."""


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW binding: ``principal`` may do ``operation`` on the resources the pattern names."""

    principal: str
    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.principal}"

    def matches(self, resource: ResourceType, name: str) -> bool:
        """Whether this binding covers the resource ``name``."""
        if resource != self.resource:
            return False
        if self.pattern == PatternType.PREFIXED:
            return name.startswith(self.name)
        return name == self.name

    def row(self) -> str:
        return (
            f"{self.principal:<14} {self.operation.name:<16} {self.resource.name.lower():<8} "
            f"{self.pattern.name.lower():<9} {self.name}"
        )


def consumer_group(principal: str) -> str:
    """The group prefix a principal may consume with."""
    return OPERATOR_GROUP if principal == OPERATOR else f"{GROUP_NAMESPACE}{principal}"


def written_topics(principal: str) -> tuple[str, ...]:
    """The topics ``principal`` may write (their base names)."""
    if principal in SERVICE_PRINCIPALS:
        own = [t.name for t in topics_written_by(principal)]
        if principal in SERVICES:
            own.append(deadletter_topic(principal))
        own.append(REJECTIONS_TOPIC)
        return tuple(dict.fromkeys(own))
    if principal == UPSTREAM:
        return tuple(t.name for t in TOPICS.values() if t.writer in (UPSTREAM, ANY))
    if principal == CHANNELS:
        return tuple(t.name for t in topics_written_by(CHANNELS))
    if principal == OPERATOR:
        replayed = (t.name for t in TOPICS.values() if t.writer == ANY)
        return (*replayed, OPERATIONS_AUDIT_TOPIC)
    return ()


def read_topics(principal: str) -> tuple[str, ...]:
    """The topics ``principal`` may read (their base names); the operator reads them all."""
    if principal in SERVICE_PRINCIPALS:
        return tuple(READS.get(principal, ()))
    if principal == UPSTREAM:
        answers = [t.name for t in TOPICS.values() if t.kind == TopicKind.EVENTS and t.writer in SERVICES]
        return (*answers, REJECTIONS_TOPIC)
    if principal == CHANNELS:
        dispatches = [t.name for t in TOPICS.values() if t.kind == TopicKind.DISPATCH]
        return (*dispatches, CHANNEL_ERRORS_TOPIC)
    if principal == OPERATOR:
        return tuple(TOPICS)
    return ()


def _topic(principal: str, name: str, *operations: Operation) -> list[Acl]:
    return [Acl(principal, ResourceType.TOPIC, name, PatternType.PREFIXED, op) for op in operations]


def _group(principal: str, name: str, operation: Operation) -> Acl:
    return Acl(principal, ResourceType.GROUP, name, PatternType.PREFIXED, operation)


def _idempotent(principal: str) -> Acl:
    return Acl(principal, ResourceType.CLUSTER, CLUSTER, PatternType.LITERAL, Operation.IDEMPOTENT_WRITE)


def _service(name: str) -> list[Acl]:
    acls = [_idempotent(name), _group(name, consumer_group(name), Operation.READ)]
    for topic in written_topics(name):
        acls += _topic(name, topic, Operation.WRITE, Operation.DESCRIBE, Operation.CREATE)
    for topic in read_topics(name):
        acls += _topic(name, topic, Operation.READ, Operation.DESCRIBE, Operation.CREATE)
    return acls


def _client(name: str) -> list[Acl]:
    """upstream and channels: they write and read, never create."""
    acls = [_idempotent(name), _group(name, consumer_group(name), Operation.READ)]
    for topic in written_topics(name):
        acls += _topic(name, topic, Operation.WRITE, Operation.DESCRIBE)
    for topic in read_topics(name):
        acls += _topic(name, topic, Operation.READ, Operation.DESCRIBE)
    return acls


def _operator() -> list[Acl]:
    acls = [
        _idempotent(OPERATOR),
        *_topic(OPERATOR, TOPIC_NAMESPACE, Operation.READ, Operation.DESCRIBE),
        _group(OPERATOR, OPERATOR_GROUP, Operation.READ),
        _group(OPERATOR, GROUP_NAMESPACE, Operation.DESCRIBE),
        *_topic(OPERATOR, OPERATIONS_AUDIT_TOPIC, Operation.CREATE),
    ]
    for name in written_topics(OPERATOR):
        acls += _topic(OPERATOR, name, Operation.WRITE)
    for name in (t.name for t in TOPICS.values() if t.kind == TopicKind.DEADLETTER):
        acls += _topic(OPERATOR, name, Operation.DELETE)
    return acls


def acl_table() -> tuple[Acl, ...]:
    """Every ALLOW binding of the cluster, sorted and without repeats. Super users have none."""
    acls: list[Acl] = []
    for service in SERVICE_PRINCIPALS:
        acls += _service(service)
    acls += _client(UPSTREAM) + _client(CHANNELS) + _operator()
    return tuple(sorted(set(acls)))


def allowed(
    acls: Iterable[Acl], principal: str, operation: Operation, resource: ResourceType, name: str
) -> bool:
    """Whether the table lets ``principal`` do ``operation`` on ``name`` (as the authorizer decides,
    READ/WRITE implying DESCRIBE; super users may do anything)."""
    if principal in SUPER_USERS:
        return True
    implied = {operation}
    if operation == Operation.DESCRIBE:
        implied |= {Operation.READ, Operation.WRITE}
    return any(
        acl.principal == principal and acl.operation in implied and acl.matches(resource, name)
        for acl in acls
    )


def overlapping_prefixes(names: Sequence[str] = tuple(TOPICS)) -> list[tuple[str, str]]:
    """Pairs (a, b) of registered topic names where ``a`` is a prefix of ``b``: with PREFIXED
    patterns a grant on ``a`` would reach ``b``. Must be empty."""
    return [(a, b) for a in names for b in names if a != b and b.startswith(a)]


def table_text(acls: Sequence[Acl] | None = None) -> str:
    rows = acls if acls is not None else acl_table()
    header = f"{'principal':<14} {'operation':<16} {'resource':<8} {'pattern':<9} name"
    supers = ", ".join(SUPER_USERS)
    return "\n".join([header, *(acl.row() for acl in rows), f"super users (no ACL needed): {supers}"])


# -- on the broker (aiokafka has no create_acls: its protocol classes carry the request)


def _create_request(acls: Sequence[Acl]) -> Any:
    from aiokafka.protocol.admin import CreateAclsRequest_v1
    from aiokafka.protocol.api import Request

    class CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
        """Every binding in one CreateAcls request (aiokafka's own builds one per request)."""

        API_KEY = 30

        def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
            return request_struct_class(
                [
                    (int(a.resource), a.name, int(a.pattern), a.kafka_principal, "*", int(a.operation), ALLOW)
                    for a in acls
                ]
            )

    return CreateAcls()


def _describe_request() -> Any:
    from aiokafka.protocol.admin import DescribeAclsRequest

    any_ = 1  # ANY resource type, pattern type, operation and permission
    return DescribeAclsRequest(any_, None, any_, None, None, any_, any_)


async def create_acls(admin: Any, acls: Sequence[Acl] | None = None) -> None:
    """Creates the bindings (default: the whole table) with a connected ``AIOKafkaAdminClient`` of
    a super user. Creating a binding that exists is a no-op, so this may run at every start."""
    rows = list(acls if acls is not None else acl_table())
    response = await admin._send_request(_create_request(rows))
    failed = [
        (acl.row(), error_code, message)
        for acl, (error_code, message) in zip(rows, response.creation_responses, strict=True)
        if error_code
    ]
    if failed:
        raise RuntimeError(f"{len(failed)} ACLs were refused, e.g. {failed[0]}")


async def describe_acls(admin: Any) -> set[Acl]:
    """The ALLOW bindings the broker holds (of the kinds this table uses)."""
    response = await admin._send_request(_describe_request())
    if response.error_code:
        raise RuntimeError(f"DescribeAcls failed: {response.error_code} {response.error_message}")
    found: set[Acl] = set()
    for resource_type, name, pattern, entries in response.resources:
        for principal, _host, operation, permission in entries:
            if permission != ALLOW:
                continue
            try:
                found.add(
                    Acl(
                        principal.removeprefix("User:"),
                        ResourceType(resource_type),
                        name,
                        PatternType(pattern),
                        Operation(operation),
                    )
                )
            except ValueError:
                continue
    return found
