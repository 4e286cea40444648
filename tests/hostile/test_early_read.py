"""A large workbook's worker parses before it loads the readers (`intake.early`, issue 7).

What it returns must be what `read_for_transfer` returns after parsing the
sheets itself, on every workbook of the hostile corpus (broken ones too),
with and without a profile naming a sheet; and the worker's start must stay
light: the fork server preloads no pandas, and the modules a worker needs
before it parses load none.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import make_corpus, sheet_xml, table, write_xlsx  # noqa: E402

from att_report.config import AgencyConfig  # noqa: E402
from att_report.intake import early, untrusted, worker_server  # noqa: E402
from att_report.intake.profiles import Profile  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return [c for c in make_corpus(tmp_path_factory.mktemp("corpus"), big=False) if c.kind in ("xlsx", "xlsm")]


def _agency() -> AgencyConfig:
    return AgencyConfig(name="Customs", role="customs", files=("*",))


def _facts(read) -> dict:
    untrusted._receive_tables(read)
    return {
        "readable": read.info.readable, "rows": read.info.rows_read, "sheets": read.info.sheets,
        "findings": [(f.code, f.sheet, f.row, f.field, f.message) for f in read.findings],
        "tables": [(t.sheet, t.header_row, list(t.excel_rows), t.hidden, t.column_letters, t.field_columns,
                    t.data.to_dict("list"), [str(d) for d in t.data.dtypes]) for t in read.tables],
    }


def _start(func, path: Path, spill: Path, profile: Profile | None):
    """`func`'s read started in a contained worker (the corpus holds files that crash a reader)."""
    from att_report.intake.safety import start_contained

    spill.mkdir(parents=True, exist_ok=True)
    return start_contained(func, path, _agency(), path.name, spill, profile=profile, kind="xlsx")


def _finish(job):
    from att_report.intake.safety import ReaderCrashed

    try:
        return _facts(job.result())
    except ReaderCrashed:
        return "crashed"


def _both(path: Path, tmp_path: Path, profile: Profile | None = None):
    """(plain read, early read) of `path`, each in its own worker, both at once."""
    jobs = (_start(untrusted.read_for_transfer, path, tmp_path / "a", profile),
            _start(early.read_workbook_early, path, tmp_path / "b", profile))
    return tuple(_finish(job) for job in jobs)


def test_the_early_read_equals_the_plain_read_on_every_workbook(corpus, tmp_path):
    read = 0
    for case in corpus:
        plain, first = _both(case.path, tmp_path / case.name)
        assert first == plain, case.name
        read += first != "crashed" and bool(first["tables"])
    assert read >= 10  # most of the corpus is read to tables: the comparison bites


@pytest.mark.parametrize("sheet", [1, 2, 3, "Second", "Missing"])
def test_the_early_read_takes_the_sheet_the_profile_names(tmp_path, sheet):
    path = write_xlsx(tmp_path / "three.xlsx", [("First", sheet_xml(table(3)), "visible"),
                                                 ("Second", sheet_xml(table(5)), "hidden"),
                                                 ("Notes", sheet_xml([["just a note"]]), "visible")])
    profile = Profile(path="p.toml", sheet=sheet)
    plain, first = _both(path, tmp_path, profile)
    assert first == plain
    if sheet in (2, "Second"):
        assert first["sheets"] == ["Second"] and first["rows"] == 5


def test_a_workbook_the_parser_cannot_open_gives_the_plain_reads_finding(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    plain, first = _both(path, tmp_path)
    assert first == plain and first != "crashed" and not first["readable"]


def test_the_worker_starts_without_pandas():
    """The fork server preloads no pandas, and what a worker unpickles before parsing loads none."""
    assert not any(name.split(".")[0] in ("pandas", "numpy") for name in worker_server.PRELOAD)
    code = ("import sys, pickle\n"
            "import att_report.intake.worker_server, att_report.intake.early\n"
            "from att_report.config import AgencyConfig, Limits\n"
            "from att_report.intake.profiles import Profile\n"
            "pickle.loads(pickle.dumps((AgencyConfig(name='A', role='customs', files=('*',)), Profile(path='p.toml'),"
            " Limits())))\n"
            "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_grids_given_to_the_reader_are_read_as_parsed_ones(tmp_path):
    """read_file with grids (from early.parse_sheets) equals read_file parsing the workbook itself."""
    from att_report.intake.readers import Grids, read_file

    path = write_xlsx(tmp_path / "t.xlsx", [("T", sheet_xml(table(4), start_row=3), "visible")])
    names, sheets = early.parse_sheets(path, None)
    grids = Grids(names=names, sheets={name: early.as_grid(sheet) for name, sheet in sheets.items()})
    given = read_file(path, _agency(), "t.xlsx", kind="xlsx", grids=grids)
    parsed = read_file(path, _agency(), "t.xlsx", kind="xlsx")
    assert given.tables[0].excel_rows.tolist() == parsed.tables[0].excel_rows.tolist() == [4, 5, 6, 7]
    pd.testing.assert_frame_equal(given.tables[0].data, parsed.tables[0].data)
