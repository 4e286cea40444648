"""Generate the data files of the fictional sample workspace `sample_inputs/`.

    python tests/make_sample_inputs.py            # regenerate sample_inputs/ in place
    python tests/make_sample_inputs.py OUT_DIR    # write the same files under OUT_DIR

Everything is FICTIONAL: people, companies, licence and declaration numbers,
item models and quantities are invented. Only the States are real (the
report needs ISO codes); the reporting State is "NZL" for the example only.

What it writes (the config, profiles and README are hand-written and stay):
- inputs/licensing/licence_register_2024.xlsx   raw licensing register (title rows, own column names)
- inputs/customs/declarations_2024_Q1-Q3.xlsx   raw customs layout, dates as DD/MM/YYYY text
- inputs/customs/declarations_2024_Q4.csv       same layout, cp1252, ";" and decimal comma
- inputs/defence/g2g_transfers_2024.xlsx        the canonical intake template columns, header in row 1
- planted_problems.csv                          where each planted problem is (file, row, field, code)

The data is drawn from a seeded random generator and written with fixed
document times, so a rerun gives byte-identical files. Most rows are clean
(licences with several partial deliveries each); the planted problems are
listed in PLANTED below and in planted_problems.csv, so the README and the
tests can point at them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

# run as a script from anywhere: the repository root holds the att_report package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from att_report.render.xlsxio import save_workbook  # noqa: E402
from att_report.schema import INTAKE_NAMES  # noqa: E402

SEED = 2024
YEAR = 2024
D = dt.date

LICENSING_FILE = "inputs/licensing/licence_register_2024.xlsx"
CUSTOMS_XLSX = "inputs/customs/declarations_2024_Q1-Q3.xlsx"
CUSTOMS_CSV = "inputs/customs/declarations_2024_Q4.csv"
DEFENCE_FILE = "inputs/defence/g2g_transfers_2024.xlsx"
PLANTED_FILE = "planted_problems.csv"
DATA_FILES = (LICENSING_FILE, CUSTOMS_XLSX, CUSTOMS_CSV, DEFENCE_FILE, PLANTED_FILE)

LICENSING_AGENCY = "Export Control Licensing Authority"
CUSTOMS_AGENCY = "Customs Service"
DEFENCE_AGENCY = "Ministry of Defence"

LICENSING_HEADERS = ["Entry", "Licence No.", "Direction", "Issued", "Expires", "Destination / source",
                     "ATT cat.", "Goods description", "Qty", "Value", "Cur.", "Consignee", "Confidential",
                     "Officer"]
LICENSING_TITLE_ROWS = 3  # two title lines and a blank line above the header
CUSTOMS_HEADERS = ["Declaration no", "Decl. date", "Trade type", "Licence ref", "Country of destination/origin",
                   "HS code", "ATT category", "Goods description", "Items", "Statistical value", "Currency",
                   "Consignee/consignor", "Customs office"]
CUSTOMS_TITLE_ROWS = 2  # one title line and a blank line above the header
CUSTOMS_CSV_ENCODING = "cp1252"

# --- the fictional world ---------------------------------------------------------------

# iso3: (name in the licensing register, customs alpha-2, name the Ministry of Defence writes)
STATES = {
    "AUS": ("Australia", "AU", "Australia"),
    "USA": ("United States", "US", "USA"),
    "DEU": ("Germany", "DE", "Allemagne"),
    "GBR": ("United Kingdom", "GB", "UK"),
    "CAN": ("Canada", "CA", "Canada"),
    "JPN": ("Japan", "JP", "Japan"),
    "KOR": ("Republic of Korea", "KR", "South Korea"),
    "TUR": ("Türkiye", "TR", "Turkey"),
    "CIV": ("Côte d'Ivoire", "CI", "Ivory Coast"),
    "NAM": ("Namibia", "NA", "NA"),
    "FJI": ("Fiji", "FJ", "Fiji"),
    "PNG": ("Papua New Guinea", "PG", "Papua New Guinea"),
    "SGP": ("Singapore", "SG", "Singapore"),
    "NOR": ("Norway", "NO", "Norway"),
    "FRA": ("France", "FR", "France"),
    "CHL": ("Chile", "CL", "Chile"),
    "MYS": ("Malaysia", "MY", "Malaysia"),
    "ZAF": ("South Africa", "ZA", "South Africa"),
    "SWE": ("Sweden", "SE", "Sweden"),
    "BEL": ("Belgium", "BE", "Belgium"),
    "CZE": ("Czechia", "CZ", "Czech Republic"),
    "TON": ("Tonga", "TO", "Tonga"),
    "AUT": ("Austria", "AT", "Austria"),
    "ITA": ("Italy", "IT", "Italy"),
    "NZL": ("New Zealand", "NZ", "New Zealand"),
}
EXPORT_PARTNERS = ["AUS", "AUS", "AUS", "USA", "USA", "DEU", "GBR", "CAN", "JPN", "KOR", "TUR", "CIV", "NAM",
                   "FJI", "PNG", "SGP", "NOR", "FRA", "CHL", "MYS", "ZAF", "SWE", "TON"]
IMPORT_PARTNERS = ["USA", "USA", "DEU", "BEL", "CZE", "AUT", "ITA", "GBR", "AUS", "TUR", "KOR", "FRA"]


@dataclass(frozen=True)
class Cat:
    code: str
    licensing: tuple[str, ...]  # how the licensing register writes it
    hs: tuple[str, ...]         # customs tariff codes used for it
    unit_nzd: int               # fictional unit price
    qty: tuple[int, int]        # licensed quantity range
    items: tuple[str, ...]      # fictional models


SALW = {
    "VIII.SA.1": Cat("VIII.SA.1", ("VIII.SA.1", "Revolvers & pistols", "Pistolets", "8.SA.1"), ("9302.00",), 900,
                     (10, 400), ("Model P-9 (fictional) pistol", "Model R-38 (fictional) revolver")),
    "VIII.SA.2": Cat("VIII.SA.2", ("VIII.SA.2", "Rifles & carbines", "SA2", "Fusiles", "Cat VIII.SA.2"),
                     ("9303.30", "9301.90"), 1500, (10, 600),
                     ("Model X-1 (fictional) bolt-action rifle", "Model C-4 (fictional) carbine")),
    "VIII.SA.3": Cat("VIII.SA.3", ("VIII.SA.3", "Sub-machine guns"), ("9301.90",), 2500, (10, 150),
                     ("Model SMG-7 (fictional) sub-machine gun",)),
    "VIII.SA.4": Cat("VIII.SA.4", ("VIII.SA.4", "Assault rifles", "Cat VIII.SA.4"), ("9301.90",), 2800, (20, 400),
                     ("Model AR-5 (fictional) assault rifle",)),
    "VIII.SA.5": Cat("VIII.SA.5", ("VIII.SA.5", "Light machine guns"), ("9301.90",), 6500, (4, 60),
                     ("Model LMG-2 (fictional) light machine gun",)),
    "VIII.SA.6": Cat("VIII.SA.6", ("VIII.SA.6", "Shotguns", "Small arms: others"), ("9303.20",), 900, (10, 300),
                     ("Model SG-12 (fictional) shotgun",)),
    "VIII.LW.1": Cat("VIII.LW.1", ("VIII.LW.1", "Heavy machine guns"), ("9301.90",), 25000, (2, 40),
                     ("Model HMG-50 (fictional) heavy machine gun",)),
    "VIII.LW.2": Cat("VIII.LW.2", ("VIII.LW.2", "Grenade launchers"), ("9301.20",), 4000, (5, 80),
                     ("Model GL-40 (fictional) grenade launcher",)),
    "VIII.LW.6": Cat("VIII.LW.6", ("VIII.LW.6", "Mortars < 75 mm"), ("9301.10",), 12000, (2, 30),
                     ("Model M-60 (fictional) 60 mm mortar",)),
}
SALW_WEIGHTS = {"VIII.SA.1": 5, "VIII.SA.2": 9, "VIII.SA.3": 1, "VIII.SA.4": 2, "VIII.SA.5": 1, "VIII.SA.6": 4,
                "VIII.LW.1": 1, "VIII.LW.2": 1, "VIII.LW.6": 1}

# the heavier categories move government to government (Ministry of Defence)
HEAVY = {
    "II": Cat("II", ("Cat II", "Armoured combat vehicles"), ("8710.00",), 1_200_000, (2, 12),
              ("Model APC-8 (fictional) armoured personnel carrier",)),
    "III": Cat("III", ("III", "Cat. III"), ("9301.10",), 2_500_000, (2, 6), ("Model H-155 (fictional) howitzer",)),
    "V.a": Cat("V.a", ("V.a",), ("8802.12",), 15_000_000, (1, 2), ("Model AH-3 (fictional) attack helicopter",)),
    "VII.a": Cat("VII.a", ("VII.a", "Missiles & launchers"), ("9306.90",), 300_000, (4, 24),
                 ("Model ML-1 (fictional) missile launcher",)),
}
# how the Ministry of Defence writes categories (English, French, Spanish labels, codes)
DEFENCE_CATEGORY_FORMS = {
    "II": ("Cat II", "Véhicules blindés de combat", "Armoured combat vehicles"),
    "III": ("Cat. III", "Large-calibre artillery systems"),
    "V.a": ("Attack helicopters, manned", "V.a"),
    "VII.a": ("VII.a", "Misiles y lanzadores de misiles"),
    "VIII.SA.2": ("Rifles & carbines", "Fusils"),
    "VIII.SA.4": ("Assault rifles", "VIII.SA.4"),
    "VIII.SA.5": ("Light machine guns",),
    "VIII.LW.1": ("Heavy machine guns",),
}

COMPANIES_ABROAD = ["Example Arms Ltd", "Sample Sporting Goods Ltd", "Imaginary Armoury GmbH",
                    "Notreal Defence Pty Ltd", "Modelo Ficticio S.A.", "Exemple Défense SARL",
                    "Placeholder Security Services Inc.", "Demo Hunting Supplies AB", "Fictitious Firearms K.K."]
COMPANIES_HOME = ["Test Range Club Inc. (fictional)", "Demo Outdoor Supplies Ltd (fictional)",
                  "Fictional Police Armoury (fictional)", "Sample Gunsmiths Ltd (fictional)"]
OFFICERS = ["AB", "CD", "EF", "GH"]
CUSTOMS_OFFICES = ["Auckland Port (fictional code AKL1)", "Wellington Airport (fictional code WLG2)",
                   "Christchurch Port (fictional code CHC3)"]


# --- records as the agencies hold them ------------------------------------------------

@dataclass
class Licence:
    entry: str
    number: object  # text, as written
    flow: str       # "EXP" / "IMP"
    issued: dt.date
    expires: dt.date
    partner: str    # iso3
    cat: str
    cat_text: str
    qty: int
    value: int
    currency: str
    description: str
    consignee: str
    confidential: str = "N"
    officer: str = "AB"
    plant: str = ""


@dataclass
class Declaration:
    date: object          # dt.date, or text for planted impossible dates
    flow: str             # "EX" / "IM"
    licence: object       # text, a number (planted), or None
    partner: str          # as written
    hs: str
    cat_text: str | None
    description: str
    items: object
    value: object
    currency: str | None
    trader: str
    office: str
    plant: str = ""
    sort_date: dt.date | None = None
    record_id: str = ""


@dataclass
class Transfer:
    """A Ministry of Defence row in the canonical intake columns."""
    flow: str
    licence: str | None
    date: dt.date
    partner: str
    category: str
    quantity: object
    value: int | None
    currency: str | None
    description: str
    end_user: str = ""
    comments: str = ""
    intermediate: str = ""
    withheld: str = "no"
    plant: str = ""
    record_id: str = ""


#: planted keys that are not findings: the row's disposition, or a row that must stay clean
DISPOSITION_PLANTS = {"merged": "merged", "withheld": "withheld"}
CLEAN_PLANTS = {"NA-is-Namibia"}


@dataclass
class Plant:
    key: str
    file: str
    row: int
    field: str
    code: str
    what: str

    @property
    def kind(self) -> str:
        """finding (a finding with `code` on this row), disposition, or clean (no error on this row)."""
        if self.key in DISPOSITION_PLANTS:
            return "disposition"
        return "clean" if self.key in CLEAN_PLANTS else "finding"


@dataclass
class World:
    licences: list[Licence] = field(default_factory=list)
    declarations: list[Declaration] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)


def _date_between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` items in `parts` partial deliveries, each at least 1."""
    parts = max(1, min(parts, total))
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [b - a for a, b in zip(bounds, bounds[1:])]


