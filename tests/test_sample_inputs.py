"""The fictional sample workspace (sample_inputs/): it builds, every reconcile rule fires,
the planted problems are found where they were planted, the accounting adds up, and the
generator (tests/make_sample_inputs.py) reproduces the committed files exactly."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from att_report.cli import app
from att_report.rules import load_all_rules
from att_report.schema import DISPOSITIONS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_inputs"
YEAR = 2024
CUSTOMS_XLSX = "inputs/customs/declarations_2024_Q1-Q3.xlsx"
CUSTOMS_CSV = "inputs/customs/declarations_2024_Q4.csv"
DEFENCE = "inputs/defence/g2g_transfers_2024.xlsx"
LICENSING = "inputs/licensing/licence_register_2024.xlsx"


def _generator():
    spec = importlib.util.spec_from_file_location("make_sample_inputs", ROOT / "tests" / "make_sample_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample copied to a temp folder (the committed one stays untouched) and built there."""
    ws = tmp_path_factory.mktemp("sample") / "ws"
    shutil.copytree(SAMPLE, ws, ignore=shutil.ignore_patterns("out"))
    result = CliRunner().invoke(app, ["build", str(ws)])
    out = ws / "out"
    log = _read_csv(out / f"discrepancy_log_{YEAR}.csv")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    planted = _read_csv(SAMPLE / "planted_problems.csv")
    return {"result": result, "ws": ws, "out": out, "log": log, "manifest": manifest, "planted": planted}


def _at(log: list[dict], file: str, row: int, code: str | None = None) -> list[dict]:
    return [f for f in log if f["file"] == file and f["row"] == str(row) and (code is None or f["code"] == code)]


def test_build_exits_1_with_planted_errors_and_writes_outputs(built):
    result = built["result"]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    names = {p.name for p in built["out"].iterdir()}
    for name in ("ATT_annual_report_NZL_2024.xlsx", f"discrepancy_log_{YEAR}.csv", f"discrepancy_log_{YEAR}.xlsx",
                 "manifest.json", f"summary_{YEAR}.html"):
        assert name in names


def test_every_reconcile_rule_fires(built):
    codes = {f["code"] for f in built["log"]}
    reconcile = sorted(c for c, r in load_all_rules().items() if r.stage == "reconcile")
    assert reconcile, "no reconcile rules registered"
    assert [c for c in reconcile if c not in codes] == []
    assert "duplicate-record-id" in codes


def test_planted_findings_are_where_they_were_planted(built):
    log = built["log"]
    missing = []
    for p in built["planted"]:
        if p["kind"] != "finding" or p["code"] == "identifier-as-number":
            continue
        hits = _at(log, p["file"], int(p["row"]), p["code"])
        if not hits or (p["field"] and not any(h["field"] == p["field"] for h in hits)):
            missing.append((p["code"], p["file"], p["row"], p["field"]))
    assert missing == []


def test_some_planted_findings_precisely(built):
    log = built["log"]
    (germny,) = _at(log, DEFENCE, 44, "country-unknown")
    assert germny["severity"] == "error" and germny["field"] == "partner_state" and germny["value"] == "Germny"
    assert "Germany" in germny["message"]  # a hint, never an auto-correction
    (four,) = _at(log, DEFENCE, 59, "category-unresolved")
    assert four["value"] == "4" and "IV.a" in four["message"]
    (impossible,) = _at(log, CUSTOMS_CSV, 95, "date-invalid")
    assert impossible["value"] == "31/11/2024" and impossible["sheet"] == ""
    (late,) = _at(log, CUSTOMS_CSV, 136, "date-outside-year")
    assert late["value"] == "2025-01-06"
    (no_cur,) = _at(log, CUSTOMS_CSV, 34, "currency-missing")
    assert no_cur["field"] == "currency"
    (wide,) = _at(log, DEFENCE, 55, "digits-normalised")
    assert wide["severity"] == "info" and wide["value"] == "１０"
    (over,) = _at(log, LICENSING, 56, "licence-quantity-exceeded")
    assert over["sheet"] == "Register" and "225" in over["value"] and "200" in over["value"]
    assert len(over["related"].split(";")) == 3  # every shipment involved is named
    (merged,) = _at(log, CUSTOMS_XLSX, 30, "duplicate-merged")
    assert f"Ministry of Defence:{DEFENCE}:16" in merged["related"]


