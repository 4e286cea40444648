"""Read one agency file into RawTables: xlsx, xlsm, ods (fastexcel) and csv.

Every cell is read as text exactly once (fastexcel with all columns as
strings: the fastest reliable reader measured here, and it keeps identifiers
such as `00140915` as written). Positions are absolute, so `excel_rows` are
the row numbers the user sees in Excel (csv: the line number), also when
title or blank rows stand above or between the data.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from att_report.config import AgencyConfig, Limits
from att_report.findings import Finding, Severity
from att_report.intake.early import fastexcel_grid
from att_report.intake.profiles import Profile
from att_report.intake.tables import FileInfo, RawTable
from att_report.schema import HEADER_LOOKUP, header_key

SPREADSHEET_EXTENSIONS = {".xlsx", ".xlsm", ".ods"}
CSV_EXTENSIONS = {".csv", ".txt", ".tsv"}
HEADER_SCAN_ROWS = 30
MIN_HEADER_MATCHES = 3


@dataclass
class FileRead:
    info: FileInfo
    tables: list[RawTable] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def file_digest(path: Path) -> tuple[str, int, float]:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    st = path.stat()
    return h.hexdigest(), st.st_size, st.st_mtime


def column_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 26 -> AA)."""
    return get_column_letter(index + 1)


def read_file(path: Path, agency: AgencyConfig, rel_path: str, *, profile: Profile | None = None,
              limits: Limits | None = None, kind: str | None = None,
              skip_sheets: frozenset[str] = frozenset(), grids: "Grids | None" = None) -> FileRead:
    """Read one file; problems become findings, never exceptions for bad data.

    `kind` is what the preflight found the file to be (by its bytes); by
    default the extension decides. `skip_sheets` are sheets the preflight
    refused (it has reported them). `grids` gives a workbook's sheets as
    already parsed (`early.parse_sheets`, in a reader worker).
    """
    sha, size, mtime = grids.digest if grids is not None and grids.digest else file_digest(path)
    info = FileInfo(agency=agency.name, path=rel_path, sha256=sha, size=size, mtime=mtime)
    result = FileRead(info=info)
    ext = path.suffix.lower()
    kind = kind or ("csv" if ext in CSV_EXTENSIONS else ext.lstrip("."))
    ctx = _Ctx(agency, rel_path, profile, result)
    ctx.skip_sheets = skip_sheets
    try:
        if kind in ("xlsx", "xlsm", "ods"):
            _read_workbook(path, ctx, grids)
        elif kind in ("csv", "text"):
            _read_csv(path, ctx)
        else:
            ctx.file_finding("file-not-spreadsheet",
                             f"This file type ({ext or 'no extension'}) is not read. Save it as .xlsx or .csv "
                             "(UTF-8) using the intake template.")
    except Exception as exc:  # noqa: BLE001 - a broken file is a finding, never a crash
        ctx.file_finding("file-unreadable",
                         f"The file could not be read ({type(exc).__name__}: {_short(exc)}). "
                         "Open it in Excel, save it again as .xlsx, and send it again.")
        result.tables.clear()
        info.readable = False
    info.sheets = [t.sheet for t in result.tables]
    info.rows_read = sum(len(t.data) for t in result.tables)
    return result


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text[:200]


class _Ctx:
    def __init__(self, agency: AgencyConfig, rel_path: str, profile: Profile | None, result: FileRead):
        self.agency = agency
        self.rel_path = rel_path
        self.profile = profile
        self.result = result
        self.skip_sheets: frozenset[str] = frozenset()

    def file_finding(self, code: str, message: str, *, severity: str = Severity.ERROR, sheet: str = "",
                     row: int | None = None, field: str = "", value: str = "") -> None:
        self.result.findings.append(
            Finding(severity=severity, code=code, message=message, agency=self.agency.name,
                    file=self.rel_path, sheet=sheet, row=row, field=field, value=value)
            .with_id(self.agency.name, self.rel_path, sheet, row, field)
        )
        if severity == Severity.ERROR and code in ("file-unreadable", "file-not-spreadsheet"):
            self.result.info.readable = False


# --- spreadsheets ------------------------------------------------------------

