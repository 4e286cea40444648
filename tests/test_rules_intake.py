"""Per intake rule: one passing and one failing fixture (expected codes as data)."""

from __future__ import annotations

import pytest

from att_report.rules import load_all_rules, rules_for
from intake_helpers import intake, write_workspace

# code -> (row that passes, row that fails, field the failure names)
FIXTURES = {
    "required-missing": ({}, {"partner_state": ""}, "partner_state"),
    "invalid-code": ({"flow": "EXP"}, {"flow": "sideways"}, "flow"),
    "licence-missing": ({"basis": "authorized"}, {"basis": "authorized", "licence_no": ""}, "licence_no"),
    "date-invalid": ({"date": "01 March 2024"}, {"date": "2024-02-30"}, "date"),
    "date-outside-year": ({"date": "2024-12-31"}, {"date": "2023-12-31"}, "date"),
    "licence-date-outside-year": ({"basis": "authorized", "date": "2024-01-05"},
                                  {"basis": "authorized", "date": "2023-06-01"}, "date"),
    "validity-before-issue": ({"valid_until": "2025-01-01"}, {"valid_until": "2024-01-01"}, "valid_until"),
    "country-unknown": ({"partner_state": "NA"}, {"partner_state": "Germny"}, "partner_state"),
    "partner-vague": ({"partner_state": "Türkiye"}, {"partner_state": "Various"}, "partner_state"),
    "category-unresolved": ({"category": "Rifles & carbines"}, {"category": "4"}, "category"),
    "category-from-hs": ({}, {"category": "", "hs_code": "9302.00"}, "category"),
    "number-invalid": ({"value": "1,000.50"}, {"value": "lots"}, "value"),
    "quantity-fraction": ({"quantity": "3"}, {"quantity": "2.5"}, "quantity"),
    "quantity-and-value-missing": ({"value": ""}, {"quantity": "", "value": ""}, "quantity"),
    "currency-missing": ({}, {"currency": ""}, "currency"),
    "currency-unknown": ({"currency": "eur"}, {"currency": "$"}, "currency"),
    "digits-normalised": ({}, {"quantity": "１２"}, "quantity"),
    "whitespace-in-key": ({}, {"licence_no": "EL-1\u00a0"}, "licence_no"),
    "schema-violation": ({"quantity": "0"}, {"quantity": "-3"}, "quantity"),
    "text-too-long": ({"description": "x" * 32_767}, {"description": "x" * 32_768}, "description"),
    "control-characters-removed": ({"description": "tab\tok"}, {"description": "bell\x07"}, "description"),
}
HEADER_WITH_HS = ["record_id", "flow", "basis", "licence_no", "date", "valid_until", "partner_state", "category",
                  "hs_code", "quantity", "value", "currency", "description", "withheld"]


def _codes(tmp_path, row):
    write_workspace(tmp_path, [row], header=HEADER_WITH_HS)
    result = intake(tmp_path)
    return result, result.findings


def test_every_intake_rule_has_fixtures():
    load_all_rules()
    codes = {r.code for r in rules_for("intake")}
    assert codes == set(FIXTURES), codes ^ set(FIXTURES)


@pytest.mark.parametrize("code", sorted(FIXTURES))
def test_rule_passes(tmp_path, code):
    passing, _, _ = FIXTURES[code]
    _, findings = _codes(tmp_path, passing)
    assert code not in set(findings["code"]), findings[["code", "message"]].to_string()


@pytest.mark.parametrize("code", sorted(FIXTURES))
def test_rule_fails(tmp_path, code):
    _, failing, field = FIXTURES[code]
    result, findings = _codes(tmp_path, failing)
    hit = findings[findings["code"] == code]
    assert len(hit) == 1, findings[["code", "field", "message"]].to_string()
    f = hit.iloc[0]
    assert f["file"] == "inputs/customs/data.csv"
    assert int(f["row"]) == 2  # csv line of the first data row
    assert f["field"] == field
    assert f["message"]
    if f["severity"] == "error":
        assert not bool(result.records["valid"].iloc[0])
        assert result.records["disposition"].iloc[0] == "invalid"


def test_namibia_is_not_missing(tmp_path):
    write_workspace(tmp_path, [{"partner_state": "NA"}])
    result = intake(tmp_path)
    assert result.records["partner_state"].iloc[0] == "NAM"
    assert bool(result.records["valid"].iloc[0])


def test_licence_numbers_keep_leading_zeros(tmp_path):
    write_workspace(tmp_path, [{"licence_no": "00140915"}])
    rec = intake(tmp_path).records
    assert rec["licence_no"].iloc[0] == "00140915"
    assert rec["licence_key"].iloc[0] == "140915"


def test_ambiguous_date_without_configured_order_is_an_error(tmp_path):
    write_workspace(tmp_path, [{"date": "03/04/2024"}])
    findings = intake(tmp_path).findings
    assert "date-invalid" in set(findings["code"])


def test_configured_date_order_is_used(tmp_path):
    write_workspace(tmp_path, [{"date": "03/04/2024"}], extra='date_order = "MDY"')
    rec = intake(tmp_path).records
    assert str(rec["date"].iloc[0].date()) == "2024-03-04"


def test_decimal_comma_per_agency(tmp_path):
    write_workspace(tmp_path, [{"value": "1.234,50"}], extra='decimal = ","')
    rec = intake(tmp_path).records
    assert float(rec["value"].iloc[0]) == 1234.5


@pytest.mark.parametrize("date, detail", [
    ("2024-02-30", "no such day in the calendar"),
    ("sometime in spring", "not a date we can read; write it as YYYY-MM-DD"),
    ("03/04/2024", "day and month could be swapped; write it as YYYY-MM-DD or set date_order"),
])
def test_a_bad_date_says_how_to_write_it_once(tmp_path, date, detail):
    write_workspace(tmp_path, [{"date": date}])
    findings = intake(tmp_path).findings
    message = findings.loc[findings["code"] == "date-invalid", "message"].iloc[0]
    assert message.startswith(f"'{date}' in date: {detail}")
    assert message.count("YYYY-MM-DD") == 1, message
