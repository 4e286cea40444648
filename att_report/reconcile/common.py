"""Small vectorised helpers shared by the reconciliation rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from att_report import findings as fnd
from att_report.rules import RULES

#: Text columns the rules group, join or compare on. reconcile() factorizes
#: each once into an integer column `_c_<name>` (see `codes`): string
#: group-bys and merges over a million rows cost seconds, integer ones not.
#: record_id is not coded: only duplicate-record-id compares it (see repeated_texts).
CODED = ("licence_key", "flow", "basis", "partner_state", "category", "src_agency", "hs_code", "currency")


def _arrow_text(series: pd.Series) -> pa.Array | None:
    """The column's arrow text as one array (None: not arrow text).

    Frames stacked from several files hold their columns in several chunks;
    joining them copies the text once, far cheaper than the pandas fallbacks.
    """
    arr = getattr(series.array, "_pa_array", None)
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()


def factorize(series: pd.Series, *, sort: bool = False) -> np.ndarray:
    """Integer codes of a text column (-1 for missing). Codes depend on the rows: never use them in ids."""
    arr = _arrow_text(series)
    if arr is not None:
        # pyarrow text: its dictionary encoding gives pd.factorize's codes (first appearance, nulls -1)
        # without building the distinct values (a million record ids cost a quarter of a second)
        encoded = pc.dictionary_encode(arr)
        found = encoded.indices.fill_null(-1).to_numpy().astype("int64")
        if not sort:
            return found
        # sorted codes: rank the few distinct texts (code point order, as pandas sorts them)
        texts = encoded.dictionary.to_pylist()
        rank = np.full(len(texts) + 1, -1, dtype="int64")  # rank[-1]: missing stays -1
        rank[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts))
        return rank[found]
    return pd.factorize(series, sort=sort)[0].astype("int64")


def add_codes(frame: pd.DataFrame, columns=CODED) -> pd.DataFrame:
    """`frame` plus `_c_<name>` integer codes of its `columns` (agencies coded alphabetically).

    Each column is coded on its own (pyarrow's dictionary encoding, without the GIL): in threads.
    """
    from att_report.threads import run_all

    names = [c for c in columns if c in frame]
    coded = run_all([(_codes_of, (frame[c], c == "src_agency")) for c in names], name="att-report-codes")
    return frame.assign(**{f"_c_{c}": codes for c, codes in zip(names, coded)})


def _codes_of(series: pd.Series, sort: bool) -> np.ndarray:
    return factorize(series, sort=sort)


def codes(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Integer codes of `col`: the precomputed `_c_<col>` when present, else factorized now.

    Codes are only comparable within one frame (or frames cut from the same coded frame).
    """
    name = f"_c_{col}"
    if name in frame:
        return frame[name].to_numpy()
    return factorize(frame[col], sort=col == "src_agency")


def distinct(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, pd.Series]:
    """(codes, values) of `col` for work per distinct value: row i holds values.iloc[codes[i]] (-1: missing)."""
    c = codes(frame, col)
    # first row of each code (codes are small integers: a minimum per code, no hashing), in code
    # order: what np.unique(c, return_index=True) gives, without sorting a million rows
    known = np.flatnonzero(c >= 0)
    first_at = np.full(int(c.max(initial=-1)) + 1, len(c), dtype="int64")
    np.minimum.at(first_at, c[known], known)
    present = np.flatnonzero(first_at < len(c))
    first = first_at[present]
    remap = np.full(int(c.max(initial=-1)) + 2, -1, dtype="int64")  # remap[-1] stays -1: missing
    remap[present] = np.arange(len(present))
    return remap[c], frame[col].iloc[first].reset_index(drop=True)


def row_positions(frame: pd.DataFrame):
    """A function: row_uids -> their positions in `frame` (KeyError for a uid not in it).

    Intake numbers rows 0..n-1, so a lookup array over the uids does it without
    building a hash index over a million rows; other uids fall back on one.
    """
    uids = frame["row_uid"].to_numpy()
    n = len(uids)
    if n and uids.dtype.kind in "iu" and int(uids.min()) >= 0 and int(uids.max()) < 4 * n + 1024:
        lookup = np.full(int(uids.max()) + 1, -1, dtype="int64")
        lookup[uids] = np.arange(n)
        if int((lookup >= 0).sum()) == n:  # unique uids (a repeated one would keep its last row only)
            def find(keys) -> np.ndarray:
                k = np.asarray(keys, dtype="int64")
                ok = (k >= 0) & (k < len(lookup))
                out = lookup[np.where(ok, k, 0)]
                if not (ok & (out >= 0)).all():
                    raise KeyError(k[~(ok & (out >= 0))][:5].tolist())
                return out
            return find
    if n == 0:  # a workspace with no rows: nothing to find, and positions stay integers
        def nowhere(keys) -> np.ndarray:
            k = np.asarray(keys)
            if len(k):
                raise KeyError(k[:5].tolist())
            return np.empty(0, dtype="int64")
        return nowhere
    pos = pd.Series(np.arange(n, dtype="int64"), index=uids)
    return lambda keys: pos.loc[keys].to_numpy(dtype="int64")


def dense_codes(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(key) for non-negative integers: (codes in order of first appearance, uniques).

    Keys below a few times the number of rows are renumbered through a lookup table (no
    hashing: a third of the time over a million rows); larger ones go to pd.factorize.
    """
    key = np.asarray(key, dtype="int64")
    n = len(key)
    top = int(key.max(initial=0)) + 1
    if not n or int(key.min()) < 0 or top > max(8 * n, 1 << 16):
        c, u = pd.factorize(key)
        return c.astype("int64"), np.asarray(u, dtype="int64")
    seen = np.zeros(top, dtype=bool)
    seen[key] = True
    uniq = np.flatnonzero(seen)  # sorted
    table = np.empty(top, dtype="int64")  # read only where seen: no need to fill the rest
    table[uniq] = np.arange(len(uniq))
    c = table[key]
    # from sorted order to order of first appearance, as pd.factorize numbers
    first = np.full(len(uniq), n, dtype="int64")
    np.minimum.at(first, c, np.arange(n))
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(uniq), dtype="int64")
    rank[order] = np.arange(len(uniq))
    return rank[c], uniq[order]


def _text_fingerprint(series: pd.Series) -> np.ndarray | None:
    """Per row, a 64-bit digest of the text's byte length, first and last 8 bytes (None: not arrow text).

    Equal texts have equal digests; unequal ones may share one. Read straight from the arrow
    buffers (two gathers of 8-byte words): far cheaper than hashing a million texts.
    """
    from att_report.normalise.unique import text_bytes

    a = _arrow_text(series)
    if a is None:
        return None
    offsets, data = text_bytes(a)
    # 8 zero bytes either side, then every 8-byte window of the bytes (little-endian): word[i] holds
    # padded bytes i..i+7, so a text's last 8 bytes are word[end] and its first 8 word[start + 8]
    padded = np.zeros(len(data) + 16, dtype="uint8")
    padded[8:8 + len(data)] = data
    word = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    start, end = offsets[:-1], offsets[1:]
    length = end - start
    short = np.clip(length, 0, 8).astype("uint64")
    last, first = word[end], word[start + 8]
    # a text under 8 bytes keeps only its own: the high bytes of `last`, the low bytes of `first`
    last = np.where(length >= 8, last, last >> (np.uint64(64) - np.uint64(8) * np.maximum(short, 1)))
    first = np.where(length >= 8, first, first & ((np.uint64(1) << (np.uint64(8) * short)) - np.uint64(1)))
    last = np.where(length > 0, last, 0).astype("uint64")
    with np.errstate(over="ignore"):
        prime = np.uint64(1099511628211)  # FNV's: the products wrap modulo 2**64
        return (length.astype("uint64") * prime + last) * prime + first


#: odd 64-bit multipliers (Fibonacci hashing): each spreads the keys over a table in another way
_SPREAD = tuple(np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                       0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD))


def duplicated_keys(key: np.ndarray) -> np.ndarray:
    """pd.Series(key).duplicated(keep=False) for 64-bit integer keys, mostly unique, without hashing them all.

    Each round counts the keys per slot of a table four times their number (a bincount): a key
    alone in its slot has no twin; twins always share a slot, so only the few keys left after a
    few rounds are hashed exactly.
    """
    key = np.asarray(key).view("uint64") if np.asarray(key).dtype.itemsize == 8 else np.asarray(key, "uint64")
    cand = np.arange(len(key))
    with np.errstate(over="ignore"):
        for mult in _SPREAD:
            if len(cand) < 4096:
                break
            bits = int(np.ceil(np.log2(4 * len(cand))))
            slot = ((key[cand] * mult) >> np.uint64(64 - bits)).astype(np.intp)
            cand = cand[np.bincount(slot, minlength=1 << bits)[slot] > 1]
    out = np.zeros(len(key), dtype=bool)
    out[cand] = pd.Series(key[cand]).duplicated(keep=False).to_numpy()
    return out


def repeated_texts(group: np.ndarray, series: pd.Series) -> np.ndarray:
    """Per row: does another row have the same `group` code and the same text? (missing ones never)

    What `combine_codes(group, factorize(series))` then `duplicated(keep=False)` gives; over a
    million mostly unique texts (record ids), the rows whose digest (see _text_fingerprint) is
    unique are ruled out first, and only the few left are compared on their texts.
    """
    group = np.asarray(group, dtype="int64")
    cand = np.flatnonzero((group >= 0) & series.notna().to_numpy())
    digest = _text_fingerprint(series)
    if digest is not None:
        with np.errstate(over="ignore"):
            mixed = digest[cand] * np.uint64(0x9E3779B97F4A7C15) + group[cand].astype("uint64")
        cand = cand[duplicated_keys(mixed)]
    out = np.zeros(len(group), dtype=bool)
    if len(cand):
        key = combine_codes(group[cand], pd.factorize(series.iloc[cand])[0].astype("int64"))
        out[cand] = pd.Series(key).duplicated(keep=False).to_numpy()
    return out


def combine_codes(*arrays: np.ndarray) -> np.ndarray:
    """One integer code per distinct combination of the given codes (-1 if any is missing)."""
    out = arrays[0].astype("int64")
    bound = int(out.max(initial=0)) + 1  # out < bound
    for a in arrays[1:]:
        width = int(a.max(initial=0)) + 1
        if bound * width >= 2**62:  # renumber densely first: the product must not overflow
            valid = out >= 0
            out[valid] = pd.factorize(out[valid])[0]
            bound = int(out.max(initial=0)) + 1
        out = np.where((out >= 0) & (a >= 0), out * width + a, -1)
        bound *= width
    return out


def location(frame: pd.DataFrame) -> pd.Series:
    """Where a record stands, as the user sees it: `agency:file:row`."""
    return (
        frame["src_agency"].astype("string").fillna("") + ":"
        + frame["src_file"].astype("string").fillna("") + ":"
        + frame["src_row"].astype("Int64").astype("string").fillna("")
    )


def record_key(frame: pd.DataFrame) -> pd.Series:
    """The identity of a record for finding ids: agency and record_id.

    A record without a record_id (intake flags that) is identified by where
    it stands, so its ids are stable as long as the row does not move.
    """
    rec = frame["record_id"].astype("string").fillna("").str.strip()
    where = (
        "@" + frame["src_file"].astype("string").fillna("") + "|"
        + frame["src_sheet"].astype("string").fillna("") + "|"
        + frame["src_row"].astype("Int64").astype("string").fillna("")
    )
    rec = rec.where(rec.str.len() > 0, where)
    return frame["src_agency"].astype("string").fillna("") + "|" + rec


def provenance_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a deterministic order independent of how they were read."""
    return frame.sort_values(
        ["src_agency", "src_file", "src_sheet", "src_row", "row_uid"], kind="mergesort"
    )


def group_join(frame: pd.DataFrame, by: str | list[str], col: str, *, unique: bool = False,
               sort: bool = False) -> pd.Series:
    """Per group of `by`, the texts of `col` joined by ';' (index = the group keys, sorted).

    Values keep the frame's order (records come in provenance order) unless
    `sort`; `unique` drops repeats. Vectorised except for the final join per
    group: groupby(...).agg(";".join) on string arrays is ~50x slower.
    """
    by = [by] if isinstance(by, str) else list(by)
    sub = frame[[*by, col]].dropna(subset=[col])
    if unique:
        sub = sub.drop_duplicates()
    if sort:
        sub = sub.sort_values([*by, col], kind="mergesort")
    if sub.empty:
        index = pd.MultiIndex.from_tuples([], names=by) if len(by) > 1 else pd.Index([], name=by[0])
        return pd.Series([], index=index, dtype=object, name=col)
    gb = sub.groupby(by, sort=True)
    codes = gb.ngroup().to_numpy()
    keys = gb.size().index
    values = sub[col].astype(object).to_numpy()
    order = np.argsort(codes, kind="stable")
    g, v = codes[order], values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    ends = np.r_[starts[1:], len(g)]
    out = v[starts].copy()  # a group of one row needs no join (most groups)
    for i in np.flatnonzero(ends - starts > 1).tolist():
        out[i] = ";".join(v[starts[i]:ends[i]])
    return pd.Series(out, index=keys[g[starts]], dtype=object, name=col)


def join_sorted(frame: pd.DataFrame, by: str | list[str], col: str) -> pd.Series:
    """Per group, the sorted unique texts of `col` joined by ';' (index = group keys)."""
    return group_join(frame, by, col, unique=True, sort=True)


def emit_on(rows: pd.DataFrame, code: str, message, *, field: str = "", value="",
            related="", identity: pd.Series | None = None) -> pd.DataFrame:
    """Findings of a registered rule; the id derives from `identity` (record keys) and the code."""
    if rows.empty:
        return fnd.empty_frame()
    ident = (identity if identity is not None else record_key(rows),)
    return fnd.frame_for_rows(
        rows, code=code, severity=RULES[code].severity, message=message,
        field=field, value=value, related=related, identity=ident,
    )


def text(series: pd.Series) -> pd.Series:
    """Series as display text ("" for missing)."""
    return series.astype("string").fillna("")


def fmt_date(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%d").astype("string").fillna("")


def fmt_amount(series: pd.Series) -> pd.Series:
    """Money as people read it: 270,000 or 1,234.50 ("" for missing)."""
    def one(v) -> str:
        if v is None or v is pd.NA or v != v:
            return ""
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    values = series.astype("Float64").round(2)
    uniques = {v: one(v) for v in values.dropna().unique()}
    return values.map(uniques).astype("string").fillna("")


def fmt_int(series: pd.Series) -> pd.Series:
    return series.astype("Float64").round().astype("Int64").astype("string").fillna("")
