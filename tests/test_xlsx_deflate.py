"""Workbooks written through xlsxio.save_xlsxwriter are deflated at DEFLATE_LEVEL, deterministically."""

from __future__ import annotations

import zipfile
import zlib

import openpyxl

from att_report.render import xlsxio


def _build(wb):
    ws = wb.add_worksheet("Rows")
    for r in range(3000):
        ws.write_row(r, 0, [f"row {r}", r * 7 % 1000, f"text {r % 97}"])


def _deflated(data: bytes, level: int) -> int:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return len(c.compress(data) + c.flush())


def test_parts_are_deflated_at_the_chosen_level_and_open(tmp_path):
    path = tmp_path / "a.xlsx"
    xlsxio.save_xlsxwriter(_build, path)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
        data = z.read(info)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    assert info.compress_size == _deflated(data, xlsxio.DEFLATE_LEVEL)
    assert xlsxio.DEFLATE_LEVEL != 6 and info.compress_size != _deflated(data, 6)  # not zlib's default
    ws = openpyxl.load_workbook(path, read_only=True)["Rows"]
    assert [c.value for c in next(ws.iter_rows(min_row=3000, max_row=3000))] == ["row 2999", 2999 * 7 % 1000,
                                                                                 "text 89"]


def test_same_workbook_same_bytes(tmp_path):
    xlsxio.save_xlsxwriter(_build, tmp_path / "a.xlsx")
    xlsxio.save_xlsxwriter(_build, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_other_xlsxwriter_workbooks_keep_their_own_level(tmp_path):
    """The level is ours only: a workbook XlsxWriter writes for anyone else afterwards (pandas'
    to_excel, the benchmark's generator) is deflated at zlib's default, as before any of ours."""
    import xlsxwriter

    def plain(path):
        wb = xlsxwriter.Workbook(str(path))
        _build(wb)
        wb.close()
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("xl/worksheets/sheet1.xml")
            return info.compress_size, _deflated(z.read(info), 6)

    before = plain(tmp_path / "before.xlsx")
    xlsxio.save_xlsxwriter(_build, tmp_path / "ours.xlsx")
    after = plain(tmp_path / "after.xlsx")
    assert before[0] == before[1] and after == before
