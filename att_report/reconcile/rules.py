"""The reconciliation rule catalogue (issue 3; ATT_REPORTING.md sections 4-6).

Each rule takes records and a RuleContext whose `extra` may hold the
precomputed links ("links"), merges ("merges") and HS facts ("hs"); a rule
called on its own computes them from the frame it is given. Findings never
change the figures by themselves: only `own-forces` and `out-of-scope`
exclude by default (see EXCLUDING_CODES), and the NPC's decisions do the rest.

reconcile() runs the rules in two passes (see SCOPE_CODES): the scope and
record-identity rules on every *active* record (valid, not merged), then
the others on the records in scope only, so a row the report leaves out
anyway raises no licence, duplicate or plausibility noise.

Finding ids derive from the rule code and the (agency, record_id) of the
records involved, sorted: never from row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from att_report import findings as fnd
from att_report.findings import Severity
from att_report.reconcile import link as lk
from att_report.reconcile.common import (
    codes, combine_codes, dense_codes, distinct, emit_on, fmt_amount, fmt_date, fmt_int, group_join, location,
    record_key, repeated_texts, text,
)
from att_report.reconcile.duplicates import exact_duplicates, multi_agency_of
from att_report.rules import RuleContext, rule

#: Provenance columns a finding needs (rules narrow frames to what they use: every filter copies each column)
PROV = ("row_uid", "src_agency", "src_file", "src_sheet", "src_row", "record_id")

#: The columns the reconcile rules read: reconcile() hands them only these (plus integer codes,
#: see common.CODED), since every row filter copies each column. A rule reading another adds it here.
RULE_COLUMNS = (*PROV, "flow", "basis", "licence_no", "licence_key", "date", "valid_until", "partner_state",
                "category", "hs_code", "quantity", "value", "currency", "withheld")

#: Findings of these codes exclude their record unless the NPC decides otherwise.
EXCLUDING_CODES = ("own-forces", "out-of-scope")

#: Rules run first, on every active record: a record they flag is out of the report (unless a
#: decision accepts or overrides that finding) and the other rules do not check it.
SCOPE_CODES = EXCLUDING_CODES

#: Rules run on every active record whatever its scope: they concern the records' identity and
#: the merges made before any rule (a repeated record_id makes finding ids and decisions ambiguous
#: for excluded rows too; a merge into an excluded record still explains the twin's disposition).
EVERY_RECORD_CODES = ("duplicate-merged", "duplicate-record-id")


def in_scope(records: pd.DataFrame, ctx: RuleContext) -> np.ndarray:
    """Per row of `records`: is it in the report's scope? (ctx.extra["in_scope"], else every row)

    reconcile() hands the second-pass rules every row plus this mask (active,
    see `active`, and in scope) rather than the rows in scope alone, since
    cutting a million rows copies every column. A rule that reads `records`
    itself (not only the links) must leave the rows out of scope alone.
    """
    mask = ctx.extra.get("in_scope")
    return np.ones(len(records), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


def active(records: pd.DataFrame, ctx: RuleContext) -> np.ndarray:
    """Per row of `records`: does it take part in the rules? (ctx.extra["active"], else every row)

    reconcile() hands the rules every row plus this mask (valid, not merged) rather than
    cutting the rows out, which copies every column; in_scope() implies it. A first-pass
    rule (see SCOPE_CODES, EVERY_RECORD_CODES) that reads `records` itself must leave the
    other rows alone.
    """
    mask = ctx.extra.get("active")
    return np.ones(len(records), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


def get_links(records: pd.DataFrame, ctx: RuleContext) -> lk.Links:
    if "links" not in ctx.extra:
        ctx.extra["links"] = lk.build_links(records)
    return ctx.extra["links"]


def get_merges(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    if "merges" not in ctx.extra:
        ctx.extra["merges"] = exact_duplicates(records)
    return ctx.extra["merges"]


def _year(ctx: RuleContext) -> int | None:
    return getattr(ctx.config, "year", None)


def _flow_word(flow: pd.Series) -> pd.Series:
    return text(flow).replace({"export": "export", "import": "import"})


def _pair_key(a: pd.Series, b: pd.Series) -> pd.Series:
    """Identity of two records, order-free."""
    a = a.astype(str)
    b = b.astype(str)
    lo = a.where(a <= b, b)
    hi = b.where(a <= b, a)
    return lo + ";" + hi


# --- licence vs shipment ------------------------------------------------------

@rule("shipment-without-licence", Severity.ERROR, "reconcile")
def rule_shipment_without_licence(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """An actual export/import quotes no licence number.

    Enforces: ATT Art. 7 and 8 (exports and imports are authorized by national
    licences); ATT_REPORTING.md section 5 (unlicensed shipments). The shipment
    still happened, so it stays in the actual figures until the NPC decides.
    """
    s = get_links(records, ctx).shipments
    hit = s[s["status"] == lk.NONE]
    msg = ("This " + _flow_word(hit["flow"]) + " shipment quotes no licence number, so it cannot be checked "
           "against a licence. Ask the agency for the licence number, or record a decision "
           "(accept if it needed none, e.g. a government-to-government transfer).")
    return emit_on(hit, "shipment-without-licence", msg, field="licence_no", value="")


@rule("shipment-licence-unknown", Severity.ERROR, "reconcile")
def rule_shipment_licence_unknown(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """An actual export/import quotes a licence number that matches no licence.

    Enforces: ATT Art. 7 and 8; ATT_REPORTING.md section 4 (shipments quoting
    a wrong licence). Numbers are compared ignoring case, spaces, dashes and
    leading zeros.
    """
    s = get_links(records, ctx).shipments
    hit = s[s["status"] == lk.UNKNOWN]
    msg = ("Licence '" + text(hit["licence_no"]) + "' quoted by this " + _flow_word(hit["flow"])
           + " shipment matches no licence in the licensing authority's files. Check the number with "
           "the agency (a typo, or a licence issued in an earlier year that is missing from the files).")
    return emit_on(hit, "shipment-licence-unknown", msg, field="licence_no", value=text(hit["licence_no"]))


@rule("shipment-licence-other-flow", Severity.ERROR, "reconcile")
def rule_shipment_licence_other_flow(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A shipment quotes a licence that exists only for the other flow (an import licence on an export).

    Enforces: ATT Art. 7 (export) vs Art. 8 (import) authorizations are
    distinct; a link must have the same flow (issue 3, linking).
    """
    s = get_links(records, ctx).shipments
    hit = s[s["status"] == lk.OTHER_FLOW]
    other = hit["flow"].map({"export": "import", "import": "export"}).astype("string").fillna("other")
    msg = ("Licence '" + text(hit["licence_no"]) + "' is an " + other + " licence, but this shipment is an "
           + _flow_word(hit["flow"]) + ". Check the flow of the shipment or the licence number.")
    return emit_on(hit, "shipment-licence-other-flow", msg, field="licence_no", value=text(hit["licence_no"]))