# --- the clean bulk ---------------------------------------------------------------------

def _regular_licences(rng: random.Random) -> list[Licence]:
    out: list[Licence] = []
    salw_codes = list(SALW_WEIGHTS)
    weights = [SALW_WEIGHTS[c] for c in salw_codes]
    numbers: dict[tuple[str, int], int] = {}

    def next_number(flow: str, issued: dt.date) -> str:
        key = (flow, issued.year)
        numbers[key] = numbers.get(key, 0) + 1
        prefix = "EX" if flow == "EXP" else "IM"
        return f"{prefix}-{issued.year % 100:02d}-{numbers[key]:04d}"

    plan = [("EXP", 118), ("IMP", 36)]
    for flow, n in plan:
        for _ in range(n):
            issued_2023 = rng.random() < 0.15
            issued = (_date_between(rng, D(2023, 3, 1), D(2023, 12, 20)) if issued_2023
                      else _date_between(rng, D(2024, 1, 8), D(2024, 12, 18)))
            expires = issued + dt.timedelta(days=365 * rng.choice((1, 2, 2)))
            partner = rng.choice(EXPORT_PARTNERS if flow == "EXP" else IMPORT_PARTNERS)
            code = rng.choices(salw_codes, weights)[0]
            cat = SALW[code]
            qty = rng.randint(*cat.qty)
            currency = rng.choices(["NZD", "USD", "EUR"], [85, 10, 5])[0]
            value = int(qty * cat.unit_nzd * rng.uniform(1.0, 1.15))
            trader = rng.choice(COMPANIES_ABROAD if flow == "EXP" else COMPANIES_HOME)
            lic = Licence(entry="", number=next_number(flow, issued), flow=flow, issued=issued, expires=expires,
                          partner=partner, cat=code, cat_text=rng.choice(cat.licensing), qty=qty, value=value,
                          currency=currency, description=rng.choice(cat.items), consignee=trader,
                          officer=rng.choice(OFFICERS))
            out.append(lic)
            if rng.random() < 0.07:  # a second line on the same licence, another category
                code2 = rng.choice([c for c in ("VIII.SA.1", "VIII.SA.2", "VIII.SA.6") if c != code])
                cat2 = SALW[code2]
                qty2 = rng.randint(*cat2.qty)
                out.append(Licence(entry="", number=lic.number, flow=flow, issued=issued, expires=expires,
                                   partner=partner, cat=code2, cat_text=rng.choice(cat2.licensing), qty=qty2,
                                   value=int(qty2 * cat2.unit_nzd * 1.05), currency=currency,
                                   description=rng.choice(cat2.items), consignee=trader, officer=lic.officer))
    return out