@dataclass
class Grids:
    """Sheets already read as text grids: the workbook's sheet names and, per sheet read, its grid.

    A grid is (arrow table of text columns, absolute column indices, visibility) as
    fastexcel gives a sheet read with `header_row=None, skip_rows=0`: row i is Excel row i + 1.
    """

    names: list[str]
    sheets: dict[str, tuple]
    #: the file's `file_digest`, when it was taken while the sheets were parsed (None: take it now)
    digest: tuple[str, int, float] | None = None

    def load(self, name: str) -> tuple:
        return self.sheets[name]


def _read_workbook(path: Path, ctx: _Ctx, grids: Grids | None = None) -> None:
    if grids is None:
        import fastexcel

        reader = fastexcel.read_excel(str(path))
        names = list(reader.sheet_names)

        def load(name: str) -> tuple:
            return fastexcel_grid(reader, name)
    else:
        names, load = list(grids.names), grids.load
    wanted = ctx.profile.sheet if ctx.profile else None
    if wanted is not None:
        if isinstance(wanted, int):
            if not 1 <= wanted <= len(names):
                ctx.file_finding("sheet-missing", f"The profile asks for sheet number {wanted}, but the file has "
                                 f"{len(names)} sheet(s): {', '.join(names)}.")
                return
            names = [names[wanted - 1]]
        elif wanted not in names:
            ctx.file_finding("sheet-missing", f"The profile asks for sheet '{wanted}', which is not in the file "
                             f"(sheets: {', '.join(names)}).")
            return
        else:
            names = [wanted]
    found = 0
    for name in names:
        if name in ctx.skip_sheets:
            continue
        batch, columns, visible = load(name)
        frame = _text_frame(batch)
        letters = [column_letter(c) for c in columns]
        table = _table_from_grid(frame, letters, ctx, sheet=name, first_line=1, explicit=wanted is not None)
        if table is None:
            continue
        table.hidden = visible != "visible"
        if table.hidden:
            ctx.file_finding("sheet-hidden", f"Sheet '{name}' is hidden in the workbook; it was read anyway. "
                             "Check that its rows belong in the report.", severity=Severity.INFO, sheet=name)
        ctx.result.tables.append(table)
        found += 1
    if not found and wanted is None:
        ctx.file_finding("no-header-found",
                         "No sheet in this file has a header row with the intake columns (record_id, flow, "
                         "basis, date, partner_state, category, quantity...). Use the intake template, or "
                         "describe the file's own columns in a profile.")


def field_letters_from_head(cells: dict[tuple[int, int], str], agency: AgencyConfig, rel_path: str, *,
                            sheet: str, profile: Profile | None) -> dict[str, str]:
    """Canonical field -> column letter, from the first rows of a sheet (`safety.head_cells`).

    The same header detection as the full read, on a small grid: an early
    guess at where identifiers are while a large sheet is still being read.
    Empty when no header is found there.
    """
    if not cells:
        return {}
    rows = max(r for r, _ in cells)
    width = max(c for _, c in cells)
    grid = pd.DataFrame([[cells.get((r, c)) for c in range(1, width + 1)] for r in range(1, rows + 1)],
                        dtype=object)
    letters = [column_letter(i) for i in range(width)]
    if profile is not None and isinstance(profile.sheet, str) and profile.sheet != sheet:
        return {}
    ctx = _Ctx(agency, rel_path, profile, FileRead(info=FileInfo(agency=agency.name, path=rel_path, sha256="",
                                                                  size=0, mtime=0.0)))
    table = _table_from_grid(grid, letters, ctx, sheet=sheet, first_line=1, explicit=False)
    if table is None:
        return {}
    return {name: table.column_letters[header] for name, header in table.field_columns.items()
            if header in table.column_letters}


def _text_frame(batch) -> pd.DataFrame:
    """fastexcel's arrow columns (all text) as pandas "string" columns, positionally named.

    Straight from the arrow buffers: no detour through Python objects, no
    second conversion to the "string" dtype later.
    """
    import pyarrow as pa

    columns = {}
    for i, column in enumerate(batch.columns):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = column.cast(pa.large_string())  # an all-blank column comes as the null type
        if not isinstance(column, pa.ChunkedArray):
            column = pa.chunked_array([column])
        columns[i] = pd.arrays.ArrowStringArray(column)
    return pd.DataFrame(columns, index=pd.RangeIndex(batch.num_rows))


