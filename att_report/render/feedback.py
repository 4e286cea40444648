"""Per-agency feedback workbook: the agency's rows as received, problems marked.

One sheet per source table (sheet of a file, or a csv file) shows the header
and the data rows exactly as read, with the Excel row number in a first
column so the agency finds the row in its own file. A cell with a finding is
filled by severity (red error, amber warning, light blue info) and carries a
comment with the message(s); a `Findings` sheet lists all the agency's
findings. Findings without a row, or whose field names no column of the
table, appear on the Findings sheet only.

Written with XlsxWriter in constant-memory mode (rows in order, streamed):
a 100k-row table writes in seconds, where openpyxl random access takes
minutes. Text is always written as text (never a formula), saved
deterministically via xlsxio.save_xlsxwriter.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from att_report.findings import LOG_FIELDS, SEVERITY_ORDER, sort_frame
from att_report.intake.tables import RawTable
from att_report.render import xlsxio

FINDINGS_SHEET = "Findings"
ROW_COLUMN = "Excel row"
FINDINGS_COLUMNS = tuple(f for f in LOG_FIELDS if f not in ("decision", "decision_note"))
#: Cell fill per severity (Excel's own "bad" / "neutral" tones and a light blue).
SEVERITY_FILLS = {"error": "#FFC7CE", "warning": "#FFEB9C", "info": "#DDEBF7"}
HEADER_FILL = "#DDE4EE"
#: Tables with more data rows than this are streamed (see _stream_sheet_data).
STREAM_ROWS = 2_000  # streaming is ~10x faster per row than cell-by-cell writing
STREAM_CHUNK = 50_000
COMMENT_LIMIT = 4_000  # characters per cell comment; the Findings sheet has everything
_SHEET_NAME_MAX = 31
_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_FINDINGS_WIDTHS = {"finding_id": 16, "severity": 9, "code": 26, "message": 80, "agency": 20, "file": 30,
                    "sheet": 16, "row": 8, "field": 18, "value": 24, "related": 24}
_SEV_RANK = {str(k): v for k, v in SEVERITY_ORDER.items()}
_FORMULA_START = ("=", "+", "-", "@", "#")


# --- pure helpers (tested directly) ------------------------------------------

#: data rows a sheet holds: Excel's 1,048,576 rows, less the header
SHEET_DATA_ROWS = 1_048_575


def sheet_parts(tables: list[RawTable]) -> list[RawTable]:
    """The tables as sheets: one longer than a sheet holds (a csv can be) goes on in further sheets.

    Each part keeps its rows' Excel rows (csv lines) and the table's header
    (the rest of the table is as it was: the feedback reads only these);
    `sheet_names` then names the parts '<name>', '<name> (2)', ...
    """
    parts = []
    for table in tables:
        n = len(table.data)
        if n <= SHEET_DATA_ROWS:
            parts.append(table)
            continue
        for lo in range(0, n, SHEET_DATA_ROWS):
            hi = min(lo + SHEET_DATA_ROWS, n)
            parts.append(dataclasses.replace(table, data=table.data.iloc[lo:hi].reset_index(drop=True),
                                             excel_rows=list(table.excel_rows[lo:hi])))
    return parts


def sheet_names(tables: list[RawTable]) -> list[str]:
    """A valid, unique Excel sheet name per table: '<file stem> - <sheet>'."""
    taken = {FINDINGS_SHEET.lower()}
    names = []
    for table in tables:
        stem = Path(table.file).stem or "file"
        base = f"{stem} - {table.sheet}" if table.sheet else stem
        base = _INVALID_SHEET_CHARS.sub("_", xlsxio.clean_text(base)).strip().strip("'") or "Sheet"
        name = base[:_SHEET_NAME_MAX].rstrip().strip("'") or "Sheet"
        n = 2
        while name.lower() in taken or name.lower() == "history":
            suffix = f" ({n})"
            name = base[: _SHEET_NAME_MAX - len(suffix)].rstrip().strip("'") + suffix
            n += 1
        taken.add(name.lower())
        names.append(name)
    return names


def cell_marks(table: RawTable, findings: pd.DataFrame) -> pd.DataFrame:
    """Where each finding of `table` shows: columns sheet_row, sheet_col, severity, text.

    sheet_row 0 is the header, i + 1 the table's data row i; sheet_col 0 is the
    "Excel row" column, j + 1 the table's column j. One line per marked cell:
    its worst severity and all its messages, worst first.
    """
    empty = pd.DataFrame({"sheet_row": pd.Series(dtype="int64"), "sheet_col": pd.Series(dtype="int64"),
                          "severity": pd.Series(dtype=object), "text": pd.Series(dtype=object)})
    if findings.empty:
        return empty
    mine = findings[(findings["file"].astype(str) == table.file)
                    & (findings["sheet"].fillna("").astype(str) == (table.sheet or ""))]
    if mine.empty:
        return empty
    excel_rows = [int(r) for r in table.excel_rows]
    row_to_sheet = {r: i + 1 for i, r in enumerate(excel_rows)}
    row_to_sheet.setdefault(int(table.header_row), 0)
    headers = [str(c) for c in table.data.columns]
    col_of = {h: j + 1 for j, h in enumerate(headers)}
    field_to_col = {f: col_of[h] for f, h in table.field_columns.items() if h in col_of}

    rows = mine["row"].astype("Int64")
    sheet_row = rows.map(row_to_sheet, na_action="ignore").astype("Int64")
    field = mine["field"].fillna("").astype(str)
    by_field = field.map(field_to_col)
    by_header = field.map(col_of)
    sheet_col = by_field.fillna(by_header)
    # a finding on the row itself (no field) marks the "Excel row" cell
    sheet_col = sheet_col.mask(field == "", 0).astype("Int64")
    keep = sheet_row.notna() & sheet_col.notna()
    if not keep.any():
        return empty
    sev = mine["severity"].astype(str)
    marks = pd.DataFrame({
        "sheet_row": sheet_row[keep].astype("int64"),
        "sheet_col": sheet_col[keep].astype("int64"),
        "severity": sev[keep],
        "rank": sev[keep].map(_SEV_RANK).fillna(9),
        "line": sev[keep].str.upper() + ": " + mine["message"][keep].fillna("").astype(str)
                + " [" + mine["code"][keep].fillna("").astype(str) + "]",
    }).sort_values(["sheet_row", "sheet_col", "rank", "line"], kind="mergesort")
    grouped = marks.groupby(["sheet_row", "sheet_col"], sort=True)
    out = pd.DataFrame({
        "severity": grouped["severity"].first(),
        "text": grouped["line"].agg(lambda s: "\n".join(dict.fromkeys(s))),
    }).reset_index()
    too_long = out["text"].str.len() > COMMENT_LIMIT
    out.loc[too_long, "text"] = out.loc[too_long, "text"].str.slice(0, COMMENT_LIMIT - 60) + (
        "\n... more: see the Findings sheet."
    )
    return out[["sheet_row", "sheet_col", "severity", "text"]]


def _text_column(values: pd.Series) -> pd.Series:
    """Cell values as safe text (None for blank): control characters removed, Excel's limit kept."""
    present = values.notna()
    text = values.astype("string").fillna("")
    if text.str.contains(ILLEGAL_CHARACTERS_RE.pattern, regex=True).any():
        text = text.str.replace(ILLEGAL_CHARACTERS_RE.pattern, "", regex=True)
    long = text.str.len() > xlsxio.EXCEL_CELL_LIMIT
    if long.any():
        # a visible cut (never silent): the source file keeps the full text
        note = " ... [cut: over Excel's cell limit]"
        text = text.mask(long, text.str.slice(0, xlsxio.EXCEL_CELL_LIMIT - len(note)) + note)
    return text.astype(object).where(present & (text != ""), None).reset_index(drop=True)


