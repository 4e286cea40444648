"""Mirror check against partner States' published reports (ATT_REPORTING.md section 5).

Pair by pair and per category: our exports to X against X's imports from
us, and our imports from X against X's exports to us. A difference is
ignored when it is at most `[mirror] min_abs` (absolute, default 5) or at
most `[mirror] tolerance` (relative to the larger figure, default 0.25);
a larger one is a `mirror-difference` finding whose message lists the
usual explanations to look at first: different basis (authorized vs
actual), delivery across the year boundary, transit, classification.

Numbers of items are compared; values only where a side gives no number and
both reports use the same currency (values in different currencies are not
compared). Partner reports are att-report's own workbook layout
(render/readback.py) or a plain table (csv / xlsx) with the template's
columns (`read_plain_table`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from att_report import findings as fnd
from att_report.compare.common import (
    ReportData, category_label, fmt_number, report_data, state_name, totals,
)
from att_report.compile.model import BASIS_ORDER
from att_report.findings import Severity
from att_report.render.readback import READ_COLUMNS, ReadBack, ReadBackError, ReadTable
from att_report.rules import RuleContext, emit, rule

#: Columns of MirrorResult.rows, in order.
MIRROR_COLUMNS = (
    "partner", "direction", "category", "our_basis", "their_basis", "measure",
    "ours", "theirs", "difference", "relative", "status",
)
#: direction -> (our table, their table)
DIRECTIONS = {"exports": ("exports", "imports"), "imports": ("imports", "exports")}
MATCH, WITHIN, DIFFERENCE, NOT_COMPARABLE = "match", "within tolerance", "difference", "not comparable"
EXPLANATIONS = (
    "different basis (authorized vs actual figures)",
    "delivery across the year boundary (shipped in one year, received in the next)",
    "transit (goods passing through a third State, or a State of origin named instead of the exporter)",
    "classification (the same items under another category or sub-category)",
)


class MirrorError(ValueError):
    """A partner report cannot be read or used; the message says why."""


@dataclass(frozen=True, eq=False)
class MirrorResult:
    state: str
    year: int
    tolerance: float
    min_abs: float
    partners: tuple[tuple[str, str, int | None, str], ...]  # (ISO code, name, year, source file)
    rows: pd.DataFrame  # MIRROR_COLUMNS
    notes: tuple[str, ...]
    findings: pd.DataFrame  # findings.LOG_FIELDS

    @property
    def differences(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == DIFFERENCE]


def mirror_filename(year: int) -> str:
    return f"mirror_{year}.xlsx"


# --- the rule -------------------------------------------------------------------

@rule("mirror-difference", Severity.WARNING, "compare")
def rule_mirror_difference(rows: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Our figure for a partner State and category differs from the partner's own report beyond tolerance.

    Enforces: good practice (ATT_REPORTING.md section 5, mirror check;
    ATT Monitor / SIPRI analyses): differences above `[mirror] tolerance`
    and `[mirror] min_abs` are explained before submission; the usual
    causes are listed in the message.
    """
    hit = rows[rows["status"].eq(DIFFERENCE)]
    if hit.empty:
        return fnd.empty_frame()
    us, year = ctx.extra["us_name"], ctx.extra["year"]
    unit = np.where(hit["measure"].eq("number"), " items", " in value")
    ours = hit["ours"].map(fmt_number) + unit
    theirs = hit["theirs"].map(fmt_number) + unit
    our_flow = np.where(hit["direction"].eq("exports"), "Our exports to ", "Our imports from ")
    their_flow = np.where(hit["direction"].eq("exports"), " reports imports from ", " reports exports to ")
    basis_first = np.where(
        hit["our_basis"].ne(hit["their_basis"]),
        "The bases differ (we report " + hit["our_basis"] + ", " + hit["_pname"] + " reports "
        + hit["their_basis"] + "): that alone may explain it. ", "")
    pct = (hit["relative"].astype(float) * 100).round().astype(int).astype(str)
    message = (
        pd.Series(our_flow, index=hit.index) + hit["_pname"] + ", " + hit["category"].map(category_label)
        + f" ({year}, " + hit["our_basis"] + "): " + ours + "; " + hit["_pname"]
        + pd.Series(their_flow, index=hit.index) + us + " of " + theirs + " (" + hit["their_basis"]
        + "): a difference of " + hit["difference"].map(fmt_number) + " (" + pct + "%). "
        + pd.Series(basis_first, index=hit.index) + hit["_withheld"]
        + "Check first: " + "; ".join(EXPLANATIONS) + ". Explain it in 'Comments on the transfer' or correct the data."
    )
    return emit(hit, "mirror-difference", message, field=hit["measure"],
                value=hit["ours"].map(fmt_number) + " vs " + hit["theirs"].map(fmt_number),
                related=hit["_source"],
                identity=(hit["partner"], hit["direction"], hit["category"], hit["our_basis"], hit["their_basis"]))


