"""The quarantine's deep checks of an uploaded file. Pure: bytes in, findings out.

Issue 7: "An attachment stays quarantined until its checks pass". Issue 16 (item 6): the checks
must hold against a hostile producer — "Quarantine that recognises active PDF content however it
is encoded (name escapes, object streams), archives whose real expanded size or entry count
exceeds a limit (measured, not read from headers), and Office macros."

The rule throughout: a file is released only when it could be read in full and nothing was found.
A file that cannot be read (damaged, encrypted, headers that disagree with the content, or beyond
the bounds below) is refused as unreadable — never released unchecked. Every check is bounded in
time and memory; an upload is at most the upload endpoint's body limit, ``UPLOAD_BODY_MAX_BYTES``
(32 MiB, services/contacts/settings.py), which the agency's ``attachment_max_bytes`` can only lower.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from pypdf import PasswordType, PdfReader, apply_configuration
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject


@dataclass(frozen=True)
class ContentFindings:
    """What the quarantine checks found in a stored file (issue 7: quarantined until they pass)."""

    macros: bool = False  # VBA macros, macro sheets or ActiveX controls in an Office document
    active_content: bool = False  # a PDF's scripts, actions that run or fetch files, embedded files
    archive_too_expanded: bool = False  # a zip that really decompresses to far more than it weighs
    archive_too_many_entries: bool = False
    unreadable: bool = False  # could not be read in full, so could not be checked
    found: tuple[str, ...] = ()  # what was found, as fixed labels (never text taken from the file)


class Unreadable(Exception):
    """The file cannot be read far enough to be checked."""


# --- PDF --------------------------------------------------------------------------------------

#: Most indirect objects, and most values (objects, dictionary values, array items), one PDF walk
#: visits; beyond either the file is refused as unreadable. A 10 MB PDF rarely holds 100,000.
MAX_PDF_OBJECTS = 250_000
MAX_PDF_VALUES = 2_000_000
#: Most bytes one PDF stream may decode to, and most bytes all its object streams together may.
MAX_PDF_STREAM_BYTES = 16 * 1024 * 1024
MAX_PDF_DECODED_BYTES = 64 * 1024 * 1024

#: Action types (``/S``) that run code, start programs, send or load data, or open other files.
_PDF_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE", "/RichMediaExecute"}
)
#: Keys whose mere presence is active content: script code, the document-level JavaScript and
#: embedded-file name trees, a file specification's embedded file, XFA forms, rich media (Flash).
_PDF_KEYS = {
    "/JS": "/JavaScript",
    "/JavaScript": "/JavaScript",
    "/EmbeddedFiles": "/EmbeddedFile",
    "/EF": "/EmbeddedFile",
    "/XFA": "/XFA",
    "/RichMediaContent": "/RichMedia",
}
#: Object types (``/Type`` or ``/Subtype``) that are active content.
_PDF_TYPES = {
    "/EmbeddedFile": "/EmbeddedFile",
    "/FileAttachment": "/EmbeddedFile",
    "/RichMedia": "/RichMedia",
}

#: The second line, on the raw bytes with ``#xx`` name escapes undone (costs nothing; it also sees
#: objects no cross-reference names). What sits in compressed streams only the object walk sees.
_PDF_NAME_ESCAPE = re.compile(rb"#[0-9A-Fa-f]{2}")
_PDF_UNESCAPED = {  # every spelling of every escape: #4a, #4A, #aF, …
    b"#" + high + low: bytes([i])
    for i in range(256)
    for high in {b"%x" % (i >> 4), b"%X" % (i >> 4)}
    for low in {b"%x" % (i & 15), b"%X" % (i & 15)}
}
_PDF_RAW_MARKERS = tuple(
    (re.compile(rb"/" + name + rb"(?![A-Za-z0-9])"), label)
    for name, label in ((b"JavaScript", "/JavaScript"), (b"JS", "/JavaScript"), (b"Launch", "/Launch"))
)
#: Appended to a PDF pypdf cannot open: a cross-reference pointer to nothing, so pypdf rebuilds the
#: cross-reference from the objects in the file, as viewers do with a damaged or missing one.
_PDF_REPAIR = b"\nstartxref\n0\n%%EOF\n"


def inspect_pdf(content: bytes) -> ContentFindings:
    """Issue 16: active content found by walking every object pypdf reads (names decoded, object
    streams opened) and in the raw bytes; a PDF that cannot be walked in full is unreadable."""
    found = scan_pdf_bytes(content)
    try:
        found |= scan_pdf_objects(content)
    except Unreadable:
        return ContentFindings(active_content=bool(found), unreadable=True, found=tuple(sorted(found)))
    return ContentFindings(active_content=bool(found), found=tuple(sorted(found)))


def scan_pdf_bytes(content: bytes) -> set[str]:
    """Active-content names in the raw bytes, once ``#xx`` escapes are undone (``/J#61vaScript``)."""
    plain = _PDF_NAME_ESCAPE.sub(lambda match: _PDF_UNESCAPED[match[0]], content)
    return {label for marker, label in _PDF_RAW_MARKERS if marker.search(plain)}


