"""Year-on-year comparison with last year's report (ATT_REPORTING.md section 5).

`compare_years(current, previous, config)` lines up, per table (exports,
imports), basis section, category and partner State, last year's and this
year's number of items and value; lists new and vanished partner States;
notes a change of basis (a finding: the basis should stay the same from
year to year), of measure or of currency; and flags large swings for the
national point of contact to explain in the comments:

- `large-swing`: a line's number or value changed by `[compare] swing_factor`
  (default x3) or more, either way;
- `new-partner-large`: a partner State absent last year whose total this
  year is above `[compare] new_partner_threshold` (number of items; value
  when the table reports values only).

The result is a frozen `Comparison` (rows, partners, notes, findings);
renderers (render/comparison_xlsx.py, compare/sections.py) only format it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from att_report import findings as fnd
from att_report.compare.common import (
    TABLE_KEYS, ReportData, category_label, fmt_number, report_data, state_name, totals,
)
from att_report.compile.model import BASIS_ORDER
from att_report.findings import Severity
from att_report.rules import RuleContext, emit, rule

#: Columns of Comparison.rows, in order.
COMPARISON_COLUMNS = (
    "table", "basis", "previous_basis", "category", "partner",
    "previous_number", "number", "number_change", "previous_value", "value", "value_change",
    "status", "flag", "note",
)
#: Columns of Comparison.partners (new and vanished partner States).
PARTNER_COLUMNS = ("table", "basis", "partner", "status", "previous_number", "number", "previous_value", "value")
#: Row statuses.
UNCHANGED, CHANGED, NEW_LINE, NEW_PARTNER, VANISHED_LINE, VANISHED_PARTNER = (
    "unchanged", "changed", "new line", "new partner", "vanished line", "vanished partner")
SHEET_OF = {"exports": "Exports", "imports": "Imports"}


class CompareError(ValueError):
    """The two reports cannot be compared (other State, same year...): the message says why."""


@dataclass(frozen=True, eq=False)
class Comparison:
    state: str
    year: int
    previous_year: int | None
    current_source: str
    previous_source: str
    currency: str
    previous_currency: str
    swing_factor: float
    new_partner_threshold: float
    pairs: tuple[tuple[str, str, str], ...]  # (table, this year's basis, last year's basis) compared
    bases: dict  # table -> (last year's bases, this year's bases)
    measures: dict  # table -> (last year's measure, this year's measure)
    rows: pd.DataFrame  # COMPARISON_COLUMNS
    partners: pd.DataFrame  # PARTNER_COLUMNS
    notes: tuple[str, ...]
    findings: pd.DataFrame  # findings.LOG_FIELDS

    @property
    def flagged(self) -> pd.DataFrame:
        return self.rows[self.rows["flag"] != ""]

    def comparison_filename(self) -> str:
        return comparison_filename(self.year)


def comparison_filename(year: int) -> str:
    return f"comparison_{year}.xlsx"


def _basis_words(bases: tuple[str, ...]) -> str:
    return " and ".join(bases) if bases else "none"


# --- rules (registered for the catalogue; called by compare_years) --------------

@rule("basis-changed", Severity.WARNING, "compare")
def rule_basis_changed(rows: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The basis of a table (authorized / actual) differs from last year's report.

    Enforces: ATT Art. 13(3) lets a State choose authorized or actual
    figures; ATT_REPORTING.md section 1: the basis should stay the same from
    year to year, and a change deserves a note (the figures are not comparable).
    """
    tables = ctx.extra["tables"]
    changed = tables[tables["previous_bases"].ne(tables["bases"]) & tables["previous_bases"].ne("")
                     & tables["bases"].ne("")]
    if changed.empty:
        return fnd.empty_frame()
    year, prev_year = ctx.extra["year"], ctx.extra["previous_year"]
    message = (
        changed["label"] + ": the basis changed from " + changed["previous_bases"] + f" ({prev_year}) to "
        + changed["bases"] + f" ({year}). Authorized and actual figures are not comparable: say so in the "
        "report (national definition or comments) or keep last year's basis ([" + changed["table"]
        + "] basis in att-report.toml)."
    )
    return emit(changed, "basis-changed", message, field="basis",
                value=changed["previous_bases"] + " -> " + changed["bases"],
                identity=(changed["table"], changed["previous_bases"], changed["bases"]))


