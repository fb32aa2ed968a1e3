"""Templates: versioned, rendered in a sandbox, the same bytes every time."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.catalogue.channels import Channel
from services.notifications.templates import (
    BUILT_IN,
    DEFAULT_REGISTRY,
    RenderError,
    Template,
    TemplateRegistry,
    render,
)

MSP_VALUES: dict[str, Any] = {
    "given_name": "Jordan",
    "family_name": "Lee",
    "addressee": "Jordan Lee",
    "msp_reasons": "Repeated threatening calls to the service centre on 3 and 5 March.",
    "msp_duration_days": 180,
    "contact_kind": "One Main Contact",
    "contact_first_name": "Priya",
    "contact_phone": "1300000000",
    "contact_urgent_voicemail": None,
    "contact_name": "Jordan",
    "text": "Please call us today.",
    "subject": "Your meeting",
    "body": "We have reviewed your complaint.",
    "recipient_name": "Sam",
    "data": {"meeting_date": "12 March 2025"},
}


def test_a_template_rendered_twice_gives_the_same_bytes() -> None:
    template = DEFAULT_REGISTRY.get("msp-letter", 2)
    assert template is not None
    first = render(template, MSP_VALUES)
    second = render(template, dict(MSP_VALUES))
    assert first.body.encode("utf-8") == second.body.encode("utf-8")
    assert (first.template_id, first.template_version) == ("msp-letter", 2)
    assert "Jordan Lee" in first.body and "Priya" in first.body and "1300000000" in first.body


@pytest.mark.parametrize("template", BUILT_IN, ids=lambda t: f"{t.template_id}-v{t.version}")
def test_every_shipped_template_renders_its_values_and_records_its_version(template: Template) -> None:
    rendered = render(template, MSP_VALUES)
    assert rendered.body and rendered.body == rendered.body.strip()
    assert "None" not in rendered.body
    assert (rendered.template_id, rendered.template_version) == (template.template_id, template.version)
    assert (rendered.subject is not None) == (template.subject is not None)


def test_the_msp_letter_prints_the_urgent_voicemail_only_when_there_is_one() -> None:
    template = DEFAULT_REGISTRY.get("msp-letter", 2)
    assert template is not None
    without = render(template, MSP_VALUES).body
    with_voicemail = render(template, {**MSP_VALUES, "contact_urgent_voicemail": "1300000001"}).body
    assert "voicemail" not in without.lower() and "message on 1300000001" in with_voicemail


def test_the_sandbox_refuses_to_reach_python_internals() -> None:
    hostile = Template("hostile", 1, Channel.LETTER, "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(RenderError):
        render(hostile, {})


def test_a_missing_value_is_an_error_never_an_empty_string() -> None:
    template = Template("t", 1, Channel.SMS, "Hi {{ given_name }}, call {{ contact_phone }}")
    with pytest.raises(RenderError):
        render(template, {"given_name": "Jordan"})


def test_a_value_that_is_none_is_never_printed_as_none() -> None:
    template = Template("t", 1, Channel.SMS, "Hi {{ given_name }}")
    with pytest.raises(RenderError):
        render(template, {"given_name": None})


def test_a_message_longer_than_its_channel_allows_is_refused() -> None:
    template = Template("t", 1, Channel.SMS, "{{ text }}")
    assert render(template, {"text": "x" * 500}).body == "x" * 500
    with pytest.raises(RenderError):
        render(template, {"text": "x" * 501})


def test_an_empty_message_is_refused() -> None:
    with pytest.raises(RenderError):
        render(Template("t", 1, Channel.LETTER, "{% if text %}{{ text }}{% endif %}  \n"), {"text": ""})


def test_line_ends_and_trailing_blanks_are_normalised() -> None:
    template = Template("t", 1, Channel.LETTER, "Dear {{ addressee }},   \r\n\r\nBody\r\n")
    assert render(template, {"addressee": "Jordan"}).body == "Dear Jordan,\n\nBody"


def test_the_final_approved_version_is_the_highest_approved_one_not_a_later_draft() -> None:
    final = DEFAULT_REGISTRY.final_approved("msp-letter")
    draft = DEFAULT_REGISTRY.get("msp-letter", 3)
    assert final is not None and final.version == 2
    assert draft is not None and not draft.approved
    assert DEFAULT_REGISTRY.final_approved("no-such-template") is None


def test_a_template_version_cannot_be_defined_twice() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        TemplateRegistry([Template("t", 1, Channel.SMS, "a"), Template("t", 1, Channel.SMS, "b")])
