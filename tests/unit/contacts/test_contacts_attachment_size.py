"""The size of an attachment (seed 004, Allegati; issue 20 item 5): "Il sistema non limita la
dimensione del file dell'allegato, tuttavia l'agenzia potrebbe voler impostare un limite mediante
una variabile di ambiente" — the system does not limit an attachment's size, but the agency may
want to set a limit through an environment variable. No limit by default (0 or unset means none);
the upload endpoint's HTTP body limit, the transport's, always applies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.catalogue.contacts import ContactsReasonCode
from kit.memory import forget
from services.contacts import api, domain, filetypes
from services.contacts.settings import UPLOAD_BODY_MAX_BYTES, ContactsSettings
from tests.unit.contacts import contacts_samples as samples
from tests.unit.contacts.test_contacts_api import CSID, make_contacts, uploader

TOO_LARGE = ContactsReasonCode.ATTACHMENT_TOO_LARGE
GIB = 1024**3


def size_check(size: int, max_bytes: int | None) -> domain.UploadVerdict:
    pdf = samples.pdf()
    return domain.check_upload("payslip.pdf", "application/pdf", size, filetypes.sniff(pdf), max_bytes)


def test_the_agency_limit_is_unset_by_default_and_zero_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEMESH_CONTACTS_ATTACHMENT_MAX_BYTES", raising=False)
    assert ContactsSettings().attachment_max_bytes == 0
    monkeypatch.setenv("CASEMESH_CONTACTS_ATTACHMENT_MAX_BYTES", "2048")
    assert ContactsSettings().attachment_max_bytes == 2048


@pytest.mark.parametrize("max_bytes", [0, None])
def test_without_an_agency_limit_a_file_of_any_size_passes_the_size_check(max_bytes: int | None) -> None:
    assert size_check(5 * GIB, max_bytes).accepted
    assert size_check(UPLOAD_BODY_MAX_BYTES + 1, max_bytes).accepted


def test_a_file_over_the_agencys_limit_is_refused_as_too_large() -> None:
    refused = size_check(4097, 4096)
    assert refused.refusal is TOO_LARGE
    assert refused.reason == "The file is larger than the agency's limit of 4096 bytes."
    assert size_check(4096, 4096).accepted


def test_an_agency_limit_cannot_be_negative_nor_above_the_transports() -> None:
    for wrong in (-1, UPLOAD_BODY_MAX_BYTES + 1):
        with pytest.raises(ValidationError):
            ContactsSettings(attachment_max_bytes=wrong)
    assert (
        ContactsSettings(attachment_max_bytes=UPLOAD_BODY_MAX_BYTES).attachment_max_bytes
        == UPLOAD_BODY_MAX_BYTES
    )


def test_the_body_an_upload_reads_is_the_agencys_limit_plus_framing_else_the_transports() -> None:
    assert UPLOAD_BODY_MAX_BYTES == 32 * 1024 * 1024
    assert api.body_cap(None) == api.body_cap(0) == UPLOAD_BODY_MAX_BYTES
    assert api.body_cap(4096) == 4096 + api.MULTIPART_OVERHEAD
    assert api.body_cap(UPLOAD_BODY_MAX_BYTES) == UPLOAD_BODY_MAX_BYTES


def test_a_body_cut_off_is_too_large_for_the_limit_that_stopped_it() -> None:
    agency = domain.check_cut_body(10_000, 4096, UPLOAD_BODY_MAX_BYTES)
    transport = domain.check_cut_body(UPLOAD_BODY_MAX_BYTES + 1, None, UPLOAD_BODY_MAX_BYTES)
    assert agency.refusal is transport.refusal is TOO_LARGE
    assert agency.reason == "The file is larger than the agency's limit of 4096 bytes."
    assert transport.reason == (
        f"The upload is larger than the upload endpoint's body limit of {UPLOAD_BODY_MAX_BYTES} bytes."
    )


async def test_without_an_agency_limit_only_the_transports_body_limit_refuses_an_upload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "UPLOAD_BODY_MAX_BYTES", 64 * 1024)  # the transport's, made small
    contacts, url = await make_contacts(max_bytes=0)
    try:

        async def post(content: bytes) -> tuple[int, str | None]:
            answer = await contacts.http.post(
                f"/customers/{CSID}/attachments",
                files={"file": ("payslip.pdf", content, "application/pdf")},
                headers=uploader(),
            )
            return answer.status_code, answer.json().get("reason_code")

        assert await post(samples.pdf(b" " * 40_000)) == (201, None), "far over the old 4 KiB of these tests"
        assert await post(samples.pdf(b" " * 100_000)) == (413, "ATTACHMENT_TOO_LARGE")
        assert await contacts.stored_files() == 1
    finally:
        await contacts.http.aclose()
        forget(url)


async def test_an_agency_limit_refuses_a_larger_upload_with_attachment_too_large() -> None:
    contacts, url = await make_contacts(max_bytes=4096)
    try:
        for extra, status in ((b"", 201), (b" " * 5000, 413), (b" " * 200_000, 413)):
            answer = await contacts.http.post(
                f"/customers/{CSID}/attachments",
                files={"file": ("payslip.pdf", samples.pdf(extra), "application/pdf")},
                headers=uploader(),
            )
            assert answer.status_code == status, answer.text
            if status == 413:
                assert answer.json()["reason_code"] == "ATTACHMENT_TOO_LARGE"
                assert "agency's limit of 4096 bytes" in answer.json()["reason"]
        assert await contacts.stored_files() == 1
    finally:
        await contacts.http.aclose()
        forget(url)