def _bucket_totals(links: lk.Links, ctx: RuleContext) -> dict:
    """What both over-shipment rules need, computed once per links (each hashing of a million keys
    costs a tenth of a second): the checked shipments' positions, their (licence, bucket) group
    (dense codes, numbered as pd.factorize numbers them), and the lines' totals per group."""
    cached = ctx.extra.get("_bucket_totals")
    if cached is not None and cached[0] is links:
        return cached[1]
    ship, lines = links.shipments, links.lines
    bucket = ship["bucket"].to_numpy()
    checked = np.flatnonzero(bucket != lk.NO_BUCKET)
    totals: dict = {"checked": checked}
    if len(checked) and not lines.empty:
        # one integer key per (licence, bucket) (buckets run from NO_BUCKET, -9, up): a group-by on
        # two keys over a million shipments costs a second, on one integer a fraction
        l_bucket = lines["bucket"].to_numpy()
        width = int(max(bucket.max(), l_bucket.max(), 0)) + 12
        g, keys = dense_codes(ship["_lid"].to_numpy()[checked] * width + bucket[checked] + 10)
        lic = lines.assign(_k=lines["_lid"].to_numpy() * width + l_bucket + 10,
                           _cc_cur=lines["_cur"].where(lines["_cur"] >= 0)).groupby("_k", sort=False).agg(
            allowed_quantity=("quantity", "sum"), known_quantity=("quantity", "count"),
            allowed_value=("value", "sum"), known_value=("value", "count"), n=("row_uid", "size"),
            lic_uid=("row_uid", "first"), cur=("currency", "nunique"), lic_cur=("currency", "first"),
            lic_cur_code=("_cc_cur", "first"))
        # a group-by on a categorical of the dense codes uses them as they are (no hashing again)
        totals.update(width=width, g=g, keys=keys, lic=lic,
                      grouper=pd.Categorical.from_codes(g, categories=pd.RangeIndex(len(keys))))
    ctx.extra["_bucket_totals"] = (links, totals)
    return totals


