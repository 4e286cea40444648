"""Linking actual records (shipments) to authorized records (licences).

A shipment links to a licence by `licence_key` (the licence number
normalised: case, spaces, dashes, leading zeros of purely numeric numbers)
and the same flow. A licence may have several lines (one per category or
item); its partners and categories are the sets over its lines, its
validity runs from the earliest issue date to the latest expiry.

Rows out of the report's scope (own forces, ammunition, parts: see
reconcile/__init__.py) are passed as `out_of_scope`: their licence lines
still define the licence (its numbers and amounts are facts whatever the
report shows), but their shipments are not checked and do not count
towards a licensed amount; `Links.excluded` only remembers which licences
they were shipped under.

Everything here is merges and group-bys: one pass over the shipments,
whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from att_report.reconcile.common import codes, location, provenance_order, record_key

#: Shipment link status
NONE, UNKNOWN, OTHER_FLOW, LINKED = "none", "unknown", "other-flow", "linked"
#: bucket of a shipment not checked against a licensed amount
NO_BUCKET = -9

SHIP_COLS = ("row_uid", "src_agency", "src_file", "src_sheet", "src_row", "record_id", "flow",
             "licence_no", "licence_key", "partner_state", "category", "date", "quantity", "value",
             "currency", "withheld")


@dataclass(frozen=True)
class Links:
    #: every row given, in order, with: status ("" for rows that are not shipments), _lid, _li
    #: (position of its licence in `licences`, -1 if not linked), issue, expiry, n_cats,
    #: n_partners, lic_withheld, partner_ok, category_ok, bucket. The licence's text columns
    #: (lic_loc, lic_key, lic_no, partners, categories) are attached by `with_licence`, for the
    #: rows that get a finding only: copying them onto a million shipments costs seconds.
    shipments: pd.DataFrame
    #: one row per licence (flow, licence_key), sorted by _lid: lic_uid (primary line), _lpos (its
    #: position in `lines`), issue, expiry, n_cats, n_partners, partners, categories, lic_withheld,
    #: lic_excluded (every line out of scope)
    licences: pd.DataFrame
    #: authorized rows with a licence_key (in scope or not), with their over-shipment bucket
    lines: pd.DataFrame
    #: shipments out of scope that quote a licence of the same flow: _lid, date (not checked, not counted)
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"_lid": pd.Series(dtype="int64"),
                                                                         "date": pd.Series(dtype="datetime64[ns]")}))

    def with_licence(self, rows: pd.DataFrame) -> pd.DataFrame:
        """`rows` (cut from `shipments`, linked) plus their licence's text columns.

        The primary line's location, record key and number are built here, for the
        licences of these rows only: for every licence they cost a second at 1M rows.
        """
        lic = self.licences.iloc[rows["_li"].to_numpy()]
        primary = self.lines.iloc[lic["_lpos"].to_numpy()]
        return rows.assign(
            lic_loc=location(primary).to_numpy(), lic_key=record_key(primary).to_numpy(),
            lic_no=primary["licence_no"].astype("string").fillna("").to_numpy(),
            partners=lic["partners"].to_numpy(), categories=lic["categories"].to_numpy(),
        )


#: The licence's text columns `Links.with_licence` attaches to shipments.
LICENCE_TEXT = ("lic_loc", "lic_key", "lic_no", "partners", "categories")


def _pairs_in(lid: np.ndarray, code: np.ndarray, aut_lid: np.ndarray, aut_code: np.ndarray) -> np.ndarray:
    """True where (lid, code) is one of the licences' (aut_lid, aut_code) pairs with a known code."""
    width = int(max(code.max(initial=0), aut_code.max(initial=0))) + 2
    known = (aut_code >= 0) & (aut_lid >= 0)  # (a line without a licence id matches no shipment)
    keys = aut_lid[known] * width + aut_code[known]
    valid = (lid >= 0) & (code >= 0)
    key = np.where(valid, lid * width + code, 0)
    bound = int(max(lid.max(initial=0), aut_lid.max(initial=0)) + 1) * width
    if bound <= max(8 * len(lid), 1 << 20):  # a lookup table over the pairs: no hashing of a million keys
        table = np.zeros(bound, dtype=bool)
        table[keys] = True
        return table[key] & valid
    return pd.Series(key).isin(pd.unique(keys)).to_numpy() & valid


