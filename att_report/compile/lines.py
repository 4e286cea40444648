"""Compile report lines from the records frame (vectorised group-bys).

Steps: decide each open row's disposition (reported / withheld / reference),
convert values into the report currency, group rows into lines per table and
basis section (per_partner: category x partner x origin x intermediates;
per_transfer: one line per record), order them by the template, number them
(stable ids like EXP-ACT-0007) and compress their provenance for the Sources
sheet. Compile rules (compile/rules.py) then look at the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from att_report.compile.model import BASIS_ORDER, LINE_COLUMNS, SOURCE_COLUMNS, empty_lines

FLOW_CODE = {"export": "EXP", "import": "IMP"}
BASIS_CODE = {"authorized": "AUT", "actual": "ACT"}
KEYS = ("category", "partner", "origin", "intermediates")


def table_bases(basis: str) -> tuple[str, ...]:
    """Sections of a table for its configured basis, in report order."""
    return BASIS_ORDER if basis == "both" else (basis,)


def _text(series: pd.Series) -> pd.Series:
    """Canonical text fields as strings, NA -> "" (intake already trimmed them)."""
    return series.astype("string").fillna("")


@dataclass(frozen=True, eq=False)
class Work:
    """Intermediate products the compile rules look at."""
    rows: pd.DataFrame  # reported rows: provenance, keys, value_rc, value_bad, line_id
    lines: pd.DataFrame  # every line: table flow, basis, LINE_COLUMNS, first_row (index into rows)
    currency: str
    currency_candidates: tuple[str, ...]  # currencies seen when none was configured
    withheld: pd.Series  # bool mask over records
    outside_year: pd.Series  # bool mask: rows of a reported basis dated outside the year
    nil_withheld: tuple[str, ...]  # flows with no lines but withheld rows


def dispositions(records: pd.DataFrame, config) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Masks of open rows that are reported, withheld, reference; and rows dated outside the year.

    Only rows with disposition "" are decided; invalid, merged and excluded
    rows keep theirs. A row of a basis the table does not report, or dated
    outside the reporting year, is reference (it served reconciliation).
    """
    disp = records["disposition"].astype("string").fillna("")
    open_ = disp.eq("")
    valid = records["valid"].astype("boolean").fillna(False).astype(bool)
    flow = _text(records["flow"])
    basis = _text(records["basis"])
    used = pd.Series(False, index=records.index)
    for flow_name in ("export", "import"):
        bases = table_bases(config.table(flow_name).basis)
        used |= flow.eq(flow_name) & basis.isin(bases)
    in_year = records["date"].dt.year.eq(config.year).fillna(False).astype(bool)
    candidate = open_ & valid & used & in_year
    withheld = records["withheld"].astype("boolean").fillna(False).astype(bool)
    reported = candidate & ~withheld
    held = candidate & withheld
    reference = open_ & valid & ~candidate
    outside = open_ & valid & used & ~in_year
    return reported, held, reference, outside


def report_currency(rows: pd.DataFrame, config) -> tuple[str, tuple[str, ...]]:
    """The report currency: config, else the one currency of the reported values.

    Returns (currency, candidates); several candidates and no config means the
    NPC must choose (an error finding); the most frequent one is used meanwhile.
    """
    if config.currency:
        return config.currency, ()
    with_value = rows["value"].notna()
    cur = _text(rows.loc[with_value, "currency"]).str.upper()
    cur = cur[cur.ne("")]
    if cur.empty:
        return "", ()
    counts = cur.value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) == 1:
        return ranked[0][0], ()
    return ranked[0][0], tuple(sorted(counts.index))


def convert_values(rows: pd.DataFrame, currency: str, rates: dict[str, float]) -> tuple[pd.Series, pd.Series]:
    """Values in the report currency, and a mask of values that could not be converted."""
    value = rows["value"].astype("Float64")
    cur = _text(rows["currency"]).str.upper()
    same = cur.eq(currency) & (currency != "")
    rate = cur.map({k: float(v) for k, v in rates.items() if k != currency}).astype("Float64")
    rate = rate.mask(same, 1.0)
    converted = value * rate
    bad = value.notna() & rate.isna()
    return converted.mask(bad, pd.NA).astype("Float64"), bad.fillna(False).astype(bool)


def _combine_text(rows: pd.DataFrame, group: pd.Series, column: str) -> pd.Series:
    """Per group, the distinct non-blank texts in row order, joined with '; '."""
    text = _text(rows[column])
    keep = text.ne("")
    frame = pd.DataFrame({"g": group[keep], "uid": rows.loc[keep, "row_uid"], "t": text[keep]})
    frame = frame.sort_values(["g", "uid"], kind="mergesort").drop_duplicates(["g", "t"])
    if frame.empty:
        return pd.Series(dtype="string")
    single = ~frame["g"].duplicated(keep=False)
    out = frame.loc[single].set_index("g")["t"]
    multi = frame.loc[~single]
    if not multi.empty:
        # one Python join per line with several texts (few in practice)
        joined = multi.groupby("g", sort=False)["t"].agg("; ".join)
        out = pd.concat([out, joined])
    return out.astype("string")


