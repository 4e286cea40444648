"""Intake rules: each checks one thing on the normalised records and cites why.

Rules read the canonical values and the parse statuses that normalisation
left (`st_<field>`, `raw_<field>`, `hint_<field>`); they never change data.
An error finding makes its row invalid (validate.validate_records).
"""

from __future__ import annotations

import pandas as pd

from att_report.findings import Severity
from att_report.rules import RuleContext, emit, rule
from att_report.schema import INTAKE_NAMES as INTAKE_FIELDS

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

REQUIRED = ("record_id", "flow", "basis", "date", "partner_state")


def _raw(records: pd.DataFrame, name: str) -> pd.Series:
    return records[f"raw_{name}"] if f"raw_{name}" in records else records[name]


def _status_is(records: pd.DataFrame, name: str, *statuses: str) -> pd.Series:
    """Rows whose parse status of `name` is one of `statuses` (a missing status reads "blank").

    isin on the status column as it is: no conversion of a million-row column
    per rule (benchmark, issue 7).
    """
    st = records[f"st_{name}"]
    hit = st.isin(statuses).fillna(False).astype(bool)
    if "blank" in statuses:
        hit |= st.isna().to_numpy()
    return hit


#: the columns emit() reads (findings.frame_for_rows): provenance and record_id
_EMIT_COLUMNS = ("src_agency", "src_file", "src_sheet", "src_row", "record_id")


