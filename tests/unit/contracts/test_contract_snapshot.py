"""The committed snapshot guards every message's schema against incompatible changes.

When this fails: either undo the change, or raise the message's ``SCHEMA_VERSION`` (consumers
then dead-letter the new version until they upgrade). After a deliberate change, rewrite the
snapshot with ``python -m contracts.export --snapshot`` and commit it.
"""

from __future__ import annotations

import copy
from pathlib import Path

from contracts.compat import load_snapshot, snapshot_problems
from contracts.export import DEFAULT_SNAPSHOT_DIR, current_snapshot

SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshot"


def test_the_snapshot_lives_next_to_this_test() -> None:
    assert DEFAULT_SNAPSHOT_DIR == SNAPSHOT_DIR


def test_the_snapshot_is_committed_and_covers_the_envelope() -> None:
    snapshot = load_snapshot(SNAPSHOT_DIR)
    assert len(snapshot) > 100
    assert "Envelope" in snapshot and "AssignCustomerToPS" in snapshot
    for entry in snapshot.values():
        assert {"message_type", "schema_version", "schema"} <= set(entry)


def test_the_current_catalogue_is_compatible_with_the_committed_snapshot() -> None:
    problems = snapshot_problems(load_snapshot(SNAPSHOT_DIR), current_snapshot())
    assert not problems, "\n".join(problems)


def test_the_snapshot_check_would_catch_a_removed_field_at_the_same_version() -> None:
    snapshot = load_snapshot(SNAPSHOT_DIR)
    current = copy.deepcopy(current_snapshot())
    del current["AssignCustomerToPS"]["schema"]["properties"]["team"]
    problems = snapshot_problems(snapshot, current)
    assert problems == ["AssignCustomerToPS: $.team: property removed or renamed"]
    current["AssignCustomerToPS"]["schema_version"] += 1
    assert snapshot_problems(snapshot, current) == []


def test_the_snapshot_check_would_catch_a_narrowed_actor_in_every_command() -> None:
    snapshot = load_snapshot(SNAPSHOT_DIR)
    current = copy.deepcopy(current_snapshot())
    current["RecordCMP"]["schema"]["$defs"]["Actor"]["properties"]["first_name"]["maxLength"] = 10
    assert snapshot_problems(snapshot, current) == [
        "RecordCMP: $.actor.first_name: maxLength lowered from 100 to 10"
    ]
