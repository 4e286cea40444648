"""Safe, deterministic xlsx writing shared by every renderer.

- Text from agencies is always stored as text: never a formula (`=...`),
  never an error cell (`#REF!`), control characters that xlsx cannot hold
  removed, over-long text refused (the caller reports it as a finding).
- Saving fixes the workbook's created/modified times and the zip entries'
  dates, so the same content gives the same bytes (Art. 12 record keeping:
  reproducible builds).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

EXCEL_CELL_LIMIT = 32_767
FIXED_TIME = dt.datetime(2000, 1, 1, 0, 0, 0)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")


class CellTooLong(ValueError):
    """Text over Excel's 32,767-character cell limit: an error, never a silent cut."""


def clean_text(value: object) -> str:
    """The text to store: control characters xlsx cannot hold removed."""
    text = "" if value is None else str(value)
    if text.isprintable():  # no control character at all: a C loop, no regex scan (long Sources texts)
        return text
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def has_illegal_characters(value: object) -> bool:
    return value is not None and bool(ILLEGAL_CHARACTERS_RE.search(str(value)))


def set_text(cell, value: object) -> None:
    """Store `value` as a text cell, whatever it looks like.

    openpyxl turns a string starting with '=' into a formula and one equal to
    an error code into an error cell; forcing the data type to 's' stores it
    as literal text, and quotePrefix keeps Excel from re-reading it on edit.
    """
    text = clean_text(value)
    if len(text) > EXCEL_CELL_LIMIT:
        raise CellTooLong(f"text of {len(text)} characters exceeds Excel's {EXCEL_CELL_LIMIT}-character cell limit")
    cell.value = text
    cell.data_type = "s"
    if text[:1] in ("=", "+", "-", "@") or text.startswith("#"):
        cell.quotePrefix = True


def set_value(cell, value: object) -> None:
    """Numbers and dates as they are; everything else as safe text."""
    if value is None:
        cell.value = None
    elif isinstance(value, bool):
        cell.value = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        cell.value = value
    elif isinstance(value, (dt.date, dt.datetime)):
        cell.value = value
    else:
        set_text(cell, value)


def styled_text(ws, row: int, col: int, value: object, *, font=None, fill=None, align=WRAP_TOP, border=None):
    """A text cell (see set_text) with optional styles; returns the cell. Blank for None/NA."""
    cell = ws.cell(row=row, column=col)
    set_text(cell, "" if value is None or value is pd.NA else value)
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    if align:
        cell.alignment = align
    if border:
        cell.border = border
    return cell


def write_header(ws, row: int, headers: list[str], *, widths: list[float] | None = None) -> None:
    for col, text in enumerate(headers, start=1):
        cell = ws.cell(row=row, column=col)
        set_text(cell, text)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = WRAP_TOP
    if widths:
        for col, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(col)].width = width


def fix_metadata(wb) -> None:
    wb.properties.creator = "att-report"
    wb.properties.lastModifiedBy = "att-report"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME


_CORE_TIMES = re.compile(
    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)"
)


