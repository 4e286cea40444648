"""Reconciliation rules: one failing and one passing fixture per rule; merging; ids."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from att_report.config import Config
from att_report.records import make_records
from att_report.reconcile import reconcile
from att_report.rules import rules_for

CFG = Config(root=Path("."), state="NZL", state_input="NZL", year=2024, agencies=())


def lic(**kw) -> dict:
    base = dict(record_id="L1", flow="export", basis="authorized", licence_no="EL-0001", date="2024-01-10",
                valid_until="2025-12-31", partner_state="AUS", category="VIII.SA.2", quantity=100,
                value=1000.0, currency="USD", withheld=False)
    return {**base, **kw}


def ship(**kw) -> dict:
    base = dict(record_id="S1", flow="export", basis="actual", licence_no="EL-0001", date="2024-03-01",
                partner_state="AUS", category="VIII.SA.2", quantity=10, withheld=False)
    return {**base, **kw}


def frame(lics=(), customs=(), defence=(), *, shuffle_seed=None) -> pd.DataFrame:
    parts = []
    if lics:
        parts.append(make_records(lics, agency="Licensing", role="licensing", file="inputs/lic/licences.xlsx"))
    if customs:
        parts.append(make_records(customs, agency="Customs", role="customs", file="inputs/customs/decl.csv",
                                  sheet=""))
    if defence:
        parts.append(make_records(defence, agency="Defence", role="defence", file="inputs/mod/transfers.xlsx"))
    out = pd.concat(parts, ignore_index=True)
    out["row_uid"] = np.arange(len(out), dtype="int64")
    return out


def codes(records: pd.DataFrame) -> list[str]:
    return reconcile(records, CFG).findings["code"].tolist()


# (code, failing fixture, passing fixture)
CASES = {
    "shipment-without-licence": (
        frame([lic()], [ship(licence_no=None)]),
        frame([lic()], [ship()]),
    ),
    "shipment-licence-unknown": (
        frame([lic()], [ship(licence_no="EL-0009")]),
        frame([lic()], [ship(licence_no=" el 0001 ")]),  # normalised: case and spaces do not matter
    ),
    "shipment-licence-other-flow": (
        frame([lic()], [ship(flow="import")]),
        frame([lic(), lic(record_id="L2", flow="import")], [ship(flow="import")]),
    ),
    "licence-quantity-exceeded": (
        frame([lic()], [ship(quantity=60), ship(record_id="S2", quantity=50, date="2024-04-01")]),
        frame([lic()], [ship(quantity=60), ship(record_id="S2", quantity=40, date="2024-04-01")]),
    ),
    "licence-value-exceeded": (
        frame([lic()], [ship(value=600.0, currency="USD"),
                        ship(record_id="S2", value=500.0, currency="USD", date="2024-04-01")]),
        frame([lic()], [ship(value=600.0, currency="USD"),
                        ship(record_id="S2", value=500.0, currency="EUR", date="2024-04-01")]),
    ),
    "partner-mismatch": (
        frame([lic()], [ship(partner_state="FJI")]),
        frame([lic(), lic(record_id="L1b", partner_state="FJI", category="VIII.SA.1")],
              [ship(partner_state="FJI")]),  # a licence with lines for two partners
    ),
    "category-mismatch": (
        frame([lic()], [ship(category="VIII.SA.4")]),
        frame([lic()], [ship(category="VIII.SA.2")]),
    ),
    "shipment-before-licence": (
        frame([lic()], [ship(date="2024-01-09")]),
        frame([lic()], [ship(date="2024-01-10")]),
    ),
    "shipment-after-expiry": (
        frame([lic(valid_until="2024-06-30")], [ship(date="2024-07-01")]),
        frame([lic(valid_until="2024-06-30")], [ship(date="2024-06-30")]),
    ),
    "licence-unused": (
        frame([lic(date="2023-01-10")], [ship(date="2023-05-01")]),  # used, but not in 2024
        frame([lic(date="2023-01-10")], [ship(date="2024-05-01")]),
    ),
    "licence-expired-before-year": (
        frame([lic(date="2022-01-01", valid_until="2023-12-31")]),
        frame([lic(date="2022-01-01", valid_until="2024-01-01")]),
    ),
    "withheld-inconsistent": (
        frame([lic(withheld=True)], [ship(withheld=False)]),
        frame([lic(withheld=True)], [ship(withheld=True)]),
    ),
    "duplicate-merged": (
        frame([lic()], [ship()], [ship(record_id="MOD-7")]),
        frame([lic()], [ship()], [ship(record_id="MOD-7", quantity=20)]),
    ),
    "near-duplicate": (
        frame([lic()], [ship(quantity=10)], [ship(record_id="MOD-7", quantity=11, date="2024-03-06")]),
        # partial deliveries by one agency are normal; another agency 30 days later is a different transfer
        frame([lic()], [ship(quantity=10), ship(record_id="S2", quantity=11, date="2024-03-06")],
              [ship(record_id="MOD-7", quantity=11, date="2024-04-06")]),
    ),
    "duplicate-record-id": (
        frame([lic()], [ship(), ship(date="2024-05-01")]),
        frame([lic()], [ship(), ship(record_id="S2", date="2024-05-01")]),
    ),
    "own-forces": (
        frame([], [ship(partner_state="NZL", licence_no=None)]),
        frame([], [ship(partner_state="AUS", licence_no=None)]),
    ),
    "out-of-scope": (
        frame([lic()], [ship(hs_code="9306.21")]),
        frame([lic(category="VII.a")], [ship(hs_code="9306.90", category="VII.a")]),  # missiles stay in scope
    ),
    "hs-category-mismatch": (
        frame([lic()], [ship(hs_code="9302.00")]),
        frame([lic()], [ship(hs_code="9301.90")]),
    ),
    "quantity-outlier": (
        frame([lic(category="I", quantity=5000)], [ship(category="I", quantity=1001)]),
        frame([lic(category="I", quantity=1000)], [ship(category="I", quantity=1000)]),
    ),
}


def test_every_reconcile_rule_has_fixtures_and_a_cited_docstring():
    registered = {r.code for r in rules_for("reconcile")}
    assert registered == set(CASES)
    for r in rules_for("reconcile"):
        assert r.title, r.code
        assert "Enforces:" in r.doc, r.code


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires_on_failing_fixture(code):
    failing, _ = CASES[code]
    assert code in codes(failing)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_silent_on_passing_fixture(code):
    _, passing = CASES[code]
    assert code not in codes(passing)


def test_severities_follow_the_issue():
    sev = {r.code: str(r.severity) for r in rules_for("reconcile")}
    for code in ("shipment-without-licence", "shipment-licence-unknown", "licence-quantity-exceeded",
                 "partner-mismatch", "shipment-before-licence", "shipment-after-expiry"):
        assert sev[code] == "error"
    for code in ("category-mismatch", "near-duplicate", "own-forces", "out-of-scope",
                 "hs-category-mismatch", "quantity-outlier"):
        assert sev[code] == "warning"
    assert sev["licence-unused"] == "info" and sev["duplicate-merged"] == "info"


def test_over_shipment_names_every_shipment_and_sits_on_the_licence():
    recs = frame([lic()], [ship(quantity=60), ship(record_id="S2", quantity=30, date="2024-04-01")],
                 [ship(record_id="MOD-1", quantity=20, date="2024-06-01")])
    f = reconcile(recs, CFG).findings
    over = f[f["code"] == "licence-quantity-exceeded"].iloc[0]
    assert over["agency"] == "Licensing" and over["row"] == 2
    assert over["related"].split(";") == [
        "Customs:inputs/customs/decl.csv:2", "Customs:inputs/customs/decl.csv:3",
        "Defence:inputs/mod/transfers.xlsx:2",
    ]
    assert "110" in over["message"] and "100" in over["message"]


def test_multi_category_licence_checked_per_category():
    lines = [lic(quantity=100), lic(record_id="L1-2", category="VIII.SA.1", quantity=5)]
    ok = frame(lines, [ship(quantity=90), ship(record_id="S2", category="VIII.SA.1", quantity=5)])
    assert "licence-quantity-exceeded" not in codes(ok)
    over = frame(lines, [ship(quantity=10), ship(record_id="S2", category="VIII.SA.1", quantity=6)])
    assert "licence-quantity-exceeded" in codes(over)


def test_findings_carry_related_records():
    f = reconcile(frame([lic()], [ship(partner_state="FJI")]), CFG).findings
    row = f[f["code"] == "partner-mismatch"].iloc[0]
    assert row["related"] == "Licensing:inputs/lic/licences.xlsx:2"
    assert row["agency"] == "Customs" and row["row"] == 2 and row["field"] == "partner_state"


def test_actual_shipments_stay_in_the_figures():
    """Errors never remove a record: only own forces / out of scope exclude by default."""
    recs = frame([lic()], [ship(partner_state="FJI", category="VIII.SA.4", date="2023-01-01", quantity=500),
                           ship(record_id="S2", licence_no=None)])
    res = reconcile(recs, CFG)
    assert (res.records["disposition"] == "").all()


# --- merging ------------------------------------------------------------------

def test_exact_duplicate_merged_with_both_provenances():
    recs = frame([lic()], [ship()], [ship(record_id="MOD-7", withheld=True, description="Rifle X")])
    res = reconcile(recs, CFG)
    out = res.records
    assert len(out) == len(recs)
    surv = out[out["record_id"] == "S1"].iloc[0]
    twin = out[out["record_id"] == "MOD-7"].iloc[0]
    assert twin["disposition"] == "merged"
    assert twin["disposition_ref"] == "Customs:inputs/customs/decl.csv:2"
    assert surv["disposition"] == ""
    assert surv["also_from"] == "Defence:inputs/mod/transfers.xlsx:2"
    assert bool(surv["withheld"]) is True  # a twin's Art. 13(3) mark is kept
    assert surv["description"] == "Rifle X"  # blanks filled from the twin
    merged = res.findings[res.findings["code"] == "duplicate-merged"]
    assert len(merged) == 1 and merged.iloc[0]["related"] == "Defence:inputs/mod/transfers.xlsx:2"
    # the merged twin is not counted again against the licence
    assert "near-duplicate" not in res.findings["code"].tolist()


def test_two_identical_shipments_in_each_agency_pair_up():
    recs = frame([lic()], [ship(), ship(record_id="S2")], [ship(record_id="M1"), ship(record_id="M2")])
    out = reconcile(recs, CFG).records
    assert (out["disposition"] == "merged").sum() == 2
    assert (out[out["src_agency"] == "Customs"]["disposition"] == "").all()


def test_same_agency_partial_deliveries_not_merged():
    recs = frame([lic()], [ship(), ship(record_id="S2")])
    out = reconcile(recs, CFG).records
    assert (out["disposition"] == "").all()


def test_invalid_rows_untouched_and_not_checked():
    recs = frame([lic()], [ship(licence_no=None, partner_state="NZL")], [ship(record_id="M1")])
    recs.loc[recs["src_agency"] == "Customs", ["valid", "disposition", "disposition_ref"]] = [False, "invalid", "F-x"]
    recs["valid"] = recs["valid"].astype(bool)
    res = reconcile(recs, CFG)
    cust = res.records[res.records["src_agency"] == "Customs"].iloc[0]
    assert cust["disposition"] == "invalid" and cust["disposition_ref"] == "F-x"
    assert not (res.findings["agency"] == "Customs").any()
    assert (res.records["disposition"] != "merged").all()


def test_own_forces_excluded_by_default_citing_the_finding():
    res = reconcile(frame([], [ship(partner_state="NZL", licence_no=None)]), CFG)
    row = res.records.iloc[0]
    fid = res.findings.loc[res.findings["code"] == "own-forces", "finding_id"].iloc[0]
    assert row["disposition"] == "excluded" and row["disposition_ref"] == fid


def test_out_of_scope_excluded_by_default():
    res = reconcile(frame([lic()], [ship(hs_code="9306.21")]), CFG)
    out = res.records
    assert out.loc[out["record_id"] == "S1", "disposition"].iloc[0] == "excluded"
    assert out.loc[out["record_id"] == "L1", "disposition"].iloc[0] == ""


# --- finding ids ------------------------------------------------------------------

def _ids(records):
    f = reconcile(records, CFG).findings
    return {(c, a, v) for c, a, v in zip(f["code"], f["agency"], f["finding_id"])}


def test_finding_ids_stable_when_unrelated_rows_added_or_reordered():
    problems = [ship(partner_state="FJI"), ship(record_id="S2", licence_no="EL-9"),
                ship(record_id="S3", licence_no=None)]
    base = frame([lic()], problems, [ship(record_id="MOD-1")])
    unrelated = [ship(record_id=f"X{i}", licence_no="EL-0002", date="2024-05-01", quantity=1) for i in range(5)]
    lics = [lic(record_id="L2", licence_no="EL-0002", quantity=1000), lic()]
    grown = frame(lics, unrelated[:2] + list(reversed(problems)) + unrelated[2:],
                  [ship(record_id="MOD-2", licence_no="EL-0002", quantity=3), ship(record_id="MOD-1")])
    before = _ids(base)
    after = _ids(grown)
    assert before and before <= after


def test_finding_ids_do_not_depend_on_row_uid():
    a = frame([lic()], [ship(partner_state="FJI")])
    b = a.iloc[::-1].copy()
    b["row_uid"] = b["row_uid"] + 1000
    assert _ids(a) == _ids(b)


# --- speed --------------------------------------------------------------------------

def _synthetic(n_ship: int, n_lic: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cats = np.array(["VIII.SA.2", "VIII.SA.1", "VIII.SA.4", "VIII.LW.1"])
    partners = np.array(["AUS", "FJI", "DEU", "USA", "JPN", "NZL"])
    lk = np.array([f"EL{i:07d}" for i in range(n_lic)])
    lic_cat = cats[rng.integers(0, len(cats), n_lic)]
    lic_partner = partners[rng.integers(0, 5, n_lic)]
    lics = pd.DataFrame({
        "record_id": [f"L{i}" for i in range(n_lic)], "flow": "export", "basis": "authorized",
        "licence_no": lk, "licence_key": lk, "date": pd.Timestamp("2024-01-01"),
        "valid_until": pd.Timestamp("2025-01-01"), "partner_state": lic_partner, "category": lic_cat,
        "quantity": rng.integers(200, 800, n_lic), "value": rng.random(n_lic) * 1e5, "currency": "USD",
        "src_agency": "Licensing", "src_role": "licensing", "src_file": "inputs/lic/l.xlsx",
        "src_sheet": "Licences", "src_row": np.arange(2, n_lic + 2),
    })
    which = rng.integers(0, n_lic + n_lic // 50, n_ship)  # ~2% quote an unknown licence
    known = which < n_lic
    idx = np.where(known, which, 0)
    ships = pd.DataFrame({
        "record_id": [f"C{i}" for i in range(n_ship)], "flow": "export", "basis": "actual",
        "licence_no": np.where(known, lk[idx], "XX" + which.astype(str)),
        "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(-5, 365, n_ship), unit="D"),
        "partner_state": np.where(rng.random(n_ship) < 0.01, "FJI", lic_partner[idx]),
        "category": np.where(rng.random(n_ship) < 0.01, "VIII.SA.5", lic_cat[idx]),
        "quantity": rng.integers(1, 60, n_ship),
        "hs_code": np.where(rng.random(n_ship) < 0.3, np.where(lic_cat[idx] == "VIII.SA.1", "9302.00", "9301.90"), None),
        "src_agency": np.where(rng.random(n_ship) < 0.1, "Defence", "Customs"), "src_role": "customs",
        "src_file": "inputs/customs/c.csv", "src_sheet": "", "src_row": np.arange(2, n_ship + 2),
    })
    ships["licence_key"] = ships["licence_no"]
    from att_report.records import conform

    out = conform(pd.concat([lics, ships], ignore_index=True))
    out["row_uid"] = np.arange(len(out), dtype="int64")
    return out


def test_reconcile_is_vectorised():
    recs = _synthetic(100_000, 10_000)
    t0 = time.perf_counter()
    res = reconcile(recs, CFG)
    elapsed = time.perf_counter() - t0
    assert len(res.records) == len(recs)
    assert {"shipment-licence-unknown", "partner-mismatch", "licence-quantity-exceeded"} <= set(res.findings["code"])
    assert elapsed < 20, f"reconcile of 100k shipments took {elapsed:.1f} s"


# --- integer codes (the fast paths must group exactly like the text) -------------------

def test_combine_codes_groups_like_the_tuples_and_keeps_missing():
    from att_report.reconcile.common import combine_codes

    rng = np.random.default_rng(3)
    cols = [rng.integers(-1, n, 5000) for n in (1_000_000, 50, 3_000_000, 7)]  # products overflow int64
    got = combine_codes(*cols)
    tuples = list(zip(*(c.tolist() for c in cols)))
    missing = np.array([min(t) < 0 for t in tuples])
    assert (got[missing] == -1).all() and (got[~missing] >= 0).all()
    ref = pd.factorize(pd.Series([t for t, m in zip(tuples, missing) if not m]))[0]
    assert (pd.factorize(got[~missing])[0] == ref).all()


def test_distinct_maps_rows_to_their_values():
    from att_report.reconcile.common import distinct

    frame = pd.DataFrame({"c": pd.array(["b", None, "a", "b", "c"], dtype="string")})
    sub = frame.iloc[[0, 1, 3]]  # codes computed on a cut frame: values only of the rows present
    code, values = distinct(sub, "c")
    assert code[1] == -1
    assert [values.iloc[i] for i in code[[0, 2]]] == ["b", "b"]
    assert list(values) == ["b"]


def test_exact_duplicate_with_missing_partner_still_merges():
    recs = frame([], [ship(partner_state=None, licence_no=None)], [ship(record_id="D1", partner_state=None,
                                                                      licence_no=None)])
    res = reconcile(recs, CFG)
    assert res.records["disposition"].tolist().count("merged") == 1


# --- scope first: excluded rows are not checked against licences ------------------------

def _decide(fid: str, word: str, overrides=(), text=""):
    from att_report.reconcile.decisions import Decision, Decisions

    return Decisions("decisions.csv", (Decision(fid, word, tuple(overrides), text, "checked", line=2),))


def _scope_id(records, code="own-forces") -> str:
    f = reconcile(records, CFG).findings
    return f.loc[f["code"] == code, "finding_id"].iloc[0]


# (failing fixture: the row is in scope and checked; passing fixture: the scope rules exclude it)
SCOPE_CASES = {
    "own-forces": (frame([], [ship(licence_no=None)]), frame([], [ship(partner_state="NZL", licence_no=None)])),
    "out-of-scope": (frame([], [ship(licence_no=None, hs_code="9306.90", category="VII.a")]),
                     frame([], [ship(licence_no=None, hs_code="9306.21")])),
}


@pytest.mark.parametrize("scope_code", sorted(SCOPE_CASES))
def test_excluded_rows_raise_no_licence_error(scope_code):
    checked, excluded = SCOPE_CASES[scope_code]
    assert "shipment-without-licence" in codes(checked)
    res = reconcile(excluded, CFG)
    assert res.findings["code"].tolist() == [scope_code]
    assert res.records["disposition"].tolist() == ["excluded"]


def test_out_of_scope_shipment_does_not_count_towards_the_licence():
    shipments = [ship(quantity=60, value=600.0, currency="USD"),
                 ship(record_id="S2", quantity=50, value=500.0, currency="USD", date="2024-04-01")]
    assert {"licence-quantity-exceeded", "licence-value-exceeded"} <= set(codes(frame([lic()], shipments)))
    shipments[1]["hs_code"] = "9306.21"  # ammunition: out of scope, left out of the cumulative total
    got = codes(frame([lic()], shipments))
    assert "out-of-scope" in got
    assert not {"licence-quantity-exceeded", "licence-value-exceeded"} & set(got)


def test_own_forces_shipment_is_not_checked_against_its_licence():
    recs = frame([lic(valid_until="2024-06-30")],
                 [ship(quantity=60)],
                 [ship(record_id="MOD-1", partner_state="NZL", category="VIII.SA.4", quantity=50, withheld=False,
                       date="2024-12-01")])
    got = codes(recs)
    assert got.count("own-forces") == 1
    assert not {"partner-mismatch", "category-mismatch", "shipment-after-expiry",
                "licence-quantity-exceeded"} & set(got)


@pytest.mark.parametrize("word", ["accept", "override"])
def test_a_scope_finding_accepted_or_overridden_brings_the_licence_checks_back(word):
    recs = frame([], [ship(partner_state="NZL", licence_no=None)])
    fid = _scope_id(recs)
    overrides = ((("comments", "own forces loan returned"),), "comments=own forces loan returned") \
        if word == "override" else ((), "")
    res = reconcile(recs, CFG, _decide(fid, word, *overrides))
    assert res.records["disposition"].tolist() == [""]
    f = res.findings
    assert "shipment-without-licence" in f["code"].tolist()
    assert f.loc[f["code"] == "own-forces", "decision"].tolist() == [word]


def test_a_scope_finding_excluded_by_decision_stays_unchecked():
    recs = frame([], [ship(partner_state="NZL", licence_no=None)])
    res = reconcile(recs, CFG, _decide(_scope_id(recs), "exclude"))
    assert res.findings["code"].tolist() == ["own-forces"]
    assert res.records["disposition"].tolist() == ["excluded"]


def test_a_licence_used_only_by_an_excluded_shipment_is_not_unused():
    # the licence was used: the shipment's own scope finding explains why actual figures lack it
    got = codes(frame([lic()], [ship(hs_code="9306.21")]))
    assert "licence-unused" not in got and "out-of-scope" in got
    assert "licence-unused" in codes(frame([lic()], [ship(hs_code="9306.21", date="2023-05-01")]))


def test_an_excluded_licence_gets_no_licence_finding_but_still_links_its_shipments():
    expired = lic(partner_state="NZL", date="2022-01-01", valid_until="2023-12-31")
    got = codes(frame([expired]))
    assert got == ["own-forces"]  # neither licence-unused nor licence-expired-before-year
    # a shipment in scope quoting it is linked to it (not "unknown licence") and checked against it
    got = codes(frame([lic(partner_state="NZL")], [ship(partner_state="AUS")]))
    assert "shipment-licence-unknown" not in got and "partner-mismatch" in got


def test_hs_checks_on_the_rows_in_scope_sit_on_the_right_rows():
    """The HS facts cached by the scope pass are cut to the rows in scope, not reused misaligned."""
    recs = frame([lic()], [ship(hs_code="9306.21"), ship(record_id="S2", hs_code="9306.30"),
                           ship(record_id="S3", hs_code="9302.00", date="2024-04-01"),
                           ship(record_id="S4", hs_code="9301.90", date="2024-05-01")])
    f = reconcile(recs, CFG).findings
    mismatch = f[f["code"] == "hs-category-mismatch"]
    assert mismatch["row"].tolist() == [4] and mismatch["value"].tolist() == ["VIII.SA.2"]


def test_excluded_rows_leave_the_other_findings_and_their_ids_unchanged():
    problems = [ship(partner_state="FJI"), ship(record_id="S2", licence_no=None, date="2024-04-01"),
                ship(record_id="S3", quantity=95, date="2024-05-01")]
    base = frame([lic()], problems, [ship(record_id="MOD-1", licence_no="EL-0404")])
    excluded = [ship(record_id="MOD-9", partner_state="NZL", quantity=500, date="2023-01-01"),
                ship(record_id="MOD-8", licence_no=None, hs_code="9306.21"),
                ship(record_id="MOD-7", partner_state="NZL", licence_no="EL-0404", quantity=11)]
    grown = frame([lic()], problems, [ship(record_id="MOD-1", licence_no="EL-0404"), *excluded])
    before = _ids(base)
    after = _ids(grown)
    assert {c for c, _, _ in after - before} == {"own-forces", "out-of-scope"}
    assert before <= after


def test_reconcile_with_excluded_rows_stays_fast():
    recs = _synthetic(100_000, 10_000, seed=2)
    rng = np.random.default_rng(5)
    is_ship = (recs["basis"] == "actual").to_numpy()
    own = is_ship & (rng.random(len(recs)) < 0.1)
    ammo = is_ship & (rng.random(len(recs)) < 0.1)
    recs.loc[own, "partner_state"] = "NZL"
    recs.loc[ammo, "hs_code"] = "9306.21"
    t0 = time.perf_counter()
    res = reconcile(recs, CFG)
    elapsed = time.perf_counter() - t0
    f = res.findings
    scoped = set(f.loc[f["code"].isin(["own-forces", "out-of-scope"]), "row"].astype(int))
    checked = f[f["code"].isin(["shipment-licence-unknown", "partner-mismatch", "category-mismatch",
                                "hs-category-mismatch"]) & (f["agency"] != "Licensing")]
    assert len(checked) and not scoped & set(checked["row"].astype(int))
    assert (res.records["disposition"] == "excluded").sum() == (own | ammo).sum()
    assert elapsed < 20, f"reconcile of 100k shipments took {elapsed:.1f} s"


def test_reconcile_leaves_its_input_frame_unchanged():
    """Copy-on-write copies: the caller's records are never modified."""
    records = frame([lic()], [ship(quantity=500), ship(record_id="S2", partner_state="NZL", licence_no=None)],
                    [ship(record_id="MOD-7")])
    before = records.copy(deep=True)
    result = reconcile(records, CFG)
    pd.testing.assert_frame_equal(records, before)
    assert (result.records["disposition"] != "").any()
