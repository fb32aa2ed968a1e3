"""What every contacts aggregate shares: the frozen state base, the derived ids and keys, and the
facts a rule is given besides its state and the message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.base import Actor, Message
from contracts.catalogue.contacts import AttachmentStatus

Events = list[Message]

#: Namespace of the ids this service derives (log entries, e-mail notifications, checks), so
#: deciding the same message again yields the same ids.
CONTACTS_NAMESPACE = UUID("0c0a7f3e-6d0b-4c49-9a52-6f1f0b8e7c11")

LONG_TEXT_MAX = 10_000
SHORT_TEXT_MAX = 500


class State(BaseModel):
    """Base of the stored states: frozen (a rule returns a ``model_copy``), tolerant of fields
    added later."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def short(text: str) -> str:
    return text if len(text) <= SHORT_TEXT_MAX else text[: SHORT_TEXT_MAX - 1] + "…"


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def order_key(at: datetime, tie: UUID) -> str:
    """A fixed-width, sortable key (ISO strings drop zero microseconds, which breaks sorting)."""
    return f"{at:%Y-%m-%dT%H:%M:%S.%f}|{tie}"


class AttachmentSummary(State):
    """What minutes and e-mails need to know about an attachment (never its bytes)."""

    attachment_id: UUID
    filename: str
    media_type: str
    size_bytes: int
    status: AttachmentStatus


@dataclass(frozen=True)
class Privileges:
    """Seed 004 (Note): a sensitivity level restricts who may read a note. Commands arrive with an
    Actor (officer id and role), so the privilege of a command's author is the one configured for
    its role (``CASEMESH_CONTACTS_ROLE_PRIVILEGES``), else ``default``."""

    by_role: Mapping[str, int] = field(default_factory=dict)
    default: int = 1

    def __call__(self, actor: Actor) -> int:
        return self.by_role.get(actor.role.value, self.default)


@dataclass(frozen=True)
class Facts:
    """What a rule knows besides its aggregate's state and the message."""

    csid: str
    """The customer the message is about (its envelope's CSID): an aggregate of another customer
    is unknown to this one."""
    message_id: UUID | None = None
    """The message's own id: the source of a log entry, the upload an attachment came from."""
    meeting_required_case_types: frozenset[str] = frozenset()
    """Seed 004 (Riunioni): the programmes that always need a meeting before authorisation."""
    privilege_of: Callable[[Actor], int] = Privileges()
    """The privilege level of a command's author (by role)."""
    attachments: Mapping[UUID, AttachmentSummary] = field(default_factory=dict)
    """The customer's attachments a minutes command refers to, read before deciding."""
