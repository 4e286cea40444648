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
import zipfile
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
    """Rewrite an xlsx (zip) with fixed entry dates and fixed core timestamps."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = _CORE_TIMES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", payload)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            fixed.create_system = 0
            dst.writestr(fixed, payload)
    return out.getvalue()


def save_workbook(wb, path: Path | str) -> None:
    """Save an openpyxl workbook deterministically (same content -> same bytes)."""
    fix_metadata(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    Path(path).write_bytes(normalise_zip(buffer.getvalue()))


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
    build(wb)
    wb.close()
    Path(path).write_bytes(normalise_zip(buffer.getvalue()))
