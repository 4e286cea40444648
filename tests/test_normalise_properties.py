"""Property tests for the normalisers: idempotent, no row lost, never a guess."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from att_report.normalise.dates import parse_dates
from att_report.normalise.identifiers import licence_key
from att_report.normalise.numbers import parse_numbers
from att_report.normalise.text import clean_text

texts = st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(texts)
def test_clean_text_idempotent_and_keeps_rows(values):
    s = pd.Series(values, dtype="string")
    once, _ = clean_text(s)
    twice, changed = clean_text(once)
    assert len(once) == len(s) and once.index.equals(s.index)
    assert once.equals(twice)
    assert not changed.any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)), min_size=1, max_size=20))
def test_iso_dates_round_trip(dates):
    s = pd.Series([d.isoformat() for d in dates])
    parsed = parse_dates(s)
    assert (parsed["status"] == "ok").all()
    assert [d.date() for d in parsed["date"]] == dates
    again = parse_dates(parsed["date"].dt.strftime("%Y-%m-%d"))
    assert again["date"].equals(parsed["date"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)), min_size=1, max_size=20),
       st.sampled_from(["DMY", "MDY"]))
def test_configured_order_reads_back(dates, order):
    fmt = "%d/%m/%Y" if order == "DMY" else "%m/%d/%Y"
    parsed = parse_dates(pd.Series([d.strftime(fmt) for d in dates]), order)
    assert [d.date() for d in parsed["date"]] == dates


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)), min_size=1, max_size=20))
def test_without_order_swappable_dates_are_never_guessed(dates):
    parsed = parse_dates(pd.Series([d.strftime("%d/%m/%Y") for d in dates]), None)
    for d, status, got in zip(dates, parsed["status"], parsed["date"]):
        if d.day <= 12 and d.day != d.month:
            assert status == "ambiguous"
        else:
            assert status == "ok" and got.date() == d


@settings(max_examples=80, deadline=None)
@given(st.lists(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False), min_size=1, max_size=20))
def test_numbers_with_grouping_parse_exactly(values):
    s = pd.Series([f"{v:,.2f}" for v in values])
    parsed = parse_numbers(s, ".")
    assert (parsed["status"] == "ok").all()
    assert [round(float(x), 2) for x in parsed["number"]] == [float(v) for v in values]
    comma = pd.Series([f"{v:,.2f}".replace(",", " ").replace(".", ",") for v in values])
    assert [round(float(x), 2) for x in parse_numbers(comma, ",")["number"]] == [float(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9 /\-]{0,12}", fullmatch=True)), max_size=30))
def test_licence_key_idempotent(values):
    s = pd.Series(values, dtype="string")
    once = licence_key(s)
    assert len(once) == len(s)
    assert licence_key(once).equals(once)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)), min_size=1, max_size=20),
       st.sampled_from(["%Y-%m-%d", "%Y-%m-%d 00:00:00", "%d/%m/%Y", "%d %B %Y"]))
def test_any_year_is_a_date_or_a_finding_never_an_error(dates, fmt):
    """A date a datetime64[ns] column cannot hold (before 1677-09-22, after 2262-04-11: e.g. 9999-12-31
    for "no end") is invalid with a reason; every other date parses to itself."""
    from att_report.normalise.dates import FIRST_DAY, LAST_DAY

    text = [f"{d.day:02d}/{d.month:02d}/{d.year:04d}" if fmt == "%d/%m/%Y" else
            f"{d.day} {d.strftime('%B')} {d.year:04d}" if fmt == "%d %B %Y" else
            f"{d.year:04d}-{d.month:02d}-{d.day:02d}" + fmt[8:] for d in dates]
    parsed = parse_dates(pd.Series(text, dtype="string"), "DMY")
    held = [FIRST_DAY <= d <= LAST_DAY for d in dates]
    assert parsed["status"].tolist() == ["ok" if h else "invalid" for h in held]
    assert [d.date() for d, h in zip(parsed["date"], held) if h] == [d for d, h in zip(dates, held) if h]
    assert all("cannot be right" in why for why, h in zip(parsed["detail"], held) if not h)
