"""Country resolver: any spelling an agency uses -> ISO 3166 alpha-3.

Sources (maintained, not hand lists): pycountry (ISO 3166-1 codes, names,
official and common names) and CLDR territory names from babel in the six
UN languages (ar, zh Simplified + Traditional, en, fr, ru, es). A short hand
list adds common variants those sources lack ("UK", "Ivory Coast", ...).

Matching key: NFKC, casefold, diacritics dropped on Latin letters,
punctuation and spaces collapsed, "&" read as "and", "the" dropped.
Everything is resolved once per *distinct* raw value, then mapped onto the
Series, so a million-row file with a few hundred spellings costs a few
hundred look-ups. A near miss gets a "did you mean" hint, never a correction.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

# Kosovo is not in ISO 3166-1; XK / XKX are the user-assigned codes in general use.
_KOSOVO = ("XK", "XKX", "Kosovo")

# Common variants not in pycountry / CLDR (or worth pinning). Keys are spellings, values alpha-3.
_VARIANTS: dict[str, str] = {
    "UK": "GBR", "U.K.": "GBR", "Great Britain": "GBR", "Britain": "GBR", "England": "GBR",
    "United Kingdom of Great Britain and Northern Ireland": "GBR",
    "USA": "USA", "U.S.A.": "USA", "US": "USA", "U.S.": "USA", "United States": "USA",
    "United States of America": "USA", "Etats-Unis d'Amerique": "USA",
    "South Korea": "KOR", "Republic of Korea": "KOR", "Korea, South": "KOR", "Korea (South)": "KOR", "ROK": "KOR",
    "North Korea": "PRK", "DPRK": "PRK", "Korea, North": "PRK", "Korea (North)": "PRK",
    "Democratic People's Republic of Korea": "PRK",
    "Ivory Coast": "CIV", "Cote d'Ivoire": "CIV",
    "Turkey": "TUR", "Türkiye": "TUR", "Turkiye": "TUR", "Republic of Türkiye": "TUR",
    "Czech Republic": "CZE", "Czechia": "CZE",
    "Holland": "NLD", "The Netherlands": "NLD", "Netherlands (Kingdom of the)": "NLD",
    "Russia": "RUS", "Russian Federation": "RUS",
    "Iran": "IRN", "Iran (Islamic Republic of)": "IRN", "Islamic Republic of Iran": "IRN",
    "Syria": "SYR", "Syrian Arab Republic": "SYR",
    "Laos": "LAO", "Lao PDR": "LAO", "Lao People's Democratic Republic": "LAO",
    "Vietnam": "VNM", "Viet Nam": "VNM",
    "Bolivia": "BOL", "Bolivia (Plurinational State of)": "BOL",
    "Venezuela": "VEN", "Venezuela (Bolivarian Republic of)": "VEN",
    "Tanzania": "TZA", "United Republic of Tanzania": "TZA",
    "Moldova": "MDA", "Republic of Moldova": "MDA",
    "Macedonia": "MKD", "North Macedonia": "MKD", "FYROM": "MKD",
    "Former Yugoslav Republic of Macedonia": "MKD", "The former Yugoslav Republic of Macedonia": "MKD",
    "Swaziland": "SWZ", "Eswatini": "SWZ",
    "Burma": "MMR", "Myanmar": "MMR",
    "Cape Verde": "CPV", "Cabo Verde": "CPV",
    "East Timor": "TLS", "Timor-Leste": "TLS", "Timor Leste": "TLS",
    "Vatican": "VAT", "Vatican City": "VAT", "Holy See": "VAT",
    "Palestine": "PSE", "State of Palestine": "PSE",
    "Taiwan": "TWN", "Chinese Taipei": "TWN", "Republic of China": "TWN",
    "Brunei": "BRN", "Micronesia": "FSM", "Federated States of Micronesia": "FSM",
    "Congo-Brazzaville": "COG", "Republic of the Congo": "COG", "Republic of Congo": "COG",
    "Congo-Kinshasa": "COD", "DR Congo": "COD", "DRC": "COD", "D.R. Congo": "COD", "Zaire": "COD",
    "Democratic Republic of the Congo": "COD",
    "UAE": "ARE", "U.A.E.": "ARE", "Emirates": "ARE",
    "KSA": "SAU", "Saudi": "SAU",
    "Bosnia": "BIH", "Bosnia-Herzegovina": "BIH",
    "St Kitts": "KNA", "St Lucia": "LCA", "St Vincent": "VCT",
    "Sao Tome": "STP", "Gambia": "GMB", "Bahamas": "BHS",
    "PRC": "CHN", "People's Republic of China": "CHN", "Mainland China": "CHN",
    "Kyrgyzstan": "KGZ", "Slovak Republic": "SVK", "Byelorussia": "BLR", "Belorussia": "BLR",
    "Kosovo": "XKX", "XK": "XKX", "XKX": "XKX",
}

# Spellings that could be more than one State: never resolved, the hint says why.
_AMBIGUOUS: dict[str, str] = {
    "Korea": "'Korea' could be the Republic of Korea (KOR) or the DPRK (PRK): write which.",
    "America": "'America' could be the United States (USA) or the continent: write the State.",
    "América": "'América' could be the United States (USA) or the continent: write the State.",
}

# Placeholders and regions that are not a State (status "vague"). Region names
# from CLDR (Europe, Africa, World, EU, ...) are added automatically, in all six languages.
_VAGUE: tuple[str, ...] = (
    "various", "varies", "multiple", "multiple countries", "several", "many", "mixed", "all",
    "worldwide", "world", "global", "international", "overseas", "abroad", "foreign",
    "n/a", "n.a.", "n a", "n.a", "not applicable", "not available", "none", "nil", "null", "nan",
    "unknown", "not known", "unspecified", "not specified", "tbd", "tba", "tbc", "to be determined",
    "to be confirmed", "pending", "other", "others", "misc", "miscellaneous", "xxx", "zzz", "x", "?",
    "middle east", "near east", "far east", "gulf", "gulf states", "balkans", "scandinavia",
    "nordic countries", "benelux", "caribbean", "latin america", "south america", "north america",
    "central america", "asia", "africa", "europe", "oceania", "eu", "e.u.", "nato", "un", "u.n.",
    "united nations", "eu member states", "european union", "asean", "african union", "au",
    "divers", "plusieurs", "inconnu", "autres", "varios", "varios paises", "desconocido", "otros",
    "diversos", "различные", "неизвестно", "moyen orient", "proche orient", "oriente medio",
    "medio oriente", "oriente proximo", "ближний восток", "中东", "中東", "الشرق الأوسط", "various countries",
)

# CLDR territory codes that are States here: ISO 3166-1 alpha-2 plus Kosovo. Everything
# else in babel's list (regions "150", "419", "EU", "EZ", "UN", "ZZ", outlying islands
# "AC", "IC", ...) is either a region (vague) or not a reporting entity (ignored).
_CLDR_REGION_CODES = ("EU", "EZ", "UN", "QO", "ZZ")
_LOCALES = ("en", "fr", "es", "ru", "ar", "zh_Hans", "zh_Hant")
# languages agencies also write in; used only where the UN languages leave a name free
_EXTRA_LOCALES = ("de", "pt", "it", "nl", "ja", "ko", "tr", "id", "sv", "pl")

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_THE = re.compile(r"(?:^| )the(?= |$)")


def _is_latin(ch: str) -> bool:
    return ch.isascii() or "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff"


def match_key(text: str) -> str:
    """The comparison key: case, accents (Latin), punctuation, spacing and "the" do not matter."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    decomposed = unicodedata.normalize("NFD", text)
    out: list[str] = []
    base_latin = False
    for ch in decomposed:
        if unicodedata.category(ch) == "Mn":
            if base_latin:
                continue  # drop accents on Latin letters only: Cyrillic й, Arabic marks stay
        else:
            base_latin = _is_latin(ch)
        out.append(ch)
    text = unicodedata.normalize("NFC", "".join(out))
    text = _PUNCT.sub(" ", text).strip()
    text = _THE.sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class _Tables:
    by_key: dict[str, str]          # match key -> alpha-3
    vague: frozenset[str]           # match keys of regions / placeholders
    ambiguous: dict[str, str]       # match key -> hint
    names: dict[str, str]           # alpha-3 -> English short name
    fuzzy_choices: tuple[str, ...]  # match keys used for "did you mean"
    fuzzy_codes: tuple[str, ...]    # alpha-3 for each fuzzy choice


