"""Untrusted input files: what a file really is, preflight checks, a contained reader.

Agencies' files arrive by e-mail from many hands. Before any spreadsheet
library sees a file we look at its bytes:

- `sniff(path)`: the real format from the content, never the name (`intake.sniff`);
- `preflight(path, limits)`: file-level refusals (not a spreadsheet, legacy
  .xls, encrypted, truncated, zip bomb, XML entity declarations) and notes
  (macros, external links, DDE, hidden sheets and rows), plus per-sheet cell
  problems that fast readers hide (error cells, formulas without a cached
  value, merged cells) and the sheet's true extent;
- `numeric_cells(...)`: cells of given columns stored as numbers (identifiers
  that lost their text form, or their digits);
- `run_contained(func, ...)`: run a reader in a worker process with memory and
  time limits, so a Rust abort or a runaway allocation becomes `ReaderCrashed`
  (`intake.contained`).

Speed: an honest 1M-row sheet is several hundred MB of XML. It is never parsed
in Python: entries are stream-decompressed in chunks and scanned with compiled
bytes regexes (C speed), each run only on the chunks where one RE2 pass (the
gates, `_Gates`) says it can match; Python work happens only per (rare) match.
"""

from __future__ import annotations

import codecs
import html
import posixpath
import re
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd
from openpyxl.utils import get_column_letter

from att_report.config import Limits
from att_report.findings import Finding, Severity
# the contained reader and the sniffing live in light modules of their own; their names stay here
from att_report.intake.contained import (  # noqa: F401
    WORKER_USAGE, ContainedJob, ReaderCrashed, _portable_error, _short, run_contained, start_contained,
)
from att_report.intake.sniff import KINDS, SPREADSHEET_KINDS, SUFFIXES, sniff  # noqa: F401

# --- preflight results --------------------------------------------------------

PROBLEM_COLUMNS = ("excel_row", "column", "kind", "detail")


def empty_problems() -> pd.DataFrame:
    return pd.DataFrame({
        "excel_row": pd.Series(dtype="int64"),
        "column": pd.Series(dtype=object),
        "kind": pd.Series(dtype=object),
        "detail": pd.Series(dtype=object),
    })


@dataclass
class SheetScan:
    """What the raw XML of one worksheet shows (xlsx/xlsm only)."""

    name: str
    part: str  # zip entry, e.g. xl/worksheets/sheet1.xml
    state: str = "visible"  # visible | hidden | veryHidden
    #: columns excel_row (int), column (letter), kind ("error-cell" |
    #: "formula-no-value" | "merged"), detail (error text, formula, merged range)
    cell_problems: pd.DataFrame = field(default_factory=empty_problems)
    hidden_rows: list[int] = field(default_factory=list)
    dimension: str = ""  # the <dimension ref> as written ("" when absent)
    dimension_rows: int = 0  # last row the dimension claims
    max_row: int = 0  # last <row> element (formatted or not)
    last_data_row: int = 0  # last row holding a value, inline string or formula
    max_col: int = 0  # widest column seen (1 = A); exact beyond Z, else 26 (an upper bound)
    far_cell: str = ""  # the cell reference that sets max_col
    refuse: bool = False  # do not hand this sheet to a reader
    #: number-typed cells of the columns asked for (`complete_preflight(numeric_letters=...)`),
    #: as `numeric_cells` returns them; None when none were asked for
    numeric: pd.DataFrame | None = None

    @property
    def empty_formatted_rows(self) -> int:
        """Rows after the last data row that exist only as formatting."""
        return max(0, self.max_row - self.last_data_row)


@dataclass
class Preflight:
    """The verdict on one file before any reader opens it."""

    kind: str
    refuse: bool = False
    findings: list[Finding] = field(default_factory=list)
    #: per worksheet, by sheet name, in workbook order (xlsx/xlsm)
    sheets: dict[str, SheetScan] = field(default_factory=dict)
    date1904: bool = False
    macros: bool = False
    seconds: float = 0.0
    #: uncompressed bytes of all worksheet parts (decides whether scanning runs beside the reader)
    sheet_bytes: int = 0
    #: the sheet scans are still to run (`preflight(..., scan_sheets=False)`); see `complete_preflight`
    pending: bool = False
    dde_parts: list[str] = field(default_factory=list)

    def sheet(self, name: str) -> SheetScan | None:
        return self.sheets.get(name)


class _Refused(Exception):
    """Internal: stop the preflight with one refusing finding."""

    def __init__(self, code: str, message: str, value: str = "", sheet: str = ""):
        super().__init__(message)
        self.code, self.message, self.value, self.sheet = code, message, value, sheet


# --- preflight ----------------------------------------------------------------

_CHUNK = 8 * 1024 * 1024
_RATIO_MIN_BYTES = 1024 * 1024  # tiny entries compress absurdly well and harm no one

_MESSAGES = {
    "file-empty": "The file is empty (0 bytes of content). Ask the agency to send the file again.",
    "file-truncated": (
        "The file is damaged or incomplete ({detail}); it may have been cut short in transfer. "
        "Ask the agency to send it again, or open and re-save it in Excel."
    ),
    "file-encrypted": (
        "The workbook is protected with a password (encrypted), so it cannot be read. "
        "Ask the agency to remove the password (File > Info > Protect Workbook > Encrypt with Password: "
        "clear it), save, and send it again."
    ),
    "file-legacy-xls": (
        "This is an old-format Excel 97-2003 workbook (.xls), which is not read for safety and fidelity. "
        "Open it in Excel and save it as 'Excel Workbook (*.xlsx)', then replace this file."
    ),
    "xml-entities": (
        "The workbook contains an XML DOCTYPE/ENTITY declaration in part '{detail}'. Spreadsheet programs "
        "never write these; they are used in attacks (entity expansion, external entities), so the file "
        "was not read. Ask the agency to re-save the file from Excel or send the data again."
    ),
    "zip-bomb": (
        "The file would expand to an unsafe size when opened ({detail}), so it was not read. "
        "If the file is genuine, ask the agency to remove unused sheets or formatting and send it again, "
        "or raise the limit in the [limits] section of att-report.toml."
    ),
}


def _finding(sev: str, code: str, message: str, agency: str, rel_file: str, *, sheet: str = "",
             row: int | None = None, value: str = "", field_: str = "") -> Finding:
    return Finding(severity=sev, code=code, message=message, agency=agency, file=rel_file, sheet=sheet,
                   row=row, field=field_, value=value).with_id()


def preflight(path: Path, limits: Limits | None = None, *, agency: str = "", rel_file: str = "",
              scan_sheets: bool = True) -> Preflight:
    """Check one input file before any reader opens it.

    Returns `Preflight(kind, refuse, findings, sheets, ...)`. When `refuse` is
    true the file must not be handed to a reader: the findings say why (one
    error finding naming the file). Never raises for bad input.

    With `scan_sheets=False` the worksheets' XML is not scanned yet (every
    other check runs): `pending` is set and `complete_preflight` finishes the
    job, so a large sheet can be scanned while a contained reader reads it.
    """
    path = Path(path)
    limits = limits or Limits()
    rel_file = rel_file or path.name
    start = time.perf_counter()
    kind = sniff(path)
    result = Preflight(kind=kind)

    def refuse(code: str, message: str, value: str = "", sheet: str = "") -> Preflight:
        result.refuse = True
        result.findings.append(_finding(Severity.ERROR, code, message, agency, rel_file, value=value, sheet=sheet))
        result.seconds = time.perf_counter() - start
        return result

    try:
        suffix = path.suffix.lower()
        if kind == "empty":
            return refuse("file-empty", _MESSAGES["file-empty"])
        if kind == "encrypted":
            return refuse("file-encrypted", _MESSAGES["file-encrypted"])
        if kind == "xls-legacy":
            return refuse("file-legacy-xls", _MESSAGES["file-legacy-xls"])
        if kind == "xlsb":
            return refuse("file-unreadable", (
                "This is a binary Excel workbook (.xlsb), which is not read. Open it in Excel and save it as "
                "'Excel Workbook (*.xlsx)', then replace this file."))
        if kind in ("html", "pdf", "zip-other", "unknown", "text"):
            what = {
                "html": "a web page (HTML), not a spreadsheet, although its name says otherwise",
                "pdf": "a PDF document, not a spreadsheet",
                "zip-other": "a zip archive that is not an Excel or OpenDocument workbook",
                "unknown": "not a spreadsheet format att-report reads",
                "text": "plain text without columns, not a spreadsheet or csv table",
            }[kind]
            return refuse("file-not-spreadsheet", (
                f"This file is {what}. Ask the agency for the data as an Excel workbook (.xlsx), "
                "an OpenDocument spreadsheet (.ods) or a csv file."), value=suffix)
        if kind == "csv" and suffix not in SUFFIXES["csv"]:
            return refuse("file-not-spreadsheet", (
                f"This file is named '{suffix}' but is really csv text (comma/semicolon separated), "
                "not a workbook. Rename it to .csv (or save it from Excel as .xlsx) and run again."),
                value=suffix)
        if kind in ("xlsx", "xlsm", "ods") and suffix not in SUFFIXES[kind]:
            real = {"xlsx": ".xlsx", "xlsm": ".xlsm", "ods": ".ods"}[kind]
            return refuse("file-wrong-extension", (
                f"This file is named '{suffix or '(no extension)'}' but is really a {real} workbook. "
                f"Rename it to {real} and run again."), value=suffix)
        if kind in ("xlsx", "xlsm", "ods"):
            _check_zip(path, kind, limits, result, agency, rel_file, scan_sheets=scan_sheets)
    except _Refused as exc:
        return refuse(exc.code, exc.message, exc.value, exc.sheet)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a parser panic must become a finding
        return refuse("file-unreadable", _unchecked_message(exc))
    result.refuse = result.refuse or any(f.severity == Severity.ERROR and f.code in _FILE_REFUSALS
                                         for f in result.findings)
    result.seconds = time.perf_counter() - start
    return result


