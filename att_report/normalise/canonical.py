"""RawTables -> one canonical records frame (all rows, normalised, with raw text kept).

Every field is normalised once for the whole run, per distinct value where
parsing is expensive. The frame keeps each field's raw text (`raw_<field>`)
and its parse status (`st_<field>`), which the intake rules (validate/) turn
into findings; nothing here decides what is an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from att_report.config import AgencyConfig
from att_report.intake.profiles import Profile
from att_report.intake.tables import RawTable
from att_report.normalise import categories, countries, currency
from att_report.normalise.dates import parse_dates
from att_report.normalise.identifiers import licence_key
from att_report.normalise.numbers import parse_numbers
from att_report.normalise.text import scan_text
from att_report.normalise.unique import factorize, first_appearances, mostly_distinct, per_unique, spread
from att_report.records import conform
from att_report.schema import INTAKE_NAMES
from att_report.threads import run_all

FLOW_WORDS = {
    "export": ("export", "exports", "exp", "e", "x", "out", "outgoing", "outbound", "sortie", "exportation",
               "exportación", "exportacion", "出口"),
    "import": ("import", "imports", "imp", "i", "m", "in", "incoming", "inbound", "entrée", "entree",
               "importation", "importación", "importacion", "进口"),
}
BASIS_WORDS = {
    "authorized": ("authorized", "authorised", "authorization", "authorisation", "auth", "licence", "license",
                   "licensed", "licenced", "permit", "autorisé", "autorise", "autorizado", "autorizada", "许可"),
    "actual": ("actual", "delivered", "delivery", "deliveries", "shipment", "shipped", "effective", "réel", "reel",
               "effectif", "efectivo", "real", "实际"),
}
YES_WORDS = ("yes", "y", "true", "1", "x", "oui", "si", "sí", "withheld", "是")
NO_WORDS = ("no", "n", "false", "0", "non", "不", "否")

ID_FIELDS = ("record_id", "licence_no")
TEXT_FIELDS = ("description", "end_user", "comments")


def _word_map(words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {w.casefold(): canonical for canonical, ws in words.items() for w in ws}


_FLOW_MAP = _word_map(FLOW_WORDS)
_BASIS_MAP = _word_map(BASIS_WORDS)
_FLAG_MAP = {**{w: "yes" for w in YES_WORDS}, **{w: "no" for w in NO_WORDS}}


def raw_frame(tables: list[RawTable], profiles: dict[str, Profile | None]) -> pd.DataFrame:
    """Stack every table's rows with their canonical fields as raw text + provenance.

    Profile constants fill absent fields; profile value maps translate raw
    values (e.g. customs `EXP` -> `export`). Consecutive tables of one layout
    (same agency, same columns for the same fields: e.g. a customs office's
    365 daily csv files) are stacked first and handled as one, so the work
    per table is done once per layout, not once per file.
    """
    parts = [_raw_part(group, profiles.get(group[0].agency)) for group in _same_layout(tables)]
    if not parts:
        frame = pd.DataFrame({c: pd.Series(dtype="string") for c in
                              ("src_agency", "src_role", "src_file", "src_sheet", *INTAKE_NAMES)})
        frame["src_row"] = pd.Series(dtype="int64")
        return frame
    if len(parts) == 1:
        return _one_chunk(parts[0])
    return _one_chunk(pd.concat(parts, ignore_index=True))


def _same_layout(tables: list[RawTable]) -> list[list[RawTable]]:
    """The non-empty tables in order, in runs of consecutive tables of one agency with the same field columns."""
    groups: list[list[RawTable]] = []
    for table in tables:
        if len(table.data) == 0:
            continue
        if groups and _layout(groups[-1][0]) == _layout(table):
            groups[-1].append(table)
        else:
            groups.append([table])
    return groups


def _layout(table: RawTable) -> tuple:
    return table.agency, table.role, tuple(sorted(table.field_columns.items()))


def _raw_part(group: list[RawTable], profile: Profile | None) -> pd.DataFrame:
    """The rows of same-layout tables (`_same_layout`) as canonical raw text + provenance."""
    import pyarrow as pa

    first = group[0]
    lengths = [len(t.data) for t in group]
    n = sum(lengths)
    index = pd.RangeIndex(n)

    def constant(value, dtype="string"):
        if dtype == "string" and (value is None or value is pd.NA or isinstance(value, str)):
            return _repeated_text(value, index)
        return pd.Series(value, index=index, dtype=dtype)

    def per_table(values: list, dtype=None) -> pd.Series:
        """A value per table, on each of its rows."""
        if len(set(values)) == 1:
            return constant(values[0], dtype or "string")
        which = pa.array(np.repeat(np.arange(len(values)), lengths))
        if dtype is None:
            taken = pa.array(values, type=pa.large_string()).take(which)
            return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([taken])), index=index)
        return pd.Series(np.asarray(values, dtype=dtype)[np.asarray(which)], index=index)

    def stacked(header: str) -> pd.Series:
        """The tables' `header` columns, one after another (arrow chunks side by side: no copy here)."""
        columns = [t.data[header].astype("string") for t in group]
        if len(columns) == 1:
            return columns[0].reset_index(drop=True)
        chunks = [chunk if chunk.type == pa.large_string() else chunk.cast(pa.large_string())
                  for c in columns for chunk in c.array._pa_array.chunks]
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string())), index=index)

    # columns stay arrow-backed strings: no round trip through Python objects
    part = {
        "src_agency": constant(first.agency),
        "src_role": constant(first.role),
        "src_file": per_table([t.file for t in group]),
        "src_sheet": per_table([t.sheet for t in group]),
        "src_row": pd.Series(np.concatenate([np.asarray(t.excel_rows, dtype="int64") for t in group]),
                             index=index),
    }
    for name in INTAKE_NAMES:
        header = first.field_columns.get(name)
        if header is not None:
            col = stacked(header)
            if profile and name in profile.values:
                # per distinct value: a customs column of 1M "EX"/"IM" has two
                col = per_unique(col, lambda s, m=profile.values[name]:
                                 s.str.strip().str.casefold().map(m).astype("string").fillna(s))
            part[name] = col
        elif profile and name in profile.constants:
            part[name] = constant(profile.constants[name])
        else:
            part[name] = constant(pd.NA)
    part["src_date1904"] = per_table([t.date1904 for t in group], "bool")
    for name in ("quantity", "value"):
        part[f"typed_{name}"] = pd.Series(np.concatenate([
            t.typed_numbers.get(name, np.zeros(len(t.data), dtype=bool)) for t in group]), index=index)
    return pd.DataFrame(part)


