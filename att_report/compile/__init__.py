"""compile stage: records -> the frozen report model (lines per table and basis).

Entry point: `compile_report(records, config, draft=...)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from att_report import findings as fnd
from att_report.compile import rules as _rules  # noqa: F401  (registers the compile rules)
from att_report.compile.lines import (
    LINE_KEY_COLUMNS, Work, _also_from, _empty_sources, _row_numbers, build_lines, compress_sources, convert_values, dispositions,
    report_currency, table_bases, text_codes_at,
)
from att_report.compile.model import (
    LINE_COLUMNS, SOURCE_COLUMNS, CompileResult, Cover, ReportModel, Section, TableModel,
)
from att_report.compile.template import ReportTemplate, load_template
from att_report.rules import RuleContext, run_rules
from att_report.threads import run_all

__all__ = [
    "compile_report", "CompileResult", "ReportModel", "TableModel", "Section", "Cover",
    "LINE_COLUMNS", "SOURCE_COLUMNS", "load_template",
]


#: Record columns the reported rows carry through compile as values (amounts, order, currency);
#: the text keys, provenance and texts travel as integer codes (lines.text_codes_at) and the
#: rules take a finding's provenance from the records (Work.positions).
ROW_COLUMNS = ("row_uid", "date", "quantity", "value", "currency")


def _set_dispositions(recs: pd.DataFrame, reported: np.ndarray, held: np.ndarray, reference: np.ndarray,
                      line_ids: pa.Array) -> tuple[pd.Series, pd.Series]:
    """The disposition and disposition_ref columns after compile (see compile_report).

    `line_ids`: the line id of each reported row, in record order."""
    # dispositions as codes into a few labels (the current ones, then compile's), set with numpy
    # masks and turned into text once: five passes over a million strings cost a third of a second
    codes, current = pd.factorize(recs["disposition"].astype("string").array, use_na_sentinel=True)
    labels = [*np.asarray(current, dtype=object), "", "reported", "withheld", "reference", "invalid"]
    base = len(current)
    codes = np.where(codes < 0, base, codes).astype("int64")  # NA counts as "" (open)
    for mask, k in ((reported, 1), (held, 2), (reference, 3)):
        codes[mask] = base + k
    blank = np.array([label == "" for label in labels], dtype=bool)
    valid = recs["valid"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    codes[blank[codes] & ~valid] = base + 4
    disp = pa.array(labels, type=pa.string()).take(pa.array(codes))
    ref = pa.array(recs["disposition_ref"].astype("string").fillna("").array)
    ref = pc.replace_with_mask(ref, pa.array(reported), line_ids.cast(ref.type))
    ref = pc.if_else(pa.array(held), pa.scalar("Art. 13(3)"), ref)
    return (pd.Series(pd.array(disp, dtype="string"), index=recs.index),
            pd.Series(pd.array(ref, dtype="string"), index=recs.index))


#: free-text columns of the reported rows that the lines join (coded with the line keys)
FREE_TEXT_KEYS = ("description", "comments")


def _also_from_rows(recs: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """Which reported rows (positions into `positions`) carry merged duplicates' provenance."""
    if "also_from" not in recs:
        return np.zeros(len(positions), dtype=bool)
    has = pc.fill_null(pc.not_equal(pa.array(recs["also_from"].astype("string").array), ""), False)
    return np.asarray(has, dtype=bool)[positions]