def complete_preflight(path: Path, pre: Preflight, limits: Limits | None = None, *, agency: str = "",
                       rel_file: str = "", numeric_letters: dict[str, frozenset[str]] | None = None) -> Preflight:
    """Run the sheet scans that `preflight(..., scan_sheets=False)` left pending, then their notes.

    Afterwards `pre` is what `preflight(path)` would have returned: the same
    scans, findings and verdicts. `numeric_letters` (sheet -> column letters)
    also collects those columns' number-typed cells in the same pass
    (`SheetScan.numeric`, as `numeric_cells` gives them). Never raises for
    bad input.
    """
    if not pre.pending or pre.refuse:
        return pre
    path = Path(path)
    limits = limits or Limits()
    rel_file = rel_file or path.name
    start = time.perf_counter()

    def refuse(code: str, message: str, value: str = "", sheet: str = "") -> None:
        pre.refuse = True
        pre.findings.append(_finding(Severity.ERROR, code, message, agency, rel_file, value=value, sheet=sheet))

    try:
        parts = {scan.part: scan for scan in pre.sheets.values()}
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                scan = parts.get(info.filename)
                if scan is not None:
                    letters = (numeric_letters or {}).get(scan.name, ())
                    pre.sheets[scan.name] = _scan_sheet(zf, info, scan.name, scan.state, limits, letters)
        _scan_notes(pre, agency, rel_file, limits)
    except _Refused as exc:
        refuse(exc.code, exc.message, exc.value, exc.sheet)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        refuse("file-truncated", _MESSAGES["file-truncated"].format(detail=_short(exc)))
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a parser panic must become a finding
        refuse("file-unreadable", _unchecked_message(exc))
    pre.pending = False
    pre.seconds += time.perf_counter() - start
    return pre


def _unchecked_message(exc: BaseException) -> str:
    return (f"The file could not be checked ({type(exc).__name__}: {str(exc)[:200]}). Open it in Excel, "
            "save it again as .xlsx and replace this file.")


_FILE_REFUSALS = {"file-empty", "file-truncated", "file-encrypted", "file-legacy-xls", "file-unreadable",
                  "file-not-spreadsheet", "xml-entities", "zip-bomb"}


def _check_zip(path: Path, kind: str, limits: Limits, result: Preflight, agency: str, rel_file: str, *,
               scan_sheets: bool = True) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _Refused("file-truncated", _MESSAGES["file-truncated"].format(detail=_short(exc)))
    with zf:
        infos = zf.infolist()
        _check_bomb(infos, limits)
        for info in infos:
            if info.flag_bits & 0x1:
                raise _Refused("file-encrypted", _MESSAGES["file-encrypted"], value=info.filename)
        names = {i.filename: i for i in infos}
        lower = {n.lower(): n for n in names}
        # every XML part: refuse entity declarations before any parser sees them;
        # sheets are scanned in the same pass
        sheet_parts = _workbook_sheets(zf, lower) if kind in ("xlsx", "xlsm") else []
        by_part = {part: (name, state) for name, part, state in sheet_parts}
        scans: dict[str, SheetScan] = {}
        for info in infos:
            if info.filename in by_part:
                result.sheet_bytes += info.file_size
                if scan_sheets:
                    name, state = by_part[info.filename]
                    scans[name] = _scan_sheet(zf, info, name, state, limits)
            elif not (info.is_dir() or info.filename.lower().endswith(_BINARY_PARTS)):
                _scan_entities(zf, info)
        result.sheets = {name: scans.get(name, SheetScan(name=name, part=part, state=state))
                         for name, part, state in sheet_parts}
        if kind in ("xlsx", "xlsm"):
            _xlsx_notes(zf, names, lower, result, agency, rel_file, limits)
            result.pending = not scan_sheets
            if scan_sheets:
                _scan_notes(result, agency, rel_file, limits)
        else:
            if "content.xml" in names:  # never read beside a worker: scanned now, whatever scan_sheets says
                result.sheets = _scan_ods(zf, names["content.xml"], limits)
            _ods_notes(zf, names, result, agency, rel_file)
            _scan_notes(result, agency, rel_file, limits)


_BINARY_PARTS = (".bin", ".png", ".jpeg", ".jpg", ".gif", ".emf", ".wmf", ".tif", ".tiff", ".bmp")


