"""Choosing and rendering templates for the rules (issue 5; seed 002 step 3; seed 004).

A sender names a template version (or the final approved one); drafts are never sent. Rendering
is deterministic (``services.notifications.templates``), so a reprint gives the same bytes.
Content that cannot be rendered refuses the command (``CONTENT_REQUIRED``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.catalogue.channels import Channel
from contracts.catalogue.notifications import ContactCardKind, NotificationsReasonCode
from kit.spec import Refused
from services.notifications import templates as tpl
from services.notifications.domain.state import CustomerState, MspContact

ENCLOSURE = {
    ContactCardKind.ONE_MAIN_CONTACT: "OMC_CONTACT_CARD",
    ContactCardKind.PS_SERVICE_OFFICER: "PSSO_CONTACT_CARD",
}
CARD_TITLE = {
    ContactCardKind.ONE_MAIN_CONTACT: "One Main Contact",
    ContactCardKind.PS_SERVICE_OFFICER: "PS Service Officer",
}


def template(
    registry: tpl.TemplateRegistry, template_id: str, version: int | None, channel: Channel
) -> tpl.Template:
    """The template version a sender named (or the final approved one); refuses drafts."""
    found = registry.final_approved(template_id) if version is None else registry.get(template_id, version)
    if found is None or found.channel is not channel:
        raise Refused(
            NotificationsReasonCode.TEMPLATE_NOT_FOUND, f"No such {channel.value.lower()} template version."
        )
    if not found.approved:
        raise Refused(NotificationsReasonCode.TEMPLATE_NOT_APPROVED, "That template version is a draft.")
    return found


def service_template(registry: tpl.TemplateRegistry, key: tuple[str, int]) -> tpl.Template:
    """One of the service's own templates (phone script, fallback letters)."""
    found = registry.get(*key)
    if found is None:
        raise Refused(NotificationsReasonCode.TEMPLATE_NOT_FOUND, f"The {key[0]} template is missing.")
    return found


def render(template: tpl.Template, values: Mapping[str, Any]) -> tpl.Rendered:
    try:
        return tpl.render(template, values)
    except tpl.RenderError as exc:
        raise Refused(NotificationsReasonCode.CONTENT_REQUIRED, f"No sendable content: {exc}") from None


def free_form(channel: Channel, text: str) -> tpl.Rendered:
    # Seed 004: communications may be free-form where no template is required.
    try:
        tpl.check(channel, text)
    except tpl.RenderError as exc:
        raise Refused(NotificationsReasonCode.CONTENT_REQUIRED, f"No sendable content: {exc}") from None
    return tpl.Rendered(body=text)


def customer_values(s: CustomerState) -> dict[str, Any]:
    # Only what addresses the customer: nothing about ownership or locking (seed 001 table 1 step 6).
    return {"given_name": s.given_name, "family_name": s.family_name, "addressee": s.full_name}


def msp_values(msp: MspContact) -> dict[str, Any]:
    card = msp.contact_card
    return {
        "msp_reasons": msp.reasons_summary,
        "msp_duration_days": msp.duration_days,
        "contact_kind": CARD_TITLE[card.kind],
        "contact_first_name": card.first_name,
        "contact_phone": card.phone_number,
        "contact_urgent_voicemail": card.urgent_voicemail,
    }


def placeholder_values(text: str | None) -> dict[str, Any]:
    """The longest values a later send may bring, to check a template before it waits."""
    name, phone = "X" * 100, "9" * 16
    return {
        "given_name": name,
        "family_name": name,
        "addressee": f"{name} {name}",
        "msp_reasons": "X" * 500,
        "msp_duration_days": 730,
        "contact_kind": CARD_TITLE[ContactCardKind.PS_SERVICE_OFFICER],
        "contact_first_name": name,
        "contact_phone": phone,
        "contact_urgent_voicemail": phone,
        "text": text,
    }
