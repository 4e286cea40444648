"""Generate a synthetic, realistic att-report workspace for the benchmark (issue 7).

    python bench/generate.py --rows 100000 --out /tmp/ws100k [--seed 7]

Writes, under OUT:
  att-report.toml                         NZL, 2024, USD, rates for EUR and AUD
  profiles/customs_raw.toml               maps the customs layout onto the intake columns
  inputs/customs/declarations_2024.xlsx   N rows, a raw customs export (title rows, own headers)
  inputs/licensing/licences_2024.xlsx     ~N/10 rows, intake-template columns, real Excel dates
  inputs/defence/transfers_2024.csv       ~N/100 rows, intake-template columns
  expected.json                           the planted problems: code, file, sheet, row

About 1% of the rows carry a planted problem, cycling through every kind the
rules detect. A planted row has exactly one deliberate problem (it may still
trigger a second, consequential finding, e.g. own-forces also being a partner
mismatch), and the clean rows are built so that they trigger none of the
planted codes: every licence covers its shipments with margin, dates fall in
the licence's validity, defence transfers use their own licences. Plants do
not collide: a licence planted as over-shipped, short-lived or withheld is one
no planted row ships under or quotes, and a customs row copied into the
defence file is the only row its copy can pair with (see
_copies_pair_with_source).
Deterministic for a given seed (numpy Generator; no clock, no hash order).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

YEAR = 2024
STATE = "NZL"
CUSTOMS_FILE = "inputs/customs/declarations_2024.xlsx"
CUSTOMS_SHEET = "Declarations"
CUSTOMS_HEADER_ROW = 3  # two title rows above the header, as customs exports have
LICENCE_FILE = "inputs/licensing/licences_2024.xlsx"
LICENCE_SHEET = "Licences"
DEFENCE_FILE = "inputs/defence/transfers_2024.csv"

# (alpha-2, alpha-3, English name): customs writes alpha-2, defence alpha-3, licensing the name
COUNTRIES = [
    ("AU", "AUS", "Australia"), ("US", "USA", "United States"), ("GB", "GBR", "United Kingdom"),
    ("FR", "FRA", "France"), ("DE", "DEU", "Germany"), ("JP", "JPN", "Japan"), ("CA", "CAN", "Canada"),
    ("IT", "ITA", "Italy"), ("ES", "ESP", "Spain"), ("NL", "NLD", "Netherlands"), ("SE", "SWE", "Sweden"),
    ("NO", "NOR", "Norway"), ("DK", "DNK", "Denmark"), ("FI", "FIN", "Finland"), ("BE", "BEL", "Belgium"),
    ("PL", "POL", "Poland"), ("AT", "AUT", "Austria"), ("CH", "CHE", "Switzerland"), ("IE", "IRL", "Ireland"),
    ("PT", "PRT", "Portugal"), ("GR", "GRC", "Greece"), ("IN", "IND", "India"), ("BR", "BRA", "Brazil"),
    ("CL", "CHL", "Chile"), ("MX", "MEX", "Mexico"), ("ZA", "ZAF", "South Africa"), ("MY", "MYS", "Malaysia"),
    ("TH", "THA", "Thailand"), ("PH", "PHL", "Philippines"), ("SG", "SGP", "Singapore"),
    ("FJ", "FJI", "Fiji"), ("TO", "TON", "Tonga"), ("WS", "WSM", "Samoa"), ("PG", "PNG", "Papua New Guinea"),
]

# (category, HS code that fits it, weight, max quantity per line, unit value in USD)
CATEGORIES = [
    ("I", "8710.00", 1, 6, 3_000_000.0), ("II", "8710.00", 2, 10, 900_000.0), ("III", "9301.10", 2, 8, 450_000.0),
    ("IV.a", "8802.40", 1, 3, 30_000_000.0), ("V.a", "8802.12", 1, 3, 15_000_000.0),
    ("VI", "8906.10", 1, 2, 200_000_000.0), ("VII.a", "9301.20", 2, 20, 90_000.0),
    ("VIII.SA.1", "9302.00", 20, 50, 650.0), ("VIII.SA.2", "9301.90", 25, 50, 1_200.0),
    ("VIII.SA.3", "9301.90", 8, 50, 1_500.0), ("VIII.LW.1", "9301.90", 6, 30, 8_000.0),
]
OUTLIER = {"I": 1000, "II": 1000, "III": 1000, "IV.a": 1000, "V.a": 1000, "VI": 100, "VII.a": 20000}
CURRENCIES = {"USD": 0.85, "EUR": 0.10, "AUD": 0.05}  # share of licences
RATES = {"EUR": 1.08, "AUD": 0.66}

CUSTOMS_HEADERS = ["Decl. No", "Procedure", "Decl. Date", "Licence/Permit Ref", "Ctry Dest/Orig", "Tariff Code",
                   "ATT Class", "Supp. Qty", "Customs Value", "Ccy", "Goods Description", "Consignee", "Confid.",
                   "Port"]
LICENCE_HEADERS = ["record_id", "flow", "basis", "licence_no", "date", "valid_until", "partner_state", "category",
                   "quantity", "value", "currency", "description", "end_user", "withheld"]
DEFENCE_HEADERS = ["record_id", "flow", "basis", "licence_no", "date", "partner_state", "category", "quantity",
                   "value", "currency", "description", "comments"]

# Planted problems on customs rows (one per row, cycling). Codes are the rules' codes.
CUSTOMS_KINDS = [
    "country-unknown", "date-invalid", "date-outside-year", "number-invalid", "quantity-fraction",
    "currency-unknown", "currency-missing", "category-unresolved", "invalid-code", "required-missing",
    "partner-vague", "shipment-without-licence", "shipment-licence-unknown", "shipment-licence-other-flow",
    "partner-mismatch", "category-mismatch", "shipment-before-licence", "own-forces", "out-of-scope",
    "hs-category-mismatch", "quantity-outlier", "duplicate-record-id", "currency-no-rate", "category-from-hs",
    "whitespace-in-key", "digits-normalised", "schema-violation",
]
# Planted on licences (code -> how many per 1% budget share); see _plant_licences
LICENCE_KINDS = [
    "licence-quantity-exceeded", "licence-value-exceeded", "shipment-after-expiry", "withheld-inconsistent",
    "licence-unused", "licence-missing", "validity-before-issue", "licence-date-outside-year",
    "licence-expired-before-year",
]
DEFENCE_KINDS = ["duplicate-merged", "near-duplicate", "country-unknown", "date-invalid"]

DAY = np.timedelta64(1, "D")
JAN1 = np.datetime64(f"{YEAR}-01-01")
DEC31 = np.datetime64(f"{YEAR}-12-31")
# a near-duplicate copy: this many days later, this many more items (within the rule's 14 days, 10%)
NEAR_DAYS, NEAR_EXTRA = 3, 1


def _dmy(dates: np.ndarray) -> np.ndarray:
    """datetime64[D] -> 'dd/mm/yyyy' text (customs exports dates as text)."""
    s = pd.Series(pd.to_datetime(dates))
    return s.dt.strftime("%d/%m/%Y").to_numpy(dtype=object)


def _iso(dates: np.ndarray) -> np.ndarray:
    return pd.Series(pd.to_datetime(dates)).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


class Planted:
    """The expected findings: (code, file, sheet, row)."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, code: str, file: str, sheet: str, rows, *, located: bool = True) -> None:
        """located=False: the finding may sit elsewhere (e.g. one per report line); only its code is checked."""
        for r in np.atleast_1d(rows):
            self.items.append({"code": code, "file": file, "sheet": sheet, "row": int(r), "located": located})

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for it in self.items:
            out[it["code"]] = out.get(it["code"], 0) + 1
        return dict(sorted(out.items()))


