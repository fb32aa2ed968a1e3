"""The ledger's arithmetic on made-up evidence: what counts as lost, duplicated, reordered,
unpublished, refused and dead-lettered (no broker or store needed)."""

from __future__ import annotations

import json
import uuid

from contracts.topics import CUSTOMERS_TOPIC
from tests.chaos.ledger import (
    Event,
    Stored,
    StoreView,
    dead_letter_id,
    parse_event,
    publish_delays,
    reconcile,
)
from tests.chaos.workload import COMMANDS, Kind, Sent, token

CSID = "700000001"


def sent(seq: int, kind: Kind = Kind.NOTE, *, acked: bool = True) -> Sent:
    topic = COMMANDS if kind is Kind.NOTE else CUSTOMERS_TOPIC
    message = Sent(str(uuid.uuid4()), CSID, seq, kind, topic, b"")
    message.acked_at = 1.0 if acked else None
    return message


def stored(notes: list[Sent], *, team: Sent | None = None, applied: list[Sent] | None = None) -> StoreView:
    return StoreView(
        {
            CSID: Stored(
                version=len(notes) + 1,
                notes=tuple(token(n.seq, uuid.UUID(n.message_id)) for n in notes),
                team=token(team.seq, uuid.UUID(team.message_id)) if team else None,
                applied=tuple(a.message_id for a in applied) if applied is not None else None,
            )
        }
    )


def added(*commands: Sent) -> list[Event]:
    return [Event(str(uuid.uuid4()), "PSStackingDocumentNoteAdded", c.message_id, None) for c in commands]


def test_every_note_once_in_order_with_its_event_is_clean() -> None:
    notes = [sent(1), sent(2), sent(3)]
    counts = reconcile(notes, stored(notes), added(*notes), 3, [])
    assert (counts.sent, counts.acked, counts.lost, counts.duplicated, counts.reordered) == (3, 3, 0, 0, 0)
    assert (counts.unpublished, counts.refused, counts.dead_lettered) == (0, 0, 0)
    assert counts.clean


def test_an_acknowledged_note_missing_from_state_is_lost_even_if_its_event_went_out() -> None:
    notes = [sent(1), sent(2), sent(3)]
    counts = reconcile(notes, stored([notes[0], notes[2]]), added(*notes), 3, [])
    assert counts.lost == 1
    assert not counts.clean


def test_an_unacknowledged_note_is_not_expected_and_its_effect_is_allowed() -> None:
    notes = [sent(1), sent(2, acked=False), sent(3, acked=False)]
    counts = reconcile(notes, stored([notes[0], notes[1]]), added(notes[0], notes[1]), 2, [])
    assert (counts.acked, counts.lost, counts.applied_unacknowledged) == (1, 0, 1)


def test_a_note_applied_twice_or_published_under_two_ids_is_duplicated() -> None:
    notes = [sent(1), sent(2)]
    twice_in_state = reconcile(notes, stored([notes[0], notes[0], notes[1]]), added(*notes), 2, [])
    assert twice_in_state.duplicated == 1
    two_events = reconcile(notes, stored(notes), [*added(*notes), *added(notes[1])], 3, [])
    assert two_events.duplicated == 1


def test_the_same_event_published_twice_is_not_a_duplicate() -> None:
    notes = [sent(1)]
    events = added(*notes)
    counts = reconcile(notes, stored(notes), events + events, 2, [])
    assert (counts.duplicated, counts.event_records, counts.distinct_events) == (0, 2, 1)


def test_notes_stored_out_of_sequence_are_reordered() -> None:
    notes = [sent(1), sent(2), sent(3), sent(4)]
    counts = reconcile(notes, stored([notes[0], notes[2], notes[1], notes[3]]), added(*notes), 4, [])
    assert counts.reordered == 1
    assert counts.examples["reordered"] == [f"{CSID} notes in sequence order [1, 3, 2, 4]"]


def test_a_note_in_state_without_its_event_is_unpublished() -> None:
    notes = [sent(1), sent(2)]
    counts = reconcile(notes, stored(notes), added(notes[0]), 1, [])
    assert (counts.unpublished, counts.lost) == (1, 0)


def test_a_refused_or_dead_lettered_note_is_counted_as_such_not_as_lost() -> None:
    notes = [sent(1), sent(2), sent(3)]
    refusal = Event(str(uuid.uuid4()), "ReferralsCommandRejected", notes[1].message_id, notes[1].message_id)
    counts = reconcile(notes, stored([notes[0]]), [*added(notes[0]), refusal], 2, [notes[2].message_id])
    assert (counts.lost, counts.refused, counts.dead_lettered) == (0, 1, 1)


def test_a_registration_missing_from_applied_is_lost_and_one_applied_out_of_order_is_reordered() -> None:
    regs = [sent(1, Kind.REGISTRATION), sent(2, Kind.REGISTRATION), sent(3, Kind.REGISTRATION)]
    counts = reconcile(regs, stored([], team=regs[2], applied=[regs[0], regs[2]]), [], 0, [])
    assert (counts.lost, counts.registrations_checked) == (1, "applied")
    swapped = reconcile(regs, stored([], team=regs[2], applied=[regs[1], regs[0], regs[2]]), [], 0, [])
    assert (swapped.lost, swapped.reordered) == (0, 1)


def test_an_older_registration_in_the_facts_loses_the_latest_even_without_applied_ids() -> None:
    regs = [sent(1, Kind.REGISTRATION), sent(2, Kind.REGISTRATION)]
    counts = reconcile(regs, stored([], team=regs[0]), [], 0, [])
    assert (counts.lost, counts.registrations_checked) == (1, "latest")


def test_events_and_dead_letters_are_read_from_their_bytes() -> None:
    body = {
        "message_id": "m1",
        "message_type": "ReferralsCommandRejected",
        "causation_id": "c1",
        "payload": {"rejected_message_id": "c1"},
    }
    assert parse_event(json.dumps(body).encode()) == Event("m1", "ReferralsCommandRejected", "c1", "c1")
    assert parse_event(b"\xff not json") is None
    assert dead_letter_id(json.dumps({"message_id": "m2"}).encode()) == "m2"
    assert dead_letter_id(b"") is None


def test_an_absent_note_the_group_has_not_committed_past_is_queued_not_lost() -> None:
    notes = [sent(1), sent(2), sent(3)]
    for offset, note in enumerate(notes):
        note.partition, note.offset = 0, offset
    committed = {(COMMANDS, 0): 2}  # the group committed past offsets 0 and 1
    counts = reconcile(notes, stored([notes[0]]), added(notes[0]), 1, [], committed)
    assert (counts.lost, counts.queued) == (1, 1)
    assert counts.examples["lost"] == [f"{CSID} note seq 2 ({notes[1].message_id})"]


def test_an_events_publish_delay_runs_from_its_decision_to_its_first_record() -> None:
    body = {
        "message_id": "e1",
        "message_type": "X",
        "causation_id": "c1",
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    decided_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    first = parse_event(json.dumps(body).encode(), decided_ms + 1500)
    again = parse_event(json.dumps(body).encode(), decided_ms + 9000)
    assert first is not None and again is not None
    assert first.delay_s == 1.5
    assert publish_delays([again, first], ["c1"]) == [1.5]
    assert publish_delays([first], ["another"]) == []
