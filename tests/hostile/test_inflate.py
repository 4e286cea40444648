"""The preflight's own inflate of zip entries (`safety._inflated`): ISA-L's, checked as zipfile checks.

It must give exactly what zipfile gives for an honest entry, and refuse a
damaged or lying one (wrong CRC, cut short, more or less data than declared)
without ever producing more than the declared size.
"""

from __future__ import annotations

import os
import random
import struct
import zipfile
from pathlib import Path

import pytest

from att_report.config import Limits
from att_report.intake import safety

pytestmark = pytest.mark.skipif(safety._isal is None, reason="isal is not installed: zipfile inflates")


def _zip(path: Path, entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED, level: int | None = 6) -> Path:
    with zipfile.ZipFile(path, "w", method, compresslevel=level) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _texts(seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    rows = "".join(f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{rng.random()}</t></is></c></row>'
                   for i in range(1, rng.randint(1, 40_000)))
    return {"empty.xml": b"", "tiny.xml": b"<a/>", "random.bin": os.urandom(rng.randint(0, 3_000_000)),
            "sheet.xml": ("<worksheet><sheetData>" + rows + "</sheetData></worksheet>").encode()}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("level", [0, 1, 9])
def test_the_same_bytes_as_zipfile(tmp_path, seed, level, monkeypatch):
    entries = _texts(seed)
    path = _zip(tmp_path / "a.zip", entries, level=level)
    monkeypatch.setattr(safety, "_CHUNK", 64 * 1024)  # many chunks: their seams are exercised too
    monkeypatch.setattr(safety, "_READ", 7_777)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            chunks = list(safety._inflated(zf, info))
            assert b"".join(chunks) == entries[info.filename]
            assert all(0 < len(c) <= 64 * 1024 for c in chunks)


def test_stored_entries_and_zips_in_memory_go_through_zipfile(tmp_path):
    import io

    entries = _texts(7)
    path = _zip(tmp_path / "s.zip", entries, method=zipfile.ZIP_STORED, level=None)
    with zipfile.ZipFile(path) as zf:
        assert {i.filename: b"".join(safety._inflated(zf, i)) for i in zf.infolist()} == entries
    with zipfile.ZipFile(io.BytesIO(_zip(tmp_path / "m.zip", entries).read_bytes())) as zf:
        assert {i.filename: b"".join(safety._inflated(zf, i)) for i in zf.infolist()} == entries


def _entry_span(path: Path, name: str) -> tuple[int, int, zipfile.ZipInfo]:
    """(start of the entry's compressed data, its length, its info)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    raw = path.read_bytes()
    n, m = struct.unpack("<HH", raw[info.header_offset + 26: info.header_offset + 30])
    return info.header_offset + 30 + n + m, info.compress_size, info


def _patch_directory(path: Path, name: str, *, crc: int | None = None, size: int | None = None) -> None:
    """Rewrite the central directory's CRC or uncompressed size of entry `name` (what zipfile trusts)."""
    raw = bytearray(path.read_bytes())
    at = 0
    encoded = name.encode()
    while True:
        at = raw.find(b"PK\x01\x02", at)
        n = struct.unpack("<H", raw[at + 28: at + 30])[0]
        if raw[at + 46: at + 46 + n] == encoded:
            break
        at += 4
    if crc is not None:
        raw[at + 16: at + 20] = struct.pack("<L", crc)
    if size is not None:
        raw[at + 24: at + 28] = struct.pack("<L", size)
    path.write_bytes(bytes(raw))


def _read_all(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return b"".join(safety._inflated(zf, zf.getinfo(name)))


def test_a_wrong_crc_is_damage(tmp_path):
    path = _zip(tmp_path / "c.zip", _texts(1))
    _, _, info = _entry_span(path, "sheet.xml")
    _patch_directory(path, "sheet.xml", crc=info.CRC ^ 1)
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        _read_all(path, "sheet.xml")


@pytest.mark.parametrize("delta", [-1000, -1, 1, 1000])
def test_a_declared_size_that_lies_is_damage_and_bounds_the_output(tmp_path, delta, monkeypatch):
    entries = _texts(2)
    path = _zip(tmp_path / "l.zip", entries)
    true_size = len(entries["sheet.xml"])
    _patch_directory(path, "sheet.xml", size=true_size + delta)
    monkeypatch.setattr(safety, "_CHUNK", 4096)
    got = 0
    with pytest.raises(zipfile.BadZipFile):
        with zipfile.ZipFile(path) as zf:
            for chunk in safety._inflated(zf, zf.getinfo("sheet.xml")):
                got += len(chunk)
                assert got <= true_size + delta  # never past what is declared


def test_compressed_data_cut_short_is_damage(tmp_path):
    path = _zip(tmp_path / "t.zip", _texts(3))
    start, length, _ = _entry_span(path, "sheet.xml")
    raw = bytearray(path.read_bytes())
    raw[start + length // 2: start + length] = b"\x00" * (length - length // 2)  # the stream's second half zeroed
    path.write_bytes(bytes(raw))
    with pytest.raises((zipfile.BadZipFile, EOFError, *safety._INFLATE_ERRORS)):
        _read_all(path, "sheet.xml")


def test_damage_found_by_the_preflight_is_a_refusal_not_a_crash(tmp_path):
    """A workbook whose sheet's CRC is wrong: refused as damaged (file-truncated), as zipfile's read did."""
    import xlsxwriter

    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    for i in range(2000):
        ws.write_row(i, 0, [f"R{i}", i, "text " * 5])
    wb.close()
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    _patch_directory(path, "xl/worksheets/sheet1.xml", crc=info.CRC ^ 0xFFFF)
    pre = safety.preflight(path, Limits(), agency="A", rel_file="book.xlsx")
    assert pre.refuse and pre.findings[0].code == "file-truncated"
    assert "CRC" in pre.findings[0].message


def test_without_isal_zipfile_inflates_the_same(tmp_path, monkeypatch):
    entries = _texts(5)
    path = _zip(tmp_path / "n.zip", entries)
    monkeypatch.setattr(safety, "_isal", None)
    assert _read_all(path, "sheet.xml") == entries["sheet.xml"]
