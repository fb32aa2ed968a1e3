"""The ACL table (deploy/kafka/acls.py) gives each principal what it needs and nothing of anyone
else's: checked against the topic registry, without a broker."""

from __future__ import annotations

import pytest

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
    commands_topic,
    deadletter_topic,
    events_topic,
    topics_written_by,
)
from deploy.kafka.acls import (
    ADMIN,
    ALL_PRINCIPALS,
    CLIENT_PRINCIPALS,
    OPERATOR,
    SERVICE_PRINCIPALS,
    SUPER_USERS,
    Operation,
    PatternType,
    ResourceType,
    acl_table,
    allowed,
    consumer_group,
    overlapping_prefixes,
    table_text,
)

ACLS = acl_table()
#: Principals that need an ACL for anything (the super users need none).
ORDINARY = tuple(p for p in CLIENT_PRINCIPALS if p not in SUPER_USERS)
SUFFIXES = ("", ".t1a2b3c4", ".demo5e6f7a8b", ".bench0a1b2c3d", ".c9f8e7d6c")
DEAD_LETTERS = [t.name for t in TOPICS.values() if t.kind == TopicKind.DEADLETTER]
TOPIC = ResourceType.TOPIC
GROUP = ResourceType.GROUP


def may(principal: str, operation: Operation, name: str, resource: ResourceType = TOPIC) -> bool:
    return allowed(ACLS, principal, operation, resource, name)


def test_every_service_has_a_principal_and_casework_is_among_them() -> None:
    assert set(SERVICES) <= set(SERVICE_PRINCIPALS)
    assert "casework" in SERVICE_PRINCIPALS
    assert {UPSTREAM, CHANNELS, OPERATOR, ADMIN} <= set(CLIENT_PRINCIPALS)
    assert set(SUPER_USERS) <= set(ALL_PRINCIPALS)
    assert len(ALL_PRINCIPALS) == len(set(ALL_PRINCIPALS))


def test_no_registered_topic_name_is_a_prefix_of_another() -> None:
    assert overlapping_prefixes() == []


def test_every_binding_allows_and_topics_and_groups_are_matched_by_prefix() -> None:
    assert tuple(sorted(set(ACLS))) == ACLS
    for acl in ACLS:
        if acl.resource == ResourceType.CLUSTER:
            assert (acl.pattern, acl.operation) == (PatternType.LITERAL, Operation.IDEMPOTENT_WRITE)
        else:
            assert acl.pattern == PatternType.PREFIXED
    assert not {acl.principal for acl in ACLS} & set(SUPER_USERS), "super users need no ACL"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_each_service_writes_only_its_own_topics_its_dead_letters_and_the_rejections(
    service: str, suffix: str
) -> None:
    own = {t.name for t in topics_written_by(service)} | {deadletter_topic(service), REJECTIONS_TOPIC}
    for name in TOPICS:
        assert may(service, Operation.WRITE, name + suffix) == (name in own), name
        assert may(service, Operation.CREATE, name + suffix) == (name in own or name in READS[service]), name


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_writer_of_an_events_topic_may_write_it(service: str) -> None:
    events = [t.name for t in TOPICS.values() if t.kind == TopicKind.EVENTS and t.writer == service]
    writers = {p for p in ORDINARY for name in events if may(p, Operation.WRITE, name)}
    assert writers == {service}


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_each_service_reads_only_the_topics_it_consumes_with_its_own_group(service: str, suffix: str) -> None:
    for name in TOPICS:
        assert may(service, Operation.READ, name + suffix) == (name in READS[service]), name
    group = consumer_group(service)
    assert may(service, Operation.READ, group + suffix, GROUP)
    others = [consumer_group(p) for p in CLIENT_PRINCIPALS if p not in (service, ADMIN)]
    assert not any(may(service, Operation.READ, other + suffix, GROUP) for other in others)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_create_and_describe_every_topic_its_runtime_ensures(service: str) -> None:
    # kit.runtime.ensure_topics: what it consumes, its dead letters, the rejections, what it writes.
    ensured = {*READS[service], deadletter_topic(service), REJECTIONS_TOPIC}
    ensured |= {t.name for t in topics_written_by(service)}
    for name in ensured:
        assert may(service, Operation.CREATE, name + ".t0"), name
        assert may(service, Operation.DESCRIBE, name + ".t0"), name
    assert may(service, Operation.IDEMPOTENT_WRITE, "kafka-cluster", ResourceType.CLUSTER)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_dead_letters_are_readable_by_the_operator_only(suffix: str) -> None:
    for name in DEAD_LETTERS:
        readers = {p for p in ORDINARY if may(p, Operation.READ, name + suffix)}
        assert readers == {OPERATOR}, name


