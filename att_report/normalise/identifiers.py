"""Identifiers (licence numbers, record ids, HS codes) stay text."""

from __future__ import annotations

import re

import pandas as pd

_SEPARATORS = r"[\s\-_/.\u00a0]+"
# the same class over ASCII, spelled out (Python's \s includes \x1c-\x1f): pyarrow's RE2 runs it
# on ASCII values instead of Python's re on every value (benchmark, issue 7)
_ASCII_SEPARATORS = "[" + "".join(f"\\x{c:02x}" for c in range(128) if re.fullmatch(_SEPARATORS, chr(c))) + "]+"


def licence_key(licence_no: pd.Series) -> pd.Series:
    """Normalise licence numbers for linking (see _licence_key), once per distinct value."""
    from att_report.normalise.unique import per_unique

    return per_unique(licence_no.astype("string"), _licence_key)


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
