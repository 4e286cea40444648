"""xlsxio.write_rows (bulk rows for XlsxWriter) and normalise_zip (no recompression).

write_rows must write exactly what XlsxWriter's write_string/write_number
write cell by cell, so the fast path never changes a workbook's bytes.
"""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from att_report.render import xlsxio

TRICKY = [
    "plain", " leading", "trailing ", "line\nbreak", "tab\there", "_x0041_ literal escape", "ctrl\x01char",
    "a & b < c > d \"q\" 'a'", "=1+2", "#REF!", "emoji \U0001F600 and ü", "\ufffe non-character",
    "x" * 20_000, "\U0001F600" * 17_000,  # over Excel's limit in UTF-16 units: truncated like XlsxWriter
    "12, 345, 6789", " ", "a_b", "partner_state", "_x00", "a_x0041_b", "_X0041_", "50%", "x\u00a0", "\u2003y", "a\rb", "tail\t", "\x7f del", "~`{|}",
]


def _columns(fmt_a, fmt_b):
    n = 40
    text = [TRICKY[i % len(TRICKY)] if i % 7 else "" for i in range(n)]
    other = [None if i % 3 == 0 else f"v{i % 5}" for i in range(n)]
    other[10:13] = [None, None, None]
    text[10:13] = ["", "", ""]  # row 11-13: only the number column has cells
    numbers = [None if i % 4 == 1 else (i * 1.5 if i % 2 else i * 10**15) for i in range(n)]
    numbers[11] = None  # row 12 of the block: no cell at all
    per_row = [fmt_b if i % 5 == 0 else fmt_a for i in range(n)]
    return n, [(0, text, per_row), (2, other, None), (3, numbers, fmt_b), (5, text, fmt_a)]


def test_write_rows_writes_the_bytes_of_cell_by_cell_writes(tmp_path):
    paths = {}
    for bulk in (False, True):
        path = tmp_path / f"{bulk}.xlsx"
        _save(path, bulk)
        paths[bulk] = path.read_bytes()
    assert paths[True] == paths[False]
    wb = openpyxl.load_workbook(tmp_path / "True.xlsx")
    ws = wb["S"]
    assert ws.cell(4 + 1, 1).value == TRICKY[1]
    assert ws.cell(4 + 7, 1).value is None  # "" is no cell
    assert ws.cell(4 + 3, 4).value == 4.5
    assert ws.cell(4 + 40 + 1, 1).value == "after the block"


def _save(path, bulk: bool) -> None:
    def build(wb) -> None:
        head = wb.add_format({"bold": True})
        fmt_a = wb.add_format({"text_wrap": True, "valign": "top"})
        fmt_b = wb.add_format({"quote_prefix": True, "num_format": "#,##0"})
        col_fmt = wb.add_format({"italic": True})
        ws = wb.add_worksheet("S")
        ws.set_column(2, 2, 20, col_fmt)  # cells without a format take the column's
        ws.write_string(0, 0, "title", head)
        ws.write_string(2, 1, "header", head)
        n, columns = _columns(fmt_a, fmt_b)
        if bulk:
            xlsxio.write_rows(ws, 3, columns)
        else:
            for i in range(n):
                for col, values, fmt in sorted(columns, key=lambda c: c[0]):
                    v = values[i]
                    f = fmt[i] if isinstance(fmt, list) else fmt
                    if isinstance(v, str) and v:
                        ws.write_string(3 + i, col, v, f)
                    elif isinstance(v, (int, float)):
                        ws.write_number(3 + i, col, v, f)
        ws.write_string(3 + n + 1, 0, "after the block", head)
        ws.autofilter(2, 0, 3 + n, 5)

    xlsxio.save_xlsxwriter(build, path)