def scan_pdf_objects(content: bytes) -> set[str]:
    """Active content in every object of the PDF; :class:`Unreadable` when it cannot all be read."""
    with apply_configuration(
        zlib_maximum_output_length=MAX_PDF_STREAM_BYTES,
        lzw_maximum_output_length=MAX_PDF_STREAM_BYTES,
        run_length_maximum_output_length=MAX_PDF_STREAM_BYTES,
        brotli_maximum_output_length=MAX_PDF_STREAM_BYTES,
        stream_decoding_work_maximum_length=MAX_PDF_STREAM_BYTES,
        jbig2dec_binary=None,  # never run an external program on an uploaded file
    ):
        try:
            reader = _open_pdf(content)
            _decode_object_streams(reader)
            return _walk_pdf(reader)
        except Unreadable:
            raise
        except Exception as error:  # pypdf's own errors, and whatever a hostile file provokes
            raise Unreadable(f"PDF: {type(error).__name__}") from error


def _open_pdf(content: bytes) -> PdfReader:
    try:
        return _reader_with_catalog(content)
    except Unreadable:
        raise
    except Exception:
        return _reader_with_catalog(content + _PDF_REPAIR)


def _reader_with_catalog(content: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(content), strict=False, xref_stream_maximum_entries=MAX_PDF_OBJECTS)
    # An encrypted PDF is checked only when it opens without a password; otherwise it cannot be.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise Unreadable("PDF: needs a password")
    if not isinstance(reader.trailer["/Root"], DictionaryObject):
        raise Unreadable("PDF: no catalog")
    return reader


def _decode_object_streams(reader: PdfReader) -> None:
    """Decode each object stream once (pypdf keeps the result), bounding what they expand to."""
    decoded = 0
    for number in {int(stream) for stream, _ in reader.xref_objStm.values()}:
        stream = reader.get_object(number)
        if isinstance(stream, StreamObject):
            decoded += len(stream.get_data())
        if decoded > MAX_PDF_DECODED_BYTES:
            raise Unreadable("PDF: object streams expand beyond the limit")


def _walk_pdf(reader: PdfReader) -> set[str]:
    """Every value reachable from the trailer and from every object the cross-references name
    (those in object streams included); each indirect object once, so cycles end."""
    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    pending: list[object] = [reader.trailer, *_cross_referenced(reader)]
    visited = 0
    while pending:
        value = pending.pop()
        visited += 1
        if visited > MAX_PDF_VALUES or len(seen) > MAX_PDF_OBJECTS:
            raise Unreadable("PDF: more objects than the walk allows")
        if isinstance(value, IndirectObject):
            key = (value.idnum, value.generation)
            if key not in seen:
                seen.add(key)
                pending.append(value.get_object())
        elif isinstance(value, DictionaryObject):
            found |= _dictionary_features(value)
            pending.extend(dict.values(value))  # raw values: references are followed above
        elif isinstance(value, ArrayObject):
            pending.extend(list.__iter__(value))
    return found


def _cross_referenced(reader: PdfReader) -> Iterator[IndirectObject]:
    for generation, numbers in reader.xref.items():
        for number in numbers:
            yield IndirectObject(number, generation, reader)
    for number in reader.xref_objStm:
        yield IndirectObject(number, 0, reader)


def _dictionary_features(dictionary: DictionaryObject) -> set[str]:
    """What makes this one dictionary active content. An automatic action (``/OpenAction``,
    ``/AA``) counts by the action it runs: opening at a page is not active, running a script is."""
    found = {_PDF_KEYS[key] for key in dict.keys(dictionary) if key in _PDF_KEYS}
    action = _name(dict.get(dictionary, "/S"))
    if action in _PDF_ACTIONS:
        found.add(action)
    for key in ("/Type", "/Subtype"):
        kind = _name(dict.get(dictionary, key))
        if kind in _PDF_TYPES:
            found.add(_PDF_TYPES[kind])
    return found


def _name(value: object) -> str | None:
    """A name, following a few references (``/S 5 0 R`` where object 5 is ``/JavaScript``)."""
    for _ in range(4):
        if not isinstance(value, IndirectObject):
            break
        value = value.get_object()
    return str(value) if isinstance(value, NameObject) else None