def _taker(pos: np.ndarray):
    """A function: (values, missing) -> values[pos], `missing` where pos is -1 (the masks made once)."""
    none = pos < 0
    safe = np.where(none, 0, pos)

    def take(values: np.ndarray, missing) -> np.ndarray:
        if not len(values):
            return np.full(len(pos), missing, dtype=values.dtype)
        out = values[safe]
        out[none] = missing
        return out
    return take


def _joined(lid: np.ndarray, code: np.ndarray, values: pd.Series) -> pd.Series:
    """Per licence id, the sorted distinct texts of `values` joined by ';' (index: the ids with one).

    What common.join_sorted gives for (_lid, column), from the column's integer codes (equal
    codes, equal texts): distinct pairs and their order come from integers, the texts are only
    looked up and joined.
    """
    keep = np.flatnonzero(code >= 0)
    if not len(keep):
        return pd.Series([], index=pd.Index([], dtype="int64", name="_lid"), dtype=object, name=values.name)
    lid, code = lid[keep], code[keep]
    # each code's first line (codes are small integers: a minimum per code, no sort)
    first_at = np.full(int(code.max()) + 1, len(code), dtype="int64")
    np.minimum.at(first_at, code, np.arange(len(code)))
    distinct = np.flatnonzero(first_at < len(code))
    texts = values.iloc[keep[first_at[distinct]]].astype(object).to_numpy()
    rank = np.full(len(first_at), -1, dtype="int64")  # each code's place in the texts' sort order
    rank[distinct[sorted(range(len(texts)), key=texts.__getitem__)]] = np.arange(len(texts))
    by_rank = np.empty(len(texts), dtype=object)
    by_rank[rank[distinct]] = texts
    width = len(texts)
    pairs = lid * width + rank[code]
    if int(pairs.max()) < max(8 * len(pairs), 1 << 24):  # distinct pairs, sorted by (lid, text), by a table
        seen = np.zeros(int(pairs.max()) + 1, dtype=bool)
        seen[pairs] = True
        pairs = np.flatnonzero(seen)
    else:
        pairs = np.unique(pairs)
    g, r = pairs // width, pairs % width
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    ends = np.r_[starts[1:], len(g)]
    out = by_rank[r[starts]].copy()  # one text: no join (most licences)
    for i in np.flatnonzero(ends - starts > 1).tolist():
        out[i] = ";".join(by_rank[r[starts[i]:ends[i]]])
    return pd.Series(out, index=pd.Index(g[starts], name="_lid"), dtype=object, name=values.name)