def _rows_with_text(body: pd.DataFrame) -> np.ndarray:
    """Rows with a non-blank cell (whitespace only is blank), by arrow passes over the columns.

    Each column is looked at only on the rows still without text: after the
    first column or two that is a handful, not a million (0.75 s -> 0.1 s on
    a 1M-row sheet, in the reader worker the build waits for; issue 7).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = np.zeros(len(body), dtype=bool)
    unknown = np.arange(len(body))
    for i in range(body.shape[1]):
        if not len(unknown):
            break
        values = pa.array(body.iloc[:, i].array)
        if len(unknown) < len(body):
            values = values.take(pa.array(unknown))
        has_text = np.asarray(pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(values), ""), False), dtype=bool)
        keep[unknown[has_text]] = True
        unknown = unknown[~has_text]
    return keep


# --- csv ---------------------------------------------------------------------

def _read_csv(path: Path, ctx: _Ctx) -> None:
    raw = path.read_bytes()
    encoding = (ctx.profile.encoding if ctx.profile and ctx.profile.encoding else None) or ctx.agency.encoding
    text, bad_lines, encoding = _decode(raw, encoding)
    delimiter = _sniff_delimiter(text)
    grid, lines, widths = _parse_csv(text, delimiter)
    if grid is None:
        ctx.file_finding("no-header-found", "The csv file is empty.")
        return
    letters = [column_letter(i) for i in range(grid.shape[1])]
    table = _table_from_grid(grid, letters, ctx, sheet="", first_line=None, lines=lines, explicit=True)
    if table is None:
        return
    # undecodable bytes: the record holding the line is an error naming it (the
    # text is read with U+FFFD in place, so the error is never silent)
    problems = []
    if bad_lines:
        starts = np.asarray(table.excel_rows)
        for line in bad_lines:
            pos = int(np.searchsorted(starts, line, side="right")) - 1
            if pos >= 0:
                problems.append((int(starts[pos]), "", "undecodable",
                                 f"bytes that are not valid {encoding or 'UTF-8'} text (line {line})"))
    header_width = next((n for line, n, _ in widths if line == table.header_row), 0)
    for line, n, has_text in widths:
        if line <= table.header_row or not has_text or n == header_width:
            continue
        kind = "extra-fields" if n > header_width else "short-row"
        problems.append((line, "", kind, f"{n} fields where the header has {header_width}"))
    if problems:
        table.cell_problems = pd.DataFrame(problems, columns=["excel_row", "column", "kind", "detail"])
    ctx.result.tables.append(table)


#: byte-order marks and their codecs (UTF-32's first: its little-endian mark starts with UTF-16's)
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def _decode(raw: bytes, encoding: str | None) -> tuple[str, list[int], str | None]:
    """UTF-8 (BOM or not) first, then the agency's configured encoding.

    A UTF-16 or UTF-32 byte-order mark says how the text is written (Excel's
    "Unicode Text" is UTF-16) and wins over the setting. Returns the text, the
    line numbers whose bytes do not decode (those lines are read with U+FFFD
    and reported as errors, never silently) and the encoding they were read in.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            text = raw.decode(codec.lower(), errors="replace")
            return text, [n for n, line in enumerate(text.split("\n"), start=1) if "\ufffd" in line], codec
    for candidate in ("utf-8-sig", encoding):
        if candidate:
            try:
                return raw.decode(candidate), [], encoding
            except UnicodeDecodeError:
                pass
    codec = encoding or "utf-8"
    bad = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode(codec)
        except UnicodeDecodeError:
            bad.append(number)
    return raw.decode("utf-8-sig" if codec == "utf-8" else codec, errors="replace"), bad, encoding