# --- Zip-based documents (Office Open XML) ----------------------------------------------------

#: Issue 16: the expanded size is measured by really decompressing every entry; the sizes in the
#: zip's headers are never trusted. A document is refused as too expanded once it expands beyond
#: MAX_EXPANDED_BYTES, or beyond both MIN_BOMB_BYTES and MAX_EXPANSION_RATIO times its own size.
MAX_EXPANDED_BYTES = 100 * 1024 * 1024
MAX_EXPANSION_RATIO = 100
MIN_BOMB_BYTES = 50 * 1024 * 1024
#: Most entries a document may hold. A nested archive (an embedded workbook, a zip inside) counts
#: as one entry like any other and is not opened: its own expansion is not this document's.
MAX_ARCHIVE_ENTRIES = 10_000
#: Bytes decompressed (and read) at a time: memory stays bounded whatever an entry expands to.
_CHUNK = 64 * 1024

#: Office Open XML entries that carry macros or controls: VBA projects (any case, any folder),
#: ActiveX control binaries, Excel 4.0 macro sheets.
_VBA_PARTS = frozenset({"vbaproject.bin", "vbadata.xml"})
#: Content types of macro-enabled documents and their parts, as ``[Content_Types].xml`` names them.
_MACRO_CONTENT_TYPES = (b"macroenabled", b"vbaproject", b"vbadata", b"activex", b"macrosheet")
_CONTENT_TYPES = "[content_types].xml"
_RAW_VBA_NAME = re.compile(rb"(?i)vbaproject\.bin")  # entry names are stored uncompressed
_LOCAL_HEADER = struct.Struct("<4s2xH18xHH")  # signature, flags, …, name length, extra length
_LOCAL_MAGIC = b"PK\x03\x04"
_ENCRYPTED, _UTF8_NAME = 0x1, 0x800


