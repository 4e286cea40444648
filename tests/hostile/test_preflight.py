"""Hostile and messy files: each corpus case gives the expected preflight verdict."""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import Case, make_corpus, sheet_xml, table, write_xlsx  # noqa: E402

from att_report.config import Limits  # noqa: E402
from att_report.findings import Severity  # noqa: E402
from att_report.intake.safety import (  # noqa: E402
    col_index,
    col_letters,
    contain_policy,
    numeric_cells,
    preflight,
    sniff,
)

AGENCY, T = "Customs", "Transfers"
NAMES = [c.name for c in make_corpus(Path(tempfile.mkdtemp(prefix="corpus-names-")), big=False)]
NAMES += ["zip-bomb-ratio", "formatted-rows-to-end"]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Case]:
    return {c.name: c for c in make_corpus(tmp_path_factory.mktemp("hostile"))}


def run(case: Case, limits: Limits | None = None):
    return preflight(case.path, limits or Limits(), agency=AGENCY, rel_file=f"inputs/customs/{case.path.name}")


@pytest.mark.parametrize("name", NAMES)
def test_case_verdict(corpus, name):
    case = corpus[name]
    assert sniff(case.path) == case.kind
    pre = run(case)
    codes = [f.code for f in pre.findings]
    assert pre.kind == case.kind
    assert pre.refuse == case.refuse, codes
    assert set(case.codes) <= set(codes), codes
    for f in pre.findings:  # every finding names the file and agency, says how to fix
        assert f.agency == AGENCY and f.file == f"inputs/customs/{case.path.name}"
        assert f.finding_id.startswith("F-") and len(f.message) > 40
    if case.refuse:  # one clear error finding per refused file
        assert [f.severity for f in pre.findings].count(Severity.ERROR) == 1
    if case.cells:
        problems = pre.sheets[case.sheet].cell_problems
        got = set(zip(problems["excel_row"], problems["column"], problems["kind"]))
        assert set(case.cells) <= got, problems
    if case.sheet_refused:
        assert pre.sheets[case.sheet].refuse
    if case.hidden_rows:
        assert pre.sheets[case.sheet].hidden_rows == list(case.hidden_rows)


def test_far_cell_is_named_and_sheet_refused(corpus):
    pre = run(corpus["far-cell-xfd1048576"])
    (f,) = [f for f in pre.findings if f.code == "sheet-too-large"]
    assert f.severity == Severity.ERROR and f.sheet == T and f.value == "XFD1048576"
    scan = pre.sheets[T]
    assert (scan.max_row, scan.max_col) == (1_048_576, 16_384)
    assert contain_policy(pre)


def test_lying_dimension_keeps_true_extent(corpus):
    scan = run(corpus["lying-dimension"]).sheets[T]
    assert scan.dimension == "A1:A1" and scan.dimension_rows == 1
    assert scan.max_row == 50 and scan.last_data_row == 50


def test_lying_dimension_fastexcel_reads_every_row(corpus):
    """Verified here, not assumed: fastexcel (calamine) ignores the <dimension> tag."""
    import fastexcel

    sheet = fastexcel.read_excel(str(corpus["lying-dimension"].path)).load_sheet(
        T, header_row=None, skip_rows=0, dtypes="string")
    assert sheet.to_pandas().shape[0] == 50


def test_hidden_sheets_and_rows(corpus):
    pre = run(corpus["hidden-sheet-and-rows"])
    hidden = {f.sheet: f.value for f in pre.findings if f.code == "sheet-hidden"}
    assert hidden == {"Old": "hidden", "Secret": "veryHidden"}
    (rows,) = [f for f in pre.findings if f.code == "rows-hidden"]
    assert rows.sheet == T and rows.row == 3 and rows.value == "3, 5"
    assert list(pre.sheets) == [T, "Old", "Secret"]  # workbook order, resolved via the rels


def test_dde_finding_names_the_cell(corpus):
    pre = run(corpus["external-link-dde"])
    (dde,) = [f for f in pre.findings if f.code == "dde-ignored"]
    assert (dde.sheet, dde.row, dde.field) == (T, 3, "J") and "cmd|" in dde.value
    assert pre.sheets[T].cell_problems.empty  # reported once, as a file note, not a cell error


def test_dde_call_in_lower_case_is_found(corpus):
    """Formula names are case-insensitive: the scan's prefilters must not only look for "DDE"."""
    pre = run(corpus["dde-function-lower-case"])
    (dde,) = [f for f in pre.findings if f.code == "dde-ignored"]
    assert (dde.sheet, dde.row, dde.field) == (T, 2, "K") and dde.value.startswith("=dde(")