def normalise_zip(data: bytes) -> bytes:
    """Rewrite an xlsx (zip) with fixed entry dates and fixed core timestamps.

    Entries other than docProps/core.xml keep their compressed bytes as they
    are (only the headers change): recompressing a large sheet cost as much as
    writing it. Output is as deterministic as the input's compression.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            fixed.create_system = 0
            if info.filename == "docProps/core.xml" or info.compress_type != zipfile.ZIP_DEFLATED:
                payload = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    payload = _CORE_TIMES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", payload)
                dst.writestr(fixed, payload)
            else:
                _copy_deflated(src, info, dst, fixed)
    return out.getvalue()


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header (30 bytes, names follow)


def _copy_deflated(src: zipfile.ZipFile, info: zipfile.ZipInfo, dst: zipfile.ZipFile,
                   fixed: zipfile.ZipInfo) -> None:
    """Append `info`'s deflated bytes to `dst` under the header `fixed` (no decompress/recompress).

    Writes what ZipFile.writestr writes to a seekable file (local header
    without data descriptor, then the data) and registers the entry so the
    central directory lists it; the CRC is checked by reading the entry back
    when the archive is tested (tests/test_render_bulk.py).
    """
    fp = src.fp
    fp.seek(info.header_offset)
    header = _LOCAL_HEADER.unpack(fp.read(_LOCAL_HEADER.size))
    if header[0] != zipfile.stringFileHeader:
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    fp.seek(header[9] + header[10], io.SEEK_CUR)  # file name and extra field
    raw = fp.read(info.compress_size)
    fixed.CRC, fixed.compress_size, fixed.file_size = info.CRC, info.compress_size, info.file_size
    fixed.flag_bits = 0
    out = dst.fp
    fixed.header_offset = out.tell()
    out.write(fixed.FileHeader(zip64=None))
    out.write(raw)
    dst.filelist.append(fixed)
    dst.NameToInfo[fixed.filename] = fixed
    dst.start_dir = out.tell()


def save_workbook(wb, path: Path | str) -> None:
    """Save an openpyxl workbook deterministically (same content -> same bytes)."""
    fix_metadata(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    Path(path).write_bytes(normalise_zip(buffer.getvalue()))


# --- bulk rows for XlsxWriter's constant-memory mode ---------------------------------

#: Rows joined into one write to the sheet's temp file at a time.
_BULK_CHUNK = 10_000


#: A write_rows value: a blank cell that carries its format (write_blank); no cell without one.
BLANK = type("Blank", (), {"__repr__": lambda self: "BLANK"})()


def write_rows(ws, first_row: int, columns: list[tuple[int, list, object]],
               heights: list[float | None] | None = None) -> None:
    """Write a block of rows into an XlsxWriter worksheet (constant_memory) in one pass.

    `columns`: (0-based column, values, format), values one per row from
    `first_row` on: text ("" or None: no cell), numbers (None: no cell) or
    BLANK (write_blank: a cell only when it has a format); format one
    XlsxWriter Format for the column, or a list with one per row. `heights`:
    per row the height set_row would set (points), None for the default; a
    row without cells is not written (XlsxWriter's constant_memory mode drops
    such a row too).

    The XML is what write_string/write_number would write cell by cell (same
    escaping, whitespace flag, style indices assigned in the same order),
    built once per distinct (value, format) and joined per row: XlsxWriter's
    per-cell path costs ~10 us a cell, most of a 20k-finding log. One
    deliberate difference: text that looks like an inline rich string
    ("<r>...</r>") is escaped like any text, where XlsxWriter would copy it
    into the XML unescaped. tests/test_render_bulk.py checks the equality.
    Rows of the block must have no set_row() attributes; later writes must
    come after the block.
    """
    from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name
    from xlsxwriter.xmlwriter import XMLwriter

    columns = sorted(columns, key=lambda c: c[0])
    n = max((len(values) for _, values, _ in columns), default=len(heights) if heights else 0)
    if n == 0:
        return
    if heights is not None and len(heights) != n:
        raise ValueError("write_rows: heights needs one value per row")
    if not ws.constant_memory:
        raise ValueError("write_rows needs a constant_memory worksheet")
    if first_row < ws.previous_row or (first_row == ws.previous_row and ws.table.get(first_row)):
        raise ValueError(f"rows from {first_row} are already written")
    last_row = first_row + n - 1
    if any(first_row <= r <= last_row for r in ws.row_info):
        raise ValueError("write_rows does not write row attributes (set_row)")
    ws._write_single_row(first_row)  # flush the pending row, as the next cell write would

    # per column: the format of each row (None where there is no cell), or the column's one format
    # (most columns have one: no per-cell format bookkeeping then)
    per_row: list = []
    for col, values, fmt in columns:
        if len(values) != n:
            raise ValueError("write_rows: every column needs one value per row")
        if isinstance(fmt, list):
            per_row.append([f if (v is not None and v != "") else None for v, f in zip(values, fmt)])
        else:
            per_row.append(fmt)
    # row attributes as set_row stores them (height in pixels; see Worksheet.set_row)
    infos: dict[int, object] = {}
    if heights is not None:
        from xlsxwriter.worksheet import RowInfo

        for i, h in enumerate(heights):
            if h:
                infos[i] = RowInfo(height=int(h * 4.0 / 3.0 + 0.5), row_format=None, hidden=False, level=0,
                                   collapsed=False)
    # style indices are assigned at first use: row by row, left to right
    first_use: dict[int, tuple[int, int, object]] = {}
    for (col, values, _), fmts in zip(columns, per_row):
        if not isinstance(fmts, list):
            first = next((i for i, v in enumerate(values) if v is not None and v != ""), None)
            if fmts is not None and first is not None and (
                    id(fmts) not in first_use or (first, col) < first_use[id(fmts)][:2]):
                first_use[id(fmts)] = (first, col, fmts)
            continue
        seen: set[int] = set()
        for i, f in enumerate(fmts):
            if f is not None and id(f) not in seen:
                seen.add(id(f))
                if id(f) not in first_use or (i, col) < first_use[id(f)][:2]:
                    first_use[id(f)] = (i, col, f)
    for _, _, f in sorted(first_use.values(), key=lambda t: t[:2]):
        f._get_xf_index()

    def style(col: int, f) -> str:
        if f is not None:
            return f' s="{f._get_xf_index()}"'
        info = ws.col_info.get(col)
        column_format = getattr(info, "column_format", None) if info is not None else None
        return f' s="{column_format._get_xf_index()}"' if column_format is not None else ""

    frags: list[list] = []
    cells = 0
    cols_used = set()
    rows_used = [False] * n
    for (col, values, _), fmts in zip(columns, per_row):
        cache: dict = {}
        out = [None] * n
        if not isinstance(fmts, list):  # one format: fragments cached per value
            column_style = None
            for i, v in enumerate(values):
                if v is None or v == "" or (v is BLANK and fmts is None):
                    continue
                frag = cache.get(v)
                if frag is None:
                    if column_style is None:  # an xf index is assigned only when a cell uses it
                        column_style = style(col, fmts)
                    frag = cache[v] = (f"{column_style}/>" if v is BLANK else
                                       _cell_xml(ws, v, column_style, XMLwriter, _preserve_whitespace,
                                                 _utf16_len, _utf16_truncate))
                out[i] = frag
                rows_used[i] = True
                cells += 1
            if cache:
                cols_used.add(col)
            frags.append(out)
            continue
        for i, (v, f) in enumerate(zip(values, fmts)):
            if v is None or v == "" or (v is BLANK and f is None):
                continue
            key = (v, id(f)) if v is not BLANK else (BLANK, id(f))
            frag = cache.get(key)
            if frag is None:
                frag = cache[key] = (f"{style(col, f)}/>" if v is BLANK else
                                     _cell_xml(ws, v, style(col, f), XMLwriter, _preserve_whitespace,
                                               _utf16_len, _utf16_truncate))
            out[i] = frag
            rows_used[i] = True
            cells += 1
        if cache:
            cols_used.add(col)
        frags.append(out)
    if not cells:
        return
    rows = [i for i in range(n) if rows_used[i]]
    ws._check_dimensions(first_row + rows[0], min(cols_used))
    ws._check_dimensions(first_row + rows[-1], max(cols_used))
    letters = [xl_col_to_name(col) for col, _, _ in columns]
    if not infos:
        _write_plain_rows(ws, first_row, rows, letters, frags)
        ws.previous_row = last_row + 1
        return
    pairs = list(zip(letters, frags))
    for start in range(0, len(rows), _BULK_CHUNK):
        parts = []
        for i in rows[start:start + _BULK_CHUNK]:
            r = first_row + i + 1
            info = infos.get(i)
            if info is not None:  # XlsxWriter writes the row's attributes itself
                ws.fh.write("".join(parts))
                parts = []
                ws.row_info[r - 1] = info
                ws.row_sizes[r - 1] = [info.height, info.hidden]
                ws._write_row(r - 1, None, info)
            else:
                parts.append(f'<row r="{r}">')
            parts.extend(f'<c r="{letter}{r}"{f[i]}' for letter, f in pairs if f[i] is not None)
            parts.append("</row>")
        ws.fh.write("".join(parts))
    ws.previous_row = last_row + 1  # a later write to a row of the block is refused, as XlsxWriter does


def _write_plain_rows(ws, first_row: int, rows: list[int], letters: list[str], frags: list[list]) -> None:
    """`write_rows`' rows (none with attributes) assembled by pyarrow, a column at a time.

    The same XML as joining each row's cells in Python (`<row r="N">`, each
    present cell's `<c r="LN"` and fragment, `</row>`), at a tenth of the
    cost: a 17,706-finding log's rows took ~0.5 s in per-cell f-strings,
    ~0.07 s here (issue 7). Rows with attributes stay with `write_rows`' own
    loop, which lets XlsxWriter write them.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [pa.array(frag, type=pa.string()) for frag in frags]
    for start in range(0, len(rows), _BULK_CHUNK):
        chunk = np.asarray(rows[start:start + _BULK_CHUNK], dtype=np.int64)
        take = pa.array(chunk)
        numbers = pc.cast(pa.array(chunk + first_row + 1), pa.string())
        cells = []
        for letter, column in zip(letters, columns):
            values = column.take(take)
            if values.null_count < len(values):  # a missing fragment is no cell (null, skipped below)
                cells.append(pc.binary_join_element_wise(f'<c r="{letter}', numbers, '"', values, ""))
        xml = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "", null_handling="skip")
        ws.fh.write("".join(xml.to_pylist()))


