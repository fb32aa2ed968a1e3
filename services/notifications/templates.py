"""Versioned message templates, rendered in Jinja2's sandbox (issue 5; seed 004 "Comunicazioni").

Seed 004: communications "can be free-form or based on templates". A template is identified by
``(template_id, version)`` and never changes once published: every dispatch records the id and
version it was rendered from, and rendering is deterministic, so rendering the same version with
the same values again (a reprint) gives the same bytes.

Seed 002 step 3: "Ensure that only the final approved letter is attached to the MSP" — a template
version is either approved or a draft; a draft is never sent, and the MSP letter must be the
*final* (highest) approved version of its template.

Pure: no I/O. Templates live in code for now (``BUILT_IN``); the registry is passed to the
deciders, so another set can be configured without touching the rules.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from contracts.catalogue.channels import Channel

#: The longest body each channel's dispatch accepts (contracts: ShortText / LongText).
MAX_BODY: Mapping[Channel, int] = {
    Channel.SMS: 500,
    Channel.EMAIL: 10_000,
    Channel.LETTER: 10_000,
    Channel.PHONE: 10_000,
}
MAX_SUBJECT = 500


@dataclass(frozen=True)
class Template:
    """One immutable version of a template for one channel."""

    template_id: str
    version: int
    channel: Channel
    body: str
    subject: str | None = None
    approved: bool = True


@dataclass(frozen=True)
class Rendered:
    """What a dispatch carries: the text, and the template version it came from (None = free-form)."""

    body: str
    subject: str | None = None
    template_id: str | None = None
    template_version: int | None = None


class RenderError(Exception):
    """The template cannot produce a sendable message from these values."""


class TemplateRegistry:
    def __init__(self, templates: Iterable[Template]) -> None:
        self._by_key: dict[tuple[str, int], Template] = {}
        for template in templates:
            key = (template.template_id, template.version)
            if key in self._by_key:
                raise ValueError(f"template {key} is defined twice")
            self._by_key[key] = template

    def get(self, template_id: str, version: int) -> Template | None:
        return self._by_key.get((template_id, version))

    def final_approved(self, template_id: str) -> Template | None:
        """The highest approved version of ``template_id`` (seed 002 step 3: "the final approved")."""
        approved = [t for (tid, _), t in self._by_key.items() if tid == template_id and t.approved]
        return max(approved, key=lambda t: t.version, default=None)

    def __iter__(self) -> Any:
        return iter(self._by_key.values())


def _refuse_none(value: Any) -> Any:
    # A missing value must never print as "None" in a customer's letter.
    if value is None:
        raise RenderError("a value the template prints is missing")
    return value


# The sandbox refuses access to unsafe attributes (``__class__``, ``__globals__`` …) and calls;
# StrictUndefined makes a misspelt or missing variable an error instead of an empty string.
_ENVIRONMENT = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    finalize=_refuse_none,
)


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> JinjaTemplate:
    return _ENVIRONMENT.from_string(source)


def _render_text(source: str, variables: Mapping[str, Any]) -> str:
    try:
        text = _compiled(source).render(**variables)
    except RenderError:
        raise
    except TemplateError as exc:
        raise RenderError(f"{type(exc).__name__}: the template cannot be rendered") from None
    # One canonical form, whatever the platform: "\n" line ends, no trailing blanks.
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip()


def render(template: Template, variables: Mapping[str, Any]) -> Rendered:
    """Renders one template version; raises ``RenderError`` when the result cannot be sent."""
    body = _render_text(template.body, variables)
    subject = _render_text(template.subject, variables) if template.subject is not None else None
    check(template.channel, body, subject)
    return Rendered(
        body=body, subject=subject, template_id=template.template_id, template_version=template.version
    )


def check(channel: Channel, body: str, subject: str | None = None) -> None:
    if not body:
        raise RenderError("the message is empty")
    if len(body) > MAX_BODY[channel]:
        raise RenderError(f"the message is longer than the {channel.value} channel's {MAX_BODY[channel]}")
    if subject is not None and not 0 < len(subject) <= MAX_SUBJECT:
        raise RenderError("the subject is empty or too long")


# --------------------------------------------------------------------------------------------
# The templates shipped with the service
# --------------------------------------------------------------------------------------------

_MSP_LETTER_V1 = """\
Dear {{ given_name }} {{ family_name }},

We have put a Managed Service Plan in place for how you contact us, because:
{{ msp_reasons }}

It lasts {{ msp_duration_days }} days. Your {{ contact_kind }} is {{ contact_first_name }}, \
on {{ contact_phone }}.

Yours sincerely,
Personalised Services
"""

# Seed 002 steps 1 and 3: the reasons with the behaviours considered, the duration and how to
# access services during it, the contact details, and the OMC/PSSO contact card enclosed.
_MSP_LETTER_V2 = """\
Dear {{ given_name }} {{ family_name }},

Managed Service Plan