def _sniff_delimiter(text: str) -> str:
    # the first line with text, looked for in the first megabyte (splitting 100 MB costs 0.3 s),
    # unless it may go on past it
    window = text[:1 << 20]
    lines = window.splitlines()
    at = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if at is not None and (at < len(lines) - 1 or len(window) == len(text)):
        first = lines[at]
    else:
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _parse_csv(text: str, delimiter: str):
    """Parse csv text into a grid of strings, each record's line, and field counts.

    Fast path (no quote characters at all): pandas' C parser, with field
    counts from counting separators per line. With quotes, the C parser too,
    each record's first line counted from the line breaks in its values
    (`_parse_quoted_csv`); the csv module where that could differ. Returns
    (grid, lines, widths) with widths = [(line, fields, has_text)].
    """
    import csv

    if not text or text.isspace():  # (not text.strip(): a copy of the whole text)
        return None, None, []
    if '"' not in text:
        data, exact = _utf8(text)
        physical = pd.Series(pd.arrays.ArrowStringArray(_physical_lines(data, False))).str.rstrip("\r")
        grid = _arrow_csv_grid(text, data, delimiter, quoted=False) if exact else None
        del data
        if grid is None:
            try:
                grid = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, dtype=str, keep_default_na=False,
                                   na_filter=False, skip_blank_lines=False, engine="c", quoting=csv.QUOTE_NONE)
            except (pd.errors.ParserError, ValueError):
                grid = None
        if grid is not None and len(grid) == len(physical):
            lines = np.arange(1, len(grid) + 1)
            counts = physical.str.count(re.escape(delimiter)) + 1
            # as the csv module's reading has it: some field is not all white space (str.strip())
            has_text = physical.str.contains(f"[^{re.escape(PY_WHITESPACE + delimiter)}]", regex=True)
            widths = list(zip(lines.tolist(), counts.tolist(), has_text.tolist()))
            return _blank_to_none(grid), lines, widths
    else:
        quoted = _parse_quoted_csv(text, delimiter)
        if quoted is not None:
            return quoted
    return _parse_csv_records(text, delimiter)


def _parse_csv_records(text: str, delimiter: str):
    """`_parse_csv` by the csv module, record by record: any csv, but ~20x slower than the C parser."""
    import csv

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records, lines = [], []
    start = 1
    for record in reader:
        records.append(record)
        lines.append(start)
        start = reader.line_num + 1
    if not records:
        return None, None, []
    width = max(len(r) for r in records)
    rows = [r + [""] * (width - len(r)) for r in records]
    grid = pd.DataFrame(rows, dtype=object).replace("", None)
    widths = [(line, len(r), any(v.strip() for v in r)) for line, r in zip(lines, records)]
    return grid, np.asarray(lines), widths


#: a line break as the csv module counts lines (io.StringIO with newline="")
_LINE_BREAK = "\r\n|\r|\n"
#: the characters Python's str.isspace() (and so str.strip()) takes for white space
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                 "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _parse_quoted_csv(text: str, delimiter: str):
    """`_parse_csv_records` of csv text with quotes, by pandas' C parser; None where it would differ.

    The csv module builds a Python object per field: ~9 s for a 500k-row
    customs export whose descriptions are quoted, against ~2 s here (issue 7).
    Both give the same values; each record's first line comes from the line
    breaks inside its values (the csv module counts \r\n, \r and \n alike),
    checked against the text's line count. None (the caller then uses the csv
    module) when that check fails (e.g. a lone quote), a record has more fields
    than the first, or the text holds a NUL. Field counts: the delimiters
    outside quoted fields, per record (RE2, without the GIL); a record is blank
    when every field is white space to str.strip().
    """
    import csv

    if "\x00" in text:
        return None
    data, exact = _utf8(text)  # pyarrow reads bytes
    grid = _arrow_csv_grid(text, data, delimiter, quoted=True) if exact else None
    if grid is not None:
        parsed = _quoted_records(grid, text, data, delimiter, strict=True)
        if parsed is not None:
            return parsed
    try:
        grid = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, dtype=str, keep_default_na=False,
                           na_filter=False, skip_blank_lines=False, engine="c", quoting=csv.QUOTE_MINIMAL,
                           doublequote=True)
    except (pd.errors.ParserError, ValueError):
        return None
    return _quoted_records(grid, text, data, delimiter, strict=False)