#: Text XlsxWriter writes as it is: printable ASCII without & < > (XML escapes), and without "_x"
#: (which may start its _xHHHH_ escape; checked apart). One scan instead of XlsxWriter's four (the
#: report's Sources rows: ~8 MB at 1M rows; the log's messages).
_PLAIN_TEXT = re.compile(r"[ !-%'-;=?-~]*")


def _cell_xml(ws, value, style: str, XMLwriter, preserve_ws, utf16_len, utf16_truncate) -> str:
    """One cell's XML after `<c r="A1"` (see write_rows)."""
    if isinstance(value, str):
        if len(value) > ws.xls_strmax // 2 and utf16_len(value) > ws.xls_strmax:
            value = utf16_truncate(value, ws.xls_strmax)
        if _PLAIN_TEXT.fullmatch(value) and "_x" not in value:  # no escape changes it; only " " is white space
            space = ' xml:space="preserve"' if value[:1] == " " or value[-1:] == " " else ""
            return f'{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'
        text = XMLwriter._escape_control_characters(value)
        space = ' xml:space="preserve"' if preserve_ws(text) else ""
        return f'{style} t="inlineStr"><is><t{space}>{ws._escape_data(text)}</t></is></c>'
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"write_rows: {type(value).__name__} is neither text nor a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise TypeError("write_rows: NaN/INF is not a cell value")
    return f"{style}><v>{value:.16G}</v></c>"