def _rows(records: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """The rows to emit findings for, with only the columns emit() reads.

    Filtering the ~90-column records frame per rule cost more than the rules
    themselves at 1M rows (benchmark, issue 7).
    """
    return records[[c for c in _EMIT_COLUMNS if c in records]][mask]


def _arrow_text(series: pd.Series):
    """The pyarrow array behind an arrow-backed text column, else None."""
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return getattr(series.array, "_pa_array", None)
    return None


def _blank(text: pd.Series) -> pd.Series:
    """text.astype("string").str.strip().fillna("").eq(""): missing, empty or only whitespace.

    On an arrow column without building the stripped copy (pandas strips
    with arrow's utf8_trim_whitespace, which uses the same whitespace as
    utf8_is_space; tests/test_validate_fast.py checks every character).
    """
    arr = _arrow_text(text)
    if arr is None:
        return text.astype("string").str.strip().fillna("").eq("")
    import pyarrow.compute as pc

    blank = pc.or_kleene(pc.or_(pc.utf8_is_space(arr), pc.equal(pc.utf8_length(arr), 0)), pc.is_null(arr))
    return pd.Series(blank.fill_null(True).to_numpy(zero_copy_only=False), index=text.index)


def _longer_than(text: pd.Series, limit: int) -> pd.Series:
    """(text.astype("string").str.len() > limit).fillna(False), counting characters only where bytes exceed it."""
    arr = _arrow_text(text)
    if arr is None:
        return (text.astype("string").str.len() > limit).fillna(False)
    import pyarrow.compute as pc

    # a character takes at least one byte: only texts of more than `limit` bytes may be too long
    maybe = pc.greater(pc.binary_length(arr), limit).fill_null(False).to_numpy(zero_copy_only=False)
    out = pd.Series(maybe, index=text.index)
    if maybe.any():
        out[maybe] = (text[maybe].str.len() > limit).fillna(False).to_numpy(dtype=bool)
    return out


def _sentence(hints: pd.Series) -> pd.Series:
    """Hints as sentences: capitalised, ending with a full stop ("" when none)."""
    h = hints.astype("string").str.strip().fillna("")
    h = h.str.slice(0, 1).str.upper() + h.str.slice(1)
    return h.where(h.str.contains(r"[.?!]$") | h.eq(""), h + ".")


def _number_text(numbers: pd.Series) -> pd.Series:
    """12.0 -> "12", 12.5 -> "12.5": numbers as the user wrote them."""
    whole = numbers == numbers.round(0)
    as_int = numbers.round(0).astype("Int64").astype("string")
    return as_int.where(whole.fillna(False), numbers.astype("string")).fillna("")


def _hinted(base: str, hints: pd.Series) -> pd.Series:
    h = _sentence(hints)
    return (base + (" " + h).where(h.ne(""), "")).astype(object)


@rule("required-missing", E, "intake")
def rule_required_missing(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A required intake column is blank.

    Enforces: the intake template (record_id, flow, basis, date and partner
    State are required); ATT Art. 13(3) reports per importing/exporting State.
    """
    out = []
    for name in REQUIRED:
        blank = _blank(_raw(records, name))
        if blank.any():
            out.append(emit(_rows(records, blank), "required-missing",
                            f"'{name}' is required but blank. Fill it in (see the Instructions sheet).", field=name))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "required-missing", "")


@rule("invalid-code", E, "intake")
def rule_invalid_code(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """flow, basis or withheld holds a value outside its list.

    Enforces: ATT Art. 13(3) (exports and imports; authorized or actual basis)
    and Art. 13(3) withholding (yes/no).
    """
    allowed = {"flow": "export or import", "basis": "authorized or actual", "withheld": "yes or no"}
    out = []
    for name, words in allowed.items():
        bad = _status_is(records, name, "invalid")
        if bad.any():
            out.append(emit(_rows(records, bad), "invalid-code", f"'{name}' must be {words}.", field=name,
                            value=_raw(records, name)[bad]))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "invalid-code", "")


@rule("licence-missing", E, "intake")
def rule_licence_missing(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """An authorized row (a licence) has no licence number.

    Enforces: the intake template (licence_no is required on authorized
    rows); Art. 13(3) authorized exports are counted by authorization.
    """
    bad = records["basis"].eq("authorized").fillna(False) & records["licence_no"].isna()
    return emit(_rows(records, bad), "licence-missing",
                "This row is a licence (basis authorized) but has no licence number. Add it.", field="licence_no")


@rule("date-invalid", E, "intake")
def rule_date_invalid(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A date is impossible, ambiguous or unreadable: never guessed.

    Enforces: Art. 13(3) reports the calendar year, so each record's date
    must be certain; good practice (ISO 8601 dates).
    """
    out = []
    for name in ("date", "valid_until"):
        bad = _status_is(records, name, "invalid", "ambiguous")
        if bad.any():
            rows = _rows(records, bad)
            detail = records.loc[bad, f"dt_{name}"].astype("string").fillna("")
            # the way to write it, unless the detail already says so ("... write it as YYYY-MM-DD")
            advice = detail.str.contains("YYYY-MM-DD", regex=False).map({True: ".",
                                                                         False: ". Write the date as YYYY-MM-DD."})
            message = ("'" + _raw(records, name)[bad].astype("string").fillna("") + "' in " + name + ": " + detail
                       + advice.astype("string"))
            out.append(emit(rows, "date-invalid", message, field=name, value=_raw(records, name)[bad]))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "date-invalid", "")


@rule("date-outside-year", E, "intake")
def rule_date_outside_year(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A delivery (actual row) is dated outside the reporting year.

    Enforces: Art. 13(3) "the preceding calendar year"; a delivery in
    another year belongs in that year's report (or its date is wrong).
    """
    year = ctx.config.year
    bad = records["basis"].eq("actual").fillna(False) & records["date"].notna() & records["date"].dt.year.ne(year)
    return emit(_rows(records, bad), "date-outside-year",
                f"This delivery is dated outside {year}, the reporting year. Check the date, or leave the row "
                "for that year's report.", field="date", value=records.loc[bad, "date"].dt.strftime("%Y-%m-%d"))


@rule("licence-date-outside-year", W, "intake")
def rule_licence_date_outside_year(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A licence (authorized row) was issued outside the reporting year.

    Enforces: Art. 13(3) authorized basis counts authorizations issued in
    the year; licences from earlier years still serve reconciliation of
    this year's deliveries, so this is a warning.
    """
    year = ctx.config.year
    bad = records["basis"].eq("authorized").fillna(False) & records["date"].notna() & records["date"].dt.year.ne(year)
    return emit(_rows(records, bad), "licence-date-outside-year",
                f"This licence was issued outside {year}; it is used to check deliveries but is not counted as "
                f"authorized in {year}.", field="date", value=records.loc[bad, "date"].dt.strftime("%Y-%m-%d"))


@rule("validity-before-issue", E, "intake")
def rule_validity_before_issue(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A licence expires before it was issued.

    Enforces: good practice in licence registers; shipments are checked
    against the validity period (Art. 11 diversion controls rely on it).
    """
    bad = records["valid_until"].notna() & records["date"].notna() & (records["valid_until"] < records["date"])
    return emit(_rows(records, bad), "validity-before-issue",
                "valid_until is before the issue date. Check both dates.", field="valid_until",
                value=records.loc[bad, "valid_until"].dt.strftime("%Y-%m-%d"))


@rule("country-unknown", E, "intake")
def rule_country_unknown(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A State name or code is not recognised (a hint is given, never an auto-correction).

    Enforces: Art. 13(3) reports per State; the template names States.
    """
    out = []
    for name in ("partner_state", "origin_state", "intermediate_states"):
        bad = _status_is(records, name, "unknown")
        if bad.any():
            raw = _raw(records, name)[bad].astype("string").fillna("")
            if name == "intermediate_states":
                raw = records.loc[bad, "bad_intermediate_states"].astype("string").fillna(raw)
            message = _hinted("", records.loc[bad, f"hint_{name}"])
            message = ("'" + raw + f"' in {name} is not a State we recognise." + pd.Series(message, index=raw.index)
                       + " Use the English short name or the ISO 3166 code.")
            out.append(emit(_rows(records, bad), "country-unknown", message, field=name,
                            value=_raw(records, name)[bad]))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "country-unknown", "")


@rule("partner-vague", W, "intake")
def rule_partner_vague(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The partner is a region or placeholder ("Various", "EU"), not a State.

    Enforces: ATT reporting good practice (one line per partner State);
    "Various", a region or a blank partner is poor practice.
    """
    out = []
    for name in ("partner_state", "origin_state", "intermediate_states"):
        bad = _status_is(records, name, "vague")
        if bad.any():
            out.append(emit(_rows(records, bad), "partner-vague",
                            f"'{name}' names a region or placeholder, not a State. Name the State(s).",
                            field=name, value=_raw(records, name)[bad]))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "partner-vague", "")


@rule("category-unresolved", E, "intake")
def rule_category_unresolved(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The category is unknown, ambiguous (e.g. a bare "4"), or blank with no HS code that settles it.

    Enforces: Art. 2(1) categories; an unresolvable category is a finding,
    never a guess (ATT_REPORTING.md section 2).
    """
    bad = _status_is(records, "category", "unknown", "ambiguous")
    blank = _status_is(records, "category", "blank")
    out = []
    if bad.any():
        raw = _raw(records, "category")[bad].astype("string").fillna("")
        hint = _sentence(records.loc[bad, "hint_category"])
        out.append(emit(_rows(records, bad), "category-unresolved",
                        ("Category '" + raw + "' cannot be resolved. " + hint
                         + " Use an ATT code such as IV.a or VIII.SA.2.").str.replace("  ", " "),
                        field="category", value=raw))
    if blank.any():
        out.append(emit(_rows(records, blank), "category-unresolved",
                        "Category is blank and the HS code does not settle it. Give the ATT category code.",
                        field="category"))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "category-unresolved", "")


@rule("category-from-hs", I, "intake")
def rule_category_from_hs(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A blank category was filled from an HS code that maps to exactly one category.

    Enforces: ATT_REPORTING.md section 6 (crosswalks are hints; used only
    where the mapping is unambiguous, and said so).
    """
    hit = _status_is(records, "category", "from-hs")
    return emit(_rows(records, hit), "category-from-hs",
                "Category was blank; set to " + records.loc[hit, "category"].astype("string").fillna("")
                + " from HS code " + records.loc[hit, "hs_code"].astype("string").fillna("")
                + ". Confirm it in the file.", field="category", value=records.loc[hit, "hs_code"])


@rule("number-invalid", E, "intake")
def rule_number_invalid(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Quantity or value is not a number we can read.

    Enforces: the template's "Number of items" and "Value" columns hold numbers.
    """
    out = []
    for name in ("quantity", "value"):
        bad = _status_is(records, name, "invalid")
        if bad.any():
            out.append(emit(_rows(records, bad), "number-invalid",
                            "'" + _raw(records, name)[bad].astype("string").fillna("") + f"' in {name} is not a "
                            "number. Write digits only (e.g. 1250 or 1,250.50); check the decimal mark.",
                            field=name, value=_raw(records, name)[bad]))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "number-invalid", "")


@rule("quantity-fraction", E, "intake")
def rule_quantity_fraction(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A number of items is not whole.

    Enforces: the template's "Number of items" counts items: a fraction of
    an item is an error (analysts' check: no fractional counts).
    """
    q = records["num_quantity"]
    bad = q.notna() & (q != q.round(0))
    return emit(_rows(records, bad), "quantity-fraction",
                "Number of items must be whole; a fraction of an item is not possible.", field="quantity",
                value=_raw(records, "quantity")[bad])


@rule("quantity-and-value-missing", E, "intake")
def rule_quantity_and_value_missing(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Neither number of items nor value is given.

    Enforces: Art. 13(3) template: each line gives number of items or value or both.
    """
    bad = _status_is(records, "quantity", "blank") & _status_is(records, "value", "blank")
    return emit(_rows(records, bad), "quantity-and-value-missing",
                "Give the number of items, the value, or both.", field="quantity")


@rule("currency-missing", E, "intake")
def rule_currency_missing(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A value is given without its currency.

    Enforces: Art. 13(3) template: if value is given, its currency must be clear.
    """
    bad = records["num_value"].notna() & _status_is(records, "currency", "blank")
    return emit(_rows(records, bad), "currency-missing",
                "A value is given but no currency. Add the ISO 4217 code (e.g. USD, EUR).", field="currency")


@rule("currency-unknown", E, "intake")
def rule_currency_unknown(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """The currency is not an ISO 4217 code we recognise (or is ambiguous, like "$").

    Enforces: Art. 13(3) template: the value's currency must be clear.
    """
    bad = _status_is(records, "currency", "unknown", "ambiguous")
    raw = _raw(records, "currency")[bad].astype("string").fillna("")
    hint = _sentence(records.loc[bad, "hint_currency"])
    return emit(_rows(records, bad), "currency-unknown",
                "'" + raw + "' is not a currency code we recognise. " + hint + " Use an ISO 4217 code such as USD.",
                field="currency", value=raw)


@rule("digits-normalised", I, "intake")
def rule_digits_normalised(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Full-width or other non-ASCII digits were read as ordinary digits.

    Enforces: good practice for CJK and Arabic input (NFKC); said, not silent.
    """
    out = []
    for name in ("quantity", "value"):
        hit = records[f"digits_{name}"].fillna(False).astype(bool)
        if hit.any():
            out.append(emit(_rows(records, hit), "digits-normalised",
                            f"'{name}' was written with non-ASCII digits and read as "
                            + _number_text(records.loc[hit, f"num_{name}"]) + ".",
                            field=name, value=_raw(records, name)[hit]))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "digits-normalised", "")


@rule("whitespace-in-key", I, "intake")
def rule_whitespace_in_key(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Spaces (incl. non-breaking or zero-width) around an identifier were removed.

    Enforces: good practice: identifiers link licences and shipments; a
    hidden space would break the link, so its removal is noted.
    """
    out = []
    for name in ("record_id", "licence_no", "hs_code"):
        hit = records[f"ws_{name}"].fillna(False).astype(bool)
        if hit.any():
            out.append(emit(_rows(records, hit), "whitespace-in-key",
                            f"Invisible or extra spaces were removed from '{name}'.", field=name,
                            value=_raw(records, name)[hit]))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "whitespace-in-key", "")


EXCEL_CELL_LIMIT = 32_767


@rule("text-too-long", E, "intake")
def rule_text_too_long(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A value is longer than an Excel cell can hold (32,767 characters).

    Enforces: good practice for the report workbook: text over Excel's cell
    limit would be cut when written; a silent cut is never acceptable.
    """
    out = []
    for name in ("record_id", "licence_no", "description", "end_user", "comments", "hs_code"):
        bad = _longer_than(_raw(records, name), EXCEL_CELL_LIMIT)
        if bad.any():
            raw = _raw(records, name).astype("string")
            out.append(emit(_rows(records, bad), "text-too-long",
                            f"'{name}' has " + raw[bad].str.len().astype("string") + " characters; a spreadsheet "
                            f"cell holds at most {EXCEL_CELL_LIMIT:,}. Shorten it.", field=name,
                            value=raw[bad].str.slice(0, 60) + "..."))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "text-too-long", "")


@rule("control-characters-removed", I, "intake")
def rule_control_characters_removed(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Control characters (which spreadsheets cannot hold) were removed from a value.

    Enforces: good practice: outputs must open cleanly in Excel; the removal
    is said, not silent.
    """
    out = []
    for name in INTAKE_FIELDS:
        hit = records[f"cc_{name}"].fillna(False).astype(bool) if f"cc_{name}" in records else None
        if hit is not None and hit.any():
            out.append(emit(_rows(records, hit), "control-characters-removed",
                            f"Control characters were removed from '{name}'.", field=name,
                            value=_raw(records, name)[hit].str.replace(r"[\x00-\x1f]", "?", regex=True)))
    return pd.concat(out, ignore_index=True) if out else emit(records.iloc[:0], "control-characters-removed", "")
