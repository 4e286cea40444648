"""Large workbooks are read in a contained worker while the sheet XML is scanned.

The parallel path must give exactly what the serial one gives (same
findings, same tables, same cell facts) on every hostile and messy file, and
a refusal found by the scan must discard what the worker read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from make_corpus import make_corpus  # noqa: E402

from att_report.config import AgencyConfig, Limits  # noqa: E402
from att_report.intake import headstart, untrusted  # noqa: E402

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_BESIDE = untrusted._finish_beside_scan


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    cases = make_corpus(tmp_path_factory.mktemp("corpus"), big=False)
    return [c for c in cases if c.path.suffix.lower() in WORKBOOK_SUFFIXES]


def _agency() -> AgencyConfig:
    return AgencyConfig(name="Customs", role="customs", files=("*.xlsx",))


def _read(path: Path, parallel: bool, monkeypatch, limits: Limits | None = None):
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 0 if parallel else 1 << 62)
    calls = []
    monkeypatch.setattr(untrusted, "_finish_beside_scan", lambda *a, **k: calls.append(a[1]) or _BESIDE(*a, **k))
    read = untrusted.read_untrusted(path, _agency(), path.name, profile=None, limits=limits or Limits())
    return read, calls


def _facts(read) -> dict:
    findings = sorted((f.code, f.severity, f.sheet, f.row or 0, f.field, f.value, f.message) for f in read.findings)
    tables = []
    for t in read.tables:
        problems = t.cell_problems if t.cell_problems is not None else pd.DataFrame()
        tables.append((t.sheet, t.header_row, list(t.data.columns), [str(d) for d in t.data.dtypes],
                       type(t.data.index).__name__, t.data.astype(object).fillna("").values.tolist(),
                       list(map(int, t.excel_rows)), sorted(t.hidden_rows),
                       problems.astype(str).sort_values(list(problems.columns)).values.tolist()
                       if not problems.empty else []))
    return {"findings": findings, "tables": tables, "readable": read.info.readable,
            "rows_read": read.info.rows_read, "sheets": list(read.info.sheets)}


def test_parallel_read_equals_serial_read_on_every_workbook_case(corpus, monkeypatch):
    """Also checks the tables' trip back from the worker (Arrow files, mapped): same columns, dtypes, values."""
    assert len(corpus) >= 15
    used_worker = 0
    for case in corpus:
        serial, serial_calls = _read(case.path, False, monkeypatch)
        parallel, parallel_calls = _read(case.path, True, monkeypatch)
        assert not serial_calls
        used_worker += bool(parallel_calls)
        assert _facts(parallel) == _facts(serial), case.name
    # every workbook the file-level checks let through went the parallel way
    assert used_worker >= len([c for c in corpus if not c.refuse]) - 2


def test_a_sheet_the_scan_refuses_discards_the_workers_read(corpus, monkeypatch):
    big = next(c for c in corpus if c.sheet_refused)
    read, calls = _read(big.path, True, monkeypatch)
    assert calls, "the large-file path was not taken"
    assert "sheet-too-large" in {f.code for f in read.findings}
    assert big.sheet not in {t.sheet for t in read.tables}


def test_a_worker_crash_on_an_odd_file_is_a_finding_naming_the_file(corpus, monkeypatch):
    from att_report.intake import safety

    odd = [c for c in corpus if not c.refuse and safety.contain_policy(safety.preflight(c.path))
           and not any(s.refuse for s in safety.preflight(c.path).sheets.values())]
    assert odd, "the corpus has no odd-but-readable workbook"
    # a worker with almost no memory cannot even start its reader
    read, calls = _read(odd[0].path, True, monkeypatch, limits=Limits(worker_memory_mb=64))
    assert calls
    assert "file-unreadable" in {f.code for f in read.findings}
    assert not read.tables and not read.info.readable


def test_an_honest_file_whose_worker_runs_out_of_memory_is_read_here(tmp_path, monkeypatch):
    import xlsxwriter

    path = tmp_path / "big.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Transfers")
    ws.write_row(0, 0, ["record_id", "flow", "date"])
    ws.write_row(1, 0, ["R1", "export", "2024-01-05"])
    wb.close()
    read, calls = _read(path, True, monkeypatch, limits=Limits(worker_memory_mb=64))
    assert calls
    assert "file-unreadable" not in {f.code for f in read.findings}
    assert read.info.readable and read.tables[0].data.iloc[0, 0] == "R1"