def _one_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed columns joined into one chunk each (a stack of files leaves one chunk per file).

    Copies each column's text once; every later pass (arrow kernels, takes,
    masks) then runs on one array: reconcile alone ran about a second slower
    on the three chunks of a 1M-row workspace (issue 7).
    """
    import pyarrow as pa

    from att_report.threads import run_all

    chunked = {}
    for name in frame.columns:
        data = getattr(frame[name].array, "_pa_array", None)
        if isinstance(data, pa.ChunkedArray) and data.num_chunks > 1:
            chunked[name] = data
    # each column joined on its own, by pyarrow without the GIL: in threads (first touch of a
    # worker's mapped file and of new memory, 0.6-0.8 s at 1M on one thread, ~0.4 s on two)
    combined = run_all([(_combined, (data,)) for data in chunked.values()], name="att-report-chunks")
    joined = {}
    for name, one in zip(chunked, combined):
        array = frame[name].array
        one = (type(array)(one, dtype=array.dtype) if isinstance(array, pd.arrays.ArrowStringArray)
               else type(array)(one))
        if one.dtype == array.dtype:  # else leave the column as it is: same data, only slower
            joined[name] = pd.Series(one, index=frame.index, name=name)
    if joined:
        frame = frame.assign(**joined)
    return frame


def _combined(data):
    """One chunked arrow array as a chunked array of one chunk."""
    import pyarrow as pa

    return pa.chunked_array([data.combine_chunks()], type=data.type)


def _repeated_text(value: str | None, index: pd.Index) -> pd.Series:
    """One text (or NA) on every row, as a "string" Series built by pyarrow, not from a Python list."""
    import pyarrow as pa

    n = len(index)
    arr = (pa.nulls(n, pa.large_string()) if value is None or value is pd.NA
           else pa.repeat(pa.scalar(value, pa.large_string()), n))
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr], type=pa.large_string())), index=index)


def _coded(text: pd.Series, mapping: dict[str, str]) -> pd.DataFrame:
    """A small vocabulary: value (canonical word or NA) and status (blank, invalid, ok).

    Both per distinct value: the status strings of a million rows were built
    row by row before (benchmark, issue 7).
    """
    value = text.str.casefold().map(mapping).astype("string")
    which = np.where(text.isna(), 0, np.where(value.isna(), 1, 2))
    # a categorical status: spread to every row as small codes, not strings
    status = pd.Categorical.from_codes(which, categories=pd.Index(_STATUSES, dtype="string"))
    return pd.DataFrame({"value": value, "status": status}, index=text.index)


_STATUSES = ("blank", "invalid", "ok")


class _Agencies:
    """Each row's agency as a small integer code: src_agency is hashed once for every setting."""

    def __init__(self, raw: pd.DataFrame, agencies: dict[str, AgencyConfig],
                 profiles: dict[str, Profile | None]):
        codes, names = pd.factorize(raw["src_agency"])  # a missing agency -> -1
        self.codes = codes
        self.names = [str(n) for n in names]
        self.agencies = agencies
        self.profiles = profiles

    def setting(self, key: str, default: str | None = None) -> tuple[np.ndarray, list[str | None]]:
        """(per-row index into values, values): the agency's (or its profile's) setting, else `default`."""
        values: list[str | None] = []
        for name in self.names:
            agency, profile = self.agencies.get(name), self.profiles.get(name)
            value = (getattr(profile, key, None) if profile else None) or (getattr(agency, key) if agency else None)
            values.append(default if value is None else value)
        values.append(default)  # rows without an agency
        return np.where(self.codes < 0, len(values) - 1, self.codes), values


