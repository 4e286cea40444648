"""The integer-code paths of compile/lines.py against plain reference implementations.

build_lines, _combine_text and compress_sources work on factorised codes and
Arrow for speed at a million rows; these tests check them, on shuffled rows
(row_uid out of order), blanks and NA, against the obvious Python versions.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from att_report.compile import lines as L

AGENCIES = ["Customs", "Defence", ""]
FILES = ["b.xlsx", "a.csv", "=c.xlsx"]


def _rows(n: int, seed: int, *, shuffle: bool = True) -> pd.DataFrame:
    rnd = random.Random(seed)
    uid = list(range(n))
    if shuffle:
        rnd.shuffle(uid)
    texts = ["rifle", "", None, "pistol; spare", "Rifle", " x "]
    frame = pd.DataFrame({
        "row_uid": np.array(uid, dtype="int64"),
        "line_id": pd.array([f"EXP-ACT-{rnd.randrange(12):04d}" for _ in range(n)], dtype="string"),
        "src_agency": pd.array([rnd.choice(AGENCIES) for _ in range(n)], dtype="string"),
        "src_file": pd.array([rnd.choice(FILES) for _ in range(n)], dtype="string"),
        "src_sheet": pd.array([rnd.choice(["S1", "", None]) for _ in range(n)], dtype="string"),
        "src_row": pd.array([rnd.choice([None, *range(2, 40)]) for _ in range(n)], dtype="Int64"),
        "description": pd.array([rnd.choice(texts) for _ in range(n)], dtype="string"),
        "also_from": pd.array([rnd.choice(["", None, "Defence:d.csv:7", "Customs:x.xlsx:3;bad item"])
                               for _ in range(n)], dtype="string"),
    }, index=pd.Index(rnd.sample(range(10 * n), n)))
    return frame


def _reference_combine(rows: pd.DataFrame, group: pd.Series, column: str) -> dict[int, str]:
    seen: dict[int, list[str]] = {}
    for _, g, text in sorted(zip(rows["row_uid"], group, rows[column])):
        if text is None or text is pd.NA or text == "":
            continue
        if text not in seen.setdefault(int(g), []):
            seen[int(g)].append(text)
    return {g: "; ".join(t) for g, t in seen.items() if t}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("shuffle", [True, False])
def test_combine_text_matches_reference(seed, shuffle):
    rows = _rows(400, seed, shuffle=shuffle)
    group = pd.Series(np.random.default_rng(seed).integers(0, 30, len(rows)), index=rows.index)
    got = L._combine_text(rows, group, "description")
    assert {int(k): v for k, v in got.items()} == _reference_combine(rows, group, "description")
    assert str(got.dtype) == "string"


def test_combined_ids_match_groupby_ngroup():
    rows = _rows(500, 4)
    keys = ["line_id", "src_agency", "src_file", "src_sheet"]
    frame = rows[keys].fillna("")
    expected = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    codes = [pd.factorize(frame[key].array, use_na_sentinel=False)[0] for key in keys]
    np.testing.assert_array_equal(L._combined_ids(codes), expected)


def _t(value) -> str:
    return "" if value is None or value is pd.NA else value


def _reference_sources(rows: pd.DataFrame) -> pd.DataFrame:
    items = []
    for r in rows.itertuples(index=False):
        items.append((r.line_id, _t(r.src_agency), _t(r.src_file), _t(r.src_sheet),
                      -1 if r.src_row is pd.NA else int(r.src_row)))
    extra = L._also_from(rows)
    for r in extra.itertuples(index=False):
        items.append((r.line_id, r.agency, r.file, r.sheet, -1 if r.row is pd.NA else int(r.row)))
    items = sorted(set(items))
    out = []
    by_key: dict[tuple, list[int]] = {}
    for *key, row in items:
        by_key.setdefault(tuple(key), []).append(row)
    for key, numbers in by_key.items():
        runs = []
        for n in numbers:
            if runs and n == runs[-1][1] + 1 and n >= 0 and runs[-1][1] >= 0:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        for start in range(0, len(runs), L.RUNS_PER_CELL):
            part = runs[start:start + L.RUNS_PER_CELL]
            text = ", ".join("?" if lo < 0 else (str(lo) if lo == hi else f"{lo}-{hi}") for lo, hi in part)
            out.append((*key, text, sum(hi - lo + 1 for lo, hi in part)))
    frame = pd.DataFrame(out, columns=["line_id", "agency", "file", "sheet", "rows", "count"])
    return frame.astype({c: "string" for c in ("line_id", "agency", "file", "sheet", "rows")})


@pytest.mark.parametrize("seed", [5, 6])
@pytest.mark.parametrize("two_keys", [False, True])
def test_compress_sources_matches_reference(seed, two_keys, monkeypatch):
    if two_keys:  # the fallback when the combined key would not fit an int64
        monkeypatch.setattr(L, "_KEY_LIMIT", 0.0)
    rows = _rows(3000, seed)
    got = L.compress_sources(rows)
    pd.testing.assert_frame_equal(got, _reference_sources(rows))


def test_compress_sources_splits_long_cells(monkeypatch):
    monkeypatch.setattr(L, "RUNS_PER_CELL", 3)
    rows = _rows(200, 7)
    got = L.compress_sources(rows)
    assert got["rows"].str.count(", ").max() == 2
    pd.testing.assert_frame_equal(got, _reference_sources(rows))
