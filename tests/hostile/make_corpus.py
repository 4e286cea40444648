"""Generate the corpus of hostile and messy input files (no binary blobs in git).

`make_corpus(dir) -> list[Case]` writes each file and says what the intake
must report for it: the preflight kind, whether the file is refused, the
finding codes, and where (sheet, Excel row, column) for cell-level problems.

Run as a script to write the corpus to a folder:  python tests/hostile/make_corpus.py OUT_DIR
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = ["record_id", "flow", "basis", "licence_no", "date", "partner_state", "category", "quantity", "value"]


def _row_values(i: int) -> list:
    return [f"R{i:04d}", "export", "authorized", f"L-{i:05d}", "2024-03-15", "DEU", "II", i, 1000.0 * i]


@dataclass
class Case:
    name: str
    path: Path
    kind: str  # expected sniff/preflight kind
    refuse: bool = False  # the whole file is refused
    codes: tuple[str, ...] = ()  # finding codes the preflight must report
    sheet: str = ""  # sheet the problem is on
    #: (excel_row, column letter, kind) expected in that sheet's cell_problems
    cells: tuple[tuple[int, str, str], ...] = ()
    sheet_refused: bool = False  # that sheet must not be handed to a reader
    hidden_rows: tuple[int, ...] = ()
    #: more facts for end-to-end tests: e.g. {"rows": 50} rows that must be read
    facts: dict = field(default_factory=dict)


# --- a minimal OOXML writer (raw parts, so every byte is under our control) -----------

def _cell(ref: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<c r="{ref}"><v>{value!r}</v></c>' if isinstance(value, float) else f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def col_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def sheet_xml(rows: list[list], *, start_row: int = 1, dimension: str | None = None, extra_rows: str = "",
              after_data: str = "", row_attrs: dict[int, str] | None = None, cells: dict[int, str] | None = None,
              prolog: str = "") -> str:
    """Worksheet XML: `rows` from `start_row`; raw XML hooks for the hostile bits."""
    body = []
    n_cols = max((len(r) for r in rows), default=1)
    for k, values in enumerate(rows):
        r = start_row + k
        attrs = (row_attrs or {}).get(r, "")
        inner = "".join(_cell(f"{col_letter(j)}{r}", v) for j, v in enumerate(values))
        inner += (cells or {}).get(r, "")
        body.append(f'<row r="{r}"{attrs}>{inner}</row>')
    last = start_row + len(rows) - 1
    dim = dimension if dimension is not None else f"A1:{col_letter(n_cols - 1)}{max(last, 1)}"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + prolog +
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<dimension ref="{dim}"/><sheetData>' + "".join(body) + extra_rows + "</sheetData>" + after_data +
        "</worksheet>"
    )


def table(n: int = 5) -> list[list]:
    return [HEADER] + [_row_values(i) for i in range(1, n + 1)]


def write_xlsx(path: Path, sheets: list[tuple[str, str, str]], *, extra: dict[str, bytes | str] | None = None,
               workbook_pr: str = "", content_types: str = "", wb_rels_extra: str = "",
               vba: bool = False) -> Path:
    """sheets: (name, worksheet xml, state). extra: more zip parts."""
    ct = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>',
        '<Default Extension="xml" ContentType="application/xml"/>',
    ]
    if vba:
        ct.append('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>')
        main = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    else:
        main = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    ct.append(f'<Override PartName="/xl/workbook.xml" ContentType="{main}"/>')
    ct.append('<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>')
    for i, _ in enumerate(sheets, 1):
        ct.append(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
    ct.append(content_types + "</Types>")
    wb_sheets = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}"' + ("" if state == "visible" else f' state="{state}"')
        + f' r:id="rId{i}"/>' for i, (name, _, state) in enumerate(sheets, 1))
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<workbookPr{workbook_pr}/><sheets>{wb_sheets}</sheets></workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{i}.xml"/>' for i, _ in enumerate(sheets, 1))
    n = len(sheets)
    rels += (f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
             'Target="styles.xml"/>')
    if vba:
        rels += (f'<Relationship Id="rId{n + 2}" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
                 'Target="vbaProject.bin"/>')
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": "".join(ct),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": workbook,
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + rels + wb_rels_extra + "</Relationships>"),
        "xl/styles.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
            "</styleSheet>"),
    }
    for i, (_, xml, _) in enumerate(sheets, 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    if vba:
        parts["xl/vbaProject.bin"] = _cfb({"VBA/dir": b"\x01" * 64, "PROJECT": b'ID="{00000000}"\r\nName="VBAProject"\r\n'})
    parts.update(extra or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --- a minimal OLE compound file writer ([MS-CFB] v3, 512-byte sectors) -----------------

def _cfb(streams: dict[str, bytes]) -> bytes:
    """A compound file holding `streams` (each padded to 4096 bytes so no mini stream is needed)."""
    ssz, per = 512, 128
    END, FREE, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    datas = [(name, data + b"\x00" * max(0, 4096 - len(data))) for name, data in streams.items()]
    n_dir_entries = 1 + len(datas)
    dir_sectors = -(-n_dir_entries * 128 // ssz)
    data_sectors = sum(-(-len(d) // ssz) for _, d in datas)
    n_fat = 1
    while n_fat * per < n_fat + dir_sectors + data_sectors:
        n_fat += 1
    fat = [FATSECT] * n_fat
    dir_start = len(fat)
    fat += [dir_start + i + 1 for i in range(dir_sectors - 1)] + [END]
    starts, body = [], b""
    for _, d in datas:
        count = -(-len(d) // ssz)
        start = len(fat)
        starts.append(start)
        fat += [start + i + 1 for i in range(count - 1)] + [END]
        body += d + b"\x00" * (count * ssz - len(d))
    fat += [FREE] * (n_fat * per - len(fat))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        return (raw.ljust(64, b"\x00") + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", FREE, right, child) + b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16
                + struct.pack("<IQ", start, size))

    dirs = entry("Root Entry", 5, 1 if datas else FREE, FREE, END, 0)
    for i, ((name, d), start) in enumerate(zip(datas, starts), 1):
        dirs += entry(name, 2, FREE, i + 1 if i < len(datas) else FREE, start, len(d))
    dirs = dirs.ljust(dir_sectors * ssz, b"\x00")
    difat = [i for i in range(n_fat)] + [FREE] * (109 - n_fat)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\x00" * 6 + struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096, END, 0, END, 0)
              + struct.pack("<109I", *difat))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return header + fat_bytes + dirs + body


# --- the corpus ---------------------------------------------------------------------------

def _xlsx_bytes(sheets, **kw) -> bytes:
    buf = io.BytesIO()
    write_xlsx(buf, sheets, **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def make_corpus(out: Path | str, *, big: bool = True) -> list[Case]:
    """Write every hostile/messy file into `out`; return the expectations.

    `big=False` leaves out the two cases that write tens of MB (zip bomb,
    formatted rows to the sheet's end) for quick runs.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    T = "Transfers"

    def add(case: Case) -> None:
        cases.append(case)

    # XML attacks
    laughs = ('<!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10))
              + "]>\n")
    xml = sheet_xml(table(2), prolog=laughs, cells={3: '<c r="J3" t="inlineStr"><is><t>&lol9;</t></is></c>'})
    add(Case("billion-laughs", write_xlsx(out / "billion_laughs.xlsx", [(T, xml, "visible")]), "xlsx",
             refuse=True, codes=("xml-entities",)))
    sst = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
           "<si><t>&xxe;</t></si></sst>")
    add(Case("external-entity", write_xlsx(out / "xxe.xlsx", [(T, sheet_xml(table(2)), "visible")],
                                           extra={"xl/sharedStrings.xml": sst}), "xlsx",
             refuse=True, codes=("xml-entities",)))
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x [<!ENTITY a "b">]>'
             + sheet_xml(table(2)).split("\n", 1)[1]).encode("utf-16")
    add(Case("entity-in-utf16-part", write_xlsx(out / "utf16_entity.xlsx", [(T, "", "visible")],
                                                extra={"xl/worksheets/sheet1.xml": utf16}), "xlsx",
             refuse=True, codes=("xml-entities",)))

    # zip bombs
    if big:
        pad = " " * (60 * 1024 * 1024)
        bomb = sheet_xml(table(2), after_data=f"<!-- -->{pad}")
        add(Case("zip-bomb-ratio", write_xlsx(out / "zip_bomb.xlsx", [(T, bomb, "visible")]), "xlsx",
                 refuse=True, codes=("zip-bomb",)))
    many = {f"xl/media/pad{i}.xml": "<a/>" for i in range(10_001)}
    add(Case("zip-too-many-entries", write_xlsx(out / "many_entries.xlsx", [(T, sheet_xml(table(2)), "visible")],
                                                extra=many), "xlsx", refuse=True, codes=("zip-bomb",)))

    # sheets that lie about their size
    far = sheet_xml(table(3), dimension="A1:XFD1048576",
                    extra_rows='<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    add(Case("far-cell-xfd1048576", write_xlsx(out / "far_cell.xlsx", [(T, far, "visible")]), "xlsx",
             codes=("sheet-too-large",), sheet=T, sheet_refused=True))
    add(Case("lying-dimension", write_xlsx(out / "lying_dimension.xlsx",
                                           [(T, sheet_xml(table(49), dimension="A1:A1"), "visible")]), "xlsx",
             sheet=T, facts={"rows": 50, "dimension_rows": 1}))

    # macros, links, DDE
    add(Case("xlsm-vba", write_xlsx(out / "macros.xlsm", [(T, sheet_xml(table(3)), "visible")], vba=True),
             "xlsm", codes=("macros-ignored",)))
    macro_sheet = ('<?xml version="1.0" encoding="UTF-8"?>\n<xm:macrosheet '
                   'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><sheetData>'
                   '<row r="1"><c r="A1"><f>EXEC("calc.exe")</f><v>0</v></c></row></sheetData></xm:macrosheet>')
    add(Case("xlm-macro-sheet", write_xlsx(
        out / "macro_sheet.xlsx", [(T, sheet_xml(table(3)), "visible")],
        extra={"xl/macrosheets/sheet1.xml": macro_sheet},
        content_types='<Override PartName="/xl/macrosheets/sheet1.xml" '
                      'ContentType="application/vnd.ms-excel.macrosheet+xml"/>'), "xlsx", codes=("macros-ignored",)))
    ext = ('<?xml version="1.0" encoding="UTF-8"?>\n<externalLink '
           'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<ddeLink ddeService="cmd" ddeTopic=" /C calc"><ddeItems><ddeItem name="A0" advise="1"/>'
           "</ddeItems></ddeLink></externalLink>")
    dde_sheet = sheet_xml(table(3), cells={3: "<c r=\"J3\"><f>cmd|' /C calc'!A0</f><v>0</v></c>"})
    add(Case("external-link-dde", write_xlsx(out / "dde.xlsx", [(T, dde_sheet, "visible")],
                                             extra={"xl/externalLinks/externalLink1.xml": ext}), "xlsx",
             codes=("external-links-ignored", "dde-ignored"), sheet=T, facts={"dde_cell": (3, "J")}))
    # a DDE call spelled in lower case, no pipe and no external link: only the formula gives it away
    dde_lower = sheet_xml(table(3), cells={2: '<c r="K2"><f>dde("cmd";"/c calc";"A0")</f><v>0</v></c>'})
    add(Case("dde-function-lower-case", write_xlsx(out / "dde_lower.xlsx", [(T, dde_lower, "visible")]), "xlsx",
             codes=("dde-ignored",), sheet=T))

    # containers that are not workbooks we read
    info = struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>'
    (out / "encrypted.xlsx").write_bytes(_cfb({"EncryptionInfo": info, "EncryptedPackage": b"\x00" * 64}))
    add(Case("encrypted-ooxml", out / "encrypted.xlsx", "encrypted", refuse=True, codes=("file-encrypted",)))
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x2775, 0x07CD, 0, 0x0206)
    (out / "legacy.xls").write_bytes(_cfb({"Workbook": bof}))
    add(Case("legacy-xls", out / "legacy.xls", "xls-legacy", refuse=True, codes=("file-legacy-xls",)))
    (out / "renamed_csv.xlsx").write_text(",".join(HEADER) + "\nR1,export,actual,L1,2024-01-02,DEU,II,1,10\n")
    add(Case("csv-renamed-xlsx", out / "renamed_csv.xlsx", "csv", refuse=True, codes=("file-not-spreadsheet",)))
    (out / "renamed_html.xlsx").write_text(
        "<html><body><table><tr><td>record_id</td></tr><tr><td>R1</td></tr></table></body></html>")
    add(Case("html-renamed-xlsx", out / "renamed_html.xlsx", "html", refuse=True, codes=("file-not-spreadsheet",)))
    (out / "report.xlsx").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n")
    add(Case("pdf-renamed-xlsx", out / "report.xlsx", "pdf", refuse=True, codes=("file-not-spreadsheet",)))
    with zipfile.ZipFile(out / "archive.xlsx", "w") as zf:
        zf.writestr("notes.txt", "hello")
    add(Case("zip-renamed-xlsx", out / "archive.xlsx", "zip-other", refuse=True, codes=("file-not-spreadsheet",)))
    good = _xlsx_bytes([(T, sheet_xml(table(40)), "visible")])
    (out / "truncated.xlsx").write_bytes(good[: len(good) // 2])
    add(Case("truncated-xlsx", out / "truncated.xlsx", "xlsx", refuse=True, codes=("file-truncated",)))
    bad = bytearray(good)
    info0 = zipfile.ZipFile(io.BytesIO(good)).getinfo("xl/worksheets/sheet1.xml")
    data_at = info0.header_offset + 30 + len(info0.filename) + len(info0.extra)
    bad[data_at + info0.compress_size // 2] ^= 0xFF
    (out / "crc_error.xlsx").write_bytes(bytes(bad))
    add(Case("corrupt-entry-crc", out / "crc_error.xlsx", "xlsx", refuse=True, codes=("file-truncated",)))
    (out / "empty.xlsx").write_bytes(b"")
    add(Case("empty-file", out / "empty.xlsx", "empty", refuse=True, codes=("file-empty",)))
    (out / "empty.csv").write_bytes(b"")
    add(Case("empty-csv", out / "empty.csv", "empty", refuse=True, codes=("file-empty",)))

    # fidelity: cells that fast readers show as blank
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = T
    for r in table(4):
        ws.append(r)
    ws["H3"] = "=2*3"  # openpyxl writes formulas with no cached value
    ws["I4"] = "=SUM(I2:I3)"
    wb.save(out / "formulas_no_value.xlsx")
    add(Case("formula-no-value", out / "formulas_no_value.xlsx", "xlsx", sheet=T,
             cells=((3, "H", "formula-no-value"), (4, "I", "formula-no-value"))))
    err = sheet_xml(table(4), cells={})
    err = err.replace('<c r="G3" t="inlineStr"><is><t>II</t></is></c>', '<c r="G3" t="e"><v>#N/A</v></c>')
    err = err.replace('<c r="I4"><v>3000.0</v></c>', '<c r="I4" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    add(Case("error-cells", write_xlsx(out / "error_cells.xlsx", [(T, err, "visible")]), "xlsx", sheet=T,
             cells=((3, "G", "error-cell"), (4, "I", "error-cell"))))
    pref = err.replace("<worksheet xmlns=", "<x:worksheet xmlns:x=").replace("</worksheet>", "</x:worksheet>")
    for tag in ("sheetData", "row", "c", "v", "is", "t", "f", "dimension"):
        pref = pref.replace(f"<{tag} ", f"<x:{tag} ").replace(f"<{tag}>", f"<x:{tag}>").replace(f"</{tag}>", f"</x:{tag}>")
    add(Case("error-cells-prefixed-xml", write_xlsx(out / "error_cells_prefixed.xlsx", [(T, pref, "visible")]),
             "xlsx", sheet=T, cells=((3, "G", "error-cell"), (4, "I", "error-cell"))))
    merged = table(6)
    merged[3][5] = merged[4][5] = None  # F5, F6 covered by the merge F4:F6
    mxml = sheet_xml(merged, after_data='<mergeCells count="1"><mergeCell ref="F4:F6"/></mergeCells>')
    add(Case("merged-over-data", write_xlsx(out / "merged.xlsx", [(T, mxml, "visible")]), "xlsx", sheet=T,
             cells=((5, "F", "merged"), (6, "F", "merged"))))
    hxml = sheet_xml(table(5), row_attrs={3: ' hidden="1"', 5: ' hidden="1"'})
    add(Case("hidden-sheet-and-rows", write_xlsx(out / "hidden.xlsx", [
        (T, hxml, "visible"), ("Old", sheet_xml(table(2)), "hidden"), ("Secret", sheet_xml(table(2)), "veryHidden")]),
        "xlsx", codes=("rows-hidden", "sheet-hidden"), sheet=T, hidden_rows=(3, 5)))
    if big:
        fmt = "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(52, 1_048_577))
        add(Case("formatted-rows-to-end", write_xlsx(out / "formatted_rows.xlsx", [
            (T, sheet_xml(table(50), extra_rows=fmt), "visible")]), "xlsx", codes=("empty-rows-ignored",),
            sheet=T, facts={"rows": 51, "last_data_row": 51}))

    # dates: before 1900-03-01, Excel's phantom 29 Feb 1900 (serial 60), the 1904 system
    dates = table(4)
    for k, serial in enumerate((1, 59, 60, 61), start=1):
        dates[k][4] = serial
    dxml = sheet_xml(dates)
    for r, serial in zip(range(2, 6), (1, 59, 60, 61)):
        dxml = dxml.replace(f'<c r="E{r}"><v>{serial}</v></c>', f'<c r="E{r}" s="1"><v>{serial}</v></c>')
    add(Case("dates-1900", write_xlsx(out / "dates_1900.xlsx", [(T, dxml, "visible")]), "xlsx", sheet=T,
             facts={"dates": {2: "1900-01-01", 3: "1900-02-28", 4: "invalid", 5: "1900-03-01"}}))
    d04 = table(2)
    d04[1][4] = 45000  # 2027-03-15 in the 1904 system (2023-03-15 in the 1900 system)
    x04 = sheet_xml(d04).replace('<c r="E2"><v>45000</v></c>', '<c r="E2" s="1"><v>45000</v></c>')
    add(Case("dates-1904-system", write_xlsx(out / "dates_1904.xlsx", [(T, x04, "visible")],
                                             workbook_pr=' date1904="1"'), "xlsx", sheet=T,
             facts={"date1904": True, "dates": {2: "2027-03-16"}}))

    # identifiers stored as numbers
    ids = table(3)
    ids[1][0] = 12345678901234567  # 17 digits: Excel keeps 15, precision already lost
    ids[2][3] = 140915  # licence number that lost its leading zeros
    add(Case("identifiers-as-numbers", write_xlsx(out / "ids_as_numbers.xlsx", [(T, sheet_xml(ids), "visible")]),
             "xlsx", sheet=T, facts={"numeric": {(2, "A"): 17, (3, "D"): 6}}))

    # csv: messy but readable (each must give a finding with the right line, no column shift)
    hdr = ",".join(HEADER)
    csvs = {
        "short_rows.csv": (hdr + "\nR1,export,actual,L1,2024-01-02,DEU,II,1,10\nR2,export,actual\n"
                           "R3,export,actual,L3,2024-01-02,DEU,II,3,30\n", {"line": 3}),
        "extra_fields.csv": (hdr + "\nR1,export,actual,L1,2024-01-02,DEU,II,1,10\n"
                             "R2,export,actual,L2,2024-01-02,DEU,II,2,20,surplus\n", {"line": 3}),
        "embedded_newlines.csv": (hdr + ',description\nR1,export,actual,L1,2024-01-02,DEU,II,1,10,"two\nlines"\n'
                                  "R2,export,actual,L2,2024-01-02,DEU,II,2,20,x\n", {"line_of_R2": 4}),
        "blank_lines.csv": (hdr + "\n\nR1,export,actual,L1,2024-01-02,DEU,II,1,10\n\n\n"
                            "R2,export,actual,L2,2024-01-02,DEU,II,2,20\n", {"line_of_R2": 6}),
        "duplicate_headers.csv": (hdr + ",quantity\nR1,export,actual,L1,2024-01-02,DEU,II,1,10,2\n", {"line": 1}),
        "control_chars.csv": (hdr + ",description\nR1,export,actual,L1,2024-01-02,DEU,II,1,10,bad\x07bell\x1b\n",
                              {"line": 2}),
        "long_text.csv": (hdr + ",comments\nR1,export,actual,L1,2024-01-02,DEU,II,1,10," + "x" * 40_000 + "\n",
                          {"line": 2}),
    }
    for name, (text, facts) in csvs.items():
        (out / name).write_bytes(text.encode("utf-8"))
        add(Case(f"csv-{name[:-4].replace('_', '-')}", out / name, "csv", facts=facts))
    mixed = (hdr + "\n").encode() + "R1,export,actual,L1,2024-01-02,Côte d'Ivoire,II,1,10\n".encode("utf-8") \
        + "R2,export,actual,L2,2024-01-02,Côte d'Ivoire,II,2,20\n".encode("cp1252")
    (out / "mixed_encodings.csv").write_bytes(mixed)
    add(Case("csv-mixed-encodings", out / "mixed_encodings.csv", "csv", facts={"line": 3}))
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile_corpus")
    for case in make_corpus(target):
        print(f"{case.name:28s} {case.path.name:28s} kind={case.kind:10s} refuse={case.refuse!s:5s} {','.join(case.codes)}")
