"""The whole build as a user runs it: determinism, accounting, atomicity, docs that cannot drift."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from att_report.cli import app
from att_report.config import AgencyConfig, Limits, ReconcileConfig, CompareConfig, MirrorConfig, REPORT_KEYS
from att_report.schema import DISPOSITIONS, INTAKE_NAMES
from intake_helpers import write_workspace

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_inputs"
runner = CliRunner()


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".state" not in p.parts}


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory):
    dest = tmp_path_factory.mktemp("ws") / "sample"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("out"))
    return dest


def test_two_builds_are_byte_identical(sample_copy, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = runner.invoke(app, ["build", str(sample_copy), "--out", str(out)])
        assert result.exit_code in (0, 1), result.output
        time.sleep(1.1)  # zip timestamps have 2-second resolution; make sure a clock would show
    assert _digests(a) == _digests(b)
    assert any(name.startswith("ATT_annual_report_") for name in _digests(a))


def test_manifest_accounts_for_every_row(sample_copy, tmp_path):
    runner.invoke(app, ["build", str(sample_copy), "--out", str(tmp_path)])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["tool"]["name"] == "att-report"
    for entry in manifest["inputs"]:
        assert sum(entry["dispositions"].values()) == entry["rows_read"], entry
        assert set(entry["dispositions"]) == set(DISPOSITIONS)
    totals = manifest["totals"]
    assert totals["rows_read"] == sum(totals[d] for d in DISPOSITIONS)
    assert totals["rows_read"] == sum(e["rows_read"] for e in manifest["inputs"])
    listed = {o["path"]: o["sha256"] for o in manifest["outputs"]}
    for path, digest in listed.items():
        assert hashlib.sha256((tmp_path / path).read_bytes()).hexdigest() == digest


def test_killed_build_leaves_previous_outputs_intact(tmp_path):
    ws = write_workspace(tmp_path / "ws", [{"record_id": f"R{i}"} for i in range(1, 20_000)])
    out = tmp_path / "out"
    assert runner.invoke(app, ["build", str(ws), "--out", str(out)]).exit_code in (0, 1)
    before = _digests(out)
    # a build that is killed midway (after reading has started)
    proc = subprocess.Popen([sys.executable, "-m", "att_report", "build", str(ws), "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    assert proc.poll() is None, "the build finished before it could be killed: the test would prove nothing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = _digests(out)
    assert after == before
    # a stale staging folder of a killed run may remain until the next run cleans it
    assert runner.invoke(app, ["build", str(ws), "--out", str(out)]).exit_code in (0, 1)
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".state"]


def test_readme_documents_every_config_key_intake_column_and_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in INTAKE_NAMES:
        assert f"`{name}`" in readme, name
    keys = set(REPORT_KEYS) | set(AgencyConfig.__dataclass_fields__) | set(Limits.__dataclass_fields__) \
        | set(ReconcileConfig.__dataclass_fields__) | set(CompareConfig.__dataclass_fields__) \
        | set(MirrorConfig.__dataclass_fields__)
    for key in keys:
        assert (f"{key} =" in readme or f"`{key}`" in readme or f"[agencies.{key}]" in readme), key
    for command in ("init", "validate", "build", "status", "procedure"):
        assert f"att-report {command}" in readme, command
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in readme


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "python -m pytest -q"
    assert command in readme and command in ci


GOLDEN = Path(__file__).parent / "golden" / "sample"


def test_sample_discrepancy_log_matches_golden(sample_copy, tmp_path):
    """The whole log of the sample workspace, as a reviewer would read it.

    Regenerate on purpose with ATT_REPORT_UPDATE_GOLDEN=1 and review the diff.
    """
    runner.invoke(app, ["build", str(sample_copy), "--out", str(tmp_path)])
    got = (tmp_path / "discrepancy_log_2024.csv").read_text(encoding="utf-8")
    golden = GOLDEN / "discrepancy_log_2024.csv"
    if os.environ.get("ATT_REPORT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")


def test_a_workspace_without_any_input_file_builds_a_nil_report(tmp_path):
    """No agency delivered a file (or a State with nothing to report): a report with no lines, a
    warning per agency, and the accounting of zero rows, never an internal error."""
    import openpyxl

    ws = write_workspace(tmp_path / "ws")  # configuration only: no file in inputs/
    result = runner.invoke(app, ["build", str(ws), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Internal error" not in result.output
    manifest = json.loads((ws / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rows_read"] == 0 and manifest["inputs"] == []
    log = (ws / "out" / "discrepancy_log_2024.csv").read_text(encoding="utf-8-sig")
    assert ",no-files," in log
    report = next((ws / "out").glob("ATT_annual_report_*.xlsx"))
    assert openpyxl.load_workbook(report, read_only=True).sheetnames  # a workbook that opens


def test_row_positions_of_no_rows_are_integers():
    import numpy as np
    import pandas as pd

    from att_report.reconcile.common import row_positions

    find = row_positions(pd.DataFrame({"row_uid": pd.Series([], dtype="int64")}))
    found = find(pd.Series([], dtype="float64"))
    assert found.dtype == np.int64 and len(found) == 0
    np.arange(3)[found]  # usable as indices
    with pytest.raises(KeyError):
        find([0])
    fallback = row_positions(pd.DataFrame({"row_uid": [10**9, 5]}))  # uids too sparse for the lookup array
    assert fallback([5, 10**9]).tolist() == [1, 0] and fallback([5]).dtype == np.int64


def test_a_date_no_report_can_hold_is_a_finding_on_its_cell(tmp_path):
    """9999-12-31 ("no end") or a year 0200 typo: a finding naming the row and column, not an internal error."""
    ws = write_workspace(tmp_path / "ws", [{"date": "9999-12-31"}, {"record_id": "R2", "valid_until": "0200-01-31"},
                                           {"record_id": "R3"}])
    result = runner.invoke(app, ["build", str(ws), "--quiet"])
    assert result.exit_code == 1, result.output
    log = pd.read_csv(ws / "out" / "discrepancy_log_2024.csv", encoding="utf-8-sig", dtype=str).fillna("")
    far = log[log["message"].str.contains("cannot be right")]
    assert sorted(zip(far["row"], far["field"])) == [("2", "date"), ("3", "valid_until")], log.to_string()