def _check_bomb(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_zip_entries:
        raise _Refused("zip-bomb", _MESSAGES["zip-bomb"].format(
            detail=f"{len(infos):,} parts inside, the limit is {limits.max_zip_entries:,}"), value=str(len(infos)))
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > limits.max_entry_bytes:
            raise _Refused("zip-bomb", _MESSAGES["zip-bomb"].format(
                detail=f"part '{info.filename}' expands to {info.file_size:,} bytes, "
                       f"the limit is {limits.max_entry_bytes:,}"), value=info.filename)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise _Refused("zip-bomb", _MESSAGES["zip-bomb"].format(
                detail=f"part '{info.filename}' is compressed {ratio:,.0f} to 1, "
                       f"the limit is {limits.max_compression_ratio:,}"), value=info.filename)
    if total > limits.max_total_bytes:
        raise _Refused("zip-bomb", _MESSAGES["zip-bomb"].format(
            detail=f"{total:,} bytes in all, the limit is {limits.max_total_bytes:,}"), value=str(total))


def _chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """Decompressed content of one entry, in bounded chunks, as UTF-8.

    A part saved as UTF-16 is transcoded on the fly so the byte patterns below
    (and the entity check) cannot be dodged by an encoding change. The inflate
    (`_inflated`) stops at the declared size and checks the CRC, so a part that
    lies about its size fails as damaged instead of inflating without bound.
    """
    try:
        decoder = None
        for i, chunk in enumerate(_inflated(zf, info)):
            if i == 0:
                if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    decoder = codecs.getincrementaldecoder("utf-16")("replace")
                elif chunk[:2] in (b"<\x00", b"\x00<"):
                    enc = "utf-16-le" if chunk[:1] == b"<" else "utf-16-be"
                    decoder = codecs.getincrementaldecoder(enc)("replace")
            yield decoder.decode(chunk).encode("utf-8") if decoder else chunk
    except (zipfile.BadZipFile, EOFError, OSError, *_INFLATE_ERRORS) as exc:
        raise _Refused("file-truncated", _MESSAGES["file-truncated"].format(
            detail=f"part '{info.filename}': {_short(exc)}"), value=info.filename)
    except (RuntimeError, NotImplementedError) as exc:  # encrypted entry, unknown compression
        raise _Refused("file-unreadable", (
            f"Part '{info.filename}' of the workbook cannot be opened ({_short(exc)}). Open the file in Excel, "
            "save it again as .xlsx and replace this file."), value=info.filename)


try:  # Intel ISA-L's inflate and CRC: a 780 MB sheet scans ~1 s faster than with zlib's (issue 7)
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover - a platform without its wheels: zipfile's own zlib
    _isal = None
#: what a damaged deflate stream raises, by either inflater
_INFLATE_ERRORS = (zlib.error,) if _isal is None else (zlib.error, _isal.error)
#: compressed bytes read at a time by `_inflated`
_READ = 1024 * 1024


def _inflated(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """An entry's content in chunks of at most `_CHUNK` bytes, checked as zipfile checks it.

    A deflated entry of a zip on disk is inflated by ISA-L (`isal`) when it is
    installed; anything else (stored, other methods, a zip in memory) by
    zipfile. Either way the output stops at the declared size and must
    match it and the CRC, or the entry is damaged (`zipfile.BadZipFile`).
    """
    if (_isal is None or info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1
            or not isinstance(zf.filename, str)):
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk
        return
    with open(zf.filename, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(zipfile.sizeFileHeader)
        if len(header) != zipfile.sizeFileHeader:
            raise zipfile.BadZipFile(f"{info.filename}: truncated header")
        fields = struct.unpack(zipfile.structFileHeader, header)
        if fields[0] != zipfile.stringFileHeader:
            raise zipfile.BadZipFile(f"{info.filename}: bad magic number for its header")
        fh.seek(fields[10] + fields[11], 1)  # its name and extra field
        inflater = _isal.decompressobj(-15)
        left_in, left_out, crc = info.compress_size, info.file_size, 0
        pending = b""
        while not inflater.eof:
            if not pending and left_in:
                pending = fh.read(min(_READ, left_in))
                if not pending:
                    raise EOFError(f"{info.filename}: the file ends inside it")
                left_in -= len(pending)
            chunk = inflater.decompress(pending, _CHUNK) if pending else inflater.flush()
            pending = inflater.unconsumed_tail
            if not chunk and not pending and not left_in and not inflater.eof:
                raise zipfile.BadZipFile(f"{info.filename}: the compressed data ends early")
            left_out -= len(chunk)
            if left_out < 0:
                raise zipfile.BadZipFile(f"{info.filename}: more data than its declared size")
            if chunk:
                crc = _isal.crc32(chunk, crc)
                yield chunk
        if left_out or crc != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {info.filename!r}")


_ENTITY = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
_OVERLAP = 64


def _scan_entities(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    tail = b""
    for chunk in _chunks(zf, info):
        if _ENTITY.search(tail + chunk[:_OVERLAP]) or _ENTITY.search(chunk):
            raise _Refused("xml-entities", _MESSAGES["xml-entities"].format(detail=info.filename),
                           value=info.filename)
        tail = chunk[-_OVERLAP:]


# --- workbook structure ---------------------------------------------------------

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _read_small(zf: zipfile.ZipFile, name: str, cap: int = 50_000_000) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > cap:
        raise _Refused("zip-bomb", _MESSAGES["zip-bomb"].format(
            detail=f"part '{name}' is {info.file_size:,} bytes"), value=name)
    data = b"".join(_chunks(zf, info))
    if _ENTITY.search(data):
        raise _Refused("xml-entities", _MESSAGES["xml-entities"].format(detail=name), value=name)
    return data


def _parse_xml(data: bytes, name: str):
    import defusedxml.ElementTree as DET

    try:
        return DET.fromstring(data)
    except Exception as exc:  # defusedxml refusals and ParseError alike
        if "Entit" in type(exc).__name__ or "DTD" in type(exc).__name__:
            raise _Refused("xml-entities", _MESSAGES["xml-entities"].format(detail=name), value=name)
        raise _Refused("file-truncated", _MESSAGES["file-truncated"].format(
            detail=f"part '{name}' is not well-formed XML: {_short(exc)}"), value=name)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _resolve_target(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, target))


def _workbook_sheets(zf: zipfile.ZipFile, lower: dict[str, str]) -> list[tuple[str, str, str]]:
    """(sheet name, zip part, state) for each worksheet, in workbook order."""
    wb_name = lower.get("xl/workbook.xml")
    if wb_name is None:
        return []
    root = _parse_xml(_read_small(zf, wb_name), wb_name)
    rels_name = lower.get("xl/_rels/workbook.xml.rels")
    targets: dict[str, str] = {}
    if rels_name:
        for rel in _parse_xml(_read_small(zf, rels_name), rels_name):
            if _local(rel.tag) == "Relationship" and rel.get("TargetMode", "") != "External":
                targets[rel.get("Id", "")] = _resolve_target("xl", rel.get("Target", ""))
    out = []
    for el in root.iter():
        if _local(el.tag) != "sheet":
            continue
        rid = el.get(f"{{{_REL_NS}}}id") or next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
        part = targets.get(rid, "")
        part = lower.get(part.lower(), part)
        out.append((el.get("name", ""), part, el.get("state", "visible") or "visible"))
    return out


# --- the sheet scan ---------------------------------------------------------------

_P = rb"(?:[A-Za-z_][\w.-]*:)?"  # optional namespace prefix (x:c, x:row ...)
_ROW_TAG = re.compile(rb"<" + _P + rb"row\b([^>]*)>")
# Each pattern starts with a literal so the regex engine skims the XML at
# hundreds of MB/s; per match, Python looks around the (rare) hit.
_SPACE = (b" ", b"\t", b"\n", b"\r")
_R_ATTR = re.compile(rb"\sr=\"([A-Za-z]*)(\d*)\"")
_T_ATTR = re.compile(rb"\st=\"([^\"]*)\"")
_HIDDEN_ATTR = re.compile(rb"hidden=\"(?:1|true)\"")
_ERROR_ATTR = re.compile(rb"t=\"e\"")
_F_CLOSE_NO_VALUE = re.compile(rb"f>\s*(?:<" + _P + rb"v\s*/>|<" + _P + rb"v>\s*</" + _P + rb"v>)?\s*</" + _P + rb"c>")
_F_SELF_NO_VALUE = re.compile(rb"/>\s*(?:<" + _P + rb"v\s*/>|<" + _P + rb"v>\s*</" + _P + rb"v>)?\s*</" + _P + rb"c>")
_FORMULA_PIPE = re.compile(rb"<" + _P + rb"f\b[^>]*>([^<]*(?:\||\bDDE\s*\()[^<]*)</" + _P + rb"f>", re.I)
_V_TEXT = re.compile(rb"<" + _P + rb"v>([^<]*)</" + _P + rb"v>")
_F_TEXT = re.compile(rb"<" + _P + rb"f\b[^>]*>([^<]*)</" + _P + rb"f>")
_WIDE_COL = re.compile(rb"<" + _P + rb"c\s[^>]*?\br=\"([A-Z]{2,3})(\d+)\"")
_DIMENSION = re.compile(rb"<" + _P + rb"dimension\s[^>]*?ref=\"([^\"]*)\"")
_MERGE = re.compile(rb"<" + _P + rb"mergeCell\s[^>]*?ref=\"([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?\"")
_DATA_MARKS = (b"<v>", b"<is>", b"<f>", b"<f ")
_STRING_LITERAL = re.compile(r'"[^"]*"')
_DDE_FORMULA = re.compile(r"[A-Za-z0-9_.\\$-]+\s*\|\s*'|[A-Za-z0-9_.$-]+\|[A-Za-z0-9_.$-]+!|\bDDE\s*\(", re.I)


def col_index(letters: str | bytes) -> int:
    """Excel column letters -> 1-based index (A=1, XFD=16384)."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def col_letters(index: int) -> str:
    """1-based column index -> Excel letters."""
    return get_column_letter(index)


class _RowIndex:
    """Row numbers for positions in sheet XML segments.

    Excel, LibreOffice, openpyxl and XlsxWriter write `r` on every row and
    cell; when a writer leaves it out the row number is the previous one + 1,
    so we count row tags (C-speed `count`) to stay right.
    """

    def __init__(self, prefix: bytes):
        self.tag = b"<" + prefix + b"row"
        self.last_row = 0  # row number of the last row tag before the current segment

    def _tag_before(self, seg: bytes, pos: int) -> int:
        start = seg.rfind(self.tag, 0, pos + len(self.tag))
        while start >= 0 and seg[start + len(self.tag): start + len(self.tag) + 1] not in (b" ", b">", b"/"):
            start = seg.rfind(self.tag, 0, start)  # skip <rowBreaks ...>
        return start

    def row_at(self, seg: bytes, pos: int) -> int:
        """Row number of the row element open at `pos` in `seg` (last_row before any row)."""
        start = self._tag_before(seg, pos)
        if start < 0:
            return self.last_row
        m = _R_ATTR.search(seg, start, seg.find(b">", start) + 1)
        if m and m.group(2):
            return int(m.group(2))
        # no r attribute: the last numbered row plus the row tags since it
        anchor = seg.rfind(self.tag + b' r="', 0, start)
        if anchor >= 0:
            base = int(_R_ATTR.search(seg, anchor, seg.find(b">", anchor) + 1).group(2) or 0)
        else:
            base = self.last_row
        lo = anchor + 1 if anchor >= 0 else 0
        hi = start + len(self.tag) + 1
        return base + seg.count(self.tag + b" ", lo, hi) + seg.count(self.tag + b">", lo, hi)

    def advance(self, seg: bytes) -> None:
        self.last_row = self.row_at(seg, len(seg))


_SHEETDATA = re.compile(rb"<(" + _P + rb")(?:sheetData|worksheet)\b")


def _segments(zf: zipfile.ZipFile, info: zipfile.ZipInfo, state: dict,
              max_carry: int = 64 * 1024 * 1024) -> Iterator[bytes]:
    """Sheet XML split at row starts, so no cell or row spans two segments.

    `state["prefix"]` is set from the first chunk: the namespace prefix the
    sheet uses for its elements (b"" or e.g. b"x:").
    """
    carry = b""
    cut_tag = None
    for chunk in _chunks(zf, info):
        if cut_tag is None:
            m = _SHEETDATA.search(chunk)
            state["prefix"] = m.group(1) if m else b""
            cut_tag = b"<" + state["prefix"] + b"row"
            cell_end = b"</" + state["prefix"] + b"c>"
        buf = carry + chunk if carry else chunk
        cut = buf.rfind(cut_tag)
        if cut <= 0:
            if len(buf) < max_carry:
                carry = buf
                continue
            # one enormous row: cut after its last complete cell instead
            end = buf.rfind(cell_end)
            cut = end + len(cell_end) if end >= 0 else len(buf)
        yield buf[:cut]
        carry = buf[cut:]
    if carry:
        yield carry


# Gates: one pass of RE2 (pyarrow's regex engine, a DFA) over a segment says which families of
# checks can match in it at all; the checks themselves run only where it says so. Each family's
# gate matches wherever any of its checks could (it is the same pattern or a looser one), so a
# gate can cost time but never a finding. Measured on 780 MB of sheet XML: the gated scan's regex
# work fell from about 7 s to under 2 s (issue 7).
_GS = r"[\t\n\v\f\r ]"  # Python's bytes \s, spelled out: RE2's \s has no \v
_GP = r"(?:[A-Za-z_][\w.-]*:)?"  # any namespace prefix
#: what any of `_rare_checks` (and the in-segment entity check) needs: literals or the check itself
_RARE_GATE = r"<!|hidden=\"|t=\"e\"|f>|\||(?i:dde)|mergeCell|/>" + _GS + r"*(?:<[^<>]*>" + _GS + r"*)?</"
_WIDE_GATE = r' r="[A-Z]{2}'  # _TWO_LETTER_REF
#: a cell attribute other than a type, or the number type (`_NumericScan._REST`, looser)
_ATTR_GATE = "(?:" + _GS + r'+(?:(?:[0-9A-Za-su-z_:][\w:.-]*|t[\w:.-]+)="[^"]*"|t="n"))'


class _Gates:
    """The RE2 gates of one sheet scan (see above); `make` gives None where pyarrow has no RE2."""

    def __init__(self, number_letters: list[str]):
        self.rare, self.wide = _RARE_GATE, _WIDE_GATE
        self.number = None
        if number_letters:
            letters = "|".join(number_letters)
            # _NumericScan's fast and slow patterns: a number-typed cell of those columns with a value
            self.number = ("<" + _GP + "c" + _ATTR_GATE + "*" + _GS + r'+r="(?:' + letters + r')\d+"' + _ATTR_GATE
                           + "*" + _GS + "*>" + _GS + "*(?:<" + _GP + r"f\b[^>]*(?:/>|>[^<]*</" + _GP + "f>)"
                           + _GS + "*)?<" + _GP + "v>")
        self.any = "|".join(f"(?:{p})" for p in (self.rare, self.wide, self.number) if p)

    @classmethod
    def make(cls, number_letters: list[str]) -> "_Gates | None":
        gates = cls(number_letters)
        try:
            if not gates._hit(gates._array(b"<c r=\"AB1\"/>"), gates.any):
                return None
        except Exception:  # noqa: BLE001 - a pyarrow built without RE2: the checks run ungated
            return None
        return gates

    @staticmethod
    def _array(seg: bytes):
        import numpy as np
        import pyarrow as pa

        # one binary value over the segment's own bytes (no copy)
        offsets = pa.py_buffer(np.array([0, len(seg)], dtype=np.int64))
        return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(seg)])

    @staticmethod
    def _hit(array, pattern: str) -> bool:
        import pyarrow.compute as pc

        return bool(pc.match_substring_regex(array, pattern)[0].as_py())

    def families(self, seg: bytes) -> tuple[bool, bool, bool]:
        """(rare, wide, number): whether each family of checks can find anything in `seg`."""
        array = self._array(seg)
        if not self._hit(array, self.any):
            return False, False, False
        rare, wide = self._hit(array, self.rare), self._hit(array, self.wide)
        # the combined gate matched: when neither other family did, the number gate is what matched
        number = self.number is not None and ((not rare and not wide) or self._hit(array, self.number))
        return rare, wide, number


def _scan_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, state: str, limits: Limits,
                numeric_letters=()) -> SheetScan:
    scan = SheetScan(name=name, part=info.filename, state=state)
    numeric = _NumericScan(numeric_letters)
    gates = _Gates.make(numeric.cols)
    problems: list[tuple[int, str, str, str]] = []
    merges: list[tuple[str, int, str, int]] = []
    prefix = b""
    rows: _RowIndex | None = None
    tail = b""
    first = True
    seg_state: dict = {}
    for seg in _segments(zf, info, seg_state):
        if first:
            prefix = seg_state.get("prefix", b"")
            rows = _RowIndex(prefix)
            d = _DIMENSION.search(seg)
            if d:
                scan.dimension = d.group(1).decode("ascii", "replace")
                last = scan.dimension.split(":")[-1]
                digits = re.sub(r"\D", "", last)
                scan.dimension_rows = int(digits) if digits else 0
            first = False
        assert rows is not None
        # one pass of the gates tells which families of checks can find anything in this segment
        rare, wide, number = gates.families(seg) if gates is not None else (True, True, True)
        if _ENTITY.search(tail + seg[:_OVERLAP]) or (rare and _MARKUP_DECL.search(seg) and _ENTITY.search(seg)):
            raise _Refused("xml-entities", _MESSAGES["xml-entities"].format(detail=info.filename),
                           value=info.filename, sheet=name)
        tail = seg[-_OVERLAP:]
        if rare:
            _rare_checks(seg, prefix, rows, scan, problems, merges)
        # columns beyond Z are rare: look for a two-letter reference before running the regex
        for m in (_WIDE_COL.finditer(seg) if wide and _TWO_LETTER_REF.search(seg) else ()):
            c = col_index(m.group(1))
            if c > scan.max_col:
                scan.max_col, scan.far_cell = c, (m.group(1) + m.group(2)).decode("ascii")
        # extent: last row tag, last row with data
        scan.max_row = max(scan.max_row, rows.row_at(seg, len(seg)))
        pos = _last_data_mark(seg, prefix)
        if pos >= 0:
            scan.last_data_row = max(scan.last_data_row, rows.row_at(seg, pos))
        rows.advance(seg)
        if number:
            numeric.feed(seg, prefix)
    if scan.max_col == 0 and scan.last_data_row:
        scan.max_col = 26  # no reference beyond column Z: an upper bound is all the size check needs
    _expand_merges(merges, scan, problems, limits)
    if numeric.cols:
        scan.numeric = numeric.frame()
    if problems:
        scan.cell_problems = _problems_frame(problems)
    cells = max(scan.max_row, scan.last_data_row) * max(scan.max_col, 1)
    if cells > limits.max_cells:
        scan.refuse = True
    return scan


def _problems_frame(problems: list[tuple[int, str, str, str]]) -> pd.DataFrame:
    """A sheet's cell problems as `SheetScan.cell_problems` holds them (each once)."""
    frame = pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS))
    frame["excel_row"] = frame["excel_row"].astype("int64")
    return frame.drop_duplicates().reset_index(drop=True)


def _rare_checks(seg: bytes, prefix: bytes, rows: "_RowIndex", scan: SheetScan,
                 problems: list[tuple[int, str, str, str]], merges: list[tuple[str, int, str, int]]) -> None:
    """Hidden rows, error cells, formulas without a value or with DDE, merged cells: one segment."""
    for m in _HIDDEN_ATTR.finditer(seg):
        if seg[m.start() - 1: m.start()] not in _SPACE:
            continue
        tag = seg.rfind(b"<", 0, m.start())
        if seg.startswith(b"<" + prefix + b"row", tag):
            scan.hidden_rows.append(rows.row_at(seg, tag + 1))
    if b't="e"' in seg:
        for m in _ERROR_ATTR.finditer(seg):
            if seg[m.start() - 1: m.start()] not in _SPACE:
                continue
            cstart = seg.rfind(b"<", 0, m.start())
            if not _CELL_OPEN.match(seg, cstart):
                continue
            end = seg.find(b"</" + prefix + b"c>", m.end())
            tag_end = seg.find(b">", m.end())
            if end < 0 or seg[tag_end - 1: tag_end] == b"/":
                continue  # <c t="e"/>: no error text, nothing shown
            row, col = _cell_pos(seg, cstart, rows)
            v = _V_TEXT.search(seg, tag_end, end)
            problems.append((row, col, "error-cell", v.group(1).decode("utf-8", "replace") if v else "#ERROR"))
    for m in _F_CLOSE_NO_VALUE.finditer(seg):
        if seg[m.start() - 2 - len(prefix): m.start()] == b"</" + prefix:
            _formula_no_value(seg, m, rows, prefix, problems)
    for m in _F_SELF_NO_VALUE.finditer(seg):
        tag = seg.rfind(b"<", 0, m.start())
        if seg.startswith(b"<" + prefix + b"f", tag) and seg[tag + 2 + len(prefix): tag + 3 + len(prefix)] in (b" ", b"/", b"\t", b"\n", b"\r"):
            _formula_no_value(seg, m, rows, prefix, problems)
    for m in (_FORMULA_PIPE.finditer(seg) if (b"|" in seg or _DDE_WORD.search(seg)) else ()):
        formula = _unescape(m.group(1))
        if _DDE_FORMULA.search(_STRING_LITERAL.sub("", formula)):
            row, col = _cell_pos(seg, _cell_start(seg, m.start()), rows)
            problems.append((row, col, "dde-formula", "=" + formula))
    for m in (_MERGE.finditer(seg) if b"mergeCell" in seg else ()):
        a, r1, b, r2 = m.groups()
        merges.append((a.decode().upper(), int(r1), (b or a).decode().upper(), int(r2 or r1)))


_MARKUP_DECL = re.compile(rb"<!")
_DDE_WORD = re.compile(rb"dde", re.I)  # formula names are case-insensitive: =dde(...) runs too
_TWO_LETTER_REF = re.compile(rb' r="[A-Z]{2}')


def _last_data_mark(seg: bytes, prefix: bytes) -> int:
    """Position of the last value, inline string or formula in `seg` (-1: none).

    They only occur inside cells, and a cell holding one ends with `</c>`:
    look at the last few such cells instead of searching the whole segment
    backwards for each mark.
    """
    marks = [prefix_mark(prefix, mark) for mark in _DATA_MARKS]
    close = b"</" + prefix + b"c>"
    end = len(seg)
    for _ in range(64):
        end = seg.rfind(close, 0, end)
        if end < 0:
            return -1
        start = _cell_start(seg, end)
        pos = max(seg.rfind(mark, start, end) for mark in marks)
        if pos >= 0:
            return pos
        if start >= end:
            break
        end = start
    return max(seg.rfind(mark, 0, end) for mark in marks)


def _formula_no_value(seg: bytes, m: re.Match, rows: "_RowIndex", prefix: bytes,
                      problems: list[tuple[int, str, str, str]]) -> None:
    cstart = _cell_start(seg, m.start())
    cell = seg[cstart: m.end()]
    t = _T_ATTR.search(cell[: cell.find(b">") + 1])
    if t and t.group(1) == b"str" and b"<" + prefix + b"v" in m.group(0):
        return  # a formula whose cached result is the empty string
    row, col = _cell_pos(seg, cstart, rows)
    f = _F_TEXT.search(cell)
    problems.append((row, col, "formula-no-value", "=" + _unescape(f.group(1)) if f else "(shared formula)"))


def prefix_mark(prefix: bytes, mark: bytes) -> bytes:
    return b"<" + prefix + mark[1:] if prefix else mark


_CELL_OPEN = re.compile(rb"<" + _P + rb"c[\s>]")


def _cell_start(seg: bytes, pos: int) -> int:
    """Start of the <c ...> element enclosing `pos` (formulas can be long: widen the window)."""
    window = 16 * 1024
    while True:
        lo = max(0, pos - window)
        last = None
        for m in _CELL_OPEN.finditer(seg, lo, pos):
            last = m.start()
        if last is not None or lo == 0:
            return pos if last is None else last
        window *= 4


def _cell_pos(seg: bytes, cstart: int, rows: _RowIndex) -> tuple[int, str]:
    """(Excel row, column letter) of the cell starting at `cstart`."""
    end = seg.find(b">", cstart)
    m = _R_ATTR.search(seg, cstart, end + 1)
    if m and m.group(1) and m.group(2):
        return int(m.group(2)), m.group(1).decode("ascii").upper()
    row = rows.row_at(seg, cstart)
    # no reference: the column is the cell's position in its row
    row_start = seg.rfind(rows.tag, 0, cstart)
    count = len(re.findall(rb"<" + _P + rb"c[\s>/]", seg[max(row_start, 0):cstart])) + 1
    return row, col_letters(count)


def _unescape(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode("utf-8", "replace"))


_MAX_MERGE_ENTRIES = 1_000_000


def _expand_merges(merges: list[tuple[str, int, str, int]], scan: SheetScan,
                   problems: list[tuple[int, str, str, str]], limits: Limits) -> None:
    """One 'merged' problem per covered cell except the top-left, within the data extent."""
    if not merges:
        return
    # merged rows below the last value still look filled: clip at the last row element
    last_row = max(scan.last_data_row, scan.max_row, 1)
    last_col = max(scan.max_col, 1)
    budget = _MAX_MERGE_ENTRIES
    for a, r1, b, r2 in merges:
        c1, c2 = sorted((col_index(a), col_index(b)))
        r1, r2 = sorted((r1, r2))
        ref = f"{a}{r1}:{b}{r2}" if (a, r1) != (b, r2) else f"{a}{r1}"
        for r in range(r1, min(r2, last_row) + 1):
            for c in range(c1, min(c2, max(last_col, c1)) + 1):
                if (r, c) == (r1, c1):
                    continue
                if budget <= 0:
                    return
                problems.append((r, col_letters(c), "merged", ref))
                budget -= 1


# --- notes: macros, links, DDE, hidden sheets and rows ------------------------------------

_MACRO_CT = re.compile(rb"macroEnabled|ms-excel\.(?:intl)?macrosheet|vbaProject|ms-office\.activeX", re.I)


def _xlsx_notes(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo], lower: dict[str, str],
                result: Preflight, agency: str, rel_file: str, limits: Limits) -> None:
    add = result.findings.append
    wb = lower.get("xl/workbook.xml")
    if wb is None:
        raise _Refused("file-truncated", _MESSAGES["file-truncated"].format(
            detail="the workbook part xl/workbook.xml is missing"))
    wb_xml = _read_small(zf, wb)
    pr = re.search(rb"<" + _P + rb"workbookPr\b[^>]*?\bdate1904=\"(1|true)\"", wb_xml)
    result.date1904 = bool(pr)
    macro_parts = sorted(n for n in names if n.lower().endswith("vbaproject.bin")
                         or n.lower().startswith(("xl/macrosheets/", "xl/dialogsheets/")))
    ct = lower.get("[content_types].xml")
    ct_macro = bool(ct and _MACRO_CT.search(_read_small(zf, ct)))
    if macro_parts or ct_macro:
        result.macros = True
        what = ", ".join(macro_parts[:5]) or "macro content types"
        add(_finding(Severity.WARNING, "macros-ignored", (
            "The workbook contains macros (VBA or Excel 4 macro sheets). They were not run and are not "
            "copied to any output; only cell values were read. To avoid this note, save the file as a "
            "macro-free workbook (.xlsx)."), agency, rel_file, value=what))
    links = sorted(n for n in names if n.lower().startswith("xl/externallinks/") and n.lower().endswith(".xml"))
    dde_parts = []
    for part in links:
        if re.search(rb"<" + _P + rb"ddeLink\b", _read_small(zf, part)):
            dde_parts.append(part)
    if links:
        add(_finding(Severity.WARNING, "external-links-ignored", (
            "The workbook links to other files or programs (external links). The links were not followed "
            "or updated; only the values saved in this file were read. Check that these saved values are "
            "current, or paste the values in place of the links (Data > Edit Links > Break Link)."),
            agency, rel_file, value=", ".join(links[:5])))
    result.dde_parts = dde_parts


