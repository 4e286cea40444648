"""Mirror check: differences beyond tolerance are findings, none within it; partner report formats; CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from att_report.compare import MirrorError, mirror_check, read_partner_report
from att_report.compare.mirror import EXPLANATIONS, read_plain_table
from att_report.compare.sections import mirror_section
from att_report.render.comparison_xlsx import write_mirror
from att_report.render.readback import read_report
from att_report.rules import RULES
from test_compare import _cli, _model, make_workspace, report_file
from test_compile_fixtures import make_config, rec

OURS = [
    rec(record_id="O1", partner_state="DEU", category="VIII.SA.2", quantity=100, value=1000.0),
    rec(record_id="O2", partner_state="DEU", category="VIII.SA.4", quantity=200, value=1000.0),
    rec(record_id="O3", partner_state="DEU", category="I", quantity=4, value=1000.0),
    rec(record_id="O4", flow="import", partner_state="DEU", category="II", quantity=10, value=1000.0),
    rec(record_id="O5", partner_state="FRA", category="VIII.SA.2", quantity=50, value=1000.0),
]
THEIRS = [  # Germany's own report: imports from NZL, exports to NZL
    rec(record_id="D1", flow="import", partner_state="NZL", category="VIII.SA.2", quantity=80),  # 20% off: ignored
    rec(record_id="D2", flow="import", partner_state="NZL", category="VIII.SA.4", quantity=100),  # 50% off: finding
    rec(record_id="D3", flow="import", partner_state="NZL", category="I", quantity=1),  # 3 off, 75%: under min_abs
    rec(record_id="D4", flow="export", partner_state="NZL", category="II", quantity=10),  # match
    rec(record_id="D5", flow="export", partner_state="NZL", category="VIII.SA.1", quantity=30),  # only theirs
    rec(record_id="D6", flow="import", partner_state="FRA", category="VIII.SA.2", quantity=999),  # not about us
]


@pytest.fixture()
def germany(tmp_path):
    return read_report(report_file(tmp_path, "partner_DEU_2024.xlsx", THEIRS, report={"state": "DEU"}))


def test_differences_beyond_tolerance_only(germany):
    result = mirror_check(_model(OURS), [germany], make_config())
    rows = result.rows.set_index(["direction", "category"])
    assert rows.loc[("exports", "VIII.SA.2"), "status"] == "within tolerance"
    assert rows.loc[("exports", "VIII.SA.4"), "status"] == "difference"
    assert rows.loc[("exports", "I"), "status"] == "within tolerance"
    assert rows.loc[("imports", "II"), "status"] == "match"
    assert rows.loc[("imports", "VIII.SA.1"), ["ours", "theirs", "status"]].tolist() == [0.0, 30.0, "difference"]
    assert set(result.rows["partner"]) == {"DEU"}  # France sent no report: not compared
    found = result.findings
    assert sorted(found["value"]) == ["0 vs 30", "200 vs 100"]
    msg = found.loc[found["value"] == "200 vs 100", "message"].iloc[0]
    assert "Our exports to Germany" in msg and "Germany reports imports from New Zealand of 100 items" in msg
    for explanation in EXPLANATIONS:
        assert explanation in msg
    assert "bases differ" not in msg.casefold()


def test_tolerance_is_configurable(germany):
    cfg = make_config()
    loose = dataclasses.replace(cfg, mirror=dataclasses.replace(cfg.mirror, tolerance=0.6))
    assert mirror_check(_model(OURS), [germany], loose).findings["value"].tolist() == ["0 vs 30"]
    strict = dataclasses.replace(cfg, mirror=dataclasses.replace(cfg.mirror, tolerance=0.1, min_abs=0.0))
    values = set(mirror_check(_model(OURS), [germany], strict).findings["value"])
    assert {"100 vs 80", "4 vs 1", "200 vs 100"} <= values


def test_no_false_finding_when_partner_agrees(tmp_path):
    mirror_rows = [rec(record_id=f"M{i}", flow="import" if r["flow"] == "export" else "export",
                       partner_state="NZL", category=r["category"], quantity=r["quantity"])
                   for i, r in enumerate(OURS) if r["partner_state"] == "DEU"]
    partner = read_report(report_file(tmp_path, "deu.xlsx", mirror_rows, report={"state": "DEU"}))
    result = mirror_check(_model(OURS), [partner], make_config())
    assert result.findings.empty
    assert set(result.rows["status"]) == {"match"}


def test_different_basis_is_named_first(tmp_path):
    auth = [dict(r, basis="authorized") for r in THEIRS]
    partner = read_report(report_file(tmp_path, "deu.xlsx", auth, report={"state": "DEU"},
                                      exports={"basis": "authorized"}, imports={"basis": "authorized"}))
    result = mirror_check(_model(OURS), [partner], make_config())
    msg = result.findings["message"].iloc[0]
    assert "The bases differ (we report actual, Germany reports authorized)" in msg


def test_plain_table_partner_report(tmp_path, germany):
    csv = tmp_path / "partner_DEU_2024.csv"
    csv.write_text(
        "Category,Final importing State,Exporting State,Number of items,Value\n"
        "VIII.SA.2 Rifles and carbines,,New Zealand,80,\n"
        "Assault rifles,,New Zealand,100,\n"
        "I,,NZL,1,\n"
        "II Armoured combat vehicles,New Zealand,,10,\n"
        "VIII.SA.1,New Zealand,,30,\n", encoding="utf-8")
    plain = read_partner_report(csv)
    assert plain.state == "DEU" and plain.year == 2024
    from_plain = mirror_check(_model(OURS), [plain], make_config())
    from_xlsx = mirror_check(_model(OURS), [germany], make_config())
    cols = ["direction", "category", "ours", "theirs", "status"]
    assert from_plain.rows[cols].equals(from_xlsx.rows[cols])
    # an xlsx plain table with a Reporting State column and a title row above the header
    frame = pd.DataFrame([["Title of the table", "", "", ""], ["Reporting State", "Category", "Exporting State",
                                                                "Number of items"],
                          ["Germany", "II", "New Zealand", "10"]])
    xlsx = tmp_path / "germany_table.xlsx"
    frame.to_excel(xlsx, header=False, index=False)
    table = read_plain_table(xlsx, year=2024)
    assert table.state == "DEU" and table.imports.lines()["category"].tolist() == ["II"]


def test_unreadable_partner_reports_say_why(tmp_path):
    bad = tmp_path / "partner.csv"
    bad.write_text("Nothing,Useful\n1,2\n", encoding="utf-8")
    with pytest.raises(MirrorError, match="Category"):
        read_partner_report(bad)
    anon = tmp_path / "table.csv"
    anon.write_text("Category,Exporting State,Number of items\nII,New Zealand,3\n", encoding="utf-8")
    with pytest.raises(MirrorError, match="which State"):
        read_partner_report(anon)
    with pytest.raises(MirrorError, match="not found"):
        read_partner_report(tmp_path / "none.xlsx")


def test_own_report_and_duplicates_are_skipped(tmp_path, germany):
    own = read_report(report_file(tmp_path, "own.xlsx", OURS))
    result = mirror_check(_model(OURS), [own, germany, germany], make_config())
    assert len(result.partners) == 1
    assert any("itself" in n for n in result.notes) and any("second report" in n for n in result.notes)


def test_mirror_workbook_and_section(tmp_path, germany):
    result = mirror_check(_model(OURS), [germany], make_config())
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_mirror(a, result)
    write_mirror(b, result)
    assert a.read_bytes() == b.read_bytes()
    wb = load_workbook(a, read_only=True)
    assert wb.sheetnames == ["About", "Mirror", "Findings"]
    assert len(list(wb["Findings"].iter_rows())) == len(result.findings) + 1
    wb.close()
    section = mirror_section(result)
    assert section.title == "Mirror check 2024" and "mirror-difference" in section.html
    assert RULES["mirror-difference"].stage == "compare" and "Enforces:" in RULES["mirror-difference"].doc


def test_cli_mirror_on_a_workspace(tmp_path):
    from make_reference_reports import write_all

    ws = make_workspace(tmp_path / "ws")
    ref = write_all(tmp_path / "reference")
    partners = [str(p) for p in ref if p.name.startswith("partner_")]
    result = _cli(["mirror", str(ws), *partners])
    # planted: our 3 ACVs to Australia against AUS's 12 imports; DEU's rifles (295 vs our 100)
    assert result.exit_code == 1, result.output
    assert "mirror-difference" in result.output and "Traceback" not in result.output
    assert (ws / "out" / "mirror_2024.xlsx").is_file()
    assert "Mirror check 2024" in (ws / "out" / "summary_2024.html").read_text(encoding="utf-8")
    bad = _cli(["mirror", str(ws), str(tmp_path / "nothing.csv")])
    assert bad.exit_code == 2 and "not found" in bad.output


def test_compare_then_mirror_keeps_both_sections_and_files(tmp_path):
    import json
    import shutil

    from typer.testing import CliRunner

    from att_report.cli import app

    root = Path(__file__).resolve().parent.parent / "sample_inputs"
    ws = tmp_path / "ws"
    shutil.copytree(root, ws, ignore=shutil.ignore_patterns("out"))
    runner = CliRunner()
    ref = ws / "reference"
    runner.invoke(app, ["compare", str(ws), "--previous", str(ref / "ATT_annual_report_NZL_2023.xlsx"), "-q"])
    runner.invoke(app, ["mirror", str(ws), str(ref / "partner_DEU_2024.xlsx"), "-q"])
    summary = (ws / "out" / "summary_2024.html").read_text(encoding="utf-8")
    assert "Year-on-year comparison" in summary and "Mirror check" in summary
    outputs = {o["path"] for o in json.loads((ws / "out" / "manifest.json").read_text())["outputs"]}
    assert {"comparison_2024.xlsx", "mirror_2024.xlsx"} <= outputs
    # new inputs make the earlier comparison stale: a later mirror check does not carry it
    data = ws / "inputs" / "customs" / "declarations_2024_Q4.csv"
    data.write_bytes(data.read_bytes() + b"\n")
    runner.invoke(app, ["mirror", str(ws), str(ref / "partner_DEU_2024.xlsx"), "-q"])
    summary = (ws / "out" / "summary_2024.html").read_text(encoding="utf-8")
    assert "Mirror check" in summary and "Year-on-year comparison" not in summary
