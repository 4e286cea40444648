"""The canonical frame's schema (pandera), declared apart from the code that runs it.

Validation is lazy: every failure is collected, then translated into
findings that cite the Excel row (pandera reports the DataFrame index; the
records carry src_row for that).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pandera.pandas as pa

from att_report.findings import Severity
from att_report.normalise.unique import factorize
from att_report.rules import RuleContext, emit, rule
from att_report.schema import BASES, FLOWS


def canonical_schema(category_codes: list[str], year: int) -> pa.DataFrameSchema:
    """Type and domain of every canonical field. Check `error` texts are what users read."""
    iso3 = pa.Check.str_matches(r"^[A-Z]{3}$", error="must be an ISO 3166 alpha-3 code")
    plausible = pa.Check.in_range(pd.Timestamp("1950-01-01"), pd.Timestamp(f"{year + 30}-12-31"),
                                  error=f"must be a plausible date (1950 to {year + 30})")
    return pa.DataFrameSchema(
        {
            "flow": pa.Column("string", pa.Check.isin(FLOWS, error="must be export or import"), nullable=True),
            "basis": pa.Column("string", pa.Check.isin(BASES, error="must be authorized or actual"), nullable=True),
            "date": pa.Column("datetime64[ns]", plausible, nullable=True),
            "valid_until": pa.Column("datetime64[ns]", plausible, nullable=True),
            "partner_state": pa.Column("string", iso3, nullable=True),
            "origin_state": pa.Column("string", iso3, nullable=True),
            "intermediate_states": pa.Column(
                "string", pa.Check.str_matches(r"^[A-Z]{3}(;[A-Z]{3})*$", error="must be alpha-3 codes joined by ;"),
                nullable=True),
            "category": pa.Column("string", pa.Check.isin(category_codes, error="must be an ATT category code"),
                                  nullable=True),
            "quantity": pa.Column("Int64", pa.Check.ge(0, error="must be 0 or more (a count of items)"),
                                  nullable=True),
            "value": pa.Column("Float64", pa.Check.ge(0, error="must be 0 or more"), nullable=True),
            "currency": pa.Column("string", pa.Check.str_matches(r"^[A-Z]{3}$", error="must be an ISO 4217 code"),
                                  nullable=True),
            "withheld": pa.Column("boolean", nullable=False),
        },
        strict=False,
        coerce=False,
    )


def _may_fail(records: pd.DataFrame, schema: pa.DataFrameSchema) -> np.ndarray | None:
    """Rows that may break the schema: a superset of pandera's failure cases, or None (check all).

    Every check of the schema is element-wise, so it runs once per distinct
    value of a text column (States, currencies, categories repeat a lot) and
    once over a number/date column; pandera then validates only the rows
    that failed a check (benchmark, issue 7), which gives the same failure
    cases, in the same order, as validating every row.
    """
    mask = np.zeros(len(records), dtype=bool)
    for name, column in schema.columns.items():
        if name not in records:
            continue  # pandera reports the missing column itself (no row)
        values = records[name].reset_index(drop=True)
        missing = values.isna().to_numpy(dtype=bool)
        if not column.nullable or any(not check.ignore_na for check in column.checks):
            mask |= missing
        if not column.checks:
            continue
        try:
            by_value = pd.api.types.is_string_dtype(values.dtype) or values.dtype == object
            if by_value:
                codes, uniques = factorize(values)  # arrow text: one dictionary encoding, not pandas' batches
                target = pd.Series(uniques, dtype=values.dtype)
            else:
                target = values
            failed = np.zeros(len(target), dtype=bool)
            for check in column.checks:
                output = check(target).check_output
                if not isinstance(output, pd.Series) or not pd.api.types.is_bool_dtype(output.dtype):
                    return None
                labels = output.index[~output.to_numpy(dtype=bool, na_value=False)]
                failed[np.asarray(labels, dtype=np.int64)] = True
            if by_value:
                if failed.any():
                    mask |= np.where(codes >= 0, failed[np.maximum(codes, 0)], False)
            else:
                mask |= failed
        except Exception:  # a check that cannot run here is left to pandera, over every row
            return None
    return mask


@rule("schema-violation", Severity.ERROR, "intake")
def rule_canonical_schema(records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A canonical field breaks the schema (e.g. a negative value, an implausible date).

    Enforces: the canonical intake schema (validate/schema.py): Art. 13(3)
    template columns hold non-negative numbers of items and values, ISO
    codes for States and currencies, ATT category codes, plausible dates.
    """
    from att_report.normalise.categories import load_categories

    schema = canonical_schema([c.code for c in load_categories()], ctx.config.year)
    # only the schema's columns (strict=False ignores the others), only the rows that may fail
    checked = records[[c for c in schema.columns if c in records]]
    may_fail = _may_fail(records, schema)
    if may_fail is not None:
        checked = checked.iloc[np.flatnonzero(may_fail)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema.validate(checked, lazy=True)
        return emit(records.iloc[:0], "schema-violation", "")
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    cases = cases[cases["index"].notna() & cases["column"].notna()]
    if cases.empty:
        return emit(records.iloc[:0], "schema-violation", "")
    provenance = records[[c for c in ("src_agency", "src_file", "src_sheet", "src_row", "record_id") if c in records]]
    rows = provenance.loc[cases["index"].astype("int64").to_numpy()].reset_index(drop=True)
    cases = cases.reset_index(drop=True)
    # pandera reports "check_name(args)"; show the check's plain-language error text instead
    messages = {(name, str(check)): check.error or str(check)
                for name, col in schema.columns.items() for check in col.checks}
    text = pd.Series(
        [f"'{f}' {messages.get((f, c), c)}; the file has '{v}'." for f, c, v in
         zip(cases["column"].astype(str), cases["check"].astype(str), cases["failure_case"].astype(str))],
        index=rows.index)
    out = [emit(rows[mask], "schema-violation", text[mask], field=field,
                value=cases.loc[mask, "failure_case"].astype(str))
           for field, mask in ((f, cases["column"].astype(str).eq(f)) for f in sorted(cases["column"].astype(str).unique()))]
    return pd.concat(out, ignore_index=True)