def test_the_operator_reads_every_topic_with_its_own_groups_and_writes_only_commands_and_its_audit() -> None:
    assert all(may(OPERATOR, Operation.READ, name + ".t0") for name in TOPICS)
    written = {name for name in TOPICS if may(OPERATOR, Operation.WRITE, name + ".t0")}
    assert written == {t.name for t in TOPICS.values() if t.writer == ANY} | {OPERATIONS_AUDIT_TOPIC}
    deleted = {name for name in TOPICS if may(OPERATOR, Operation.DELETE, name + ".t0")}
    assert deleted == set(DEAD_LETTERS), "a purge deletes dead letters, nothing else"
    assert not any(may(p, Operation.DELETE, name) for p in ORDINARY if p != OPERATOR for name in TOPICS)
    assert may(OPERATOR, Operation.READ, "casemesh-ops-replay", GROUP)
    assert not may(OPERATOR, Operation.READ, "casemesh-referrals", GROUP)
    assert may(OPERATOR, Operation.DESCRIBE, "casemesh-referrals", GROUP), "the operator sees lag"


def test_upstream_writes_the_command_topics_and_the_customer_system_only() -> None:
    written = {name for name in TOPICS if may(UPSTREAM, Operation.WRITE, name)}
    assert written == {t.name for t in TOPICS.values() if t.writer in (UPSTREAM, ANY)}
    assert all(TOPICS[name].kind == TopicKind.COMMANDS or TOPICS[name].writer == UPSTREAM for name in written)
    assert not any(may(UPSTREAM, Operation.CREATE, name) for name in TOPICS)


def test_upstream_reads_the_answers_but_no_command_or_dead_letter() -> None:
    read = {name for name in TOPICS if may(UPSTREAM, Operation.READ, name)}
    assert REJECTIONS_TOPIC in read
    assert all(TOPICS[name].kind in (TopicKind.EVENTS, TopicKind.REJECTIONS) for name in read)


def test_channels_write_the_receipts_and_read_the_dispatch_topics_and_their_channel_errors() -> None:
    written = {name for name in TOPICS if may(CHANNELS, Operation.WRITE, name)}
    read = {name for name in TOPICS if may(CHANNELS, Operation.READ, name)}
    assert written == {t.name for t in TOPICS.values() if t.kind == TopicKind.RECEIPTS}
    dispatches = {t.name for t in TOPICS.values() if t.kind == TopicKind.DISPATCH}
    assert read == {*dispatches, CHANNEL_ERRORS_TOPIC}
    assert may("notifications", Operation.WRITE, CHANNEL_ERRORS_TOPIC + ".t0")
    assert not may(CHANNELS, Operation.WRITE, CHANNEL_ERRORS_TOPIC)
    assert may(CHANNELS, Operation.READ, "casemesh-channels-sms", GROUP)


def test_casework_reads_every_services_events_and_writes_only_its_own_topics() -> None:
    read = {name for name in TOPICS if may("casework", Operation.READ, name)}
    written = {name for name in TOPICS if may("casework", Operation.WRITE, name)}
    assert read == set(READS["casework"])
    assert {events_topic(s) for s in SERVICES if s != "casework"} <= read
    assert written == {
        commands_topic("casework"),
        events_topic("casework"),
        deadletter_topic("casework"),
        REJECTIONS_TOPIC,
    }
    assert may("casework", Operation.READ, "casemesh-casework.t0", GROUP)


def test_the_table_prints_one_row_per_binding() -> None:
    text = table_text()
    assert len(text.splitlines()) == len(ACLS) + 2
    assert "super users" in text
