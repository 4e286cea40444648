"""Cross-agency duplicates: the same transfer in two agencies' files.

Exact duplicates (identical flow, basis, licence, partner, category,
quantity and date, reported by different agencies) are merged into one
record that keeps every provenance; near-duplicates are only flagged (see
the rules). Several identical-looking rows *within one agency* are partial
deliveries, never merged: when agency A lists two identical shipments and
agency B lists two, they pair up one to one (by file order), so two real
shipments stay two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from att_report.reconcile.common import (
    CODED, codes, combine_codes, group_join, location, record_key, row_positions,
)

#: The fields that must be identical for an automatic merge (issue 3).
EXACT_KEY = ("flow", "basis", "licence_key", "partner_state", "category", "quantity", "date")

#: Fields a survivor takes from its merged twins when it has none itself.
COALESCE = ("value", "currency", "hs_code", "origin_state", "intermediate_states",
            "description", "end_user", "comments", "valid_until")


#: The columns exact_duplicates reads.
EXACT_COLUMNS = ("row_uid", "src_agency", "src_file", "src_sheet", "src_row", "record_id", *EXACT_KEY,
                 "value", "currency")


def _codes_at(rows: pd.DataFrame, col: str, pos: np.ndarray) -> np.ndarray:
    """Integer codes of `col` at rows `pos` (-1: missing): the precomputed ones, else of those rows only."""
    if f"_c_{col}" in rows:
        return codes(rows, col)[pos]
    return pd.factorize(rows[col].iloc[pos])[0].astype("int64")


def _key_codes(rows: pd.DataFrame, col: str, pos: np.ndarray) -> np.ndarray:
    """Integer codes of `col` at rows `pos`, a missing value one more value (missing equals missing)."""
    c = _codes_at(rows, col, pos)
    return np.where(c < 0, int(c.max(initial=0)) + 1, c)


def _group_ids(rows: pd.DataFrame, pos: np.ndarray) -> np.ndarray:
    """Per row at `pos`: rows with identical EXACT_KEY share an id (missing equals missing); integer codes only."""
    # a value-only record (no number of items) must match on value and currency instead
    no_qty = rows["quantity"].isna().to_numpy()[pos]
    value = np.full(len(pos), -1, dtype="int64")
    nq = np.flatnonzero(no_qty)  # few rows: factorize only their values
    if len(nq):
        value[nq] = pd.factorize(rows["value"].iloc[pos[nq]])[0]
    currency = _codes_at(rows, "currency", pos)
    extra = [np.where(no_qty, value, -1), np.where(no_qty, currency, -1)]
    parts = [_key_codes(rows, c, pos) for c in EXACT_KEY] + [np.where(e < 0, int(e.max(initial=0)) + 1, e)
                                                             for e in extra]
    return combine_codes(*parts)


def multi_agency(gid: np.ndarray, agency: np.ndarray) -> np.ndarray:
    """Per row: does another agency have a row in its group? (integer codes, gid >= 0; no group-by)"""
    if not len(gid):
        return np.zeros(0, dtype=bool)
    # a group has two agencies when its lowest and highest agency codes differ (a missing agency, -1,
    # is one more agency, as in nunique): one hashing of the groups, then unbuffered min/max per group
    g = pd.factorize(gid)[0]
    return _spread(g, int(g.max()) + 1, agency)


def _spread(g: np.ndarray, n: int, agency: np.ndarray) -> np.ndarray:
    """Per row: do the rows of its group g (0 <= g < n) have more than one agency code?"""
    a = np.asarray(agency, dtype="int64")
    low, high = int(a.min(initial=0)), int(a.max(initial=0))
    if high - low < 8:  # a few agencies: per agency, the groups it has rows in (bincounts, no ufunc.at)
        count = np.zeros(n, dtype="int8")
        for value in range(low, high + 1):
            count += np.bincount(g[a == value], minlength=n) > 0
        return (count > 1)[g]
    lo = np.full(n, np.iinfo(np.int64).max, dtype="int64")
    hi = np.full(n, np.iinfo(np.int64).min, dtype="int64")
    np.minimum.at(lo, g, a)
    np.maximum.at(hi, g, a)
    return (lo != hi)[g]


def multi_agency_of(parts: list[np.ndarray], agency: np.ndarray) -> np.ndarray:
    """multi_agency(combine_codes(*parts), agency) for codes `parts` with no missing value (all >= 0).

    Cheaper over a million rows: the leading parts whose combinations fit a table of a few times
    the rows are checked first by position in that table (no hashing); a row alone with its agency
    there is alone under the whole key too, so only the few rows left are hashed on the whole key.
    """
    n = len(agency)
    if not n:
        return np.zeros(0, dtype=bool)
    limit = max(4 * n, 1 << 16)
    key, bound, used = np.zeros(n, dtype="int64"), 1, 0
    for p in parts:
        width = int(p.max(initial=0)) + 1
        if bound * width > limit:
            break
        key = key * width + p
        bound *= width
        used += 1
    if used == 0:
        return multi_agency(combine_codes(*parts), agency)
    keep = _spread(key, bound, agency)
    if used == len(parts):
        return keep
    pos = np.flatnonzero(keep)
    out = np.zeros(n, dtype=bool)
    out[pos] = multi_agency(combine_codes(*(p[pos] for p in parts)), np.asarray(agency)[pos])
    return out


def exact_duplicates(rows: pd.DataFrame, among: np.ndarray | None = None) -> pd.DataFrame:
    """Rows to merge: one line per merged row with its surviving record.

    Columns: row_uid, survivor_uid, merged_loc, survivor_loc, merged_key,
    survivor_key (record keys, see common.record_key). Only rows with a date
    and a quantity or value take part (and, when `among` is given, only the
    rows it marks: a mask instead of a row filter, which would copy every
    column); the survivor is the first agency's row in provenance order.
    """
    cols = ["row_uid", "survivor_uid", "merged_loc", "survivor_loc", "merged_key", "survivor_key"]
    usable = (rows["date"].notna() & (rows["quantity"].notna() | rows["value"].notna())).to_numpy()
    if among is not None:
        usable = usable & np.asarray(among, dtype=bool)
    agency = codes(rows, "src_agency")
    # only groups that more than one agency reports: first on the coded part of the key over every
    # usable row (integers, no hashing), then on the whole key over the few rows left
    pos = np.flatnonzero(usable)
    pos = pos[multi_agency_of([_key_codes(rows, c, pos) for c in EXACT_KEY if c in CODED], agency[pos])]
    gid = _group_ids(rows, pos)
    keep = multi_agency(gid, agency[pos])
    pos, gid = pos[keep], gid[keep]
    if not len(pos):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    rows = rows[list(EXACT_COLUMNS)]
    usable = rows.iloc[pos]
    gid = pd.Series(gid, index=usable.index)
    frame = pd.DataFrame({
        "gid": gid.to_numpy(),
        "agency": usable["src_agency"].to_numpy(),
        "row_uid": usable["row_uid"].to_numpy(),
        "src_agency": usable["src_agency"].to_numpy(),
        "src_file": usable["src_file"].to_numpy(),
        "src_sheet": usable["src_sheet"].to_numpy(),
        "src_row": usable["src_row"].to_numpy(),
    }, index=usable.index)
    n_agencies = frame.groupby("gid")["agency"].transform("nunique")
    frame = frame[n_agencies > 1]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    frame = frame.sort_values(["gid", "src_agency", "src_file", "src_sheet", "src_row", "row_uid"], kind="mergesort")
    # pair the k-th row of each agency with the k-th row of the others
    frame["k"] = frame.groupby(["gid", "agency"], sort=False).cumcount()
    first = frame.groupby(["gid", "k"], sort=False)["row_uid"].transform("first")
    per_slot = frame.groupby(["gid", "k"], sort=False)["agency"].transform("nunique")
    frame = frame.assign(survivor_uid=first)
    frame = frame[(per_slot > 1)]
    recs = usable.set_index("row_uid")
    frame = frame.assign(
        loc=location(frame).to_numpy(),
        key=record_key(recs.loc[frame["row_uid"]].reset_index()).to_numpy(),
    )
    surv = frame[frame["row_uid"] == frame["survivor_uid"]].set_index("row_uid")
    merged = frame[frame["row_uid"] != frame["survivor_uid"]]
    out = pd.DataFrame({
        "row_uid": merged["row_uid"].to_numpy(),
        "survivor_uid": merged["survivor_uid"].to_numpy(),
        "merged_loc": merged["loc"].to_numpy(),
        "survivor_loc": surv.loc[merged["survivor_uid"], "loc"].to_numpy(),
        "merged_key": merged["key"].to_numpy(),
        "survivor_key": surv.loc[merged["survivor_uid"], "key"].to_numpy(),
    })
    return out.reset_index(drop=True)


def apply_merges(records: pd.DataFrame, merges: pd.DataFrame) -> pd.DataFrame:
    """Mark merged rows, give survivors `also_from` and fill their blanks from their twins.

    A survivor becomes withheld when any of its twins is withheld: one agency's
    confidentiality mark must not be lost by merging (Art. 13(3)).
    """
    out = records.copy(deep=False)  # copy-on-write: only the columns changed below are copied
    if "also_from" not in out:
        out["also_from"] = pd.Series("", index=out.index, dtype="string")
    if merges.empty:
        return out
    pos = row_positions(out)
    m_pos = pos(merges["row_uid"])
    out.iloc[m_pos, out.columns.get_loc("disposition")] = "merged"
    out.iloc[m_pos, out.columns.get_loc("disposition_ref")] = merges["survivor_loc"].to_numpy()

    also = group_join(merges, "survivor_uid", "merged_loc")
    s_pos = pos(also.index)
    out.iloc[s_pos, out.columns.get_loc("also_from")] = also.to_numpy()

    twins = out.iloc[m_pos].assign(_surv=merges["survivor_uid"].to_numpy())
    for name in COALESCE:
        if name not in out:
            continue
        known = twins[name].notna().to_numpy()  # (a Series cut: dropna on the frame copies every column)
        fill = twins[name][known].groupby(twins["_surv"][known], sort=True).first()
        if fill.empty:
            continue
        target = pos(fill.index)
        current = out[name].iloc[target]
        missing = current.isna().to_numpy()
        if name in ("value", "currency"):
            # value and currency travel together
            missing = out["value"].iloc[target].isna().to_numpy()
        if missing.any():
            col = out.columns.get_loc(name)
            vals = fill.to_numpy()
            out.iloc[target[missing], col] = vals[missing]
    withheld = twins["withheld"].fillna(False).astype(bool).groupby(twins["_surv"]).any()
    w_pos = pos(withheld.index[withheld.to_numpy()])
    if len(w_pos):
        out.iloc[w_pos, out.columns.get_loc("withheld")] = True
    return out
