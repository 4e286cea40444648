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

import pandas as pd

from att_report.reconcile.common import join_sorted, location, provenance_order, record_key

#: Shipment link status
NONE, UNKNOWN, OTHER_FLOW, LINKED = "none", "unknown", "other-flow", "linked"

SHIP_COLS = ("row_uid", "src_agency", "src_file", "src_sheet", "src_row", "record_id", "flow",
             "licence_no", "licence_key", "partner_state", "category", "date", "quantity", "value",
             "currency", "withheld")


@dataclass(frozen=True)
class Links:
    #: actual rows with: status, lic_uid, lic_loc, lic_key, lic_no, issue, expiry,
    #: n_cats, partners, categories, partner_ok, category_ok, bucket, loc, key
    shipments: pd.DataFrame
    #: one row per licence (flow, licence_key): lic_uid (primary line), issue, expiry,
    #: n_cats, partners, categories, lic_withheld, lic_loc, lic_key, lic_no
    licences: pd.DataFrame
    #: authorized rows with a licence_key, with their over-shipment bucket
    lines: pd.DataFrame


def _flag_pairs(left: pd.DataFrame, pairs: pd.DataFrame, col: str) -> pd.Series:
    """True where (flow, licence_key, col) of `left` is one of the licence's pairs."""
    p = pairs[["flow", "licence_key", col]].dropna().drop_duplicates().assign(_hit=True)
    hit = left[["flow", "licence_key", col]].merge(p, on=["flow", "licence_key", col], how="left")["_hit"]
    return pd.Series(hit.fillna(False).astype(bool).to_numpy(), index=left.index)


def build_links(rows: pd.DataFrame) -> Links:
    """Link the actual rows of `rows` to its authorized rows."""
    aut = provenance_order(rows[(rows["basis"] == "authorized").fillna(False) & rows["licence_key"].notna()])
    act = rows[(rows["basis"] == "actual").fillna(False)]

    lic = aut.groupby(["flow", "licence_key"], sort=True).agg(
        lic_uid=("row_uid", "first"),
        issue=("date", "min"),
        expiry=("valid_until", "max"),
        n_cats=("category", "nunique"),
    )
    lic["lic_withheld"] = aut["withheld"].fillna(False).astype(bool).groupby(
        [aut["flow"], aut["licence_key"]]).any()
    lic["partners"] = join_sorted(aut.dropna(subset=["partner_state"]), ["flow", "licence_key"], "partner_state")
    lic["categories"] = join_sorted(aut.dropna(subset=["category"]), ["flow", "licence_key"], "category")
    lic = lic.reset_index()
    primary = aut.set_index("row_uid").loc[lic["lic_uid"]].reset_index()
    lic["lic_loc"] = location(primary).to_numpy()
    lic["lic_key"] = record_key(primary).to_numpy()
    lic["lic_no"] = primary["licence_no"].astype("string").fillna("").to_numpy()
    lic[["partners", "categories"]] = lic[["partners", "categories"]].fillna("")

    lines = aut.merge(lic[["flow", "licence_key", "n_cats"]], on=["flow", "licence_key"], how="left")
    lines["bucket"] = lines["category"].astype("string").fillna("").where(lines["n_cats"] > 1, "*")

    ship = act[list(SHIP_COLS)].reset_index(drop=True)
    ship = ship.merge(lic, on=["flow", "licence_key"], how="left")
    known_any = set(aut["licence_key"].dropna().unique())
    status = pd.Series(UNKNOWN, index=ship.index, dtype=object)
    status[ship["licence_key"].isin(known_any).to_numpy()] = OTHER_FLOW
    status[ship["lic_uid"].notna().to_numpy()] = LINKED
    status[ship["licence_key"].isna().to_numpy()] = NONE
    ship["status"] = status
    linked = ship["status"] == LINKED
    ship["partner_ok"] = _flag_pairs(ship, aut, "partner_state") | ~linked
    ship["category_ok"] = _flag_pairs(ship, aut, "category") | ~linked
    multi = ship["n_cats"].fillna(0) > 1
    bucket = pd.Series("*", index=ship.index, dtype="string")
    bucket = bucket.where(~multi, ship["category"].astype("string"))
    bucket = bucket.mask(multi & ~ship["category_ok"])  # a category not on the licence: no bucket
    ship["bucket"] = bucket.where(linked)
    ship["loc"] = location(ship)
    ship["key"] = record_key(ship)
    return Links(shipments=ship, licences=lic, lines=lines)
