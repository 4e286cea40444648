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
import pyarrow as pa
import pyarrow.compute as pc

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
    rows: pd.DataFrame  # reported rows: compile.ROW_COLUMNS, value_rc, value_bad
    lines: pd.DataFrame  # every line: table flow, basis, LINE_COLUMNS, first_row (position in rows)
    currency: str
    currency_candidates: tuple[str, ...]  # currencies seen when none was configured
    withheld: pd.Series  # bool mask over records
    outside_year: pd.Series  # bool mask: rows of a reported basis dated outside the year
    nil_withheld: tuple[str, ...]  # flows with no lines but withheld rows
    positions: np.ndarray  # each reported row's position in the records (provenance for findings)
    line_pos: np.ndarray  # each reported row's line (position in `lines`)
    codes: dict  # the reported rows' text columns as (codes, texts) (text_codes_at), e.g. "agency", "file"


def dispositions(records: pd.DataFrame, config, coded: dict | None = None
                 ) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Masks of open rows that are reported, withheld, reference; and rows dated outside the year.

    Only rows with disposition "" are decided; invalid, merged and excluded
    rows keep theirs. A row of a basis the table does not report, or dated
    outside the reporting year, is reference (it served reconciliation).
    `coded`: (codes, texts) of "flow" and "basis" over the records (text_codes_at), when the
    caller has them.
    """
    disp = records["disposition"].astype("string").fillna("")
    open_ = disp.eq("")
    valid = records["valid"].astype("boolean").fillna(False).astype(bool)
    (flow_codes, flow_texts), (basis_codes, basis_texts) = (
        (coded["flow"], coded["basis"]) if coded is not None
        else (_text_codes(records["flow"]), _text_codes(records["basis"])))
    # per distinct (flow, basis) pair whether a table reports it, then per row
    used_pair = np.zeros((len(flow_texts), len(basis_texts)), dtype=bool)
    for flow_name in ("export", "import"):
        bases = table_bases(config.table(flow_name).basis)
        is_flow = np.array([t == flow_name for t in flow_texts], dtype=bool)
        is_basis = np.array([t in bases for t in basis_texts], dtype=bool)
        used_pair[np.ix_(is_flow, is_basis)] = True
    used = pd.Series(used_pair[flow_codes, basis_codes], index=records.index)
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
    # the rate per distinct currency (a few), then taken per row
    codes, uniques = pd.factorize(cur.array, use_na_sentinel=False)
    table = {k: float(v) for k, v in rates.items() if k != currency}
    if currency:
        table[currency] = 1.0
    per_code = np.array([table.get(u, np.nan) for u in uniques] or [np.nan], dtype="float64")
    rate = pd.Series(pd.array(per_code[codes], dtype="Float64"), index=rows.index)
    converted = value * rate
    bad = value.notna() & rate.isna()
    return converted.mask(bad, pd.NA).astype("Float64"), bad.fillna(False).astype(bool)


def _combine_text(rows: pd.DataFrame, group: pd.Series, column: str,
                  coded: tuple[np.ndarray, np.ndarray] | None = None) -> pd.Series:
    """Per group, the distinct non-blank texts in row order, joined with '; '.

    Works on integer codes (factorised texts, group ids, row_uid) and joins in
    Arrow: sorting a million-row frame of strings took most of build_lines.
    `coded`: the column's (codes, texts) as _text_codes gives them, when the
    caller has them (then `rows` need not hold the column).
    """
    if coded is None:
        codes, uniques = pd.factorize(rows[column].astype("string").array, use_na_sentinel=True)
        uniques = np.asarray(uniques.astype(object), dtype=object) if len(uniques) else []
    else:
        codes, uniques = coded  # NA is "" there: dropped as blank below, as NA is here
    texts = pa.array(uniques, type=pa.string())
    blank = np.asarray(pc.equal(texts, ""), dtype=bool) if len(texts) else np.zeros(0, dtype=bool)
    keep = codes >= 0
    keep[keep] = ~blank[codes[keep]]
    if not keep.any():
        return pd.Series(dtype="string")
    g = group.to_numpy(dtype="int64")[keep]
    t = codes[keep].astype("int64")
    uid = rows["row_uid"].to_numpy(dtype="int64")[keep]
    if len(uid) > 1 and not (uid[1:] > uid[:-1]).all():  # rows normally come in source order
        by_uid = np.argsort(uid, kind="stable")
        g, t, uid = g[by_uid], t[by_uid], uid[by_uid]
    # a text seen before in the same group is dropped (hashing: few pairs are left to sort)
    first = ~pd.Series(g * max(len(texts), 1) + t).duplicated().to_numpy()
    g, t, uid = g[first], t[first], uid[first]
    order = np.lexsort([uid, g])  # by group, then source order
    g, t = g[order], t[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    offsets = pa.array(np.r_[starts, len(g)].astype("int64"), type=pa.int64())
    joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, texts.take(pa.array(t))), "; ")
    return pd.Series(pd.array(joined, dtype="string"), index=pd.Index(g[starts], name="g"))


def _text_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a text column (NA counts as ""), and the texts by code (object array)."""
    codes, uniques = pd.factorize(series.astype("string").array, use_na_sentinel=True)
    texts = np.asarray(uniques.astype(object) if len(uniques) else [], dtype=object)
    if (codes < 0).any():
        blank = np.flatnonzero(texts == "")
        if len(blank):
            codes = np.where(codes < 0, blank[0], codes)
        else:
            texts = np.append(texts, "")
            codes = np.where(codes < 0, len(texts) - 1, codes)
    return codes.astype("int64", copy=False), texts


