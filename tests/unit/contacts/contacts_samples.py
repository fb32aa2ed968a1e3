"""Small but real files of each kind, built in memory, for the contacts attachment tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FREE, END, FAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def pdf(extra: bytes = b"") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog" + extra + b" >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def gif() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def exe() -> bytes:
    return b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode."


def text() -> bytes:
    return b"Just some plain words, nothing a magic number would recognise.\n"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx(macros: bool = False) -> bytes:
    entries = {
        "[Content_Types].xml": b"<Types/>",
        "word/document.xml": b"<w:document/>",
    }
    if macros:
        entries["word/vbaProject.bin"] = b"\x00" * 16
    return _zip(entries)


def xlsx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})


def plain_zip() -> bytes:
    return _zip({"readme.txt": b"hello"})


def ole(*streams: str) -> bytes:
    """A minimal OLE compound file (version 3, 512-byte sectors) whose directory names ``streams``."""
    assert len(streams) <= 3, "one directory sector holds four entries"
    header = bytearray(512)
    header[0:8] = OLE_MAGIC
    struct.pack_into("<HHH", header, 0x18, 0x3E, 3, 0xFFFE)
    struct.pack_into("<HH", header, 0x1E, 9, 6)
    struct.pack_into("<II", header, 0x2C, 1, 1)  # one FAT sector; directory starts at sector 1
    struct.pack_into("<I", header, 0x38, 4096)
    struct.pack_into("<IIII", header, 0x3C, END, 0, END, 0)  # no mini FAT, no extra DIFAT
    struct.pack_into("<109I", header, 0x4C, 0, *([FREE] * 108))
    fat = struct.pack("<128I", FAT_SECTOR, END, *([FREE] * 126))
    directory = bytearray(512)
    for index, (name, kind) in enumerate([("Root Entry", 5), *((s, 2) for s in streams)]):
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        offset = index * 128
        directory[offset : offset + len(encoded)] = encoded
        struct.pack_into("<HB", directory, offset + 0x40, len(encoded), kind)
    return bytes(header) + fat + bytes(directory)


def doc(macros: bool = False) -> bytes:
    return ole("WordDocument", "Macros") if macros else ole("WordDocument")


def xls() -> bytes:
    return ole("Workbook")


def ppt() -> bytes:
    return ole("PowerPoint Document")
