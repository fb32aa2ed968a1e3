"""Generations: which database and consumer group a service runs, claimed and made live by inserts
only; the offsets arithmetic that says when a replay has caught up; the clock a replay decides by."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import TopicPartition

from casemesh.run import EXIT_SUPERSEDED, serve
from kit.memory import forget, memory_database
from kit.rebuild import (
    CONTROL_COLLECTION,
    Generation,
    Generations,
    RebuildRefused,
    RebuildResult,
    adopt_generation,
    control,
    generation_of,
    remaining,
    replaying_settings,
    truncated,
)
from kit.runtime import replay_runs
from kit.settings import ServiceSettings
from services.contacts.settings import ContactsSettings


@pytest.fixture
def settings() -> Iterator[ContactsSettings]:
    url = f"memory:{uuid.uuid4().hex}"
    yield ContactsSettings(mongodb_url=url, http_port=8085, api_port=9085)
    forget(url)


def test_the_first_generation_is_the_configured_database_and_group_and_later_ones_add_a_number(
    settings: ContactsSettings,
) -> None:
    assert generation_of(settings, 1) == Generation("contacts", 1, "casemesh_contacts", "casemesh-contacts")
    assert generation_of(settings, 2) == Generation(
        "contacts", 2, "casemesh_contacts_g2", "casemesh-contacts-g2"
    )


def test_a_test_runs_copy_of_a_service_has_generations_of_its_own() -> None:
    copy = ContactsSettings(topic_suffix=".t1a2b3c4")
    assert generation_of(copy, 2).service == "contacts.t1a2b3c4"


async def test_a_claimed_generation_is_not_live_until_it_is_switched_to(settings: ContactsSettings) -> None:
    async with control(settings) as generations:
        claimed = await generations.claim(settings)
        assert claimed.number == 2
        assert await generations.live(settings) == generation_of(settings, 1)

        await generations.switch(claimed, generation_of(settings, 1))

        assert await generations.live(settings) == claimed
    assert await adopt_generation(settings) == settings.model_copy(
        update={"mongodb_database": "casemesh_contacts_g2", "consumer_group": "casemesh-contacts-g2"}
    )


async def test_an_abandoned_generations_number_is_never_claimed_again(settings: ContactsSettings) -> None:
    async with control(settings) as generations:
        abandoned = await generations.claim(settings)
        second = await generations.claim(settings)
        assert (abandoned.number, second.number) == (2, 3)
        assert await generations.live(settings) == generation_of(settings, 1)


async def test_the_highest_live_generation_wins_whatever_order_they_were_switched_in(
    settings: ContactsSettings,
) -> None:
    async with control(settings) as generations:
        two, three = await generations.claim(settings), await generations.claim(settings)
        await generations.switch(three, generation_of(settings, 1))
        await generations.switch(two, generation_of(settings, 1))
        assert await generations.live(settings) == three


async def test_two_rebuilds_claiming_one_number_leave_one_refused(settings: ContactsSettings) -> None:
    class Stale(Generations):
        """Reads the records before the other rebuild inserted its claim."""

        async def documents(self, service: str) -> list[dict[str, Any]]:
            return []

    collection = memory_database(settings.mongodb_url, settings.control_database)[CONTROL_COLLECTION]
    assert (await Generations(collection).claim(settings)).number == 2
    with pytest.raises(RebuildRefused, match="generation 2 of contacts was claimed meanwhile"):
        await Stale(collection).claim(settings)


def test_the_replaying_copy_runs_the_new_generation_without_ports_topic_creation_or_generation_check(
    settings: ContactsSettings,
) -> None:
    replaying = replaying_settings(settings, generation_of(settings, 2))
    assert isinstance(replaying, ContactsSettings)
    assert (replaying.mongodb_database, replaying.consumer_group) == (
        "casemesh_contacts_g2",
        "casemesh-contacts-g2",
    )
    assert (replaying.http_port, replaying.api_port) == (0, 0)
    assert not replaying.create_topics
    assert replaying.generation_check_interval_s == 0
    assert replaying.meeting_required_case_types == settings.meeting_required_case_types


A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


def test_what_is_left_counts_from_the_committed_offset_else_from_the_partitions_first_record() -> None:
    start = {A0: 0, A1: 0, B0: 5}
    target = {A0: 10, A1: 4, B0: 8}
    assert remaining({}, start, target) == 10 + 4 + 3
    assert remaining({A0: 7, A1: 4}, start, target) == 3 + 0 + 3
    assert remaining({A0: 10, A1: 9, B0: 8}, start, target) == 0
    assert remaining({B0: 2}, start, target) == 10 + 4 + 3, "an offset before the first record counts from it"


def test_a_partition_whose_first_records_are_gone_makes_the_history_incomplete() -> None:
    assert truncated({A0: 0, A1: 0}) == []
    assert truncated({A0: 0, A1: 12, B0: 3}) == [A1, B0]


def test_a_replay_decides_records_stamped_within_its_window_of_each_other_at_one_time() -> None:
    assert replay_runs([], 1000) == []
    assert replay_runs([1_000, 1_400, 2_000, 2_001, 9_000], 1000) == [(0, 3), (3, 4), (4, 5)]
    # A batch holds partitions one after another: a step back in time starts a run too.
    assert replay_runs([5_000, 5_500, 1_000, 1_200], 1000) == [(0, 2), (2, 4)]
    assert replay_runs([5_000, 5_500, 1_000, 1_200], 60_000) == [(0, 4)]
    assert replay_runs([7, 7, 8], 0) == [(0, 2), (2, 3)]


def test_a_replay_decides_the_records_of_a_minute_at_one_time_unless_told_otherwise() -> None:
    assert ServiceSettings(service_name="tally").replay_clock_window_s == 60
    assert ServiceSettings(service_name="tally", replay_clock_window_s=0).replay_clock_window_s == 0


def test_the_outcome_names_the_database_to_drop() -> None:
    old = Generation("contacts", 1, "casemesh_contacts", "casemesh-contacts")
    new = Generation("contacts", 2, "casemesh_contacts_g2", "casemesh-contacts-g2")
    switched = " ".join(RebuildResult(new, old, True, 12, 3.0).summary())
    assert "generation 2 is live: database casemesh_contacts_g2" in switched
    assert "drop the old database casemesh_contacts " in switched
    abandoned = " ".join(RebuildResult(new, old, False, 12, 3.0, "timed out").summary())
    assert "not switched: timed out" in abandoned
    assert "drop its database casemesh_contacts_g2" in abandoned


class Replaced:
    """A running service that a rebuild replaces a moment after its start."""

    def __init__(self) -> None:
        self.settings = ServiceSettings(service_name="standin", graceful_timeout_s=5.0)
        self.superseded = asyncio.Event()
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        asyncio.get_running_loop().call_later(0.05, self.superseded.set)

    async def stop(self) -> None:
        self.calls.append("stop")


async def test_a_running_service_replaced_by_a_rebuild_stops_cleanly_and_exits_3() -> None:
    service = Replaced()
    assert await serve(service, signals=()) == EXIT_SUPERSEDED == 3
    assert service.calls == ["start", "stop"]