def _short_name(country) -> str:
    return getattr(country, "common_name", None) or country.name


@functools.cache
def _tables() -> _Tables:
    import pycountry
    from babel import Locale

    names: dict[str, str] = {c.alpha_3: _short_name(c) for c in pycountry.countries}
    names["XKX"] = "Kosovo"
    alpha2 = {c.alpha_2: c.alpha_3 for c in pycountry.countries}
    alpha2["XK"] = "XKX"

    # Sources in order of authority; a name that two sources give to *different*
    # States is dropped (ambiguous) unless the hand variants pin it.
    candidates: dict[str, set[str]] = {}

    def add(text: str, code: str) -> None:
        key = match_key(text)
        if key:
            candidates.setdefault(key, set()).add(code)
        # "Myanmar (Burma)" -> also "Myanmar"; "Congo - Kinshasa" stays whole.
        bare = re.sub(r"\s*\([^)]*\)", "", text).strip()
        if bare and bare != text:
            bkey = match_key(bare)
            if bkey:
                candidates.setdefault(bkey, set()).add(code)

    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                add(value, c.alpha_3)
    vague_keys = {match_key(v) for v in _VAGUE}
    for loc in _LOCALES:
        territories = Locale.parse(loc).territories
        for code, name in territories.items():
            if code in alpha2:
                add(name, alpha2[code])
            elif code.isdigit() or code in _CLDR_REGION_CODES:
                vague_keys.add(match_key(name))

    by_key: dict[str, str] = {k: next(iter(v)) for k, v in candidates.items() if len(v) == 1}
    # Other languages agencies often write in (German, Portuguese, Italian...):
    # a lower tier that only fills keys the UN languages left free, and only
    # names no two States share and that cannot pass for a code.
    extra: dict[str, set[str]] = {}
    for loc in _EXTRA_LOCALES:
        for code, name in Locale.parse(loc).territories.items():
            key = match_key(name)
            if code in alpha2 and (len(key) > 3 or not key.isascii()) and key not in candidates:
                extra.setdefault(key, set()).add(alpha2[code])
    by_key.update({k: next(iter(v)) for k, v in extra.items() if len(v) == 1})
    # Codes outrank names (e.g. alpha-3 "AND" is Andorra whatever any name says).
    for c in pycountry.countries:
        by_key[match_key(c.alpha_2)] = c.alpha_3
        by_key[match_key(c.alpha_3)] = c.alpha_3
    for variant, code in _VARIANTS.items():
        by_key[match_key(variant)] = code
    ambiguous = {match_key(k): v for k, v in _AMBIGUOUS.items()}
    for key in ambiguous:
        by_key.pop(key, None)
    vague = frozenset(k for k in vague_keys if k not in by_key)

    # Fuzzy hints: names only (codes of 2-3 letters make noise), one per key.
    fuzzy = sorted((k, v) for k, v in by_key.items() if len(k) > 3)
    return _Tables(
        by_key=by_key,
        vague=vague,
        ambiguous=ambiguous,
        names=names,
        fuzzy_choices=tuple(k for k, _ in fuzzy),
        fuzzy_codes=tuple(v for _, v in fuzzy),
    )


