"""Compile-stage rules: one passing and one failing fixture each."""

from __future__ import annotations

import dataclasses

import pytest

from att_report.compile import compile_report
from att_report.records import make_records
from att_report.rules import rules_for
from test_compile_fixtures import make_config, rec

OK = dict(partner_state="DEU", category="VIII.SA.2", quantity=1, value=10.0, currency="USD")


def codes(rows, declare_nil=False, **cfg):
    config = make_config(**cfg)
    if declare_nil:
        # the optional `nil` table key: [exports] nil = true
        config = dataclasses.replace(config, exports=dataclasses.replace(config.exports, nil=True))
    result = compile_report(make_records(rows), config)
    return result, set(result.findings["code"])


CASES = {
    # code: (passing rows + config, failing rows + config)
    "currency-no-rate": (
        ([rec(record_id="1", **{**OK, "currency": "EUR"})], {"report": {"currency": "USD"}, "rates": {"EUR": 1.1}}),
        ([rec(record_id="1", **{**OK, "currency": "EUR"})], {"report": {"currency": "USD"}}),
    ),
    "currency-converted": (
        ([rec(record_id="1", **OK)], {"report": {"currency": "USD"}}),
        ([rec(record_id="1", **{**OK, "currency": "EUR"})], {"report": {"currency": "USD"}, "rates": {"EUR": 1.1}}),
    ),
    "report-currency-undetermined": (
        ([rec(record_id="1", **OK), rec(record_id="2", **OK)], {}),
        ([rec(record_id="1", **OK), rec(record_id="2", **{**OK, "currency": "EUR"})], {}),
    ),
    "line-partner-blank": (
        ([rec(record_id="1", **OK)], {}),
        ([rec(record_id="1", **{**OK, "partner_state": None})], {}),
    ),
    "category-not-in-template": (
        ([rec(record_id="1", **OK)], {}),
        ([rec(record_id="1", **{**OK, "category": "IX"})], {}),
    ),
    "line-without-measure": (
        ([rec(record_id="1", **OK)], {"exports": {"measure": "number"}}),
        ([rec(record_id="1", **{**OK, "quantity": None})], {"exports": {"measure": "number"}}),
    ),
    "nil-but-withheld": (
        ([rec(record_id="1", **OK), rec(record_id="2", withheld=True, **OK)], {}),
        ([rec(record_id="1", withheld=True, **OK)], {}),
    ),
    "nil-with-lines": (
        ([rec(record_id="1", flow="import", **OK)], {"declare_nil": True}),
        ([rec(record_id="1", **OK)], {"declare_nil": True}),
    ),
    "not-in-reporting-year": (
        ([rec(record_id="1", **OK)], {}),
        ([rec(record_id="1", date="2025-01-02", **OK)], {}),
    ),
}


def test_every_compile_rule_has_fixtures_and_a_citing_docstring():
    registered = {r.code for r in rules_for("compile")}
    assert registered == set(CASES)
    for r in rules_for("compile"):
        assert "Enforces:" in r.doc, r.code


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_passes_and_fails(code):
    (good_rows, good_cfg), (bad_rows, bad_cfg) = CASES[code]
    _, good = codes(good_rows, **good_cfg)
    assert code not in good
    result, bad = codes(bad_rows, **bad_cfg)
    assert code in bad
    found = result.findings[result.findings["code"] == code]
    assert found["finding_id"].str.startswith("F-").all()
    assert (found["message"].str.len() > 20).all()


def test_finding_ids_stable_when_unrelated_rows_are_added():
    bad = rec(record_id="X", **{**OK, "currency": "EUR"})
    cfg = {"report": {"currency": "USD"}}
    first, _ = codes([bad], **cfg)
    second, _ = codes([rec(record_id="A", **OK), rec(record_id="B", **OK), bad], **cfg)
    ids = lambda r: set(r.findings.loc[r.findings["code"] == "currency-no-rate", "finding_id"])  # noqa: E731
    assert ids(first) == ids(second)