def _deliveries(rng: random.Random, lic_lines: list[Licence]) -> list[tuple[Licence, dt.date, int]]:
    """Partial deliveries in the reporting year within the licence's validity, never above the licence."""
    first = lic_lines[0]
    start = max(first.issued + dt.timedelta(days=3), D(YEAR, 1, 2))
    end = min(first.expires, D(YEAR, 12, 20))
    if start > end or rng.random() < 0.14:
        return []  # unused in the year: normal, noted as info
    out = []
    for line in lic_lines:
        shipped = max(1, int(line.qty * rng.uniform(0.4, 1.0)))
        parts = rng.choice((1, 1, 1, 2, 2, 3))
        for q in _split(rng, shipped, parts):
            out.append((line, _date_between(rng, start, end), q))
    return out


def _customs_row(rng: random.Random, lic: Licence, date: dt.date, qty: int, *, unit: int | None = None) -> Declaration:
    cat = SALW.get(lic.cat) or HEAVY[lic.cat]
    hs = rng.choice(cat.hs)
    # customs leave the ATT category blank for pistols: the HS code settles it
    cat_text = None if hs.startswith("9302") and rng.random() < 0.7 else lic.cat
    unit_price = unit if unit is not None else cat.unit_nzd
    return Declaration(date=date, flow="EX" if lic.flow == "EXP" else "IM", licence=lic.number,
                       partner=STATES[lic.partner][1], hs=hs, cat_text=cat_text, description=lic.description,
                       items=qty, value=qty * unit_price, currency="NZD", trader=lic.consignee,
                       office=rng.choice(CUSTOMS_OFFICES))


