"""Compiling report lines: golden files per config variant, dispositions, defaults, speed.

Goldens live in tests/golden/compile/<variant>.json; regenerate on purpose with
ATT_REPORT_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from att_report.compile import compile_report
from att_report.records import check_dispositions, make_records
from test_compile_fixtures import make_config, rec, sample_records

GOLDEN = Path(__file__).parent / "golden" / "compile"
UPDATE = os.environ.get("ATT_REPORT_UPDATE_GOLDEN") == "1"

VARIANTS = {
    "default": {},
    "basis_authorized": {"exports": {"basis": "authorized"}, "imports": {"basis": "authorized"}},
    "basis_both": {"exports": {"basis": "both"}, "imports": {"basis": "both"}},
    "measure_number": {"exports": {"measure": "number"}, "imports": {"measure": "number"}},
    "measure_value": {"exports": {"measure": "value"}, "imports": {"measure": "value"}},
    "per_transfer": {"exports": {"aggregate": "per_transfer"}, "imports": {"aggregate": "per_transfer"}},
    "currency_converted": {"report": {"currency": "USD"}, "rates": {"EUR": 1.08}},
    "currency_missing_rate": {"report": {"currency": "USD"}},
}


def _plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def snapshot(result) -> dict:
    """What a golden file holds: the lines, sources, dispositions, findings and cover flags."""
    model = result.model
    tables = {}
    for t in model.tables:
        tables[t.key] = {
            "basis": t.basis, "nil": t.nil,
            "sections": {
                s.basis: [{k: _plain(v) for k, v in row.items()} for row in s.lines.to_dict("records")]
                for s in t.sections
            },
        }
    recs = result.records.sort_values("row_uid")
    return {
        "currency": model.currency,
        "tables": tables,
        "sources": [{k: _plain(v) for k, v in r.items()} for r in model.sources.to_dict("records")],
        "dispositions": [
            [r.src_agency, r.record_id, r.disposition, r.disposition_ref]
            for r in recs[["src_agency", "record_id", "disposition", "disposition_ref"]].itertuples(index=False)
        ],
        "findings": [[r.severity, r.code, r.agency, _plain(r.row)]
                     for r in result.findings[["severity", "code", "agency", "row"]].itertuples(index=False)],
        "cover": {"withheld": model.cover.withheld, "draft": model.cover.draft,
                  "currency_notes": list(model.cover.currency_notes),
                  "nil_exports": model.cover.form_nil_exports, "nil_imports": model.cover.form_nil_imports},
    }


def check_golden(name: str, data: dict) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"golden {path} missing: run with ATT_REPORT_UPDATE_GOLDEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), f"{name} differs from its golden"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_golden_variants(variant):
    cfg = make_config(**VARIANTS[variant])
    result = compile_report(sample_records(), cfg)
    check_golden(variant, snapshot(result))


def test_golden_nil_and_withheld():
    # exports only outside the year -> nil exports; imports all withheld -> not nil, withheld
    records = make_records([
        rec(record_id="A", date="2023-05-01", partner_state="DEU", category="I", quantity=1),
        rec(record_id="B", flow="import", partner_state="USA", category="II", quantity=2, withheld=True),
    ])
    result = compile_report(records, make_config())
    snap = snapshot(result)
    check_golden("nil_withheld", snap)
    assert snap["tables"]["exports"]["nil"] is True
    assert snap["tables"]["imports"]["nil"] is False
    assert result.model.cover.withheld is True
    assert result.model.cover.form_nil_exports and not result.model.cover.form_nil_imports
    assert "nil-but-withheld" in set(result.findings["code"])


def test_per_partner_sums_and_combines_without_duplicates():
    result = compile_report(sample_records(), make_config())
    lines = result.model.exports.section("actual").lines
    deu = lines[(lines["partner"] == "DEU") & (lines["origin"] == "")]
    assert len(deu) == 1
    row = deu.iloc[0]
    assert row["number"] == 15 and row["value"] == 1500
    assert row["description"] == "Rifle M1"  # the same description twice, shown once
    assert row["comments"] == "Police; Army"  # row order kept
    # origin is part of the key: the US-origin carbine is a line of its own
    assert len(lines[(lines["partner"] == "DEU") & (lines["origin"] == "USA")]) == 1
    # lines follow the template's category order
    assert list(lines["category"]) == ["I", "IV.b", "VIII.SA.2", "VIII.SA.2"]
    assert list(lines["line_id"]) == [f"EXP-ACT-{i:04d}" for i in range(1, 5)]


def test_dispositions_reported_withheld_reference_untouched():
    result = compile_report(sample_records(), make_config(rates={"EUR": 1.1}))
    recs = result.records.set_index("record_id")
    assert recs.loc["C1", "disposition"] == "reported"
    assert recs.loc["C1", "disposition_ref"].startswith("EXP-ACT-")
    assert recs.loc["C8", "disposition"] == "withheld"
    assert recs.loc["C6", "disposition"] == "reference"  # dated 2023
    assert recs.loc["L1", "disposition"] == "reference"  # licence, table reports actual
    assert recs.loc["C9", "disposition"] == "invalid" and recs.loc["C9", "disposition_ref"] == "F-x"
    assert recs.loc["C10", "disposition"] == "merged"
    assert recs.loc["C11", "disposition"] == "excluded"
    check_dispositions(result.records)  # every row has exactly one known disposition
    # input frame not modified
    assert sample_records()["disposition"].eq("").sum() == (sample_records()["disposition"] == "").sum()


def test_authorized_counts_licences_issued_in_year():
    result = compile_report(sample_records(), make_config(exports={"basis": "authorized"}))
    lines = result.model.exports.section("authorized").lines
    assert list(lines["partner"]) == ["DEU"]  # L2 was issued in 2023
    recs = result.records.set_index("record_id")
    assert recs.loc["L1", "disposition"] == "reported" and recs.loc["L2", "disposition"] == "reference"
    assert recs.loc["C1", "disposition"] == "reference"  # shipments serve reconciliation only


def test_basis_both_gives_two_sections_never_summed():
    result = compile_report(sample_records(), make_config(exports={"basis": "both"}))
    sections = result.model.exports.sections
    assert [s.basis for s in sections] == ["authorized", "actual"]
    auth = sections[0].lines
    act = sections[1].lines
    assert auth[auth["partner"] == "DEU"]["number"].tolist() == [20]
    assert act[(act["partner"] == "DEU") & (act["origin"] == "")]["number"].tolist() == [15]
    assert auth["line_id"].str.startswith("EXP-AUT-").all() and act["line_id"].str.startswith("EXP-ACT-").all()


def test_measures_leave_the_other_column_empty():
    number = compile_report(sample_records(), make_config(exports={"measure": "number"})).model
    assert number.exports.sections[0].lines["value"].isna().all()
    assert number.exports.sections[0].lines["number"].notna().all()
    value = compile_report(sample_records(), make_config(exports={"measure": "value"}, rates={"EUR": 1})).model
    assert value.exports.sections[0].lines["number"].isna().all()
    assert value.imports.sections[0].lines["number"].notna().all()  # imports keep both


def test_per_transfer_one_line_per_record():
    result = compile_report(sample_records(), make_config(exports={"aggregate": "per_transfer"}))
    lines = result.model.exports.section("actual").lines
    reported = result.records[(result.records["disposition"] == "reported") & (result.records["flow"] == "export")]
    assert len(lines) == len(reported) == 5
    assert lines["line_id"].is_unique


def test_defaults_actual_both_and_single_currency():
    cfg = make_config()
    assert cfg.currency is None
    records = make_records([
        rec(record_id="1", partner_state="DEU", category="I", quantity=1, value=10.0, currency="EUR"),
        rec(record_id="2", partner_state="DEU", category="I", quantity=1, value=5.0, currency="EUR"),
        rec(record_id="3", basis="authorized", partner_state="DEU", category="I", quantity=9, value=9.0,
            currency="EUR"),
    ])
    result = compile_report(records, cfg)
    model = result.model
    assert model.currency == "EUR"
    assert model.exports.basis == "actual" and model.exports.measure == "both"
    line = model.exports.sections[0].lines.iloc[0]
    assert (line["number"], line["value"]) == (2, 15)
    assert result.findings.empty or not (result.findings["severity"] == "error").any()


def test_several_currencies_without_config_is_an_error():
    records = make_records([
        rec(record_id="1", partner_state="DEU", category="I", quantity=1, value=10.0, currency="EUR"),
        rec(record_id="2", partner_state="FRA", category="I", quantity=1, value=5.0, currency="GBP"),
        rec(record_id="3", partner_state="FRA", category="I", quantity=1, value=5.0, currency="GBP"),
    ])
    result = compile_report(records, make_config())
    codes = set(result.findings["code"])
    assert "report-currency-undetermined" in codes and "currency-no-rate" in codes
    assert result.model.currency == "GBP" and result.model.draft


def test_currency_conversion_and_missing_rate():
    converted = compile_report(sample_records(), make_config(report={"currency": "USD"}, rates={"EUR": 1.08}))
    aus = converted.model.exports.section("actual").lines.set_index("partner").loc["AUS"]
    assert aus["value"] == 972  # 900 EUR * 1.08, whole units
    note = converted.findings[converted.findings["code"] == "currency-converted"]
    assert len(note) == 1 and note.iloc[0]["severity"] == "info"
    assert converted.model.rates_used == (("EUR", 1.08),)
    assert not converted.model.draft

    missing = compile_report(sample_records(), make_config(report={"currency": "USD"}))
    err = missing.findings[missing.findings["code"] == "currency-no-rate"]
    assert len(err) == 1 and err.iloc[0]["severity"] == "error" and err.iloc[0]["row"] == 6
    assert "EUR" in err.iloc[0]["message"]
    aus = missing.model.exports.section("actual").lines.set_index("partner").loc["AUS"]
    assert pd.isna(aus["value"])  # never a silent partial sum
    assert aus["number"] == 1
    assert missing.model.draft


def test_draft_flag_passed_through():
    result = compile_report(sample_records(), make_config(report={"currency": "USD"}, rates={"EUR": 1.0}), draft=True)
    assert result.model.draft and result.model.cover.draft
    result = compile_report(sample_records(), make_config(report={"currency": "USD"}, rates={"EUR": 1.0}))
    assert not result.model.draft


def test_sources_compress_row_ranges_and_include_merged_provenance():
    n = 6000
    rows = [rec(record_id=str(i), partner_state="DEU", category="I", quantity=1, value=1.0)
            for i in range(n)]
    records = make_records(rows, file="customs/decl.xlsx")
    records.loc[records["record_id"] == "4999", "valid"] = False
    records.loc[records["record_id"] == "4999", "disposition"] = "invalid"
    records["also_from"] = pd.Series([""] * n, dtype="string")
    records.loc[0, "also_from"] = "Defence:inputs/defence/d.xlsx:7;Police:p.csv:3"
    result = compile_report(records, make_config())
    src = result.model.sources
    main = src[src["file"] == "customs/decl.xlsx"].iloc[0]
    assert main["rows"] == f"2-5000, 5002-{n + 1}" and main["count"] == n - 1
    assert set(src["agency"]) == {"Agency", "Defence", "Police"}
    assert src[src["agency"] == "Defence"].iloc[0]["rows"] == "7"


def test_cover_contact_state_and_flags():
    cfg = make_config(report={"public": True, "submission_date": "2025-05-20"},
                      contact={"name": "A. Officer", "email": "npc@example.org", "organisation": "MFAT"},
                      exports={"definition": "Transfer of title and control"})
    cover = compile_report(sample_records(), cfg).model.cover
    assert (cover.state, cover.state_name, cover.year) == ("NZL", "New Zealand", 2024)
    assert cover.public is True and cover.contact_name == "A. Officer"
    assert cover.exports_definition == "Transfer of title and control"
    assert str(cover.submission_date) == "2025-05-20"
    assert cover.withheld is True  # C8 is withheld
    assert cover.template_version


def test_compile_many_records_is_fast():
    # 200k here to keep the suite quick; 1M measured separately (see the compile notes)
    n = 200_000
    rng = np.random.default_rng(1)
    cats = np.array(["I", "II", "VIII.SA.2", "VIII.LW.1", "IV.b"])
    partners = np.array(["DEU", "FRA", "USA", "AUS", "JPN", "BRA", "ZAF", "IND"])
    frame = pd.DataFrame({
        "row_uid": np.arange(n), "src_agency": "Customs", "src_role": "customs",
        "src_file": "inputs/customs/big.csv", "src_sheet": "", "src_row": np.arange(2, n + 2),
        "record_id": pd.array(np.arange(n).astype(str), dtype="string"),
        "flow": np.where(rng.random(n) < 0.7, "export", "import"), "basis": "actual",
        "date": pd.Timestamp("2024-06-01"), "partner_state": partners[rng.integers(0, 8, n)],
        "category": cats[rng.integers(0, 5, n)], "quantity": rng.integers(1, 100, n),
        "value": rng.random(n) * 1000, "currency": np.where(rng.random(n) < 0.9, "USD", "EUR"),
        "description": np.array(["Model A", "Model B", "Model C"])[rng.integers(0, 3, n)],
        "comments": "",
    })
    from att_report.records import conform

    records = conform(frame)
    cfg = make_config(report={"currency": "USD"}, rates={"EUR": 1.1})
    start = time.perf_counter()
    result = compile_report(records, cfg)
    elapsed = time.perf_counter() - start
    assert result.model.exports.line_count == 40
    assert (result.records["disposition"] == "reported").sum() == n
    assert elapsed < 8, f"compiling {n:,} records took {elapsed:.1f} s"


def test_compile_leaves_its_input_frame_unchanged():
    """compile works on a shallow (copy-on-write) copy: the caller's records keep their dispositions."""
    records = sample_records()
    before = records.copy()
    result = compile_report(records, make_config(report={"currency": "USD"}, rates={"EUR": 1.08}))
    pd.testing.assert_frame_equal(records, before)
    assert result.records["disposition"].ne("").all() and not before["disposition"].ne("").all()