def _save_blanks_and_heights(path, bulk: bool) -> None:
    """Blank cells with and without a format, and row heights (the report's line rows)."""
    def build(wb) -> None:
        fmt_a = wb.add_format({"border": 1})
        fmt_b = wb.add_format({"border": 1, "bg_color": "#EEEEEE"})
        ws = wb.add_worksheet("S")
        ws.write_string(0, 0, "header", fmt_a)
        n = 12
        labels = [xlsxio.BLANK if i % 4 == 0 else f"t{i}" for i in range(n)]
        blanks = [xlsxio.BLANK] * n
        numbers = [xlsxio.BLANK if i % 3 == 0 else i * 2.5 for i in range(n)]
        fmts = [fmt_b if i % 2 else fmt_a for i in range(n)]
        blank_fmts = [None if i % 5 == 0 else fmt_b for i in range(n)]  # no format: no cell
        heights = [None if i % 3 else 15 * (1 + i % 4) for i in range(n)]
        heights[7] = 30.0  # a row whose only cell is a blank without a format: dropped, as XlsxWriter does
        labels[7], numbers[7] = None, None
        blank_fmts[7] = None
        if bulk:
            xlsxio.write_rows(ws, 1, [(0, labels, fmts), (1, blanks, blank_fmts), (2, numbers, fmt_a)], heights)
        else:
            for i in range(n):
                if heights[i]:
                    ws.set_row(1 + i, heights[i])
                for col, v, f in ((0, labels[i], fmts[i]), (1, blanks[i], blank_fmts[i]), (2, numbers[i], fmt_a)):
                    if v is xlsxio.BLANK:
                        ws.write_blank(1 + i, col, None, f)
                    elif isinstance(v, str):
                        ws.write_string(1 + i, col, v, f)
                    elif v is not None:
                        ws.write_number(1 + i, col, v, f)
        ws.write_string(1 + n, 0, "after", fmt_a)

    xlsxio.save_xlsxwriter(build, path)


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
       | st.text(alphabet=" !&<>_xX0123456789ABCDEFabcdef\t\n\x01\x7f", max_size=12))
def test_cell_text_is_what_xlsxwriter_escapes(text):
    """The plain-text shortcut of write_rows gives XlsxWriter's own escaping, for any text."""
    from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate
    from xlsxwriter.workbook import Workbook
    from xlsxwriter.xmlwriter import XMLwriter

    ws = Workbook(io.BytesIO()).add_worksheet("S")  # constant_memory would open a temporary file per example
    escaped = XMLwriter._escape_control_characters(text)
    space = ' xml:space="preserve"' if _preserve_whitespace(escaped) else ""
    expected = f' s="1" t="inlineStr"><is><t{space}>{ws._escape_data(escaped)}</t></is></c>'
    got = xlsxio._cell_xml(ws, text, ' s="1"', XMLwriter, _preserve_whitespace, _utf16_len, _utf16_truncate)
    assert got == expected


def test_write_rows_blanks_and_heights_write_the_bytes_of_cell_by_cell_writes(tmp_path):
    data = {}
    for bulk in (False, True):
        _save_blanks_and_heights(tmp_path / f"{bulk}.xlsx", bulk)
        data[bulk] = (tmp_path / f"{bulk}.xlsx").read_bytes()
    assert data[True] == data[False]
    ws = openpyxl.load_workbook(tmp_path / "True.xlsx")["S"]
    assert ws.row_dimensions[4 + 1].height == 60
    assert ws.cell(3, 3).value == 2.5


def test_write_rows_escapes_rich_string_lookalikes(tmp_path):
    """XlsxWriter would copy "<r>...</r>" into the XML raw (a broken file); write_rows stores it as text."""
    text = "<r><t>not markup</t></r>"
    path = tmp_path / "r.xlsx"
    xlsxio.save_xlsxwriter(lambda wb: xlsxio.write_rows(wb.add_worksheet("S"), 0, [(0, [text], None)]), path)
    assert openpyxl.load_workbook(path)["S"]["A1"].value == text


def test_write_rows_refuses_rows_already_written(tmp_path):
    def build(wb) -> None:
        ws = wb.add_worksheet("S")
        ws.write_string(5, 0, "x")
        ws.write_string(6, 0, "y")
        with pytest.raises(ValueError):
            xlsxio.write_rows(ws, 5, [(0, ["z"], None)])
        with pytest.raises(TypeError):
            xlsxio.write_rows(ws, 7, [(0, [float("nan")], None)])

    xlsxio.save_xlsxwriter(build, tmp_path / "x.xlsx")


