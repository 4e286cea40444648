"""Identifiers (licence numbers, record ids, HS codes) stay text."""

from __future__ import annotations

import pandas as pd


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
    text = licence_no.astype("string").str.upper().str.replace(r"[\s\-_/.\u00a0]+", "", regex=True)
    numeric = text.str.fullmatch(r"\d+").fillna(False)
    stripped = text.str.lstrip("0").mask(text.str.lstrip("0") == "", "0")
    out = text.where(~numeric, stripped)
    return out.mask(out == "", pd.NA)
