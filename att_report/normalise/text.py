"""Whitespace and digits: what agencies' keyboards and copy-paste leave behind."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

# control characters that xlsx cannot hold (tab, CR and LF can be kept)
CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f]"
# zero-width and BOM characters that survive strip()
_INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff]"
# every space-like character, incl. no-break and thin spaces
_SPACES = r"[\s\u00a0\u2007\u202f]+"


def _needs_cleaning(text: pd.Series) -> np.ndarray:
    """Values the cleaning may change: Unicode whitespace at either end, a zero-width or control character.

    One pass of pyarrow kernels instead of three regex replaces over every
    value (benchmark hot spot, issue 7). Unicode White_Space is a superset of
    _SPACES, so no value the regexes would change is missed.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text.array)  # zero-copy for arrow-backed strings
    trimmed = pc.utf8_trim_whitespace(arr)
    suspect = pc.or_(pc.not_equal(pc.utf8_length(trimmed), pc.utf8_length(arr)),
                     pc.match_substring_regex(arr, _INVISIBLE[:-1] + CONTROL[1:]))
    return np.asarray(pc.fill_null(suspect, False).to_numpy(zero_copy_only=False), dtype=bool)


def clean_text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Trim leading/trailing (incl. non-breaking) spaces, drop zero-width ones.

    Returns (cleaned, changed): blank text becomes NA; `changed` marks
    non-blank values that the cleaning altered (worth a note on key fields).
    Only the values that may change go through the regexes, once per
    distinct value.
    """
    text = series.astype("string")
    cleaned = text.copy()
    suspect = _needs_cleaning(text)
    if suspect.any():
        codes, uniques = pd.factorize(text[suspect])
        u = pd.Series(uniques, dtype="string")
        fixed = (u.str.replace(_INVISIBLE, "", regex=True).str.replace(CONTROL, "", regex=True)
                 .str.replace(f"^{_SPACES}|{_SPACES}$", "", regex=True))
        cleaned[suspect] = fixed.array.take(codes, allow_fill=True)
    cleaned = cleaned.mask(cleaned == "", pd.NA)
    changed = (cleaned != text).fillna(False) & cleaned.notna()
    return cleaned, changed.astype(bool)


class _DigitTable(dict):
    """str.translate table: every Unicode decimal digit (full-width, Arabic-Indic, Devanagari...) -> ASCII.

    Filled lazily, per character met: building it for all 1.1M code points
    up front took 2-5 s on the first non-ASCII value (benchmark, issue 7).
    """

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        value = str(unicodedata.decimal(ch)) if ch.isdecimal() and not ("0" <= ch <= "9") else ch
        self[cp] = value
        return value


def _digit_table() -> dict[int, str]:
    return _DigitTable()


_DIGITS: dict[int, str] | None = None


def ascii_digits(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Map non-ASCII digits and full-width punctuation to ASCII (NFKC + digit table).

    NFKC maps full-width digits (CJK input) but not Arabic-Indic ones, so a
    digit table covers the rest. Returns (text, changed).
    """
    global _DIGITS
    text = series.astype("string")
    non_ascii = text.str.contains(r"[^\x00-\x7f]", regex=True, na=False)
    if not non_ascii.any():
        return text, pd.Series(False, index=series.index)
    if _DIGITS is None:
        _DIGITS = _digit_table()
    uniques = text[non_ascii].unique()
    mapping = {u: unicodedata.normalize("NFKC", u).translate(_DIGITS) for u in uniques}
    out = text.copy()
    out[non_ascii] = text[non_ascii].map(mapping)
    changed = (out != text).fillna(False)
    return out, changed.astype(bool)
