"""What an input file really is, from its bytes, never its name (`sniff`).

Kept apart from the rest of the preflight (`safety`) and light on imports:
the build looks at its largest workbook before it loads pandas (`headstart`).
"""

from __future__ import annotations

import codecs
import re
import struct
import zipfile
import zlib
from pathlib import Path

KINDS = ("xlsx", "xlsm", "xlsb", "ods", "csv", "text", "xls-legacy", "encrypted", "html", "pdf",
         "zip-other", "empty", "unknown")
#: Kinds a reader may open (after preflight); everything else is refused.
SPREADSHEET_KINDS = ("xlsx", "xlsm", "ods", "csv")
#: File name suffixes that go with each readable kind.
SUFFIXES = {
    "xlsx": (".xlsx", ".xlsm"),
    "xlsm": (".xlsm", ".xlsx"),
    "ods": (".ods",),
    "csv": (".csv", ".txt", ".tsv"),
}

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|table|meta|title|style)\b",
    re.I | re.S,
)
_XML2003 = re.compile(rb"urn:schemas-microsoft-com:office:spreadsheet", re.I)
_SAMPLE = 64 * 1024


def sniff(path: Path) -> str:
    """What the file really is, from its bytes (one of `KINDS`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(_SAMPLE)
    except OSError:
        return "unknown"
    if size == 0 or not head.strip(b"\x00 \t\r\n"):
        return "empty"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(path, head)
    if head.startswith(_OLE_MAGIC):
        names = _cfb_names(path)
        upper = {n.upper() for n in names}
        if upper & {"ENCRYPTIONINFO", "ENCRYPTEDPACKAGE"}:
            return "encrypted"
        if upper & {"WORKBOOK", "BOOK"} or not names:
            return "xls-legacy"
        return "unknown"
    if head.startswith(b"%PDF"):
        return "pdf"
    text = _decode_sample(head)
    if text is None:
        return "unknown"
    probe = text.lstrip("\ufeff").encode("utf-8", "replace")[:4096]
    if _HTML_START.match(probe):
        return "html"
    if _XML2003.search(probe) or probe.lstrip().startswith(b"<?xml"):
        return "unknown"  # XML Spreadsheet 2003 or other XML: not a format we read
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if lines and any(sep in ln for ln in lines for sep in (",", ";", "\t", "|")):
        return "csv"
    return "text"


def _decode_sample(head: bytes) -> str | None:
    """Text of a file sample, or None for binary content."""
    # a byte-order mark says how the text is written (UTF-32's little-endian mark starts with UTF-16's)
    for boms, codec in (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32"),
                        ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16")):
        if head.startswith(boms):
            # the sample may end inside a character: keep whole code units
            unit = 4 if codec == "utf-32" else 2
            return head[: len(head) // unit * unit].decode(codec, "replace")
    sample = head.decode("latin-1")
    # binary formats have many C0 control bytes (NULs above all); text has almost none: a stray NUL
    # in an export is a cell problem, not a reason to take the file for binary
    controls = sum(1 for ch in sample[:4096] if ord(ch) < 32 and ch not in "\t\r\n\f\v\x1a")
    if controls > max(8, len(sample[:4096]) // 50):
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # sample cut mid-character
            return head[: exc.start].decode("utf-8")
        return sample


def _sniff_zip(path: Path, head: bytes) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            lower = {n.lower() for n in names}
            if "mimetype" in lower:
                info = zf.getinfo(next(n for n in names if n.lower() == "mimetype"))
                if info.file_size < 200 and zf.read(info).strip() .startswith(_ODS_MIME):
                    return "ods"
            if "xl/workbook.xml" in lower:
                if any(n.endswith("vbaproject.bin") for n in lower):
                    return "xlsm"
                ct = next((n for n in names if n.lower() == "[content_types].xml"), None)
                if ct and zf.getinfo(ct).file_size < 10_000_000 and b"macroEnabled" in zf.read(ct):
                    return "xlsm"
                return "xlsx"
            if "xl/workbook.bin" in lower:
                return "xlsb"
            return "zip-other"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError,
            zlib.error):
        # damaged: the central directory is gone, but local headers still name the parts
        if head[30:30 + 8] == b"mimetype" and _ODS_MIME in head[:200]:
            return "ods"
        if b"xl/workbook.xml" in head or b"[Content_Types].xml" in head or b"xl/" in head[:200]:
            return "xlsm" if b"vbaProject.bin" in head else "xlsx"
        return "zip-other"


# --- a minimal reader for OLE compound files (legacy .xls, encrypted OOXML) -----

_FREE, _END, _FATSECT, _DIFSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC


def _cfb_names(path: Path) -> list[str]:
    """Names of the entries in an OLE compound file's directory (bounded work).

    Enough of [MS-CFB] to read the directory chain; on any inconsistency fall
    back to looking for the stream names we care about in the raw bytes.
    """
    try:
        with path.open("rb") as fh:
            data_size = path.stat().st_size
            hdr = fh.read(512)
            shift = struct.unpack_from("<H", hdr, 0x1E)[0]
            if shift not in (9, 12):
                raise ValueError("sector size")
            ssz = 1 << shift
            n_fat, dir_start = struct.unpack_from("<II", hdr, 0x2C)
            difat_start, n_difat = struct.unpack_from("<II", hdr, 0x44)
            fat_sectors = [s for s in struct.unpack_from("<109I", hdr, 0x4C) if s < _DIFSECT]
            per = ssz // 4
            nxt, seen = difat_start, 0
            while nxt < _DIFSECT and seen < min(n_difat, 100_000):
                fh.seek((nxt + 1) * ssz)
                ids = struct.unpack(f"<{per}I", fh.read(ssz))
                fat_sectors += [s for s in ids[:-1] if s < _DIFSECT]
                nxt, seen = ids[-1], seen + 1
            fat_sectors = fat_sectors[: max(n_fat, 0)]

            def next_sector(s: int) -> int:
                idx, off = divmod(s, per)
                if idx >= len(fat_sectors):
                    raise ValueError("FAT")
                fh.seek((fat_sectors[idx] + 1) * ssz + off * 4)
                return struct.unpack("<I", fh.read(4))[0]

            names: list[str] = []
            s, steps = dir_start, 0
            max_steps = data_size // ssz + 1
            while s < _DIFSECT and steps <= max_steps:
                fh.seek((s + 1) * ssz)
                sector = fh.read(ssz)
                if len(sector) < ssz:
                    raise ValueError("short")
                for off in range(0, ssz, 128):
                    n_len = struct.unpack_from("<H", sector, off + 64)[0]
                    kind = sector[off + 66]
                    if kind in (1, 2, 5) and 2 <= n_len <= 64:
                        names.append(sector[off: off + n_len - 2].decode("utf-16-le", "replace"))
                s, steps = next_sector(s), steps + 1
            return names
    except (OSError, ValueError, struct.error, IndexError):
        pass
    try:
        with path.open("rb") as fh:
            blob = fh.read(64 * 1024 * 1024)
    except OSError:
        return []
    wanted = ("EncryptionInfo", "EncryptedPackage", "Workbook", "Book")
    return [w for w in wanted if w.encode("utf-16-le") in blob]
