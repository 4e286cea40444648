"""Dates as agencies write them.

Accepted: real Excel dates (read as ISO text), Excel serial numbers (1900
system, with Excel's phantom 29 Feb 1900 refused), ISO text, and day/month
text in the agency's configured order (DMY, MDY, YMD). Month names (English,
French, Spanish) make a date unambiguous. With no configured order a date
like 03/04/2024 is ambiguous: an error, never a guess. Impossible dates
(2024-02-30) are errors.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import pandas as pd

from att_report.normalise.text import ascii_digits
from att_report.normalise.unique import per_unique

OK, BLANK, INVALID, AMBIGUOUS = "ok", "blank", "invalid", "ambiguous"
#: the days a date column (datetime64[ns]) can hold: 1677-09-22 to 2262-04-11
FIRST_DAY, LAST_DAY = pd.Timestamp.min.ceil("D").date(), pd.Timestamp.max.floor("D").date()

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MIN_SERIAL, _MAX_SERIAL = 1, 2_958_465  # 1900-01-01 .. 9999-12-31

_MONTHS = {}
for _i, _names in enumerate([
    "jan january janv janvier ene enero",
    "feb february fev fevr fevrier févr février febrero",
    "mar march mars marzo",
    "apr april avr avril abr abril",
    "may mai mayo",
    "jun june juin junio",
    "jul july juil juillet julio",
    "aug august aout août ago agosto",
    "sep sept september septembre septiembre setiembre",
    "oct october octobre octubre",
    "nov november novembre noviembre",
    "dec december dec décembre decembre dic diciembre",
], start=1):
    for _n in _names.split():
        _MONTHS[_n] = _i

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_NUMERIC = re.compile(r"^(\d{1,4})[./\-\s](\d{1,2})[./\-\s](\d{1,4})$")
_SERIAL = re.compile(r"^\d{1,7}(?:\.\d+)?$")
_WORDY = re.compile(r"^(\d{1,2})?[\s\-./]*([^\W\d_]+)\.?[\s\-./,]*(\d{1,2})?(?:st|nd|rd|th)?[\s\-./,]*(\d{4})$")


def _make(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


@lru_cache(maxsize=200_000)
def parse_date_text(text: str, order: str | None) -> tuple[dt.date | None, str, str]:
    """One date text -> (date, status, detail). Cached: dates repeat a lot."""
    s = text.strip()
    m = _ISO.match(s)
    if m:
        d = _make(int(m[1]), int(m[2]), int(m[3]))
        return (d, OK, "") if d else (None, INVALID, "no such day in the calendar")
    if _SERIAL.match(s):
        serial = float(s)
        whole = int(serial)
        if whole == 60:
            return None, INVALID, "Excel serial 60 is 29 Feb 1900, a day that did not exist"
        if not _MIN_SERIAL <= whole <= _MAX_SERIAL:
            return None, INVALID, "not a date"
        if whole < 60:  # Excel counts the phantom 29 Feb 1900
            whole += 1
        return _EXCEL_EPOCH + dt.timedelta(days=whole), OK, "serial"
    m = _NUMERIC.match(s)
    if m:
        a, b, c = m[1], m[2], m[3]
        if len(a) == 4:  # year first: Y-M-D whatever the configured order
            d = _make(int(a), int(b), int(c))
            return (d, OK, "") if d else (None, INVALID, "no such day in the calendar")
        if len(c) != 4:
            return None, AMBIGUOUS, "two-digit year; write the year with four digits"
        x, y, year = int(a), int(b), int(c)
        dmy, mdy = _make(year, y, x), _make(year, x, y)
        if order == "DMY":
            return (dmy, OK, "") if dmy else (None, INVALID, _why(mdy, "day-first (DMY)"))
        if order == "MDY":
            return (mdy, OK, "") if mdy else (None, INVALID, _why(dmy, "month-first (MDY)"))
        if dmy and mdy and dmy != mdy:
            return None, AMBIGUOUS, "day and month could be swapped; write it as YYYY-MM-DD or set date_order"
        d = dmy or mdy
        return (d, OK, "") if d else (None, INVALID, "no such day in the calendar")
    m = _WORDY.match(s.casefold())
    if m:
        month = _MONTHS.get(m[2].strip("."))
        day = m[1] or m[3]
        if month and day:
            d = _make(int(m[4]), month, int(day))
            return (d, OK, "") if d else (None, INVALID, "no such day in the calendar")
    return None, INVALID, "not a date we can read; write it as YYYY-MM-DD"


def _within_range(parsed: tuple) -> tuple:
    """A parsed date the date columns cannot hold (before 1677 or after 2262) is no date for a report."""
    date = parsed[0]
    if date is not None and not FIRST_DAY <= date <= LAST_DAY:
        return None, INVALID, f"the year {date.year} cannot be right for a transfer; check the date"
    return parsed


def _why(other: dt.date | None, order: str) -> str:
    if other:
        return f"impossible as {order}; it would be valid with day and month swapped: check date_order"
    return "no such day in the calendar"


def parse_dates(series: pd.Series, order: str | None = None) -> pd.DataFrame:
    """Parse a Series of date texts. Returns columns date (datetime64[ns]), status, detail (categoricals)."""
    return per_unique(series.astype("string"), lambda s: _parse_dates(s, order))


def _parse_dates(series: pd.Series, order: str | None = None) -> pd.DataFrame:
    """Parse a Series of date texts. Returns columns date (datetime64[ns]), status, detail (categoricals).

    ISO text (what the reader makes of real Excel dates) goes through a fast
    vectorised path; the rest is parsed once per distinct value.
    """
    text, _ = ascii_digits(series)
    text = text.str.strip()
    blank = text.isna() | (text == "")
    out = pd.DataFrame(index=series.index)
    iso_like = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}(?: 00:00:00)?", na=False)
    # a year outside what a date column holds (e.g. 9999-12-31, "no end") takes the slow path, which says so
    year = pd.to_numeric(text.where(iso_like).str.slice(0, 4), errors="coerce")
    iso_like &= year.between(FIRST_DAY.year + 1, LAST_DAY.year - 1).fillna(False).astype(bool)
    fast = pd.to_datetime(text.where(iso_like).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    date = fast.astype("datetime64[ns]")
    status = pd.Series(pd.NA, index=series.index, dtype="string")
    detail = pd.Series("", index=series.index, dtype="string")
    status[fast.notna()] = OK
    rest = ~blank & fast.isna()
    if rest.any():
        uniques = text[rest].unique()
        parsed = {u: _within_range(parse_date_text(u, order)) for u in uniques}
        sub = text[rest]
        date.loc[rest] = pd.to_datetime(sub.map(lambda u: parsed[u][0]), errors="coerce").astype("datetime64[ns]")
        status.loc[rest] = sub.map(lambda u: parsed[u][1]).astype("string")
        detail.loc[rest] = sub.map(lambda u: parsed[u][2]).astype("string")
    status[blank] = BLANK
    out["date"] = date
    # categoricals: per distinct value here, then spread to every row as small codes
    out["status"] = status.astype("category")
    out["detail"] = detail.astype("category")
    return out
