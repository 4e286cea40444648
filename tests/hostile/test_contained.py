"""run_contained: a reader that aborts, hangs or runs away becomes ReaderCrashed, never kills us."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import sheet_xml, table, write_xlsx  # noqa: E402

from att_report.config import AgencyConfig, Limits  # noqa: E402
from att_report.intake.safety import ReaderCrashed, preflight, run_contained  # noqa: E402

SMALL = Limits(worker_memory_mb=2048, worker_timeout_s=20)
AGENCY = AgencyConfig(name="Customs", role="customs", files=("inputs/*.xlsx",))


def test_result_comes_back():
    assert run_contained(divmod, 17, 5, limits=SMALL) == (3, 2)


def test_abort_becomes_reader_crashed():
    with pytest.raises(ReaderCrashed, match="aborted"):
        run_contained(os.abort, limits=SMALL)


def test_base_exception_becomes_reader_crashed():
    # Rust panics arrive as PanicException, a BaseException like SystemExit
    with pytest.raises(ReaderCrashed, match="SystemExit"):
        run_contained(sys.exit, 3, limits=SMALL)


def test_ordinary_exception_is_reraised_as_is():
    with pytest.raises(ValueError):
        run_contained(int, "x", limits=SMALL)


def test_a_module_the_worker_cannot_load_is_a_crash_not_an_import_error():
    # under a tight memory limit a library may fail to map: that is the worker's lack of memory
    with pytest.raises(ReaderCrashed, match="could not load its modules"):
        run_contained(__import__, "att_report_no_such_module", limits=SMALL)


def test_runaway_allocation_is_capped():
    with pytest.raises(ReaderCrashed, match="memory"):
        run_contained(bytearray, 8 * 1024**3, limits=SMALL)


def test_timeout():
    start = time.monotonic()
    with pytest.raises(ReaderCrashed, match="longer than 1 s"):
        run_contained(time.sleep, 30, limits=Limits(worker_timeout_s=1))
    assert time.monotonic() - start < 10


def test_far_cell_reader_abort_is_contained(tmp_path):
    """fastexcel/calamine allocate the whole rectangle for XFD1048576 and abort the process."""
    from att_report.intake.readers import read_file

    far = sheet_xml(table(3), extra_rows='<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    path = write_xlsx(tmp_path / "far.xlsx", [("Transfers", far, "visible")])
    assert preflight(path, SMALL).sheets["Transfers"].refuse  # the preflight keeps it from readers...
    with pytest.raises(ReaderCrashed):  # ...and a reader that gets it anyway dies alone
        run_contained(read_file, path, AGENCY, "inputs/far.xlsx", limits=SMALL)
    assert run_contained(divmod, 1, 1, limits=SMALL) == (1, 0)  # and we carry on


def test_lying_dimension_read_contained_keeps_every_row(tmp_path):
    from att_report.intake.readers import read_file

    path = write_xlsx(tmp_path / "dim.xlsx", [("Transfers", sheet_xml(table(49), dimension="A1:A1"), "visible")])
    read = run_contained(read_file, path, AGENCY, "inputs/dim.xlsx", limits=SMALL)
    assert read.info.rows_read == 49
    assert list(read.tables[0].excel_rows)[-1] == 50