def compile_report(records: pd.DataFrame, config, *, draft: bool = False,
                   template: ReportTemplate | None = None) -> CompileResult:
    """Compile the report lines and decide the open rows' dispositions.

    Rows with disposition "" become `reported` (disposition_ref = line id),
    `withheld` (Art. 13(3)) or `reference` (a basis the table does not report,
    or dated outside the year); invalid rows left open become `invalid`; rows
    already invalid, merged or excluded are untouched. The model is marked
    draft when `draft` is given (unresolved errors upstream) or when compile
    itself finds an error.
    """
    from att_report.normalise.countries import country_name

    tpl = template or load_template()
    # copy-on-write: a shallow copy shares the columns until compile sets its two
    # (a deep copy of a million-row frame costs a second and its size in memory)
    recs = records.copy(deep=False)
    # the text keys coded once over every record (dispositions and each table use flow and basis), and
    # the free texts of the reported rows: each column coded on its own, by pyarrow without the GIL
    # (threads, issue 7), the free texts' codes taken at the reported rows below
    columns = {**LINE_KEY_COLUMNS, **{key: key for key in FREE_TEXT_KEYS}}
    every = dict(zip(columns, run_all([(text_codes_at, (recs[col], None)) for col in columns.values()],
                                      name="att-report-compile-codes")))
    coded = {key: every[key] for key in LINE_KEY_COLUMNS}
    reported, held, reference, outside = dispositions(recs, config, coded)
    reported_m, held_m = reported.to_numpy(dtype=bool), held.to_numpy(dtype=bool)
    positions = np.flatnonzero(reported_m)

    # the reported rows: a few value columns copied; every text column as codes taken at the rows
    # (copying a million rows' strings, then factorising them again, cost most of compile)
    rows = recs[list(ROW_COLUMNS)].take(positions)
    at = {key: (codes[positions], texts) for key, (codes, texts) in every.items()}
    currency, candidates = report_currency(rows, config)
    value_rc, value_bad = convert_values(rows, currency, config.rates)
    rows = rows.assign(value_rc=value_rc, value_bad=value_bad)
    lines, line_pos = build_lines(rows, config, tpl.category_order, at)
    line_ids = pa.array(lines["line_id"].astype("string").array).take(pa.array(line_pos))

    # dispositions, only on rows that were open (set in Arrow: masking a million strings
    # in pandas took a third of a second per mask)
    recs["disposition"], recs["disposition_ref"] = _set_dispositions(
        recs, reported_m, held_m, reference.to_numpy(dtype=bool), line_ids)

    flow_codes, flow_texts = coded["flow"]
    flows_with_held = set(flow_texts[np.unique(flow_codes[held_m])]) - {""}
    sections: dict[str, tuple[Section, ...]] = {}
    for key, flow in (("exports", "export"), ("imports", "import")):
        secs = []
        for basis in table_bases(config.table(flow).basis):
            part = lines[(lines["flow"] == flow) & (lines["basis"] == basis)]
            secs.append(Section(basis, part[list(LINE_COLUMNS)].reset_index(drop=True)))
        sections[key] = tuple(secs)
    nil_withheld = tuple(
        flow for key, flow in (("exports", "export"), ("imports", "import"))
        if flow in flows_with_held and not any(s.line_count for s in sections[key])
    )
    for key, col in (("agency", "src_agency"), ("file", "src_file"), ("sheet", "src_sheet")):
        at[key] = text_codes_at(recs[col], positions)
    work = Work(rows=rows, lines=lines, currency=currency, currency_candidates=candidates,
                withheld=held, outside_year=outside, nil_withheld=nil_withheld, positions=positions,
                line_pos=line_pos, codes=at)
    ctx = RuleContext(config=config, extra={"compile": work, "category_codes": [c.code for c in tpl.categories]})
    findings = fnd.sort_frame(run_rules("compile", recs, ctx))

    def table_model(key: str, flow: str) -> TableModel:
        tc = config.table(flow)
        return TableModel(
            key=key, flow=flow, basis=tc.basis, measure=tc.measure, aggregate=tc.aggregate,
            definition=tc.definition, sections=sections[key],
            withheld_rows=int(np.isin(flow_codes[held_m], np.flatnonzero(flow_texts == flow)).sum()),
        )

    exports, imports = table_model("exports", "export"), table_model("imports", "import")
    # the currencies converted: cleaned once per distinct text of the rows with a converted value
    with_value = (rows["value"].notna() & ~rows["value_bad"]).to_numpy(dtype=bool)
    cur_codes, cur_texts = pd.factorize(rows["currency"].astype("string").fillna("").array, use_na_sentinel=False)
    seen = pd.Series(cur_texts[np.unique(cur_codes[with_value])], dtype="string")
    converted = sorted({c for c in seen.str.strip().str.upper().unique() if c and c != currency})
    rates_used = tuple((c, float(config.rates[c])) for c in converted)
    notes = tuple(
        tpl.texts["conversion_note"].format(currency_from=c, currency=currency, rate=f"{r:g}")
        for c, r in rates_used
    )
    has_error = bool((findings["severity"] == "error").any()) if not findings.empty else False
    contact = config.contact
    cover = Cover(
        state=config.state, state_name=country_name(config.state), year=config.year,
        submission_date=config.submission_date,
        contact_name=contact.name, contact_position=contact.position,
        contact_organisation=", ".join(p for p in (contact.organisation, contact.unit) if p),
        contact_telephone=contact.telephone, contact_email=contact.email, contact_address=contact.address,
        form_exports=not exports.nil, form_imports=not imports.nil,
        form_nil_exports=exports.nil, form_nil_imports=imports.nil,
        form_national_definitions=bool(config.national_definitions.strip()),
        withheld=bool(held.any()), public=bool(config.public),
        exports_basis=config.exports.basis, imports_basis=config.imports.basis,
        exports_definition=config.exports.definition, imports_definition=config.imports.definition,
        currency=currency, currency_notes=notes, draft=bool(draft or has_error),
        template_version=tpl.version,
    )
    if config.sources_sheet:
        has_also = _also_from_rows(recs, positions)
        also = _also_from(pd.DataFrame({
            "line_id": pa.array(lines["line_id"].astype("string").array).take(pa.array(line_pos[has_also])),
            "also_from": recs["also_from"].take(positions[has_also]).array,
        })) if "also_from" in recs else None
        sources = compress_sources(rows, {
            "line_id": (line_pos, lines["line_id"].to_numpy(dtype=object)),
            "agency": at["agency"], "file": at["file"], "sheet": at["sheet"],
            "row": _row_numbers(recs["src_row"].take(positions)),
        }, also)
    else:
        sources = _empty_sources()
    model = ReportModel(
        cover=cover, exports=exports, imports=imports, currency=currency, rates_used=rates_used,
        national_definitions=config.national_definitions, sources=sources,
        sources_sheet=bool(config.sources_sheet), template=tpl,
    )
    return CompileResult(model=model, records=recs, findings=findings)