def _transit(rng: random.Random, partner: str) -> str:
    """Intermediate States of a government shipment: none, or ports other than the destination."""
    route = rng.choice(((), (), (), ("AUS",), ("SGP", "AUS")))
    return ";".join(STATES[s][2] for s in route if s != partner)


def _defence_bulk(rng: random.Random, world: World) -> None:
    """Government-to-government transfers: the Ministry of Defence's own licences and deliveries."""
    plans = [
        ("EXP", "PNG", "II", 4), ("EXP", "FJI", "VIII.SA.2", 300), ("EXP", "TON", "VIII.SA.2", 120),
        ("EXP", "AUS", "III", 4), ("EXP", "CAN", "VIII.LW.1", 24), ("EXP", "SGP", "VIII.SA.5", 40),
        ("EXP", "JPN", "VIII.SA.4", 200), ("EXP", "KOR", "II", 6), ("EXP", "GBR", "VII.a", 12),
        ("EXP", "FJI", "VIII.SA.5", 30), ("EXP", "PNG", "VIII.SA.4", 400), ("EXP", "TUR", "VIII.SA.2", 150),
        ("IMP", "USA", "V.a", 2), ("IMP", "USA", "VII.a", 24), ("IMP", "AUS", "II", 10),
        ("IMP", "DEU", "VIII.SA.4", 600), ("IMP", "GBR", "VIII.LW.1", 20), ("IMP", "FRA", "III", 4),
        ("IMP", "KOR", "II", 8), ("IMP", "USA", "VIII.SA.5", 60), ("IMP", "CZE", "VIII.SA.4", 300),
        ("EXP", "CIV", "VIII.SA.4", 150),
    ]
    for i, (flow, partner, code, qty) in enumerate(plans):
        cat = HEAVY.get(code) or SALW[code]
        issued = _date_between(rng, D(2023, 9, 1), D(2024, 6, 30))
        lic = Licence(entry="", number=f"{'EX' if flow == 'EXP' else 'IM'}-{issued.year % 100:02d}-{700 + i:04d}",
                      flow=flow, issued=issued, expires=issued + dt.timedelta(days=730), partner=partner, cat=code,
                      cat_text=cat.licensing[0], qty=qty, value=int(qty * cat.unit_nzd * 1.1), currency="NZD",
                      description=cat.items[0], consignee="Ministry of Defence (government-to-government)",
                      officer="GH")
        world.licences.append(lic)
        start = max(issued + dt.timedelta(days=10), D(YEAR, 1, 15))
        parts = _split(rng, qty if rng.random() < 0.6 else max(1, qty // 2), rng.choice((1, 2, 3, 3, 4)))
        currency = rng.choice(("USD", "USD", "EUR", "NZD"))
        rate = {"USD": 0.61, "EUR": 0.56, "NZD": 1.0}[currency]
        for q in parts:
            date = _date_between(rng, start, D(YEAR, 12, 15))
            world.transfers.append(Transfer(
                flow="export" if flow == "EXP" else "import", licence=lic.number, date=date,
                partner=STATES[partner][2], category=rng.choice(DEFENCE_CATEGORY_FORMS[code]), quantity=q,
                value=int(q * cat.unit_nzd * rate), currency=currency, description=cat.items[0],
                end_user=("Defence force of the importing State (fictional end-user certificate "
                          f"EUC-24-{100 + i:03d})") if flow == "EXP" else "New Zealand Defence Force (fictional unit)",
                comments=rng.choice(("", "", "Surplus disposal", "Gift under defence cooperation (fictional)",
                                     "Sale from surplus stock", "Replacement under fictional programme KIWI-1")),
                intermediate=_transit(rng, partner) if flow == "EXP" else "",
            ))


# --- the planted problems -----------------------------------------------------------------

def _lic(number, flow, issued, expires, partner, code, qty, value, *, currency="NZD", plant="", confidential="N",
         cat_text=None, description=None, consignee="Example Arms Ltd") -> Licence:
    cat = SALW.get(code) or HEAVY[code]
    return Licence(entry="", number=number, flow=flow, issued=issued, expires=expires, partner=partner, cat=code,
                   cat_text=cat_text or cat.licensing[0], qty=qty, value=value, currency=currency,
                   description=description or cat.items[0], consignee=consignee, confidential=confidential,
                   plant=plant, officer="CD")


def _dec(date, flow, licence, partner, hs, cat_text, items, value, *, description="", currency="NZD", plant="",
         sort_date=None, trader="Example Arms Ltd") -> Declaration:
    return Declaration(date=date, flow=flow, licence=licence, partner=partner, hs=hs, cat_text=cat_text,
                       description=description, items=items, value=value, currency=currency, trader=trader,
                       office=CUSTOMS_OFFICES[0], plant=plant, sort_date=sort_date)


def _planted(world: World) -> None:
    L, C, T = world.licences.append, world.declarations.append, world.transfers.append
    rifle, pistol, ar, lmg = (SALW[c].items[0] for c in ("VIII.SA.2", "VIII.SA.1", "VIII.SA.4", "VIII.SA.5"))

    # a licence number with leading zeros; customs stored it as the number 140915
    L(_lic("00140915", "EXP", D(2024, 2, 5), D(2025, 2, 4), "NAM", "VIII.SA.2", 60, 99_000,
           description="Model X-1 (fictional) hunting rifle", consignee="Notreal Defence Pty Ltd"))
    C(_dec(D(2024, 4, 9), "EX", 140915, "NA", "9303.30", "VIII.SA.2", 25, 37_500, description=rifle,
           plant="identifier-as-number", trader="Notreal Defence Pty Ltd"))
    C(_dec(D(2024, 7, 22), "EX", "00140915", "NA", "9303.30", "VIII.SA.2", 20, 30_000, description=rifle,
           plant="NA-is-Namibia", trader="Notreal Defence Pty Ltd"))

    # unlicensed shipment / licence not found / import quoting an export licence
    C(_dec(D(2024, 3, 18), "EX", None, "AU", "9303.20", "VIII.SA.6", 4, 3_600,
           description=SALW["VIII.SA.6"].items[0], plant="shipment-without-licence"))
    C(_dec(D(2024, 5, 27), "EX", "EX-24-0999", "US", "9303.30", "VIII.SA.2", 12, 18_000, description=rifle,
           plant="shipment-licence-unknown"))
    L(_lic("EX-24-0131", "EXP", D(2024, 1, 22), D(2025, 1, 21), "AUS", "VIII.SA.1", 80, 76_000))
    C(_dec(D(2024, 3, 4), "EX", "EX-24-0131", "AU", "9302.00", None, 30, 27_000, description=pistol))
    C(_dec(D(2024, 6, 11), "IM", "EX-24-0131", "AU", "9302.00", "VIII.SA.1", 10, 9_000, description=pistol,
           plant="shipment-licence-other-flow", trader="Sample Gunsmiths Ltd (fictional)"))

    # cumulative over-shipment (items), and (value)
    L(_lic("EX-24-0132", "EXP", D(2024, 2, 12), D(2025, 2, 11), "DEU", "VIII.SA.4", 200, 700_000,
           plant="licence-quantity-exceeded", consignee="Imaginary Armoury GmbH"))
    for date, q in ((D(2024, 3, 12), 120), (D(2024, 5, 20), 60), (D(2024, 8, 2), 45)):
        C(_dec(date, "EX", "EX-24-0132", "DE", "9301.90", "VIII.SA.4", q, q * 2800, description=ar,
               trader="Imaginary Armoury GmbH"))
    L(_lic("EX-24-0133", "EXP", D(2024, 1, 30), D(2025, 1, 29), "SGP", "VIII.SA.5", 40, 250_000,
           plant="licence-value-exceeded"))
    C(_dec(D(2024, 4, 3), "EX", "EX-24-0133", "SG", "9301.90", "VIII.SA.5", 20, 140_000, description=lmg))
    C(_dec(D(2024, 6, 19), "EX", "EX-24-0133", "SG", "9301.90", "VIII.SA.5", 18, 130_000, description=lmg))

    # partner and category mismatches
    L(_lic("EX-24-0134", "EXP", D(2024, 2, 20), D(2026, 2, 19), "NOR", "VIII.SA.2", 300, 470_000))
    C(_dec(D(2024, 5, 6), "EX", "EX-24-0134", "NO", "9303.30", "VIII.SA.2", 100, 150_000, description=rifle))
    C(_dec(D(2024, 7, 15), "EX", "EX-24-0134", "SE", "9303.30", "VIII.SA.2", 100, 150_000, description=rifle,
           plant="partner-mismatch"))
    L(_lic("EX-24-0135", "EXP", D(2024, 3, 1), D(2026, 2, 28), "CAN", "VIII.SA.2", 500, 790_000))
    C(_dec(D(2024, 8, 26), "EX", "EX-24-0135", "CA", "9301.90", "VIII.SA.4", 150, 225_000, description=rifle,
           plant="category-mismatch"))

    # shipment outside the licence's validity
    L(_lic("EX-24-0136", "EXP", D(2024, 6, 15), D(2025, 6, 14), "JPN", "VIII.SA.1", 120, 115_000))
    C(_dec(D(2024, 6, 3), "EX", "EX-24-0136", "JP", "9302.00", None, 50, 45_000, description=pistol,
           plant="shipment-before-licence"))
    L(_lic("EX-23-0412", "EXP", D(2023, 3, 1), D(2024, 2, 29), "CHL", "VIII.SA.2", 90, 140_000))
    C(_dec(D(2024, 4, 18), "EX", "EX-23-0412", "CL", "9303.30", "VIII.SA.2", 40, 60_000, description=rifle,
           plant="shipment-after-expiry"))

    # unused in the year (issued late), and an old licence that expired before the year
    L(_lic("EX-24-0137", "EXP", D(2024, 11, 20), D(2025, 11, 19), "TON", "VIII.SA.6", 30, 28_000,
           plant="licence-unused"))
    L(_lic("EX-22-0311", "EXP", D(2022, 5, 10), D(2023, 11, 30), "MYS", "VIII.SA.2", 50, 78_000,
           plant="licence-expired-before-year"))

    # the same transfer in customs and defence files: merged (twice); and a near-duplicate
    L(_lic("EX-24-0138", "EXP", D(2024, 4, 2), D(2026, 4, 1), "PNG", "II", 6, 7_900_000,
           consignee="Ministry of Defence (government-to-government)"))
    T(Transfer("export", "EX-24-0138", D(2024, 7, 9), "Papua New Guinea", "Armoured combat vehicles", 6, 4_400_000,
               "USD", HEAVY["II"].items[0], "Papua New Guinea Defence Force (fictional EUC-24-201)",
               "Surplus disposal", plant="merged"))
    C(_dec(D(2024, 7, 9), "EX", "EX-24-0138", "PG", "8710.00", "II", 6, 7_200_000, plant="duplicate-merged",
           description=HEAVY["II"].items[0], trader="Papua New Guinea Defence Force (fictional)"))
    L(_lic("EX-24-0139", "EXP", D(2024, 2, 26), D(2025, 2, 25), "FJI", "VIII.SA.4", 250, 770_000,
           consignee="Ministry of Defence (government-to-government)"))
    T(Transfer("export", "EX-24-0139", D(2024, 5, 14), "Fiji", "Assault rifles", 250, 430_000, "USD", ar,
               "Republic of Fiji Military Forces (fictional EUC-24-202)", "Gift under defence cooperation (fictional)",
               plant="merged"))
    C(_dec(D(2024, 5, 14), "EX", "EX-24-0139", "FJ", "9301.90", "VIII.SA.4", 250, 700_000, description=ar,
           plant="duplicate-merged", trader="Republic of Fiji Military Forces (fictional)"))
    L(_lic("EX-24-0140", "EXP", D(2024, 5, 2), D(2026, 5, 1), "AUS", "VIII.LW.1", 100, 2_750_000,
           consignee="Ministry of Defence (government-to-government)"))
    T(Transfer("export", "EX-24-0140", D(2024, 9, 3), "Australia", "Heavy machine guns", 40, 610_000, "USD",
               SALW["VIII.LW.1"].items[0], "Australian Defence Force (fictional EUC-24-203)", "Sale from surplus stock",
               plant="near-duplicate"))
    C(_dec(D(2024, 9, 10), "EX", "EX-24-0140", "AU", "9301.90", "VIII.LW.1", 38, 950_000,
           description=SALW["VIII.LW.1"].items[0], trader="Australian Defence Force (fictional)"))

    # own forces (the reporting State itself), out of scope (ammunition), HS vs category, outlier
    T(Transfer("import", None, D(2024, 10, 21), "New Zealand", "Cat II", 4, None, None, HEAVY["II"].items[0],
               "New Zealand Defence Force (fictional unit)",
               "Own vehicles returned after an overseas exercise (fictional)", plant="own-forces"))
    L(_lic("EX-24-0141", "EXP", D(2024, 3, 6), D(2025, 3, 5), "AUS", "VIII.SA.2", 40_000, 60_000,
           description="7.62 mm rifle cartridges (fictional lot 24-17)"))
    C(_dec(D(2024, 6, 25), "EX", "EX-24-0141", "AU", "9306.30", "VIII.SA.2", 20_000, 24_000,
           description="7.62 mm rifle cartridges (fictional lot 24-17)", plant="out-of-scope"))
    L(_lic("EX-24-0142", "EXP", D(2024, 1, 16), D(2025, 1, 15), "USA", "VIII.SA.2", 80, 125_000))
    C(_dec(D(2024, 4, 29), "EX", "EX-24-0142", "US", "9302.00", "VIII.SA.2", 30, 45_000, description=rifle,
           plant="hs-category-mismatch"))
    L(_lic("EX-24-0143", "EXP", D(2024, 2, 1), D(2026, 1, 31), "AUS", "II", 12, 15_000_000,
           consignee="Ministry of Defence (government-to-government)"))
    C(_dec(D(2024, 8, 13), "EX", "EX-24-0143", "AU", "8710.00", "II", 1200, 7_300_000,
           description=HEAVY["II"].items[0], plant="quantity-outlier", trader="Australian Defence Force (fictional)"))

    # withheld (Art. 13(3)): consistent in the defence file, inconsistent in customs
    L(_lic("EX-24-0144", "EXP", D(2024, 3, 19), D(2026, 3, 18), "AUS", "VII.a", 24, 7_900_000, confidential="Y",
           consignee="Ministry of Defence (government-to-government)"))
    for date, q in ((D(2024, 6, 6), 8), (D(2024, 11, 7), 8)):
        T(Transfer("export", "EX-24-0144", date, "Australia", "VII.a", q, None, None, HEAVY["VII.a"].items[0],
                   "Australian Defence Force (fictional)", "Withheld: national security (Art. 13(3))",
                   withheld="yes", plant="withheld"))
    L(_lic("EX-24-0145", "EXP", D(2024, 2, 8), D(2025, 2, 7), "SGP", "VIII.SA.3", 60, 160_000, confidential="Y"))
    C(_dec(D(2024, 5, 30), "EX", "EX-24-0145", "SG", "9301.90", "VIII.SA.3", 30, 75_000,
           description=SALW["VIII.SA.3"].items[0], plant="withheld-inconsistent"))

    # intake problems in the customs files
    L(_lic("EX-24-0146", "EXP", D(2024, 8, 1), D(2025, 7, 31), "CIV", "VIII.SA.1", 100, 95_000,
           consignee="Exemple Défense SARL"))
    C(_dec(D(2024, 10, 8), "EX", "EX-24-0146\u00a0", "CI", "9302.00", "VIII.SA.1", 40, 36_000, description=pistol,
           plant="whitespace-in-key", trader="Exemple Défense SARL"))
    C(_dec(D(2025, 1, 6), "EX", "EX-24-0146", "CI", "9302.00", "VIII.SA.1", 30, 27_000, description=pistol,
           plant="date-outside-year", trader="Exemple Défense SARL"))
    C(_dec("31/11/2024", "EX", "EX-24-0146", "CI", "9302.00", "VIII.SA.1", 10, 9_000, description=pistol,
           plant="date-invalid", sort_date=D(2024, 11, 30), trader="Exemple Défense SARL"))
    L(_lic("EX-24-0147", "EXP", D(2024, 7, 1), D(2025, 6, 30), "KOR", "VIII.SA.6", 200, 190_000,
           consignee="Sample Sporting Goods Ltd"))
    C(_dec(D(2024, 10, 30), "EX", "EX-24-0147", "KR", "9303.20", "VIII.SA.6", 90, 81_000, currency=None,
           description=SALW["VIII.SA.6"].items[0], plant="currency-missing", trader="Sample Sporting Goods Ltd"))

    # intake problems in the defence file
    L(_lic("EX-24-0148", "EXP", D(2024, 4, 15), D(2026, 4, 14), "DEU", "VIII.SA.5", 20, 140_000,
           consignee="Ministry of Defence (government-to-government)"))
    T(Transfer("export", "EX-24-0148", D(2024, 9, 24), "Germny", "Light machine guns", 10, 40_000, "EUR", lmg,
               "Bundeswehr (fictional unit)", "Trial batch", plant="country-unknown"))
    T(Transfer("export", "EX-24-0148", D(2024, 11, 12), "Allemagne", "Light machine guns", "１０", 40_000, "EUR",
               lmg, "Bundeswehr (fictional unit)", "Quantity typed on a Japanese keyboard layout",
               plant="digits-normalised"))
    L(_lic("IM-24-0141", "IMP", D(2024, 2, 14), D(2026, 2, 13), "USA", "V.a", 2, 30_000_000,
           consignee="New Zealand Defence Force (fictional unit)"))
    T(Transfer("import", "IM-24-0141", D(2024, 12, 3), "USA", "4", 1, 9_000_000, "USD",
               HEAVY["V.a"].items[0], "New Zealand Defence Force (fictional unit)", "Category written as a bare '4'",
               plant="category-unresolved"))


# --- assembling the files -------------------------------------------------------------------

def build_world() -> World:
    rng = random.Random(SEED)
    world = World()
    regular = _regular_licences(rng)
    world.licences.extend(regular)
    by_number: dict[str, list[Licence]] = {}
    for lic in regular:
        by_number.setdefault(lic.number, []).append(lic)
    for number in sorted(by_number):
        for line, date, q in _deliveries(rng, by_number[number]):
            world.declarations.append(_customs_row(rng, line, date, q))
    _defence_bulk(rng, world)
    _planted(world)
    # a licence number belongs to one licence (its lines share issue date, partner and flow)
    owners: dict[str, tuple] = {}
    for lic in world.licences:
        who = (lic.flow, lic.issued, lic.partner)
        if owners.setdefault(str(lic.number), who) != who:
            raise AssertionError(f"licence number {lic.number} generated twice")
    return world


def _sort_date(d: Declaration) -> dt.date:
    return d.sort_date or d.date


def _licensing_rows(world: World) -> list[Licence]:
    rows = sorted(world.licences, key=lambda l: (l.issued, str(l.number), l.cat))
    for i, lic in enumerate(rows, start=1):
        lic.entry = f"LR-{i:05d}"
    return rows


def _customs_split(world: World) -> tuple[list[Declaration], list[Declaration]]:
    rows = sorted(world.declarations, key=lambda d: (_sort_date(d), str(d.licence), d.items if isinstance(d.items, int) else 0))
    for i, dec in enumerate(rows, start=1):
        dec.record_id = f"CD24-{100_000 + i * 7:06d}"
    q1_q3 = [d for d in rows if _sort_date(d) < D(YEAR, 10, 1)]
    q4 = [d for d in rows if _sort_date(d) >= D(YEAR, 10, 1)]
    return q1_q3, q4


def _defence_rows(world: World) -> list[Transfer]:
    rows = sorted(world.transfers, key=lambda t: (t.date, t.licence or "", str(t.quantity)))
    for i, t in enumerate(rows, start=1):
        t.record_id = f"MOD-24-{i:04d}"
    # a row pasted twice: the second copy keeps the first one's record_id
    dup_at = next(i for i in range(len(rows) // 2, len(rows)) if not rows[i].plant)
    copy = Transfer(**rows[dup_at].__dict__)
    rows[dup_at].plant = "duplicate-record-id"  # the finding sits on the first occurrence
    rows.insert(dup_at + 1, copy)
    return rows


def _fmt_dmy(value) -> str:
    return value if isinstance(value, str) else value.strftime("%d/%m/%Y")


def _fmt_decimal_comma(value: int) -> str:
    text = f"{value:,.2f}"  # 12,500.00
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")  # 12.500,00


def write_licensing(world: World, path: Path, plants: list[Plant]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Register"
    ws["A1"] = "Export Control Licensing Authority (FICTIONAL) - licence register extract"
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = "Licences valid in 2024, extracted 2025-01-17. All data is fictional sample data."
    ws.append([])
    ws.append(LICENSING_HEADERS)
    for c in ws[LICENSING_TITLE_ROWS + 1]:
        c.font = Font(bold=True)
    for lic in _licensing_rows(world):
        ws.append([lic.entry, lic.number, lic.flow, lic.issued, lic.expires, STATES[lic.partner][0], lic.cat_text,
                   lic.description, lic.qty, lic.value, lic.currency, lic.consignee, lic.confidential, lic.officer])
        r = ws.max_row
        ws.cell(r, 4).number_format = ws.cell(r, 5).number_format = "DD.MM.YYYY"
        ws.cell(r, 2).number_format = "@"  # licence numbers are text
        if lic.plant:
            plants.append(Plant(lic.plant, LICENSING_FILE, r, "", lic.plant, f"licence {lic.number}"))
    for col, width in zip("ABCDEFGHIJKLMN", (10, 13, 10, 12, 12, 20, 18, 44, 8, 12, 6, 44, 12, 8)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = f"A{LICENSING_TITLE_ROWS + 2}"
    save_workbook(wb, path)


def _customs_values(d: Declaration) -> list:
    return [d.record_id, _fmt_dmy(d.date), d.flow, d.licence, d.partner, d.hs, d.cat_text, d.description, d.items,
            d.value, d.currency, d.trader, d.office]


_CUSTOMS_FIELD = {"NA-is-Namibia": "partner_state", "duplicate-merged": "", "identifier-as-number": "licence_no", "shipment-without-licence": "licence_no",
                  "shipment-licence-unknown": "licence_no", "shipment-licence-other-flow": "licence_no",
                  "partner-mismatch": "partner_state", "category-mismatch": "category",
                  "shipment-before-licence": "date", "shipment-after-expiry": "date", "near-duplicate": "",
                  "out-of-scope": "hs_code", "hs-category-mismatch": "category", "quantity-outlier": "quantity",
                  "withheld-inconsistent": "withheld", "whitespace-in-key": "licence_no",
                  "date-outside-year": "date", "date-invalid": "date", "currency-missing": "currency"}


def write_customs_xlsx(rows: list[Declaration], path: Path, plants: list[Plant]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Declarations"
    ws["A1"] = "Customs Service (FICTIONAL) - arms declarations, chapters 87/88/89/93, January-September 2024"
    ws.append([])
    ws.append(CUSTOMS_HEADERS)
    for c in ws[CUSTOMS_TITLE_ROWS + 1]:
        c.font = Font(bold=True)
    for d in rows:
        ws.append(_customs_values(d))
        r = ws.max_row
        for col in (1, 2, 4, 6):  # identifiers and the DD/MM/YYYY dates as text, as the customs system exports them
            if not isinstance(ws.cell(r, col).value, (int, float)):
                ws.cell(r, col).number_format = "@"
        if d.plant:
            plants.append(Plant(d.plant, CUSTOMS_XLSX, r, _CUSTOMS_FIELD.get(d.plant, ""), d.plant, d.record_id))
    for col, width in zip("ABCDEFGHIJKLM", (16, 12, 10, 13, 12, 10, 12, 44, 8, 14, 9, 44, 36)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = f"A{CUSTOMS_TITLE_ROWS + 2}"
    save_workbook(wb, path)


def write_customs_csv(rows: list[Declaration], path: Path, plants: list[Plant]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CUSTOMS_HEADERS)
    for line, d in enumerate(rows, start=2):
        values = _customs_values(d)
        values[9] = _fmt_decimal_comma(d.value) if isinstance(d.value, int) else d.value
        writer.writerow(["" if v is None else v for v in values])
        if d.plant:
            plants.append(Plant(d.plant, CUSTOMS_CSV, line, _CUSTOMS_FIELD.get(d.plant, ""), d.plant, d.record_id))
    path.write_bytes(buffer.getvalue().encode(CUSTOMS_CSV_ENCODING))


_DEFENCE_FIELD = {"merged": "", "near-duplicate": "", "own-forces": "partner_state", "withheld": "withheld",
                  "country-unknown": "partner_state", "digits-normalised": "quantity",
                  "category-unresolved": "category", "duplicate-record-id": "record_id"}


def write_defence(world: World, path: Path, plants: list[Plant]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Transfers"
    ws.append(list(INTAKE_NAMES))
    for c in ws[1]:
        c.font = Font(bold=True)
    for t in _defence_rows(world):
        row = {"record_id": t.record_id, "flow": t.flow, "basis": "actual", "licence_no": t.licence, "date": t.date,
               "partner_state": t.partner, "intermediate_states": t.intermediate or None, "category": t.category,
               "quantity": t.quantity, "value": t.value, "currency": t.currency, "description": t.description,
               "end_user": t.end_user or None, "comments": t.comments or None, "withheld": t.withheld}
        ws.append([row.get(name) for name in INTAKE_NAMES])
        r = ws.max_row
        ws.cell(r, INTAKE_NAMES.index("date") + 1).number_format = "YYYY-MM-DD"
        if t.plant:
            plants.append(Plant(t.plant, DEFENCE_FILE, r, _DEFENCE_FIELD.get(t.plant, ""), t.plant, t.record_id))
    ws.freeze_panes = "A2"
    save_workbook(wb, path)


def write_planted(plants: list[Plant], path: Path) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["planted", "kind", "file", "row", "field", "code", "record"])
    for p in sorted(plants, key=lambda p: (p.file, p.row, p.key)):
        code = "" if p.kind == "clean" else DISPOSITION_PLANTS.get(p.key, p.code)
        writer.writerow([p.key, p.kind, p.file, p.row, p.field, code, p.what])
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def generate(target: Path) -> list[Path]:
    """Write the sample workspace's data files under `target`; return their paths."""
    world = build_world()
    plants: list[Plant] = []
    for rel in DATA_FILES:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
    write_licensing(world, target / LICENSING_FILE, plants)
    q1_q3, q4 = _customs_split(world)
    write_customs_xlsx(q1_q3, target / CUSTOMS_XLSX, plants)
    write_customs_csv(q4, target / CUSTOMS_CSV, plants)
    write_defence(world, target / DEFENCE_FILE, plants)
    write_planted(plants, target / PLANTED_FILE)
    return [target / rel for rel in DATA_FILES]


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parent.parent / "sample_inputs"
    target = Path(argv[1]) if len(argv) > 1 else default
    for path in generate(target):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
