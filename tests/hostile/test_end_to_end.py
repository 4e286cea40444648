"""Every corpus file through the real intake: a finding naming it, no crash, the other files still read."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from make_corpus import make_corpus  # noqa: E402
from intake_helpers import intake, write_workspace  # noqa: E402

CORPUS_DIR: Path | None = None
CASES = []


def _cases():
    global CORPUS_DIR, CASES
    if not CASES:
        import atexit
        import tempfile

        CORPUS_DIR = Path(tempfile.mkdtemp(prefix="att-corpus-"))
        # made at collection time, before any fixture exists to own it
        atexit.register(shutil.rmtree, CORPUS_DIR, ignore_errors=True)
        CASES = make_corpus(CORPUS_DIR, big=False)
    return CASES


@pytest.fixture(scope="module")
def cases():
    return {c.name: c for c in _cases()}


def _workspace_with(tmp_path: Path, case_path: Path) -> Path:
    ws = write_workspace(tmp_path, [{}])  # one good csv row: must still be read
    target = tmp_path / "inputs" / "customs" / case_path.name
    if case_path.suffix.lower() not in (".csv", ".xlsx"):
        target = target.with_suffix(".xlsx")
    shutil.copyfile(case_path, target)
    return ws


@pytest.mark.parametrize("name", [c.name for c in _cases()])
def test_case_gives_findings_not_a_crash(tmp_path, name, cases):
    case = cases[name]
    ws = _workspace_with(tmp_path, case.path)
    result = intake(ws)
    rel = f"inputs/customs/{(ws / 'inputs/customs').joinpath(case.path.name).name}"
    mine = result.findings[result.findings["file"].str.endswith(Path(rel).stem + Path(rel).suffix)
                           | result.findings["file"].str.contains(case.path.stem, regex=False)]
    # the good file is always read
    assert "R1" in set(result.records.loc[result.records["src_file"].str.endswith("data.csv"), "record_id"])
    # row accounting: every row read is a record
    assert len(result.records) == sum(f.rows_read for f in result.files)
    if case.refuse:
        assert (mine["severity"] == "error").sum() >= 1, mine[["code", "message"]]
        assert not result.records["src_file"].str.contains(case.path.stem, regex=False).any()
    for code in case.codes:
        assert code in set(mine["code"]), (code, mine[["code", "message"]].to_string())


def test_formula_without_value_and_error_cells_name_the_cell(tmp_path, cases):
    names = [n for n in cases if n.startswith(("formula", "error-cells", "merged"))]
    assert len(names) >= 4
    for name in names:
        case = cases[name]
        ws = _workspace_with(tmp_path / name, case.path)
        result = intake(ws)
        codes = result.findings[result.findings["file"].str.contains(case.path.stem, regex=False)]
        for row, col, kind in case.cells:
            hit = codes[(codes["row"] == row)]
            assert not hit.empty, (name, row, col, kind, codes[["code", "row", "message"]].to_string())
            assert any(f"{col}{row}" in m for m in hit["message"]), hit["message"].tolist()


def test_csv_cases_keep_line_numbers(tmp_path, cases):
    for name, case in cases.items():
        if not name.startswith("csv-"):
            continue
        ws = _workspace_with(tmp_path / name, case.path)
        result = intake(ws)
        rec = result.records[result.records["src_file"].str.contains(case.path.stem, regex=False)]
        found = result.findings[result.findings["file"].str.contains(case.path.stem, regex=False)]
        if "line_of_R2" in case.facts:
            assert rec.set_index("record_id").loc["R2", "src_row"] == case.facts["line_of_R2"], name
        elif "line" in case.facts and name != "csv-long-text":
            assert case.facts["line"] in set(found["row"].dropna().astype(int)), (name, found.to_string())
        if name == "csv-long-text":
            assert "text-too-long" in set(found["code"])
        if name == "csv-control-chars":
            assert "control-characters-removed" in set(found["code"])
            assert "\x07" not in "".join(rec["description"].dropna())


def test_old_excel_dates_and_1904_system(tmp_path, cases):
    for name in ("dates-1900", "dates-1904-system"):
        case = cases[name]
        ws = _workspace_with(tmp_path / name, case.path)
        result = intake(ws)
        rec = result.records[result.records["src_file"].str.contains(case.path.stem, regex=False)].set_index("src_row")
        for row, expected in case.facts["dates"].items():
            if expected == "invalid":
                bad = result.findings[(result.findings["code"] == "date-invalid") & (result.findings["row"] == row)]
                assert len(bad) == 1 and not rec.loc[row, "valid"]
            else:
                assert str(rec.loc[row, "date"].date()) == expected, (name, row)


def test_lying_dimension_reads_every_row(tmp_path, cases):
    case = cases["lying-dimension"]
    result = intake(_workspace_with(tmp_path, case.path))
    # the sheet has facts["rows"] rows: the header and the data below it
    assert (result.records["src_file"].str.contains(case.path.stem, regex=False)).sum() == case.facts["rows"] - 1


def test_identifiers_stored_as_numbers(tmp_path, cases):
    case = cases["identifiers-as-numbers"]
    found = intake(_workspace_with(tmp_path, case.path)).findings
    found = found[found["file"].str.contains(case.path.stem, regex=False)]
    for (row, col), digits in case.facts["numeric"].items():
        code = "identifier-precision-lost" if digits > 15 else "identifier-as-number"
        hit = found[(found["code"] == code) & (found["row"] == row)]
        assert len(hit) == 1 and f"{col}{row}" in hit["message"].iloc[0], found.to_string()


def test_error_cells_name_field_code_and_value(tmp_path, cases):
    """The error text, not a blank, reaches the finding, on the field the column feeds."""
    case = cases["error-cells"]
    found = intake(_workspace_with(tmp_path, case.path)).findings
    found = found[found["code"] == "cell-error"]
    assert sorted(zip(found["row"], found["field"], found["value"])) == [
        (3, "category", "#N/A"), (4, "value", "#DIV/0!")]
    assert (found["severity"] == "error").all()
