"""What a file is, from its content (magic bytes), not its name. Pure: bytes in, facts out.

Issue 7: "The type is checked from the content (magic bytes), not only the extension: Word,
Excel and PDF, plus common images." Seed 004 (Allegati): "a series of file types is supported,
including Microsoft Word, Microsoft Excel and PDF".

* PDF ``%PDF-``; PNG; JPEG; GIF87a/GIF89a;
* Office Open XML (a zip): ``word/document.xml`` → .docx, ``xl/workbook.xml`` → .xlsx;
* legacy Office (an OLE compound file): a ``WordDocument`` stream → .doc, ``Workbook``/``Book``
  → .xls. olefile reads the compound file (header, FAT, DIFAT, sector chains, directory).

Some other contents are *recognised* so a refusal can say "not allowed" rather than "unknown":
other zips, other compound files (e.g. PowerPoint), Windows and ELF executables, gzip.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import olefile

from services.contacts import quarantine
from services.contacts.quarantine import ContentFindings

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"

ZIP = "application/zip"
OLE = "application/x-ole-storage"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
EXE = "application/vnd.microsoft.portable-executable"
ELF = "application/x-elf"
GZIP = "application/gzip"

#: Allowed types and the file name extensions that may carry each (seed 004: Word, Excel, PDF,
#: plus common images — issue 7).
ALLOWED: dict[str, frozenset[str]] = {
    PDF: frozenset({".pdf"}),
    PNG: frozenset({".png"}),
    JPEG: frozenset({".jpg", ".jpeg"}),
    GIF: frozenset({".gif"}),
    DOCX: frozenset({".docx"}),
    XLSX: frozenset({".xlsx"}),
    DOC: frozenset({".doc"}),
    XLS: frozenset({".xls"}),
}

#: Declared (client-sent) types that say nothing, and aliases clients use for the allowed ones.
UNINFORMATIVE_DECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
DECLARED_ALIASES: dict[str, str] = {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "application/x-pdf": PDF,
    "application/vnd.ms-word": DOC,
    "application/x-msexcel": XLS,
    "application/excel": XLS,
}

#: Events carry media types as a ``Code`` (at most 64 characters); the Office Open XML types are
#: longer, so on Kafka they travel in this compact form (``-officedocument`` dropped). The HTTP
#: download serves the full type.
COMPACT: dict[str, str] = {
    DOCX: "application/vnd.openxmlformats.wordprocessingml.document",
    XLSX: "application/vnd.openxmlformats.spreadsheetml.sheet",
    PPTX: "application/vnd.openxmlformats.presentationml.presentation",
}
EVENT_MEDIA_TYPE_MAX = 64


def event_media_type(media_type: str) -> str:
    """``media_type`` as events carry it (see :data:`COMPACT`)."""
    compact = COMPACT.get(media_type, media_type)
    return compact[:EVENT_MEDIA_TYPE_MAX]


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def extension(filename: str) -> str:
    """The lower-case extension with its dot (``"Pay.PDF"`` → ``".pdf"``), or ``""``."""
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." not in name.strip("."):
        return ""
    return "." + name.rsplit(".", 1)[-1].lower()


#: Magic bytes that alone say what a file is. No two share a first byte, so the order they are
#: tried in (nor that zips and compound files are tried after them) cannot change an answer.
_MAGIC: tuple[tuple[bytes | tuple[bytes, ...], str], ...] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    ((b"GIF87a", b"GIF89a"), GIF),
    (b"MZ", EXE),
    (b"\x7fELF", ELF),
    (b"\x1f\x8b", GZIP),
)
ZIP_MAGIC = b"PK\x03\x04"


def sniff(content: bytes) -> str | None:
    """The media type the content is, or None when it is not recognised."""
    for magic, media_type in _MAGIC:
        if content.startswith(magic):
            return media_type
    if content.startswith(ZIP_MAGIC):
        return _sniff_zip(content)
    if content.startswith(OLE_MAGIC):
        return _sniff_ole(content)
    return None


def _sniff_zip(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError, zlib.error):
        return None
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return DOCX
        if "xl/workbook.xml" in names:
            return XLSX
        if "ppt/presentation.xml" in names:
            return PPTX
    return ZIP


def _sniff_ole(content: bytes) -> str | None:
    """A compound file's type from the streams in its directory (None when it is malformed)."""
    names = ole_stream_names(content)
    if names is None:
        return None
    if "worddocument" in names:
        return DOC
    if "workbook" in names or "book" in names:
        return XLS
    return OLE


_OLE_DIRECTORY_ENTRY = 128  # bytes; the name's length and the entry's type sit at 0x40 and 0x42
_OLE_STORAGE_OR_STREAM = (1, 2)


def ole_stream_names(content: bytes) -> set[str] | None:
    """Lower-cased names of every storage and stream in an OLE compound file's directory, or None
    when olefile cannot read the file.

    olefile reads the compound file; the names are taken from every entry of the directory it
    assembles, whether or not the root's tree links the entry in — a quarantine check (a
    ``Macros`` storage, issue 16) would rather see an entry too many than one too few.
    """
    try:
        with olefile.OleFileIO(io.BytesIO(content)) as compound:
            compound.directory_fp.seek(0)
            directory: bytes = compound.directory_fp.read()
    except Exception:  # olefile's own errors, and whatever a hostile file provokes
        return None
    names: set[str] = set()
    for offset in range(0, len(directory) - _OLE_DIRECTORY_ENTRY + 1, _OLE_DIRECTORY_ENTRY):
        name_length, entry_type = struct.unpack_from("<HB", directory, offset + 0x40)
        if entry_type in _OLE_STORAGE_OR_STREAM and 2 <= name_length <= 64:
            name = directory[offset : offset + name_length - 2].decode("utf-16-le", errors="replace")
            names.add(name.lower())
    return names


def inspect(content: bytes, media_type: str) -> ContentFindings:
    """Issue 7 and issue 16: the quarantine's deep checks (:mod:`services.contacts.quarantine`)
    of an already type-checked file — macros, active content, archive bombs, unreadable files."""
    if media_type in (DOCX, XLSX):
        return quarantine.inspect_ooxml(content)
    if media_type in (DOC, XLS):
        return quarantine.inspect_ole(ole_stream_names(content))
    if media_type == PDF:
        return quarantine.inspect_pdf(content)
    return ContentFindings()