We have put a Managed Service Plan in place for how you contact us. We made this decision because:
{{ msp_reasons }}

The plan lasts {{ msp_duration_days }} days. During this time you can still use our services: \
contact your {{ contact_kind }}, {{ contact_first_name }}, on {{ contact_phone }}.
{% if contact_urgent_voicemail %}
For urgent queries, leave a message on {{ contact_urgent_voicemail }}.
{% endif %}

Your contact card is enclosed with this letter.

Yours sincerely,
Personalised Services
"""

_MSP_LETTER_V3_DRAFT = _MSP_LETTER_V2.replace("Yours sincerely", "Kind regards")

# Seed 002 step 1: what the officer explains on the phone.
_MSP_PHONE_SCRIPT = """\
Call {{ contact_name }} about the Managed Service Plan.
1. Explain why the plan was put in place and the behaviours considered: {{ msp_reasons }}
   Do not summarise them as 'inappropriate' or 'aggressive' without explaining why.
2. Explain that it lasts {{ msp_duration_days }} days and how services can be used during it.
3. Give the contact details: {{ contact_kind }} {{ contact_first_name }} on {{ contact_phone }}\
{% if contact_urgent_voicemail %}, urgent query voicemail {{ contact_urgent_voicemail }}{% endif %}.
4. Advise that a letter explaining the plan will arrive.
If aggression or counterproductive behaviour is displayed, report it with the outcome.
"""

# Seed 002 step 2: "prompt message delivery with limited text … ahead of sending more detailed
# information in an MSP letter"; it complements, never replaces, the letter.
_MSP_SMS = """\
Hi {{ given_name }}, we have sent you a letter about how you can contact us. \
Please call your {{ contact_kind }}, {{ contact_first_name }}, on {{ contact_phone }}.
"""

# Issue 20 item 2: version 2 is sent *ahead of* the letter ("complement, not replace"), so it
# says the letter is coming, not that it was sent. Version 1 stays approved for senders pinned to it.
_MSP_SMS_V2 = """\
Hi {{ given_name }}, a letter explaining your Managed Service Plan is on its way. \
Please call your {{ contact_kind }}, {{ contact_first_name }}, on {{ contact_phone }}.
"""

_CALL_BACK_SMS = """\
Hi {{ given_name }}, please call us back{% if text %}: {{ text }}{% endif %}
"""

_SMS_FALLBACK_LETTER = """\
Dear {{ addressee }},

We tried to send you the text message below but it could not be delivered:

{{ text }}

Yours sincerely,
Services Australia
"""

_EMAIL_FALLBACK_LETTER = """\
Dear {{ addressee }},

We tried to send you the e-mail below but it could not be delivered.

{{ subject }}

{{ text }}

Yours sincerely,
Services Australia
"""

_COMPLAINT_RESPONSE = """\
Dear {{ addressee }},

Thank you for telling us about your concerns.
{% if body %}

{{ body }}
{% endif %}

Yours sincerely,
Complaints and Feedback
"""

_MEETING_MINUTES_SUBJECT = (
    "Minutes of your meeting{% if data.meeting_date is defined %} on {{ data.meeting_date }}{% endif %}"
)
_MEETING_MINUTES = """\
Dear {{ recipient_name }},

Please find attached the minutes of the meeting.
{% if body %}

{{ body }}
{% endif %}

Kind regards,
Services Australia
"""

BUILT_IN: tuple[Template, ...] = (
    Template("msp-letter", 1, Channel.LETTER, _MSP_LETTER_V1),
    Template("msp-letter", 2, Channel.LETTER, _MSP_LETTER_V2),
    Template("msp-letter", 3, Channel.LETTER, _MSP_LETTER_V3_DRAFT, approved=False),
    Template("msp-phone-script", 1, Channel.PHONE, _MSP_PHONE_SCRIPT),
    Template("msp-sms", 1, Channel.SMS, _MSP_SMS),
    Template("msp-sms", 2, Channel.SMS, _MSP_SMS_V2),
    Template("call-back-sms", 1, Channel.SMS, _CALL_BACK_SMS),
    Template("sms-fallback-letter", 1, Channel.LETTER, _SMS_FALLBACK_LETTER),
    Template("email-fallback-letter", 1, Channel.LETTER, _EMAIL_FALLBACK_LETTER),
    Template("complaint-l2-response", 1, Channel.LETTER, _COMPLAINT_RESPONSE),
    Template("meeting-minutes", 1, Channel.EMAIL, _MEETING_MINUTES, subject=_MEETING_MINUTES_SUBJECT),
)

#: Templates the service itself renders (not chosen by a sender).
PHONE_SCRIPT = ("msp-phone-script", 1)
SMS_FALLBACK_LETTER = ("sms-fallback-letter", 1)
EMAIL_FALLBACK_LETTER = ("email-fallback-letter", 1)

DEFAULT_REGISTRY = TemplateRegistry(BUILT_IN)