def _as_text(value: object) -> str | None:
    """A cell as text; None for missing. 40.0 from Excel reads as "40"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bool):
        return str(value)
    return str(value)


_NUMERIC = re.compile(r"\d{1,3}")


def _hint(key: str, raw: str) -> str | None:
    from rapidfuzz import fuzz, process

    t = _tables()
    if not key:
        return None
    found = process.extractOne(key, t.fuzzy_choices, scorer=fuzz.ratio, score_cutoff=80)
    if found is None:
        return None
    code = t.fuzzy_codes[found[2]]
    return f"did you mean '{t.names[code]}' ({code})?"


@functools.lru_cache(maxsize=65536)
def _resolve_text(raw: str) -> tuple[str | None, str, str | None]:
    """(alpha-3 or None, status, hint) for one distinct raw text."""
    t = _tables()
    stripped = raw.strip()
    if not stripped:
        return None, "blank", None
    if _NUMERIC.fullmatch(stripped):
        # ISO 3166-1 numeric; Excel drops leading zeros ("40" is Austria's "040").
        import pycountry

        country = pycountry.countries.get(numeric=stripped.zfill(3))
        if country is not None and len(stripped) == 1:
            # A lone digit is more often a slip than Afghanistan's "004": ask.
            return None, "unknown", (f"'{stripped}' is not a State; if it is an ISO numeric code, "
                                     f"write all three digits ({country.numeric} = {_short_name(country)}).")
        if country is not None:
            return country.alpha_3, "ok", None
        return None, "unknown", f"'{stripped}' is not an ISO 3166 numeric country code."
    key = match_key(stripped)
    if not key:
        return None, "vague", None  # "-", "?", "…": a placeholder, not a State
    code = t.by_key.get(key)
    if code is not None:
        return code, "ok", None
    if key in t.ambiguous:
        return None, "unknown", t.ambiguous[key]
    if key in t.vague:
        return None, "vague", f"'{stripped}' is not a State: name the State(s)."
    return None, "unknown", _hint(key, stripped)


def resolve_country(text: str | None) -> str | None:
    """ISO alpha-3 for one spelling (code, number or name in a UN language), or None."""
    raw = _as_text(text)
    if raw is None:
        return None
    return _resolve_text(raw)[0]


def map_unique(values: pd.Series, fn, fields: tuple[str, ...], dtypes: dict[str, str] | None = None,
               categorical: tuple[str, ...] = ()) -> pd.DataFrame:
    """Apply `fn(raw_text_or_None) -> tuple` once per distinct value of `values`.

    Shared by the normalise resolvers. Factorising is the only pass over every
    row; results are taken back from a small per-unique array, so the cost
    scales with the number of distinct spellings. Columns are "string" unless
    `dtypes` says otherwise; the `categorical` ones are categoricals of the
    same texts (statuses and hints: small integer codes per row instead of a
    million copied strings, and cheap status checks; benchmark, issue 7).
    """
    import numpy as np

    from att_report.normalise.unique import _spread_array, factorize

    dtypes = dtypes or {}
    codes, uniques = factorize(values)  # NA -> -1
    table = [fn(_as_text(u)) for u in uniques] + [fn(None)]  # last slot: missing cells
    pos = np.where(codes < 0, len(table) - 1, codes)
    data = {}
    for i, name in enumerate(fields):
        column = pd.array([r[i] for r in table], dtype=dtypes.get(name, "string"))
        if name in categorical:
            per_value, texts = pd.factorize(column)  # NA -> -1: a missing category
            data[name] = pd.Categorical.from_codes(per_value[pos], categories=texts)
        else:
            data[name] = _spread_array(column, pos)
    return pd.DataFrame(data, index=values.index)


def _resolve_or_blank(raw: str | None) -> tuple[str | None, str, str | None]:
    return (None, "blank", None) if raw is None else _resolve_text(raw)


def resolve_countries(values: pd.Series, *, categorical: bool = False) -> pd.DataFrame:
    """Resolve a column of countries.

    Returns a frame indexed like `values` with `code` (alpha-3 or NA), `status`
    ("ok", "blank", "unknown", "vague") and `hint` (text or NA); `categorical`:
    status and hint as categoricals.
    """
    return map_unique(values, _resolve_or_blank, ("code", "status", "hint"),
                      categorical=("status", "hint") if categorical else ())


_SPLIT_STRICT = re.compile(r"[;\n\r]+")
_SPLIT_LOOSE = re.compile(r"\s*(?:[,/|+]|\band\b|&|\bet\b|\by\b)\s*", re.IGNORECASE)


@functools.lru_cache(maxsize=65536)
def _resolve_list_text(raw: str | None) -> tuple[str | None, str, str | None, str | None]:
    if raw is None or not raw.strip():
        return None, "blank", None, None
    codes: list[str] = []
    bad: list[str] = []
    hints: list[str] = []
    seen: set[str] = set()

    def take(text: str, code: str | None, status: str, hint: str | None) -> None:
        seen.add(status)
        if status == "ok":
            codes.append(code)
        elif status in ("vague", "unknown"):
            bad.append(text)
            if hint and status == "unknown":
                hints.append(f"{text}: {hint}")

    for part in (p.strip() for p in _SPLIT_STRICT.split(raw)):
        if not part:
            continue
        result = _resolve_text(part)
        if result[1] == "unknown":
            # Only now try "," "/" "and": "Korea, Republic of" already resolved whole.
            pieces = [p.strip() for p in _SPLIT_LOOSE.split(part) if p and p.strip()]
            sub = [(p, _resolve_text(p)) for p in pieces] if len(pieces) > 1 else []
            if any(r[1] == "ok" for _, r in sub):
                for text, r in sub:
                    take(text, *r)
                continue
        take(part, *result)
    unique_codes = list(dict.fromkeys(codes))
    if not unique_codes and not bad:
        return None, "blank", None, None
    status = "unknown" if "unknown" in seen else ("vague" if "vague" in seen else "ok")
    return (
        ";".join(unique_codes) or None,
        status,
        "; ".join(bad) or None,
        "; ".join(hints) or None,
    )


def resolve_country_list(values: pd.Series, sep: str = ";", *, categorical: bool = False) -> pd.DataFrame:
    """Resolve a column of State lists (intermediate States), e.g. "Germany; France".

    Parts are split on `sep` (and new lines); a part that does not resolve whole
    is split again on "," "/" "&" "and". Columns: `codes` ("DEU;FRA" or NA),
    `status` ("ok", "blank", "unknown", "vague"), `bad` (unresolved parts joined
    by "; ", or NA) and `hint`; `categorical`: status, bad and hint as categoricals.
    """
    if sep != ";":
        values = values.astype("string").str.replace(sep, ";", regex=False)
    return map_unique(values, _resolve_list_text, ("codes", "status", "bad", "hint"),
                      categorical=("status", "bad", "hint") if categorical else ())


def country_name(code: str) -> str:
    """English short name for an alpha-3 code (the code itself if it is not one)."""
    if code is None or code is pd.NA:
        return ""
    return _tables().names.get(str(code).upper(), str(code))


def country_names(codes: pd.Series) -> pd.Series:
    """Vectorised `country_name` (NA stays NA)."""
    names = _tables().names
    text = codes.astype("string")
    return text.str.upper().map(names).fillna(text).astype("string")


def known_country_labels() -> list[str]:
    """English short names of every State, sorted (intake template drop-down)."""
    return sorted(_tables().names.values(), key=lambda s: match_key(s))