def _ratio(prev: pd.Series, cur: pd.Series) -> pd.Series:
    """max/min of two positive figures (NaN when either is missing or not positive)."""
    p = prev.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    c = cur.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    ok = (p > 0) & (c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(ok, np.maximum(p, c) / np.minimum(p, c), np.nan)
    return pd.Series(r, index=prev.index)


@rule("large-swing", Severity.WARNING, "compare")
def rule_large_swing(rows: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A line's number of items or value changed by the swing factor or more since last year.

    Enforces: good practice (ATT_REPORTING.md section 5, year-on-year
    comparison): a large change is explained in the comments on the transfer
    or corrected. `[compare] swing_factor` sets the factor (default 3).
    """
    factor = float(ctx.config.compare.swing_factor)
    rn, rv = rows["_ratio_number"], rows["_ratio_value"]
    hit = rows[(rn >= factor).fillna(False) | (rv >= factor).fillna(False)]
    if hit.empty:
        return fnd.empty_frame()
    year, prev_year = ctx.extra["year"], ctx.extra["previous_year"]
    use_number = (hit["_ratio_number"] >= factor).fillna(False)
    what = pd.Series(np.where(use_number, "number of items", "value"), index=hit.index)
    before = np.where(use_number, hit["previous_number"].map(fmt_number), hit["previous_value"].map(fmt_number))
    after = np.where(use_number, hit["number"].map(fmt_number), hit["value"].map(fmt_number))
    ratio = np.where(use_number, hit["_ratio_number"], hit["_ratio_value"])
    direction = np.where(
        np.where(use_number, hit["number"].astype("Float64").fillna(0) > hit["previous_number"].astype("Float64")
                 .fillna(0), hit["value"].astype("Float64").fillna(0) > hit["previous_value"].astype("Float64")
                 .fillna(0)), "up", "down")
    ratio_text = pd.Series([f"x{r:.1f}" for r in ratio], index=hit.index)
    message = (
        hit["_where"] + ": " + what + " " + pd.Series(before, index=hit.index) + f" in {prev_year}, "
        + pd.Series(after, index=hit.index) + f" in {year} (" + pd.Series(direction, index=hit.index) + " "
        + ratio_text + "). Explain the change in 'Comments on the transfer', or check the data."
    )
    return emit(hit, "large-swing", message, field=pd.Series(np.where(use_number, "number", "value"),
                                                              index=hit.index),
                value=pd.Series(before, index=hit.index) + " -> " + pd.Series(after, index=hit.index),
                related=hit["category"] + " " + hit["partner"],
                identity=(hit["table"], hit["basis"], hit["category"], hit["partner"]))


@rule("new-partner-large", Severity.WARNING, "compare")
def rule_new_partner_large(rows: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A partner State absent from last year's table comes in above the new-partner threshold.

    Enforces: good practice (ATT_REPORTING.md section 5, year-on-year
    comparison): a large new partner is checked and explained in the
    comments. `[compare] new_partner_threshold` (number of items; value when
    the table reports values only; default 100).
    """
    partners = ctx.extra["partners"]
    new = partners[partners["status"].eq("new") & partners["_large"]]
    if new.empty:
        return fnd.empty_frame()
    year, prev_year = ctx.extra["year"], ctx.extra["previous_year"]
    size = pd.Series(np.where(new["number"].notna(), new["number"].map(fmt_number) + " items",
                              new["value"].map(fmt_number) + " in value"), index=new.index)
    message = (
        new["_label"] + ": " + new["_pname"] + f" is a new partner State in {year} with " + size
        + f" (none in {prev_year}; threshold {fmt_number(ctx.config.compare.new_partner_threshold)}). "
        "Explain it in 'Comments on the transfer', or check the partner and the data."
    )
    return emit(new, "new-partner-large", message, field="partner", value=new["partner"],
                identity=(new["table"], new["basis"], new["partner"]))


# --- the comparison -------------------------------------------------------------

def _pairs(cur: tuple[str, ...], prev: tuple[str, ...]) -> list[tuple[str, str]]:
    """Which sections to line up: the same basis when both years have it, else actual-ish with the other."""
    common = [b for b in BASIS_ORDER if b in cur and b in prev]
    if common:
        return [(b, b) for b in common]
    if cur and prev:
        return [(cur[-1], prev[-1])]  # not like-for-like: noted and a finding
    return []


def _compare_section(cur: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    c = totals(cur, ["category", "partner"])
    p = totals(prev, ["category", "partner"]).rename(columns={"number": "previous_number", "value": "previous_value"})
    merged = c.assign(_in_cur=True).merge(p.assign(_in_prev=True), on=["category", "partner"], how="outer")
    merged["_in_cur"] = merged["_in_cur"].astype("boolean").fillna(False).astype(bool)
    merged["_in_prev"] = merged["_in_prev"].astype("boolean").fillna(False).astype(bool)
    for col, kind in (("number", "Int64"), ("previous_number", "Int64"), ("value", "Float64"),
                      ("previous_value", "Float64")):
        merged[col] = merged[col].astype(kind)
    cur_partners = set(c["partner"])
    prev_partners = set(p["partner"])
    both = merged["_in_cur"] & merged["_in_prev"]
    same = (both & merged["number"].fillna(-1).eq(merged["previous_number"].fillna(-1))
            & merged["value"].fillna(-1).eq(merged["previous_value"].fillna(-1)))
    status = pd.Series(CHANGED, index=merged.index, dtype=object)
    status = status.mask(same, UNCHANGED)
    only_cur = merged["_in_cur"] & ~merged["_in_prev"]
    only_prev = ~merged["_in_cur"] & merged["_in_prev"]
    status = status.mask(only_cur, np.where(merged["partner"].isin(prev_partners), NEW_LINE, NEW_PARTNER))
    status = status.mask(only_prev, np.where(merged["partner"].isin(cur_partners), VANISHED_LINE, VANISHED_PARTNER))
    merged["status"] = status
    # a line absent one year counts as 0 that year; a figure not reported stays unknown
    n_cur = merged["number"].mask(only_prev, 0)
    n_prev = merged["previous_number"].mask(only_cur, 0)
    v_cur = merged["value"].mask(only_prev, 0.0)
    v_prev = merged["previous_value"].mask(only_cur, 0.0)
    merged["number_change"] = (n_cur - n_prev).astype("Int64")
    merged["value_change"] = (v_cur - v_prev).astype("Float64")
    return merged


def compare_years(current, previous, config) -> Comparison:
    """Compare this year's report (ReportModel or ReadBack) with last year's (ReadBack).

    Raises CompareError when the two cannot be compared (different reporting
    State, or not an earlier year).
    """
    from att_report.compile.template import load_template

    cur = current if isinstance(current, ReportData) else report_data(current)
    prev = previous if isinstance(previous, ReportData) else report_data(previous)
    if cur.state and prev.state and cur.state != prev.state:
        raise CompareError(f"{prev.source} is the report of {state_name(prev.state)} ({prev.state}), not of "
                           f"{state_name(cur.state)} ({cur.state}); give last year's report of the same State.")
    year = cur.year if cur.year is not None else config.year
    if prev.year is not None and prev.year >= year:
        raise CompareError(f"{prev.source} covers {prev.year}; it must be an earlier year than {year}.")
    prev_year = prev.year if prev.year is not None else year - 1
    notes: list[str] = []
    if prev.year is None:
        notes.append(f"{prev.source} does not say which year it covers; taken as {prev_year}.")
    elif prev.year != year - 1:
        notes.append(f"{prev.source} covers {prev.year}, not {year - 1}: the comparison spans {year - prev.year} years.")
    if prev.draft:
        notes.append(f"{prev.source} is marked DRAFT: last year's figures may not be the ones submitted.")
    if prev.unresolved:
        notes.append(f"Partner names in {prev.source} that are not States we recognise (kept as written): "
                     + ", ".join(prev.unresolved) + ".")
    value_ok = (cur.currency or "") == (prev.currency or "") or not (cur.currency and prev.currency)
    if not value_ok:
        notes.append(f"Values are in {prev.currency} in {prev_year} and in {cur.currency} in {year}: "
                     "value changes are shown but not flagged; compare numbers of items.")
    tpl = load_template()
    parts, tables, partners_parts, pairs = [], [], [], []
    bases_info, measures = {}, {}
    for key in TABLE_KEYS:
        label = tpl.tables[key].title.split(" of ")[0] if " of " in tpl.tables[key].title else key.title()
        cb, pb = cur.bases.get(key, ()), prev.bases.get(key, ())
        bases_info[key] = (pb, cb)
        tables.append({"table": key, "label": label, "bases": _basis_words(cb), "previous_bases": _basis_words(pb)})
        cm, pm = cur.measure(key), prev.measure(key)
        measures[key] = (pm, cm)
        if cm and pm and cm != pm:
            notes.append(f"{label}: the measure changed from {pm} ({prev_year}) to {cm} ({year}) "
                         "(number of items / value): only the figure given in both years can be compared.")
        for basis, pbasis in _pairs(cb, pb):
            pairs.append((key, basis, pbasis))
            if basis != pbasis:
                notes.append(f"{label}: {year} ({basis}) is compared with {prev_year} ({pbasis}): "
                             "not like-for-like, see the basis-changed finding.")
            merged = _compare_section(cur.table_lines(key, basis), prev.table_lines(key, pbasis))
            merged = merged.assign(table=key, basis=basis, previous_basis=pbasis, _label=label)
            parts.append(merged)
            # new and vanished partner States, with their totals
            per_partner = merged.groupby("partner", sort=True).agg(
                status=("status", lambda s: "new" if s.eq(NEW_PARTNER).all()
                        else "vanished" if s.eq(VANISHED_PARTNER).all() else ""),
                number=("number", lambda s: s.sum(min_count=1)), value=("value", lambda s: s.sum(min_count=1)),
                previous_number=("previous_number", lambda s: s.sum(min_count=1)),
                previous_value=("previous_value", lambda s: s.sum(min_count=1)),
            ).reset_index() if not merged.empty else pd.DataFrame(columns=["partner", "status"])
            per_partner = per_partner[per_partner["status"].ne("")]
            if not per_partner.empty:
                partners_parts.append(per_partner.assign(table=key, basis=basis, _label=label))
        compared = [(b, p) for k, b, p in pairs if k == key]
        for basis in cb:
            if basis not in {b for b, _ in compared}:
                notes.append(f"{label}: the {basis} section of {year} has no counterpart in {prev_year}; "
                             "it is not compared.")
        for basis in pb:
            if basis not in {p for _, p in compared}:
                notes.append(f"{label}: the {basis} section of {prev_year} has no counterpart in {year}; "
                             "it is not compared.")
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=[*COMPARISON_COLUMNS, "_label"])
    partners = pd.concat(partners_parts, ignore_index=True) if partners_parts else pd.DataFrame(
        columns=[*PARTNER_COLUMNS, "_label"])
    for frame in (rows, partners):
        for col, kind in (("number", "Int64"), ("previous_number", "Int64"), ("value", "Float64"),
                          ("previous_value", "Float64")):
            frame[col] = frame[col].astype(kind)
    # order: table, basis, template category order, partner's English name
    order = tpl.category_order
    names = {p: state_name(p) for p in set(rows["partner"]) | set(partners["partner"])}
    rows["_t"] = rows["table"].map({k: i for i, k in enumerate(TABLE_KEYS)})
    rows["_b"] = rows["basis"].map({b: i for i, b in enumerate(BASIS_ORDER)})
    rows["_c"] = rows["category"].map(order).fillna(len(order))
    rows["_pname"] = rows["partner"].map(names).fillna("")
    rows = rows.sort_values(["_t", "_b", "_c", "category", "_pname", "partner"], kind="mergesort").reset_index(drop=True)
    partners["_pname"] = partners["partner"].map(names).fillna("")
    partners = partners.sort_values(["table", "basis", "status", "_pname"], kind="mergesort").reset_index(drop=True)

    # flags, vectorised over the compared lines
    present = rows["status"].isin([CHANGED, UNCHANGED])
    rows["_ratio_number"] = _ratio(rows["previous_number"], rows["number"]).where(present)
    rows["_ratio_value"] = _ratio(rows["previous_value"], rows["value"]).where(present & value_ok)
    threshold = float(config.compare.new_partner_threshold)
    big_n = partners["number"].astype("Float64").gt(threshold).fillna(False).astype(bool)
    big_v = (partners["number"].isna() & partners["value"].astype("Float64").gt(threshold).fillna(False)).astype(bool)
    partners["_large"] = big_n | big_v
    factor = float(config.compare.swing_factor)
    swing = (rows["_ratio_number"] >= factor).fillna(False) | (rows["_ratio_value"] >= factor).fillna(False)
    new_large = partners.loc[partners["_large"] & partners["status"].eq("new"), ["table", "basis", "partner"]]
    is_new_large = (rows[["table", "basis", "partner"]].merge(new_large.assign(_hit=True), how="left",
                                                               on=["table", "basis", "partner"])["_hit"]
                    .astype("boolean").fillna(False).astype(bool).to_numpy())
    rows["flag"] = np.where(swing, "large-swing", np.where(is_new_large, "new-partner-large", ""))
    rows["note"] = np.where(rows["basis"] != rows["previous_basis"],
                            "bases differ: " + rows["previous_basis"].astype(str) + " -> " + rows["basis"].astype(str),
                            "")
    rows["_where"] = (rows["_label"] + " (" + rows["basis"] + "), " + rows["category"].map(category_label)
                      + ", " + rows["_pname"])
    partners["_pname"] = partners["_pname"].replace("", "(no partner State)")

    sheet = {k: tpl.sheets[k] for k in TABLE_KEYS}
    prov = {"src_agency": "", "src_file": cur.source, "src_row": pd.NA}
    rows_p = rows.assign(**prov, src_sheet=rows["table"].map(sheet))
    partners_p = partners.assign(**prov, src_sheet=partners["table"].map(sheet))
    tables_f = pd.DataFrame(tables)
    tables_f = tables_f.assign(**prov, src_sheet=tables_f["table"].map(sheet))
    ctx = RuleContext(config=config, extra={"tables": tables_f, "partners": partners_p, "year": year,
                                            "previous_year": prev_year})
    findings = fnd.sort_frame(fnd.concat([
        rule_basis_changed(rows_p, ctx), rule_large_swing(rows_p, ctx), rule_new_partner_large(rows_p, ctx),
    ]))
    return Comparison(
        state=cur.state or config.state, year=year, previous_year=prev_year, current_source=cur.source,
        previous_source=prev.source, currency=cur.currency, previous_currency=prev.currency,
        swing_factor=factor, new_partner_threshold=threshold, pairs=tuple(pairs), bases=bases_info,
        measures=measures, rows=rows[list(COMPARISON_COLUMNS)].reset_index(drop=True),
        partners=partners[list(PARTNER_COLUMNS)].reset_index(drop=True), notes=tuple(notes), findings=findings,
    )


# --- finding last year's report -------------------------------------------------

def find_previous_report(path: Path, state: str | None = None, year: int | None = None) -> Path:
    """Last year's report workbook: PATH itself, or the one in folder PATH (via its manifest.json).

    Raises CompareError with a plain message when there is none or several.
    """
    import json

    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CompareError(f"{path} not found: give last year's report workbook (ATT_annual_report_<STATE>_<YEAR>.xlsx) "
                           "or the folder holding it.")
    candidates: list[Path] = []
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            candidates = [path / o["path"] for o in data.get("outputs", [])
                          if str(o.get("path", "")).startswith("ATT_annual_report_")
                          and str(o["path"]).endswith(".xlsx")]
        except (ValueError, KeyError, TypeError, AttributeError):
            candidates = []
    if not candidates:
        candidates = sorted(path.glob("ATT_annual_report_*.xlsx"))
    if state:
        mine = [p for p in candidates if f"_{state}_" in p.name]
        candidates = mine or candidates
    if year is not None and len(candidates) > 1:
        earlier = [p for p in candidates if p.stem.rsplit("_", 1)[-1] == str(year - 1)]
        candidates = earlier or candidates
    candidates = [p for p in candidates if p.is_file()]
    if not candidates:
        raise CompareError(f"No report workbook (ATT_annual_report_<STATE>_<YEAR>.xlsx) in {path}.")
    if len(candidates) > 1:
        raise CompareError(f"Several report workbooks in {path} ({', '.join(p.name for p in candidates)}); "
                           "give the file itself.")
    return candidates[0]