def test_formatted_rows_to_the_end_noted_quickly(corpus):
    pre = run(corpus["formatted-rows-to-end"])
    scan = pre.sheets[T]
    assert scan.last_data_row == 51 and scan.max_row == 1_048_576 and not scan.refuse
    (f,) = [f for f in pre.findings if f.code == "empty-rows-ignored"]
    assert f.row == 52 and f.severity == Severity.INFO
    assert pre.seconds < 20


def test_date_system_flag(corpus):
    assert run(corpus["dates-1904-system"]).date1904 is True
    assert run(corpus["dates-1900"]).date1904 is False


def test_numeric_identifiers(corpus):
    case = corpus["identifiers-as-numbers"]
    cells = numeric_cells(case.path, T, ["A", "D"])
    got = {(r, c): d for r, c, d in zip(cells["excel_row"], cells["column"], cells["digits"])}
    assert got == case.facts["numeric"]  # text cells (R0002, L-00002...) are not listed
    assert set(cells["kind"]) == {"number-identifier"}
    assert numeric_cells(case.path, "No such sheet", ["A"]).empty
    assert numeric_cells(case.path, T, []).empty
    # quantity column H holds numbers on every data row
    assert sorted(numeric_cells(case.path, T, ["h"])["excel_row"]) == [2, 3, 4]


def test_numeric_cells_other_attribute_order(tmp_path):
    xml = sheet_xml(table(2)).replace('<c r="H2"><v>1</v></c>', '<c s="0" r="H2"><v>1</v></c>')
    xml = xml.replace('<c r="H3"><v>2</v></c>', '<c s="0" t="s" r="H3"><v>0</v></c>')
    path = write_xlsx(tmp_path / "order.xlsx", [(T, xml, "visible")])
    cells = numeric_cells(path, T, ["H"])
    assert list(cells["excel_row"]) == [2]


@pytest.mark.parametrize("limits, code", [
    (Limits(max_zip_entries=3), "zip-bomb"),
    (Limits(max_entry_bytes=500), "zip-bomb"),
    (Limits(max_total_bytes=2_000), "zip-bomb"),
])
def test_limits_are_configurable(tmp_path, limits, code):
    path = write_xlsx(tmp_path / "ok.xlsx", [(T, sheet_xml(table(30)), "visible")])
    assert not run_path(path).refuse
    pre = run_path(path, limits)
    assert pre.refuse and [f.code for f in pre.findings] == [code]


def run_path(path: Path, limits: Limits | None = None):
    return preflight(path, limits or Limits(), agency=AGENCY, rel_file=path.name)


def test_honest_workbooks_pass_clean(tmp_path):
    import openpyxl
    import xlsxwriter

    a = tmp_path / "openpyxl.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = T
    for r in table(2000):
        ws.append(r)
    wb.save(a)
    b = tmp_path / "xlsxwriter.xlsx"
    wb2 = xlsxwriter.Workbook(b)
    ws2 = wb2.add_worksheet(T)
    for i, r in enumerate(table(2000)):
        ws2.write_row(i, 0, r)
    wb2.close()
    for path in (a, b):
        pre = run_path(path)
        assert (pre.kind, pre.refuse, pre.findings) == ("xlsx", False, [])
        scan = pre.sheets[T]
        assert scan.cell_problems.empty and scan.hidden_rows == [] and scan.last_data_row == 2001
        assert not contain_policy(pre)


def test_zip_entry_lying_about_its_size_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "lies.xlsx", [(T, sheet_xml(table(200)), "visible")])
    raw = bytearray(path.read_bytes())
    # shrink the declared size in the central directory: readers that trust it stop early
    cd = bytes(raw).find(b"xl/worksheets/sheet1.xml", bytes(raw).find(b"PK\x01\x02")) - 46
    raw[cd + 24: cd + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    pre = run_path(path)
    assert pre.refuse and pre.findings[0].code == "file-truncated"


def test_wrong_extension_between_workbook_kinds(tmp_path):
    path = write_xlsx(tmp_path / "really_xlsx.ods", [(T, sheet_xml(table(2)), "visible")])
    pre = run_path(path)
    assert pre.refuse and pre.findings[0].code == "file-wrong-extension" and ".xlsx" in pre.findings[0].message


def test_column_letters_roundtrip():
    for i in (1, 26, 27, 52, 702, 703, 16384):
        assert col_index(col_letters(i)) == i
    assert col_letters(16384) == "XFD"