# --- the check ------------------------------------------------------------------

def _pick_bases(ours: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, str] | None:
    """The sections to compare: the same basis (actual first), else each side's actual-most one."""
    for basis in reversed(BASIS_ORDER):  # actual, then authorized
        if basis in ours and basis in theirs:
            return basis, basis
    if ours and theirs:
        return ours[-1], theirs[-1]
    return None


def _compare_pair(ours: pd.DataFrame, theirs: pd.DataFrame, same_currency: bool, tolerance: float,
                  min_abs: float) -> pd.DataFrame:
    o = totals(ours, ["category"]).rename(columns={"number": "our_number", "value": "our_value"})
    t = totals(theirs, ["category"]).rename(columns={"number": "their_number", "value": "their_value"})
    m = o.assign(_o=True).merge(t.assign(_t=True), on="category", how="outer")
    if m.empty:
        return m.assign(measure=pd.Series(dtype=object), ours=pd.Series(dtype="float64"),
                        theirs=pd.Series(dtype="float64"), status=pd.Series(dtype=object))
    has_o = m["_o"].astype("boolean").fillna(False).astype(bool)
    has_t = m["_t"].astype("boolean").fillna(False).astype(bool)

    def side(col: str, present: pd.Series) -> np.ndarray:
        # a side with no line for the category reported nothing: 0
        values = m[col].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        return np.where(present.to_numpy(), values, 0.0)

    on, tn = side("our_number", has_o), side("their_number", has_t)
    ov, tv = side("our_value", has_o), side("their_value", has_t)
    use_number = ~np.isnan(on) & ~np.isnan(tn)
    use_value = ~use_number & same_currency & ~np.isnan(ov) & ~np.isnan(tv)
    ours_fig = np.where(use_number, on, np.where(use_value, ov, np.nan))
    theirs_fig = np.where(use_number, tn, np.where(use_value, tv, np.nan))
    diff = np.abs(ours_fig - theirs_fig)
    larger = np.maximum(ours_fig, theirs_fig)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(larger > 0, diff / larger, 0.0)
    comparable = use_number | use_value
    status = np.where(~comparable, NOT_COMPARABLE,
                      np.where(diff == 0, MATCH,
                               np.where((diff <= min_abs) | (rel <= tolerance), WITHIN, DIFFERENCE)))
    return m.assign(measure=np.where(use_number, "number", np.where(use_value, "value", "")),
                    ours=ours_fig, theirs=theirs_fig, difference=diff, relative=np.where(comparable, rel, np.nan),
                    status=status)