@pytest.mark.parametrize("writer", ["openpyxl", "xlsxwriter", "xlsxwriter-constant-memory"])
def test_head_cells_reads_the_first_rows_as_text(tmp_path, writer):
    from att_report.intake import safety
    from att_report.intake.readers import field_letters_from_head

    path = tmp_path / "head.xlsx"
    rows = [["Customs export & co <2024>"], [], ["Decl. No", "flow", "date", "hs_code", "licence_no"],
            [12345, "export", "2024-01-02", 930190, "EL-1"]]
    if writer == "openpyxl":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Data"
        for r, values in enumerate(rows, start=1):
            for c, v in enumerate(values, start=2):  # the table starts in column B
                ws.cell(r, c, v)
        wb.save(path)
    else:
        import xlsxwriter

        wb = xlsxwriter.Workbook(str(path), {"constant_memory": writer.endswith("memory")})
        ws = wb.add_worksheet("Data")
        for r, values in enumerate(rows):
            ws.write_row(r, 1, values)
        wb.close()
    cells = safety.head_cells(path, "Data", 10)
    assert cells[(1, 2)] == "Customs export & co <2024>"
    assert cells[(3, 2)] == "Decl. No" and cells[(3, 6)] == "licence_no"
    assert cells[(4, 2)] == "12345" and cells[(4, 5)] == "930190"
    assert (2, 2) not in cells
    assert safety.head_cells(path, "Data", 2).keys() == {(1, 2)}
    assert safety.head_cells(path, "No such sheet", 10) == {}
    letters = field_letters_from_head(cells, _agency(), "head.xlsx", sheet="Data", profile=None)
    assert letters["flow"] == "C" and letters["hs_code"] == "E" and letters["licence_no"] == "F"


def test_identifier_columns_are_scanned_in_the_sheet_scans_pass(corpus, monkeypatch):
    """Beside a worker or not, the number-typed identifier cells come from the scan's own pass."""
    from att_report.intake import safety, untrusted

    case = next(c for c in corpus if c.name == "identifiers-as-numbers")
    scans = []
    real = safety.numeric_cells
    monkeypatch.setattr(safety, "numeric_cells", lambda *a, **k: scans.append(a[2]) or real(*a, **k))
    serial, _ = _read(case.path, False, monkeypatch)
    parallel, calls = _read(case.path, True, monkeypatch)
    assert calls and not scans, "the number-typed cells were not collected in the sheet scan's pass"
    kinds = set(parallel.tables[0].cell_problems["kind"])
    assert {"number-identifier", "identifier-precision-lost"} <= kinds
    assert _facts(parallel) == _facts(serial)
    # the second pass over the sheet (when the scan collected nothing) finds the same facts
    monkeypatch.setattr(untrusted, "_scan_sheets", lambda path, agency, rel, pre, **kw: (
        safety.complete_preflight(path, pre, kw["limits"], agency=agency.name, rel_file=rel), {})[1])
    second_pass, _ = _read(case.path, False, monkeypatch)
    assert len(scans) == 1
    assert _facts(second_pass) == _facts(serial)


def test_intake_reads_the_largest_file_beside_the_others_and_keeps_file_order(tmp_path, monkeypatch):
    import xlsxwriter

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from intake_helpers import GOOD, HEADER, write_workspace

    from att_report.config import load_config
    from att_report.pipeline import run_intake

    ws = write_workspace(tmp_path, [{}, {"record_id": "R2"}])
    for name, rows in (("a_small.xlsx", 3), ("b_large.xlsx", 400), ("c_middle.xlsx", 40)):
        wb = xlsxwriter.Workbook(str(ws / "inputs" / "customs" / name))
        sheet = wb.add_worksheet("Transfers")
        sheet.write_row(0, 0, HEADER)
        for i in range(rows):
            sheet.write_row(i + 1, 0, [{**GOOD, "record_id": f"{name[0]}{i}"}[h] for h in HEADER])
        wb.close()

    def run(parallel: bool):
        calls = []
        monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 0 if parallel else 1 << 62)
        monkeypatch.setattr(untrusted, "_finish_beside_scan",
                            lambda *a, **k: calls.append(Path(a[1]).name) or _BESIDE(*a, **k))
        return run_intake(load_config(ws)), calls

    serial, none = run(False)
    parallel, calls = run(True)
    assert none == [] and calls == ["b_large.xlsx"]  # one worker, for the largest file
    assert [f.path for f in parallel.files] == [f.path for f in serial.files]
    pd.testing.assert_frame_equal(parallel.records, serial.records)
    pd.testing.assert_frame_equal(parallel.findings, serial.findings)
    assert len(parallel.records) == 2 + 3 + 400 + 40