def _scan_notes(result: Preflight, agency: str, rel_file: str, limits: Limits) -> None:
    """Notes that need the sheet scans: DDE formulas, hidden sheets and rows, sheet size."""
    add = result.findings.append
    dde_parts = result.dde_parts
    dde_cells = []
    for scan in result.sheets.values():
        cp = scan.cell_problems
        if not cp.empty and (cp["kind"] == "dde-formula").any():
            hits = cp[cp["kind"] == "dde-formula"]
            dde_cells += [(scan.name, int(r), c, d) for r, c, d in zip(hits["excel_row"], hits["column"], hits["detail"])]
            scan.cell_problems = cp[cp["kind"] != "dde-formula"].reset_index(drop=True)
    if dde_parts or dde_cells:
        where = dde_cells[0] if dde_cells else None
        add(_finding(Severity.WARNING, "dde-ignored", (
            "The workbook contains DDE links or formulas that call other programs (for example "
            "=cmd|'...'!A0). They were not run; only saved cell values were read. Replace such formulas "
            "with plain values."), agency, rel_file,
            sheet=where[0] if where else "", row=where[1] if where else None,
            field_=where[2] if where else "",
            value=(where[3] if where else ", ".join(dde_parts[:5]))[:200]))
    for scan in result.sheets.values():
        _sheet_notes(scan, result, agency, rel_file, limits)


