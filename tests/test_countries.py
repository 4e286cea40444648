import numpy as np
import pandas as pd
import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from att_report.normalise.countries import (
    country_name,
    country_names,
    known_country_labels,
    match_key,
    resolve_countries,
    resolve_country,
    resolve_country_list,
)


@pytest.mark.parametrize(
    "text, code",
    [
        ("DE", "DEU"), ("deu", "DEU"), (" DEU ", "DEU"), ("276", "DEU"), ("040", "AUT"), ("40", "AUT"),
        (40, "AUT"), (40.0, "AUT"),
        ("NA", "NAM"), ("na", "NAM"), ("Namibia", "NAM"),
        ("South Korea", "KOR"), ("Korea, Republic of", "KOR"), ("Republic of Korea", "KOR"),
        ("North Korea", "PRK"),
        ("Türkiye", "TUR"), ("Turkey", "TUR"), ("TURKIYE", "TUR"),
        ("Ivory Coast", "CIV"), ("Côte d'Ivoire", "CIV"), ("Cote d’Ivoire", "CIV"), ("COTE D IVOIRE", "CIV"),
        ("UK", "GBR"), ("United Kingdom", "GBR"), ("Great Britain", "GBR"),
        ("USA", "USA"), ("U.S.A.", "USA"), ("United States of America", "USA"), ("the United States", "USA"),
        ("Czech Republic", "CZE"), ("Czechia", "CZE"),
        ("德国", "DEU"), ("德國", "DEU"), ("Allemagne", "DEU"), ("Alemania", "DEU"),
        ("Германия", "DEU"), ("ألمانيا", "DEU"), ("Federal Republic of Germany", "DEU"),
        ("États-Unis", "USA"), ("Etats Unis", "USA"), ("Россия", "RUS"), ("Russia", "RUS"),
        ("Gambia, The", "GMB"), ("The Gambia", "GMB"),
        ("St. Kitts & Nevis", "KNA"), ("Saint Kitts and Nevis", "KNA"),
        ("Myanmar (Burma)", "MMR"), ("Burma", "MMR"),
        ("Congo - Kinshasa", "COD"), ("DR Congo", "COD"),
        ("Kosovo", "XKX"), ("XK", "XKX"), ("Taiwan", "TWN"), ("Palestine", "PSE"),
        ("Swaziland", "SWZ"), ("Eswatini", "SWZ"), ("Macedonia", "MKD"), ("North Macedonia", "MKD"),
        ("Cape Verde", "CPV"), ("Cabo Verde", "CPV"), ("East Timor", "TLS"), ("Vatican", "VAT"),
        ("Holland", "NLD"), ("Iran", "IRN"), ("Syria", "SYR"), ("Laos", "LAO"), ("Vietnam", "VNM"),
        ("Bolivia", "BOL"), ("Venezuela", "VEN"), ("Tanzania", "TZA"), ("Moldova", "MDA"),
        ("AND", "AND"),  # Andorra's alpha-3, not the word
    ],
)
def test_resolves(text, code):
    assert resolve_country(text) == code
    assert resolve_countries(pd.Series([text], dtype=object)).iloc[0].tolist() == [code, "ok", pd.NA]


@pytest.mark.parametrize("text", ["Various", "Multiple", "EU", "Europe", "Africa", "Middle East", "Worldwide",
                                  "n/a", "N/A", "Unknown", "TBD", "-", "Europa", "Moyen-Orient"])
def test_vague(text):
    row = resolve_countries(pd.Series([text])).iloc[0]
    assert row["status"] == "vague" and row["code"] is pd.NA
    assert resolve_country(text) is None


@pytest.mark.parametrize("text", ["", "   ", None, np.nan, pd.NA])
def test_blank(text):
    row = resolve_countries(pd.Series([text], dtype=object)).iloc[0]
    assert row["status"] == "blank" and row["code"] is pd.NA and row["hint"] is pd.NA


def test_unknown_with_hint_never_corrected():
    row = resolve_countries(pd.Series(["Germny"])).iloc[0]
    assert row["status"] == "unknown" and row["code"] is pd.NA
    assert row["hint"] == "did you mean 'Germany' (DEU)?"
    far = resolve_countries(pd.Series(["Qwertyland zzz"])).iloc[0]
    assert far["status"] == "unknown" and far["hint"] is pd.NA


def test_ambiguous_korea_and_lone_digit_are_not_guessed():
    rows = resolve_countries(pd.Series(["Korea", "4", "999"]))
    assert rows["code"].isna().all() and (rows["status"] == "unknown").all()
    assert "KOR" in rows["hint"][0] and "PRK" in rows["hint"][0]
    assert "004" in rows["hint"][1]


def test_region_codes_are_not_states():
    # babel's territory list has regions ("150" Europe, "419", "EU"): never a State
    assert resolve_country("150") is None
    assert resolve_country("EU") is None