def mirror_check(ours, partner_reports: list, config) -> MirrorResult:
    """Compare our report (ReportModel or ReadBack) with partner States' reports (ReadBack), pair by pair."""
    from att_report.compile.template import load_template

    us = ours if isinstance(ours, ReportData) else report_data(ours)
    state = us.state or config.state
    year = us.year if us.year is not None else config.year
    tolerance, min_abs = float(config.mirror.tolerance), float(config.mirror.min_abs)
    notes: list[str] = []
    parts, partners = [], []
    seen: dict[str, str] = {}
    for report in partner_reports:
        them = report if isinstance(report, ReportData) else report_data(report)
        x = them.state
        if not x:
            notes.append(f"{them.source}: the reporting State is not known; skipped.")
            continue
        if x == state:
            notes.append(f"{them.source} is a report of {state_name(x)} itself; skipped.")
            continue
        if x in seen:
            notes.append(f"{them.source}: a second report of {state_name(x)} (first: {seen[x]}); skipped.")
            continue
        seen[x] = them.source
        partners.append((x, state_name(x), them.year, them.source))
        if them.year is not None and them.year != year:
            notes.append(f"{them.source} covers {them.year}, not {year}: differences are expected.")
        same_currency = bool(us.currency) and us.currency == them.currency
        withheld = (f"{state_name(x)} declares that it withheld some data (Art. 13(3)). " if them.withheld else "")
        for direction, (our_table, their_table) in DIRECTIONS.items():
            pick = _pick_bases(us.bases.get(our_table, ()), them.bases.get(their_table, ()))
            if pick is None:
                continue
            ob, tb = pick
            mine = us.table_lines(our_table, ob)
            theirs = them.table_lines(their_table, tb)
            pair = _compare_pair(mine[mine["partner"].eq(x)], theirs[theirs["partner"].eq(state)],
                                 same_currency, tolerance, min_abs)
            if pair.empty:
                continue
            parts.append(pair.assign(partner=x, direction=direction, our_basis=ob, their_basis=tb,
                                     _pname=state_name(x), _source=them.source, _withheld=withheld))
    columns = [*MIRROR_COLUMNS, "_pname", "_source", "_withheld"]
    rows = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    order = load_template().category_order
    rows = rows.assign(_c=rows["category"].map(order).fillna(len(order)),
                       _d=rows["direction"].map({"exports": 0, "imports": 1}))
    rows = rows.sort_values(["_pname", "partner", "_d", "_c", "category"], kind="mergesort").reset_index(drop=True)
    sheet = load_template().sheets
    prov = rows.assign(src_agency="", src_file=us.source, src_row=pd.NA,
                       src_sheet=rows["direction"].map({"exports": sheet["exports"], "imports": sheet["imports"]}))
    ctx = RuleContext(config=config, extra={"us_name": state_name(state), "year": year})
    findings = fnd.sort_frame(rule_mirror_difference(prov, ctx)) if not rows.empty else fnd.empty_frame()
    out = rows[list(MIRROR_COLUMNS)].reset_index(drop=True)
    for col in ("ours", "theirs", "difference", "relative"):
        out[col] = out[col].astype("float64")
    return MirrorResult(state=state, year=year, tolerance=tolerance, min_abs=min_abs,
                        partners=tuple(sorted(partners, key=lambda p: p[1])), rows=out, notes=tuple(notes),
                        findings=findings)


# --- reading partner reports ----------------------------------------------------

def _key(text: object) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text or "").casefold()).strip()


def _plain_headers() -> dict[str, str]:
    """Header text (normalised) -> field, from the ATT template's columns (plus a few extras)."""
    from att_report.compile.template import load_template

    tpl = load_template()
    out = {}
    for col in tpl.columns:
        if col.header:
            out[_key(col.header)] = col.key
    out[_key(tpl.tables["exports"].partner_header)] = "importer"
    out[_key(tpl.tables["imports"].partner_header)] = "exporter"
    out[_key(tpl.tables["exports"].category_header)] = "category"
    for text, field in (("Reporting State", "reporting_state"), ("Year", "year"), ("Calendar year", "year"),
                        ("Basis", "basis"), ("Currency", "currency"), ("Table", "table"), ("Flow", "table")):
        out[_key(text)] = field
    return out


def _load_plain(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, header=None, encoding="utf-8-sig")
    else:
        raw = pd.read_excel(path, sheet_name=0, header=None, dtype=str, engine="openpyxl").fillna("")
    heads = _plain_headers()
    for i in range(min(len(raw), 30)):  # the header row may sit under a title block
        cells = [_key(v) for v in raw.iloc[i].tolist()]
        if "category" in [heads.get(c) for c in cells]:
            frame = raw.iloc[i + 1:].copy()
            frame.columns = [heads.get(c, f"_extra{j}") for j, c in enumerate(cells)]
            return frame.reset_index(drop=True)
    raise MirrorError(f"{path.name}: no header row with a 'Category' column; a plain partner table needs the "
                      "ATT template's column headers (Category, Final importing State / Exporting State, "
                      "Number of items, ...).")