def _ranges(rows: list[int]) -> str:
    rows = sorted(set(rows))
    out, start, prev = [], None, None
    for r in rows:
        if start is None:
            start = prev = r
        elif r == prev + 1:
            prev = r
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = r
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


def _sheet_notes(scan: SheetScan, result: Preflight, agency: str, rel_file: str, limits: Limits) -> None:
    add = result.findings.append
    if scan.state in ("hidden", "veryHidden"):
        how = "very hidden (only visible through macros)" if scan.state == "veryHidden" else "hidden"
        add(_finding(Severity.INFO, "sheet-hidden", (
            f"Sheet '{scan.name}' is {how}. It was read like any other sheet; unhide it "
            "(right-click a sheet tab > Unhide) to check its content, or delete it if it is not part of the return."),
            agency, rel_file, sheet=scan.name, value=scan.state))
    if scan.hidden_rows:
        rows = sorted(set(scan.hidden_rows))
        add(_finding(Severity.INFO, "rows-hidden", (
            f"{len(rows)} row(s) of sheet '{scan.name}' are hidden (rows {_ranges(rows)[:300]}). "
            "They were read like the other rows; unhide them to check them."),
            agency, rel_file, sheet=scan.name, row=rows[0], value=_ranges(rows)[:500]))
    if scan.refuse:
        far = scan.far_cell or f"row {scan.max_row}"
        add(_finding(Severity.ERROR, "sheet-too-large", (
            f"Sheet '{scan.name}' reaches cell {far} ({scan.max_row:,} rows x {scan.max_col:,} columns, more than "
            f"the {limits.max_cells:,}-cell limit), so it was not read. Usually a stray value or format far from "
            "the table causes this: delete the rows and columns after the table (select them, right-click > "
            "Delete), save, and send the file again."), agency, rel_file, sheet=scan.name, value=far))
    elif scan.empty_formatted_rows > 1000:
        add(_finding(Severity.INFO, "empty-rows-ignored", (
            f"Sheet '{scan.name}' has {scan.empty_formatted_rows:,} formatted but empty rows after its last "
            f"value (row {scan.last_data_row:,}); they were ignored. Deleting them makes the file smaller."),
            agency, rel_file, sheet=scan.name, row=scan.last_data_row + 1, value=str(scan.empty_formatted_rows)))