def _per_kind(budget: int, kinds: int, minimum: int = 2) -> int:
    return max(minimum, budget // kinds)


@dataclass(frozen=True)
class Synthetic:
    """The generated rows before writing: customs, licences, defence transfers, the planted problems.

    cust: one row per declaration (texts as written: licence_text, procedure, date_text, qty_out...;
    `lic` the index in `lic` of the licence it was generated under, `kind` its planted problem);
    lic: one row per licence line; dfn: one row per defence transfer (`source_row`: the customs row
    a copy repeats).
    """

    rows: int
    seed: int
    cust: pd.DataFrame
    lic: pd.DataFrame
    dfn: pd.DataFrame
    planted: Planted


def generate(rows: int, out: Path, seed: int = 7, customs_files: int = 1) -> dict:
    """Write the workspace and return the expectations (also written to expected.json).

    `customs_files` > 1 splits the customs declarations into that many workbooks
    of consecutive rows (as a customs office sending one a month), each with
    the title rows and header; the rows and planted problems are the same.
    """
    syn = synthesize(rows, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("inputs/customs", "inputs/licensing", "inputs/defence", "profiles"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    _write_config(out)
    parts = _customs_parts(syn.rows, customs_files)
    for name, start, stop in parts:
        _write_customs(out / name, syn.cust.iloc[start:stop].reset_index(drop=True))
    _write_licences(out / LICENCE_FILE, syn.lic)
    _write_defence(out / DEFENCE_FILE, syn.dfn, syn.lic)
    planted = [_in_part(item, parts) for item in syn.planted.items]
    expected = {
        "seed": seed, "rows": syn.rows, "state": STATE, "year": YEAR,
        "rows_read": {**{name: stop - start for name, start, stop in parts},
                      LICENCE_FILE: len(syn.lic), DEFENCE_FILE: len(syn.dfn)},
        "counts": syn.planted.counts(),
        # findings expected somewhere (one per file and currency, not per planted row)
        "present": ["currency-converted"],
        "planted": planted,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return expected


def _customs_parts(rows: int, files: int) -> list[tuple[str, int, int]]:
    """(file, first row, end row) of each customs workbook: the one file, or `files` of consecutive rows."""
    if files <= 1:
        return [(CUSTOMS_FILE, 0, rows)]
    size = -(-rows // files)
    stem = CUSTOMS_FILE.removesuffix(".xlsx")
    return [(f"{stem}_{k + 1:02d}.xlsx", k * size, min(rows, (k + 1) * size))
            for k in range(files) if k * size < rows]


def _in_part(item: dict, parts: list[tuple[str, int, int]]) -> dict:
    """A planted problem on a customs row, moved to the workbook and Excel row that hold that row."""
    if item["file"] != CUSTOMS_FILE or len(parts) == 1:
        return item
    index = item["row"] - CUSTOMS_HEADER_ROW - 1
    for name, start, stop in parts:
        if start <= index < stop:
            return {**item, "file": name, "row": item["row"] - start}
    raise AssertionError(f"planted row {item['row']} is in no customs workbook")


def synthesize(rows: int, seed: int = 7) -> Synthetic:
    """Generate every row and plant the problems, in memory (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    n_cust = int(rows)
    n_lic = max(20, n_cust // 10)
    n_def = max(10, n_cust // 100)
    per_cust = _per_kind(n_cust // 100, len(CUSTOMS_KINDS))
    per_lic = _per_kind(n_lic // 100 + n_cust // 100 // 4, len(LICENCE_KINDS))
    per_def = _per_kind(n_def // 100 + n_cust // 100 // 4, len(DEFENCE_KINDS))
    planted = Planted()

    # --- licences (customs licences first, then the defence ministry's own) -------------
    n_def_lic = max(3, n_def // 5)
    n_all_lic = n_lic + n_def_lic
    cat_idx = rng.choice(len(CATEGORIES), size=n_all_lic, p=_weights())
    lic = pd.DataFrame({
        "flow": np.where(rng.random(n_all_lic) < 0.8, "export", "import"),
        "country": rng.integers(0, len(COUNTRIES), n_all_lic),
        "cat": cat_idx,
        "issue": JAN1 + rng.integers(9, 60, n_all_lic) * DAY,
        "currency": rng.choice(list(CURRENCIES), size=n_all_lic, p=list(CURRENCIES.values())),
        "withheld": np.zeros(n_all_lic, dtype=bool),
    })
    lic["valid_until"] = lic["issue"] + 730 * DAY
    prefix = np.where(lic["flow"] == "export", "NZ-EX", "NZ-IM")
    lic["licence_no"] = [f"{p}-{YEAR}-{i:07d}" for p, i in zip(prefix, range(1, n_all_lic + 1))]

    # --- customs shipments: every customs licence gets at least one -----------------------
    lic_of = rng.permutation(np.arange(n_cust) % n_lic)
    cust = _shipments(rng, lic, lic_of)
    cust["record_id"] = [f"CD{YEAR % 100}-{i:08d}" for i in range(1, n_cust + 1)]
    cust["port"] = rng.choice(["Auckland", "Wellington", "Christchurch", "Tauranga"], size=n_cust)
    c_row = CUSTOMS_HEADER_ROW + 1 + np.arange(n_cust)  # Excel rows

    # choose the planted customs rows, spread through the file, one kind each
    n_plant = per_cust * len(CUSTOMS_KINDS)
    plant_rows = np.sort(rng.choice(np.arange(1, n_cust), size=min(n_plant, n_cust - 1), replace=False))
    kinds = np.resize(np.array(CUSTOMS_KINDS, dtype=object), len(plant_rows))
    rng.shuffle(kinds)
    cust["kind"] = pd.Series([""] * n_cust, dtype=object)
    cust.loc[plant_rows, "kind"] = kinds
    cust["lic"] = lic_of
    _plant_customs(rng, cust, lic, planted, c_row)

    # --- licence-level problems: on licences no planted row touches ----------------------
    # reserved: a licence with a planted shipment, and a licence a planted row quotes without
    # being generated under it (shipment-licence-other-flow): the generator would count that
    # shipment in the licence's total, the rule rightly not (1M, seed 7: two over-valued
    # licences were covered by an other-flow shipment's value, so never exceeded)
    touched = np.union1d(cust.loc[cust["kind"] != "", "lic"].to_numpy(dtype=np.int64),
                         _quoted_licences(cust.loc[cust["kind"] != "", "licence_text"], lic))
    shipped = np.bincount(cust["lic"].to_numpy(dtype=np.int64), minlength=n_lic)[:n_lic] > 0
    order = rng.permutation(n_lic)
    clean_lics = order[~np.isin(order, touched) & shipped[order]]
    over_q, over_v, short, withheld = np.array_split(clean_lics[:4 * per_lic], 4)
    for i in short:  # valid until 30 June; all its shipments in time, but one after
        lic.loc[i, "valid_until"] = np.datetime64(f"{YEAR}-06-30")
        idx = cust.index[cust["lic"] == i]
        lo = lic.loc[i, "issue"] + DAY
        span = max(1, int((np.datetime64(f"{YEAR}-06-30") - lo) / DAY))
        cust.loc[idx, "date"] = lo + rng.integers(0, span, len(idx)) * DAY
        late = idx[0]
        cust.loc[late, "date"] = np.datetime64(f"{YEAR}-07-01") + int(rng.integers(5, 150)) * DAY
        cust.loc[idx, "date_text"] = _dmy(cust.loc[idx, "date"].to_numpy())
        planted.add("shipment-after-expiry", CUSTOMS_FILE, CUSTOMS_SHEET, c_row[late])
    for i in withheld:  # licence and its shipments withheld, except one shipment
        lic.loc[i, "withheld"] = True
        idx = cust.index[cust["lic"] == i]
        cust.loc[idx, "withheld"] = "Y"
        cust.loc[idx[0], "withheld"] = "N"
        planted.add("withheld-inconsistent", CUSTOMS_FILE, CUSTOMS_SHEET, c_row[idx[0]])

    # --- defence transfers: own licences, plus copies of customs rows ---------------------
    d_lic_of = n_lic + rng.permutation(np.arange(n_def) % n_def_lic)
    dfn = _shipments(rng, lic, d_lic_of)
    dfn["lic"] = d_lic_of
    dfn["kind"] = ""
    special = set(over_q) | set(over_v) | set(short) | set(withheld)
    copy_pool = cust.index[(cust["kind"] == "") & ~cust["lic"].isin(special) & (cust["qty"] >= 10)
                           & (cust["date"] <= DEC31 - 20 * DAY) & _copies_pair_with_source(cust)]
    picks = rng.choice(copy_pool, size=min(2 * per_def, len(copy_pool)), replace=False)
    # one copy per licence so a near-duplicate's extra quantity never over-ships a licence
    picks = pd.Series(picks).groupby(cust.loc[picks, "lic"].to_numpy()).first().to_numpy()
    copies = cust.loc[picks, dfn.columns.intersection(cust.columns)].copy()
    half = len(copies) // 2
    copies["kind"] = ["duplicate-merged"] * half + ["near-duplicate"] * (len(copies) - half)
    near = copies["kind"] == "near-duplicate"
    copies.loc[near, "date"] = copies.loc[near, "date"] + NEAR_DAYS * DAY
    copies.loc[near, "qty"] = copies.loc[near, "qty"] + NEAR_EXTRA
    copies["source_row"] = c_row[picks]
    dfn = pd.concat([dfn, copies], ignore_index=True)
    order = rng.permutation(len(dfn))
    dfn = dfn.iloc[order].reset_index(drop=True)
    dfn["record_id"] = [f"MOD-{YEAR}-{i:06d}" for i in range(1, len(dfn) + 1)]
    d_row = 2 + np.arange(len(dfn))  # csv lines
    for kind in ("duplicate-merged", "near-duplicate"):
        hit = dfn.index[dfn["kind"] == kind]
        if kind == "duplicate-merged":  # the finding sits on the surviving (customs) record
            planted.add(kind, CUSTOMS_FILE, CUSTOMS_SHEET, dfn.loc[hit, "source_row"].astype(int))
        else:  # the finding sits on the second agency's record
            planted.add(kind, DEFENCE_FILE, "", d_row[hit])
    d_clean = dfn.index[dfn["kind"] == ""]
    d_bad = rng.choice(d_clean, size=min(2 * per_def, len(d_clean) // 2), replace=False)
    dfn["partner_text"] = [COUNTRIES[c][1] for c in dfn["country"]]
    dfn["date_text"] = _iso(dfn["date"].to_numpy())
    for n, i in enumerate(d_bad):
        if n % 2 == 0:
            dfn.loc[i, "partner_text"] = "Atlantis"
            planted.add("country-unknown", DEFENCE_FILE, "", d_row[i])
        else:
            dfn.loc[i, "date_text"] = f"{YEAR}-02-30"
            planted.add("date-invalid", DEFENCE_FILE, "", d_row[i])

    # --- licence amounts: cover every shipment quoting the licence, with margin ----------
    ships = pd.concat([cust[["licence_text", "qty_num", "value_num"]],
                       pd.DataFrame({"licence_text": lic.loc[dfn["lic"], "licence_no"].to_numpy(),
                                     "qty_num": dfn["qty"].to_numpy(float),
                                     "value_num": dfn["value"].to_numpy(float)})])
    ships["licence_text"] = ships["licence_text"].astype(str).str.strip()
    tot = ships.groupby("licence_text")[["qty_num", "value_num"]].sum()
    q_tot = tot["qty_num"].reindex(lic["licence_no"]).fillna(0).to_numpy()
    v_tot = tot["value_num"].reindex(lic["licence_no"]).fillna(0).to_numpy()
    lic["qty"] = np.ceil(q_tot * 1.5).astype(np.int64) + 60
    lic["value"] = np.round(v_tot * 1.5 + lic["cat"].map(lambda c: CATEGORIES[c][4]).to_numpy() * 60, 2)
    for i in over_q:
        lic.loc[i, "qty"] = int(q_tot[i]) - 1
    for i in over_v:
        lic.loc[i, "value"] = round(float(v_tot[i]) - 1.0, 2)
    l_row = 2 + np.arange(len(lic))
    planted.add("licence-quantity-exceeded", LICENCE_FILE, LICENCE_SHEET, l_row[over_q])
    planted.add("licence-value-exceeded", LICENCE_FILE, LICENCE_SHEET, l_row[over_v])

    # extra licences nobody ships against, carrying licence-only problems
    extra = _extra_licences(rng, per_lic, len(lic))
    lic = pd.concat([lic, extra], ignore_index=True)
    l_row = 2 + np.arange(len(lic))
    for kind in extra["kind"].unique():
        hit = lic.index[lic["kind"] == kind]
        planted.add(kind, LICENCE_FILE, LICENCE_SHEET, l_row[hit])
        if kind in ("licence-date-outside-year", "licence-expired-before-year"):
            planted.add("licence-unused", LICENCE_FILE, LICENCE_SHEET, l_row[hit])

    return Synthetic(n_cust, seed, cust, lic, dfn, planted)


def _weights() -> np.ndarray:
    w = np.array([c[2] for c in CATEGORIES], dtype=float)
    return w / w.sum()


def _shipments(rng: np.random.Generator, lic: pd.DataFrame, lic_of: np.ndarray) -> pd.DataFrame:
    """Clean shipments under the given licences: same flow, partner, category, currency; in validity."""
    n = len(lic_of)
    L = lic.iloc[lic_of].reset_index(drop=True)
    max_q = np.array([c[3] for c in CATEGORIES])[L["cat"].to_numpy()]
    qty = 1 + (rng.random(n) * max_q).astype(np.int64)
    unit = np.array([c[4] for c in CATEGORIES])[L["cat"].to_numpy()]
    value = np.round(qty * unit * rng.uniform(0.8, 1.2, n), 2)
    lo = L["issue"].to_numpy() + DAY
    span = ((DEC31 - lo) / DAY).astype(np.int64)
    date = lo + (rng.random(n) * span).astype(np.int64) * DAY
    return pd.DataFrame({
        "flow": L["flow"].to_numpy(), "country": L["country"].to_numpy(), "cat": L["cat"].to_numpy(),
        "currency": L["currency"].to_numpy(), "date": date, "qty": qty, "value": value,
        "licence_no": L["licence_no"].to_numpy(), "withheld": "N",
    })


def _plant_customs(rng, cust: pd.DataFrame, lic: pd.DataFrame, planted: Planted, c_row: np.ndarray) -> None:
    """Turn the clean customs frame into the texts written, planting one problem per marked row."""
    cats = np.array([c[0] for c in CATEGORIES], dtype=object)
    hs = np.array([c[1] for c in CATEGORIES], dtype=object)
    cust["procedure"] = np.where(cust["flow"] == "export", "EX", "IM").astype(object)
    cust["date_text"] = _dmy(cust["date"].to_numpy())
    cust["licence_text"] = cust["licence_no"].astype(object)
    cust["partner_text"] = np.array([c[0] for c in COUNTRIES], dtype=object)[cust["country"].to_numpy()]
    cust["hs"] = hs[cust["cat"].to_numpy()]
    cust["category"] = cats[cust["cat"].to_numpy()]
    cust["qty_out"] = cust["qty"].astype(object)
    cust["value_out"] = cust["value"].astype(object)
    cust["ccy"] = cust["currency"].astype(object)
    cust["record_out"] = cust["record_id"].astype(object)
    cust["qty_num"] = cust["qty"].astype(float)
    cust["value_num"] = cust["value"].astype(float)
    import_lics = lic.index[(lic["flow"] == "import")][: max(1, len(lic) // 2)]
    for i in cust.index[cust["kind"] != ""]:
        kind = cust.at[i, "kind"]
        row = c_row[i]
        if kind == "country-unknown":
            cust.at[i, "partner_text"] = "Narnia"
        elif kind == "date-invalid":
            cust.at[i, "date_text"] = f"31/02/{YEAR}"
        elif kind == "date-outside-year":
            cust.at[i, "date_text"] = f"15/12/{YEAR - 1}"
        elif kind == "number-invalid":
            cust.at[i, "qty_out"] = "twelve"
        elif kind == "quantity-fraction":
            cust.at[i, "qty_out"] = 2.5
        elif kind == "currency-unknown":
            cust.at[i, "ccy"] = "XYZ"
        elif kind == "currency-missing":
            cust.at[i, "ccy"] = None
        elif kind == "category-unresolved":
            cust.at[i, "category"] = "small arms"
        elif kind == "invalid-code":
            cust.at[i, "procedure"] = "TR"
        elif kind == "required-missing":
            cust.at[i, "partner_text"] = None
        elif kind == "partner-vague":
            cust.at[i, "partner_text"] = "Various"
        elif kind == "shipment-without-licence":
            cust.at[i, "licence_text"] = None
        elif kind == "shipment-licence-unknown":
            cust.at[i, "licence_text"] = f"NZ-XX-{YEAR}-{9_000_000 + i:07d}"
        elif kind == "shipment-licence-other-flow":
            other = lic.loc[import_lics[i % len(import_lics)]] if cust.at[i, "flow"] == "export" else None
            if other is None:  # an import quoting an export licence
                exp = lic.index[lic["flow"] == "export"]
                other = lic.loc[exp[i % len(exp)]]
            cust.at[i, "licence_text"] = other["licence_no"]
        elif kind == "partner-mismatch":
            cust.at[i, "partner_text"] = COUNTRIES[(cust.at[i, "country"] + 1) % len(COUNTRIES)][0]
        elif kind == "category-mismatch":
            c = (cust.at[i, "cat"] + 1) % len(CATEGORIES)
            cust.at[i, "category"], cust.at[i, "hs"] = cats[c], hs[c]
        elif kind == "shipment-before-licence":
            issue = lic.at[cust.at[i, "lic"], "issue"]
            cust.at[i, "date_text"] = _dmy(np.array([issue - 5 * DAY]))[0]
        elif kind == "own-forces":
            cust.at[i, "partner_text"] = "NZ"
        elif kind == "out-of-scope":
            cust.at[i, "hs"] = "9306.21"
        elif kind == "hs-category-mismatch":
            cust.at[i, "hs"] = "8906.10" if cust.at[i, "category"] != "VI" else "9302.00"
        elif kind == "quantity-outlier":
            limit = OUTLIER.get(cust.at[i, "category"], 1_000_000 if "SA" in cust.at[i, "category"] else 100_000)
            cust.at[i, "qty_out"] = limit + 1
            cust.at[i, "qty_num"] = float(limit + 1)
        elif kind == "duplicate-record-id":
            # repeat the id of the nearest row above that is not itself a repeat; the
            # finding sits on the first occurrence
            src = i - 1
            # (a clean row: the reconcile rule sees valid rows only, see bench/README.md)
            while src > 0 and cust.at[src, "kind"] != "":
                src -= 1
            cust.at[i, "record_out"] = cust.at[src, "record_out"]
            row = c_row[src]
        elif kind == "currency-no-rate":
            cust.at[i, "ccy"] = "JPY"
        elif kind == "category-from-hs":
            # a blank category filled from an unambiguous HS code (9302: pistols)
            cust.at[i, "cat"] = 7
            cust.at[i, "category"], cust.at[i, "hs"] = None, "9302.00"
            cust.at[i, "lic"] = _licence_with_cat(lic, 7, cust.at[i, "flow"], i)
            lic_row = lic.loc[cust.at[i, "lic"]]
            cust.at[i, "licence_text"] = lic_row["licence_no"]
            cust.at[i, "partner_text"] = COUNTRIES[lic_row["country"]][0]
            cust.at[i, "ccy"] = lic_row["currency"]
        elif kind == "whitespace-in-key":
            cust.at[i, "licence_text"] = "\u00a0" + str(cust.at[i, "licence_text"]) + " "
        elif kind == "digits-normalised":
            cust.at[i, "qty_out"] = str(cust.at[i, "qty"]).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        elif kind == "schema-violation":
            cust.at[i, "value_out"] = -abs(float(cust.at[i, "value"]))
            cust.at[i, "value_num"] = 0.0
        planted.add(kind, CUSTOMS_FILE, CUSTOMS_SHEET, row)
    # duplicate-record-id rows must not be planted twice over (the row above is clean or not: either way
    # the finding is on the first occurrence, which keeps its own planted problem, if any)
    bad_qty = cust["kind"].isin(["number-invalid"])
    cust.loc[bad_qty, "qty_num"] = 0.0
    # a shipment quoting a licence of the other flow never counts against that licence
    other_flow = cust["kind"] == "shipment-licence-other-flow"
    cust.loc[other_flow, ["qty_num", "value_num"]] = 0.0


def _quoted_licences(licence_text: pd.Series, lic: pd.DataFrame) -> np.ndarray:
    """Indices in `lic` of the licences these texts quote (as the rules compare: trimmed, any case)."""
    number = pd.Series(lic.index, index=lic["licence_no"].astype(str).str.upper())
    quoted = licence_text.dropna().astype(str).str.strip().str.upper()
    return number.reindex(quoted.unique()).dropna().to_numpy(dtype=np.int64)


def _copies_pair_with_source(cust: pd.DataFrame) -> np.ndarray:
    """Rows whose defence copy can only pair with them: True where the row may be copied.

    The merge pairs a copy with the first customs row of the same flow, licence, date and
    quantity in file order, so an exact copy's source must be the only such row (1M, seed 7:
    a copy merged with an identical earlier shipment, not its source). A near-duplicate copy
    (NEAR_DAYS later, NEAR_EXTRA more items) must equal no customs row, else it is merged,
    not flagged.
    Keys use both the licence a row was generated under and the one it quotes (planted rows
    may differ); over-excluding costs nothing.
    """
    quoted = cust["licence_text"].astype("string").str.strip().str.upper()
    ok = np.ones(len(cust), dtype=bool)
    for lic_key in (cust["lic"], quoted):
        key = pd.DataFrame({"flow": cust["flow"].to_numpy(), "lic": lic_key.to_numpy(),
                            "date": cust["date"].to_numpy(), "qty": cust["qty"].to_numpy()})
        ok &= ~key.duplicated(keep=False).to_numpy()
        near = key.assign(date=key["date"] + NEAR_DAYS * DAY, qty=key["qty"] + NEAR_EXTRA)
        ok &= ~pd.MultiIndex.from_frame(near).isin(pd.MultiIndex.from_frame(key))
    return ok


def _licence_with_cat(lic: pd.DataFrame, cat: int, flow: str, salt: int) -> str:
    cands = lic.index[(lic["cat"] == cat) & (lic["flow"] == flow)]
    if not len(cands):
        cands = lic.index[lic["cat"] == cat]
    return int(cands[salt % len(cands)])


def _extra_licences(rng, per: int, start: int) -> pd.DataFrame:
    kinds = ["licence-unused", "licence-missing", "validity-before-issue", "licence-date-outside-year",
             "licence-expired-before-year"]
    rows = []
    for k, kind in enumerate(kinds):
        for j in range(per):
            n = start + k * per + j + 1
            issue = JAN1 + int(rng.integers(10, 300)) * DAY
            until = issue + 730 * DAY
            no = f"NZ-EX-{YEAR}-{n:07d}"
            if kind == "licence-missing":
                no = None
            elif kind == "validity-before-issue":
                until = issue - 30 * DAY
            elif kind == "licence-date-outside-year":
                issue = np.datetime64(f"{YEAR - 1}-11-20") + int(rng.integers(0, 30)) * DAY
                until = issue + 730 * DAY
            elif kind == "licence-expired-before-year":
                issue = np.datetime64(f"{YEAR - 2}-03-01") + int(rng.integers(0, 60)) * DAY
                until = np.datetime64(f"{YEAR - 1}-06-30")
            rows.append({"flow": "export", "country": int(rng.integers(0, len(COUNTRIES))), "cat": 8,
                         "issue": issue, "valid_until": until, "currency": "USD", "withheld": False,
                         "licence_no": no, "qty": 100, "value": 120_000.0, "kind": kind})
    return pd.DataFrame(rows)


# --- writers ---------------------------------------------------------------------------------

def _write_config(out: Path) -> None:
    rates = "\n".join(f"{k} = {v}" for k, v in RATES.items())
    (out / "att-report.toml").write_text(f"""# Synthetic benchmark workspace (bench/generate.py)
[report]
state = "{STATE}"
year = {YEAR}
public = false
currency = "USD"

[contact]
name = "Benchmark NPC"
organisation = "Ministry of Foreign Affairs and Trade"
email = "npc@example.org"

[exports]
basis = "actual"
measure = "both"
aggregate = "per_partner"

[imports]
basis = "actual"
measure = "both"
aggregate = "per_partner"

[rates]
{rates}

[[agencies]]
name = "Licensing Authority"
role = "licensing"
files = ["inputs/licensing/*.xlsx"]
date_order = "DMY"

[[agencies]]
name = "Customs"
role = "customs"
files = ["inputs/customs/*.xlsx"]
profile = "profiles/customs_raw.toml"
date_order = "DMY"

[[agencies]]
name = "Ministry of Defence"
role = "defence"
files = ["inputs/defence/*.csv"]
date_order = "YMD"
""", encoding="utf-8")
    (out / "profiles" / "customs_raw.toml").write_text(f"""description = "Customs declarations export (raw layout)"
sheet = "{CUSTOMS_SHEET}"
header_row = {CUSTOMS_HEADER_ROW}

[columns]
"Decl. No" = "record_id"
"Procedure" = "flow"
"Decl. Date" = "date"
"Licence/Permit Ref" = "licence_no"
"Ctry Dest/Orig" = "partner_state"
"Tariff Code" = "hs_code"
"ATT Class" = "category"
"Supp. Qty" = "quantity"
"Customs Value" = "value"
"Ccy" = "currency"
"Goods Description" = "description"
"Consignee" = "end_user"
"Confid." = "withheld"

[constants]
basis = "actual"

[values.flow]
EX = "export"
IM = "import"
""", encoding="utf-8")


def _workbook(path: Path):
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False})
    # a fixed creation time (XlsxWriter's default is now): the same seed gives the same bytes
    wb.set_properties({"created": dt.datetime(YEAR + 1, 1, 15, 9, 0, 0)})
    return wb


def _write_customs(path: Path, cust: pd.DataFrame) -> None:
    wb = _workbook(path)
    ws = wb.add_worksheet(CUSTOMS_SHEET)
    ws.write_row(0, 0, ["NZ Customs Service - export and import declarations, controlled goods"])
    ws.write_row(1, 0, [f"Period: 01/01/{YEAR} - 31/12/{YEAR}"])
    ws.write_row(CUSTOMS_HEADER_ROW - 1, 0, CUSTOMS_HEADERS)
    desc = np.array([f"{c[0]} goods" for c in CATEGORIES], dtype=object)[cust["cat"].to_numpy()]
    consignee = np.array([f"{c[2]} Defence Force" for c in COUNTRIES], dtype=object)[cust["country"].to_numpy()]
    cols = [cust["record_out"], cust["procedure"], cust["date_text"], cust["licence_text"], cust["partner_text"],
            cust["hs"], cust["category"], cust["qty_out"], cust["value_out"], cust["ccy"], desc, consignee,
            cust["withheld"], cust["port"]]
    cols = [np.asarray(c, dtype=object) for c in cols]
    r0 = CUSTOMS_HEADER_ROW
    for i, values in enumerate(zip(*cols)):
        for j, v in enumerate(values):
            if v is not None and v == v:  # skip None and NaN: a blank cell
                ws.write(r0 + i, j, v)
    wb.close()


def _write_licences(path: Path, lic: pd.DataFrame) -> None:
    wb = _workbook(path)
    ws = wb.add_worksheet(LICENCE_SHEET)
    datefmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(0, 0, LICENCE_HEADERS)
    names = np.array([c[2] for c in COUNTRIES], dtype=object)
    cats = np.array([c[0] for c in CATEGORIES], dtype=object)
    issue = pd.to_datetime(lic["issue"]).dt.to_pydatetime()
    until = pd.to_datetime(lic["valid_until"]).dt.to_pydatetime()
    for i, row in enumerate(lic.to_dict("records")):
        r = i + 1
        ws.write_string(r, 0, f"LA-{YEAR}-{i + 1:06d}")
        ws.write_string(r, 1, row["flow"])
        ws.write_string(r, 2, "authorized")
        if isinstance(row["licence_no"], str):
            ws.write_string(r, 3, row["licence_no"])
        ws.write_datetime(r, 4, issue[i], datefmt)
        ws.write_datetime(r, 5, until[i], datefmt)
        ws.write_string(r, 6, names[int(row["country"])])
        ws.write_string(r, 7, cats[int(row["cat"])])
        ws.write_number(r, 8, int(row["qty"]))
        ws.write_number(r, 9, float(row["value"]))
        ws.write_string(r, 10, row["currency"])
        ws.write_string(r, 11, f"{cats[int(row['cat'])]} goods")
        ws.write_string(r, 12, f"{names[int(row['country'])]} Ministry of Defence")
        ws.write_string(r, 13, "yes" if row["withheld"] else "no")
    wb.close()


def _write_defence(path: Path, dfn: pd.DataFrame, lic: pd.DataFrame) -> None:
    cats = np.array([c[0] for c in CATEGORIES], dtype=object)
    frame = pd.DataFrame({
        "record_id": dfn["record_id"], "flow": dfn["flow"], "basis": "actual",
        "licence_no": lic.loc[dfn["lic"], "licence_no"].to_numpy(),
        "date": dfn["date_text"], "partner_state": dfn["partner_text"],
        "category": cats[dfn["cat"].to_numpy().astype(int)], "quantity": dfn["qty"].astype(int),
        "value": dfn["value"].map(lambda v: f"{v:.2f}"), "currency": dfn["currency"],
        "description": "government-to-government transfer", "comments": "",
    })
    frame[DEFENCE_HEADERS].to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, required=True, help="customs declaration rows")
    ap.add_argument("--out", type=Path, required=True, help="workspace folder to create")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--customs-files", type=int, default=1,
                    help="split the customs rows into this many workbooks (e.g. 12: one a month)")
    args = ap.parse_args(argv)
    if args.rows < 1000:
        ap.error("--rows must be at least 1000 (1%% of the rows carry the planted problems)")
    if not 1 <= args.customs_files <= 1000:
        ap.error("--customs-files must be between 1 and 1000")
    start = time.perf_counter()
    exp = generate(args.rows, args.out, args.seed, args.customs_files)
    print(f"Wrote {args.out} in {time.perf_counter() - start:.1f} s: " + ", ".join(
        f"{k} {v} rows" for k, v in exp["rows_read"].items()) + f"; {len(exp['planted'])} planted problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