def _monthly_workspace(tmp_path: Path, sizes: dict[str, int]) -> Path:
    """A workspace whose customs office sent one workbook per month (`sizes`: file name -> rows)."""
    import xlsxwriter

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from intake_helpers import GOOD, HEADER, write_workspace

    ws = write_workspace(tmp_path, [{}, {"record_id": "R2", "partner_state": "Nowhereland"}])
    for name, rows in sizes.items():
        wb = xlsxwriter.Workbook(str(ws / "inputs" / "customs" / name))
        sheet = wb.add_worksheet("Transfers")
        sheet.write_row(0, 0, HEADER)
        for i in range(rows):
            country = "Atlantis" if i % 7 == 3 else GOOD["partner_state"]  # a finding now and then
            sheet.write_row(i + 1, 0, [{**GOOD, "record_id": f"{name[:6]}-{i}", "partner_state": country}[h]
                                       for h in HEADER])
        wb.close()
    return ws


def test_several_large_workbooks_are_read_in_two_lanes_as_in_one(tmp_path, monkeypatch):
    import threading

    from att_report.config import load_config
    from att_report.pipeline import run_intake

    sizes = {f"month_{m:02d}.xlsx": 30 + 10 * m for m in range(1, 9)}
    ws = _monthly_workspace(tmp_path, sizes)
    real = untrusted.begin_read
    seen = []

    def recorded(path, *a, worker=True, **k):
        seen.append((Path(path).name, threading.current_thread().name, worker))
        return real(path, *a, worker=worker, **k)

    monkeypatch.setattr(untrusted, "begin_read", recorded)

    def run(threshold: int):
        seen.clear()
        monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", threshold)
        return run_intake(load_config(ws)), list(seen)

    one_lane, one = run(1 << 62)  # no workbook large enough for a worker: one lane, as always
    two_lanes, two = run(1)  # every workbook is: the largest goes to a worker, in a second lane
    assert {thread for _, thread, _ in one} == {threading.current_thread().name}
    lanes = {thread for _, thread, _ in two}
    assert lanes == {threading.current_thread().name, "att-report-lane"}
    lane = [(name, worker) for name, thread, worker in two if thread == "att-report-lane"]
    assert lane[0] == ("month_08.xlsx", True) and not any(worker for _, worker in lane[1:])
    here = [name for name, thread, _ in two if thread != "att-report-lane"]
    assert here[0] == "data.csv"  # this thread starts from the smallest file
    assert sorted(name for name, _, _ in two) == sorted(name for name, _, _ in one)
    assert [f.path for f in two_lanes.files] == [f.path for f in one_lane.files]
    pd.testing.assert_frame_equal(two_lanes.records, one_lane.records)
    pd.testing.assert_frame_equal(two_lanes.findings, one_lane.findings)
    assert len(two_lanes.records) == 2 + sum(sizes.values())
    assert "country-unknown" in set(two_lanes.findings["code"])


@pytest.mark.parametrize("january", [20, 150])
def test_one_large_workbook_beside_much_smaller_ones_is_read_in_one_lane(tmp_path, monkeypatch, january):
    """The benchmark's shape: a year of customs rows beside a workbook a tenth its size (both large
    enough for a worker) keeps one worker and this thread; once the others weigh 3/4 of it, two lanes."""
    import threading

    from att_report.config import load_config
    from att_report.pipeline import run_intake

    ws = _monthly_workspace(tmp_path, {"year.xlsx": 300, "january.xlsx": january, "february.xlsx": january})
    threads = []
    real = untrusted.begin_read
    monkeypatch.setattr(untrusted, "begin_read", lambda *a, **k: threads.append(
        threading.current_thread().name) or real(*a, **k))
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 1)
    result = run_intake(load_config(ws))
    assert len(threads) == 4
    assert ("att-report-lane" in threads) == (january == 150)
    assert len(result.records) == 2 + 300 + 2 * january


