"""Reconcile stage: licences vs shipments, cross-agency duplicates, decisions, dispositions.

Entry point: `reconcile(records, config, decisions, intake_findings)`.

1. Exact cross-agency duplicates among the valid rows are merged: the
   twins get disposition `merged` (disposition_ref = the surviving record's
   `agency:file:row`), the survivor keeps every provenance in `also_from`.
2. The scope rules (own-forces, out-of-scope) and the record-identity rules
   (duplicate-record-id, duplicate-merged) run on the valid, unmerged rows.
   A row a scope finding flags is out of the report unless a decision
   `accept` or `override` on that finding brings it back.
3. The other rules (licence links, over-shipment, validity, near-duplicates,
   plausibility) run on the rows in scope only: an excluded row raises no
   finding of its own there and its quantities count towards no licence
   (but it still marks its licence as used, and an excluded licence line
   still defines its licence for the shipments in scope). A row brought
   back by a decision is checked like any other (on its values as read:
   rules do not re-run on overridden values).
4. Own-forces and out-of-scope findings exclude their record (disposition
   `excluded`, disposition_ref = the finding id) unless a decision says
   otherwise.
5. Decisions apply: `exclude` excludes the record a finding is on
   (disposition_ref = "decision F-..."), `override` sets its fields,
   `accept` resolves the finding. Invalid rows are never touched.
Other valid rows keep disposition "" for the compile stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from att_report import findings as fnd
from att_report.findings import Finding, Severity
from att_report.normalise.identifiers import licence_key
from att_report.reconcile import link as lk
from att_report.reconcile import rules as _rules  # noqa: F401  (registers the rules)
from att_report.reconcile.decisions import (
    Decisions, apply_decisions, load_decisions, unresolved_errors,
)
from att_report.reconcile.common import CODED, add_codes, row_positions
from att_report.reconcile.duplicates import COALESCE, EXACT_COLUMNS, apply_merges, exact_duplicates
from att_report.reconcile.rules import EVERY_RECORD_CODES, EXCLUDING_CODES, RULE_COLUMNS, SCOPE_CODES
from att_report.rules import RuleContext, rules_for, run_rule_list

__all__ = [
    "ReconcileResult", "reconcile", "finalize_findings", "unresolved_so_far", "targets_for",
    "Decisions", "load_decisions", "apply_decisions", "unresolved_errors", "EXCLUDING_CODES",
]


@dataclass(frozen=True)
class ReconcileResult:
    #: every row of the input, never fewer; dispositions merged/excluded set, overrides applied,
    #: plus `also_from` ("agency:file:row;..." of the rows merged into a survivor)
    records: pd.DataFrame
    #: reconciliation findings (LOG_FIELDS), decision columns filled, plus decision-not-applicable warnings
    findings: pd.DataFrame
    #: one row per (decision, record) applied: finding_id, decision, row_uid, location, effect, note
    decisions_applied: pd.DataFrame
    #: finding_id -> row_uid of the record each finding is on (reconcile and intake findings)
    targets: pd.DataFrame


def targets_for(findings: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """finding_id -> row_uid of the record the finding is on (by agency, file, sheet, row)."""
    cols = ["finding_id", "row_uid"]
    if findings.empty or records.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    f = findings[["finding_id", "agency", "file", "sheet", "row"]].dropna(subset=["row"])
    f = f.assign(row=f["row"].astype("Int64"),
                 sheet=f["sheet"].astype("string").fillna(""),
                 agency=f["agency"].astype("string"), file=f["file"].astype("string"))
    # only rows some finding points at (an integer filter first: string merges over every row are slow),
    # and only the columns read here (a row filter copies every column)
    at = _rows_at(records["src_row"], f["row"].astype("int64").unique())
    records = records[["row_uid", "src_agency", "src_file", "src_sheet", "src_row"]].iloc[at]
    # one integer key per (agency, file, sheet, row) on both sides: with many files (365 daily csv) every
    # row number is wanted, and a merge on three text columns of a million rows took a second and more
    record_key, finding_key = _place_keys(records, f)
    r = pd.DataFrame({"row_uid": records["row_uid"].to_numpy(), "key": record_key})
    found = pd.DataFrame({"finding_id": f["finding_id"].to_numpy(), "key": finding_key})
    out = found[finding_key >= 0].merge(r, on="key", how="inner")[cols]
    return out.drop_duplicates().sort_values(cols, kind="mergesort").reset_index(drop=True)


def _place_keys(records: pd.DataFrame, findings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """An int64 key per record (src_agency, src_file, src_sheet, src_row) and per finding (agency, file,
    sheet, row), equal where the four are; -1 for a finding no record has (a missing text counts as "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    record_key = np.zeros(len(records), dtype=np.int64)
    finding_key = np.zeros(len(findings), dtype=np.int64)
    absent = np.zeros(len(findings), dtype=bool)
    def text(column: pd.Series):
        data = pa.array(column.astype("string").fillna("").array)
        return data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data

    for rec_col, find_col in (("src_agency", "agency"), ("src_file", "file"), ("src_sheet", "sheet")):
        encoded = pc.dictionary_encode(text(records[rec_col]))
        codes = np.asarray(encoded.indices, dtype=np.int64)
        wanted = pc.index_in(text(findings[find_col]), value_set=encoded.dictionary)
        absent |= np.asarray(pc.is_null(wanted), dtype=bool)
        size = max(len(encoded.dictionary), 1)
        record_key = record_key * size + codes
        finding_key = finding_key * size + np.asarray(pc.fill_null(wanted, 0), dtype=np.int64)
    rows = records["src_row"].to_numpy(dtype=np.int64)
    wanted_rows = findings["row"].to_numpy(dtype=np.int64)
    span = int(max(rows.max(initial=0), wanted_rows.max(initial=0))) + 1
    absent |= wanted_rows < 0
    record_key = record_key * span + rows
    finding_key = finding_key * span + wanted_rows
    return record_key, np.where(absent, -1, finding_key)


def _rows_at(src_row: pd.Series, wanted: np.ndarray) -> np.ndarray:
    """Positions of the rows whose src_row is one of `wanted` (ascending)."""
    values = src_row.to_numpy()
    if (values.dtype.kind in "iu" and len(values) and int(values.min()) >= 0
            and int(values.max()) < 8 * len(values) + 1024):
        # row numbers are small integers: a lookup table instead of hashing a million of them
        table = np.zeros(int(values.max()) + 1, dtype=bool)
        table[wanted[(wanted >= 0) & (wanted < len(table))]] = True
        return np.flatnonzero(table[values])
    return np.flatnonzero(src_row.isin(wanted).to_numpy())


def _set_fields(records: pd.DataFrame, sets: dict[str, dict[int, object]]) -> None:
    """Set field -> {row position: value}, one assignment per field (each one copies the column)."""
    for field, values in sets.items():
        pos = list(values)
        records.iloc[pos, records.columns.get_loc(field)] = list(values.values())
        if field == "licence_no":
            keys = licence_key(records["licence_no"].iloc[pos].astype("string"))
            records.iloc[pos, records.columns.get_loc("licence_key")] = keys.to_numpy()


def _not_applicable(decision, fid: str, why: str, where: pd.Series | None) -> Finding:
    return Finding(
        severity=Severity.WARNING, code="decision-not-applicable",
        message=(f"The decision '{decision.decision}' on finding {fid} (decisions file line {decision.line}) "
                 f"was not applied: {why}"),
        agency=str(where["src_agency"]) if where is not None else "",
        file=str(where["src_file"]) if where is not None else "",
        sheet=str(where["src_sheet"]) if where is not None else "",
        row=int(where["src_row"]) if where is not None else None,
        field="decision", value=decision.decision,
    ).with_id(fid)


def _run(codes, records: pd.DataFrame, ctx: RuleContext, *, skip: bool = False) -> pd.DataFrame:
    """Findings of the reconcile rules whose code is in `codes` (or, with `skip`, not in them), in threads."""
    return run_rule_list([r for r in rules_for("reconcile") if (r.code in codes) != skip], records, ctx)


def _scoped_out(found: pd.DataFrame, rows: pd.DataFrame, by_id: dict) -> np.ndarray:
    """Per row: flagged by a scope finding that no `accept`/`override` decision brings back."""
    kept = [f for f, d in by_id.items() if d.decision != "exclude"]
    out = found[found["code"].isin(SCOPE_CODES) & ~found["finding_id"].isin(kept)]
    if out.empty:
        return np.zeros(len(rows), dtype=bool)
    return rows["row_uid"].isin(targets_for(out, rows)["row_uid"]).to_numpy()


def reconcile(records: pd.DataFrame, config, decisions: Decisions | None = None,
              intake_findings: pd.DataFrame | None = None) -> ReconcileResult:
    """Run the reconciliation on a records frame (see the module docstring).

    `intake_findings` lets decisions on intake findings (e.g. exclude a row
    an intake warning points at) reach their records.
    """
    out = records.copy(deep=False)  # copy-on-write: only the columns changed below are copied
    valid = out["valid"].astype(bool).to_numpy()
    # text columns coded once for the duplicates and all rules (integer group-bys and joins), over
    # every row: a row filter would copy each column, and invalid rows take part in nothing (masks)
    # (not the columns merging may fill: the rules get theirs coded after the merges, and the
    # duplicates code them on their few candidate rows)
    keyed = add_codes(out[list(dict.fromkeys([*EXACT_COLUMNS, *RULE_COLUMNS]))],
                      [c for c in CODED if c not in COALESCE])
    merges = exact_duplicates(keyed, among=valid)
    out = apply_merges(out, merges)
    # the rules get only the columns they read, every row and a mask of the active ones (valid, not
    # merged: cutting the others out would copy every column); codes of the columns merging may fill
    # are made after the merges
    is_active = valid & (out["disposition"] != "merged").to_numpy()
    rows = out[list(RULE_COLUMNS)].assign(
        **{f"_c_{c}": keyed[f"_c_{c}"].to_numpy() for c in CODED if c not in COALESCE})
    del keyed
    rows = add_codes(rows, [c for c in CODED if c in COALESCE])
    by_id = decisions.by_id() if decisions is not None else {}
    first = (*SCOPE_CODES, *EVERY_RECORD_CODES)
    wide = RuleContext(config, extra={"merges": merges, "active": is_active})
    found = _run(first, rows, wide)
    # the other rules check the rows in scope only (a mask, see rules.in_scope: cutting the rows
    # would copy every column); the links see every active row (see link.build_links)
    scoped = _scoped_out(found, rows, by_id) & is_active
    ctx = RuleContext(config, extra={"merges": merges, "active": is_active,
                                     "links": lk.build_links(rows, scoped, among=is_active)})
    if "hs" in wide.extra:  # HS facts per distinct code, computed by the first pass
        ctx.extra["hs"] = wide.extra["hs"]
    if scoped.any() or not is_active.all():
        ctx.extra["in_scope"] = is_active & ~scoped
    found = fnd.sort_frame(fnd.concat([found, _run(first, rows, ctx, skip=True)]))
    del ctx, wide, rows

    every = found if intake_findings is None or intake_findings.empty else fnd.concat([intake_findings, found])
    targets = targets_for(every, out)
    pos = row_positions(out)
    disp_col = out.columns.get_loc("disposition")
    ref_col = out.columns.get_loc("disposition_ref")

    # default exclusions (own forces, out of scope): unless accepted or overridden
    excl = found[found["code"].isin(EXCLUDING_CODES)]
    kept = [f for f, d in by_id.items() if d.decision != "exclude"]  # accepted or overridden
    excl = excl[~excl["finding_id"].isin(kept)]
    ex_t = targets.merge(excl[["finding_id"]], on="finding_id")
    ex_t = ex_t[(out["disposition"].to_numpy()[pos(ex_t["row_uid"])] == "")]
    ex_t = ex_t.drop_duplicates("row_uid", keep="first")
    p = pos(ex_t["row_uid"])
    out.iloc[p, disp_col] = "excluded"
    out.iloc[p, ref_col] = ex_t["finding_id"].to_numpy()

    applied: list[dict] = []
    problems: list[Finding] = []
    decided = targets[targets["finding_id"].isin(list(by_id))]
    target_map = {fid: list(uids) for fid, uids in decided.groupby("finding_id")["row_uid"]}
    known = set(every["finding_id"])
    # the effects are gathered, then set once per column: a cell set costs a copy of its column
    excluded: dict[int, str] = {}
    sets: dict[str, dict[int, object]] = {}
    for fid in sorted(by_id):  # per decision, not per record
        d = by_id[fid]
        if d.decision == "accept" or fid not in known:
            continue
        uids = target_map.get(fid, [])
        if not uids:
            problems.append(_not_applicable(d, fid, "the finding is not about one record (e.g. a whole file).", None))
            continue
        for uid in uids:
            i = int(pos([uid])[0])
            row = out.iloc[i]
            loc = f"{row['src_agency']}:{row['src_file']}:{row['src_row']}"
            if not bool(row["valid"]):
                problems.append(_not_applicable(d, fid, "the row is invalid (left out of the report); "
                                                "correct it in the agency's file.", row))
                continue
            if row["disposition"] == "merged":
                problems.append(_not_applicable(d, fid, f"the row was merged into {row['disposition_ref']}; "
                                                "decide the finding on that record instead.", row))
                continue
            if d.decision == "exclude":
                excluded[i] = f"decision {fid}"
                effect = "excluded"
            else:
                for field, value in d.overrides:
                    sets.setdefault(field, {})[i] = value
                effect = "set " + d.override_text
            applied.append({"finding_id": fid, "decision": d.decision, "row_uid": uid, "location": loc,
                            "effect": effect, "note": d.note, "line": d.line})
    if excluded:
        out.iloc[list(excluded), disp_col] = "excluded"
        out.iloc[list(excluded), ref_col] = list(excluded.values())
    _set_fields(out, sets)

    found = fnd.concat([found, fnd.to_frame(problems)])
    found, _stale = apply_decisions(found, decisions)
    applied_frame = pd.DataFrame(applied, columns=["finding_id", "decision", "row_uid", "location",
                                                   "effect", "note", "line"])
    return ReconcileResult(records=out, findings=fnd.sort_frame(found), decisions_applied=applied_frame,
                           targets=targets)


def unresolved_so_far(intake_findings: pd.DataFrame | None, result: ReconcileResult,
                      decisions: Decisions | None) -> int:
    """`unresolved_errors` of what `finalize_findings` would give, without its sort (a second of 1M findings)."""
    return unresolved_errors(_decided(intake_findings, result, decisions)[0])


def finalize_findings(intake_findings: pd.DataFrame | None, result: ReconcileResult,
                      decisions: Decisions | None) -> pd.DataFrame:
    """All findings for the log: intake + reconciliation, decisions filled, stale decisions added, sorted."""
    return fnd.sort_frame(fnd.concat(_decided(intake_findings, result, decisions)))


def _decided(intake_findings: pd.DataFrame | None, result: ReconcileResult,
             decisions: Decisions | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(intake + reconciliation findings with their decisions, stale-decision warnings)."""
    every = fnd.concat([intake_findings if intake_findings is not None else fnd.empty_frame(), result.findings])
    return apply_decisions(every, decisions)