# --- OpenDocument sheets: hidden sheets and rows, merged, error and formula cells ----------
# Regexes over the bytes of content.xml, row by row, with the prefixes LibreOffice writes (and
# fastexcel's ODS reader understands): a streaming XML parser costs ~10 us a cell in Python.
# The reader matches the same literal names, so a sheet spelled with other prefixes is no sheet
# to either (tests/hostile/test_ods_scan.py).

_ODS_ROW = re.compile(rb"<table:table-row(?=[\s/>])([^>]*?)(/?)>")
_ODS_ROW_END = b"</table:table-row>"
#: what else the scan needs, all rare: sheets, row groups, table styles. One pattern each, each
#: with a literal start (an alternation of them scans the bytes several times slower)
_ODS_RARE = (
    ("table", re.compile(rb"<table:table(?=[\s>])([^>]*)>")),
    ("/table", re.compile(rb"</table:table>")),
    ("group", re.compile(rb"<table:table-row-group(?=[\s/>])([^>]*?)(/?)>")),
    ("/group", re.compile(rb"</table:table-row-group>")),
    ("style", re.compile(rb"<style:style(?=[\s>])([^>]*)>\s*<style:table-properties(?=[\s/>])([^>]*)>")),
)
_ODS_CELL = re.compile(rb"<table:(covered-)?table-cell(?=[\s/>])([^>]*?)(?:/>|>(.*?)</table:(?:covered-)?table-cell>)",
                       re.S)
_ODS_ATTR = re.compile(rb'([\w.-]+:[\w.-]+)\s*=\s*"([^"]*)"')
_ODS_TEXT_TAG = re.compile(rb"<[^>]*>")
_ODS_MAX_REPEAT = 1 << 24  # beyond any sheet's size: a larger repeat counts as this


def _ods_attrs(raw: bytes) -> dict[bytes, str]:
    return {k: html.unescape(v.decode("utf-8", "replace")) for k, v in _ODS_ATTR.findall(raw)}


def _ods_repeat(attrs: dict[bytes, str], name: bytes) -> int:
    try:
        return max(1, min(int(attrs.get(name) or 1), _ODS_MAX_REPEAT))
    except ValueError:
        return 1


