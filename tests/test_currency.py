import numpy as np
import pandas as pd
import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from att_report.normalise.currency import currency_name, resolve_currencies, resolve_currency


def one(text):
    return resolve_currencies(pd.Series([text], dtype=object)).iloc[0]


@pytest.mark.parametrize("text, code", [
    ("usd", "USD"), (" EUR ", "EUR"), ("€", "EUR"), ("£", "GBP"), ("US$", "USD"), ("US $", "USD"),
    ("US dollar", "USD"), ("dollars US", "USD"), ("US Dollar", "USD"), ("euro", "EUR"), ("Euros", "EUR"),
    ("Pound Sterling", "GBP"), ("dollar des États-Unis", "USD"), ("dólar estadounidense", "USD"),
    ("доллар США", "USD"), ("美元", "USD"), ("دولار أمريكي", "USD"), ("EUR €", "EUR"), ("$ USD", "USD"),
    ("RMB", "CNY"), ("Swiss franc", "CHF"), ("CHF", "CHF"), ("Canadian dollar", "CAD"), ("A$", "AUD"),
    ("nzd", "NZD"), ("Rand", "ZAR"),
])
def test_resolves(text, code):
    row = one(text)
    assert (row["code"], row["status"]) == (code, "ok")
    assert resolve_currency(text) == code


@pytest.mark.parametrize("text", ["$", "¥", "kr", "dollars", "Dollar", "dólares", "pounds", "francs", "pesos"])
def test_ambiguous(text):
    row = one(text)
    assert row["status"] == "ambiguous" and row["code"] is pd.NA and "ISO 4217" in row["hint"]


@pytest.mark.parametrize("text, in_hint", [("ABC", "not an ISO 4217"), ("XXX", "not an ISO 4217"),
                                           ("Euroo", "EUR"), ("zorkmids", "not a currency")])
def test_unknown(text, in_hint):
    row = one(text)
    assert row["status"] == "unknown" and row["code"] is pd.NA and in_hint in row["hint"]


@pytest.mark.parametrize("text", ["", "   ", None, np.nan])
def test_blank(text):
    row = one(text)
    assert row["status"] == "blank" and row["code"] is pd.NA


def test_every_iso_code_and_name():
    skip = {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
    for c in pycountry.currencies:
        if c.alpha_3 in skip:
            continue
        assert resolve_currency(c.alpha_3.lower()) == c.alpha_3
    assert currency_name("EUR") == "Euro"


def test_many_rows_keep_index():
    values = pd.Series(np.random.default_rng(2).choice(np.array(["usd", "$", None, "€", "EUR"], dtype=object), 50_000),
                       index=np.arange(50_000)[::-1])
    out = resolve_currencies(values)
    assert out.index.equals(values.index)
    assert (out["code"][values == "€"] == "EUR").all()
    assert (out["status"][values == "$"] == "ambiguous").all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["usd", "€", "$", "Euro", "", "GBP"]), st.text(max_size=6), st.none()),
                max_size=20))
def test_property_idempotent(values):
    series = pd.Series(values, dtype=object)
    out = resolve_currencies(series)
    assert out.index.equals(series.index)
    assert set(out["status"]) <= {"ok", "blank", "unknown", "ambiguous"}
    resolved = out["code"].dropna()
    assert resolve_currencies(resolved)["code"].equals(resolved)
    assert resolved.str.fullmatch(r"[A-Z]{3}").all()