def test_every_pycountry_state_round_trips():
    for c in pycountry.countries:
        assert resolve_country(c.alpha_2) == c.alpha_3
        assert resolve_country(c.alpha_3) == c.alpha_3
        assert resolve_country(c.name) == c.alpha_3, c.name
        assert resolve_country(c.numeric) == c.alpha_3


def test_labels_resolve_to_their_codes():
    labels = known_country_labels()
    assert len(labels) >= 249 and "Germany" in labels and "Kosovo" in labels
    assert [match_key(x) for x in labels] == sorted(match_key(x) for x in labels)
    for label in labels:
        code = resolve_country(label)
        assert code is not None and country_name(code) == label


def test_country_names():
    assert country_name("DEU") == "Germany"
    assert country_name("XKX") == "Kosovo"
    assert country_name("KOR") in ("South Korea", "Korea, Republic of")
    out = country_names(pd.Series(["DEU", None, "fra"], index=[5, 6, 7]))
    assert out.tolist() == ["Germany", pd.NA, "France"] and out.index.tolist() == [5, 6, 7]


def test_lists():
    values = pd.Series([
        "Germany; France", "Germany, France", "Korea, Republic of; UK", "DEU/FRA", "Trinidad and Tobago",
        "Germany and Nowhere", "Europe; Germany", "Various", None, " ; ", "Germany;Germany", "Germny",
    ], index=range(100, 112))
    out = resolve_country_list(values)
    assert out.index.equals(values.index)
    assert out["codes"].tolist() == ["DEU;FRA", "DEU;FRA", "KOR;GBR", "DEU;FRA", "TTO",
                                     "DEU", "DEU", pd.NA, pd.NA, pd.NA, "DEU", pd.NA]
    assert out["status"].tolist() == ["ok", "ok", "ok", "ok", "ok", "unknown", "vague", "vague",
                                      "blank", "blank", "ok", "unknown"]
    assert out["bad"][105] == "Nowhere" and out["bad"][106] == "Europe"
    assert "Germany" in out["hint"][111]


def test_list_custom_separator():
    out = resolve_country_list(pd.Series(["DEU|FRA"]), sep="|")
    assert out["codes"][0] == "DEU;FRA"


def test_many_rows_few_values_keeps_index_and_dtypes():
    rng = np.random.default_rng(1)
    pool = np.array(["Germany", "NA", "", None, "Various", "Germny", "276", "德国"], dtype=object)
    values = pd.Series(rng.choice(pool, 200_000), index=rng.permutation(200_000))
    out = resolve_countries(values)
    assert out.index.equals(values.index) and len(out) == len(values)
    assert all(str(t) == "string" for t in out.dtypes)
    expected = {"Germany": "DEU", "NA": "NAM", "276": "DEU", "德国": "DEU"}
    for raw, code in expected.items():
        assert (out["code"][values == raw] == code).all()
    assert (out["status"][values.isna()] == "blank").all()


names = st.sampled_from([c.name for c in pycountry.countries] + ["UK", "Various", "Germny", "NA", "", "  "])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(names, st.text(max_size=12), st.none()), max_size=30))
def test_property_length_index_idempotent(values):
    series = pd.Series(values, dtype=object, index=[i * 3 for i in range(len(values))])
    out = resolve_countries(series)
    assert out.index.equals(series.index)
    assert set(out["status"].dropna()) <= {"ok", "blank", "unknown", "vague"}
    assert out["status"].notna().all()
    resolved = out["code"].dropna()
    again = resolve_countries(resolved)
    assert again["code"].equals(resolved) and (again["status"] == "ok").all()
    # ok <=> a code
    assert ((out["status"] == "ok") == out["code"].notna()).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.lists(names, max_size=4).map("; ".join), st.text(max_size=15), st.none()), max_size=20))
def test_property_lists_keep_index_and_round_trip(values):
    series = pd.Series(values, dtype=object, index=[i * 5 + 1 for i in range(len(values))])
    out = resolve_country_list(series)
    assert out.index.equals(series.index)
    assert set(out["status"]) <= {"ok", "blank", "unknown", "vague"}
    codes = out["codes"].dropna()
    again = resolve_country_list(codes)
    assert again["codes"].equals(codes) and (again["status"] == "ok").all()
    # a list is "ok" only when nothing was left unresolved
    assert out.loc[out["status"] == "ok", "bad"].isna().all()


def test_other_common_languages_fill_free_names():
    from att_report.normalise.countries import resolve_country

    assert resolve_country("Deutschland") == "DEU"
    assert resolve_country("Alemanha") == "DEU"
    assert resolve_country("ドイツ") == "DEU"
    assert resolve_country("NA") == "NAM"  # codes still outrank any name