def build_lines(rows: pd.DataFrame, config, category_order: dict[str, int]) -> tuple[pd.DataFrame, pd.Series]:
    """Lines of every table and section from the reported rows.

    Returns (lines, line_of_row): lines with columns flow, basis, LINE_COLUMNS,
    first_row; line_of_row maps each row (index of `rows`) to its line_id.
    """
    from att_report.normalise.countries import country_names

    if rows.empty:
        lines = empty_lines().assign(flow=pd.Series(dtype="string"), basis=pd.Series(dtype="string"),
                                     first_row=pd.Series(dtype="int64"))
        return lines, pd.Series(dtype="string")
    work = pd.DataFrame({
        "flow": _text(rows["flow"]), "basis": _text(rows["basis"]),
        **{k: _text(rows[src]) for k, src in zip(KEYS, ("category", "partner_state", "origin_state",
                                                           "intermediate_states"))},
        "quantity": rows["quantity"].astype("Int64"),
        "value_rc": rows["value_rc"], "value_bad": rows["value_bad"],
        "row_uid": rows["row_uid"], "date": rows["date"],
    }, index=rows.index)
    per_transfer = pd.Series(False, index=rows.index)
    for flow_name in ("export", "import"):
        if config.table(flow_name).aggregate == "per_transfer":
            per_transfer |= work["flow"].eq(flow_name)
    # group id: per_partner rows share one per key; per_transfer rows get their own
    keys = ["flow", "basis", *KEYS]
    group = work.groupby(keys, sort=False, dropna=False).ngroup().astype("int64")
    n_groups = int(group.max()) + 1 if len(group) else 0
    own = np.arange(n_groups, n_groups + len(work), dtype="int64")
    group = group.where(~per_transfer, pd.Series(own, index=work.index))
    work["g"] = group
    agg = work.groupby("g", sort=False).agg(
        flow=("flow", "first"), basis=("basis", "first"),
        category=("category", "first"), partner=("partner", "first"),
        origin=("origin", "first"), intermediates=("intermediates", "first"),
        number=("quantity", "sum"),
        has_number=("quantity", "count"),
        value=("value_rc", "sum"), has_value=("value_rc", "count"), value_bad=("value_bad", "any"),
        first_uid=("row_uid", "min"), first_date=("date", "min"),
    )
    agg["number"] = agg["number"].astype("Int64").mask(agg["has_number"].eq(0), pd.NA)
    value = agg["value"].astype("Float64").mask(agg["has_value"].eq(0) | agg["value_bad"], pd.NA)
    agg["value"] = value.round(0)
    agg["description"] = _combine_text(rows, group, "description").reindex(agg.index).fillna("")
    agg["comments"] = _combine_text(rows, group, "comments").reindex(agg.index).fillna("")
    # first row of each line (its provenance locates line-level findings)
    first_row = work.reset_index(names="_ix").sort_values("row_uid", kind="mergesort").drop_duplicates("g")
    agg["first_row"] = first_row.set_index("g")["_ix"].reindex(agg.index)
    # measure: a table reporting numbers only leaves value empty, and vice versa
    for flow_name in ("export", "import"):
        measure = config.table(flow_name).measure
        mask = agg["flow"].eq(flow_name)
        if measure == "number":
            agg.loc[mask, "value"] = pd.NA
        elif measure == "value":
            agg.loc[mask, "number"] = pd.NA
    # display order: template category order, partner's English name, origin, intermediates,
    # then (per transfer) date and source order
    unknown = len(category_order)
    agg["_cat"] = agg["category"].map(category_order).fillna(unknown).astype("int64")
    agg["_pname"] = country_names(agg["partner"]).fillna("").str.casefold()
    agg["_oname"] = country_names(agg["origin"]).fillna("").str.casefold()
    agg["_flow"] = agg["flow"].map({"export": 0, "import": 1})
    agg["_basis"] = agg["basis"].map({b: i for i, b in enumerate(BASIS_ORDER)})
    agg = agg.sort_values(
        ["_flow", "_basis", "_cat", "category", "_pname", "partner", "_oname", "origin", "intermediates",
         "first_date", "first_uid"],
        kind="mergesort",
    )
    seq = agg.groupby(["flow", "basis"], sort=False).cumcount() + 1
    width = max(4, len(str(int(seq.max()))))
    agg["line_id"] = (agg["flow"].map(FLOW_CODE) + "-" + agg["basis"].map(BASIS_CODE) + "-"
                      + seq.astype("string").str.zfill(width))
    lines = agg.reset_index(drop=True)[["flow", "basis", *LINE_COLUMNS, "first_row"]]
    for col in ("line_id", "category", "partner", "origin", "intermediates", "description", "comments"):
        lines[col] = lines[col].astype("string")
    lines["number"] = lines["number"].astype("Int64")
    lines["value"] = lines["value"].astype("Float64")
    line_of_row = group.map(pd.Series(agg["line_id"].to_numpy(), index=agg.index)).astype("string")
    return lines, line_of_row


