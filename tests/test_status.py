"""`att-report status`: received, missing, overdue, changed since validation; exit codes; csv; golden files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from att_report.config import load_config
from att_report.coordination.runstate import read_run_state, state_path, write_run_state
from att_report.coordination.status import (
    CHANGED,
    ERRORS,
    MISSING,
    NOT_VALIDATED,
    OVERDUE,
    READY,
    STATUS_COLUMNS,
    compute_status,
    render_status_text,
    write_status_csv,
)
from att_report.findings import Finding, to_frame
from att_report.intake.tables import FileInfo

GOLDEN = Path(__file__).parent / "golden" / "coordination"
TODAY = dt.date(2025, 3, 27)
MTIME = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.timezone.utc).timestamp()
RUN_AT = dt.datetime(2025, 3, 20, 14, 0, tzinfo=dt.timezone.utc)

CONFIG = """\
[report]
state = "NZL"
year = 2024
collection_deadline = 2025-03-15
validation_deadline = 2025-04-15
signoff_date = 2025-05-10

[[agencies]]
name = "Licensing Authority"
role = "licensing"
files = ["inputs/licensing/*.csv"]
provides = "licences issued"
due = 2025-03-01
contact = { name = "Jo Bloggs", unit = "Export Controls", email = "jo@example.org", telephone = "+64 4 000 0000" }

[[agencies]]
name = "Customs"
role = "customs"
files = ["inputs/customs/*.csv"]
provides = "export and import declarations"
due = 2025-03-15
contact = { name = "Sam Lee", email = "sam@customs.example" }

