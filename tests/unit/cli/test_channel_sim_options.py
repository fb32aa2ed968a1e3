"""``casemesh channel-sim``'s options and its ledger of what it handled (issue 18); the adapter
itself runs against the broker in tests/integration/notifications/test_channel_sim.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from casemesh.channel_sim import (
    ChannelSimSettings,
    MemoryLedger,
    SimOptions,
    SqliteLedger,
    add_parser,
    options_from,
)
from casemesh.cli import main
from contracts.catalogue.channels import Channel


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["channel-sim", *argv])


def test_the_options_name_the_channels_topics_group_and_producer() -> None:
    args = parsed("--channel", "sms", "--failure-rate", "0.25", "--topic-suffix", ".t1")
    options = options_from(args, ChannelSimSettings())
    assert options == SimOptions(channel=Channel.SMS, failure_rate=0.25, topic_suffix=".t1")
    assert options.group == "casemesh-channels-sms.t1"
    assert options.producer_name == "channel-sim-sms"
    assert (
        options.topic("casemesh.notifications.dispatch.sms.v1") == "casemesh.notifications.dispatch.sms.v1.t1"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("--failure-rate", "1.5"),
        ("--duplicate-rate", "-0.1"),
        ("--latency-ms", "-1"),
        ("--duration", "0"),
    ],
)
def test_a_rate_outside_0_to_1_or_a_negative_time_is_refused_before_anything_connects(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["channel-sim", "--channel", "letter", *argv]) == 2
    assert "casemesh channel-sim:" in capsys.readouterr().err


def test_the_memory_ledger_keeps_the_latest_outcomes_up_to_its_capacity() -> None:
    ledger = MemoryLedger(capacity=2)
    ledger.record("a:1", "DELIVERED")
    ledger.record("b:1", "FAILED")
    assert ledger.outcome("a:1") == "DELIVERED"  # now the latest used
    ledger.record("c:1", "DELIVERED")
    assert (ledger.outcome("a:1"), ledger.outcome("b:1"), ledger.outcome("c:1")) == (
        "DELIVERED",
        None,
        "DELIVERED",
    )


def test_the_sqlite_ledger_remembers_what_was_handled_across_restarts(tmp_path: Path) -> None:
    first = SqliteLedger(tmp_path / "sim.db")
    first.record("d:2", "FAILED")
    first.close()
    again = SqliteLedger(tmp_path / "sim.db")
    assert again.outcome("d:2") == "FAILED" and again.outcome("d:3") is None
    again.close()