def test_workbooks_below_a_workers_size_are_read_on_two_threads_once_they_are_worth_it(tmp_path, monkeypatch):
    """No workbook large enough for a worker, but enough of them in all: two reading threads, no worker."""
    import threading

    from att_report.config import load_config
    from att_report.intake.headstart import sheet_xml_bytes
    from att_report.pipeline import run_intake

    ws = _monthly_workspace(tmp_path, {f"month_{m:02d}.xlsx": 60 for m in range(1, 5)})
    size = sheet_xml_bytes(ws / "inputs/customs/month_01.xlsx")
    threads, workers = [], []
    real = untrusted.begin_read
    monkeypatch.setattr(untrusted, "begin_read", lambda *a, **k: threads.append(
        threading.current_thread().name) or real(*a, **k))
    monkeypatch.setattr(untrusted, "_finish_beside_scan", lambda *a, **k: workers.append(a[1]) or _BESIDE(*a, **k))
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 2 * size)  # none is that large; the four are
    two = run_intake(load_config(ws))
    assert "att-report-lane" in threads and not workers
    threads.clear()
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 5 * size)  # nor the four together: one thread
    one = run_intake(load_config(ws))
    assert set(threads) == {threading.current_thread().name} and not workers
    pd.testing.assert_frame_equal(two.records, one.records)
    pd.testing.assert_frame_equal(two.findings, one.findings)


def test_a_failure_in_the_second_lane_fails_the_read(tmp_path, monkeypatch):
    """Not a lost file: an unexpected error in the lane's thread is raised by the read, as in one lane."""
    import threading

    from att_report.config import load_config
    from att_report.pipeline import run_intake

    ws = _monthly_workspace(tmp_path, {f"month_{m:02d}.xlsx": 20 for m in range(1, 5)})
    real = untrusted.begin_read

    def broken(path, *a, **k):
        if threading.current_thread().name == "att-report-lane":
            raise RuntimeError("planted bug in the lane")
        return real(path, *a, **k)

    monkeypatch.setattr(untrusted, "begin_read", broken)
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 1)
    with pytest.raises(RuntimeError, match="planted bug in the lane"):
        run_intake(load_config(ws))


def test_the_worker_reads_the_largest_workbook_even_beside_a_larger_csv(tmp_path, monkeypatch):
    """A csv is read in this process whatever its size: the workbook goes to the worker meanwhile."""
    import csv

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from intake_helpers import GOOD, HEADER

    from att_report.config import load_config
    from att_report.intake.headstart import reading_order
    from att_report.pipeline import run_intake

    ws = _monthly_workspace(tmp_path, {"licences.xlsx": 30})
    with open(ws / "inputs/customs/big.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(3000):
            writer.writerow([{**GOOD, "record_id": f"C{i}"}[h] for h in HEADER])
    paths = sorted((ws / "inputs/customs").iterdir())
    assert paths[0].stat().st_size > paths[2].stat().st_size  # big.csv is the largest file
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 1)
    assert [paths[i].name for i in reading_order(paths)] == ["licences.xlsx", "big.csv", "data.csv"]
    workers = []
    monkeypatch.setattr(untrusted, "_finish_beside_scan", lambda *a, **k: workers.append(Path(a[1]).name)
                        or _BESIDE(*a, **k))
    result = run_intake(load_config(ws))
    assert workers == ["licences.xlsx"]
    assert len(result.records) == 2 + 30 + 3000


def test_number_typed_cells_in_any_attribute_order_same_in_the_scan_pass(tmp_path):
    from make_corpus import write_xlsx

    from att_report.intake import safety

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>'
           '<row r="1"><c r="A1" t="inlineStr"><is><t>record_id</t></is></c></row>'
           '<row r="2"><c r="A2"><v>101</v></c></row>'
           '<row r="3"><c s="1" r="A3"><v>102</v></c></row>'
           '<row r="4"><c\tr="A4" t="n"><v>103</v></c></row>'
           '<row r="5"><c r="A5" t="inlineStr"><is><t>104</t></is></c></row>'
           '<row r="6"><c t="s" r="A6"><v>0</v></c></row>'
           '</sheetData></worksheet>')
    path = write_xlsx(tmp_path / "order.xlsx", [("Data", xml, "visible")])
    alone = safety.numeric_cells(path, "Data", ["A"])
    assert alone["excel_row"].tolist() == [2, 3, 4]
    pre = safety.preflight(path, scan_sheets=False)
    safety.complete_preflight(path, pre, numeric_letters={"Data": frozenset({"A"})})
    pd.testing.assert_frame_equal(pre.sheets["Data"].numeric, alone)