def _width(header: str, values: pd.Series) -> float:
    sample = values.iloc[:500].dropna().astype(str).str.len()
    longest = max(len(header), int(sample.max())) if len(sample) else len(header)
    return float(min(max(longest + 2, 8), 50))


# --- writing -----------------------------------------------------------------

class _Formats:
    def __init__(self, wb):
        self.wb = wb
        self.cache: dict[tuple, object] = {}

    def get(self, severity: str | None = None, *, header: bool = False, quote: bool = False):
        key = (severity, header, quote)
        if key not in self.cache:
            props: dict = {}
            if header:
                props.update(bold=True, text_wrap=True, valign="top", bg_color=HEADER_FILL)
            if severity:
                props.update(bg_color=SEVERITY_FILLS.get(severity, SEVERITY_FILLS["info"]), pattern=1)
            if quote:
                props["quote_prefix"] = True
            self.cache[key] = self.wb.add_format(props) if props else None
        return self.cache[key]


def _write_text(ws, r: int, c: int, text: str | None, fmt) -> None:
    if text is None:
        if fmt is not None:
            ws.write_blank(r, c, None, fmt)
        return
    ws.write_string(r, c, text, fmt)


@dataclass
class _Prepared:
    """One table ready to write: safe text per column, marks by sheet row."""
    headers: list[str]
    columns: list[pd.Series]  # object: safe text or None
    excel_rows: list[int]
    marks_by_row: dict[int, list[tuple[int, str, str]]]
    quote_rows: dict[int, list[int]]  # sheet row -> columns whose text starts like a formula

    @property
    def n_rows(self) -> int:
        return len(self.excel_rows)


