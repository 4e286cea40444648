"""Numbers written by people: thousands separators, decimal commas, text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from att_report.normalise.text import ascii_digits
from att_report.normalise.unique import per_unique

# statuses
OK, BLANK, INVALID = "ok", "blank", "invalid"

_GROUPED = {
    ".": r"^[+-]?\d{1,3}(?:[,\u00a0\u202f' ]\d{3})+(?:\.\d+)?$",
    ",": r"^[+-]?\d{1,3}(?:[.\u00a0\u202f' ]\d{3})+(?:,\d+)?$",
}
_PLAIN = {".": r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$", ",": r"^[+-]?(?:\d+,?\d*|,\d+)$"}


# short plain decimals: at most 15 digits, so pandas' parser (digits times or over an exact
# power of ten) and pyarrow's (correctly rounded) give the same double
_SHORT = r"^-?(?:\d+\.?\d*|\.\d+)$"


def _to_float(text: pd.Series) -> pd.Series:
    """pd.to_numeric(text, errors="coerce") as Float64, short decimals by pyarrow's parser.

    to_numeric goes through Python objects (0.5-0.7 s at 1M values;
    benchmark, issue 7). It keeps the values that are not short decimals
    (exponents, "+", 16+ characters such as the 17-digit floats a workbook
    stores) and the whole column when a negative zero or a long integer
    (whose int64/uint64 handling depends on the other values) is present.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = getattr(text.array, "_pa_array", None)
    if arr is None or not len(text) or arr.null_count == len(arr):
        return pd.to_numeric(text, errors="coerce").astype("Float64")
    short = pc.fill_null(pc.and_(pc.match_substring_regex(arr, _SHORT), pc.less_equal(pc.utf8_length(arr), 15)),
                         False)
    parsed = pc.cast(pc.if_else(short, arr, pa.scalar(None, arr.type)), pa.float64())
    if pc.any(pc.and_(pc.equal(parsed, 0.0), pc.starts_with(arr, "-"))).as_py():
        return pd.to_numeric(text, errors="coerce").astype("Float64")
    values = np.asarray(pc.fill_null(parsed, 0.0).to_numpy(zero_copy_only=False), dtype="float64").copy()
    missing = np.asarray(parsed.is_null().to_numpy(zero_copy_only=False), dtype=bool).copy()
    rest = ~np.asarray(short.to_numpy(zero_copy_only=False), dtype=bool) & text.notna().to_numpy(dtype=bool)
    if rest.any():
        other = text[rest]
        if other.str.fullmatch(r"[+-]?\d{16,}", na=False).any():
            return pd.to_numeric(text, errors="coerce").astype("Float64")
        number = pd.to_numeric(other, errors="coerce").astype("Float64")
        values[rest] = number.fillna(0.0).to_numpy(dtype="float64")
        missing[rest] = number.isna().to_numpy(dtype=bool)
    return pd.Series(pd.arrays.FloatingArray(values, missing), index=text.index, name=text.name)


def parse_numbers(series: pd.Series, decimal: str = ".") -> pd.DataFrame:
    """Parse numbers as text (see _parse_numbers), once per distinct value."""
    return per_unique(series.astype("string"), lambda s: _parse_numbers(s, decimal))


def _parse_numbers(series: pd.Series, decimal: str = ".") -> pd.DataFrame:
    """Parse numbers as text. Returns columns number (Float64), status (categorical), digits_changed.

    `1,000.5` and `1 000,5` (with decimal ",") are understood; a lone comma in
    `1,5` when the decimal mark is "." is invalid (ambiguous), never a guess.
    Full-width and other non-ASCII digits are mapped, with a flag for a note.
    A number in parentheses (accounting negative) is read as negative.
    """
    decimal = decimal or "."
    text, digits_changed = ascii_digits(series)
    text = text.str.strip()
    blank = text.isna() | (text == "")
    plain = text.str.fullmatch(_PLAIN[decimal], na=False)
    body = text
    grouped = pd.Series(False, index=text.index)
    rest = ~plain & ~blank  # most numbers are plain: the other patterns only for the rest
    if rest.any():
        other = text[rest]
        negative_paren = other.str.fullmatch(r"\(\s*[\d.,'\u00a0\u202f ]+\s*\)", na=False)
        other = other.where(~negative_paren, "-" + other.str.strip("() "))
        body = text.copy()
        body[rest] = other
        # the patterns run on the rest only (plain was False there), not on every value again
        plain = plain.copy()
        at_rest = rest.to_numpy(dtype=bool)
        plain[at_rest] = other.str.fullmatch(_PLAIN[decimal], na=False).to_numpy(dtype=bool)
        grouped[rest] = other.str.fullmatch(_GROUPED[decimal], na=False)
    sep = "," if decimal == "." else "."
    cleaned = body
    if grouped.any():
        cleaned = body.copy()
        cleaned[grouped] = body[grouped].str.replace(f"[{sep}\u00a0\u202f' ]", "", regex=True)
    if decimal == ",":
        cleaned = cleaned.str.replace(",", ".", regex=False)
    good = plain | grouped
    number = _to_float(cleaned.where(good))
    finite = number.notna() & np.isfinite(number.fillna(0).astype(float))
    # blank, else ok when finite, else invalid: one take from the three words
    which = np.where(blank.to_numpy(dtype=bool), 2, np.where(finite.to_numpy(dtype=bool), 0, 1))
    # categorical: a million statuses are small codes, spread and compared cheaply
    status = pd.Series(pd.Categorical.from_codes(which, categories=pd.Index([OK, INVALID, BLANK], dtype="string")),
                       index=series.index)
    number = number.where(finite)
    return pd.DataFrame({"number": number, "status": status, "digits_changed": digits_changed & ~blank})
