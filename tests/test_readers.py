"""Readers: Excel row numbers as the user sees them, header detection, csv quirks."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from intake_helpers import GOOD, HEADER, intake, write_workspace


def _xlsx(path, rows, *, title_rows=0, header=HEADER, sheet="Transfers", blank_after=None, hidden=False):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    r = 1
    for i in range(title_rows):
        ws.cell(row=r, column=1, value=f"Title line {i + 1}")
        r += 2  # a blank row after each title line
    for c, h in enumerate(header, start=1):
        ws.cell(row=r, column=c, value=h)
    for i, row in enumerate(rows):
        r += 1
        if blank_after is not None and i == blank_after:
            r += 1
        values = {**GOOD, "record_id": f"R{i + 1}", **row}
        for c, h in enumerate(header, start=1):
            ws.cell(row=r, column=c, value=values.get(h))
    if hidden:
        extra = wb.create_sheet("Hidden")
        for c, h in enumerate(header, start=1):
            extra.cell(row=1, column=c, value=h)
            extra.cell(row=2, column=c, value={**GOOD, "record_id": "H1"}.get(h))
        extra.sheet_state = "hidden"
    wb.save(path)


def test_excel_rows_with_title_and_blank_rows(tmp_path):
    write_workspace(tmp_path)
    _xlsx(tmp_path / "inputs/customs/x.xlsx", [{}, {}, {"partner_state": "Germny"}], title_rows=2, blank_after=1)
    result = intake(tmp_path)
    # titles in rows 1 and 3, header in row 5, data in 6, (blank 7), 8, 9
    assert result.records["src_row"].tolist() == [6, 8, 9]
    bad = result.findings[result.findings["code"] == "country-unknown"].iloc[0]
    assert (bad["sheet"], int(bad["row"]), bad["field"]) == ("Transfers", 9, "partner_state")


def test_header_normalisation_and_unknown_columns(tmp_path):
    write_workspace(tmp_path)
    header = [" Record-ID ", "FLOW", "Basis", "Licence No", "Date", "valid until", "Partner State", "category",
              "quantity", "value", "currency", "description", "withheld", "Internal note"]
    rows = [{" Record-ID ": "A1", "FLOW": "export", "Basis": "actual", "Licence No": "EL-9", "Date": "2024-05-01",
             "Partner State": "France", "Internal note": "x"}]
    _xlsx(tmp_path / "inputs/customs/x.xlsx", rows, header=header)
    result = intake(tmp_path)
    rec = result.records.iloc[0]
    assert (rec["record_id"], rec["flow"], rec["partner_state"]) == ("A1", "export", "FRA")
    unknown = result.findings[result.findings["code"] == "unknown-column"]
    assert unknown["field"].tolist() == ["Internal note"] and unknown["severity"].tolist() == ["info"]


def test_real_excel_dates_and_numbers(tmp_path):
    write_workspace(tmp_path)
    path = tmp_path / "inputs/customs/x.xlsx"
    _xlsx(path, [{}])
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    ws.cell(row=2, column=HEADER.index("date") + 1, value=dt.datetime(2024, 7, 9))
    ws.cell(row=2, column=HEADER.index("quantity") + 1, value=12)
    ws.cell(row=2, column=HEADER.index("value") + 1, value=1234.5)
    wb.save(path)
    rec = intake(tmp_path).records.iloc[0]
    assert str(rec["date"].date()) == "2024-07-09"
    assert int(rec["quantity"]) == 12 and float(rec["value"]) == 1234.5


def test_hidden_sheet_is_read_and_noted(tmp_path):
    write_workspace(tmp_path)
    _xlsx(tmp_path / "inputs/customs/x.xlsx", [{}], hidden=True)
    result = intake(tmp_path)
    assert sorted(result.records["record_id"]) == ["H1", "R1"]
    assert "sheet-hidden" in set(result.findings["code"])


@pytest.mark.parametrize("content,code", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "file-unreadable"),
    (b"<html><body>not a workbook</body></html>", "file-unreadable"),
    (b"PK\x03\x04 truncated", "file-unreadable"),
])
def test_broken_files_give_one_finding_and_others_are_read(tmp_path, content, code):
    write_workspace(tmp_path, [{}])
    (tmp_path / "inputs/customs/broken.xlsx").write_bytes(content)
    result = intake(tmp_path)
    file_codes = result.findings[result.findings["file"] == "inputs/customs/broken.xlsx"]
    assert len(file_codes[file_codes["severity"] == "error"]) == 1
    assert set(result.records["record_id"]) == {"R1"}


def test_csv_bom_and_configured_encoding(tmp_path):
    write_workspace(tmp_path, extra='encoding = "cp1252"')
    text = ",".join(HEADER) + "\n" + "R1,export,actual,EL-1,2024-03-01,,Côte d'Ivoire,VIII.SA.2,5,10,EUR,Fusil,no\n"
    (tmp_path / "inputs/customs/a.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "inputs/customs/b.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("R1", "R2").encode("utf-8"))
    rec = intake(tmp_path).records.sort_values("record_id")
    assert rec["partner_state"].tolist() == ["CIV", "CIV"]


def test_csv_undecodable_line_is_an_error_naming_the_line(tmp_path):
    write_workspace(tmp_path)
    good = "R1,export,actual,EL-1,2024-03-01,,France,VIII.SA.2,5,10,EUR,ok,no\n"
    bad = "R2,export,actual,EL-1,2024-03-01,,France,VIII.SA.2,5,10,EUR,caf\xe9,no\n"
    raw = (",".join(HEADER) + "\n" + good).encode() + bad.encode("latin-1")
    (tmp_path / "inputs/customs/a.csv").write_bytes(raw)
    result = intake(tmp_path)
    hit = result.findings[result.findings["code"] == "text-undecodable"]
    assert hit["row"].tolist() == [3]
    assert result.records.set_index("record_id").loc["R2", "valid"] == False  # noqa: E712
    assert "\ufffd" in result.records.set_index("record_id").loc["R2", "description"]


@pytest.mark.parametrize("codec, bom", [("utf-16-le", "\ufeff"), ("utf-16-be", "\ufeff"), ("utf-32-le", "\ufeff"),
                                        ("utf-32-be", "\ufeff")])
def test_csv_with_a_utf16_or_utf32_byte_order_mark_reads_as_its_utf8_twin(tmp_path, codec, bom):
    """Excel's "Unicode Text" (.txt saved as .csv) is UTF-16 with a byte-order mark, tab-separated, CRLF:
    the mark says how to decode it, whatever encoding the agency's setting names."""
    write_workspace(tmp_path, extra='encoding = "cp1252"')
    rows = [HEADER, ["R1", "export", "actual", "EL-1", "2024-03-01", "", "Côte d'Ivoire", "VIII.SA.2", "5", "10",
                     "EUR", "Fusil à pompe ☃", "no"]]
    text = "\r\n".join("\t".join(r) for r in rows) + "\r\n"
    (tmp_path / "inputs/customs/a.csv").write_bytes((bom + text).encode(codec))
    (tmp_path / "inputs/customs/b.csv").write_bytes(text.replace("R1", "R2").encode("utf-8"))
    result = intake(tmp_path)
    rec = result.records.set_index("record_id")
    assert rec.loc["R1", "description"] == rec.loc["R2", "description"] == "Fusil à pompe ☃"
    assert rec.loc["R1", "partner_state"] == "CIV" and rec.loc["R1", "src_row"] == 2 and rec.loc["R1", "valid"]
    assert "text-undecodable" not in set(result.findings["code"])


