"""`manifest.json`: what went in, what came out, and where every row went.

The row accounting ("nothing lost"): every row read has exactly one
disposition; per input file the dispositions add up to the rows read, and
the rows read match what the readers reported. If not, that is a bug in the
tool, never the user's data: `AccountingError` stops the build (exit 2).
The manifest holds no timestamps, so rebuilding gives the same file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from att_report import __version__
from att_report.records import AccountingError
from att_report.schema import DISPOSITIONS

TOOL_NAME = "att-report"


def accounting_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per input file: agency, path, rows_read and the count per disposition (all present, sorted).

    Rows whose disposition is not one of DISPOSITIONS are counted in
    rows_read only, so `check_accounting` notices them.
    """
    cols = ["agency", "path", "rows_read", *DISPOSITIONS]
    if records.empty:
        return pd.DataFrame({c: pd.Series(dtype="object" if c in ("agency", "path") else "int64") for c in cols})
    keys = [records["src_agency"].astype(str).rename("agency"), records["src_file"].astype(str).rename("path")]
    if not (keys[0].isna().any() or keys[1].isna().any()):
        return _accounting_by_codes(records, keys[0], keys[1])
    read = records.groupby(keys, sort=True).size().rename("rows_read")
    disp = records["disposition"].astype("string").fillna("")
    counts = (pd.crosstab([keys[0], keys[1]], disp)
              .reindex(columns=list(DISPOSITIONS), fill_value=0))
    table = pd.concat([read, counts], axis=1).fillna(0).astype("int64").reset_index()
    return table[cols].sort_values(["agency", "path"], kind="mergesort").reset_index(drop=True)


def _accounting_by_codes(records: pd.DataFrame, agency: pd.Series, path: pd.Series) -> pd.DataFrame:
    """accounting_table counted on integer codes: one bincount over (file, disposition) pairs
    (a crosstab of a million rows cost a third of a second)."""
    a_codes, a_texts = pd.factorize(agency.array, use_na_sentinel=False)
    p_codes, p_texts = pd.factorize(path.array, use_na_sentinel=False)
    pair_codes, pairs = pd.factorize(a_codes.astype("int64") * len(p_texts) + p_codes)
    d_codes, d_texts = pd.factorize(records["disposition"].astype("string").fillna("").array,
                                    use_na_sentinel=False)
    # a disposition outside DISPOSITIONS counts in rows_read only (its own last column)
    where = {d: i for i, d in enumerate(DISPOSITIONS)}
    column = np.array([where.get(d, len(DISPOSITIONS)) for d in d_texts], dtype="int64")
    width = len(DISPOSITIONS) + 1
    counts = np.bincount(pair_codes * width + column[d_codes], minlength=len(pairs) * width)
    counts = counts.reshape(len(pairs), width)
    table = pd.DataFrame({
        "agency": pd.array(np.asarray(a_texts, dtype=object)[pairs // len(p_texts)], dtype=agency.dtype),
        "path": pd.array(np.asarray(p_texts, dtype=object)[pairs % len(p_texts)], dtype=path.dtype),
        "rows_read": counts.sum(axis=1).astype("int64"),
        **{d: counts[:, i].astype("int64") for i, d in enumerate(DISPOSITIONS)},
    })
    return table.sort_values(["agency", "path"], kind="mergesort").reset_index(drop=True)


def check_accounting(table: pd.DataFrame, files=None) -> None:
    """Raise AccountingError unless every file's dispositions add up to its rows read."""
    sums = table[list(DISPOSITIONS)].sum(axis=1)
    bad = table[sums != table["rows_read"]]
    if not bad.empty:
        first = bad.iloc[0]
        raise AccountingError(
            f"row accounting does not add up for {first['path']}: {int(first['rows_read'])} rows read, "
            f"{int(sums[bad.index[0]])} with a disposition"
        )
    if files is not None:
        read = dict(zip(table["path"], table["rows_read"]))
        known = {f.path for f in files}
        for f in files:
            if int(read.get(f.path, 0)) != int(f.rows_read):
                raise AccountingError(
                    f"{f.path}: the reader counted {f.rows_read} rows, the records hold {int(read.get(f.path, 0))}"
                )
        extra = sorted(set(read) - known)
        if extra:
            raise AccountingError(f"records come from a file that was not read: {extra[0]}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _rel(path: Path, out_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(out_dir).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def build_manifest(config, files, records: pd.DataFrame, outputs: list[Path], out_dir: Path,
                   *, extra: dict | None = None, accounting: pd.DataFrame | None = None) -> dict:
    """The manifest as a dict (issue 3's shape; `extra` keys are added after `config_sha256`).

    Checks the accounting first (AccountingError if it does not add up).
    `accounting`: accounting_table(records) when the caller has it already
    (counting a million records again costs a fifth of a second).
    """
    table = accounting_table(records) if accounting is None else accounting
    check_accounting(table, files)
    by_path = {row.path: row for row in table.itertuples(index=False)}
    inputs = []
    for f in sorted(files, key=lambda f: (f.agency, f.path)):
        row = by_path.get(f.path)
        dispositions = {d: (int(getattr(row, d)) if row is not None else 0) for d in DISPOSITIONS}
        entry = {"agency": f.agency, "path": f.path, "sha256": f.sha256, "size": int(f.size),
                 "sheets": list(f.sheets), "readable": bool(f.readable), "rows_read": int(f.rows_read),
                 "dispositions": dispositions}
        inputs.append(entry)
    totals = {"rows_read": int(table["rows_read"].sum())}
    totals.update({d: int(table[d].sum()) for d in DISPOSITIONS})
    if sum(totals[d] for d in DISPOSITIONS) != totals["rows_read"]:
        raise AccountingError("row accounting totals do not add up")
    manifest: dict = {
        "tool": {"name": TOOL_NAME, "version": __version__},
        "config_sha256": getattr(config, "sha256", ""),
    }
    manifest["state"] = getattr(config, "state", "")
    manifest["year"] = getattr(config, "year", None)
    if extra:
        manifest.update(extra)
    manifest["inputs"] = inputs
    manifest["totals"] = totals
    manifest["outputs"] = sorted(
        ({"path": _rel(p, out_dir), "sha256": sha256_file(Path(p))} for p in outputs),
        key=lambda o: o["path"],
    )
    return manifest


def write_manifest(path: Path | str, manifest: dict) -> None:
    """JSON, indent 2, keys in the manifest's order, UTF-8, trailing newline."""
    Path(path).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