def test_the_workers_table_files_are_removed_after_the_read(corpus, monkeypatch, tmp_path):
    import tempfile

    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    case = next(c for c in corpus if not c.refuse and c.name == "identifiers-as-numbers")
    read, calls = _read(case.path, True, monkeypatch)
    assert calls and read.tables and all(str(d) == "string" for d in read.tables[0].data.dtypes)
    assert list(spill_root.iterdir()) == []


def test_tables_go_back_through_the_pipe_when_the_spill_folder_cannot_be_written(corpus, tmp_path):
    case = next(c for c in corpus if c.name == "identifiers-as-numbers")
    missing = tmp_path / "no-such-folder"
    read = untrusted.read_for_transfer(case.path, _agency(), case.path.name, missing, kind="xlsx")
    assert read.tables and isinstance(read.tables[0].data, pd.DataFrame)
    spilled = untrusted.read_for_transfer(case.path, _agency(), case.path.name, tmp_path, kind="xlsx")
    assert not isinstance(spilled.tables[0].data, pd.DataFrame)
    untrusted._receive_tables(spilled)
    pd.testing.assert_frame_equal(spilled.tables[0].data, read.tables[0].data)


def test_no_temporary_folder_means_the_large_file_is_read_here(corpus, monkeypatch):
    import tempfile

    def no_temp(*args, **kwargs):
        raise OSError("read-only file system")

    case = next(c for c in corpus if c.name == "identifiers-as-numbers")
    serial, _ = _read(case.path, False, monkeypatch)
    monkeypatch.setattr(tempfile, "mkdtemp", no_temp)
    parallel, calls = _read(case.path, True, monkeypatch)
    assert calls == [] and _facts(parallel) == _facts(serial)


def test_running_is_true_until_the_workers_result_arrives():
    import time

    from att_report.intake import safety

    job = safety.start_contained(time.sleep, 1.5)
    try:
        assert job.running()
        assert job.result() is None
        assert not job.running()
    finally:
        job.cancel()


@pytest.mark.parametrize("still_reading", [True, False])
def test_the_wait_for_a_large_file_is_used_only_while_its_worker_reads(tmp_path, monkeypatch, still_reading):
    """`while_waiting` (the build warms later stages there) runs once, only while the worker still reads,
    and changes nothing in what intake gives."""
    import xlsxwriter

    sys.path.insert(0, str(Path(__file__).parent.parent))
    from intake_helpers import GOOD, HEADER, write_workspace

    from att_report import pipeline
    from att_report.config import load_config
    from att_report.intake import safety

    ws = write_workspace(tmp_path, [{}, {"record_id": "R2", "partner_state": "Narnia"}])
    wb = xlsxwriter.Workbook(str(ws / "inputs" / "customs" / "large.xlsx"))
    sheet = wb.add_worksheet("Transfers")
    sheet.write_row(0, 0, HEADER)
    for i in range(200):
        sheet.write_row(i + 1, 0, [{**GOOD, "record_id": f"L{i}", "date": "31/02/2024" if i == 7 else GOOD["date"]}[h]
                                   for h in HEADER])
    wb.close()
    config = load_config(ws)
    serial = pipeline.run_intake(config)

    warmed = []
    real_warm = pipeline.warm_later_stages
    monkeypatch.setattr(pipeline, "warm_later_stages", lambda *a: warmed.append(1) or real_warm(*a))
    monkeypatch.setattr(safety.ContainedJob, "running", lambda self: still_reading)
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 0)
    parallel = pipeline.run_intake(config)
    assert warmed == ([1] if still_reading else [])
    pd.testing.assert_frame_equal(parallel.records, serial.records)
    pd.testing.assert_frame_equal(parallel.findings, serial.findings)
    # the made-up rows of the warm-up leave no trace; the real problems are all there
    assert not parallel.findings["file"].str.contains("warm", case=False).any()
    large = parallel.findings[parallel.findings["file"].str.endswith("large.xlsx")]
    assert 9 in set(large["row"])  # the impossible date on Excel row 9
    assert len(parallel.records) == 202


def test_the_worker_server_can_be_started_early_and_then_serves_workers():
    import time

    from att_report.intake import safety, worker_server

    assert worker_server.warm() is True
    assert worker_server.warm() is True  # already running: nothing more to do
    assert safety.run_contained(time.sleep, 0) is None


