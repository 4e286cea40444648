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


def _chunks(text: pd.Series) -> list:
    """The series' values as pyarrow string/large_string arrays, without copying arrow-backed data."""
    import pyarrow as pa

    data = getattr(text.array, "_pa_array", None)  # ArrowStringArray: its chunks, zero-copy
    if data is None:
        data = pa.array(text.array)
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    return [c if pa.types.is_string(c.type) or pa.types.is_large_string(c.type) else c.cast(pa.large_string())
            for c in chunks]


# bytes that may start a space-like character: ASCII ones (<= 0x20, and DEL to be safe) and
# the lead bytes of every non-ASCII Unicode space (U+0085, U+00A0: C2; U+1680: E1;
# U+2000-U+205F: E2; U+3000: E3)
_SPACE_LEAD = np.zeros(256, dtype=bool)
_SPACE_LEAD[:0x21] = True
_SPACE_LEAD[[0x7F, 0xC2, 0xE1, 0xE2, 0xE3]] = True


def _scan_chunk(chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(suspect, control, empty) for one arrow string array, from its UTF-8 bytes.

    suspect: the value may change under the cleaning regexes (a superset:
    see _scan); control: it holds a CONTROL character (exact: bytes below
    0x80 are ASCII characters in UTF-8); empty: it is "".
    """
    import pyarrow as pa

    n = len(chunk)
    valid = (None if chunk.null_count == 0
             else np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
    buffers = chunk.buffers()
    off_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=off_type)[chunk.offset:chunk.offset + n + 1]
    base = int(offsets[0]) if n else 0
    top = int(offsets[-1]) if n else 0
    data = (np.frombuffer(buffers[2], dtype=np.uint8)[base:top] if buffers[2] is not None and top > base
            else np.empty(0, dtype=np.uint8))
    if base:
        offsets = offsets - base
    starts, ends = offsets[:-1], offsets[1:]
    has = ends > starts
    empty = ~has if valid is None else valid & ~has
    suspect = np.zeros(n, dtype=bool)
    control = np.zeros(n, dtype=bool)
    if not len(data):
        return suspect, control, empty
    low, high = int(data.min()), int(data.max())
    if low >= 0x20 and high < 0x7F:
        # printable ASCII only (ids, codes, numbers, most names: two quick reductions instead of
        # five passes over the bytes; benchmark, issue 7): no control or zero-width character, and
        # the only space-like character is " ", at an end when the first or last byte is one
        if low > 0x20:
            return suspect, control, empty
        suspect = (data[np.minimum(starts, len(data) - 1)] == 0x20) | (data[np.maximum(ends - 1, 0)] == 0x20)
        suspect &= has
        if valid is not None:
            suspect &= valid
        return suspect, control, empty
    # ends: a space-like character first or last. The first byte tells for the
    # first character; for the last, an ASCII last byte tells, and a multibyte
    # last character is found from the byte two or three places before the end.
    last_at = np.maximum(ends - 1, 0)
    first = data[np.minimum(starts, len(data) - 1)]
    last = data[last_at]
    edge = _SPACE_LEAD[first] | (last <= 0x20) | (last == 0x7F)
    multibyte = np.flatnonzero(has & (last >= 0x80))
    if len(multibyte):
        e = ends[multibyte]
        back2 = data[np.maximum(e - 2, 0)]
        back3 = data[np.maximum(e - 3, 0)]
        edge[multibyte] |= (back2 == 0xC2) | ((back3 >= 0xE1) & (back3 <= 0xE3))
    suspect = edge & has
    # inside: control bytes, and the lead bytes of zero-width characters
    # (U+200B-U+200D, U+2060: E2 80/81 ..; U+FEFF: EF BB BF)
    pos = np.flatnonzero((data < 0x20) | (data == 0xE2) | (data == 0xEF))
    if len(pos):
        b = data[pos]
        nxt = data[np.minimum(pos + 1, len(data) - 1)]
        is_control = (b < 0x20) & (b != 0x09) & (b != 0x0A) & (b != 0x0D)
        zero_width = ((b == 0xE2) & ((nxt == 0x80) | (nxt == 0x81))) | ((b == 0xEF) & (nxt == 0xBB))
        rows = np.searchsorted(ends, pos, side="right")  # the value each byte belongs to
        control[rows[is_control]] = True
        suspect[rows[is_control | zero_width]] = True
    if valid is not None:
        suspect &= valid
        control &= valid
    return suspect, control, empty


def _scan(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(suspect, control, empty) masks over an arrow-backed string Series.

    One pass over the UTF-8 bytes instead of regexes over every value
    (benchmark hot spot, issue 7). `suspect` is a superset of the values the
    cleaning regexes can change: Unicode whitespace at either end (tested
    against every code point), a zero-width or a control character.
    """
    parts = [_scan_chunk(c) for c in _chunks(text)]
    if not parts:
        return (np.zeros(0, dtype=bool),) * 3
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def _clean_values(u: pd.Series) -> pd.Series:
    """The cleaning regexes (the definition of clean_text), for a few values."""
    return (u.str.replace(_INVISIBLE, "", regex=True).str.replace(CONTROL, "", regex=True)
            .str.replace(f"^{_SPACES}|{_SPACES}$", "", regex=True))


def clean_text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Trim leading/trailing (incl. non-breaking) spaces, drop zero-width ones.

    Returns (cleaned, changed): blank text becomes NA; `changed` marks
    non-blank values that the cleaning altered (worth a note on key fields).
    """
    cleaned, changed, _ = scan_text(series)
    return cleaned, changed


def scan_text(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """clean_text, plus whether each value held a CONTROL character (before cleaning).

    Returns (cleaned, changed, control). Only the values that may change go
    through the regexes, once per distinct value; a column with nothing to
    clean is returned as it is (no copy).
    """
    text = series.astype("string")
    suspect, control, empty = _scan(text)
    changed = np.zeros(len(text), dtype=bool)
    cleaned = text
    if suspect.any():
        codes, uniques = pd.factorize(text[suspect])
        u = pd.Series(uniques, dtype="string")
        fixed = _clean_values(u)
        fixed_codes = fixed.array.take(codes)
        changed[suspect] = ((fixed != u) & (fixed != "")).to_numpy(dtype=bool, na_value=False)[codes]
        empty = empty.copy()
        empty[suspect] = (fixed == "").to_numpy(dtype=bool, na_value=False)[codes]
        cleaned = text.copy()
        cleaned[suspect] = fixed_codes
    if empty.any():
        cleaned = cleaned.mask(empty, pd.NA)
    return (cleaned, pd.Series(changed, index=series.index, name=series.name),
            # "boolean", as str.contains(na=False) gives on arrow strings
            pd.Series(pd.arrays.BooleanArray(control, np.zeros(len(control), dtype=bool)),
                      index=series.index, name=series.name))


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


def _non_ascii(text: pd.Series) -> pd.Series:
    """text.str.contains(r"[^\\x00-\\x7f]", na=False), by pyarrow's is-ASCII check (no regex per value)."""
    import pyarrow.compute as pc

    arr = getattr(text.array, "_pa_array", None)
    if arr is None:
        return text.str.contains(r"[^\x00-\x7f]", regex=True, na=False)
    ascii_ = pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False)
    return pd.Series(~np.asarray(ascii_, dtype=bool), index=text.index)


def ascii_digits(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Map non-ASCII digits and full-width punctuation to ASCII (NFKC + digit table).

    NFKC maps full-width digits (CJK input) but not Arabic-Indic ones, so a
    digit table covers the rest. Returns (text, changed).
    """
    global _DIGITS
    text = series.astype("string")
    non_ascii = _non_ascii(text)
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