[[agencies]]
name = "Defence Ministry"
role = "defence"
files = ["inputs/defence/*.csv"]
provides = "government-to-government transfers"
due = 2025-04-01
"""

LIC_CSV = "record_id,flow,basis\nL-1,export,authorized\nL-2,export,authorized\n"
DEF_CSV = "record_id,flow,basis\nD-1,export,actual\n"


def golden(name: str, text: str) -> None:
    """Compare with tests/golden/coordination/<name>; ATT_REPORT_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("ATT_REPORT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.is_file(), f"missing golden file {path}; run with ATT_REPORT_UPDATE_GOLDEN=1"
    assert text == path.read_bytes().decode("utf-8")


def put(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    os.utime(path, (MTIME, MTIME))
    return path


def workspace(tmp_path: Path, config: str = CONFIG) -> Path:
    (tmp_path / "att-report.toml").write_text(config, encoding="utf-8")
    return tmp_path


def infos(config, rows: dict[str, int]) -> list[FileInfo]:
    """FileInfo for every file present now, as validate would record them."""
    from att_report.coordination.status import _discover, _sha256  # same discovery as status

    out = []
    for agency, paths in _discover(config).items():
        for p in paths:
            rel = p.relative_to(config.root).as_posix()
            out.append(FileInfo(agency=agency, path=rel, sha256=_sha256(p), size=p.stat().st_size,
                                mtime=p.stat().st_mtime, rows_read=rows.get(rel, 0)))
    return out


def findings(*specs: tuple[str, str]) -> pd.DataFrame:
    return to_frame(Finding(severity=sev, code="x", message="m", agency=agency, file="f", row=i + 2)
                    for i, (agency, sev) in enumerate(specs))


def by_name(report):
    return {a.name: a for a in report.agencies}


def test_no_run_recorded_missing_and_overdue(tmp_path):
    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    report = compute_status(load_config(root), TODAY)
    a = by_name(report)
    assert report.last_run is None
    assert a["Licensing Authority"].status == NOT_VALIDATED
    assert a["Licensing Authority"].changed is None
    assert a["Licensing Authority"].days_left == -26
    assert a["Customs"].status == OVERDUE
    assert a["Customs"].note == "Customs: due 2025-03-15, 12 days overdue, no file received."
    assert a["Defence Ministry"].status == MISSING
    assert a["Defence Ministry"].days_left == 5
    assert "5 days left" in a["Defence Ministry"].note
    text = render_status_text(report)
    assert "Customs: due 2025-03-15, 12 days overdue, no file received." in text
    assert "no validation or build has been recorded" in text
    assert report.exit_code == 1


def test_all_delivered_and_clean_exits_0(tmp_path):
    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    put(root, "inputs/customs/decl.csv", "record_id\nC-1\n")
    put(root, "inputs/defence/g2g.csv", DEF_CSV)
    config = load_config(root)
    write_run_state(config, kind="validate", files=infos(config, {"inputs/licensing/register.csv": 2,
                                                                  "inputs/customs/decl.csv": 1,
                                                                  "inputs/defence/g2g.csv": 1}),
                    findings=findings(("Customs", "warning")), when=RUN_AT)
    report = compute_status(config, TODAY)
    assert [a.status for a in report.agencies] == [READY, READY, READY]
    assert report.exit_code == 0
    a = by_name(report)
    assert a["Licensing Authority"].rows_read == 2
    assert a["Customs"].warnings == 1 and a["Customs"].errors == 0
    assert a["Licensing Authority"].changed is False
    f = a["Licensing Authority"].files[0]
    assert (f.name, f.size, f.change, f.rows_read) == ("register.csv", len(LIC_CSV), "unchanged", 2)
    assert f.modified == dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.timezone.utc)
    assert report.notes == ()
    assert "3 of 3 agencies delivered data without errors (exit code 0)" in render_status_text(report)


def test_errors_at_last_validation_exit_1(tmp_path):
    root = workspace(tmp_path)
    for rel, text in (("inputs/licensing/register.csv", LIC_CSV), ("inputs/customs/decl.csv", "record_id\nC-1\n"),
                      ("inputs/defence/g2g.csv", DEF_CSV)):
        put(root, rel, text)
    config = load_config(root)
    write_run_state(config, kind="validate", files=infos(config, {}),
                    findings=findings(("Defence Ministry", "error"), ("Defence Ministry", "error"),
                                      ("Defence Ministry", "warning")), when=RUN_AT)
    report = compute_status(config, TODAY)
    d = by_name(report)["Defence Ministry"]
    assert (d.status, d.errors, d.warnings) == (ERRORS, 2, 1)
    assert "2 errors at the last validation" in d.note
    assert report.exit_code == 1
    assert "0 rows read, 2 errors, 1 warning" in render_status_text(report)


def test_changed_since_validation_new_modified_removed(tmp_path):
    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    put(root, "inputs/customs/decl.csv", "record_id\nC-1\n")
    put(root, "inputs/customs/old.csv", "record_id\nC-0\n")
    put(root, "inputs/defence/g2g.csv", DEF_CSV)
    config = load_config(root)
    write_run_state(config, kind="validate", files=infos(config, {}), findings=findings(), when=RUN_AT)
    assert compute_status(config, TODAY).exit_code == 0
    put(root, "inputs/licensing/register.csv", LIC_CSV + "L-3,export,authorized\n")  # modified
    put(root, "inputs/licensing/late.csv", LIC_CSV)  # new
    (root / "inputs/customs/old.csv").unlink()  # removed
    report = compute_status(config, TODAY)
    a = by_name(report)
    lic, cus, dfn = a["Licensing Authority"], a["Customs"], a["Defence Ministry"]
    assert lic.status == CHANGED and lic.changed is True
    assert {f.name: f.change for f in lic.files} == {"late.csv": "new", "register.csv": "modified"}
    assert lic.change_summary() == "1 new file, 1 modified file"
    assert cus.status == CHANGED and cus.removed == ("inputs/customs/old.csv",)
    assert cus.change_summary() == "1 removed file"
    assert dfn.status == READY and dfn.changed is False
    assert report.exit_code == 1
    text = render_status_text(report)
    assert "Changed since the last validation/build: yes (1 new file, 1 modified file)" in text
    assert "inputs/customs/old.csv  [removed since the last run]" in text


def test_latest_run_wins_and_decided_errors_do_not_count(tmp_path):
    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    put(root, "inputs/customs/decl.csv", "record_id\nC-1\n")
    put(root, "inputs/defence/g2g.csv", DEF_CSV)
    config = load_config(root)
    write_run_state(config, kind="validate", files=infos(config, {}),
                    findings=findings(("Customs", "error")), when=RUN_AT)
    decided = findings(("Customs", "error"), ("Customs", "error"))
    decided.loc[0, "decision"] = "accept"
    write_run_state(config, kind="build", files=infos(config, {}), findings=decided,
                    when=RUN_AT + dt.timedelta(hours=1))
    run = read_run_state(config)
    assert run.kind == "build"
    assert run.counts("Customs").errors == 1 and run.counts("Customs").resolved == 1
    assert read_run_state(config, "validate").kind == "validate"
    # an older build does not hide a newer validation
    write_run_state(config, kind="validate", files=infos(config, {}), findings=findings(),
                    when=RUN_AT + dt.timedelta(hours=2))
    assert read_run_state(config).kind == "validate"
    assert compute_status(config, TODAY).exit_code == 0


def test_state_file_shape_and_damage(tmp_path):
    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    config = load_config(root)
    path = write_run_state(config, kind="validate", files=infos(config, {"inputs/licensing/register.csv": 2}),
                           findings=findings(("Licensing Authority", "warning")), when=RUN_AT)
    assert path == root / "out" / ".state" / "last_validate.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["when"] == "2025-03-20T14:00:00Z"
    assert data["files"] == [{"agency": "Licensing Authority", "path": "inputs/licensing/register.csv",
                              "sha256": infos(config, {})[0].sha256, "rows_read": 2, "readable": True}]
    assert data["agencies"]["Licensing Authority"] == {"errors": 0, "warnings": 1, "resolved": 0, "rows_read": 2}
    assert data["agencies"]["Customs"]["errors"] == 0
    with pytest.raises(ValueError):
        write_run_state(config, kind="compile", files=[], findings=None)
    state_path(config, "validate").write_text("{not json", encoding="utf-8")
    assert read_run_state(config) is None
    assert compute_status(config, TODAY).agencies[0].status == NOT_VALIDATED


def test_agency_added_after_the_last_run_is_not_validated(tmp_path):
    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    config = load_config(root)
    write_run_state(config, kind="validate", files=infos(config, {}), findings=findings(), when=RUN_AT)
    extra = CONFIG + '\n[[agencies]]\nname = "Police"\nrole = "interior"\nfiles = ["inputs/police/*.csv"]\n'
    workspace(tmp_path, extra)
    put(root, "inputs/police/permits.csv", "record_id\nP-1\n")
    p = by_name(compute_status(load_config(root), TODAY))["Police"]
    assert p.status == NOT_VALIDATED
    assert p.files[0].change == "new"
    assert p.errors is None and p.rows_read is None
    assert p.note == "Police: 1 file received, not validated yet; run 'att-report validate'."


def test_due_today_and_no_due_date(tmp_path):
    cfg = CONFIG.replace("due = 2025-04-01\n", "")
    root = workspace(tmp_path, cfg)
    a = by_name(compute_status(load_config(root), dt.date(2025, 3, 15)))
    assert a["Customs"].status == MISSING
    assert a["Customs"].note == "Customs: due today (2025-03-15), no file received yet."
    assert a["Defence Ministry"].note == "Defence Ministry: no due date set, no file received yet."
    assert a["Defence Ministry"].days_left is None


def test_status_csv_columns_and_formula_safety(tmp_path):
    cfg = CONFIG.replace('name = "Sam Lee"', 'name = "=HYPERLINK(\\"http://x\\")"')
    root = workspace(tmp_path, cfg)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    report = compute_status(load_config(root), TODAY)
    path = write_status_csv(report, root / "out" / "status.csv")
    raw = path.read_bytes()
    raw.decode("utf-8")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == STATUS_COLUMNS
    assert [r["agency"] for r in rows] == ["Licensing Authority", "Customs", "Defence Ministry"]
    assert {r["status_date"] for r in rows} == {"2025-03-27"}
    customs = rows[1]
    assert customs["contact_name"].startswith("'=")
    assert customs["contact_telephone"] == ""
    assert rows[0]["contact_telephone"] == "'+64 4 000 0000"
    assert (customs["status"], customs["days_overdue"], customs["days_left"]) == (OVERDUE, "12", "")
    assert customs["note"] == "Customs: due 2025-03-15, 12 days overdue, no file received."
    assert rows[2]["days_left"] == "5"
    assert "inputs/licensing/register.csv (" in rows[0]["files"]
    # the only date of "now" in the csv is the status date it refers to
    assert dt.date.today().isoformat() not in raw.decode("utf-8")


def _golden_workspace(tmp_path: Path):
    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    put(root, "inputs/defence/g2g.csv", DEF_CSV)
    put(root, "inputs/defence/loans.csv", DEF_CSV.replace("D-1", "D-2"))
    config = load_config(root)
    write_run_state(config, kind="validate",
                    files=infos(config, {"inputs/licensing/register.csv": 2, "inputs/defence/g2g.csv": 1,
                                         "inputs/defence/loans.csv": 1}),
                    findings=findings(("Licensing Authority", "error"), ("Licensing Authority", "warning"),
                                      ("Defence Ministry", "warning")), when=RUN_AT)
    put(root, "inputs/defence/loans.csv", DEF_CSV.replace("D-1", "D-3"))
    return config


def test_golden_status_text_and_csv(tmp_path):
    config = _golden_workspace(tmp_path)
    report = compute_status(config, TODAY)
    golden("status.txt", render_status_text(report))
    path = write_status_csv(report, config.out_dir / "status.csv")
    golden("status.csv", path.read_bytes().decode("utf-8"))
    assert report.exit_code == 1


def test_unreadable_file_is_listed_not_fatal(tmp_path, monkeypatch):
    import att_report.coordination.status as status

    root = workspace(tmp_path)
    put(root, "inputs/licensing/register.csv", LIC_CSV)
    config = load_config(root)
    write_run_state(config, kind="validate", files=infos(config, {}), findings=findings(), when=RUN_AT)

    def locked(path):
        raise PermissionError(13, "locked", str(path))

    monkeypatch.setattr(status, "_sha256", locked)
    lic = by_name(compute_status(config, TODAY))["Licensing Authority"]
    assert lic.files[0].change == "unreadable" and lic.status == CHANGED
    assert "1 unreadable file" in lic.note