def text_codes_at(series: pd.Series, positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """_text_codes of `series`, then taken at `positions` (all rows when None).

    Compile codes a records column once over every row and takes the codes of
    the reported rows: taking integers costs far less than taking a million
    strings and factorising them again. The texts may hold values of rows
    not taken (codes are ids; nothing counts the texts).
    """
    codes, texts = _text_codes(series)
    return (codes if positions is None else codes[positions]), texts


def _combined_ids(all_codes: list[np.ndarray]) -> np.ndarray:
    """Ids of the distinct combinations of several code columns, in order of first appearance
    (groupby(keys, sort=False).ngroup())."""
    combo = np.zeros(len(all_codes[0]) if all_codes else 0, dtype="int64")
    size = 1
    for codes in all_codes:
        width = int(codes.max()) + 1 if len(codes) else 1
        if size * width >= 2 ** 62:  # keep the combined code within int64
            combo, distinct = pd.factorize(combo)
            size = len(distinct)
        combo = combo * width + codes
        size *= width
    return pd.factorize(combo)[0].astype("int64")


#: build_lines' text keys and the record columns they come from.
LINE_KEY_COLUMNS = dict(zip(("flow", "basis", *KEYS), ("flow", "basis", "category", "partner_state", "origin_state",
                                                        "intermediate_states")))


def build_lines(rows: pd.DataFrame, config, category_order: dict[str, int],
                coded: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Lines of every table and section from the reported rows.

    Returns (lines, line_pos): lines with columns flow, basis, LINE_COLUMNS,
    first_row (position of the line's first row in `rows`); line_pos gives each row (position in
    `rows`) the position of its line in `lines`. `coded`: (codes, texts) per LINE_KEY_COLUMNS key
    and for "description" and "comments" (text_codes_at), when the caller has them; `rows` then
    needs only quantity, value_rc, value_bad, row_uid and date.
    """
    from att_report.normalise.countries import country_names

    if rows.empty:
        lines = empty_lines().assign(flow=pd.Series(dtype="string"), basis=pd.Series(dtype="string"),
                                     first_row=pd.Series(dtype="int64"))
        return lines, np.zeros(0, dtype="int64")
    # the key texts as integer codes (NA and "" are one key): grouping, the per-transfer test and
    # each line's key texts work on these; filling and grouping a million strings cost half of this
    codes, texts = {}, {}
    for key, src in LINE_KEY_COLUMNS.items():
        codes[key], texts[key] = coded[key] if coded is not None else _text_codes(rows[src])
    work = pd.DataFrame({
        "quantity": rows["quantity"].astype("Int64"),
        "value_rc": rows["value_rc"], "value_bad": rows["value_bad"],
        "row_uid": rows["row_uid"], "date": rows["date"],
    }, index=rows.index)
    per_transfer = np.zeros(len(rows), dtype=bool)
    for flow_name in ("export", "import"):
        if config.table(flow_name).aggregate == "per_transfer":
            per_transfer |= texts["flow"][codes["flow"]] == flow_name
    # group id: per_partner rows share one per key; per_transfer rows get their own
    gid = _combined_ids([codes[k] for k in ("flow", "basis", *KEYS)])
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    gid = np.where(per_transfer, np.arange(n_groups, n_groups + len(gid), dtype="int64"), gid)
    group = pd.Series(gid, index=work.index)
    work["g"] = group
    agg = work.groupby("g", sort=False).agg(
        number=("quantity", "sum"),
        has_number=("quantity", "count"),
        value=("value_rc", "sum"), has_value=("value_rc", "count"), value_bad=("value_bad", "any"),
        first_uid=("row_uid", "min"), first_date=("date", "min"),
    )
    # a line's key texts: those of its first row (every row of a line has the same keys)
    first_pos = np.flatnonzero(~pd.Series(gid).duplicated().to_numpy())
    at = pd.Series(first_pos, index=gid[first_pos]).reindex(agg.index).to_numpy()
    for key in ("flow", "basis", *KEYS):
        agg[key] = pd.array(texts[key][codes[key][at]], dtype="string")
    agg["number"] = agg["number"].astype("Int64").mask(agg["has_number"].eq(0), pd.NA)
    value = agg["value"].astype("Float64").mask(agg["has_value"].eq(0) | agg["value_bad"], pd.NA)
    agg["value"] = value.round(0)
    for col in ("description", "comments"):
        agg[col] = _combine_text(rows, group, col, None if coded is None else coded[col]).reindex(agg.index).fillna("")
    # first row of each line (its provenance locates line-level findings)
    uid = work["row_uid"].to_numpy(dtype="int64")
    by_uid = np.argsort(uid, kind="stable") if len(uid) > 1 and not (uid[1:] > uid[:-1]).all() else None
    g_by_uid = group.to_numpy(dtype="int64") if by_uid is None else group.to_numpy(dtype="int64")[by_uid]
    firsts = np.flatnonzero(~pd.Series(g_by_uid).duplicated().to_numpy())
    at = firsts if by_uid is None else by_uid[firsts]
    first_row = pd.Series(at, index=g_by_uid[firsts])  # positions: rules take them with iloc
    agg["first_row"] = first_row.reindex(agg.index)
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
    # each row's line: group id -> the line's position (group ids are < n_groups + len(rows))
    where = np.zeros(int(gid.max()) + 1, dtype="int64")
    where[agg.index.to_numpy(dtype="int64")] = np.arange(len(agg), dtype="int64")
    return lines, where[gid]


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
#: Combined sort keys must stay below this (int64); above it compress_sources sorts on two keys.
_KEY_LIMIT = 2.0 ** 62


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes that sort like the texts (NA counts as ""), and the texts by code.

    Arrow factorises the strings; only the distinct texts are sorted.
    """
    codes, texts = _text_codes(values)
    order = np.argsort(texts, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], texts[order]


def _merge_sorted(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Several (codes, texts) as one: codes that sort like the texts, and the sorted distinct texts."""
    texts = np.concatenate([np.asarray(t, dtype=object) for _, t in parts]) if parts else np.zeros(0, object)
    ids, distinct = pd.factorize(texts) if len(texts) else (np.zeros(0, dtype="int64"), np.zeros(0, object))
    distinct = np.asarray(distinct, dtype=object)
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    out, at = [], 0
    for codes, t in parts:
        out.append(rank[ids[at:at + len(t)]][codes] if len(codes) else np.zeros(0, dtype="int64"))
        at += len(t)
    return np.concatenate(out).astype("int64", copy=False), distinct[order]


def _row_numbers(values: pd.Series) -> np.ndarray:
    """Row numbers as int64, missing -> -1 (shown as "?")."""
    return values.astype("Float64").fillna(-1).to_numpy(dtype="float64").astype("int64")


def _empty_sources() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in SOURCE_COLUMNS}).astype({"count": "int64"})


def compress_sources(rows: pd.DataFrame, coded: dict[str, tuple[np.ndarray, np.ndarray] | np.ndarray] | None = None,
                     also_from: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per line and source file, the rows as ranges: "2-5000, 5002" (SOURCE_COLUMNS).

    Sorting and run detection work on one integer key per row (the keys'
    sorted codes combined with the row number), the texts are built in Arrow,
    so a million rows compress in a fraction of a second. A line whose rows
    scatter over very many runs continues on further rows (RUNS_PER_CELL
    ranges each).

    `coded` (compile's fast path): the rows' keys as (codes, texts) under "line_id", "agency",
    "file" and "sheet" (any codes: they are ranked here) and "row" the row numbers (int64, -1
    for none); `also_from` then gives _also_from's frame for the rows (`rows` is not read).
    """
    keys = ["line_id", "agency", "file", "sheet"]
    if coded is None:
        base = pd.DataFrame({
            "line_id": rows["line_id"], "agency": rows["src_agency"], "file": rows["src_file"],
            "sheet": rows["src_sheet"], "row": rows["src_row"],
        })
        frame = pd.concat([base, _also_from(rows)], ignore_index=True) if "also_from" in rows else base
        if frame.empty:
            return _empty_sources()
        codes, uniques = [], []
        for key in keys:
            code, texts = _sorted_codes(frame[key].astype("string"))
            codes.append(code)
            uniques.append(texts)
        row = _row_numbers(frame["row"])
    else:  # the rows' keys as codes already; the merged duplicates' (a few) are coded here
        also = also_from if also_from is not None else _also_from(rows.iloc[0:0])
        if not len(coded["row"]) and also.empty:
            return _empty_sources()
        codes, uniques = [], []
        for key in keys:
            code, texts = _merge_sorted([coded[key], _text_codes(also[key].astype("string"))])
            codes.append(code)
            uniques.append(texts)
        row = np.concatenate([coded["row"], _row_numbers(also["row"])])
    sizes = [max(len(u), 1) for u in uniques]
    combo = codes[0].astype("int64")
    for c, size in zip(codes[1:], sizes[1:]):
        combo = combo * size + c
    span = int(row.max()) + 2
    if float(np.prod(sizes, dtype="float64")) * span < _KEY_LIMIT:  # one int64 key: keys, then row
        key = np.sort(combo * span + (row + 1))
        key = key[np.r_[True, key[1:] != key[:-1]]]  # the same row twice counts once
        combo, row = np.divmod(key, span)
        row = row - 1
    else:  # too many distinct keys for one int64: sort on two
        order = np.lexsort([row, combo])
        combo, row = combo[order], row[order]
        dup = np.r_[False, (combo[1:] == combo[:-1]) & (row[1:] == row[:-1])]
        combo, row = combo[~dup], row[~dup]
    same = np.r_[False, combo[1:] == combo[:-1]]
    consecutive = np.r_[False, row[1:] == row[:-1] + 1]
    run_start = ~(same & consecutive)
    starts = np.flatnonzero(run_start)
    ends = np.r_[starts[1:], len(row)] - 1
    lo, hi = row[starts], row[ends]
    counts = ends - starts + 1
    # run texts "5" / "5-9" ("?" for a row number that is missing), built in Arrow
    # (the upper bound is cast only for the runs of several rows)
    text = pc.cast(pa.array(lo), pa.string())
    several = lo != hi
    if several.any():
        at = pa.array(np.flatnonzero(several))
        ranged = pc.binary_join_element_wise(text.take(at), pc.cast(pa.array(hi[several]), pa.string()), "-")
        text = pc.replace_with_mask(text, pa.array(several), ranged)
    missing = lo < 0
    if missing.any():
        text = pc.if_else(pa.array(missing), pa.scalar("?"), text)
    group_start = ~same[starts]
    group = np.cumsum(group_start) - 1
    rank = np.arange(len(starts)) - np.flatnonzero(group_start)[group]
    chunk_start = group_start | (rank % RUNS_PER_CELL == 0)
    bounds = np.flatnonzero(chunk_start)
    first = starts[bounds]
    parts = []  # the key codes back from the combined key
    rest = combo[first]
    for size in reversed(sizes[1:]):
        rest, part = np.divmod(rest, size)
        parts.append(part)
    parts.append(rest)
    parts.reverse()
    out = pd.DataFrame({key: pd.array(uniques[i][parts[i]], dtype="string") for i, key in enumerate(keys)})
    offsets = pa.array(np.r_[bounds, len(starts)].astype("int64"))
    joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, text), ", ")
    out["rows"] = pd.array(joined, dtype="string")
    out["count"] = np.add.reduceat(counts, bounds).astype("int64")
    return out.reset_index(drop=True)[list(SOURCE_COLUMNS)]