def _ods_rows(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """content.xml in pieces that end after a row (or at its end): no row is cut in two."""
    carry = b""
    for chunk in _chunks(zf, info):
        buf = carry + chunk
        cut = buf.rfind(_ODS_ROW_END)
        cut = -1 if cut < 0 else cut + len(_ODS_ROW_END)
        if cut < 0 and len(buf) < 64 * 1024 * 1024:
            carry = buf
            continue
        if cut < 0:
            cut = len(buf)  # one row over 64 MB: read it as it is (its cells are counted, not kept)
        yield buf[:cut]
        carry = buf[cut:]
    if carry:
        yield carry


class _OdsSheets:
    """The state of an OpenDocument scan (`_scan_ods`): sheets so far, the current one and row."""

    def __init__(self, part: str, limits: Limits) -> None:
        self.part, self.limits = part, limits
        self.scans: dict[str, SheetScan] = {}
        self.hidden_styles: set[str] = set()
        self.scan: SheetScan | None = None
        self.row = 0  # rows of the current sheet so far (repeats counted)
        self.groups: list[bool] = []  # the row groups the current row is in: collapsed or not
        self.problems: list[tuple[int, str, str, str]] = []
        self.merges: list[tuple[str, int, str, int]] = []

    def style(self, style_attrs: bytes, props: bytes) -> None:
        a, p = _ods_attrs(style_attrs), _ods_attrs(props)
        if a.get(b"style:family") == "table" and p.get(b"table:display") == "false":
            self.hidden_styles.add(a.get(b"style:name", ""))

    def open_sheet(self, raw: bytes) -> None:
        a = _ods_attrs(raw)
        name = a.get(b"table:name") or f"Sheet{len(self.scans) + 1}"
        state = "hidden" if a.get(b"table:style-name") in self.hidden_styles else "visible"
        self.scan = self.scans[name] = SheetScan(name=name, part=self.part, state=state)
        self.row, self.problems, self.merges = 0, [], []

    def close_sheet(self) -> None:
        scan = self.scan
        if scan is None:
            return
        scan.max_row = scan.last_data_row  # formatted empty rows do not matter here
        _expand_merges(self.merges, scan, self.problems, self.limits)
        if self.problems:
            scan.cell_problems = _problems_frame(self.problems)
        if scan.last_data_row * max(scan.max_col, 1) > self.limits.max_cells:
            scan.refuse = True
        self.scan = None

    def add_row(self, raw: bytes, body: bytes | None) -> None:
        attrs = _ods_attrs(raw) if raw.strip() else {}
        repeat = _ods_repeat(attrs, b"table:number-rows-repeated")
        first = self.row + 1
        self.row += repeat
        scan = self.scan
        if scan is None or not body or not (b"value-type=" in body or b"<text:" in body or b"formula=" in body):
            return  # no value in the row
        # a row holding any of these gets its cells looked at one by one
        if (b"columns-repeated" in body or b"spanned=" in body or b"covered-table-cell" in body
                or b'value-type="error"' in body or b"table:formula=" in body):
            last_col = self._cells(body, first)
        else:  # no repeated or odd cells: each tag is one column, and the row has a value
            last_col = body.count(b"<table:table-cell") + body.count(b"<table:covered-table-cell")
        if last_col == 0:
            return
        scan.last_data_row = self.row
        scan.max_col = max(scan.max_col, last_col)
        hidden = attrs.get(b"table:visibility", "visible") != "visible" or any(self.groups)
        if hidden and len(scan.hidden_rows) < _MAX_MERGE_ENTRIES:
            scan.hidden_rows.extend(range(first, first + min(repeat, _MAX_MERGE_ENTRIES)))

    def _cells(self, body: bytes, r: int) -> int:
        """Look at a row's cells one by one: problems and merges; the last column holding a value."""
        col = last = 0
        for m in _ODS_CELL.finditer(body):
            covered, raw, inner = m.group(1), m.group(2), m.group(3) or b""
            attrs = _ods_attrs(raw)
            first = col + 1
            col += _ods_repeat(attrs, b"table:number-columns-repeated")
            formula = attrs.get(b"table:formula")
            text = html.unescape(_ODS_TEXT_TAG.sub(b"", inner).decode("utf-8", "replace")).strip()
            has_value = bool(attrs.get(b"office:value-type")) or bool(text)
            if has_value or formula:
                last = col
            if covered:
                continue
            rows_span = _ods_repeat(attrs, b"table:number-rows-spanned")
            cols_span = _ods_repeat(attrs, b"table:number-columns-spanned")
            if (rows_span, cols_span) != (1, 1):
                self.merges.append((col_letters(first), r, col_letters(first + cols_span - 1), r + rows_span - 1))
            if attrs.get(b"calcext:value-type") == "error":
                self.problems.append((r, col_letters(first), "error-cell", text or "#ERROR"))
            elif formula and _DDE_FORMULA.search(_STRING_LITERAL.sub("", formula)):
                self.problems.append((r, col_letters(first), "dde-formula", formula))
            elif formula and not has_value:
                self.problems.append((r, col_letters(first), "formula-no-value", formula))
        return last


def _ods_rare_token(state: _OdsSheets, kind: str, t: re.Match) -> None:
    if kind == "table":
        state.close_sheet()
        state.open_sheet(t.group(1))
    elif kind == "/table":
        state.close_sheet()
    elif kind == "group":
        if not t.group(2):  # an empty group (<.../>) holds no rows
            state.groups.append(_ods_attrs(t.group(1)).get(b"table:display") == "false")
    elif kind == "/group":
        if state.groups:
            state.groups.pop()
    else:
        state.style(t.group(1), t.group(2))


def _scan_ods(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> dict[str, SheetScan]:
    """The sheets of an OpenDocument spreadsheet as `_scan_sheet` sees an xlsx sheet.

    Per sheet (`table:table`): hidden (a table style with `table:display="false"`), hidden rows
    (`table:visibility`, or a collapsed row group) holding data, cells covered by merged cells,
    error cells, formulas without a saved value, DDE formulas, and the extent of the data with
    repeated rows and columns counted (LibreOffice's row numbers): a kilobyte of repeats can
    stand for millions of cells, which the size limit then refuses before any reader expands
    them.
    """
    state = _OdsSheets(info.filename, limits)
    for piece in _ods_rows(zf, info):
        pos = 0
        while True:
            m = _ODS_ROW.search(piece, pos)
            row_at = m.start() if m else len(piece)
            if b"<" in piece[pos:row_at]:  # sheets, groups, styles sit between rows: look only there
                gap = piece[pos:row_at]
                for _, kind, t in sorted(((t.start(), kind, t) for kind, pattern in _ODS_RARE
                                          for t in pattern.finditer(gap)), key=lambda x: x[0]):
                    _ods_rare_token(state, kind, t)
            if m is None:
                break
            if m.group(2):  # <table:table-row .../>
                state.add_row(m.group(1), None)
                pos = m.end()
                continue
            end = piece.find(_ODS_ROW_END, m.end())
            end = len(piece) if end < 0 else end
            state.add_row(m.group(1), piece[m.end():end])
            pos = end + len(_ODS_ROW_END)
    state.close_sheet()
    return state.scans


def _ods_notes(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo], result: Preflight, agency: str,
               rel_file: str) -> None:
    add = result.findings.append
    macro_parts = sorted(n for n in names if n.startswith(("Basic/", "Scripts/")) and not n.endswith("/"))
    if macro_parts:
        result.macros = True
        add(_finding(Severity.WARNING, "macros-ignored", (
            "The spreadsheet contains macros (Basic or scripts). They were not run and are not copied to any "
            "output; only cell values were read."), agency, rel_file, value=", ".join(macro_parts[:5])))
    if "content.xml" in names:
        dde = links = False
        tail = b""
        for chunk in _chunks(zf, names["content.xml"]):
            buf = tail + chunk
            dde = dde or bool(re.search(rb"<table:dde-(?:source|link)\b", buf))
            links = links or bool(re.search(rb"<table:table-source\b", buf))
            tail = chunk[-_OVERLAP:]
        if links:
            add(_finding(Severity.WARNING, "external-links-ignored", (
                "The spreadsheet links to other files. The links were not followed; only the values saved "
                "in this file were read."), agency, rel_file))
        if dde:  # one dde-ignored note with the DDE formulas the sheet scan found (`_scan_notes`)
            result.dde_parts.append("content.xml")


# --- the first rows, for an early look at the header ------------------------------

_HEAD_ROW = re.compile(rb"<" + _P + rb"row\b([^>]*?)(?:/>|>(.*?)</" + _P + rb"row>)", re.S)
_HEAD_CELL = re.compile(rb"<" + _P + rb"c\b([^>]*?)(?:/>|>(.*?)</" + _P + rb"c>)", re.S)
_HEAD_T = re.compile(rb"<" + _P + rb"t\b[^>]*?(?:/>|>([^<]*)</" + _P + rb"t>)")
_HEAD_SI = re.compile(rb"<" + _P + rb"si\b[^>]*?(?:/>|>(.*?)</" + _P + rb"si>)", re.S)
_HEAD_RPH = re.compile(rb"<" + _P + rb"rPh\b.*?</" + _P + rb"rPh>", re.S)


def head_cells(path: Path, sheet_name: str, max_row: int) -> dict[tuple[int, int], str]:
    """Text of the cells in rows 1..`max_row` of a sheet: {(excel_row, column index): text}.

    An early look at a large sheet's header while a reader reads the whole of
    it (the header tells which columns hold identifiers). Reads only the start
    of the sheet XML and of the shared strings. Empty when the sheet cannot be
    found or read: callers then simply wait for the reader.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            lower = {n.lower(): n for n in zf.namelist()}
            part = next((p for name, p, _ in _workbook_sheets(zf, lower) if name == sheet_name), None)
            if not part or part not in zf.namelist():
                return {}
            head = b""
            for seg in _segments(zf, zf.getinfo(part), {}):
                head += seg
                last = _ROW_TAG.findall(head)
                if len(last) > max_row or len(head) > 64 * 1024 * 1024:
                    break
            raw: dict[tuple[int, int], tuple[bytes, bytes]] = {}
            row = 0
            for m in _HEAD_ROW.finditer(head):
                r = _R_ATTR.search(b" " + m.group(1))
                row = int(r.group(2)) if r and r.group(2) else row + 1
                if row > max_row:
                    break
                col = 0
                for c in _HEAD_CELL.finditer(m.group(2) or b""):
                    ref = _R_ATTR.search(b" " + c.group(1))
                    col = col_index(ref.group(1)) if ref and ref.group(1) else col + 1
                    t = _T_ATTR.search(b" " + c.group(1))
                    raw[(row, col)] = (t.group(1) if t else b"n", c.group(2) or b"")
            wanted = {int(v.group(1)) for kind, body in raw.values() if kind == b"s"
                      for v in [_V_TEXT.search(body)] if v and v.group(1).strip().isdigit()}
            shared = _shared_strings(zf, lower, max(wanted)) if wanted else {}
    except (_Refused, zipfile.BadZipFile, OSError, KeyError, EOFError, zlib.error, ValueError):
        return {}
    out: dict[tuple[int, int], str] = {}
    for key, (kind, body) in raw.items():
        if kind == b"inlineStr":
            text = "".join(_unescape(t.group(1) or b"") for t in _HEAD_T.finditer(_HEAD_RPH.sub(b"", body)))
        elif kind == b"s":
            v = _V_TEXT.search(body)
            text = shared.get(int(v.group(1)), "") if v and v.group(1).strip().isdigit() else ""
        else:
            v = _V_TEXT.search(body)
            text = _unescape(v.group(1)) if v else ""
        if text.strip():
            out[key] = text
    return out


def _shared_strings(zf: zipfile.ZipFile, lower: dict[str, str], last: int) -> dict[int, str]:
    """Shared strings 0..`last` (streamed: stops once they are read)."""
    name = lower.get("xl/sharedstrings.xml")
    if name is None:
        return {}
    out: dict[int, str] = {}
    carry = b""
    for chunk in _chunks(zf, zf.getinfo(name)):
        buf = carry + chunk
        end = 0
        for m in _HEAD_SI.finditer(buf):
            body = _HEAD_RPH.sub(b"", m.group(1) or b"")
            out[len(out)] = "".join(_unescape(t.group(1) or b"") for t in _HEAD_T.finditer(body))
            end = m.end()
            if len(out) > last:
                return out
        carry = buf[end:]
    return out


# --- numbers where text was expected ---------------------------------------------

def numeric_cells(path: Path, sheet_name: str, column_letters: list[str] | tuple[str, ...],
                  limits: Limits | None = None) -> pd.DataFrame:
    """Cells of the given columns stored as numbers (no `t=` or `t="n"`, with a `<v>`).

    Returns a cell-problems frame: excel_row (int), column (letter), kind
    "number-identifier", detail (the number as stored, e.g. "1.2345678901234568E+16"),
    plus `digits` (int: digits before the decimal point; more than 15 means
    Excel already lost precision). Empty for csv/ods or unknown sheets.
    (`complete_preflight` can collect the same in its own pass over the sheet.)
    """
    scan = _NumericScan(column_letters)
    if not scan.cols:
        return scan.frame()
    try:
        with zipfile.ZipFile(path) as zf:
            lower = {n.lower(): n for n in zf.namelist()}
            part = next((p for name, p, _ in _workbook_sheets(zf, lower) if name == sheet_name), None)
            if not part or part not in zf.namelist():
                return scan.frame()
            state: dict = {}
            for seg in _segments(zf, zf.getinfo(part), state):
                scan.feed(seg, state.get("prefix", b""))
    except (_Refused, zipfile.BadZipFile, OSError, KeyError, EOFError, zlib.error):
        return _NumericScan(()).frame()
    return scan.frame()


class _NumericScan:
    """Number-typed cells of some columns, collected segment by segment of a sheet's XML."""

    _REST = (rb"((?:\s+(?:(?!t=)[\w:]+=\"[^\"]*\"|t=\"n\"))*)\s*>\s*"
             rb"(?:<" + _P + rb"f\b[^>]*?(?:/>|>[^<]*</" + _P + rb"f>)\s*)?"
             rb"<" + _P + rb"v>([^<]*)</" + _P + rb"v>")

    def __init__(self, column_letters) -> None:
        self.cols = sorted({c.strip().upper() for c in column_letters if c and c.strip().isalpha()})
        self.found: list[tuple[bytes, bytes, bytes, bytes]] = []
        self.fast = self.slow = self.odd = None
        self.r_first = b""

    def feed(self, seg: bytes, prefix: bytes) -> None:
        if not self.cols:
            return
        if self.fast is None:
            alts = b"|".join(c.encode() for c in self.cols)
            cell = re.escape(b"<" + prefix + b"c")
            # Excel, LibreOffice, openpyxl and XlsxWriter write r first: a literal-first
            # pattern the engine skims; other attribute orders take the general pattern
            self.fast = re.compile(cell + rb" r=\"(" + alts + rb")(\d+)\"" + self._REST)
            self.slow = re.compile(cell + rb"(?=[^>]*?\sr=\"(?:" + alts + rb")\d)"
                                   rb"(?:\s+(?!t=)(?!r=)[\w:]+=\"[^\"]*\"|\s+t=\"n\")*\s+r=\"(" + alts
                                   + rb")(\d+)\"" + self._REST)
            self.odd = re.compile(cell + rb"(?! r=\")[\s/>]")  # a cell whose first attribute is not r
            self.r_first = b"<" + prefix + b'c r="'
        self.found += self.fast.findall(seg)
        if self.odd.search(seg):
            self.found += [m.groups() for m in self.slow.finditer(seg) if not seg.startswith(self.r_first, m.start())]

    def frame(self) -> pd.DataFrame:
        if not self.found:
            return empty_problems().assign(digits=pd.Series(dtype="int64"))
        frame = pd.DataFrame(self.found, columns=["column", "excel_row", "attrs", "detail"]).drop(columns="attrs")
        frame["column"] = frame["column"].map(bytes.decode)
        frame["excel_row"] = frame["excel_row"].map(int).astype("int64")
        frame["detail"] = frame["detail"].map(lambda b: b.decode("ascii", "replace").strip())
        frame["kind"] = "number-identifier"
        frame["digits"] = frame["detail"].map(_integer_digits).astype("int64")
        return frame[["excel_row", "column", "kind", "detail", "digits"]].sort_values(
            ["excel_row", "column"], kind="mergesort").reset_index(drop=True)


def _integer_digits(text: str) -> int:
    """Digits before the decimal point of a stored number ('1.2E+16' -> 17)."""
    try:
        value = abs(float(text))
    except ValueError:
        return 0
    if value < 1:
        return 1
    if value == float("inf"):
        return 0
    return len(str(int(value)))


#: an OpenDocument sheet whose data stands for more cells than this is read in a contained worker:
#: a kilobyte of repeated rows and columns can stand for millions of cells, which the reader
#: expands in memory (1M rows x 20 cells: ~3 GB)
ODS_CONTAIN_CELLS = 2_000_000


def contain_policy(pre: Preflight) -> bool:
    """Whether to read this file in a worker process (`run_contained`) rather than in-process.

    Measured (2 cores, loaded machine): the worker adds about 0.5 s for a
    100k-row result and 4-5 s for a 1M-row one (start-up plus pickling the
    frame back), so honest files are read in-process. Contained are files the
    preflight found odd: macros, external links or DDE, references beyond
    column ZZ or row 1,048,576, a dimension tag that disagrees with the
    content, or a sheet refused as too large (should a caller read it anyway); and an
    OpenDocument sheet whose repeated rows or columns stand for more than ODS_CONTAIN_CELLS cells.
    """
    if pre.macros or any(f.code in ("external-links-ignored", "dde-ignored") for f in pre.findings):
        return True
    if pre.kind == "ods" and any(scan.last_data_row * max(scan.max_col, 1) > ODS_CONTAIN_CELLS
                                 for scan in pre.sheets.values()):
        return True
    for scan in pre.sheets.values():
        if scan.refuse or scan.max_col > 702 or scan.max_row > 1_048_576:
            return True
        actual = max(scan.max_row, scan.last_data_row)
        # an empty sheet says "A1" (Excel, openpyxl): nothing odd about that
        if scan.dimension_rows and scan.dimension_rows != actual and not (actual == 0 and scan.dimension_rows == 1):
            return True
    return False