def test_a_warmed_server_is_known_to_run_without_multiprocessings_private_record(monkeypatch):
    """`running` must not depend on a private attribute of multiprocessing once `warm` started the server."""
    from multiprocessing import forkserver

    from att_report.intake import worker_server

    assert worker_server.warm() is True
    assert worker_server.running() is True
    monkeypatch.setattr(forkserver, "_forkserver", object())  # a Python without the record
    assert worker_server.running() is True
    monkeypatch.setattr(worker_server, "_WARMED", False)
    assert worker_server.running() is False  # not warmed, no record: "no", never an error


def test_no_fork_server_means_no_early_start(monkeypatch):
    from att_report.intake import worker_server

    class Spawn:
        def get_start_method(self):
            return "spawn"

    monkeypatch.setattr(worker_server, "_CONTEXT", Spawn())
    assert worker_server.warm() is False


@pytest.mark.parametrize("values, expected", [
    ([" 123 "], True), (["1.5e+20"], True), (["\u00a0123\u3000"], True), (["0.25"], True), (["x", "7"], True),
    (["\t42\n"], True), (["\u200b7"], True), (["(12)"], True),  # looser than a strip: a gate, never stricter
    (["12a"], False), (["-5"], False), (["+5"], False), ([".5"], False), (["a1"], False), (["1.2.3"], False),
    (["\u0661\u0662"], False), (["\uff11\uff12"], False), ([None, ""], False),
    ([], False),
])
def test_the_numeric_gate_sees_what_a_number_typed_cell_gives(values, expected):
    """ASCII digits only (what a number cell shows); arrow-backed and object columns agree."""
    assert untrusted._any_looks_numeric(pd.Series(values, dtype="string")) is expected
    assert untrusted._any_looks_numeric(pd.Series(values, dtype=object)) is expected


@pytest.mark.parametrize("server_running", [True, False])
def test_a_job_starts_at_once_when_the_server_runs_else_from_a_thread(monkeypatch, server_running):
    import time

    from att_report.intake import safety, worker_server

    monkeypatch.setattr(worker_server, "running", lambda: server_running)
    job = safety.start_contained(time.sleep, 0)
    try:
        assert (job._starter is None) is server_running
        assert job.result() is None
    finally:
        job.cancel()


@pytest.mark.parametrize("argv, warmed", [(["build", "ws"], True), (["--debug", "validate", "ws"], True),
                                          (["status", "ws"], False), (["--version"], False)])
def test_the_command_starts_the_server_first_only_for_commands_that_read(monkeypatch, argv, warmed):
    import att_report.__main__ as entry
    import att_report.cli as cli
    from att_report.intake import worker_server

    calls = []
    monkeypatch.setattr(sys, "argv", ["att-report", *argv])
    monkeypatch.setattr(worker_server, "warm", lambda: calls.append("warm") or True)
    monkeypatch.setattr(cli, "main", lambda: calls.append("command"))
    entry.main()
    assert calls == (["warm", "command"] if warmed else ["command"])


def test_the_warm_up_compiles_only_while_the_worker_reads_and_changes_no_compile(tmp_path, monkeypatch):
    """The warm-up's compile (made-up rows, result dropped) runs only while `still_reading`, and a
    compile after it gives what a compile before it gave."""
    sys.path.insert(0, str(Path(__file__).parent.parent))
    from intake_helpers import write_workspace

    from att_report import compile as compile_stage
    from att_report import pipeline
    from att_report.config import load_config

    ws = write_workspace(tmp_path, [{}, {"record_id": "R2", "partner_state": "Narnia"}, {"record_id": "R3"}])
    config = load_config(ws)
    records = pipeline.run_intake(config).records
    before = compile_stage.compile_report(records, config)
    compiled = []
    real = compile_stage.compile_report
    monkeypatch.setattr(compile_stage, "compile_report", lambda *a, **k: compiled.append(1) or real(*a, **k))
    profiles = pipeline.load_profiles(config)
    pipeline.warm_later_stages(config, profiles, lambda: False)
    assert compiled == []
    pipeline.warm_later_stages(config, profiles, lambda: True)
    assert compiled == [1]
    monkeypatch.setattr(compile_stage, "compile_report", real)
    after = compile_stage.compile_report(records, config)
    from att_report.render.report_xlsx import write_report

    write_report(tmp_path / "before.xlsx", before.model)
    write_report(tmp_path / "after.xlsx", after.model)
    assert (tmp_path / "after.xlsx").read_bytes() == (tmp_path / "before.xlsx").read_bytes()
    pd.testing.assert_frame_equal(after.records, before.records)
    pd.testing.assert_frame_equal(after.findings, before.findings)
