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


def parse_numbers(series: pd.Series, decimal: str = ".") -> pd.DataFrame:
    """Parse numbers as text (see _parse_numbers), once per distinct value."""
    return per_unique(series.astype("string"), lambda s: _parse_numbers(s, decimal))


def _parse_numbers(series: pd.Series, decimal: str = ".") -> pd.DataFrame:
    """Parse numbers as text. Returns columns number (Float64), status, digits_changed.

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
        plain = plain | body.str.fullmatch(_PLAIN[decimal], na=False) & rest
        grouped[rest] = other.str.fullmatch(_GROUPED[decimal], na=False)
    sep = "," if decimal == "." else "."
    cleaned = body.where(~grouped, body.str.replace(f"[{sep}\u00a0\u202f' ]", "", regex=True))
    if decimal == ",":
        cleaned = cleaned.str.replace(",", ".", regex=False)
    good = plain | grouped
    number = pd.to_numeric(cleaned.where(good), errors="coerce").astype("Float64")
    finite = number.notna() & np.isfinite(number.fillna(0).astype(float))
    status = pd.Series(INVALID, index=series.index, dtype="string")
    status = status.mask(finite, OK).mask(blank, BLANK)
    number = number.where(finite)
    return pd.DataFrame({"number": number, "status": status, "digits_changed": digits_changed & ~blank})
