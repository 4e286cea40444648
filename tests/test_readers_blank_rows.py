"""readers._rows_with_text: rows with a non-blank cell, the same as one full pass per column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from att_report.intake.readers import _rows_with_text

CELLS = [None, "", " ", "\u00a0", "\t\n", "x", " y ", "0", "\u3000", "日本", "\u200b"]


def _reference(body: pd.DataFrame) -> np.ndarray:
    keep = np.zeros(len(body), dtype=bool)
    for i in range(body.shape[1]):
        keep |= body.iloc[:, i].astype("string").str.strip().fillna("").ne("").to_numpy(dtype=bool)
    return keep


@pytest.mark.parametrize("seed", range(8))
def test_same_rows_as_a_full_pass_per_column(seed):
    rng = np.random.default_rng(seed)
    n, width = int(rng.integers(0, 400)), int(rng.integers(1, 6))
    blank_share = rng.uniform(0.3, 1.0)  # from mostly filled to all blank
    columns = {}
    for c in range(width):
        blank = rng.random(n) < blank_share
        picks = rng.integers(0, len(CELLS), n)
        columns[f"c{c}"] = pd.array([None if b and i % 2 else (" " if b else CELLS[p])
                                     for i, (b, p) in enumerate(zip(blank, picks))], dtype="string")
    body = pd.DataFrame(columns)
    assert np.array_equal(_rows_with_text(body), _reference(body))


def test_no_rows_and_all_blank():
    assert _rows_with_text(pd.DataFrame({"a": pd.array([], dtype="string")})).tolist() == []
    body = pd.DataFrame({"a": pd.array([None, " "], dtype="string"), "b": pd.array(["", "\u00a0"], dtype="string")})
    assert _rows_with_text(body).tolist() == [False, False]
    body = pd.DataFrame({"a": pd.array([None, " "], dtype="string"), "b": pd.array(["", "z"], dtype="string")})
    assert _rows_with_text(body).tolist() == [False, True]
