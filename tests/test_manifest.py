"""Row accounting and manifest.json: shape, sums, determinism, AccountingError."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from att_report import __version__
from att_report.config import Config
from att_report.intake.tables import FileInfo
from att_report.records import AccountingError, make_records
from att_report.reconcile import reconcile
from att_report.render.manifest import accounting_table, build_manifest, write_manifest
from att_report.schema import DISPOSITIONS

CFG = Config(root=Path("."), state="NZL", state_input="NZL", year=2024, agencies=(), sha256="abc123")


def recs() -> pd.DataFrame:
    out = pd.concat([
        make_records([{"record_id": "a"}, {"record_id": "b"}, {"record_id": "c"}], agency="Customs",
                     file="inputs/customs/c.csv", sheet=""),
        make_records([{"record_id": "d"}], agency="Defence", file="inputs/mod/m.xlsx"),
    ], ignore_index=True)
    out["row_uid"] = range(len(out))
    out["disposition"] = ["reported", "merged", "invalid", "excluded"]
    return out


def files() -> list[FileInfo]:
    return [FileInfo("Defence", "inputs/mod/m.xlsx", "d" * 64, 10, 0.0, ["Transfers"], 1),
            FileInfo("Customs", "inputs/customs/c.csv", "c" * 64, 20, 0.0, [], 3)]


def test_accounting_table_has_every_disposition():
    t = accounting_table(recs())
    assert list(t.columns) == ["agency", "path", "rows_read", *DISPOSITIONS]
    assert t["agency"].tolist() == ["Customs", "Defence"]
    row = t.iloc[0]
    assert (row["rows_read"], row["reported"], row["merged"], row["invalid"], row["withheld"]) == (3, 1, 1, 1, 0)
    assert (t[list(DISPOSITIONS)].sum(axis=1) == t["rows_read"]).all()


def test_manifest_shape_and_outputs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "discrepancy_log_2024.csv").write_text("x\n")
    m = build_manifest(CFG, files(), recs(), [out / "discrepancy_log_2024.csv"], out)
    assert list(m)[:2] == ["tool", "config_sha256"]
    assert m["tool"] == {"name": "att-report", "version": __version__}
    assert m["config_sha256"] == "abc123"
    assert [i["path"] for i in m["inputs"]] == ["inputs/customs/c.csv", "inputs/mod/m.xlsx"]
    first = m["inputs"][0]
    assert first["sha256"] == "c" * 64 and first["rows_read"] == 3
    assert list(first["dispositions"]) == list(DISPOSITIONS)
    assert m["totals"] == {"rows_read": 4, "reported": 1, "merged": 1, "excluded": 1, "withheld": 0,
                           "invalid": 1, "reference": 0}
    assert m["outputs"][0]["path"] == "discrepancy_log_2024.csv"
    assert len(m["outputs"][0]["sha256"]) == 64
    for key in ("inputs", "totals", "outputs"):
        assert key in m


def test_manifest_written_deterministically(tmp_path):
    m = build_manifest(CFG, files(), recs(), [], tmp_path)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_manifest(a, m)
    write_manifest(b, build_manifest(CFG, list(reversed(files())), recs().iloc[::-1], [], tmp_path))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().endswith("}\n")
    assert json.loads(a.read_text())["totals"]["rows_read"] == 4


def test_accounting_counts_unknown_and_missing_dispositions_in_rows_read_only():
    """Rows without a known disposition are read but not accounted for (check_accounting then fails)."""
    odd = recs()
    odd["disposition"] = pd.array(["reported", "bogus", None, "excluded"], dtype="string")
    t = accounting_table(odd)
    assert t["rows_read"].tolist() == [3, 1]
    assert t.iloc[0][list(DISPOSITIONS)].sum() == 1 and t.iloc[1]["excluded"] == 1
    assert t["path"].tolist() == ["inputs/customs/c.csv", "inputs/mod/m.xlsx"]


def test_unset_disposition_stops_the_build(tmp_path):
    bad = recs()
    bad.loc[1, "disposition"] = ""
    with pytest.raises(AccountingError):
        build_manifest(CFG, files(), bad, [], tmp_path)


def test_reader_count_must_match(tmp_path):
    f = files()
    f[1].rows_read = 4
    with pytest.raises(AccountingError, match="c.csv"):
        build_manifest(CFG, f, recs(), [], tmp_path)


def test_records_from_an_unlisted_file_stop_the_build(tmp_path):
    with pytest.raises(AccountingError):
        build_manifest(CFG, files()[:1], recs(), [], tmp_path)


def test_unreadable_file_counts_zero(tmp_path):
    f = files() + [FileInfo("Police", "inputs/police/p.xlsx", "e" * 64, 5, 0.0, [], 0, readable=False)]
    m = build_manifest(CFG, f, recs(), [], tmp_path)
    police = [i for i in m["inputs"] if i["agency"] == "Police"][0]
    assert police["rows_read"] == 0 and sum(police["dispositions"].values()) == 0


def test_accounting_adds_up_on_every_reconcile_fixture():
    """Every rule fixture: reconcile keeps every row; once compile assigns the rest, the sums hold."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_reconcile_rules import CASES

    for code, pair in CASES.items():
        for records in pair:
            out = reconcile(records, CFG).records
            assert len(out) == len(records), code
            out = out.assign(disposition=out["disposition"].replace("", "reported"))
            t = accounting_table(out)
            assert int(t["rows_read"].sum()) == len(records)
            assert (t[list(DISPOSITIONS)].sum(axis=1) == t["rows_read"]).all(), code
