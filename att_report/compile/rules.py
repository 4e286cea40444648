"""Compile-stage rules: problems that only show once rows become report lines.

Each rule reads the compile products from `ctx.extra["compile"]`
(`att_report.compile.lines.Work`) and returns findings; none removes a row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from att_report import findings as fnd
from att_report.findings import Finding, Severity
from att_report.rules import RULES, emit, rule


def _work(ctx):
    return ctx.extra["compile"]


def _line_rows(records, work, mask: pd.Series) -> pd.DataFrame:
    """The first source row of each selected line (locates a line-level finding)."""
    lines = work.lines[mask]
    at = work.positions[lines["first_row"].to_numpy(dtype="int64")]
    return records.iloc[at].assign(_line=lines["line_id"].to_numpy(), _cat=lines["category"].to_numpy())


def _reported_rows(records, work, mask) -> pd.DataFrame:
    """The reported rows selected by `mask` (over work.rows) from the records, with their line_id."""
    mask = np.asarray(mask, dtype=bool)
    line_ids = work.lines["line_id"].to_numpy(dtype=object)[work.line_pos[mask]]
    return records.iloc[work.positions[mask]].assign(line_id=pd.array(line_ids, dtype="string"))


def _single(code: str, message: str, *identity, value: str = "") -> pd.DataFrame:
    f = Finding(severity=RULES[code].severity, code=code, message=message, value=value)
    return fnd.to_frame([f.with_id(*identity)])


@rule("currency-no-rate", Severity.ERROR, "compile")
def rule_currency_no_rate(records, ctx):
    """A reported value whose currency has no rate into the report currency (or no currency).

    Enforces: ATT Art. 13(3) / template note on value: one clear currency per
    report; a value that cannot be converted is an error, never a silent skip.
    The line shows no value until a rate is given under [rates].
    """
    work = _work(ctx)
    bad = _reported_rows(records, work, work.rows["value_bad"])
    if bad.empty:
        return fnd.empty_frame()
    cur = bad["currency"].astype("string").fillna("").str.strip().str.upper()
    rc = work.currency or "the report currency"
    message = pd.Series(
        "Value in " + cur + " has no exchange rate into " + rc + ": add '" + cur + " = <rate>' under [rates] in "
        "att-report.toml (units of " + rc + " per " + cur + "). Line " + bad["line_id"]
        + " shows no value until then.",
        index=bad.index,
    )
    message = message.where(cur.ne(""), "A value is given without a currency: give the currency (ISO 4217 code) "
                            "in the agency's file. Line " + bad["line_id"] + " shows no value until then.")
    return emit(bad, "currency-no-rate", message, field="currency", value=cur)


@rule("currency-converted", Severity.INFO, "compile")
def rule_currency_converted(records, ctx):
    """Values converted into the report currency with a rate from the config (one note per file and currency).

    Enforces: ATT Art. 13(3) template note: if value is given its currency must
    be clear; conversions are stated so the Secretariat and auditors can follow.
    """
    work = _work(ctx)
    rows = work.rows
    # the currency texts cleaned once per distinct text (a few), then taken per row
    codes, uniques = pd.factorize(rows["currency"].astype("string").array, use_na_sentinel=False)
    clean = pd.Series(uniques, dtype="string").fillna("").str.strip().str.upper()
    foreign = (clean.ne(work.currency) & clean.ne("")).to_numpy(dtype=bool)
    converted = (rows["value"].notna() & ~rows["value_bad"]).to_numpy(dtype=bool) & foreign[codes]
    if not converted.any():
        return fnd.empty_frame()
    rates = ctx.config.rates
    clean_texts = clean.to_numpy(dtype=object)
    if records["src_agency"].hasnans or records["src_file"].hasnans:
        # rows without provenance are not counted (groupby drops NA keys)
        conv = records.iloc[work.positions[converted]][["src_agency", "src_file"]]
        cur = pd.Series(pd.array(clean_texts[codes[converted]], dtype="string"), index=conv.index)
        counts = list(conv.assign(_cur=cur).groupby(["src_agency", "src_file", "_cur"]).size().items())
    else:  # counted on the codes of agency, file and currency: one bincount, a few groups
        a_codes, a_texts = work.codes["agency"]
        f_codes, f_texts = work.codes["file"]
        c_codes = codes.astype("int64")
        na, nf, nc = len(a_texts), len(f_texts), len(clean_texts)
        key = (a_codes[converted] * nf + f_codes[converted]) * nc + c_codes[converted]
        if na * nf * nc <= 1 << 22:
            n_all = np.bincount(key, minlength=na * nf * nc)
            found = np.flatnonzero(n_all)
            n_of = n_all[found]
        else:  # very many distinct texts: sort instead of one bin per combination
            found, n_of = np.unique(key, return_counts=True)
        a, rest = np.divmod(found, nf * nc)
        f, c = np.divmod(rest, nc)
        # per (agency, file, currency) text: several codes may clean to one currency text
        merged: dict[tuple, int] = {}
        for ai, fi, ci, n in zip(a, f, c, n_of):
            k = (a_texts[ai], f_texts[fi], clean_texts[ci])
            merged[k] = merged.get(k, 0) + int(n)
        counts = sorted(merged.items())  # groupby's order: sorted keys
    out = []
    for (agency, file, c), n in counts:
        out.append(Finding(
            severity=Severity.INFO, code="currency-converted",
            message=(f"{n} value(s) in {c} converted to {work.currency} at {rates[c]:g} {work.currency} per {c} "
                     "(config [rates]); the report states the rate."),
            agency=agency, file=file, field="currency", value=c,
        ).with_id(file, c))
    return fnd.to_frame(out)


@rule("report-currency-undetermined", Severity.ERROR, "compile")
def rule_report_currency_undetermined(records, ctx):
    """Values come in several currencies and no report currency is configured.

    Enforces: ATT Art. 13(3) template note on value: one report currency; the
    NPC chooses it ([report] currency) and gives rates for the others.
    """
    work = _work(ctx)
    if not work.currency_candidates:
        return fnd.empty_frame()
    seen = ", ".join(work.currency_candidates)
    return _single(
        "report-currency-undetermined",
        f"Reported values come in several currencies ({seen}) and att-report.toml sets no [report] currency: "
        f"set one (e.g. currency = \"{work.currency}\") and give [rates] for the others. "
        f"{work.currency} is used meanwhile.",
        "report-currency", value=seen,
    )


@rule("line-partner-blank", Severity.WARNING, "compile")
def rule_line_partner_blank(records, ctx):
    """A report line has no partner State (final importing / exporting State).

    Enforces: ATT_REPORTING.md section 3 good practice: one line per partner
    State; a blank partner, 'various' or a region is poor practice.
    """
    work = _work(ctx)
    rows = _line_rows(records, work, work.lines["partner"].fillna("").eq(""))
    if rows.empty:
        return fnd.empty_frame()
    msg = ("Line " + rows["_line"] + " (" + rows["_cat"] + ") has no partner State: name the final importing "
           "or exporting State in the agency's file, or decide to report it as is.")
    return emit(rows, "line-partner-blank", msg, field="partner_state")


@rule("category-not-in-template", Severity.ERROR, "compile")
def rule_category_not_in_template(records, ctx):
    """A report line's category is missing or is not a row of the report template.

    Enforces: ATT Art. 2(1) / template: every line sits under one of the
    template's categories; such lines are shown after the template rows
    until the category is fixed.
    """
    work = _work(ctx)
    known = set(ctx.extra["category_codes"])
    rows = _line_rows(records, work, ~work.lines["category"].fillna("").isin(known))
    if rows.empty:
        return fnd.empty_frame()
    shown = rows["_cat"].where(rows["_cat"].ne(""), "(none)")
    msg = ("Line " + rows["_line"] + " has category '" + shown + "', which is not a category of the report "
           "template: give an ATT category (e.g. VIII.SA.2) in the agency's file.")
    return emit(rows, "category-not-in-template", msg, field="category", value=rows["_cat"])


@rule("line-without-measure", Severity.WARNING, "compile")
def rule_line_without_measure(records, ctx):
    """A report line has neither the number of items nor the value the table reports.

    Enforces: ATT Art. 13(3) template note: each line gives the number of
    items and/or the value, as the State chose for the table.
    """
    work = _work(ctx)
    lines = work.lines
    empty = lines["number"].isna() & lines["value"].isna()
    rows = _line_rows(records, work, empty)
    if rows.empty:
        return fnd.empty_frame()
    msg = ("Line " + rows["_line"] + " (" + rows["_cat"] + ") shows neither a number of items nor a value "
           "(the table's measure leaves out what its records give): check the records or the [exports]/"
           "[imports] measure.")
    return emit(rows, "line-without-measure", msg, field="quantity")


@rule("nil-but-withheld", Severity.WARNING, "compile")
def rule_nil_but_withheld(records, ctx):
    """A table has no lines only because its records are withheld: it is not a nil report.

    Enforces: ATT Art. 13(3): a nil report states that nothing was transferred;
    when data was withheld, the cover says so and the table is not ticked nil.
    """
    work = _work(ctx)
    out = []
    for flow in work.nil_withheld:
        table = "exports" if flow == "export" else "imports"
        out.append(_single(
            "nil-but-withheld",
            f"All {table} of the year are withheld (Art. 13(3)): the {table} table has no lines but is not a "
            "nil report; the cover says data was withheld.", "nil-but-withheld", table, value=table,
        ))
    return fnd.concat(out)


@rule("not-in-reporting-year", Severity.INFO, "compile")
def rule_not_in_reporting_year(records, ctx):
    """Rows of a reported basis dated outside the reporting year (one note per file).

    Enforces: ATT Art. 13(3): the report covers the preceding calendar year;
    such rows served reconciliation only and are accounted as reference.
    """
    work = _work(ctx)
    rows = records[work.outside_year]
    if rows.empty:
        return fnd.empty_frame()
    year = ctx.config.year
    counts = rows.groupby(["src_agency", "src_file"]).size()
    out = [
        Finding(
            severity=Severity.INFO, code="not-in-reporting-year",
            message=(f"{n} row(s) are dated outside {year} (or undated): not reported this year; "
                     "they served reconciliation only."),
            agency=agency, file=file, field="date", value=str(n),
        ).with_id(file, year)
        for (agency, file), n in counts.items()
    ]
    return fnd.to_frame(out)


@rule("nil-with-lines", Severity.ERROR, "compile")
def rule_nil_with_lines(records, ctx):
    """A table declared nil in the config ([exports] / [imports] nil = true) has report lines.

    Enforces: ATT Art. 13(3) and ATT_REPORTING.md section 1: a nil report is an
    explicit statement that nothing was transferred; it cannot stand beside
    transfers in the data. (Reads the optional `nil` key when the config has it.)
    """
    work = _work(ctx)
    out = []
    for flow, table in (("export", "exports"), ("import", "imports")):
        declared = getattr(ctx.config.table(flow), "nil", None)
        count = int((work.lines["flow"] == flow).sum())
        if declared is True and count:
            out.append(_single(
                "nil-with-lines",
                f"[{table}] nil = true says nothing was transferred, but the {table} table has {count} line(s): "
                "remove the nil declaration or check the records (see the Sources sheet).",
                "nil-with-lines", table, value=table,
            ))
    return fnd.concat(out)