def test_csv_utf16_line_that_does_not_decode_is_an_error_naming_it(tmp_path):
    write_workspace(tmp_path)
    good = "R1,export,actual,EL-1,2024-03-01,,France,VIII.SA.2,5,10,EUR,ok,no\n"
    bad = "R2,export,actual,EL-1,2024-03-01,,France,VIII.SA.2,5,10,EUR,x,no\n".encode("utf-16-le")
    bad = bad.replace("x".encode("utf-16-le"), b"\x00\xd8")  # a lone high surrogate
    raw = ("\ufeff" + ",".join(HEADER) + "\n" + good).encode("utf-16-le") + bad
    (tmp_path / "inputs/customs/a.csv").write_bytes(raw)
    result = intake(tmp_path)
    hit = result.findings[result.findings["code"] == "text-undecodable"]
    assert hit["row"].tolist() == [3] and "UTF-16" in hit["message"].iloc[0]
    assert result.records.set_index("record_id").loc["R1", "valid"]


def test_csv_with_a_stray_nul_is_read_and_the_nul_named_on_its_cell(tmp_path):
    """A database export with a NUL byte in one value is a csv with one odd cell, not a binary file."""
    write_workspace(tmp_path)
    good = ",".join(GOOD[h] for h in HEADER)
    lines = [",".join(HEADER)] + [good.replace("R1", f"R{i}") for i in range(1, 40)]
    lines[20] = lines[20].replace("Rifle", "Ri\x00fle")
    (tmp_path / "inputs/customs/a.csv").write_bytes(("\n".join(lines) + "\n").encode())
    (tmp_path / "inputs/customs/b.csv").write_bytes(("\n".join(lines[:3]) + "\n").encode("utf-16-le"))  # no BOM
    result = intake(tmp_path)
    a = result.records[result.records["src_file"] == "inputs/customs/a.csv"]
    assert len(a) == 39 and a["valid"].all()
    assert a.set_index("record_id").loc["R20", "description"] == "Rifle"
    hit = result.findings[(result.findings["file"] == "inputs/customs/a.csv")]
    assert hit[["code", "row", "field"]].values.tolist() == [["control-characters-removed", 21, "description"]]
    b = result.findings[result.findings["file"] == "inputs/customs/b.csv"]
    assert b["code"].tolist() == ["file-not-spreadsheet"]  # UTF-16 without its mark: half the bytes are NULs


