"""Linking actual records (shipments) to authorized records (licences).

A shipment links to a licence by `licence_key` (the licence number
normalised: case, spaces, dashes, leading zeros of purely numeric numbers)
and the same flow. A licence may have several lines (one per category or
item); its partners and categories are the sets over its lines, its
validity runs from the earliest issue date to the latest expiry.

Everything here is merges and group-bys: one pass over the shipments,
whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from att_report.reconcile.common import join_sorted, location, provenance_order, record_key

#: Shipment link status
NONE, UNKNOWN, OTHER_FLOW, LINKED = "none", "unknown", "other-flow", "linked"
#: bucket of a shipment not checked against a licensed amount
NO_BUCKET = -9

SHIP_COLS = ("row_uid", "src_agency", "src_file", "src_sheet", "src_row", "record_id", "flow",
             "licence_no", "licence_key", "partner_state", "category", "date", "quantity", "value",
             "currency", "withheld")


@dataclass(frozen=True)
class Links:
    #: actual rows with: status, lic_uid, lic_loc, lic_key, lic_no, issue, expiry,
    #: n_cats, partners, categories, partner_ok, category_ok, bucket
    shipments: pd.DataFrame
    #: one row per licence (flow, licence_key): lic_uid (primary line), issue, expiry,
    #: n_cats, partners, categories, lic_withheld, lic_loc, lic_key, lic_no
    licences: pd.DataFrame
    #: authorized rows with a licence_key, with their over-shipment bucket
    lines: pd.DataFrame


def _flag_pairs(left: pd.DataFrame, pairs: pd.DataFrame, col: str) -> pd.Series:
    """True where (_lid, col) of `left` is one of the licence's pairs (integer codes: fast merges)."""
    p = pairs.loc[pairs[col] >= 0, ["_lid", col]].drop_duplicates().assign(_hit=True)
    hit = left[["_lid", col]].merge(p, on=["_lid", col], how="left")["_hit"]
    return pd.Series(hit.fillna(False).astype(bool).to_numpy(), index=left.index)


def _codes(series: pd.Series) -> np.ndarray:
    """Integer codes of a text column (-1 for missing). Codes depend on row order: never use them in ids."""
    return pd.factorize(series)[0].astype("int64")


def build_links(rows: pd.DataFrame) -> Links:
    """Link the actual rows of `rows` to its authorized rows.

    Joins run on integer codes (`_lid` = licence key x flow, `_pc` partner,
    `_cc` category): string merges on a million rows cost seconds, integer
    ones a fraction of that.
    """
    rows = rows[[*SHIP_COLS, "basis", "valid_until"]]  # narrow first: every take copies each column
    kc, fc = _codes(rows["licence_key"]), _codes(rows["flow"])
    rows = rows.assign(
        _lid=np.where((kc >= 0) & (fc >= 0), kc * 4 + fc, -1), _kc=kc,
        _pc=_codes(rows["partner_state"]), _cc=_codes(rows["category"]),
    )
    aut = provenance_order(rows[(rows["basis"] == "authorized").fillna(False).to_numpy() & (rows["_lid"] >= 0)])
    act = rows[(rows["basis"] == "actual").fillna(False)]

    lic = aut.groupby("_lid", sort=True).agg(
        flow=("flow", "first"), licence_key=("licence_key", "first"),
        lic_uid=("row_uid", "first"), issue=("date", "min"), expiry=("valid_until", "max"),
    )
    lic["n_cats"] = aut[aut["_cc"] >= 0].groupby("_lid")["_cc"].nunique().reindex(lic.index, fill_value=0)
    lic["lic_withheld"] = aut["withheld"].fillna(False).astype(bool).groupby(aut["_lid"]).any()
    lic["partners"] = join_sorted(aut, "_lid", "partner_state")
    lic["categories"] = join_sorted(aut, "_lid", "category")
    lic = lic.reset_index()
    primary = aut.set_index("row_uid").loc[lic["lic_uid"]].reset_index()
    lic["lic_loc"] = location(primary).to_numpy()
    lic["lic_key"] = record_key(primary).to_numpy()
    lic["lic_no"] = primary["licence_no"].astype("string").fillna("").to_numpy()
    lic[["partners", "categories"]] = lic[["partners", "categories"]].fillna("")

    lines = aut.merge(lic[["_lid", "n_cats"]], on="_lid", how="left")
    # over-shipment bucket: the category on a multi-category licence, else the whole licence (-2)
    lines["bucket"] = np.where(lines["n_cats"] > 1, lines["_cc"], -2)

    ship = act.reset_index(drop=True)
    ship = ship.merge(lic.drop(columns=["flow", "licence_key"]), on="_lid", how="left")
    status = np.full(len(ship), UNKNOWN, dtype=object)
    status[np.isin(ship["_kc"].to_numpy(), aut["_kc"].unique())] = OTHER_FLOW
    status[ship["lic_uid"].notna().to_numpy()] = LINKED
    status[ship["_kc"].to_numpy() < 0] = NONE
    ship["status"] = status
    linked = ship["status"] == LINKED
    ship["partner_ok"] = _flag_pairs(ship, aut, "_pc") | ~linked
    ship["category_ok"] = _flag_pairs(ship, aut, "_cc") | ~linked
    multi = (ship["n_cats"].fillna(0) > 1).to_numpy()
    bucket = np.where(multi, ship["_cc"].to_numpy(), -2)
    bucket[multi & ~ship["category_ok"].to_numpy()] = NO_BUCKET  # a category not on the licence
    bucket[~linked.to_numpy()] = NO_BUCKET
    ship["bucket"] = bucket
    return Links(shipments=ship, licences=lic, lines=lines)