def _by_setting(series: pd.Series, which: np.ndarray, values: list[str | None], func) -> pd.DataFrame:
    """Apply func(series, setting) once per distinct setting (agencies differ); rows keep their order.

    The result is pd.concat of each setting's result (dtypes as concat makes
    them) in the order of the rows. Each setting's rows are parsed once per
    distinct value when values repeat: the series is factorized once, then
    func sees each setting's distinct values, and one take spreads the
    results; splitting and re-assembling 1M rows cost ~0.5 s (benchmark,
    issue 7). `func` must work value by value, as per_unique assumes.
    """
    distinct: dict[str | None, list[int]] = {}
    # settings in the order their first row appears; agencies sharing a setting are parsed together
    present = np.flatnonzero(np.bincount(which, minlength=len(values)))
    first = {int(k): int(np.argmax(which == k)) for k in present}
    for k in sorted(present, key=lambda k: first[int(k)]):
        distinct.setdefault(values[k], []).append(int(k))
    if len(distinct) <= 1:
        return func(series, next(iter(distinct), None))
    # setting of each row as an index into the distinct settings
    group_of = np.zeros(len(values), dtype=np.intp)
    for g, ks in enumerate(distinct.values()):
        group_of[ks] = g
    group = group_of[which]
    by_value = not mostly_distinct(series)
    if by_value:
        codes, uniques = factorize(series)
        texts = pd.Series(uniques, dtype=series.dtype)
        if codes.size and codes.min() < 0:  # missing values: one more distinct value, as the series holds it
            missing = codes < 0
            texts = pd.concat([texts, series.iloc[[int(np.argmax(missing))]]], ignore_index=True)
            codes = np.where(missing, len(texts) - 1, codes)
    pieces, at_piece, offset = [], np.empty(len(series), dtype=np.intp), 0
    for g, value in enumerate(distinct):
        rows = np.flatnonzero(group == g)
        if by_value:
            # this setting's distinct values, in order of first appearance (as per_unique sees them)
            mine = first_appearances(codes[rows], len(texts))
            where = np.empty(len(texts), dtype=np.intp)
            where[mine] = np.arange(len(mine))
            piece = func(texts.iloc[mine].reset_index(drop=True), value)
            at_piece[rows] = offset + where[codes[rows]]
        else:
            piece = func(series.iloc[rows], value)
            at_piece[rows] = offset + np.arange(len(rows))
        pieces.append(piece)
        offset += len(piece)
    # concat of the small pieces gives concat's dtypes; one take puts every row's result in place
    return spread(pd.concat(pieces, ignore_index=True), at_piece, series.index)