def build_links(rows: pd.DataFrame, out_of_scope: np.ndarray | None = None,
                among: np.ndarray | None = None) -> Links:
    """Link the actual rows of `rows` to its authorized rows.

    `out_of_scope` (bool per row, optional) marks rows left out of the
    report: their actual rows are not shipments here (status "", no bucket)
    but are listed in `Links.excluded` when they quote a known licence; their
    authorized rows stay licence lines. `among` (bool per row, optional)
    marks the rows that take part at all: the others (invalid or merged
    rows, see reconcile()) are neither shipments nor licence lines.

    Joins run on integer codes (`_lid` = licence key x flow, partner and
    category codes, see common.codes): string merges on a million rows cost
    seconds, integer ones a fraction of that. The shipments are `rows`
    itself (a column selection, no copy of a million rows) with the link
    columns added.
    """
    kc, fc = codes(rows, "licence_key"), codes(rows, "flow")
    pc, cc = codes(rows, "partner_state"), codes(rows, "category")
    cols = [c for c in (*SHIP_COLS, "basis", "valid_until") if c in rows]
    rows = rows[cols].assign(
        _lid=np.where((kc >= 0) & (fc >= 0), kc * (int(fc.max(initial=0)) + 1) + fc, -1), _kc=kc,
        _pc=pc, _cc=cc, _cur=codes(rows, "currency"),
    )
    oos = np.zeros(len(rows), dtype=bool) if out_of_scope is None else np.asarray(out_of_scope, dtype=bool)
    is_aut = (rows["basis"] == "authorized").fillna(False).to_numpy()
    is_act = (rows["basis"] == "actual").fillna(False).to_numpy()
    if among is not None:
        is_aut = is_aut & np.asarray(among, dtype=bool)
        is_act = is_act & np.asarray(among, dtype=bool)
    act_oos = is_act & oos
    is_act = is_act & ~oos  # an excluded shipment is no shipment to check
    aut_pos = np.flatnonzero(is_aut & (rows["_lid"] >= 0).to_numpy())
    aut = provenance_order(rows.iloc[aut_pos].assign(_oos=oos[aut_pos]))
    aut = aut.assign(_lpos=np.arange(len(aut)))  # position in `lines` (same order)

    lic = aut.groupby("_lid", sort=True).agg(
        flow=("flow", "first"), licence_key=("licence_key", "first"),
        lic_uid=("row_uid", "first"), _lpos=("_lpos", "first"), issue=("date", "min"),
        expiry=("valid_until", "max"),
    )
    lic["n_cats"] = aut[aut["_cc"] >= 0].groupby("_lid")["_cc"].nunique().reindex(lic.index, fill_value=0)
    lic["n_partners"] = aut[aut["_pc"] >= 0].groupby("_lid")["_pc"].nunique().reindex(lic.index, fill_value=0)
    lic["lic_withheld"] = aut["withheld"].fillna(False).astype(bool).groupby(aut["_lid"]).any()
    lic["lic_excluded"] = aut["_oos"].groupby(aut["_lid"]).all()
    lic["partners"] = _joined(aut["_lid"].to_numpy(), aut["_pc"].to_numpy(), aut["partner_state"])
    lic["categories"] = _joined(aut["_lid"].to_numpy(), aut["_cc"].to_numpy(), aut["category"])
    lic = lic.reset_index()
    lic[["partners", "categories"]] = lic[["partners", "categories"]].fillna("")

    lines = aut.merge(lic[["_lid", "n_cats"]], on="_lid", how="left")  # keeps aut's order (_lpos)
    # over-shipment bucket: the category on a multi-category licence, else the whole licence (-2)
    lines["bucket"] = np.where(lines["n_cats"] > 1, lines["_cc"], -2)

    # each shipment's licence by position (lic is sorted by _lid)
    lid = rows["_lid"].to_numpy()
    lic_lid = lic["_lid"].to_numpy()
    # a lookup table over the licence ids (small integers) instead of a binary search per shipment
    where = np.full(int(max(lid.max(initial=-1), lic_lid.max(initial=-1))) + 2, -1, dtype="int64")
    where[lic_lid] = np.arange(len(lic_lid))
    li = where[lid]  # where[-1] stays -1: no licence key
    match = li >= 0
    li = li.clip(min=0)
    linked = is_act & match
    li = np.where(linked, li, -1)
    ex_pos = np.flatnonzero(act_oos & match)
    excluded = pd.DataFrame({"_lid": lid[ex_pos],
                             "date": rows["date"].to_numpy(dtype="datetime64[ns]")[ex_pos]})
    status = np.zeros(len(rows), dtype="int8")  # "" (not a shipment)
    status[is_act] = 2  # UNKNOWN
    licensed = np.zeros(int(kc.max(initial=-1)) + 2, dtype=bool)  # per licence key code (small integers)
    licensed[aut["_kc"].to_numpy()] = True
    status[is_act & (kc >= 0) & licensed[kc]] = 3  # OTHER_FLOW
    status[linked] = 4  # LINKED
    status[is_act & (kc < 0)] = 1  # NONE
    partner_ok = _pairs_in(lid, pc, aut["_lid"].to_numpy(), aut["_pc"].to_numpy()) | ~linked
    category_ok = _pairs_in(lid, cc, aut["_lid"].to_numpy(), aut["_cc"].to_numpy()) | ~linked
    take = _taker(li)
    n_cats = take(lic["n_cats"].to_numpy(), 0)
    multi = n_cats > 1
    bucket = np.where(multi, cc, -2)
    bucket[multi & ~category_ok] = NO_BUCKET  # a category not on the licence
    bucket[~linked] = NO_BUCKET
    ship = rows.assign(
        status=pd.Categorical.from_codes(status, categories=["", NONE, UNKNOWN, OTHER_FLOW, LINKED]),
        _li=li,
        issue=pd.Series(take(lic["issue"].to_numpy(), np.datetime64("NaT")), index=rows.index),
        expiry=pd.Series(take(lic["expiry"].to_numpy(), np.datetime64("NaT")), index=rows.index),
        n_cats=n_cats, n_partners=take(lic["n_partners"].to_numpy(), 0),
        lic_withheld=take(lic["lic_withheld"].to_numpy(dtype=bool), False),
        partner_ok=partner_ok, category_ok=category_ok, bucket=bucket,
    )
    return Links(shipments=ship, licences=lic, lines=lines, excluded=excluded)
