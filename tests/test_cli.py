"""The CLI as a user runs it: exit codes, outputs, no tracebacks."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from att_report.cli import app
from att_report.findings import FINDING_FIELDS
from intake_helpers import write_workspace

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_validate_clean_workspace_exits_0(tmp_path):
    write_workspace(tmp_path, [{}, {"record_id": "R2"}])
    result = run("validate", tmp_path)
    assert result.exit_code == 0, result.output
    assert "Rows read: 2 = 2 valid + 0 invalid" in result.output
    with open(tmp_path / "out" / "validation_findings.csv", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == list(FINDING_FIELDS)
    assert (tmp_path / "out" / "feedback" / "customs.xlsx").is_file()


def test_validate_with_errors_exits_1_and_names_the_cell(tmp_path):
    write_workspace(tmp_path, [{}, {"partner_state": "Germny", "description": "=HYPERLINK(\"http://x\")"}])
    result = run("validate", tmp_path)
    assert result.exit_code == 1, result.output
    assert "Rows read: 2 = 1 valid + 1 invalid" in result.output
    rows = list(csv.DictReader(open(tmp_path / "out" / "validation_findings.csv", encoding="utf-8")))
    bad = [r for r in rows if r["code"] == "country-unknown"]
    assert bad and bad[0]["row"] == "3" and bad[0]["field"] == "partner_state"
    assert "Germany" in bad[0]["message"]


def test_findings_csv_neutralises_formulas(tmp_path):
    write_workspace(tmp_path, [{"currency": "=1+1"}])
    run("validate", tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "out" / "validation_findings.csv", encoding="utf-8")))
    values = [r["value"] for r in rows if r["code"] == "currency-unknown"]
    assert values == ["'=1+1"]


@pytest.mark.parametrize("config,needle", [
    ('[report]\nstate = "NZL"\n', "report.year"),
    ('[report]\nstate = "NZL"\nyear = "2024"\n[[agencies]]\nname="A"\nrole="customs"\nfiles=["x"]\n', "report.year"),
    ('[report]\nstate = "Atlantis"\nyear = 2024\n', "report.state"),
    ('[report]\nstate = "NZL"\nyaer = 2024\n', "yaer"),
    ('[report]\nstate = "NZL"\nyear = 2024\n[[agencies]]\nname="A"\nrole="spies"\nfiles=["x"]\n', "role"),
    ('not toml [', "not valid TOML"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, config, needle):
    (tmp_path / "att-report.toml").write_text(config)
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_missing_workspace_exits_2(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "not found" in result.output


def test_build_then_status_and_procedure(tmp_path):
    write_workspace(tmp_path, [{}])
    result = run("build", tmp_path)
    assert result.exit_code in (0, 1), result.output
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert (tmp_path / "out" / "ATT_annual_report_NZL_2024.xlsx").is_file()
    status = run("status", tmp_path, "--today", "2025-01-10")
    assert status.exit_code in (0, 1)
    assert (tmp_path / "out" / "status.csv").is_file()
    assert run("procedure", tmp_path).exit_code == 0


def test_init_creates_a_workspace_that_validates(tmp_path):
    ws = tmp_path / "ws"
    assert run("init", ws, "--state", "DEU", "--year", "2024").exit_code == 0
    result = run("validate", ws)
    assert result.exit_code == 0, result.output  # no files yet: warnings only
    assert run("init", ws).exit_code == 2  # refuses to overwrite


def test_console_script_runs_without_traceback(tmp_path):
    write_workspace(tmp_path, [{"date": "2024-02-30"}])
    proc = subprocess.run([sys.executable, "-m", "att_report", "validate", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr


def test_rules_command_lists_catalogue():
    result = run("rules")
    assert result.exit_code == 0
    assert "country-unknown" in result.output


def test_brackets_in_file_names_and_messages_are_printed_verbatim(tmp_path):
    write_workspace(tmp_path)
    (tmp_path / "inputs" / "customs" / "x[bold]1.csv").write_text("record_id\nR1\n")
    result = runner.invoke(app, ["validate", str(tmp_path)], env={"COLUMNS": "250"})
    assert "inputs/customs/x[bold]1.csv" in result.output
