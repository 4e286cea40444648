"""Identifiers (licence numbers, record ids, HS codes) stay text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SEPARATORS = r"[\s\-_/.\u00a0]+"
# the same class over ASCII, spelled out (Python's \s includes \x1c-\x1f): pyarrow's RE2 runs it
# on ASCII values instead of Python's re on every value (benchmark, issue 7)
_ASCII_SEPARATORS = "[" + "".join(f"\\x{c:02x}" for c in range(128) if re.fullmatch(_SEPARATORS, chr(c))) + "]+"


def licence_key(licence_no: pd.Series) -> pd.Series:
    """Normalise licence numbers for linking (see _licence_key).

    ASCII values straight from their bytes, the others once per distinct value.
    """
    from att_report.normalise.unique import per_unique

    text = licence_no.astype("string")
    fast = _ascii_keys(text)
    return per_unique(text, _licence_key) if fast is None else fast


# bytes kept: all but the ASCII separators _SEPARATORS matches (as _ASCII_SEPARATORS spells them)
_KEEP = np.array([c >= 128 or re.fullmatch(_SEPARATORS, chr(c)) is None for c in range(256)])


def _ascii_keys(text: pd.Series) -> pd.Series | None:
    """_licence_key over arrow text: ASCII values from their UTF-8 bytes, others per distinct value.

    Hashing a million licence numbers to work per distinct value cost more
    than the work (benchmark, issue 7): upper-casing and dropping separators
    are byte maps on ASCII. None: not arrow-backed text.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from att_report.normalise.unique import _arrow_text, per_unique, text_bytes

    arr = _arrow_text(text)
    if arr is None:
        return None
    n = len(arr)
    offsets, data = text_bytes(arr)
    valid = (np.ones(n, dtype=bool) if arr.null_count == 0
             else np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
    non_ascii = ~np.asarray(pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False), dtype=bool)
    keep = _KEEP[data]
    kept = data[keep]
    length = np.diff(offsets)
    at = np.flatnonzero(length > 0)
    new_length = np.zeros(n, dtype=np.int64)
    if len(at):
        # a value's bytes run from its start to the next non-empty value's start
        new_length[at] = np.add.reduceat(keep.view(np.uint8), offsets[:-1][at], dtype=np.int32)
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(new_length, out=new_offsets[1:])
    present = valid & (new_length > 0)  # nothing left: NA
    keys = pc.ascii_upper(pa.LargeStringArray.from_buffers(n, pa.py_buffer(new_offsets), pa.py_buffer(kept),
                                                           pa.array(present).buffers()[1]))
    # a purely numeric number loses its leading zeros ("0" stays)
    numeric = (present & ~non_ascii
               & np.asarray(pc.fill_null(pc.ascii_is_decimal(keys), False).to_numpy(zero_copy_only=False), dtype=bool))
    if numeric.any():
        mask = pa.array(numeric)
        stripped = pc.utf8_ltrim(keys.filter(mask), "0")
        stripped = pc.if_else(pc.equal(stripped, ""), pa.scalar("0", pa.large_string()), stripped)
        keys = pc.replace_with_mask(keys, mask, stripped)
    out = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([keys], type=pa.large_string())), index=text.index)
    other = non_ascii & valid
    if other.any():
        rows = np.flatnonzero(other)
        slow = per_unique(text.iloc[rows], _licence_key)
        out.iloc[rows] = slow.to_numpy(dtype=object, na_value=None)
    return out


def _licence_key(licence_no: pd.Series) -> pd.Series:
    """Normalise licence numbers for linking shipments to licences.

    Case, spaces, dashes, slashes and dots do not matter; a purely numeric
    number loses its leading zeros (Excel often dropped them already), so
    `EL-2024/0012`, `el 2024 0012` match, and `00140915` matches `140915`.
    """
    text = _drop_separators(licence_no.astype("string").str.upper())
    numeric = text.str.fullmatch(r"\d+").fillna(False)
    stripped = text.str.lstrip("0").mask(text.str.lstrip("0") == "", "0")
    out = text.where(~numeric, stripped)
    return out.mask(out == "", pd.NA)


def _drop_separators(text: pd.Series) -> pd.Series:
    """text.str.replace(_SEPARATORS, ""): pyarrow on ASCII values, Python's re on the others."""
    import pyarrow.compute as pc

    arr = getattr(text.array, "_pa_array", None)
    if arr is None:
        return text.str.replace(_SEPARATORS, "", regex=True)
    ascii_ = pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False)
    out = pd.Series(pd.arrays.ArrowStringArray(pc.replace_substring_regex(arr, _ASCII_SEPARATORS, "")),
                    index=text.index, name=text.name)
    if not ascii_.all():
        other = ~ascii_
        out[other] = text[other].str.replace(_SEPARATORS, "", regex=True)
    return out