def _quoted_records(grid: pd.DataFrame, text: str, data: bytes, delimiter: str, *, strict: bool):
    """(grid, each record's first line, widths) for `_parse_quoted_csv`, or None where they could differ.

    `strict` (a grid pyarrow parsed): also None unless every quote in the text
    opens and closes a whole field (`"..."` between delimiters, `""` inside),
    the only quoting on which pyarrow's reader and the csv module are known
    to agree; anything else goes to pandas' C parser, checked as before.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    # each record's first line: the csv module counts a line at each \r\n, \r or \n, those inside
    # quoted fields too (they stay in the values)
    bare_cr = text.count("\r") != text.count("\r\n")
    physical = _physical_lines(data, bare_cr)  # (a \r\n's \r: trimmed below)
    inside = np.zeros(len(grid), dtype=np.int64)
    if len(physical) != len(grid):  # a record spans lines: count the breaks in its values
        for name in grid.columns:
            values = pa.array(grid[name].array)
            found = pc.count_substring_regex(values, _LINE_BREAK) if bare_cr else pc.count_substring(values, "\n")
            inside += np.asarray(pc.fill_null(found, 0), dtype=np.int64)
        if int(inside.sum()) + len(grid) != len(physical):
            return None
    starts = np.concatenate([[1], 1 + np.cumsum(inside + 1)[:-1]]) if len(grid) else np.zeros(0, dtype=np.int64)
    if inside.any():  # a record's text is its lines, joined (only delimiters and quotes are counted in it)
        lines = physical.to_pylist()
        texts = [lines[i] for i in (starts - 1).tolist()]
        for k in np.flatnonzero(inside).tolist():
            texts[k] = "\n".join(lines[starts[k] - 1: starts[k] + inside[k]])
        physical = pa.array(texts, type=pa.large_string())
        del lines, texts
    lines_text = pc.utf8_rtrim(physical, characters="\r")
    del physical
    sep = re.escape(delimiter)
    if strict:
        # every quoted field a whole field: with each one taken out (NUL: the text has none), no quote is
        # left and none stood against anything but a delimiter or the record's ends
        bare = pc.replace_substring_regex(lines_text, '"(?:[^"]|"")*"', "\x00")
        odd = pc.or_(pc.match_substring(bare, '"'),
                     pc.match_substring_regex(bare, f"[^{sep}\\x00]\\x00|\\x00[^{sep}\\x00]"))
        if pc.any(odd).as_py():
            return None
    # a quoted field (it opens at the start of a field) counts as one, whatever delimiters it holds
    # (strict: every quoted field is whole, and already taken out)
    unquoted = bare if strict else pc.replace_substring_regex(lines_text, f'(^|{sep})"(?:[^"]|"")*"', r"\1Q")
    counts = np.asarray(pc.count_substring(unquoted, delimiter), dtype=np.int64) + 1
    counts[np.asarray(pc.equal(lines_text, ""), dtype=bool)] = 0  # the csv module: no field on a blank line
    if len(counts) and counts.max() != grid.shape[1]:
        return None  # the count and the parser disagree: leave it to the csv module
    # a line with a character that is neither white space nor csv syntax has text; the few others
    # (blank lines, lines of delimiters, quotes and spaces) are looked at field by field, as str.strip() does
    space = "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE)
    syntax = space + "".join(f"\\x{{{ord(c):x}}}" for c in '"' + delimiter)
    blank = ~np.asarray(pc.fill_null(pc.match_substring_regex(lines_text, f"[^{syntax}]"), False), dtype=bool)
    maybe = np.flatnonzero(blank)
    if len(maybe):
        for name in grid.columns:
            values = pa.array(grid[name].array).take(pa.array(maybe))
            only_space = pc.fill_null(pc.match_substring_regex(values, f"^[{space}]*$"), True)
            blank[maybe] &= np.asarray(only_space, dtype=bool)
    widths = list(zip(starts.tolist(), counts.tolist(), (~blank).tolist()))
    return _blank_to_none(grid), starts, widths


def _utf8(text: str) -> tuple[bytes, bool]:
    """The text as UTF-8 for pyarrow, and whether exactly so. A lone surrogate (which some configured
    codecs decode to) has no UTF-8: it becomes "?", which serves to count lines and fields (not
    values: then the file's values are read by pandas' parser, not pyarrow's)."""
    try:
        return text.encode("utf-8"), True
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace"), False


def _physical_lines(data: bytes, any_break: bool):
    """The lines of `data` (UTF-8 text) as an arrow array (no Python string per line), without the empty
    one after a final line break. Split at each \n, or with `any_break` at \r\n, \r and \n (as the csv
    module counts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # the bytes as one arrow string, without a copy
    whole = pa.LargeStringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)),
                                             pa.py_buffer(data))
    parts = pc.split_pattern_regex(whole, _LINE_BREAK) if any_break else pc.split_pattern(whole, "\n")
    lines = parts.flatten()
    if len(lines) and lines[len(lines) - 1].as_py() == "":
        lines = lines.slice(0, len(lines) - 1)
    return lines


def _arrow_csv_grid(text: str, data: bytes, delimiter: str, *, quoted: bool) -> pd.DataFrame | None:
    """csv text as a grid of "string" columns, by pyarrow's csv reader (on two threads); None if it cannot.

    ~0.7 s for a 1M-row customs export against ~6 s for pandas' C parser,
    which builds a Python string per field (issue 7). Every field is text
    (no type is guessed: "007" stays "007"), an empty field is "". Only a
    regular file: any record whose field count differs from the first's
    (short or long rows, blank lines, title rows above a wider header) makes
    this None, and the caller's parser, which reports such rows, reads it.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if quoted:  # the first record's fields (its quoted values may hold line breaks)
        import csv

        try:
            width = len(next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))
        except (csv.Error, StopIteration):
            return None
    else:
        end = text.find("\n")
        width = (text if end < 0 else text[:end]).count(delimiter) + 1
    if not width:
        return None
    irregular = []

    def on_invalid(row) -> str:
        irregular.append(row.number)
        return "error" if len(irregular) > 1 else "skip"  # one is enough to know: stop there

    names = [f"c{i}" for i in range(width)]
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data),
            # threads only for a large file: for a small one, handing out the blocks costs more
            read_options=pcsv.ReadOptions(column_names=names, use_threads=len(data) > (4 << 20)),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char='"' if quoted else False,
                                            double_quote=True, escape_char=False, newlines_in_values=quoted,
                                            ignore_empty_lines=False, invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                null_values=[], strings_can_be_null=False,
                                                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeEncodeError, ValueError):
        return None
    if irregular:
        return None
    return pd.DataFrame({i: pd.arrays.ArrowStringArray(table.column(i)) for i in range(width)},
                        index=pd.RangeIndex(table.num_rows))