def _exceeded(records: pd.DataFrame, ctx: RuleContext, measure: str, code: str) -> pd.DataFrame:
    links = get_links(records, ctx)
    ship = links.shipments
    totals = _bucket_totals(links, ctx)
    if "lic" not in totals:
        return fnd.empty_frame()
    checked, g, keys, width = totals["checked"], totals["g"], totals["keys"], totals["width"]
    lic = totals["lic"].rename(columns={f"allowed_{measure}": "allowed", f"known_{measure}": "known"})
    lic = lic[["allowed", "known", "n", "lic_uid"] + (["cur", "lic_cur", "lic_cur_code"] if measure == "value" else [])]
    lic = lic[lic["known"] == lic["n"]]  # a line without the amount: the licensed total is unknown
    sums = pd.Series(ship[measure].array[checked]).groupby(totals["grouper"], observed=False).sum()
    shp = pd.DataFrame({"shipped": sums.array}, index=pd.Index(keys))
    if measure == "value":
        # values compare only in one currency (conversion belongs to compile): one known currency code
        # per bucket (a missing one, -1, is skipped), the licence's
        cur = ship["_cur"].to_numpy()[checked]
        has = cur >= 0
        g_has, cur = g[has], cur[has]
        # one code per bucket (any of its own: the last written), then the buckets where another differs
        one = np.full(len(keys), -1, dtype="int64")
        one[g_has] = cur
        mixed = np.zeros(len(keys), dtype=bool)
        mixed[g_has[cur != one[g_has]]] = True
        shp["s_cur"] = np.where(one >= 0, one, np.nan)  # NaN: no known currency in the bucket
        shp["one_cur"] = (one >= 0) & ~mixed
    both = shp.join(lic, how="inner")
    over = both["shipped"].astype("Float64") > both["allowed"].astype("Float64")
    if measure == "value":
        over &= (both["cur"] == 1) & both["one_cur"] & (both["lic_cur_code"] == both["s_cur"])
    both = both[over.fillna(False)]
    if both.empty:
        return fnd.empty_frame()
    # the shipments of the exceeded buckets
    over_group = np.zeros(len(keys), dtype=bool)
    over_group[pd.Index(keys).get_indexer(both.index)] = True
    hit = checked[over_group[g]]
    involved = ship[["src_agency", "src_file", "src_row"]].iloc[hit].assign(_k=keys[g[over_group[g]]])
    involved["loc"] = location(involved)
    related = group_join(involved, "_k", "loc")
    counts = involved.groupby("_k", sort=False).size()
    both = both.join(related.rename("related")).join(counts.rename("n_ship"))
    rows = links.lines.set_index("row_uid").loc[both["lic_uid"]].reset_index()
    rows.index = both.index
    lic_no = text(rows["licence_no"])
    whole = pd.Series(both.index.to_numpy() % width - 10 == -2, index=both.index)
    bucket = text(rows["category"]).where(~whole, "*")
    where = (" for " + bucket).where(~whole, "")
    amount = fmt_int(both["shipped"]) if measure == "quantity" else fmt_amount(both["shipped"])
    allowed = fmt_int(both["allowed"]) if measure == "quantity" else fmt_amount(both["allowed"])
    unit = " items" if measure == "quantity" else (" " + text(both["lic_cur"]))
    plural = pd.Series(np.where(both["n_ship"].to_numpy() == 1, " shipment", " shipments"), index=both.index)
    msg = (both["n_ship"].astype("string") + plural + " under licence '" + lic_no + "'" + where
           + " total " + amount + unit + ", more than the " + allowed + unit + " licensed. "
           "Check each shipment listed under 'related' (a double entry? a licence amendment?) "
           "and record a decision.")
    ident = record_key(rows) + "|" + bucket
    return emit_on(rows, code, msg, field=measure, value=amount + " > " + allowed, related=both["related"],
                   identity=ident)