#: threads for the fields of `normalise` (None: att_report.threads.THREADS): each field is parsed on
#: its own, mostly inside pyarrow, numpy and pandas kernels that release the GIL (issue 7)
NORMALISE_THREADS: int | None = None


def normalise(raw: pd.DataFrame, agencies: dict[str, AgencyConfig],
              profiles: dict[str, Profile | None], *, threads: int | None = None) -> pd.DataFrame:
    """The canonical records frame (schema.RECORD_COLUMNS) plus raw_/st_ aux columns.

    Fields are parsed in `threads` threads; each task reads its own inputs
    and returns its own columns, which are put together in one fixed order,
    so the frame is the same whatever the threads or their timing.
    """
    # what the tasks read from `raw` is taken out once, here: they share nothing else, and only read it
    source = {name: raw[name] for name in INTAKE_NAMES}
    by_agency = _Agencies(raw, agencies, profiles)
    date1904 = raw["src_date1904"].fillna(False).astype(bool) if "src_date1904" in raw else None
    typed = {name: (raw[f"typed_{name}"].fillna(False).to_numpy(dtype=bool) if f"typed_{name}" in raw
                    else np.zeros(len(raw), dtype=bool)) for name in ("quantity", "value")}
    threads = NORMALISE_THREADS if threads is None else threads
    scanned = run_all([(scan_text, (source[name],)) for name in INTAKE_NAMES], threads, name="att-report-normalise")
    scans = dict(zip(INTAKE_NAMES, scanned))
    cleaned = {name: scan[0] for name, scan in scans.items()}
    fields = run_all([(task, (cleaned, by_agency, date1904, typed)) for task in _FIELD_TASKS], threads,
                     name="att-report-normalise")

    out = pd.DataFrame(index=raw.index)
    for c in ("src_agency", "src_role", "src_file", "src_sheet", "src_row"):
        out[c] = raw[c]
    for name in INTAKE_NAMES:
        _, changed, control = scans[name]
        out[f"raw_{name}"] = source[name]
        out[f"ws_{name}"] = changed
        out[f"cc_{name}"] = control
    for columns in fields:
        for column, values in columns.items():
            out[column] = values
    q = out["num_quantity"]
    whole = q.notna() & (q == q.round(0))
    out["quantity"] = q.where(whole).round(0).astype("Int64")
    out["value"] = out["num_value"].astype("Float64")
    out["valid"] = True
    out["disposition"] = _repeated_text("", out.index)
    out["disposition_ref"] = _repeated_text("", out.index)
    # a stable row order: agency, file, sheet, row (the order of config + sorted files)
    out["row_uid"] = np.arange(len(out), dtype="int64")
    return conform(out)


# --- the fields, one task each: (cleaned text, agencies, date1904 per row, typed numbers) -> columns ---

def _ids_and_text(cleaned, by_agency, date1904, typed) -> dict:
    # identifiers and free text: cleaned text as is
    out = {name: cleaned[name] for name in (*ID_FIELDS, *TEXT_FIELDS)}
    out["licence_key"] = licence_key(cleaned["licence_no"])
    out["hs_code"] = cleaned["hs_code"]
    return out


