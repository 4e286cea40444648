"""The head start: the largest workbook's worker, started before the command loads the pipeline.

It changes when the parse starts, never what is read: the read takes the
worker over only when it would have started exactly that one, and stops it
otherwise (a refused file, other arguments) or when nobody claims it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from intake_helpers import HEADER, write_workspace  # noqa: E402
from make_corpus import sheet_xml, table, write_xlsx  # noqa: E402

from att_report import pipeline  # noqa: E402
from att_report.config import Limits, load_config  # noqa: E402
from att_report.intake import headstart, safety, untrusted  # noqa: E402
from att_report.intake.early import read_workbook_early  # noqa: E402


def _rows(n: int) -> list[list[str]]:
    rows = [HEADER]
    for i in range(n):
        rows.append([f"R{i + 1}", "export", "actual", f"EL-{i % 3}", "2024-03-01", "", "Germany", "VIII.SA.2",
                     str(i + 1), "1000", "USD", "Rifle", "no"])
    return rows


def _workspace(root: Path, *, extra: str = "") -> Path:
    ws = write_workspace(root, extra=extra)
    import xlsxwriter

    book = xlsxwriter.Workbook(str(ws / "inputs" / "customs" / "declarations.xlsx"))
    sheet = book.add_worksheet("Declarations")
    for r, row in enumerate(_rows(40)):
        sheet.write_row(r, 0, row)
    book.close()
    return ws


@pytest.fixture
def every_workbook_large(monkeypatch):
    """Every workbook counts as large: the head start and the read both want a worker."""
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 0)


@pytest.fixture
def workers(monkeypatch):
    """Records the workers started: by the head start, and by the read itself."""
    seen = {"head": [], "read": []}

    class Tracked(headstart.ContainedJob):
        def __init__(self, func, args, kwargs, limits, **kw):
            super().__init__(func, args, kwargs, limits, **kw)
            seen["head"].append(self)

    real = safety.start_contained

    def start(func, *args, **kwargs):
        job = real(func, *args, **kwargs)
        if func is read_workbook_early:
            seen["read"].append(job)
        return job

    monkeypatch.setattr(headstart, "ContainedJob", Tracked)
    monkeypatch.setattr(safety, "start_contained", start)
    return seen


def _facts(intake) -> tuple:
    records = intake.records.drop(columns=["row_uid"], errors="ignore")
    return (records.astype(str).values.tolist(),
            sorted(map(tuple, intake.findings[["code", "file", "row", "field"]].astype(str).values.tolist())))


def test_the_read_takes_the_head_started_worker_over_and_reads_the_same(tmp_path, every_workbook_large, workers):
    config = load_config(_workspace(tmp_path / "ws"))
    plain = pipeline.run_intake(config)
    assert len(workers["read"]) == 1 and not workers["head"]  # no head start asked: the read starts its worker
    with headstart.head_start(config) as early:
        assert len(workers["head"]) == 1
        spill = next(iter(early._started.values())).spill
        ahead = pipeline.run_intake(config, early=early)
    assert len(workers["read"]) == 1  # none started by the read this time
    assert not early._started and not spill.exists()
    assert _facts(ahead) == _facts(plain)
    assert len(ahead.records) == 40


def test_a_worker_started_for_another_read_is_stopped_and_the_read_starts_its_own(tmp_path, every_workbook_large,
                                                                                   workers):
    config = load_config(_workspace(tmp_path / "ws"))
    path = config.root / "inputs" / "customs" / "declarations.xlsx"
    agency = config.agencies[0]
    other = Limits(worker_timeout_s=config.limits.worker_timeout_s + 1)
    with headstart.head_start(config) as early:
        started = next(iter(early._started.values()))
        read = untrusted.begin_read(path, agency, "inputs/customs/declarations.xlsx", profile=None, limits=other,
                                    early=early)()
    assert started.job._closed and not started.spill.exists()
    assert len(workers["read"]) == 1
    plain = untrusted.read_untrusted(path, agency, "inputs/customs/declarations.xlsx", profile=None, limits=other)
    assert read.tables[0].data.equals(plain.tables[0].data) and read.info.rows_read == plain.info.rows_read == 40


def test_a_file_the_preflight_refuses_stops_the_head_started_worker(tmp_path, every_workbook_large, workers):
    ws = write_workspace(tmp_path / "ws")
    sst = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
           "<si><t>&xxe;</t></si></sst>")
    write_xlsx(ws / "inputs" / "customs" / "xxe.xlsx", [("T", sheet_xml(table(2)), "visible")],
               extra={"xl/sharedStrings.xml": sst})
    config = load_config(ws)
    with headstart.head_start(config) as early:
        started = next(iter(early._started.values()))
        intake = pipeline.run_intake(config, early=early)
    assert started.job._closed and not started.spill.exists()
    assert not workers["read"]
    assert "xml-entities" in set(intake.findings["code"]) and intake.records.empty


def test_an_unclaimed_worker_is_stopped_when_the_command_ends(tmp_path, every_workbook_large, workers):
    config = load_config(_workspace(tmp_path / "ws"))
    with pytest.raises(RuntimeError):
        with headstart.head_start(config) as early:
            started = next(iter(early._started.values()))
            raise RuntimeError("the run failed before its read")
    assert started.job._closed and not started.job.running() and not started.spill.exists()


def test_only_the_largest_workbook_gets_a_head_start_and_only_when_it_is_large(tmp_path, workers, monkeypatch):
    ws = _workspace(tmp_path / "ws")
    shutil.copy(ws / "inputs" / "customs" / "declarations.xlsx", ws / "inputs" / "customs" / "small.xlsx")
    write_workspace(ws, rows=[{} for _ in range(2000)])  # a csv larger than both workbooks
    config = load_config(ws)
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 0)
    with headstart.head_start(config) as early:
        # the csv is read in the main process whatever its size: the worker is the workbook's
        assert [p.name for p in early._started] == ["declarations.xlsx"]
    (ws / "inputs" / "customs" / "data.csv").unlink()
    with headstart.head_start(config) as early:
        assert [p.name for p in early._started] == ["declarations.xlsx"]  # same size: the first one found
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 1 << 40)
    with headstart.head_start(config) as early:
        assert not early._started
    assert len(workers["head"]) == 2  # one worker for each of the first two runs


def test_a_head_start_never_fails_the_command(tmp_path, every_workbook_large, workers):
    ws = _workspace(tmp_path / "ws", extra='profile = "profiles/missing.toml"')
    with headstart.head_start(load_config(ws)) as early:
        assert not early._started  # the profile cannot be loaded: the read reports that, as before
    assert not workers["head"]


def test_the_head_start_loads_no_pandas(tmp_path):
    ws = _workspace(tmp_path / "ws")
    code = ("import sys\n"
            "import att_report.cli\n"
            "from att_report.config import load_config\n"
            "from att_report.intake import headstart\n"
            "headstart.PARALLEL_SHEET_BYTES = 0\n"
            f"with headstart.head_start(load_config({str(ws)!r})) as early:\n"
            "    assert early._started\n"
            "    print(sorted(m for m in ('pandas', 'numpy', 'pyarrow') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_build_command_with_a_head_start_writes_the_same_outputs(tmp_path, monkeypatch, workers):
    from typer.testing import CliRunner

    from att_report.cli import app

    ws = _workspace(tmp_path / "ws")
    runner = CliRunner()

    def build(out: Path) -> dict[str, bytes]:
        result = runner.invoke(app, ["build", str(ws), "--out", str(out), "--quiet"])
        assert result.exit_code in (0, 1), result.output
        return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix in (".xlsx", ".csv", ".html")}

    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 1 << 62)
    here = build(tmp_path / "here")
    assert not workers["head"] and not workers["read"]
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 0)
    ahead = build(tmp_path / "ahead")
    assert len(workers["head"]) == 1 and not workers["read"]  # the command's head start was taken over
    assert ahead == here and any(name.endswith(".xlsx") for name in here)


def test_a_workers_tables_go_to_shared_memory_when_it_has_room(tmp_path, monkeypatch):
    import os
    import tempfile

    shm = tmp_path / "shm"
    shm.mkdir()
    monkeypatch.setattr(headstart, "SHARED_MEMORY", shm)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the fallback folder, cleaned by pytest
    (tmp_path / "tmp").mkdir()
    assert headstart.spill_folder(1024).parent == shm
    real = os.statvfs

    def full(path):
        found = real(path)
        return os.statvfs_result((found.f_bsize, found.f_frsize, found.f_blocks, found.f_bfree, 10,
                                  *tuple(found)[5:]))
    monkeypatch.setattr(os, "statvfs", full)  # 10 free blocks: no room for 1 MB of XML's tables
    assert headstart.spill_folder(1 << 20).parent == tmp_path / "tmp"
    monkeypatch.setattr(headstart, "SHARED_MEMORY", tmp_path / "none")
    assert headstart.spill_folder(1024).parent == tmp_path / "tmp"


def test_a_worker_leaves_its_parsed_sheets_to_its_end_and_a_direct_call_frees_them(tmp_path, monkeypatch):
    """Freeing a large sheet's parsed cells would delay the result: a worker (only) keeps them."""
    from att_report.intake import early, worker_server

    config = load_config(_workspace(tmp_path / "ws"))
    agency = next(a for a in config.agencies if a.name == "Customs")
    path = config.root / "inputs" / "customs" / "declarations.xlsx"
    rel = "inputs/customs/declarations.xlsx"
    monkeypatch.setattr(early, "_LEFT_TO_EXIT", [])
    spill = tmp_path / "spill"
    spill.mkdir()
    direct = read_workbook_early(path, agency, rel, spill, kind="xlsx", limits=config.limits)
    assert early._LEFT_TO_EXIT == []  # not a worker: freed as usual
    monkeypatch.setattr(worker_server, "IN_WORKER", True)
    spill2 = tmp_path / "spill2"
    spill2.mkdir()
    kept = read_workbook_early(path, agency, rel, spill2, kind="xlsx", limits=config.limits)
    (names, sheets), = early._LEFT_TO_EXIT
    assert names == ["Declarations"] and sheets["Declarations"].height == 41
    assert [t.data.rows for t in kept.tables] == [t.data.rows for t in direct.tables] == [40]  # spilled


def test_a_contained_worker_knows_it_is_one():
    from att_report.intake import worker_server
    from att_report.intake.contained import run_contained

    assert worker_server.IN_WORKER is False
    assert run_contained(_in_worker, limits=Limits()) is True


def _in_worker() -> bool:
    from att_report.intake import worker_server

    return worker_server.IN_WORKER


def test_the_early_worker_takes_the_files_digest_beside_the_parse(tmp_path, monkeypatch):
    """The digest (the manifest's) is taken once, by the loader thread, and is the file's."""
    from att_report.intake import readers

    config = load_config(_workspace(tmp_path / "ws"))
    agency = next(a for a in config.agencies if a.name == "Customs")
    path = config.root / "inputs" / "customs" / "declarations.xlsx"
    calls = []
    real = readers.file_digest
    monkeypatch.setattr(readers, "file_digest", lambda p: calls.append(p) or real(p))
    spill = tmp_path / "spill"
    spill.mkdir()
    read = read_workbook_early(path, agency, "inputs/customs/declarations.xlsx", spill, kind="xlsx",
                               limits=config.limits)
    assert len(calls) == 1
    assert (read.info.sha256, read.info.size) == real(path)[:2]
