"""What a file is, from its content (magic bytes), not its name. Pure: bytes in, facts out.

Issue 7: "The type is checked from the content (magic bytes), not only the extension: Word,
Excel and PDF, plus common images." Seed 004 (Allegati): "a series of file types is supported,
including Microsoft Word, Microsoft Excel and PDF".

* PDF ``%PDF-``; PNG; JPEG; GIF87a/GIF89a;
* Office Open XML (a zip): ``word/document.xml`` → .docx, ``xl/workbook.xml`` → .xlsx;
* legacy Office (an OLE compound file): a ``WordDocument`` stream → .doc, ``Workbook``/``Book``
  → .xls. The compound file's directory is read properly (header, FAT, directory chain).

Some other contents are *recognised* so a refusal can say "not allowed" rather than "unknown":
other zips, other compound files (e.g. PowerPoint), Windows and ELF executables, gzip.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

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
_ENDOFCHAIN_OR_SPECIAL = 0xFFFFFFFA  # sector numbers at or above this end a chain
_MAX_CHAIN = 100_000


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


def ole_stream_names(content: bytes) -> set[str] | None:
    """Lower-cased names in an OLE compound file's directory, or None if it is malformed."""
    try:
        return _ole_names(content)
    except (struct.error, IndexError, ValueError):
        return None


_OLE_HEADER_FAT_SECTORS = 109  # FAT sector numbers held in the header itself
_OLE_DIRECTORY_ENTRY = 128


@dataclass(frozen=True)
class _CompoundFile:
    """An OLE compound file's bytes, read sector by sector (a sector's size is ``1 << shift``)."""

    content: bytes
    size: int

    def sector(self, number: int) -> bytes:
        """Sector ``number`` (cut short at the end of the content); ValueError when out of range."""
        start = (number + 1) * self.size
        if number >= _ENDOFCHAIN_OR_SPECIAL or start + self.size > len(self.content) + self.size:
            raise ValueError("sector out of range")
        return self.content[start : start + self.size]


def _ole_names(content: bytes) -> set[str] | None:
    """:func:`ole_stream_names`, raising (struct.error, IndexError, ValueError) on some damage."""
    if len(content) < 512 or not content.startswith(OLE_MAGIC):
        return None
    sector_shift = struct.unpack_from("<H", content, 0x1E)[0]
    if sector_shift not in (9, 12):
        return None
    compound = _CompoundFile(content, 1 << sector_shift)
    fat_sectors_count, first_directory = struct.unpack_from("<II", content, 0x2C)
    fat = _read_fat(compound, _fat_sector_numbers(compound)[:fat_sectors_count])
    return _directory_names(compound, fat, first_directory)


def _fat_sector_numbers(compound: _CompoundFile) -> list[int]:
    """Where the FAT lies: the header's sector numbers, then those along the DIFAT chain."""
    first_difat, difat_count = struct.unpack_from("<II", compound.content, 0x44)
    numbers = list(struct.unpack_from(f"<{_OLE_HEADER_FAT_SECTORS}I", compound.content, 0x4C))
    per = compound.size // 4 - 1  # each DIFAT sector ends with the number of the next
    difat = first_difat
    for _ in range(min(difat_count, _MAX_CHAIN)):
        if difat >= _ENDOFCHAIN_OR_SPECIAL:
            break
        block = compound.sector(difat)
        numbers.extend(struct.unpack_from(f"<{per}I", block, 0))
        difat = struct.unpack_from("<I", block, per * 4)[0]
    return numbers


def _read_fat(compound: _CompoundFile, fat_sector_numbers: list[int]) -> list[int]:
    """The file allocation table: each sector's next sector in its chain."""
    fat: list[int] = []
    for number in fat_sector_numbers:
        if number >= _ENDOFCHAIN_OR_SPECIAL:
            continue
        block = compound.sector(number)
        fat.extend(struct.unpack_from(f"<{compound.size // 4}I", block.ljust(compound.size, b"\xff"), 0))
    return fat


def _directory_names(compound: _CompoundFile, fat: list[int], first_directory: int) -> set[str] | None:
    """The stream and storage names along the directory chain, or None when the chain is broken."""
    names: set[str] = set()
    current = first_directory
    seen: set[int] = set()
    while current < _ENDOFCHAIN_OR_SPECIAL:
        if current in seen or len(seen) > _MAX_CHAIN:
            return None  # a loop in the chain
        seen.add(current)
        names |= _entry_names(compound.sector(current).ljust(compound.size, b"\x00"))
        if current >= len(fat):
            return None
        current = fat[current]
    return names


def _entry_names(block: bytes) -> set[str]:
    """The lower-cased names of the storages and streams in one directory sector."""
    names: set[str] = set()
    for offset in range(0, len(block), _OLE_DIRECTORY_ENTRY):
        entry = block[offset : offset + _OLE_DIRECTORY_ENTRY]
        name_length, entry_type = struct.unpack_from("<HB", entry, 0x40)
        if entry_type in (1, 2) and 2 <= name_length <= 64:
            names.add(entry[: name_length - 2].decode("utf-16-le", errors="replace").lower())
    return names


@dataclass(frozen=True)
class ContentFindings:
    """What the quarantine checks found in a stored file (issue 7: quarantined until they pass)."""

    macros: bool = False
    active_content: bool = False  # e.g. JavaScript or auto-actions in a PDF
    archive_too_expanded: bool = False  # a zip that decompresses to far more than it weighs


#: A document that expands more than this many times (and beyond MIN_BOMB_BYTES) is refused.
MAX_EXPANSION_RATIO = 100
MIN_BOMB_BYTES = 50 * 1024 * 1024


def inspect(content: bytes, media_type: str) -> ContentFindings:
    """Deeper checks of an already type-checked file: macros, active content, archive bombs."""
    if media_type in (DOCX, XLSX):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError, zlib.error):
            return ContentFindings(archive_too_expanded=True)
        expanded = sum(i.file_size for i in infos)
        return ContentFindings(
            macros=any(i.filename.lower().endswith("vbaproject.bin") for i in infos),
            archive_too_expanded=expanded > MIN_BOMB_BYTES
            and expanded > MAX_EXPANSION_RATIO * max(len(content), 1),
        )
    if media_type in (DOC, XLS):
        names = ole_stream_names(content) or set()
        return ContentFindings(macros=bool(names & {"macros", "_vba_project_cur", "vba"}))
    if media_type == PDF:
        return ContentFindings(
            active_content=any(marker in content for marker in (b"/JavaScript", b"/JS", b"/Launch"))
        )
    return ContentFindings()