def _vocabularies(cleaned, by_agency, date1904, typed) -> dict:
    # flow, basis, withheld: small vocabularies
    out = {}
    for name, mapping in (("flow", _FLOW_MAP), ("basis", _BASIS_MAP)):
        coded = per_unique(cleaned[name], lambda s, m=mapping: _coded(s, m))
        out[name] = coded["value"]
        out[f"st_{name}"] = coded["status"]
    coded = per_unique(cleaned["withheld"], lambda s: _coded(s, _FLAG_MAP))
    out["withheld"] = (coded["value"] == "yes").fillna(False).astype("boolean")
    out["st_withheld"] = coded["status"]
    return out


def _date_field(name: str):
    def task(cleaned, by_agency, date1904, typed) -> dict:
        # dates, per agency date order
        which, orders = by_agency.setting("date_order")
        parsed = _by_setting(cleaned[name], which, orders, parse_dates)
        dates = parsed["date"].astype("datetime64[ns]")
        if date1904 is not None:
            # a serial number typed in a 1904-system workbook counts from 1904-01-01
            shift = date1904 & parsed["detail"].eq("serial").fillna(False)
            dates = dates.mask(shift, dates + pd.Timedelta(days=1462))
        return {name: dates, f"st_{name}": parsed["status"], f"dt_{name}": parsed["detail"]}
    return task


def _number_field(name: str):
    def task(cleaned, by_agency, date1904, typed) -> dict:
        # numbers, per agency decimal mark; cells stored as numbers in a workbook were written with "."
        which, decimals = by_agency.setting("decimal", ".")
        decimals = [*decimals, "."]
        field_which = np.where(typed[name], len(decimals) - 1, which)
        parsed = _by_setting(cleaned[name], field_which, decimals, parse_numbers)
        return {f"num_{name}": parsed["number"], f"st_{name}": parsed["status"],
                f"digits_{name}": parsed["digits_changed"]}
    return task


def _country_field(name: str):
    def task(cleaned, by_agency, date1904, typed) -> dict:
        # statuses and hints as categoricals: the intake rules only compare and quote them
        found = countries.resolve_countries(cleaned[name], categorical=True)
        return {name: found["code"].astype("string"), f"st_{name}": found["status"],
                f"hint_{name}": found["hint"]}
    return task


def _intermediate_states(cleaned, by_agency, date1904, typed) -> dict:
    inter = countries.resolve_country_list(cleaned["intermediate_states"], categorical=True)
    return {"intermediate_states": inter["codes"].astype("string"), "st_intermediate_states": inter["status"],
            "hint_intermediate_states": inter["hint"], "bad_intermediate_states": inter["bad"]}


def _category(cleaned, by_agency, date1904, typed) -> dict:
    # categories; a blank category may be suggested by an unambiguous HS code
    cat = categories.resolve_categories(cleaned["category"], categorical=True)
    hs_info = categories.hs_lookup(cleaned["hs_code"], categorical=True)
    from_hs = cat["status"].eq("blank") & hs_info["unambiguous_code"].notna()
    status = cat["status"]
    if "from-hs" not in status.cat.categories:
        status = status.cat.add_categories(["from-hs"])
    return {"category": cat["code"].astype("string").mask(from_hs, hs_info["unambiguous_code"]),
            "st_category": status.mask(from_hs, "from-hs"), "hint_category": cat["hint"],
            "hs_candidates": hs_info["candidates"], "hs_out_of_scope": hs_info["out_of_scope"].astype("boolean")}


def _currency(cleaned, by_agency, date1904, typed) -> dict:
    cur = currency.resolve_currencies(cleaned["currency"], categorical=True)
    return {"currency": cur["code"].astype("string"), "st_currency": cur["status"], "hint_currency": cur["hint"]}


#: in the order their columns enter the frame; the longest first, so two threads finish together
_FIELD_TASKS = (_ids_and_text, _vocabularies, _date_field("date"), _date_field("valid_until"),
                _number_field("quantity"), _number_field("value"), _country_field("partner_state"),
                _country_field("origin_state"), _intermediate_states, _category, _currency)
