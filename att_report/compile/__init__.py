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
    Work, build_lines, compress_sources, convert_values, dispositions, report_currency, table_bases,
)
from att_report.compile.model import (
    LINE_COLUMNS, SOURCE_COLUMNS, CompileResult, Cover, ReportModel, Section, TableModel,
)
from att_report.compile.template import ReportTemplate, load_template
from att_report.rules import RuleContext, run_rules

__all__ = [
    "compile_report", "CompileResult", "ReportModel", "TableModel", "Section", "Cover",
    "LINE_COLUMNS", "SOURCE_COLUMNS", "load_template",
]


#: Record columns the reported rows carry through compile: provenance and record_id (sources,
#: findings), the line keys, amounts and texts, and reconciliation's `also_from`.
ROW_COLUMNS = (
    "row_uid", "src_agency", "src_file", "src_sheet", "src_row", "record_id", "flow", "basis", "date",
    "partner_state", "origin_state", "intermediate_states", "category", "quantity", "value", "currency",
    "description", "comments", "also_from",
)


def _set_dispositions(recs: pd.DataFrame, reported: pd.Series, held: pd.Series, reference: pd.Series,
                      line_of_row: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The disposition and disposition_ref columns after compile (see compile_report)."""
    disp = pa.array(recs["disposition"].astype("string").fillna("").array)
    ref = pa.array(recs["disposition_ref"].astype("string").fillna("").array)
    reported_m, held_m = reported.to_numpy(dtype=bool), held.to_numpy(dtype=bool)
    for mask, label in ((reported_m, "reported"), (held_m, "withheld"), (reference.to_numpy(dtype=bool), "reference")):
        disp = pc.if_else(pa.array(mask), pa.scalar(label), disp)
    # line ids of the reported rows, in record order (rows = records[reported])
    line_ids = pa.array(line_of_row.astype("string").fillna("").array) if reported_m.any() else pa.array([], pa.string())
    ref = pc.replace_with_mask(ref, pa.array(reported_m), line_ids.cast(ref.type))
    ref = pc.if_else(pa.array(held_m), pa.scalar("Art. 13(3)"), ref)
    valid = recs["valid"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    invalid_open = np.asarray(pc.equal(disp, ""), dtype=bool) & ~valid
    disp = pc.if_else(pa.array(invalid_open), pa.scalar("invalid"), disp)
    return (pd.Series(pd.array(disp, dtype="string"), index=recs.index),
            pd.Series(pd.array(ref, dtype="string"), index=recs.index))


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
    reported, held, reference, outside = dispositions(recs, config)

    # the reported rows with the record columns compile uses (never the stages' helper columns;
    # copying the other ten of a million rows cost a tenth of a second)
    keep = [c for c in recs.columns if c in ROW_COLUMNS]
    rows = recs.loc[reported, keep]
    currency, candidates = report_currency(rows, config)
    value_rc, value_bad = convert_values(rows, currency, config.rates)
    rows = rows.assign(value_rc=value_rc, value_bad=value_bad)
    lines, line_of_row = build_lines(rows, config, tpl.category_order)
    rows = rows.assign(line_id=line_of_row)

    # dispositions, only on rows that were open (set in Arrow: masking a million strings
    # in pandas took a third of a second per mask)
    recs["disposition"], recs["disposition_ref"] = _set_dispositions(recs, reported, held, reference,
                                                                      line_of_row)

    flows_with_held = set(recs.loc[held, "flow"].astype("string").dropna())
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
    work = Work(rows=rows, lines=lines, currency=currency, currency_candidates=candidates,
                withheld=held, outside_year=outside, nil_withheld=nil_withheld)
    ctx = RuleContext(config=config, extra={"compile": work, "category_codes": [c.code for c in tpl.categories]})
    findings = fnd.sort_frame(run_rules("compile", recs, ctx))

    def table_model(key: str, flow: str) -> TableModel:
        tc = config.table(flow)
        return TableModel(
            key=key, flow=flow, basis=tc.basis, measure=tc.measure, aggregate=tc.aggregate,
            definition=tc.definition, sections=sections[key],
            withheld_rows=int((held & recs["flow"].astype("string").eq(flow).fillna(False)).sum()),
        )

    exports, imports = table_model("exports", "export"), table_model("imports", "import")
    seen = rows.loc[rows["value"].notna() & ~rows["value_bad"], "currency"].astype("string").fillna("")
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
    sources = compress_sources(rows) if config.sources_sheet else compress_sources(rows.iloc[0:0])
    model = ReportModel(
        cover=cover, exports=exports, imports=imports, currency=currency, rates_used=rates_used,
        national_definitions=config.national_definitions, sources=sources,
        sources_sheet=bool(config.sources_sheet), template=tpl,
    )
    return CompileResult(model=model, records=recs, findings=findings)
