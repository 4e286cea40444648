"""OpenDocument sheets get the cell facts an xlsx sheet gets (issue 2: hidden sheets and rows are
noted; issue 5: merged cells over data are an error, never a silent blank).

Each case is an .ods written by hand (content.xml), read through the real intake.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent.parent))
from intake_helpers import GOOD, HEADER, intake, write_workspace  # noqa: E402

from att_report.config import Limits  # noqa: E402
from att_report.intake import safety  # noqa: E402

NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
      'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
      'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
      'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
      'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"')


def cell(text: str, attrs: str = "") -> str:
    if text == "":
        return f"<table:table-cell{attrs}/>"
    return (f'<table:table-cell office:value-type="string"{attrs}>'
            f"<text:p>{escape(text)}</text:p></table:table-cell>")


def row(values: list[str], attrs: str = "", cells: dict[int, str] | None = None) -> str:
    """A row of text cells; `cells` replaces the cell at a 0-based column by raw XML."""
    out = [(cells or {}).get(i) or cell(v) for i, v in enumerate(values)]
    return f"<table:table-row{attrs}>{''.join(out)}</table:table-row>"


def data(i: int, **over) -> list[str]:
    return [{**GOOD, "record_id": f"R{i}", **over}[h] for h in HEADER]


def write_ods(path: Path, tables: list[tuple[str, str, bool]], *, mangle=None) -> Path:
    """(name, rows XML, hidden) per sheet; `mangle` may change content.xml's bytes."""
    body = "".join(f'<table:table table:name="{name}" table:style-name="{"ta2" if hidden else "ta1"}">'
                   f"{rows}</table:table>" for name, rows, hidden in tables)
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS} office:version="1.2">'
               '<office:automatic-styles>'
               '<style:style style:name="ta1" style:family="table"><style:table-properties table:display="true"/>'
               '</style:style>'
               '<style:style style:name="ta2" style:family="table"><style:table-properties table:display="false"/>'
               '</style:style></office:automatic-styles>'
               f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body>"
               "</office:document-content>")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>"))
        data = content.encode()
        zf.writestr("content.xml", mangle(data) if mangle else data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def _workspace(tmp_path: Path, tables: list[tuple[str, str, bool]]):
    write_workspace(tmp_path)
    toml = tmp_path / "att-report.toml"
    toml.write_text(toml.read_text().replace('"inputs/customs/*.xlsx"', '"inputs/customs/*.ods"'))
    write_ods(tmp_path / "inputs" / "customs" / "t.ods", tables)
    return intake(tmp_path)


def _found(result, code: str):
    return result.findings[result.findings["code"] == code]


#: what LibreOffice writes after the last row: a million formatted empty rows of 1024 empty cells
TRAILER = ('<table:table-row table:number-rows-repeated="1048570">'
           '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>')


def test_a_plain_ods_sheet_has_no_cell_facts_and_excel_rows(tmp_path):
    rows = (row(HEADER) + row(data(1)) + '<table:table-row table:number-rows-repeated="2"/>' + row(data(2))
            + TRAILER)
    result = _workspace(tmp_path, [("Transfers", rows, False)])
    pre = safety.preflight(tmp_path / "inputs" / "customs" / "t.ods", Limits())
    scan = pre.sheets["Transfers"]
    assert (scan.last_data_row, scan.max_col, scan.refuse) == (5, len(HEADER), False)
    assert result.records["record_id"].tolist() == ["R1", "R2"]
    assert result.records["src_row"].tolist() == [2, 5]  # the two empty rows between count, as LibreOffice shows
    for code in ("merged-cells", "rows-hidden", "sheet-hidden", "cell-error", "formula-no-value", "dde-ignored"):
        assert _found(result, code).empty, code


def test_merged_cells_over_data_are_an_error_naming_the_covered_cell(tmp_path):
    col = HEADER.index("partner_state")
    merged = cell("Germany", ' table:number-rows-spanned="2"')
    rows = (row(HEADER) + row(data(1), cells={col: merged})
            + row(data(2), cells={col: "<table:covered-table-cell/>"}) + row(data(3)))
    result = _workspace(tmp_path, [("Transfers", rows, False)])
    hit = _found(result, "merged-cells")
    letter = safety.col_letters(col + 1)
    assert hit[["row", "severity"]].values.tolist() == [[3, "error"]]
    assert f"{letter}3" in hit["message"].iloc[0] and hit["value"].iloc[0] == f"{letter}2:{letter}3"
    recs = result.records.set_index("record_id")
    assert not recs.loc["R2", "valid"] and recs.loc["R1", "valid"] and recs.loc["R3", "valid"]


def test_hidden_rows_with_data_and_hidden_sheets_are_noted(tmp_path):
    rows = (row(HEADER) + row(data(1)) + row(data(2), ' table:visibility="collapse"')
            + '<table:table-row-group table:display="false"><table:table-row-group>' + row(data(3))
            + "</table:table-row-group></table:table-row-group>"  # a shown group inside a collapsed one
            + row(data(4)) + '<table:table-row table:visibility="collapse" table:number-rows-repeated="1000"/>')
    other = row(HEADER) + row(data(5))
    result = _workspace(tmp_path, [("Transfers", rows, False), ("Old", other, True)])
    hidden = _found(result, "rows-hidden")  # one note, naming the rows
    assert hidden[["sheet", "row", "value"]].values.tolist() == [["Transfers", 3, "3-4"]]  # the 1000 empty do not count
    (sheet,) = _found(result, "sheet-hidden")["sheet"].tolist()
    assert sheet == "Old"
    assert sorted(result.records["record_id"]) == ["R1", "R2", "R3", "R4", "R5"]  # hidden is read, not dropped


def test_error_cells_formulas_without_value_and_dde_formulas(tmp_path):
    qty = HEADER.index("quantity")
    error = ('<table:table-cell table:formula="of:=1/0" office:value-type="float" calcext:value-type="error">'
             "<text:p>#DIV/0!</text:p></table:table-cell>")
    no_value = '<table:table-cell table:formula="of:=[.A1]*2"/>'
    dde = ('<table:table-cell table:formula="of:=DDE(&quot;cmd&quot;;&quot;/c calc&quot;;&quot;A1&quot;)" '
           'office:value-type="float" office:value="0"><text:p>0</text:p></table:table-cell>')
    rows = (row(HEADER) + row(data(1), cells={qty: error}) + row(data(2), cells={qty: no_value})
            + row(data(3), cells={len(HEADER): dde} if False else {}) + row(data(4) + ["x"], cells={len(HEADER): dde}))
    result = _workspace(tmp_path, [("Transfers", rows, False)])
    letter = safety.col_letters(qty + 1)
    err = _found(result, "cell-error")
    assert err[["row", "field", "value"]].values.tolist() == [[2, "quantity", "#DIV/0!"]]
    assert f"{letter}2" in err["message"].iloc[0]
    nov = _found(result, "formula-no-value")
    assert nov[["row", "field"]].values.tolist() == [[3, "quantity"]]
    (dde_note,) = _found(result, "dde-ignored").itertuples()
    assert dde_note.row == 5 and dde_note.field == safety.col_letters(len(HEADER) + 1) and "DDE" in dde_note.value
    recs = result.records.set_index("record_id")
    assert not recs.loc["R1", "valid"] and not recs.loc["R2", "valid"] and recs.loc["R4", "valid"]


def test_a_repeated_cell_bomb_is_refused_as_too_large_not_expanded(tmp_path):
    bomb = ('<table:table-row table:number-rows-repeated="1048000">'
            '<table:table-cell office:value-type="string" table:number-columns-repeated="16384">'
            "<text:p>X</text:p></table:table-cell></table:table-row>")
    path = write_ods(tmp_path / "bomb.ods", [("Transfers", row(HEADER) + bomb, False)])
    pre = safety.preflight(path, Limits())
    assert pre.sheets["Transfers"].refuse
    assert [f.code for f in pre.findings if f.code == "sheet-too-large"] == ["sheet-too-large"]


def test_a_tall_repeated_row_is_read_in_a_contained_worker(tmp_path):
    """A kilobyte file standing for 1M rows x 20 cells (a reader would hold ~3 GB) is not read in
    this process: its memory would be this process's."""
    tall = ('<table:table-row table:number-rows-repeated="1048000">'
            '<table:table-cell office:value-type="string" table:number-columns-repeated="20">'
            "<text:p>X</text:p></table:table-cell></table:table-row>")
    path = write_ods(tmp_path / "tall.ods", [("Transfers", row(HEADER) + tall, False)])
    pre = safety.preflight(path, Limits())
    assert pre.sheets["Transfers"].last_data_row == 1_048_001 and pre.sheets["Transfers"].max_col == 20
    assert safety.contain_policy(pre)
    plain = write_ods(tmp_path / "plain.ods", [("Transfers", row(HEADER) + row(data(1)), False)])
    assert not safety.contain_policy(safety.preflight(plain, Limits()))


def test_an_expanding_ods_is_read_by_the_worker_with_the_same_result(tmp_path, monkeypatch):
    rows = row(HEADER) + "".join(row(data(i)) for i in range(1, 6))
    here = _workspace(tmp_path / "here", [("Transfers", rows, False)])
    ran = []
    real = safety.run_contained
    monkeypatch.setattr(safety, "run_contained", lambda *a, **k: ran.append(1) or real(*a, **k))
    monkeypatch.setattr(safety, "ODS_CONTAIN_CELLS", 10)
    contained = _workspace(tmp_path / "there", [("Transfers", rows, False)])
    assert ran == [1]
    assert contained.records["record_id"].tolist() == here.records["record_id"].tolist() == [f"R{i}" for i in
                                                                                             range(1, 6)]
    assert contained.records["src_row"].tolist() == here.records["src_row"].tolist()



def _table_prefix_renamed(content: bytes) -> bytes:
    """The table namespace bound to `t:` instead of `table:` (legal XML, never written by an office suite)."""
    text = content.decode()
    for old, new in (("xmlns:table=", "xmlns:t="), ("<table:", "<t:"), ("</table:", "</t:"), (" table:", " t:")):
        text = text.replace(old, new)
    return text.encode()


def test_a_table_namespace_under_another_prefix_is_seen_by_neither_the_scan_nor_the_reader(tmp_path):
    """The scan looks for `table:` names, as the reader (calamine) does: a sheet spelled otherwise is no
    sheet to either, so its repeats are never expanded and the file gets a plain finding, not a crash.
    Should the reader ever resolve namespaces, this test fails first: the scan must then follow."""
    from python_calamine import CalamineWorkbook

    bomb = ('<table:table-row table:number-rows-repeated="1048000">'
            '<table:table-cell office:value-type="string" table:number-columns-repeated="1024">'
            "<text:p>X</text:p></table:table-cell></table:table-row>")
    tables = [("Transfers", row(HEADER) + row(data(1)) + bomb, False)]
    path = write_ods(tmp_path / "renamed.ods", tables, mangle=_table_prefix_renamed)
    assert b"<t:table-row" in zipfile.ZipFile(path).read("content.xml")
    assert CalamineWorkbook.from_path(str(path)).sheet_names == []
    assert safety.preflight(path, Limits()).sheets == {}

    write_workspace(tmp_path / "ws")
    toml = tmp_path / "ws" / "att-report.toml"
    toml.write_text(toml.read_text().replace('"inputs/customs/*.xlsx"', '"inputs/customs/*.ods"'))
    write_ods(tmp_path / "ws" / "inputs" / "customs" / "t.ods", tables, mangle=_table_prefix_renamed)
    result = intake(tmp_path / "ws")
    found = result.findings[result.findings["file"] == "inputs/customs/t.ods"]
    assert found["code"].tolist() == ["no-header-found"]
    assert not (result.records["src_file"] == "inputs/customs/t.ods").any()

def _scan_peak(tmp_path: Path, n: int, monkeypatch) -> int:
    import tracemalloc

    many = "".join(row(data(i), ' table:visibility="collapse"' if i % 2 else "") for i in range(1, n + 1))
    path = write_ods(tmp_path / f"many{n}.ods", [("Transfers", row(HEADER) + many, False)])
    def small(zf, info):  # the XML in small pieces: what memory is left is what the scan itself keeps
        with zf.open(info) as fh:
            yield from iter(lambda: fh.read(32768), b"")
    monkeypatch.setattr(safety, "_chunks", small)
    with zipfile.ZipFile(path) as zf:
        tracemalloc.start()
        scans = safety._scan_ods(zf, zf.getinfo("content.xml"), Limits())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert scans["Transfers"].last_data_row == n + 1
    assert len(scans["Transfers"].hidden_rows) == (n + 1) // 2
    return peak


def test_the_scan_does_not_keep_the_rows_it_has_seen(tmp_path, monkeypatch):
    """Rows are dropped as they end: four times the rows, not four times the memory."""
    small, large = _scan_peak(tmp_path, 2000, monkeypatch), _scan_peak(tmp_path, 8000, monkeypatch)
    assert large < 1.5 * small + 512 * 1024, (small, large)


def _every_feature() -> list[tuple[str, str, bool]]:
    col = HEADER.index("partner_state")
    rows = (row(HEADER) + row(data(1), cells={col: cell("Germany", ' table:number-rows-spanned="2"')})
            + row(data(2), ' table:visibility="collapse"', cells={col: "<table:covered-table-cell/>"})
            + '<table:table-row-group table:display="false">' + row(data(3)) + "</table:table-row-group>"
            + row(data(4), cells={1: '<table:table-cell table:formula="of:=1/0" calcext:value-type="error">'
                                     "<text:p>#DIV/0!</text:p></table:table-cell>"}) + TRAILER)
    return [("Transfers", rows, False), ("Old", row(HEADER) + row(data(5)), True)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 60), st.binary(max_size=30)), max_size=6))
def test_mangled_content_never_breaks_the_scan(tmp_path, cuts):
    """Bytes cut out of content.xml or put into it: the preflight gives its verdict, never an exception."""
    def mangle(data: bytes) -> bytes:
        for at, width, insert in cuts:
            at %= max(len(data), 1)
            data = data[:at] + insert + data[at + width:]
        return data
    path = write_ods(tmp_path / "m.ods", _every_feature(), mangle=mangle)
    pre = safety.preflight(path, Limits())
    # the preflight turns any exception into "file-unreadable": the scan itself must raise none
    assert "file-unreadable" not in [f.code for f in pre.findings], [f.message for f in pre.findings]
    for scan in pre.sheets.values():
        assert scan.last_data_row >= 0 and scan.max_col >= 0
