"""Whitespace and digits: what agencies' keyboards and copy-paste leave behind."""

from __future__ import annotations

import sys
import unicodedata

import pandas as pd

# control characters that xlsx cannot hold (tab, CR and LF can be kept)
CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f]"
# zero-width and BOM characters that survive strip()
_INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff]"
# every space-like character, incl. no-break and thin spaces
_SPACES = r"[\s\u00a0\u2007\u202f]+"


def clean_text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Trim leading/trailing (incl. non-breaking) spaces, drop zero-width ones.

    Returns (cleaned, changed): blank text becomes NA; `changed` marks
    non-blank values that the cleaning altered (worth a note on key fields).
    """
    text = series.astype("string")
    cleaned = text.str.replace(_INVISIBLE, "", regex=True).str.replace(CONTROL, "", regex=True).str.replace(f"^{_SPACES}|{_SPACES}$", "", regex=True)
    cleaned = cleaned.mask(cleaned == "", pd.NA)
    changed = (cleaned != text).fillna(False) & cleaned.notna()
    return cleaned, changed.astype(bool)


def _digit_table() -> dict[int, str]:
    """Every Unicode decimal digit (full-width, Arabic-Indic, Devanagari...) -> ASCII."""
    table = {}
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if ch.isdecimal() and not ("0" <= ch <= "9"):
            table[cp] = str(unicodedata.decimal(ch))
    return table


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