def read_plain_table(path: Path, state: str | None = None, year: int | None = None) -> ReadBack:
    """A partner report given as one plain table (csv or xlsx) with the ATT template's column headers.

    Each row is an export when 'Final importing State' is filled, an import
    when 'Exporting State' is (or per a 'Table' column: exports / imports).
    The reporting State comes from a 'Reporting State' column, else `state`,
    else a code in the file name (partner_DEU_2024.csv); the year likewise.
    """
    from att_report.normalise.categories import resolve_category
    from att_report.normalise.countries import resolve_country

    path = Path(path)
    frame = _load_plain(path)
    col = lambda name: frame[name].astype(str).str.strip() if name in frame else pd.Series("", index=frame.index)  # noqa: E731
    if not frame.empty:  # drop blank rows (per column, vectorised)
        frame = frame[frame.astype(str).apply(lambda s: s.str.strip().ne("")).any(axis=1)]
    rep = next((v for v in col("reporting_state") if v), "") or (state or "")
    if not rep:
        m = re.search(r"(?:^|[_\-\s])([A-Z]{3})(?:[_\-\s.]|$)", path.stem)
        rep = m.group(1) if m else ""
    code = resolve_country(rep) if rep else None
    if not code:
        raise MirrorError(f"{path.name}: cannot tell which State's report this is; add a 'Reporting State' column "
                          "or name the file like partner_DEU_2024.csv.")
    year_text = next((v for v in col("year") if v), "") or (str(year) if year else "")
    if not year_text:
        m = re.search(r"(?:19|20)\d\d", path.stem)
        year_text = m.group(0) if m else ""
    table = col("table").str.casefold()
    importer, exporter = col("importer"), col("exporter")
    is_export = table.str.startswith("export") | (table.eq("") & importer.ne(""))
    is_import = table.str.startswith("import") | (table.eq("") & importer.eq("") & exporter.ne(""))
    basis = col("basis").str.casefold().map(lambda b: "authorized" if b.startswith("authori") else "actual")
    partner_text = importer.where(is_export, exporter)
    cats = {v: resolve_category(v) for v in col("category").unique()}
    unresolved_cats = sorted(v for v, c in cats.items() if v and c is None)
    if unresolved_cats:
        raise MirrorError(f"{path.name}: categories not understood: {', '.join(unresolved_cats[:5])}.")
    names = {v: resolve_country(v) for v in pd.concat([partner_text, col("origin")]).unique() if v}

    def lines(mask: pd.Series) -> pd.DataFrame:
        def num(s: pd.Series, kind: str):
            cleaned = s.str.replace(",", "", regex=False).str.replace(" ", "", regex=False)
            return pd.to_numeric(cleaned.replace("", None), errors="coerce").astype(kind)
        part = pd.DataFrame({
            "category": col("category")[mask].map(cats),
            "partner": partner_text[mask].map(lambda v: names.get(v) or v),
            "origin": col("origin")[mask].map(lambda v: names.get(v) or v),
            "intermediates": col("intermediates")[mask],
            "number": num(col("number")[mask], "Float64").round().astype("Int64"),
            "value": num(col("value")[mask], "Float64"),
            "description": col("description")[mask], "comments": col("comments")[mask],
            "basis": basis[mask],
        })
        for c in ("category", "partner", "origin", "intermediates", "description", "comments"):
            part[c] = part[c].astype("string")
        return part

    def read_table(key: str, mask: pd.Series) -> ReadTable:
        part = lines(mask)
        sections = {b: part[part["basis"].eq(b)][list(READ_COLUMNS)].reset_index(drop=True)
                    for b in BASIS_ORDER if part["basis"].eq(b).any()}
        if not sections:
            sections = {"actual": part[list(READ_COLUMNS)]}
        basis_word = "both" if len(sections) > 1 else next(iter(sections))
        return ReadTable(key=key, basis=basis_word, sections=sections, nil=part.empty)

    currency = next((v for v in col("currency") if v), "").upper()
    return ReadBack(
        path=path, state=code, year=int(year_text) if year_text.isdigit() else None, currency=currency,
        exports=read_table("exports", is_export), imports=read_table("imports", is_import),
        cover={"state_code": code}, unresolved=tuple(sorted(v for v, c in names.items() if not c)),
    )


def read_partner_report(path: Path) -> ReadBack:
    """A partner's report: att-report's workbook layout, else a plain table (csv / xlsx)."""
    from att_report.render.readback import read_report

    path = Path(path)
    if not path.is_file():
        raise MirrorError(f"Partner report not found: {path}.")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            return read_report(path)
        except ReadBackError:
            pass  # not att-report's layout: try a plain table
    elif path.suffix.lower() != ".csv":
        raise MirrorError(f"{path.name}: give a partner report as .xlsx (att-report's layout or a plain table) "
                          "or .csv (a plain table).")
    try:
        return read_plain_table(path)
    except MirrorError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a message, not a traceback
        raise MirrorError(f"{path.name} could not be read as a partner report: {exc}") from None