def _recompressed(data: bytes) -> bytes:
    """normalise_zip as it was: every entry decompressed and deflated again."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = xlsxio._CORE_TIMES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", payload)
            fixed = zipfile.ZipInfo(info.filename, date_time=xlsxio._ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            fixed.create_system = 0
            dst.writestr(fixed, payload)
    return out.getvalue()


def test_normalise_zip_copies_entries_without_recompressing():
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = wb.add_worksheet("S")
    for r in range(3000):
        ws.write_string(r, 0, f"row {r} " + "text " * (r % 17))
    wb.close()
    data = buffer.getvalue()
    fixed = xlsxio.normalise_zip(data)
    assert fixed == _recompressed(data)  # same bytes as decompressing and deflating again
    archive = zipfile.ZipFile(io.BytesIO(fixed))
    assert archive.testzip() is None  # every CRC matches
    original = zipfile.ZipFile(io.BytesIO(data))
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        if info.filename != "docProps/core.xml":
            assert archive.read(info.filename) == original.read(info.filename)
    assert b"2000-01-01T00:00:00Z" in archive.read("docProps/core.xml")
    assert xlsxio.normalise_zip(fixed) == fixed


def test_report_lines_in_small_blocks_give_the_same_workbook(tmp_path, monkeypatch):
    """_write_lines prepares cells CHUNK_LINES lines at a time across categories: block size never shows."""
    from att_report.render import report_xlsx
    from test_compile_fixtures import rec
    from test_report_xlsx import build

    from att_report.records import make_records

    cats = ["I", "II", "VIII.SA.2", "III", "XX"]
    records = make_records([
        rec(record_id=str(i), partner_state=["DEU", "FRA", "AUS"][i % 3], category=cats[i % 5],
            quantity=i, value=float(i) * 10.5, description="=x" if i == 4 else "a\nb\nc" if i == 9 else f"d{i}")
        for i in range(1, 30)
    ])
    whole, _ = build(tmp_path, records=records, name="whole.xlsx", exports={"aggregate": "per_transfer"})
    monkeypatch.setattr(report_xlsx, "CHUNK_LINES", 4)
    blocks, _ = build(tmp_path, records=records, name="blocks.xlsx", exports={"aggregate": "per_transfer"})
    assert whole.read_bytes() == blocks.read_bytes()


def test_manifest_reuses_a_given_accounting_table(tmp_path):
    """build_manifest(accounting=...) gives the manifest it computes itself, and still checks the sums."""
    from test_manifest import CFG, files, recs

    from att_report.records import AccountingError
    from att_report.render.manifest import accounting_table, build_manifest

    table = accounting_table(recs())
    assert build_manifest(CFG, files(), recs(), [], tmp_path, accounting=table) == \
        build_manifest(CFG, files(), recs(), [], tmp_path)
    broken = table.assign(rows_read=table["rows_read"] + 1)
    with pytest.raises(AccountingError):
        build_manifest(CFG, files(), recs(), [], tmp_path, accounting=broken)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
       | st.text(alphabet="ab \t\n\r\x00\x01\x0b\x0c\x1f\x7f\x85\u2028", max_size=12))
def test_clean_text_removes_what_openpyxl_refuses(text):
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    assert xlsxio.clean_text(text) == ILLEGAL_CHARACTERS_RE.sub("", text)


def test_a_failed_build_leaves_no_temporary_row_file(tmp_path, monkeypatch):
    """constant_memory sheets write their rows to temporary files; a build that fails must remove them."""
    import tempfile

    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))

    def build(wb) -> None:
        for name in ("A", "B"):
            wb.add_worksheet(name).write_string(0, 0, "x")
        raise xlsxio.CellTooLong("too long")

    with pytest.raises(xlsxio.CellTooLong):
        xlsxio.save_xlsxwriter(build, tmp_path / "out.xlsx")
    assert list(spill.iterdir()) == [] and not (tmp_path / "out.xlsx").exists()