#: Deflate level of XlsxWriter's workbook parts. Level 1 compresses the 1M-row
#: report's 9 MB Sources sheet in 0.14 s instead of 0.77 s (zlib's default,
#: 6) for 8% more bytes; every level opens alike in Excel and LibreOffice
#: (benchmark, issue 7). Still deterministic: same parts, same bytes.
DEFLATE_LEVEL = 1


class _LevelledZipFile(zipfile.ZipFile):
    """The zip file XlsxWriter writes, at DEFLATE_LEVEL unless told otherwise."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("compresslevel", DEFLATE_LEVEL)
        super().__init__(*args, **kwargs)


def save_xlsxwriter(build, path: Path | str) -> None:
    """Build a workbook with XlsxWriter (streaming, for large sheets) deterministically.

    `build(workbook)` adds the sheets; the workbook is created in memory with
    constant_memory, strings_to_formulas/urls off, fixed document times.
    """
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": False,
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    wb.set_properties({"author": "att-report", "created": FIXED_TIME})
    try:
        build(wb)
    except BaseException:
        _drop_row_files(wb)
        raise
    with _deflate_level():
        wb.close()  # XlsxWriter makes its zip file here
    Path(path).write_bytes(normalise_zip(buffer.getvalue()))


_ZIP_CLASS_LOCK = threading.Lock()


@contextmanager
def _deflate_level():
    """XlsxWriter's zip file at DEFLATE_LEVEL while this is open, its own class again afterwards.

    XlsxWriter has no option for the level; its workbook module names the ZipFile class it uses
    (held to 3.3.x in pyproject.toml; tests/test_xlsx_deflate.py checks the level is applied).
    The class is put back so that other XlsxWriter users in the process (pandas' to_excel, a
    caller's own workbooks) keep zlib's default.
    """
    import xlsxwriter.workbook

    with _ZIP_CLASS_LOCK:
        own = xlsxwriter.workbook.ZipFile
        xlsxwriter.workbook.ZipFile = _LevelledZipFile
        try:
            yield
        finally:
            xlsxwriter.workbook.ZipFile = own


def _drop_row_files(wb) -> None:
    """Remove the temporary file each constant_memory sheet writes its rows to (XlsxWriter removes
    them only when the workbook is closed, which a failed build never reaches)."""
    import os

    for ws in wb.worksheets():
        fh, name = getattr(ws, "row_data_fh", None), getattr(ws, "row_data_filename", None)
        try:
            if fh is not None:
                fh.close()
            if name:
                os.remove(name)
        except OSError:
            pass