def inspect_ooxml(content: bytes) -> ContentFindings:
    """Issue 16: macros, and the real expanded size and entry count, of a zip-based document."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
    except Exception:  # zipfile's own errors, and whatever a hostile file provokes
        return ContentFindings(unreadable=True)
    found = _macro_parts(infos)
    if _RAW_VBA_NAME.search(content):
        found.add("vbaProject.bin")
    if len(infos) > MAX_ARCHIVE_ENTRIES:
        return ContentFindings(macros=bool(found), archive_too_many_entries=True, found=tuple(sorted(found)))
    limit = min(MAX_EXPANDED_BYTES, max(MIN_BOMB_BYTES, MAX_EXPANSION_RATIO * len(content)))
    meter = _Meter(limit=limit, unread=len(content))
    content_types = _Markers(_MACRO_CONTENT_TYPES)
    try:
        _measure(memoryview(content), infos, meter, content_types)
    except Unreadable:
        return ContentFindings(macros=bool(found), unreadable=True, found=tuple(sorted(found)))
    found |= content_types.found
    return ContentFindings(
        macros=bool(found), archive_too_expanded=meter.exceeded, found=tuple(sorted(found))
    )


def _macro_parts(infos: list[zipfile.ZipInfo]) -> set[str]:
    found: set[str] = set()
    for info in infos:
        for raw in (info.filename, info.orig_filename):
            name = raw.replace("\\", "/").lower()
            base = name.rsplit("/", 1)[-1]
            if base in _VBA_PARTS:
                found.add("vbaProject.bin")
            elif "activex/" in name and base.endswith(".bin"):
                found.add("ActiveX")
            elif "macrosheets/" in name:
                found.add("macro sheet")
    return found


@dataclass
class _Meter:
    """What measuring an archive has used: bytes expanded, against the limit, and compressed bytes
    read, against the archive's own size — entries that share compressed data (the overlapping
    entries of a non-recursive zip bomb) would read more than the archive holds."""

    limit: int
    unread: int
    expanded: int = 0

    @property
    def exceeded(self) -> bool:
        return self.expanded > self.limit

    def read(self, count: int) -> None:
        self.unread -= count
        if self.unread < 0:
            raise Unreadable("zip: entries overlap")


def _measure(view: memoryview, infos: list[zipfile.ZipInfo], meter: _Meter, content_types: _Markers) -> None:
    """Measure every entry, stopping as soon as the archive expands beyond the limit."""
    for info in infos:
        markers = content_types if info.orig_filename.lower() == _CONTENT_TYPES else None
        _measure_entry(view, info, meter, markers)
        if meter.exceeded:
            return


def _measure_entry(view: memoryview, info: zipfile.ZipInfo, meter: _Meter, markers: _Markers | None) -> None:
    """Measure one entry; :class:`Unreadable` when it is encrypted, damaged, or its headers
    (sizes, CRC, name) disagree with what it really holds."""
    if info.flag_bits & _ENCRYPTED:
        raise Unreadable("zip: encrypted entry")
    start = _data_start(view, info)
    # Office Open XML allows only stored and deflated entries (ECMA-376 part 2).
    if info.compress_type == zipfile.ZIP_STORED:
        size, crc, used = _stored(view, start, info.compress_size, meter, markers)
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        size, crc, used = _inflated(view, start, meter, markers)
    else:
        raise Unreadable("zip: compression method not allowed")
    if not meter.exceeded and (size, crc, used) != (info.file_size, info.CRC, info.compress_size):
        raise Unreadable("zip: headers disagree with the content")


def _data_start(view: memoryview, info: zipfile.ZipInfo) -> int:
    """Where an entry's data starts, after its local header (whose name must be the directory's)."""
    offset = info.header_offset
    header = bytes(view[offset : offset + _LOCAL_HEADER.size])
    if len(header) < _LOCAL_HEADER.size:
        raise Unreadable("zip: local header missing")
    magic, flags, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    name_start = offset + _LOCAL_HEADER.size
    name = bytes(view[name_start : name_start + name_length])
    encoding = "utf-8" if flags & _UTF8_NAME else "cp437"
    if magic != _LOCAL_MAGIC or name.decode(encoding, errors="replace") != info.orig_filename:
        raise Unreadable("zip: local header differs from the directory")
    data_start: int = name_start + name_length + extra_length
    return data_start


def _stored(
    view: memoryview, start: int, length: int, meter: _Meter, markers: _Markers | None
) -> tuple[int, int, int]:
    """Size, CRC and bytes used of a stored entry (its length can only be the declared one)."""
    if start + length > len(view):
        raise Unreadable("zip: entry runs past the end")
    meter.read(length)
    meter.expanded += length
    crc = 0
    for position in range(start, start + length, _CHUNK):
        chunk = view[position : min(position + _CHUNK, start + length)]
        crc = zlib.crc32(chunk, crc)
        if markers is not None:
            markers.feed(bytes(chunk))
    return length, crc, length


def _inflated(view: memoryview, start: int, meter: _Meter, markers: _Markers | None) -> tuple[int, int, int]:
    """Size, CRC and compressed bytes used of a deflated entry, inflated to the real end of its
    deflate stream (not to the sizes its headers declare), stopping once the meter is exceeded."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size = crc = 0
    position = start
    try:
        while not inflater.eof and not meter.exceeded:
            data: bytes | memoryview = inflater.unconsumed_tail
            if not data:
                data = view[position : position + _CHUNK]
                position += len(data)
                meter.read(len(data))
                if not data:
                    raise Unreadable("zip: compressed data ends before its stream does")
            out = inflater.decompress(data, _CHUNK)
            size += len(out)
            meter.expanded += len(out)
            crc = zlib.crc32(out, crc)
            if markers is not None:
                markers.feed(out)
    except zlib.error as error:
        raise Unreadable("zip: damaged compressed data") from error
    meter.unread += len(inflater.unused_data)  # read past the stream's end: the next entry's bytes
    used = position - start - len(inflater.unconsumed_tail) - len(inflater.unused_data)
    return size, crc, used


class _Markers:
    """Case-insensitive search for a few markers in data seen a chunk at a time."""

    def __init__(self, markers: tuple[bytes, ...]) -> None:
        self.markers = markers
        self.keep = max(len(marker) for marker in markers) - 1
        self.tail = b""
        self.found: set[str] = set()

    def feed(self, chunk: bytes) -> None:
        text = self.tail + chunk.lower()
        self.found.update(f"content type {m.decode()}" for m in self.markers if m in text)
        self.tail = text[-self.keep :]


# --- Legacy Office (OLE compound files) -------------------------------------------------------

#: Storages that hold VBA macros: Word's ``Macros``, Excel's ``_VBA_PROJECT_CUR``, and ``VBA``.
OLE_MACRO_STORAGES = frozenset({"macros", "_vba_project_cur", "vba"})


def inspect_ole(names: set[str] | None) -> ContentFindings:
    """Macros in a compound file, from the lower-cased names of every entry of its directory
    (``filetypes.ole_stream_names``); None (olefile could not read it) is unreadable."""
    if names is None:
        return ContentFindings(unreadable=True)
    found = names & OLE_MACRO_STORAGES
    return ContentFindings(macros=bool(found), found=tuple(sorted(found)))