def _blank_to_none(grid: pd.DataFrame) -> pd.DataFrame:
    """Empty fields as missing values (None, or NA in a "string" column), as the workbook readers give them."""
    if all(isinstance(dtype, pd.StringDtype) for dtype in grid.dtypes):
        import pyarrow as pa
        import pyarrow.compute as pc

        columns = {}
        for name, column in grid.items():  # (grid.iloc[:, i]: ~0.15 ms a column, per file of 365)
            data = column.array._pa_array
            blank = pc.equal(data, "")
            columns[name] = pd.arrays.ArrowStringArray(pc.if_else(blank, pa.scalar(None, data.type), data))
        return pd.DataFrame(columns, index=grid.index)
    return grid.replace("", None)


# --- shared: header detection and table building -----------------------------

def _header_score(values: list, profile: Profile | None) -> int:
    keys = {header_key(v) for v in values if isinstance(v, str) and v.strip()}
    score = 0
    for key in keys:
        if key in HEADER_LOOKUP or (profile and key in profile.columns):
            score += 1
    return score


def _table_from_grid(grid: pd.DataFrame, letters: list[str], ctx: _Ctx, *, sheet: str,
                     first_line: int | None, lines=None, explicit: bool) -> RawTable | None:
    """Find the header row in `grid` (a sheet or csv as text) and cut out the data."""
    profile = ctx.profile
    n = len(grid)
    if n == 0 or grid.shape[1] == 0:
        if explicit:
            ctx.file_finding("sheet-empty", f"{'Sheet ' + repr(sheet) if sheet else 'The file'} is empty.",
                             severity=Severity.WARNING, sheet=sheet)
        return None
    excel_rows = np.asarray(lines) if lines is not None else np.arange(first_line, first_line + n)
    if profile and profile.header_row:
        matches = np.flatnonzero(excel_rows == profile.header_row)
        if not len(matches):
            ctx.file_finding("no-header-found", f"The profile says the header is in row {profile.header_row}, "
                             "but the sheet has no such row.", sheet=sheet)
            return None
        header_pos = int(matches[0])
    else:
        head = grid.head(HEADER_SCAN_ROWS)
        scores = [_header_score(head.iloc[i].tolist(), profile) for i in range(len(head))]
        best = int(np.argmax(scores)) if scores else 0
        if not scores or scores[best] < min(MIN_HEADER_MATCHES, 1 + len(profile.columns) if profile else 99):
            non_blank = int(grid.notna().any(axis=1).sum())
            if non_blank and (explicit or sheet.casefold() not in ("instructions", "lists", "readme", "notes")):
                ctx.file_finding(
                    "no-header-found",
                    f"{'Sheet ' + repr(sheet) if sheet else 'The file'} has {non_blank} non-blank rows but no "
                    "header row with the intake columns in its first "
                    f"{HEADER_SCAN_ROWS} rows, so none of them was read. Use the intake template's headers, "
                    "or describe this layout in a profile.",
                    severity=Severity.ERROR if explicit else Severity.WARNING, sheet=sheet)
            return None
        header_pos = best
    header_values = grid.iloc[header_pos].tolist()
    body = grid.iloc[header_pos + 1:]
    rows = excel_rows[header_pos + 1:]
    # blank rows are not data; dropping them keeps excel_rows right for the rest
    body = body.astype("string")
    keep = _rows_with_text(body)
    skipped = int((~keep).sum())
    body = body.loc[keep]
    rows = rows[keep]
    # name columns by their header text; blank or repeated headers get a clear name
    names, seen = [], {}
    headers = []
    for i, value in enumerate(header_values):
        text = str(value).strip() if isinstance(value, str) and value.strip() else ""
        letter = letters[i] if i < len(letters) else column_letter(i)
        if not text:
            if body.iloc[:, i].notna().any():
                text = f"(no header, column {letter})"
                ctx.file_finding("column-without-header",
                                 f"Column {letter} has data but no header; its values were not used. "
                                 "Give it one of the intake column names or remove it.",
                                 severity=Severity.WARNING, sheet=sheet, row=int(excel_rows[header_pos]),
                                 field=text)
            else:
                names.append(None)
                headers.append(None)
                continue
        key = header_key(text)
        if key in seen:
            ctx.file_finding("duplicate-header",
                             f"The header '{text}' appears twice (columns {seen[key]} and {letter}); only the "
                             f"first is used. Rename or remove column {letter}.",
                             sheet=sheet, row=int(excel_rows[header_pos]), field=text)
            text = f"{text} ({letter})"
        else:
            seen[key] = letter
        names.append(text)
        headers.append(text)
    keep_cols = [i for i, name in enumerate(names) if name is not None]
    data = body.iloc[:, keep_cols].copy()
    data.columns = [names[i] for i in keep_cols]
    data = data.reset_index(drop=True)
    column_letters = {names[i]: (letters[i] if i < len(letters) else column_letter(i)) for i in keep_cols}
    table = RawTable(
        agency=ctx.agency.name, role=ctx.agency.role, file=ctx.rel_path, sheet=sheet,
        header_row=int(excel_rows[header_pos]), data=data, excel_rows=rows.astype("int64"),
        column_letters=column_letters,
    )
    table.field_columns = map_fields(list(data.columns), profile, ctx, sheet, table.header_row)
    if skipped:
        table_note = f"{skipped} blank row(s) below the header were skipped."
        ctx.file_finding("blank-rows-skipped", table_note, severity=Severity.INFO, sheet=sheet)
    return table


def map_fields(headers: list[str], profile: Profile | None, ctx: _Ctx, sheet: str, header_row: int) -> dict[str, str]:
    """Canonical field -> source header. Unknown columns are kept and noted (info)."""
    mapping: dict[str, str] = {}
    for header in headers:
        if header.startswith("(no header"):
            continue
        key = header_key(header)
        canonical = (profile.columns.get(key) if profile else None) or HEADER_LOOKUP.get(key)
        if canonical and canonical not in mapping:
            mapping[canonical] = header
        elif canonical:
            ctx.file_finding("duplicate-header",
                             f"Columns '{mapping[canonical]}' and '{header}' both give '{canonical}'; "
                             f"only '{mapping[canonical]}' is used.", sheet=sheet, row=header_row, field=header)
        else:
            ctx.file_finding("unknown-column",
                             f"Column '{header}' is not an intake column; it is kept in the feedback but not used.",
                             severity=Severity.INFO, sheet=sheet, row=header_row, field=header)
    return mapping