def test_csv_embedded_newline_keeps_line_numbers(tmp_path):
    write_workspace(tmp_path)
    lines = [",".join(HEADER),
             'R1,export,actual,EL-1,2024-03-01,,France,VIII.SA.2,5,10,EUR,"two\nlines",no',
             "R2,export,actual,EL-1,2024-03-01,,Germny,VIII.SA.2,5,10,EUR,x,no"]
    (tmp_path / "inputs/customs/a.csv").write_text("\n".join(lines) + "\n")
    result = intake(tmp_path)
    assert result.records["src_row"].tolist() == [2, 4]
    assert result.findings.loc[result.findings["code"] == "country-unknown", "row"].tolist() == [4]


def test_csv_short_and_long_rows(tmp_path):
    write_workspace(tmp_path)
    lines = [",".join(HEADER),
             "R1,export,actual,EL-1,2024-03-01,,France,VIII.SA.2,5,10,EUR,x,no,EXTRA",
             "R2,export,actual,EL-1,2024-03-01,,France",
             "R3,export,actual,EL-1,2024-03-01,,France,VIII.SA.2,5,10,EUR,x,no"]
    (tmp_path / "inputs/customs/a.csv").write_text("\n".join(lines) + "\n")
    result = intake(tmp_path)
    codes = result.findings.set_index("row")["code"]
    assert codes.loc[2] == "csv-extra-fields" or "csv-extra-fields" in set(codes.loc[[2]])
    assert "csv-short-row" in set(result.findings.loc[result.findings["row"] == 3, "code"])
    assert result.records.set_index("record_id").loc["R3", "valid"]


def test_sheet_without_header_is_reported_not_silently_skipped(tmp_path):
    write_workspace(tmp_path)
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, 6):
        ws.cell(row=r, column=1, value=f"foo {r}")
        ws.cell(row=r, column=2, value=r)
    wb.save(tmp_path / "inputs/customs/odd.xlsx")
    result = intake(tmp_path)
    assert "no-header-found" in set(result.findings["code"])


def test_whitespace_and_zero_width_removed(tmp_path):
    write_workspace(tmp_path, [{"record_id": " R1\u200b ", "partner_state": "\u00a0France "}])
    rec = intake(tmp_path).records.iloc[0]
    assert rec["partner_state"] == "FRA"


def test_identifier_stored_as_number_is_a_warning_naming_the_cell(tmp_path):
    write_workspace(tmp_path)
    path = tmp_path / "inputs/customs/x.xlsx"
    _xlsx(path, [{}, {}, {}])
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    col = HEADER.index("licence_no") + 1
    ws.cell(row=3, column=col, value=140915)             # lost its zeros
    ws.cell(row=4, column=col, value=12345678901234567)  # more than 15 digits: already corrupted
    wb.save(path)
    result = intake(tmp_path)
    f = result.findings
    warn = f[f["code"] == "identifier-as-number"]
    assert warn["row"].tolist() == [3] and warn["field"].tolist() == ["licence_no"]
    assert warn["severity"].tolist() == ["warning"]
    lost = f[f["code"] == "identifier-precision-lost"]
    assert lost["row"].tolist() == [4] and lost["severity"].tolist() == ["error"]
    assert result.records["licence_key"].tolist()[1] == "140915"


def test_decimal_comma_setting_does_not_touch_numbers_typed_as_numbers(tmp_path):
    write_workspace(tmp_path, extra='decimal = ","')
    path = tmp_path / "inputs/customs/x.xlsx"
    _xlsx(path, [{"value": "1.234,5"}, {}])
    wb = openpyxl.load_workbook(path)
    wb.active.cell(row=3, column=HEADER.index("value") + 1, value=1234.5)
    wb.save(path)
    rec = intake(tmp_path).records
    assert [float(v) for v in rec["value"]] == [1234.5, 1234.5]


def test_ods_workbook_is_read_with_excel_rows(tmp_path):
    import pandas as pd

    write_workspace(tmp_path)
    (tmp_path / "att-report.toml").write_text(
        (tmp_path / "att-report.toml").read_text().replace('"inputs/customs/*.xlsx"', '"inputs/customs/*.ods"'))
    rows = [{**GOOD, "record_id": "O1"}, {**GOOD, "record_id": "O2", "partner_state": "Germny"}]
    frame = pd.DataFrame(rows, columns=HEADER)
    with pd.ExcelWriter(tmp_path / "inputs/customs/x.ods", engine="odf") as writer:
        frame.to_excel(writer, sheet_name="Transfers", index=False, startrow=2)  # two blank rows above
    result = intake(tmp_path)
    assert result.records["record_id"].tolist() == ["O1", "O2"]
    assert result.records["src_row"].tolist() == [4, 5]
    bad = result.findings[result.findings["code"] == "country-unknown"]
    assert bad["row"].tolist() == [5] and bad["sheet"].tolist() == ["Transfers"]
