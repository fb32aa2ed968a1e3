"""Client contact: the rules (issue 7; seed 004 — Cúram client-contact management — and the
communication records of seeds 000 and 003). Pure: no I/O, no clock.

One module per aggregate, each rule ``rule(state, message, now, facts)`` returning the new state
and the events; a refusal raises ``kit.spec.Refused`` (the kit answers ContactsCommandRejected):

- :mod:`.assessments`: whether a case needs a meeting;
- :mod:`.meetings`: meetings, invitees' answers, and the minutes;
- :mod:`.notes`: notes with their history and sensitivity;
- :mod:`.communications`: the communications log;
- :mod:`.incidents`: MSP incidents;
- :mod:`.attachments`: the upload checks, quarantine and download;
- :mod:`.state`: the frozen state base and the :class:`~.state.Facts` every rule is given.

The table of rules is ``services.contacts.spec``.
"""

from services.contacts.domain.assessments import AssessmentState
from services.contacts.domain.attachments import (
    AttachmentRecordStatus,
    AttachmentState,
    AttachmentUpload,
    QuarantineCheck,
    UploadVerdict,
    check_cut_body,
    check_upload,
    may_download,
    quarantine_verdict,
)
from services.contacts.domain.communications import CommunicationState, communication_id_for
from services.contacts.domain.incidents import IncidentState
from services.contacts.domain.meetings import MeetingState, minutes_recipients, render_minutes
from services.contacts.domain.notes import NoteState, NoteVersion, readable_versions
from services.contacts.domain.state import (
    CONTACTS_NAMESPACE,
    AttachmentSummary,
    Facts,
    Privileges,
    sha256_hex,
)

__all__ = [
    "CONTACTS_NAMESPACE",
    "AssessmentState",
    "AttachmentRecordStatus",
    "AttachmentState",
    "AttachmentSummary",
    "AttachmentUpload",
    "CommunicationState",
    "Facts",
    "IncidentState",
    "MeetingState",
    "NoteState",
    "NoteVersion",
    "Privileges",
    "QuarantineCheck",
    "UploadVerdict",
    "check_cut_body",
    "check_upload",
    "communication_id_for",
    "may_download",
    "minutes_recipients",
    "quarantine_verdict",
    "readable_versions",
    "render_minutes",
    "sha256_hex",
]