# --- provenance (Sources sheet) ----------------------------------------------

def _also_from(rows: pd.DataFrame) -> pd.DataFrame:
    """Provenances of duplicates merged into a row by reconciliation (`also_from`).

    The text lists `agency:file:row` items separated by ';' (the discrepancy
    log's `related` form). An item that does not parse keeps its whole text as
    the file, so it is still shown.
    """
    if "also_from" not in rows or rows.empty:
        return pd.DataFrame(columns=["line_id", "agency", "file", "sheet", "row"])
    text = _text(rows["also_from"])
    has = text.ne("")
    if not has.any():
        return pd.DataFrame(columns=["line_id", "agency", "file", "sheet", "row"])
    items = pd.DataFrame({"line_id": rows.loc[has, "line_id"], "item": text[has].str.split(";")}).explode("item")
    items["item"] = items["item"].str.strip()
    items = items[items["item"].ne("")]
    parts = items["item"].str.extract(r"^(?P<agency>[^:]*):(?P<file>.*):(?P<row>\d+)$")
    ok = parts["row"].notna()
    out = pd.DataFrame({
        "line_id": items["line_id"],
        "agency": parts["agency"].where(ok, ""),
        "file": parts["file"].where(ok, items["item"]),
        "sheet": "",
        "row": pd.to_numeric(parts["row"], errors="coerce").astype("Int64"),
    })
    return out


#: Row ranges per Sources cell at most (keeps a cell far below Excel's 32,767 characters).
RUNS_PER_CELL = 400


def compress_sources(rows: pd.DataFrame) -> pd.DataFrame:
    """Per line and source file, the rows as ranges: "2-5000, 5002" (SOURCE_COLUMNS).

    Sorting and run detection work on integer codes (factorised keys), so a
    million rows compress in about a second. A line whose rows scatter over
    very many runs continues on further rows (RUNS_PER_CELL ranges each).
    """
    base = pd.DataFrame({
        "line_id": rows["line_id"], "agency": rows["src_agency"], "file": rows["src_file"],
        "sheet": rows["src_sheet"], "row": rows["src_row"],
    })
    frame = pd.concat([base, _also_from(rows)], ignore_index=True) if "also_from" in rows else base
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in SOURCE_COLUMNS}).astype({"count": "int64"})
    keys = ["line_id", "agency", "file", "sheet"]
    codes, uniques = [], []
    for key in keys:
        # sort=True: codes follow the text order, so sorting codes sorts the text
        code, values = pd.factorize(frame[key].astype("string").fillna("").to_numpy(dtype=object), sort=True)
        codes.append(code)
        uniques.append(np.asarray(values, dtype=object))
    row = frame["row"].astype("Float64").fillna(-1).to_numpy(dtype="float64")
    order = np.lexsort([row, *reversed(codes)])
    codes = [c[order] for c in codes]
    row = row[order]
    same = np.ones(len(row), dtype=bool)
    for code in codes:
        same[1:] &= code[1:] == code[:-1]
    same[0] = False
    keep = ~(same & np.r_[False, row[1:] == row[:-1]])  # the same row twice counts once
    codes, row, same = [c[keep] for c in codes], row[keep], same[keep]
    consecutive = np.r_[False, row[1:] == row[:-1] + 1]
    run_start = ~(same & consecutive)
    starts = np.flatnonzero(run_start)
    ends = np.r_[starts[1:], len(row)] - 1
    lo, hi = row[starts].astype("int64"), row[ends].astype("int64")
    counts = ends - starts + 1
    # texts built in numpy (object arrays): joining Arrow strings one by one is slow
    text = lo.astype(str).astype(object)
    ranged = lo != hi
    text[ranged] = text[ranged] + "-" + hi[ranged].astype(str).astype(object)
    if (lo < 0).any():
        text[lo < 0] = "?"
    # group of each run: a new group starts where the keys change (runs are sorted)
    group_start = ~same[starts]
    group = np.cumsum(group_start) - 1
    rank = np.arange(len(starts)) - np.flatnonzero(group_start)[group]
    chunk_start = group_start | (rank % RUNS_PER_CELL == 0)
    bounds = np.flatnonzero(chunk_start)
    first = starts[bounds]
    out = pd.DataFrame({key: pd.array(uniques[i][codes[i][first]], dtype="string") for i, key in enumerate(keys)})
    out["rows"] = pd.array([", ".join(part) for part in np.split(text, bounds[1:])], dtype="string")
    out["count"] = np.add.reduceat(counts, bounds).astype("int64")
    return out.reset_index(drop=True)[list(SOURCE_COLUMNS)]
