"""Settings of the contacts service (environment prefix ``CASEMESH_CONTACTS_``)."""

from __future__ import annotations

from pydantic import Field

from kit.settings import ServiceSettings, service_config

UPLOAD_BODY_MAX_BYTES = 32 * 1024 * 1024
"""The transport's limit: the most bytes of HTTP request body the upload endpoint reads (the file
and its multipart framing), 32 MiB. A body beyond it is refused ``413 ATTACHMENT_TOO_LARGE``
whatever the agency's limit. It bounds the memory one upload takes (the body is buffered) and so
the size of what the quarantine checks (services/contacts/quarantine.py)."""

DEFAULT_ROLE_PRIVILEGES: dict[str, int] = {
    "SYSTEM": 5,
    "SERVICE_MANAGER": 5,
    "TEAM_LEADER": 4,
    "APPROVED_DECISION_MAKER": 4,
    "COMPLAINTS_OFFICER": 4,
    "SPECIALIST_OFFICER": 4,
    "CASE_WORKER": 3,
    "PS_SERVICE_OFFICER": 3,
    "ONE_MAIN_CONTACT": 3,
    "SERVICE_SUPPORT_OFFICER": 3,
    "CSO": 2,
}


class ContactsSettings(ServiceSettings):
    model_config = service_config("contacts")

    service_name: str = "contacts"

    # Seed 004 (Riunioni): "for some programmes a meeting with the client may always be required
    # before the programme is authorised" — the case types configured here.
    meeting_required_case_types: list[str] = Field(
        default_factory=list,
        description="Case types that always need a meeting before authorisation (JSON list).",
    )
    # Seed 004 (Note): a sensitivity level restricts who may read a note. Commands arrive with an
    # Actor (officer id and role), so the privilege of a command's author comes from its role.
    role_privileges: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_PRIVILEGES),
        description="Privilege level (1-5) of each role, for note authors and editors (JSON map).",
    )
    default_role_privilege: int = Field(1, ge=1, le=5, description="Privilege of a role not in the map.")

    # Seed 004 (Allegati): "Il sistema non limita la dimensione del file dell'allegato, tuttavia
    # l'agenzia potrebbe voler impostare un limite mediante una variabile di ambiente" — the system
    # does not limit the size of an attachment's file, but the agency may want to set a limit
    # through an environment variable. So by default there is none (0, or unset, means none) and
    # only the transport's UPLOAD_BODY_MAX_BYTES applies; CASEMESH_CONTACTS_ATTACHMENT_MAX_BYTES is
    # the agency's limit, and it can only lower the transport's.
    attachment_max_bytes: int = Field(
        0,
        ge=0,
        le=UPLOAD_BODY_MAX_BYTES,
        description="The agency's attachment size limit in bytes; 0 = none (the 32 MiB body limit applies).",
    )
    attachment_default_privilege: int = Field(
        2, ge=1, le=5, description="Privilege needed to download when the upload names none."
    )
    quarantine_interval_s: float = Field(
        1.0, gt=0, description="How often quarantined attachments are checked (also woken on upload)."
    )
    list_default_limit: int = Field(50, ge=1, description="Entries per page when no limit is asked.")
    list_max_limit: int = Field(200, ge=1, description="Most entries one listing request returns.")
