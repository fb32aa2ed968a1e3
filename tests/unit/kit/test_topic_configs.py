"""Every registered topic's configuration comes from kit/topic_configs.py: what a rebuild replays is
kept, commands are stamped by the broker, dead letters and rejections go after a bounded time."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from contracts.topics import READS, SERVICES, TOPICS, TopicKind
from deploy.kafka.__main__ import configure_topics, topics_to_create
from kit.topic_configs import (
    DAY_MS,
    DEADLETTER_RETENTION_DAYS,
    DEADLETTER_RETENTION_VARIABLE,
    deadletter_retention_days,
    topic_configs,
)
from services.contacts.app import create_runtime
from services.contacts.settings import ContactsSettings

KEPT = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
THIRTY_DAYS = {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS), "retention.bytes": "-1"}
EXPECTED = {
    TopicKind.COMMANDS: {**KEPT, "message.timestamp.type": "LogAppendTime"},
    TopicKind.EVENTS: KEPT,
    TopicKind.DISPATCH: KEPT,
    TopicKind.RECEIPTS: KEPT,
    TopicKind.DEADLETTER: THIRTY_DAYS,
    TopicKind.REJECTIONS: THIRTY_DAYS,
}


@pytest.fixture(autouse=True)
def default_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEADLETTER_RETENTION_VARIABLE, raising=False)


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_every_registered_topic_gets_the_configs_of_its_kind(name: str) -> None:
    topic = TOPICS[name]
    assert topic_configs(topic) == EXPECTED[topic.kind]


def test_every_kind_of_topic_has_a_decided_configuration() -> None:
    assert set(EXPECTED) == set(TopicKind)


@pytest.mark.parametrize("service", SERVICES)
def test_every_topic_a_service_reads_is_kept_forever_so_a_rebuild_can_replay_it(service: str) -> None:
    for name in READS[service]:
        assert topic_configs(TOPICS[name])["retention.ms"] == "-1", name


def test_no_topic_is_compacted_because_every_record_of_a_customer_matters() -> None:
    assert {topic_configs(t)["cleanup.policy"] for t in TOPICS.values()} == {"delete"}


def test_the_dead_letters_retention_is_an_operator_setting_in_days(monkeypatch: pytest.MonkeyPatch) -> None:
    assert deadletter_retention_days() == DEADLETTER_RETENTION_DAYS == 30
    monkeypatch.setenv(DEADLETTER_RETENTION_VARIABLE, "90")
    deadletters = [t for t in TOPICS.values() if t.kind in (TopicKind.DEADLETTER, TopicKind.REJECTIONS)]
    assert {topic_configs(t)["retention.ms"] for t in deadletters} == {str(90 * DAY_MS)}
    assert topic_configs(TOPICS["casemesh.contacts.events.v1"])["retention.ms"] == "-1"


@pytest.mark.parametrize("value", ["0", "-3", "thirty", "1.5"])
def test_a_retention_that_is_not_a_positive_number_of_days_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(DEADLETTER_RETENTION_VARIABLE, value)
    with pytest.raises(ValueError, match=DEADLETTER_RETENTION_VARIABLE):
        topic_configs(TOPICS["casemesh.contacts.deadletter.v1"])


class RecordingAdmin:
    """An admin client that keeps what it is asked to create or configure."""

    def __init__(self) -> None:
        self.created: dict[str, dict[str, str]] = {}
        self.configured: dict[str, dict[str, str]] = {}

    async def create_topics(self, topics: list[Any]) -> None:
        self.created |= {t.name: dict(t.topic_configs) for t in topics}

    async def alter_configs(self, resources: list[Any]) -> list[Any]:
        self.configured |= {r.name: dict(r.configs) for r in resources}
        return [SimpleNamespace(resources=[(0, "", 2, r.name) for r in resources])]


async def test_a_service_creates_its_topics_with_the_configs_of_their_kinds() -> None:
    runtime = create_runtime(ContactsSettings(topic_suffix=".tunit"))
    admin = RecordingAdmin()
    await runtime.ensure_topics(cast(Any, admin))
    assert admin.created
    for name, configs in admin.created.items():
        assert configs == topic_configs(TOPICS[name.removesuffix(".tunit")]), name
    assert admin.created["casemesh.contacts.commands.v1.tunit"]["message.timestamp.type"] == "LogAppendTime"


async def test_the_broker_setup_job_brings_existing_topics_to_the_same_configs() -> None:
    admin = RecordingAdmin()
    await configure_topics(admin, topics_to_create())
    assert admin.configured == {name: topic_configs(TOPICS[name]) for name in TOPICS}
