"""Notes — seed 004 (Note): notes with their history, read according to a sensitivity level."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts.base import Actor
from contracts.catalogue.contacts import AddNote, ContactsReasonCode, EditNote, NoteAdded, NoteEdited
from kit.spec import Refused
from services.contacts.domain.state import Events, Facts, State


class NoteVersion(State):
    version: int
    text: str
    sensitivity_level: int
    author: Actor
    written_at: datetime


class NoteState(State):
    note_id: UUID
    csid: str
    case_id: str | None = None
    versions: tuple[NoteVersion, ...]

    @property
    def current(self) -> NoteVersion:
        return self.versions[-1]


Decision = tuple[NoteState | None, Events]


def readable_versions(note: NoteState, privilege: int) -> list[tuple[NoteVersion, bool]]:
    """Each version and whether a reader of ``privilege`` may see its text.

    Seed 004 (Note) / issue 7: a sensitivity level restricts who may read a note. A version is
    readable when the privilege reaches both its own level and the note's current level, so
    raising a note's level also protects its earlier text, and lowering it does not expose
    text written at a higher level.
    """
    current = note.current.sensitivity_level
    return [(v, privilege >= max(v.sensitivity_level, current)) for v in note.versions]


def add_note(state: NoteState | None, command: AddNote, now: datetime, facts: Facts) -> Decision:
    if state is not None:
        raise Refused(ContactsReasonCode.NOTE_ALREADY_EXISTS, "A note with this id exists.")
    # Nobody writes a note they could not read back.
    if command.sensitivity_level > facts.privilege_of(command.actor):
        raise Refused(
            ContactsReasonCode.INSUFFICIENT_PRIVILEGE,
            "The sensitivity level is above the author's privilege.",
        )
    version = NoteVersion(
        version=1,
        text=command.text,
        sensitivity_level=command.sensitivity_level,
        author=command.actor,
        written_at=now,
    )
    new = NoteState(note_id=command.note_id, csid=facts.csid, case_id=command.case_id, versions=(version,))
    # The text stays in this service's store: Kafka consumers are not privilege-checked.
    return new, [
        NoteAdded(
            note_id=command.note_id,
            case_id=command.case_id,
            version=1,
            sensitivity_level=command.sensitivity_level,
            author=command.actor,
        )
    ]


def edit_note(state: NoteState | None, command: EditNote, now: datetime, facts: Facts) -> Decision:
    # A note belongs to one customer: another customer's note id is an unknown note.
    if state is None or state.csid != facts.csid:
        raise Refused(ContactsReasonCode.UNKNOWN_NOTE, "No such note.")
    privilege = facts.privilege_of(command.actor)
    level = command.sensitivity_level or state.current.sensitivity_level
    if privilege < state.current.sensitivity_level or level > privilege:
        raise Refused(
            ContactsReasonCode.INSUFFICIENT_PRIVILEGE,
            "The editor's privilege is below the note's sensitivity level.",
        )
    # Seed 004 (Note): "a history of the notes is kept" — an edit starts from the latest version
    # and adds a new one; nothing is overwritten.
    if command.based_on_version != state.current.version:
        raise Refused(
            ContactsReasonCode.NOTE_VERSION_CONFLICT,
            f"The edit starts from version {command.based_on_version}; "
            f"the latest is {state.current.version}.",
        )
    version = NoteVersion(
        version=state.current.version + 1,
        text=command.text,
        sensitivity_level=level,
        author=command.actor,
        written_at=now,
    )
    new = state.model_copy(update={"versions": (*state.versions, version)})
    return new, [
        NoteEdited(
            note_id=state.note_id, version=version.version, sensitivity_level=level, author=command.actor
        )
    ]