def test_namibia_na_and_lost_zeros_link_cleanly(built):
    log = built["log"]
    for p in built["planted"]:
        if p["kind"] == "clean":
            bad = [f["code"] for f in _at(log, p["file"], int(p["row"])) if f["severity"] == "error"]
            assert bad == [], (p, bad)
    # licence 00140915 arrived in customs as the number 140915: it still links to its licence
    lost_zeros = next(p for p in built["planted"] if p["code"] == "identifier-as-number")
    codes = {f["code"] for f in _at(log, lost_zeros["file"], int(lost_zeros["row"]))}
    assert not codes & {"shipment-licence-unknown", "country-unknown", "shipment-without-licence"}


def test_licence_number_stored_as_number_is_a_warning(built):
    lost_zeros = next(p for p in built["planted"] if p["code"] == "identifier-as-number")
    hits = _at(built["log"], lost_zeros["file"], int(lost_zeros["row"]), "identifier-as-number")
    assert hits and hits[0]["severity"] == "warning"


def test_row_accounting_adds_up(built):
    m = built["manifest"]
    totals = m["totals"]
    for entry in m["inputs"]:
        assert sum(entry["dispositions"][d] for d in DISPOSITIONS) == entry["rows_read"], entry["path"]
    for d in DISPOSITIONS:
        assert totals[d] == sum(e["dispositions"][d] for e in m["inputs"])
    assert totals["rows_read"] == sum(e["rows_read"] for e in m["inputs"])
    by_path = {e["path"]: e for e in m["inputs"]}
    # licences serve reconciliation only (both tables report actual deliveries)
    assert by_path[LICENSING]["dispositions"]["reference"] == by_path[LICENSING]["rows_read"]
    planted = built["planted"]
    for disposition in ("merged", "withheld"):
        expected = sum(1 for p in planted if p["kind"] == "disposition" and p["code"] == disposition)
        assert by_path[DEFENCE]["dispositions"][disposition] == expected
    # own forces (defence) and ammunition (customs) are excluded by default
    assert by_path[DEFENCE]["dispositions"]["excluded"] >= 1
    assert by_path[CUSTOMS_XLSX]["dispositions"]["excluded"] >= 1


def test_sizes_are_realistic():
    wb = openpyxl.load_workbook(SAMPLE / LICENSING, read_only=True)
    assert 150 <= wb["Register"].max_row - 4 <= 300
    customs = openpyxl.load_workbook(SAMPLE / CUSTOMS_XLSX, read_only=True)["Declarations"].max_row - 3
    with (SAMPLE / CUSTOMS_CSV).open(encoding="cp1252") as fh:
        customs += sum(1 for _ in fh) - 1
    assert 150 <= customs <= 300
    defence = openpyxl.load_workbook(SAMPLE / DEFENCE, read_only=True)["Transfers"].max_row - 1
    assert 50 <= defence <= 100


def _cells(path: Path) -> dict:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def test_generator_is_deterministic_and_matches_committed_files(tmp_path):
    gen = _generator()
    first, second = tmp_path / "a", tmp_path / "b"
    gen.generate(first)
    gen.generate(second)
    for rel in gen.DATA_FILES:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
        committed = SAMPLE / rel
        if rel.endswith(".xlsx"):
            assert _cells(first / rel) == _cells(committed), f"{rel}: run python tests/make_sample_inputs.py"
        else:
            assert (first / rel).read_bytes() == committed.read_bytes(), f"{rel}: run python tests/make_sample_inputs.py"


def test_customs_csv_is_cp1252_with_decimal_comma():
    raw = (SAMPLE / CUSTOMS_CSV).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    header = text.splitlines()[0].split(";")
    assert header[0] == "Declaration no" and "Statistical value" in header
    assert ",00;" in text


def test_no_real_people_or_companies():
    """Names in the sample are marked fictional or use reserved example domains."""
    toml = (SAMPLE / "att-report.toml").read_text(encoding="utf-8")
    assert "fictional" in toml.lower() and "@example.org" in toml
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert "fictional" in readme.lower()


def test_readme_lists_every_planted_problem_at_its_row():
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    short = {CUSTOMS_XLSX: "customs Q1-Q3", CUSTOMS_CSV: "customs Q4 csv", DEFENCE: "defence", LICENSING: "licensing"}
    table = [line for line in readme.splitlines() if line.startswith("| ")]
    for p in _read_csv(SAMPLE / "planted_problems.csv"):
        where = short[p["file"]]
        row = p["row"]
        assert any(where + " : " in line and (f" : {row} " in line or f" : {row}," in line or f" {row} and" in line
                                              or f"and {row}" in line or f"({where} : {row})" in line)
                   for line in table), (p["planted"], where, row)
