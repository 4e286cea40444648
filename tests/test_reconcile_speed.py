"""Reconcile's integer fast paths (issue 7) give what the plain pandas versions give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from att_report.reconcile.common import combine_codes, dense_codes
from att_report.reconcile.duplicates import multi_agency, multi_agency_of


@pytest.mark.parametrize("seed", range(6))
def test_dense_codes_number_like_pd_factorize(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3_000))
    top = [5, 200, 10 * n, 10**12][seed % 4]  # small keys use the table, huge ones pd.factorize
    key = rng.integers(0, top, n)
    codes, uniques = dense_codes(key)
    want_codes, want_uniques = pd.factorize(key)
    assert np.array_equal(codes, want_codes) and np.array_equal(uniques, want_uniques)
    assert np.array_equal(uniques[codes], key)


def test_dense_codes_of_nothing_and_of_negatives():
    codes, uniques = dense_codes(np.zeros(0, dtype="int64"))
    assert codes.shape == (0,) and uniques.shape == (0,)
    key = np.array([3, -1, 3, 7, -1])
    codes, uniques = dense_codes(key)
    assert codes.tolist() == [0, 1, 0, 2, 1] and uniques.tolist() == [3, -1, 7]


@pytest.mark.parametrize("seed", range(8))
def test_multi_agency_of_matches_multi_agency_of_the_combined_key(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 4_000))
    # widths so that the cheap first check takes none, some or all of the parts
    widths = [[3, 2, 40, 5], [70_000, 3, 4], [2, 2, 2], [n * 50, 7]][seed % 4]
    parts = [rng.integers(0, w, n) for w in widths]
    agency = rng.integers(-1, 3, n)
    want = multi_agency(combine_codes(*parts), agency)
    got = multi_agency_of(parts, agency)
    assert got.dtype == bool and np.array_equal(got, want)
    # the same with many repeated keys, so that groups of two agencies exist
    parts = [p % 3 for p in parts]
    assert np.array_equal(multi_agency_of(parts, agency), multi_agency(combine_codes(*parts), agency))


def test_multi_agency_of_nothing():
    assert multi_agency_of([np.zeros(0, dtype="int64")], np.zeros(0, dtype="int64")).shape == (0,)


def _repeated_reference(group: np.ndarray, series: pd.Series) -> np.ndarray:
    from att_report.reconcile.common import factorize
    key = combine_codes(np.asarray(group, dtype="int64"), factorize(series))
    return pd.Series(key).duplicated(keep=False).to_numpy() & (key >= 0)


def _ids(rng, n: int) -> list:
    # shared tails and heads, lengths around the 4- and 8-byte windows, unicode, empty and missing
    pool = ["", "A", "ab", "x-0001", "y-0001", "CUS-2024-000001", "MOD-2024-000001", "CUS-2025-000001",
            "Ünïcødé-7", "Ünïcødé-8", "日本-0001", "0001", "A0001", "B0001", "12345678", "012345678", None]
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.5:
            out.append(pool[rng.integers(len(pool))])
        else:  # mostly unique ids, some of them repeated by chance
            out.append(f"R-{rng.integers(0, n)}-{'é' * int(rng.integers(0, 3))}")
    return out


@pytest.mark.parametrize("seed", range(8))
def test_repeated_texts_match_the_codes_and_duplicated(seed):
    from att_report.reconcile.common import repeated_texts
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 2_000))
    series = pd.Series(_ids(rng, n), dtype="string")
    if seed % 2:  # a cut frame: the arrow array starts at an offset
        series = pd.Series(_ids(rng, 7) + series.tolist(), dtype="string").iloc[7:].reset_index(drop=True)
        series = pd.Series(series.array[np.arange(len(series))], dtype="string")
    group = rng.integers(-1, 3, n)
    want = _repeated_reference(group, series)
    got = repeated_texts(group, series)
    assert got.dtype == bool and np.array_equal(got, want)
    if n > 50:
        assert want.any() and not want.all()


def test_repeated_texts_on_sliced_multi_chunk_and_object_text():
    import pyarrow as pa
    from att_report.reconcile.common import repeated_texts
    values = ["a", "b", "a", None, "", "", "abcdefghij", "xbcdefghij", "abcdefghij"]
    want = [True, False, True, False, True, True, True, False, True]
    group = np.zeros(len(values), dtype="int64")
    plain = pd.Series(values, dtype="string")
    sliced = pd.Series(["z", "z", *values], dtype="string").iloc[2:].reset_index(drop=True)  # arrow offset 2
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values[:4], values[4:]], type=pa.large_string())))
    as_object = pd.Series(values, dtype=object)
    for series in (plain, sliced, chunked, as_object):
        assert repeated_texts(group, series).tolist() == want
    # another group is another agency: the same id there is no repeat
    assert repeated_texts(np.array([0, 0, 1, 0, 0, 1, 0, 0, 1]), plain).tolist() == [
        False, False, False, False, False, False, False, False, False]


@pytest.mark.parametrize("seed", range(6))
def test_duplicated_keys_match_pandas(seed):
    from att_report.reconcile.common import duplicated_keys
    rng = np.random.default_rng(seed)
    n = [0, 1, 5_000, 20_000, 60_000, 3][seed]
    key = rng.integers(0, 2**63, n, dtype="int64")
    key[rng.integers(0, max(n, 1), n // 50)] = key[rng.integers(0, max(n, 1), n // 50)] if n else key[:0]
    if seed == 4:  # keys that differ in their high bits only, and negative ones
        key = (rng.integers(0, 40_000, n).astype("int64") << 40) | 7
        key[::3] = -key[::3]
    for k in (key, key.view("uint64")):
        want = pd.Series(k).duplicated(keep=False).to_numpy()
        got = duplicated_keys(k)
        assert got.dtype == bool and np.array_equal(got, want)


@pytest.mark.parametrize("seed", range(5))
def test_licence_texts_joined_from_codes_match_join_sorted(seed):
    from att_report.reconcile.common import factorize, join_sorted
    from att_report.reconcile.link import _joined
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 600))
    pool = ["DE", "FR", "Zz", "ÄB", "ab", "a", "b;c", "日本", "", None]
    frame = pd.DataFrame({
        "_lid": rng.integers(0, max(n // 4, 1), n) * (3 if seed < 3 else 10**8),  # large ids: no table
        "partner_state": pd.array([pool[i] for i in rng.integers(0, len(pool), n)], dtype="string"),
    })
    want = join_sorted(frame, "_lid", "partner_state")
    got = _joined(frame["_lid"].to_numpy(), factorize(frame["partner_state"]), frame["partner_state"])
    pd.testing.assert_series_equal(got, want, check_index_type=False)
    assert got.index.name == "_lid" and got.dtype == object


def test_licence_texts_joined_from_no_code():
    from att_report.reconcile.link import _joined
    got = _joined(np.array([1, 2]), np.array([-1, -1]), pd.Series([None, None], dtype="string", name="category"))
    assert got.empty and got.name == "category"


@pytest.mark.parametrize("wide", [False, True])
def test_licence_pairs_by_table_match_isin(wide):
    from att_report.reconcile.link import _pairs_in
    rng = np.random.default_rng(3)
    n = 3_000
    top = 10**9 if wide else 200  # wide ids: no table, a hash lookup
    lid, code = rng.integers(-1, top, n), rng.integers(-1, 30, n)
    aut_lid, aut_code = lid[rng.integers(0, n, 500)], rng.integers(-1, 30, 500)
    pairs = set(zip(aut_lid.tolist(), aut_code.tolist()))
    want = np.array([lc[0] >= 0 and lc[1] >= 0 and lc in pairs for lc in zip(lid.tolist(), code.tolist())])
    assert np.array_equal(_pairs_in(lid, code, aut_lid, aut_code), want)


@pytest.mark.parametrize("kind", ["small", "large", "nullable", "empty"])
def test_rows_a_finding_points_at_match_isin(kind):
    from att_report.reconcile import _rows_at
    rng = np.random.default_rng(1)
    n = 0 if kind == "empty" else 2_000
    values = rng.integers(1, 10**9 if kind == "large" else 3_000, n)
    src_row = pd.Series(values, dtype="Int64" if kind == "nullable" else "int64")
    if kind == "nullable":
        src_row[::7] = pd.NA
    wanted = np.r_[values[:40], -5, 10**12, 0].astype("int64")
    want = np.flatnonzero(src_row.isin(wanted).to_numpy())
    assert np.array_equal(_rows_at(src_row, wanted), want)


@pytest.mark.parametrize("sort", [False, True])
def test_factorize_of_arrow_text_matches_pandas(sort):
    from att_report.reconcile.common import factorize
    values = ["Zoll", "customs", None, "Ärar", "", "customs", "日本", "Zoll", "zoll", None, "a\u0301", "á"]
    series = pd.Series(values, dtype="string")
    for s in (series, series.iloc[3:].reset_index(drop=True), pd.Series(values, dtype=object)):
        assert np.array_equal(factorize(s, sort=sort), pd.factorize(s, sort=sort)[0])


def _every_rule_frame() -> pd.DataFrame:
    from tests.test_reconcile_fast import _dup_frame, _scope_frame
    from tests.test_reconcile_rules import CFG, lic, ship
    scope, dup = _scope_frame(), _dup_frame()
    extra = pd.DataFrame([ship(record_id="S1", quantity=3, partner_state=CFG.state),  # repeated id, own forces
                          ship(record_id="S9", licence_no="EL-0003", hs_code="9306.21", date="2024-07-01"),
                          ship(record_id="S10", licence_no="", date="2024-07-02"),
                          ship(record_id="S11", licence_no="EL-7777", date="2024-07-03"),
                          lic(record_id="L1", licence_no="EL-0100", valid_until="2023-01-01")])
    out = pd.concat([scope, dup], ignore_index=True)
    from tests.test_reconcile_rules import frame
    more = frame([], list(extra.to_dict("records")))
    out = pd.concat([out, more], ignore_index=True)
    out["row_uid"] = np.arange(len(out))
    out["src_row"] = np.arange(2, len(out) + 2)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_rules_on_every_row_with_an_active_mask_find_what_they_find_on_the_active_rows(seed):
    """reconcile() hands the rules every row and a mask of the active ones instead of cutting them."""
    from att_report.reconcile import link as lk
    from att_report.reconcile.common import add_codes
    from att_report.reconcile.duplicates import exact_duplicates
    from att_report.rules import RuleContext, rules_for
    from tests.test_reconcile_rules import CFG

    recs = _every_rule_frame()
    rng = np.random.default_rng(seed)
    mask = rng.random(len(recs)) < 0.8
    every, cut = add_codes(recs), add_codes(recs[mask].reset_index(drop=True))
    merges = exact_duplicates(cut)
    key = ["code", "finding_id", "row", "message", "related"]
    seen = set()
    for r in rules_for("reconcile"):
        masked = r.func(every, RuleContext(CFG, extra={
            "merges": merges, "active": mask, "in_scope": mask, "links": lk.build_links(every, None, among=mask)}))
        plain = r.func(cut, RuleContext(CFG, extra={"merges": merges}))
        pd.testing.assert_frame_equal(masked.sort_values(key).reset_index(drop=True),
                                      plain.sort_values(key).reset_index(drop=True))
        seen.update(plain["code"])
    assert len(seen) >= 10, seen  # the fixture triggers most rules


@pytest.mark.parametrize("spread", [3, 40])  # a few agencies (bincounts) or many (minimum and maximum)
def test_multi_agency_with_few_or_many_agencies(spread):
    rng = np.random.default_rng(spread)
    gid = rng.integers(0, 400, 3_000)
    agency = rng.integers(-1, spread, 3_000)
    expected = pd.Series(agency).groupby(gid).transform("nunique").to_numpy() > 1
    assert np.array_equal(multi_agency(gid, agency), expected)
    assert np.array_equal(multi_agency_of([gid], agency), expected)


def test_text_stacked_from_several_files_takes_the_arrow_paths():
    """A build's records are stacked from files: their text columns come in several arrow chunks.
    The arrow fast paths (digest, dictionary codes) must serve them too, with the same answers."""
    import pyarrow as pa

    from att_report.reconcile import common

    values = ["R1", "R2", None, "R1", "", "long record id 0001", "long record id 0001", "R3"]
    chunked = pd.Series(pd.arrays.ArrowStringArray(
        pa.chunked_array([values[:3], values[3:5], values[5:]], type=pa.large_string())))
    assert common._text_fingerprint(chunked) is not None
    assert np.array_equal(common.factorize(chunked), pd.factorize(chunked)[0])
    assert np.array_equal(common.factorize(chunked, sort=True), pd.factorize(chunked, sort=True)[0])
    assert common.repeated_texts(np.zeros(len(values), dtype="int64"), chunked).tolist() == [
        True, False, False, True, False, True, True, False]


def test_pandas_is_used_only_for_text_that_is_not_arrow(monkeypatch):
    import pyarrow as pa

    from att_report.reconcile import common

    calls = []
    real = pd.factorize
    monkeypatch.setattr(pd, "factorize", lambda *a, **k: calls.append(1) or real(*a, **k))
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["a", "b"], ["a"]], type=pa.large_string())))
    common.factorize(chunked)
    assert calls == []
    common.factorize(pd.Series(["a", "b", "a"], dtype=object))
    assert calls == [1]
