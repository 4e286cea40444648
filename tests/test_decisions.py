"""The decisions file: loading, malformed lines, applying accept / exclude / override, stale."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from att_report.config import Config, ConfigError
from att_report.findings import Finding, to_frame
from att_report.records import make_records
from att_report.reconcile import (
    finalize_findings, load_decisions, reconcile, unresolved_errors,
)
from att_report.reconcile.decisions import apply_decisions

CFG = Config(root=Path("."), state="NZL", state_input="NZL", year=2024, agencies=())
HEADER = "finding_id,decision,override,note,decided_by,date\n"


def records() -> pd.DataFrame:
    lic = make_records([dict(record_id="L1", flow="export", basis="authorized", licence_no="EL-1",
                             date="2024-01-10", valid_until="2025-01-01", partner_state="AUS",
                             category="VIII.SA.2", quantity=100)],
                       agency="Licensing", file="inputs/lic/l.xlsx")
    cus = make_records([
        dict(record_id="C1", flow="export", basis="actual", licence_no="EL-1", date="2024-03-01",
             partner_state="FJI", category="VIII.SA.2", quantity=10),          # partner mismatch (error)
        dict(record_id="C2", flow="export", basis="actual", licence_no=None, date="2024-03-02",
             partner_state="NZL", category="VIII.SA.2", quantity=5),           # no licence + own forces
        dict(record_id="C3", flow="export", basis="actual", licence_no="EL-1", date="2024-03-03",
             partner_state="AUS", category="VIII.SA.2", quantity=7),
    ], agency="Customs", file="inputs/customs/c.csv", sheet="")
    out = pd.concat([lic, cus], ignore_index=True)
    out["row_uid"] = range(len(out))
    return out


def fid(result, code: str) -> str:
    f = result.findings
    return f.loc[f["code"] == code, "finding_id"].iloc[0]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "decisions.csv"
    path.write_text(body, encoding="utf-8")
    return path


def test_missing_file_means_no_decisions(tmp_path):
    assert len(load_decisions(tmp_path / "decisions.csv")) == 0


def test_load_with_comments_blank_lines_and_overrides(tmp_path):
    path = write(tmp_path, "# NPC decisions, kept year to year\n\n" + HEADER
                 + "# accepted after a call with customs\n"
                 + "F-0123456789ab,accept,,Licence amended,J. Smith,2025-03-01\n"
                 + 'F-0123456789ac,override,"partner_state=Germany; quantity=12",Transit country keyed,,\n'
                 + "F-0123456789ad,EXCLUDE,,Duplicate of defence line 4\n")
    d = load_decisions(path)
    by = d.by_id()
    assert [e.decision for e in d.entries] == ["accept", "override", "exclude"]
    assert by["F-0123456789ac"].overrides == (("partner_state", "DEU"), ("quantity", 12))
    assert by["F-0123456789ab"].line == 5
    assert by["F-0123456789ad"].line == 7
    assert "J. Smith" in by["F-0123456789ab"].log_note


@pytest.mark.parametrize("line, fragment", [
    ("F-0123456789ab,approve,,why\n", "decision"),
    ("F-0123456789ab,accept,,\n", "note"),
    ("F-0123456789ab,override,,why\n", "override"),
    ("F-0123456789ab,override,partner_state,why\n", "field=value"),
    ("F-0123456789ab,override,colour=red,why\n", "unknown field"),
    ("F-0123456789ab,override,quantity=12.5,why\n", "whole number"),
    ("F-0123456789ab,override,partner_state=Atlantis,why\n", "State"),
    ("F-0123456789ab,override,category=IX,why\n", "category"),
    ("F-0123456789ab,accept,partner_state=DEU,why\n", "override"),
    ("12345,accept,,why\n", "finding id"),
    ("F-0123456789ab,accept,,why,me,2025-13-01\n", "YYYY-MM-DD"),
    ("F-0123456789ab,override,date=9999-12-31,no end date\n", "cannot be right"),
    ("F-0123456789ab,override,valid_until=1066-10-14,why\n", "cannot be right"),
    ("F-0123456789ab,accept,,why\nF-0123456789ab,exclude,,again\n", "already decided"),
])
def test_malformed_line_is_a_config_error_naming_the_line(tmp_path, line, fragment):
    path = write(tmp_path, "# comment\n" + HEADER + line)
    with pytest.raises(ConfigError) as exc:
        load_decisions(path)
    msg = str(exc.value)
    assert "decisions.csv line" in msg and fragment.lower() in msg.lower()
    assert "line 3" in msg or "line 4" in msg


def test_unknown_column_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="line 1.*unknown column"):
        load_decisions(write(tmp_path, "finding_id,decision,note,colour\n"))


def test_accept_resolves_an_error(tmp_path):
    base = reconcile(records(), CFG)
    before = unresolved_errors(base.findings)
    target = fid(base, "partner-mismatch")
    d = load_decisions(write(tmp_path, HEADER + f"{target},accept,,Licence amended to FJI,JS,2025-03-01\n"))
    res = reconcile(records(), CFG, d)
    assert unresolved_errors(res.findings) == before - 1
    row = res.findings[res.findings["finding_id"] == target].iloc[0]
    assert row["decision"] == "accept" and "Licence amended" in row["decision_note"]
    assert (res.records["disposition"].isin(["", "excluded"])).all()


def test_exclude_leaves_the_record_out_citing_the_decision(tmp_path):
    target = fid(reconcile(records(), CFG), "partner-mismatch")
    d = load_decisions(write(tmp_path, HEADER + f"{target},exclude,,Not our transfer\n"))
    res = reconcile(records(), CFG, d)
    row = res.records[res.records["record_id"] == "C1"].iloc[0]
    assert row["disposition"] == "excluded" and row["disposition_ref"] == f"decision {target}"
    assert len(res.records) == len(records())
    assert res.decisions_applied["effect"].tolist() == ["excluded"]


def test_override_sets_the_field(tmp_path):
    target = fid(reconcile(records(), CFG), "partner-mismatch")
    d = load_decisions(write(tmp_path, HEADER + f"{target},override,partner_state=AUS; licence_no=el 1,Typo\n"))
    res = reconcile(records(), CFG, d)
    row = res.records[res.records["record_id"] == "C1"].iloc[0]
    assert row["partner_state"] == "AUS" and row["disposition"] == ""
    assert row["licence_no"] == "el 1" and row["licence_key"] == "EL1"
    f = res.findings[res.findings["finding_id"] == target].iloc[0]
    assert f["decision"] == "override" and "partner_state=AUS" in f["decision_note"]


def test_own_forces_accept_keeps_the_record(tmp_path):
    base = reconcile(records(), CFG)
    c2 = base.records[base.records["record_id"] == "C2"].iloc[0]
    assert c2["disposition"] == "excluded"
    target = fid(base, "own-forces")
    d = load_decisions(write(tmp_path, HEADER + f"{target},accept,,Sold to a private company here\n"))
    res = reconcile(records(), CFG, d)
    assert res.records.loc[res.records["record_id"] == "C2", "disposition"].iloc[0] == ""


def test_stale_decision_is_a_warning(tmp_path):
    d = load_decisions(write(tmp_path, HEADER + "F-00000000abcd,accept,,Old problem\n"))
    res = reconcile(records(), CFG, d)
    log = finalize_findings(None, res, d)
    stale = log[log["code"] == "decision-stale"]
    assert len(stale) == 1
    assert stale.iloc[0]["severity"] == "warning" and stale.iloc[0]["value"] == "F-00000000abcd"
    assert stale.iloc[0]["row"] == 2


def test_decision_on_intake_finding_reaches_its_record(tmp_path):
    recs = records()
    intake = to_frame([Finding(severity="warning", code="value-suspicious", message="check",
                               agency="Customs", file="inputs/customs/c.csv", sheet="", row=4,
                               field="value").with_id("Customs", "C3", "value")])
    target = intake["finding_id"].iloc[0]
    d = load_decisions(write(tmp_path, HEADER + f"{target},exclude,,Sample, not a transfer\n"))
    res = reconcile(recs, CFG, d, intake_findings=intake)
    assert res.records.loc[res.records["record_id"] == "C3", "disposition"].iloc[0] == "excluded"
    log = finalize_findings(intake, res, d)
    assert log.loc[log["finding_id"] == target, "decision"].iloc[0] == "exclude"
    assert not (log["code"] == "decision-stale").any()


def test_decision_on_invalid_row_is_not_applied(tmp_path):
    recs = records()
    recs.loc[recs["record_id"] == "C3", ["valid", "disposition"]] = [False, "invalid"]
    recs["valid"] = recs["valid"].astype(bool)
    intake = to_frame([Finding(severity="error", code="date-invalid", message="bad date",
                               agency="Customs", file="inputs/customs/c.csv", sheet="", row=4,
                               field="date").with_id("Customs", "C3", "date")])
    target = intake["finding_id"].iloc[0]
    d = load_decisions(write(tmp_path, HEADER + f"{target},override,date=2024-03-03,Date confirmed\n"))
    res = reconcile(recs, CFG, d, intake_findings=intake)
    assert res.records.loc[res.records["record_id"] == "C3", "disposition"].iloc[0] == "invalid"
    assert "decision-not-applicable" in res.findings["code"].tolist()


def test_apply_decisions_and_unresolved_errors():
    f = to_frame([Finding(severity="error", code="x", message="m", agency="A", row=2).with_id("A", "1"),
                  Finding(severity="error", code="x", message="m", agency="A", row=3).with_id("A", "2"),
                  Finding(severity="warning", code="y", message="m", agency="A", row=3).with_id("A", "2")])
    assert unresolved_errors(f) == 2
    from att_report.reconcile.decisions import Decision, Decisions
    d = Decisions("decisions.csv", (Decision(f["finding_id"][0], "accept", (), "", "ok", line=2),))
    out, stale = apply_decisions(f, d)
    assert unresolved_errors(out) == 1 and stale.empty
    assert list(out.columns) == list(f.columns)


def test_unresolved_so_far_counts_what_the_finalized_findings_count(tmp_path):
    from att_report.reconcile import unresolved_so_far

    base = reconcile(records(), CFG)
    errors = base.findings[base.findings["severity"] == "error"]
    assert len(errors) >= 1
    assert unresolved_so_far(None, base, None) == unresolved_errors(finalize_findings(None, base, None)) == len(errors)
    first = errors["finding_id"].iloc[0]
    d = load_decisions(write(tmp_path, HEADER + f"{first},accept,,Checked\n" + "F-00000000abcd,accept,,Stale\n"))
    res = reconcile(records(), CFG, d)
    assert unresolved_so_far(None, res, d) == unresolved_errors(finalize_findings(None, res, d)) == len(errors) - 1


def test_a_file_excel_saved_with_semicolons_reads_as_the_same_decisions(tmp_path):
    """Excel where the decimal sign is a comma saves "csv" with ';' between values (and a BOM, CRLF)."""
    comma = load_decisions(write(tmp_path, HEADER + 'F-0123456789ab,override,"partner_state=DEU; quantity=12",'
                                               '"Keyed wrong, see e-mail",J. Smith,2025-03-01\n'
                                               "F-0123456789ac,accept,,ok,,\n"))
    (tmp_path / "semi").mkdir()
    semi = tmp_path / "semi" / "decisions.csv"
    semi.write_bytes("\ufeff# saved by Excel\r\nfinding_id;decision;override;note;decided_by;date\r\n"
                     'F-0123456789ab;override;"partner_state=DEU; quantity=12";Keyed wrong, see e-mail;'
                     "J. Smith;2025-03-01\r\nF-0123456789ac;accept;;ok;;\r\n".encode("utf-8"))
    by_semi = load_decisions(semi).by_id()
    assert by_semi.keys() == comma.by_id().keys()
    for fid, decision in comma.by_id().items():
        other = by_semi[fid]
        assert (other.decision, other.overrides, other.note, other.decided_by) == (
            decision.decision, decision.overrides, decision.note, decision.decided_by)
    assert by_semi["F-0123456789ab"].line == 3


def test_a_note_with_semicolons_in_a_comma_file_stays_comma_separated(tmp_path):
    d = load_decisions(write(tmp_path, HEADER + "F-0123456789ab,accept,,ok; checked; twice,,\n"))
    assert d.by_id()["F-0123456789ab"].note == "ok; checked; twice"