@rule("licence-quantity-exceeded", Severity.ERROR, "reconcile")
def rule_licence_quantity_exceeded(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Cumulative number of items shipped under a licence exceeds the licensed number.

    Enforces: ATT Art. 7 and 11 (transfers within the authorization; diversion
    risk); ATT_REPORTING.md section 5 (over-shipment, cumulative per licence).
    The finding is on the licence and names every shipment involved. A licence
    with lines in several categories is checked per category.
    """
    return _exceeded(records, ctx, "quantity", "licence-quantity-exceeded")


@rule("licence-value-exceeded", Severity.ERROR, "reconcile")
def rule_licence_value_exceeded(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Cumulative value shipped under a licence exceeds the licensed value (same currency).

    Enforces: ATT Art. 7 and 11; ATT_REPORTING.md section 5 (over-shipment).
    Compared only when licence and shipments use one and the same currency.
    """
    return _exceeded(records, ctx, "value", "licence-value-exceeded")


@rule("partner-mismatch", Severity.ERROR, "reconcile")
def rule_partner_mismatch(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The shipment's partner State differs from its licence's.

    Enforces: ATT Art. 7(1), 11 (diversion) and 13(3) (the reported partner);
    ATT_REPORTING.md section 5 (destination mismatch). The shipment is
    reported under its own partner State unless the NPC overrides it.
    """
    links = get_links(records, ctx)
    s = links.shipments
    hit = links.with_licence(s[~s["partner_ok"] & s["partner_state"].notna()])
    hit = hit[hit["partners"] != ""]
    msg = ("The shipment goes to " + text(hit["partner_state"]) + " but licence '" + text(hit["licence_no"])
           + "' names " + text(hit["partners"]) + ". Check with both agencies which is right; "
           "override partner_state if the shipment record is wrong.")
    return emit_on(hit, "partner-mismatch", msg, field="partner_state", value=text(hit["partner_state"]),
                   related=hit["lic_loc"], identity=record_key(hit) + "|" + hit["lic_key"])


@rule("category-mismatch", Severity.WARNING, "reconcile")
def rule_category_mismatch(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The shipment's category differs from its licence's.

    Enforces: ATT Art. 2(1) and 5(3) (consistent categorisation);
    ATT_REPORTING.md section 5. Often a classification difference between
    customs and licensing; the shipment is reported under its own category.
    """
    links = get_links(records, ctx)
    s = links.shipments
    hit = links.with_licence(s[~s["category_ok"] & s["category"].notna()])
    hit = hit[hit["categories"] != ""]
    msg = ("The shipment is in category " + text(hit["category"]) + " but licence '" + text(hit["licence_no"])
           + "' covers " + text(hit["categories"]) + ". Check the classification with both agencies.")
    return emit_on(hit, "category-mismatch", msg, field="category", value=text(hit["category"]),
                   related=hit["lic_loc"], identity=record_key(hit) + "|" + hit["lic_key"])


@rule("shipment-before-licence", Severity.ERROR, "reconcile")
def rule_shipment_before_licence(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A shipment is dated before its licence was issued.

    Enforces: ATT Art. 7 and 8 (authorization precedes the transfer);
    ATT_REPORTING.md section 5 (shipment outside validity).
    """
    links = get_links(records, ctx)
    s = links.shipments
    hit = links.with_licence(s[(s["date"] < s["issue"]).fillna(False)])
    msg = ("Shipped on " + fmt_date(hit["date"]) + ", before licence '" + text(hit["licence_no"])
           + "' was issued on " + fmt_date(hit["issue"]) + ". Check both dates (a day/month swap?).")
    return emit_on(hit, "shipment-before-licence", msg, field="date", value=fmt_date(hit["date"]),
                   related=hit["lic_loc"], identity=record_key(hit) + "|" + hit["lic_key"])


@rule("shipment-after-expiry", Severity.ERROR, "reconcile")
def rule_shipment_after_expiry(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A shipment is dated after its licence expired.

    Enforces: ATT Art. 7 and 8 (transfers under a valid authorization);
    ATT_REPORTING.md section 5 (shipment outside validity).
    """
    links = get_links(records, ctx)
    s = links.shipments
    hit = links.with_licence(s[(s["date"] > s["expiry"]).fillna(False)])
    msg = ("Shipped on " + fmt_date(hit["date"]) + ", after licence '" + text(hit["licence_no"])
           + "' expired on " + fmt_date(hit["expiry"]) + ". Check for a licence extension or a wrong date.")
    return emit_on(hit, "shipment-after-expiry", msg, field="date", value=fmt_date(hit["date"]),
                   related=hit["lic_loc"], identity=record_key(hit) + "|" + hit["lic_key"])


@rule("licence-unused", Severity.INFO, "reconcile")
def rule_licence_unused(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A licence has no shipment dated in the reporting year.

    Enforces: good practice (ATT_REPORTING.md section 5, licences unused in
    the year): normal, but it explains why authorized and actual figures differ.
    A shipment left out of the report's scope (own forces, ammunition, parts)
    still uses its licence: the licence was used, and the shipment's own scope
    finding explains the gap. A licence whose every line is out of scope is not
    reported, so it gets no finding.
    """
    links = get_links(records, ctx)
    lic = links.licences
    lic = lic[~lic["lic_excluded"].to_numpy(dtype=bool)]
    if lic.empty:
        return fnd.empty_frame()
    s = links.shipments
    year = _year(ctx)

    def dated(d: np.ndarray) -> np.ndarray:
        d = d.astype("datetime64[ns]")
        if year is None:
            return np.ones(len(d), dtype=bool)
        return (d >= np.datetime64(f"{year:04d}-01-01", "ns")) & (d < np.datetime64(f"{year + 1:04d}-01-01", "ns"))

    # used licences flagged by position (the shipments know their licence's: _li), no group-by
    all_lic = links.licences
    used = np.zeros(len(all_lic), dtype=bool)
    li = s["_li"].to_numpy()
    used[li[(li >= 0) & dated(s["date"].to_numpy())]] = True
    if len(links.excluded):  # out-of-scope shipments by licence id: lic is sorted by _lid
        ex = links.excluded
        used[np.searchsorted(all_lic["_lid"].to_numpy(), ex["_lid"].to_numpy()[dated(ex["date"].to_numpy())])] = True
    lic = lic[~used[~all_lic["lic_excluded"].to_numpy(dtype=bool)]]
    if lic.empty:
        return fnd.empty_frame()
    rows = links.lines.set_index("row_uid").loc[lic["lic_uid"]].reset_index()
    others = links.lines.merge(lic[["_lid", "lic_uid"]], on="_lid")
    others = others[others["row_uid"] != others["lic_uid"]]
    related = group_join(others.assign(loc=location(others)), "lic_uid", "loc")
    rel = rows["row_uid"].map(related).astype(object)
    rel = pd.Series(rel.where(rel.notna(), "").to_numpy(), index=rows.index)
    yr = f" in {year}" if year is not None else ""
    msg = ("Licence '" + text(rows["licence_no"]) + "' has no shipment" + yr
           + " in the customs or defence files. Normal for a licence not (yet) used; "
           "no action needed unless a delivery is known.")
    return emit_on(rows, "licence-unused", msg, field="licence_no", value=text(rows["licence_no"]),
                   related=rel)


@rule("licence-expired-before-year", Severity.WARNING, "reconcile")
def rule_licence_expired_before_year(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A licence in the files had already expired before the reporting year began.

    Enforces: Art. 13(3) reports the preceding calendar year; good practice:
    an expired licence in this year's licensing file suggests an old register
    or a wrong expiry date.
    """
    year = _year(ctx)
    if year is None:
        return fnd.empty_frame()
    expired = ((records["basis"] == "authorized") & (records["valid_until"] < pd.Timestamp(year, 1, 1)))
    hit = records.loc[expired.fillna(False).to_numpy() & in_scope(records, ctx),
                      [*PROV, "licence_no", "valid_until"]]
    msg = ("Licence '" + text(hit["licence_no"]) + "' expired on " + fmt_date(hit["valid_until"])
           + f", before {year} began. Check the expiry date, or whether this file is an old register.")
    return emit_on(hit, "licence-expired-before-year", msg, field="valid_until", value=fmt_date(hit["valid_until"]))


@rule("withheld-inconsistent", Severity.WARNING, "reconcile")
def rule_withheld_inconsistent(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A shipment is not marked withheld while its licence is.

    Enforces: ATT Art. 13(3) (commercially sensitive or national-security
    information may be left out): what the licensing authority withholds must
    not be published through the customs record of the same transfer.
    """
    links = get_links(records, ctx)
    s = links.shipments
    hit = links.with_licence(s[(s["status"] == lk.LINKED) & s["lic_withheld"]
                               & ~s["withheld"].fillna(False).astype(bool)])
    msg = ("Licence '" + text(hit["licence_no"]) + "' is marked withheld (Art. 13(3)) but this shipment "
           "is not, so it would be published. Mark the shipment withheld (override withheld=yes) or accept.")
    return emit_on(hit, "withheld-inconsistent", msg, field="withheld", value="no",
                   related=hit["lic_loc"], identity=record_key(hit) + "|" + hit["lic_key"])


# --- duplicates -----------------------------------------------------------------

@rule("duplicate-merged", Severity.INFO, "reconcile")
def rule_duplicate_merged(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The same transfer appears in two agencies' files and was merged into one record.

    Enforces: no double counting (ATT_REPORTING.md section 4: the same transfer
    in customs and defence files); identical flow, basis, licence, partner,
    category, quantity and date. The record keeps both provenances.
    """
    merges = get_merges(records, ctx)
    if merges.empty:
        return fnd.empty_frame()
    records = records[list(PROV)]
    groups = pd.DataFrame({
        "related": group_join(merges, "survivor_uid", "merged_loc"),
        "keys": group_join(merges, "survivor_uid", "merged_key"),
        "survivor_key": merges.groupby("survivor_uid", sort=True)["survivor_key"].first(),
    })
    by_uid = records.set_index("row_uid")
    present = groups.index.isin(by_uid.index)
    groups = groups[present]
    if groups.empty:
        return fnd.empty_frame()
    rows = by_uid.loc[groups.index].reset_index()
    rows.index = groups.index
    ident = (groups["survivor_key"] + ";" + groups["keys"]).map(lambda k: ";".join(sorted(k.split(";"))))
    msg = ("The same transfer is also in " + groups["related"]
           + "; counted once (merged into this record). Nothing to do unless these are really two transfers.")
    return emit_on(rows, "duplicate-merged", msg, related=groups["related"], identity=ident)


@rule("near-duplicate", Severity.WARNING, "reconcile")
def rule_near_duplicate(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Two agencies list a transfer with the same licence, partner and category, close dates and amounts.

    Enforces: no double counting (ATT_REPORTING.md section 4); dates within
    [reconcile] near_duplicate_days (14) and quantities within
    near_duplicate_tolerance (10%). Not merged: decide (exclude the duplicate,
    or accept as two transfers). Partial deliveries by one agency are normal.
    """
    cfg = getattr(ctx.config, "reconcile", None)
    days = getattr(cfg, "near_duplicate_days", 14)
    tol = getattr(cfg, "near_duplicate_tolerance", 0.10)
    key = ["flow", "basis", "licence_key", "partner_state", "category"]
    # integer codes only until the pairs are known: the self-join can be large
    parts = [codes(records, c) for c in key]
    d = records["date"].to_numpy(dtype="datetime64[ns]")
    usable = (np.logical_and.reduce([p >= 0 for p in parts]) & ~np.isnat(d)
              & (records["quantity"].notna() | records["value"].notna()).to_numpy() & in_scope(records, ctx))
    if not usable.any():
        return fnd.empty_frame()
    pos = np.flatnonzero(usable)
    ag = codes(records, "src_agency")  # alphabetical: decides which side is "b"
    pos = pos[multi_agency_of([p[pos] for p in parts], ag[pos])]  # only groups more than one agency reports
    if not len(pos):
        return fnd.empty_frame()
    small = pd.DataFrame({
        "g": combine_codes(*(p[pos] for p in parts)),
        "ag": ag[pos],
        "uid": pos,  # position in `records`
        "d": d[pos].astype("int64"),
        "q": records["quantity"].iloc[pos].astype("Float64").to_numpy(dtype="float64", na_value=np.nan),
        "v": records["value"].iloc[pos].astype("Float64").to_numpy(dtype="float64", na_value=np.nan),
    })
    pairs = small.merge(small, on="g", suffixes=("_a", "_b"))
    pairs = pairs[pairs["ag_a"] < pairs["ag_b"]]
    close = (pairs["d_a"] - pairs["d_b"]).abs() <= pd.Timedelta(days=days).value
    qa, qb, va, vb = (pairs[c].to_numpy() for c in ("q_a", "q_b", "v_a", "v_b"))
    use_q = ~np.isnan(qa) & ~np.isnan(qb)
    with np.errstate(invalid="ignore"):
        q_close = np.abs(qa - qb) <= tol * np.fmax(qa, qb)
        v_close = np.abs(va - vb) <= tol * np.fmax(va, vb)
    amount_close = np.where(use_q, q_close, v_close)
    pairs = pairs[close.to_numpy() & amount_close]
    if pairs.empty:
        return fnd.empty_frame()
    cols = [*PROV, "date", "quantity"]
    # the finding sits on the second agency's record: excluding it drops the duplicate
    rows = records[cols].iloc[pairs["uid_b"].to_numpy()].reset_index(drop=True)
    other = records[cols].iloc[pairs["uid_a"].to_numpy()].reset_index(drop=True)
    other_loc = location(other)
    ident = _pair_key(record_key(rows), record_key(other))
    msg = ("Possibly the same transfer as " + other_loc + " (same licence, partner and category; dates "
           + fmt_date(rows["date"]) + " and " + fmt_date(other["date"]) + "; quantities "
           + fmt_int(rows["quantity"]) + " and " + fmt_int(other["quantity"]) + "). Not merged: "
           "exclude this record if it is a duplicate, or accept if they are two transfers.")
    return emit_on(rows, "near-duplicate", msg, related=other_loc, identity=ident)


@rule("duplicate-record-id", Severity.ERROR, "reconcile")
def rule_duplicate_record_id(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The same record_id appears more than once in one agency's files.

    Enforces: the intake contract (record_id unique within an agency) and no
    double counting (the same file sent twice, or a monthly and a cumulative
    file). One finding per repeated id, on its first row.
    """
    # rows that take no part count as no agency: they repeat nothing
    repeated = repeated_texts(np.where(active(records, ctx), codes(records, "src_agency"), -1), records["record_id"])
    dup = records.loc[repeated, list(PROV)]
    dup = dup[text(dup["record_id"]).str.strip() != ""]
    if dup.empty:
        return fnd.empty_frame()
    dup = dup.sort_values(["src_agency", "record_id", "src_file", "src_sheet", "src_row"], kind="mergesort")
    dup = dup.assign(_loc=location(dup))
    first = dup.drop_duplicates(["src_agency", "record_id"], keep="first")
    rest = dup[~dup.index.isin(first.index)]
    related = group_join(rest, ["src_agency", "record_id"], "_loc")
    rel = pd.Series(
        related.reindex(pd.MultiIndex.from_frame(first[["src_agency", "record_id"]])).to_numpy(),
        index=first.index,
    )
    msg = ("Record id '" + text(first["record_id"]) + "' appears again at " + rel
           + ". If both rows are the same transfer it is counted twice: exclude one, or give the agency's "
           "rows distinct ids.")
    return emit_on(first, "duplicate-record-id", msg, field="record_id", value=text(first["record_id"]),
                   related=rel)


# --- scope and plausibility -------------------------------------------------------

@rule("own-forces", Severity.WARNING, "reconcile")
def rule_own_forces(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The partner State is the reporting State itself (likely own forces' equipment).

    Enforces: ATT Art. 2(3) (movements by or for a State Party's own forces,
    remaining under its ownership, are out of scope). Excluded from the report
    unless the NPC decides otherwise (accept or override).
    """
    state = getattr(ctx.config, "state", None)
    if not state:
        return fnd.empty_frame()
    hit = records.loc[(records["partner_state"] == state).fillna(False).to_numpy() & active(records, ctx),
                      [*PROV, "partner_state"]]
    msg = (f"The partner State is {state}, the reporting State itself: likely equipment of its own forces "
           "(ATT Art. 2(3), out of scope). Excluded from the report; accept to report it, or override "
           "partner_state if the partner is wrong.")
    return emit_on(hit, "own-forces", msg, field="partner_state", value=text(hit["partner_state"]))


def _hs_facts(records: pd.DataFrame, ctx: RuleContext) -> tuple[np.ndarray, pd.DataFrame]:
    """(fact, facts): hs_lookup per distinct HS code; row i's facts are facts.iloc[fact[i]] (-1: no code)."""
    from att_report.normalise.categories import hs_lookup

    if "hs" not in ctx.extra:
        fact, values = distinct(records, "hs_code")
        facts = hs_lookup(values.astype("string"))
        facts["out_of_scope"] = facts["out_of_scope"].fillna(False).astype(bool)
        facts["candidates"] = text(facts["candidates"])
        ctx.extra["hs"] = (fact, facts)
    return ctx.extra["hs"]


@rule("out-of-scope", Severity.WARNING, "reconcile")
def rule_out_of_scope(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The HS code shows ammunition or parts (headings 9305, 9306 except missiles).

    Enforces: ATT Art. 13(3) covers the Art. 2(1) categories; ammunition
    (Art. 3) and parts and components (Art. 4) are not reported
    (ATT_REPORTING.md sections 1 and 6). Excluded unless the NPC decides otherwise.
    """
    fact, facts = _hs_facts(records, ctx)
    oos = np.append(facts["out_of_scope"].to_numpy(dtype=bool), False)  # [-1]: no HS code
    hit_pos = np.flatnonzero(oos[fact] & active(records, ctx))
    hit = records[[*PROV, "hs_code"]].iloc[hit_pos]
    heading = pd.Series(text(facts["heading"]).to_numpy()[fact[hit_pos]], index=hit.index)
    msg = ("HS code " + text(hit["hs_code"]) + " (heading " + heading + ") is ammunition or parts, "
           "not reported under ATT Art. 13(3). Excluded; accept if it is a complete weapon "
           "(then correct the HS code with the agency).")
    return emit_on(hit, "out-of-scope", msg, field="hs_code", value=text(hit["hs_code"]))


def _fits(category: str, candidates: str) -> bool:
    """Is the category one of the ';'-separated candidates (or under one of them)?"""
    return any(category == c or category.startswith(c + ".") for c in candidates.split(";") if c)


@rule("hs-category-mismatch", Severity.WARNING, "reconcile")
def rule_hs_category_mismatch(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The HS code does not fit the record's ATT category.

    Enforces: consistent classification (ATT_REPORTING.md section 6: the HS
    crosswalk gives hints only, never the category). Check the category or the
    HS code with the agency.
    """
    fact, facts = _hs_facts(records, ctx)
    cat, cats = distinct(records, "category")
    known = np.append(((facts["candidates"] != "") & ~facts["out_of_scope"]).to_numpy(dtype=bool), False)
    checked = known[fact] & (cat >= 0) & in_scope(records, ctx)
    if not checked.any():
        return fnd.empty_frame()
    # per distinct (HS code, category) pair, not per row: a table of the few pairs (small codes)
    f_at, c_at = fact[checked], cat[checked]
    width = len(cats)
    pair = f_at * width + c_at
    seen = np.zeros(len(facts) * width, dtype=bool)
    seen[pair] = True
    cand_text, cat_text = facts["candidates"].to_numpy(dtype=object), cats.astype(str).to_numpy(dtype=object)
    fits = np.zeros(len(seen), dtype=bool)
    for p in np.flatnonzero(seen).tolist():
        fits[p] = _fits(cat_text[p % width], cand_text[p // width])
    hit_pos = np.flatnonzero(checked)[~fits[pair]]
    hit = records[[*PROV, "hs_code", "category"]].iloc[hit_pos]
    c = pd.Series(cand_text[fact[hit_pos]], index=hit.index, dtype="string")
    msg = ("Category " + text(hit["category"]) + " does not fit HS code " + text(hit["hs_code"])
           + " (which suggests " + c.str.replace(";", " or ") + "). Check the category or the HS code.")
    return emit_on(hit, "hs-category-mismatch", msg, field="category", value=text(hit["category"]))


@rule("quantity-outlier", Severity.WARNING, "reconcile")
def rule_quantity_outlier(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A line's number of items is implausibly large for its category (e.g. 1,000 battle tanks).

    Enforces: ATT_REPORTING.md section 5 (outliers such as 10,000 tanks):
    typically a value, weight or HS quantity typed in the quantity column.
    """
    from att_report.normalise.categories import load_categories

    limits = {c.code: c.outlier_quantity for c in load_categories() if getattr(c, "outlier_quantity", None)}
    if not limits:
        return fnd.empty_frame()
    cat, cats = distinct(records, "category")  # the limits per distinct category, not per row
    limit = np.append(cats.map(limits).astype("Float64").to_numpy(dtype="float64", na_value=np.nan), np.nan)[cat]
    qty = records["quantity"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    hit_pos = np.flatnonzero((qty > limit) & in_scope(records, ctx))
    hit = records[[*PROV, "category", "quantity"]].iloc[hit_pos]
    lim = fmt_int(pd.Series(limit[hit_pos], index=hit.index))
    msg = (fmt_int(hit["quantity"]) + " items of category " + text(hit["category"]) + " in one line is more than "
           + lim + ", implausible for this category. Check whether a value, a weight or a customs "
           "quantity was entered as the number of items.")
    return emit_on(hit, "quantity-outlier", msg, field="quantity", value=fmt_int(hit["quantity"]))