def _prepare(table: RawTable, marks: pd.DataFrame) -> _Prepared:
    columns = [_text_column(table.data.iloc[:, j]) for j in range(table.data.shape[1])]
    marks_by_row: dict[int, list[tuple[int, str, str]]] = {}
    for r, c, sev, text in marks.itertuples(index=False, name=None):
        marks_by_row.setdefault(int(r), []).append((int(c), sev, text))
    quote_rows: dict[int, list[int]] = {}
    for c, col in enumerate(columns, start=1):
        risky = col.astype("string").str.startswith(_FORMULA_START).fillna(False).to_numpy()
        for i in risky.nonzero()[0]:
            quote_rows.setdefault(int(i) + 1, []).append(c)
    return _Prepared(
        headers=[xlsxio.clean_text(c) for c in table.data.columns],
        columns=columns,
        excel_rows=[int(r) for r in table.excel_rows],
        marks_by_row=marks_by_row,
        quote_rows=quote_rows,
    )


def _write_table(ws, prep: _Prepared, formats: _Formats, *, stream: bool) -> None:
    """Write a table sheet; with `stream`, only the header and special cells.

    Special cells are the marked ones and text that looks like a formula
    (written with a quote prefix); `_stream_sheet_data` adds every other cell
    afterwards, generated column-wise.
    """
    headers, columns, excel_rows = prep.headers, prep.columns, prep.excel_rows
    n_rows = prep.n_rows
    ws.set_column(0, 0, 10)
    for j, values in enumerate(columns, start=1):
        ws.set_column(j, j, _width(headers[j - 1], values))

    def cell_value(r: int, c: int):
        if c == 0:
            return ROW_COLUMN if r == 0 else excel_rows[r - 1]
        return headers[c - 1] if r == 0 else columns[c - 1].iat[r - 1]

    def write_marks(r: int) -> None:
        for c, sev, text in prep.marks_by_row.get(r, ()):
            value = cell_value(r, c)
            if isinstance(value, int):
                ws.write_number(r, c, value, formats.get(sev, header=r == 0))
            else:
                quote = value is not None and value.startswith(_FORMULA_START)
                _write_text(ws, r, c, value, formats.get(sev, header=r == 0, quote=quote))
            ws.write_comment(r, c, text, {"author": "att-report", "x_scale": 2.5,
                                          "y_scale": min(6, 1 + text.count("\n") + len(text) // 120)})

    header_fmt = formats.get(header=True)
    ws.write_string(0, 0, ROW_COLUMN, header_fmt)
    for c, head in enumerate(headers, start=1):
        ws.write_string(0, c, head, header_fmt)
    write_marks(0)

    quote_fmt = formats.get(quote=True)
    if stream:
        for r in sorted(set(prep.marks_by_row) | set(prep.quote_rows)):
            if r == 0:
                continue
            for c in prep.quote_rows.get(r, ()):
                ws.write_string(r, c, columns[c - 1].iat[r - 1], quote_fmt)
            write_marks(r)
    else:
        lists = [col.tolist() for col in columns]
        write_string = ws.write_string
        write_number = ws.write_number
        for i in range(n_rows):
            r = i + 1
            write_number(r, 0, excel_rows[i])
            for c, col in enumerate(lists, start=1):
                v = col[i]
                if v is not None:
                    write_string(r, c, v, quote_fmt if v[0] in _FORMULA_START else None)
            if r in prep.marks_by_row:
                write_marks(r)

    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, max(n_rows, 1), len(headers))


# --- streaming the bulk of large sheets -------------------------------------

_ROW_RE = re.compile(r'<row r="(\d+)"[^>]*?(?:/>|>(.*?)</row>)', re.S)
_CELL_RE = re.compile(r'<c r="([A-Z]+)\d+"[^>]*?/>|<c r="([A-Z]+)\d+"[^>]*>.*?</c>', re.S)
_SHEET_DATA_RE = re.compile(r"<sheetData>(.*?)</sheetData>|<sheetData/>", re.S)
_DIMENSION_RE = re.compile(r'<dimension ref="[^"]*"/>')


def _xml_escape(text: pd.Series) -> pd.Series:
    return text.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False).str.replace(
        ">", "&gt;", regex=False)


def _stream_rows(prep: _Prepared, written: dict[int, dict[str, str]], chunk: int = STREAM_CHUNK):
    """Yield the <row> XML of every data row, built column-wise per chunk.

    Cells XlsxWriter already wrote (marked or quote-prefixed: `written`, by
    Excel row and column letter) replace the generated ones.
    """
    letters = [get_column_letter(c + 1) for c in range(len(prep.columns) + 1)]
    for lo in range(0, prep.n_rows, chunk):
        hi = min(lo + chunk, prep.n_rows)
        rownum = pd.Series(range(lo + 2, hi + 2), dtype="int64").astype("string")
        excel = pd.Series(prep.excel_rows[lo:hi], dtype="int64").astype("string")
        pieces = [('<row r="' + rownum + '"><c r="A' + rownum + '"><v>' + excel + "</v></c>").tolist()]
        for c, col in enumerate(prep.columns, start=1):
            values = col.iloc[lo:hi].reset_index(drop=True).astype("string")
            # xml:space="preserve" only where leading/trailing blanks must survive
            keep_space = (values.str.strip() != values).fillna(False)
            t_open = pd.Series('<t>', index=values.index, dtype="string").mask(keep_space, '<t xml:space="preserve">')
            cell = ('<c r="' + letters[c] + rownum + '" t="inlineStr"><is>' + t_open
                    + _xml_escape(values) + "</t></is></c>")
            pieces.append(cell.fillna("").tolist())
        rows = ["".join(parts) for parts in zip(*pieces)]
        for excel_row, cells in written.items():
            i = excel_row - 2 - lo
            if 0 <= i < hi - lo:
                # rebuild the row: generated cells, except those XlsxWriter wrote
                parts = [f'<row r="{excel_row}">']
                parts.append(cells.get("A", f'<c r="A{excel_row}"><v>{prep.excel_rows[lo + i]}</v></c>'))
                parts += [cells.get(letters[c], pieces[c][i]) for c in range(1, len(pieces))]
                rows[i] = "".join(parts)
        yield "</row>".join(rows) + "</row>"


def _stream_sheet_data(sheet_xml: str, prep: _Prepared, fh) -> None:
    """Write `sheet_xml` (from XlsxWriter) to `fh` with every data row filled in."""
    m = _SHEET_DATA_RE.search(sheet_xml)
    if m is None:
        raise ValueError("worksheet XML without sheetData")
    header = ""
    written: dict[int, dict[str, str]] = {}
    for row in _ROW_RE.finditer(m.group(1) or ""):
        r = int(row.group(1))
        if r == 1:
            header = row.group(0)
            continue
        cells = {}
        for cell in _CELL_RE.finditer(row.group(2) or ""):
            cells[cell.group(1) or cell.group(2)] = cell.group(0)
        written[r] = cells
    last_col = get_column_letter(len(prep.columns) + 1)
    prefix = _DIMENSION_RE.sub(f'<dimension ref="A1:{last_col}{prep.n_rows + 1}"/>', sheet_xml[: m.start()], count=1)
    fh.write((prefix + "<sheetData>" + header).encode("utf-8"))
    for block in _stream_rows(prep, written):
        fh.write(block.encode("utf-8"))
    fh.write(("</sheetData>" + sheet_xml[m.end():]).encode("utf-8"))


def _fast_compression(info: zipfile.ZipInfo) -> None:
    """Deflate level 1 for a bulk sheet: level 6 costs seconds per 100k rows for little gain."""
    for attr in ("compress_level", "_compresslevel"):  # public from Python 3.13
        try:
            setattr(info, attr, 1)
            return
        except AttributeError:
            continue


def _fill_streamed_sheets(path: Path, streamed: dict[int, _Prepared]) -> None:
    """Rewrite the saved workbook, streaming the bulk rows of large sheets in.

    Entries keep the fixed dates and order `xlsxio.save_xlsxwriter` gave
    them, so the bytes stay deterministic.
    """
    src_bytes = path.read_bytes()
    src = zipfile.ZipFile(io.BytesIO(src_bytes))
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            fixed.create_system = info.create_system
            m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            prep = streamed.get(int(m.group(1))) if m else None
            if prep is None:
                dst.writestr(fixed, src.read(info.filename))
                continue
            _fast_compression(fixed)
            big = prep.n_rows * (len(prep.columns) + 1) * 120 > 2**31
            with dst.open(fixed, "w", force_zip64=big) as fh:
                _stream_sheet_data(src.read(info.filename).decode("utf-8"), prep, fh)
    tmp.replace(path)


def _write_findings(ws, frame: pd.DataFrame, formats: _Formats) -> None:
    header_fmt = formats.get(header=True)
    for c, name in enumerate(FINDINGS_COLUMNS):
        ws.write_string(0, c, name, header_fmt)
        ws.set_column(c, c, _FINDINGS_WIDTHS.get(name, 16))
    data = {name: _text_column(frame[name]).tolist() for name in FINDINGS_COLUMNS if name != "row"}
    rows = frame["row"].astype("Int64").tolist() if not frame.empty else []
    for i in range(len(frame)):
        r = i + 1
        for c, name in enumerate(FINDINGS_COLUMNS):
            if name == "row":
                if rows[i] is not pd.NA and rows[i] is not None:
                    ws.write_number(r, c, int(rows[i]))
                continue
            v = data[name][i]
            fmt = formats.get(v) if name == "severity" and v in SEVERITY_FILLS else None
            quote = v is not None and v.startswith(_FORMULA_START)
            if quote:
                fmt = formats.get(v if name == "severity" else None, quote=True)
            _write_text(ws, r, c, v, fmt)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(frame), 1), len(FINDINGS_COLUMNS) - 1)


def write_feedback(path: Path, agency: str, tables: list[RawTable], findings: pd.DataFrame) -> None:
    """Write the feedback workbook for `agency` to `path` (deterministic bytes)."""
    if findings is None or findings.empty:
        mine = pd.DataFrame({name: pd.Series(dtype=object) for name in LOG_FIELDS})
    else:
        mine = sort_frame(findings[findings["agency"].astype(str) == agency].reset_index(drop=True))
    tables = sheet_parts(tables)
    names = sheet_names(tables)
    prepared = [_prepare(t, cell_marks(t, mine)) for t in tables]
    # XlsxWriter numbers sheet files in the order sheets are added: Findings is sheet1
    streamed = {i: p for i, p in enumerate(prepared, start=2) if p.n_rows > STREAM_ROWS}

    def build(wb) -> None:
        formats = _Formats(wb)
        _write_findings(wb.add_worksheet(FINDINGS_SHEET), mine, formats)
        for i, (name, prep) in enumerate(zip(names, prepared), start=2):
            _write_table(wb.add_worksheet(name), prep, formats, stream=i in streamed)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xlsxio.save_xlsxwriter(build, path)
    if streamed:
        _fill_streamed_sheets(path, streamed)
