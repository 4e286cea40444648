"""ATT category resolver and the customs (HS) crosswalk.

Every category fact (codes, labels in English / French / Spanish / Chinese,
aliases, disambiguating keywords, outlier thresholds, the HS crosswalk) lives
in `templates/att_categories.toml`, which a national point of contact can
edit. This module only knows the *shape* of a category code (a Roman numeral,
an optional sub-letter or SA/LW number) so that "VIII SA 2", "8.SA.2", "SA2",
"IVa" or "VII(a)" need not be listed one by one.

An unresolvable or ambiguous category is reported as such with a hint; it is
never guessed (ATT_REPORTING.md section 2). Resolution runs once per distinct
raw value.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass

import pandas as pd

from att_report.normalise.countries import map_unique, match_key
from att_report.paths import templates_dir

CATEGORIES_FILE = "att_categories.toml"
GROUPS = ("I-VII", "SALW")


class CategoriesError(ValueError):
    """The categories file is missing or inconsistent (message names the entry)."""


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    label_fr: str
    label_es: str
    label_zh: str
    group: str
    aliases: tuple[str, ...]
    outlier_quantity: int
    short_label: str = ""
    unroca: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class HsHeading:
    heading: str                 # digits only, e.g. "930110"
    candidates: tuple[str, ...]
    unambiguous: str | None
    out_of_scope: bool
    note: str = ""


@dataclass(frozen=True)
class _CalibreSplit:
    keywords: tuple[str, ...]    # match keys
    threshold_mm: float
    below: str
    at_or_above: str


@dataclass(frozen=True)
class _Catalogue:
    categories: tuple[Category, ...]
    by_code: dict[str, Category]
    by_key: dict[str, str]                    # match key of a code / label / alias -> code
    ambiguous: dict[str, tuple[str, ...]]     # match key -> candidate codes
    not_reported: dict[str, str]              # match key -> hint (ammunition, parts...)
    prefixes: tuple[str, ...]                 # spaceless match keys of "Cat", "Category"...
    keywords: tuple[tuple[str, str], ...]     # (keyword key, code), longest first
    splits: tuple[_CalibreSplit, ...]
    hs: dict[str, HsHeading]
    fuzzy_choices: tuple[str, ...]
    fuzzy_codes: tuple[str, ...]


def _strs(entry: dict, key: str, where: str, required: bool = True) -> tuple[str, ...] | str:
    value = entry.get(key)
    if value is None and not required:
        return ()
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise CategoriesError(f"{CATEGORIES_FILE}: {where}: '{key}' is missing or not text / a list of text.")


def _text(entry: dict, key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise CategoriesError(f"{CATEGORIES_FILE}: {where}: '{key}' must be non-empty text.")
    return value


def _list(entry: dict, key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CategoriesError(f"{CATEGORIES_FILE}: {where}: '{key}' must be a list of text.")
    return tuple(value)


@functools.cache
def _catalogue() -> _Catalogue:
    path = templates_dir() / CATEGORIES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise CategoriesError(f"The categories file {path} is missing; reinstall att-report.") from None
    except tomllib.TOMLDecodeError as exc:
        raise CategoriesError(f"{path} is not valid TOML: {exc}.") from None

    categories: list[Category] = []
    for i, entry in enumerate(data.get("category", [])):
        where = f"[[category]] #{i + 1}"
        code = _text(entry, "code", where)
        where = f"category {code}"
        group = _text(entry, "group", where)
        if group not in GROUPS:
            raise CategoriesError(f"{CATEGORIES_FILE}: {where}: group must be one of {', '.join(GROUPS)}.")
        outlier = entry.get("outlier_quantity")
        if not isinstance(outlier, int) or isinstance(outlier, bool) or outlier <= 0:
            raise CategoriesError(f"{CATEGORIES_FILE}: {where}: outlier_quantity must be a positive whole number.")
        label = _text(entry, "label", where)
        categories.append(Category(
            code=code, label=label,
            label_fr=_text(entry, "label_fr", where), label_es=_text(entry, "label_es", where),
            label_zh=_text(entry, "label_zh", where, ""), group=group,
            aliases=_list(entry, "aliases", where), outlier_quantity=outlier,
            short_label=_text(entry, "short_label", where, label) or label,
            unroca=_text(entry, "unroca", where, ""), keywords=_list(entry, "keywords", where),
        ))
    if not categories:
        raise CategoriesError(f"{path} lists no [[category]].")
    by_code = {c.code: c for c in categories}
    if len(by_code) != len(categories):
        raise CategoriesError(f"{CATEGORIES_FILE}: a category code is listed twice.")

    def known(code: str, where: str) -> str:
        if code not in by_code:
            raise CategoriesError(f"{CATEGORIES_FILE}: {where}: '{code}' is not a category code.")
        return code

    by_key: dict[str, str] = {}

    def claim(text: str, code: str, where: str) -> None:
        key = match_key(text)
        if not key:
            return
        if by_key.get(key, code) != code:
            raise CategoriesError(
                f"{CATEGORIES_FILE}: {where}: '{text}' also names {by_key[key]}; an alias must name one category.")
        by_key[key] = code

    for c in categories:
        for text in (c.code, c.label, c.short_label, c.label_fr, c.label_es, c.label_zh, *c.aliases):
            claim(text, c.code, f"category {c.code}")
        # "VIII.SA.2 Small arms: rifles and carbines" (what display_label writes) resolves too.
        claim(f"{c.code} {c.label}", c.code, f"category {c.code}")

    ambiguous: dict[str, tuple[str, ...]] = {}
    for i, entry in enumerate(data.get("ambiguous", [])):
        where = f"[[ambiguous]] #{i + 1}"
        cands = tuple(known(c, where) for c in _list(entry, "candidates", where))
        for text in _list(entry, "texts", where):
            key = match_key(text)
            if key in by_key:
                raise CategoriesError(f"{CATEGORIES_FILE}: {where}: '{text}' is already an alias of {by_key[key]}.")
            ambiguous[key] = cands

    not_reported: dict[str, str] = {}
    for i, entry in enumerate(data.get("not_reported", [])):
        where = f"[[not_reported]] #{i + 1}"
        hint = _text(entry, "hint", where)
        for text in _list(entry, "texts", where):
            key = match_key(text)
            if key in by_key or key in ambiguous:
                raise CategoriesError(f"{CATEGORIES_FILE}: {where}: '{text}' is already listed as a category text.")
            not_reported[key] = hint

    splits = []
    for i, entry in enumerate(data.get("calibre_split", [])):
        where = f"[[calibre_split]] #{i + 1}"
        threshold = entry.get("threshold_mm")
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or threshold <= 0:
            raise CategoriesError(f"{CATEGORIES_FILE}: {where}: threshold_mm must be a positive number.")
        splits.append(_CalibreSplit(
            keywords=tuple(match_key(k) for k in _list(entry, "keywords", where)),
            threshold_mm=float(threshold),
            below=known(_text(entry, "below", where), where),
            at_or_above=known(_text(entry, "at_or_above", where), where),
        ))

    hs: dict[str, HsHeading] = {}
    for i, entry in enumerate(data.get("hs", [])):
        where = f"[[hs]] #{i + 1}"
        heading = re.sub(r"\D", "", _text(entry, "heading", where))
        if len(heading) < 2 or heading in hs:
            raise CategoriesError(f"{CATEGORIES_FILE}: {where}: heading must be HS digits, listed once.")
        cands = tuple(known(c, where) for c in _list(entry, "candidates", where))
        unamb = entry.get("unambiguous")
        if unamb is not None and (unamb not in cands or len(cands) != 1):
            raise CategoriesError(f"{CATEGORIES_FILE}: {where}: 'unambiguous' must be its only candidate.")
        out = entry.get("out_of_scope", False)
        if not isinstance(out, bool):
            raise CategoriesError(f"{CATEGORIES_FILE}: {where}: out_of_scope must be true or false.")
        hs[heading] = HsHeading(heading, cands, unamb, out, entry.get("note", ""))

    prefixes = data.get("parse", {}).get("code_prefixes", [])
    prefix_keys = tuple(sorted({match_key(p).replace(" ", "") for p in prefixes} - {""}, key=len, reverse=True))
    keywords = tuple(sorted(
        {(match_key(k), c.code) for c in categories for k in c.keywords if match_key(k)},
        key=lambda kc: (-len(kc[0]), kc),
    ))
    fuzzy = sorted((k, v) for k, v in by_key.items() if len(k) > 3)
    return _Catalogue(
        categories=tuple(categories), by_code=by_code, by_key=by_key, ambiguous=ambiguous,
        not_reported=not_reported,
        prefixes=prefix_keys, keywords=keywords, splits=tuple(splits), hs=hs,
        fuzzy_choices=tuple(k for k, _ in fuzzy), fuzzy_codes=tuple(v for _, v in fuzzy),
    )


# --- public look-ups ----------------------------------------------------------

def load_categories() -> tuple[Category, ...]:
    """The categories in report order (from templates/att_categories.toml, loaded once)."""
    return _catalogue().categories


def category_codes() -> tuple[str, ...]:
    return tuple(c.code for c in load_categories())


def get_category(code: str) -> Category:
    """The Category for a canonical code (KeyError if it is not one)."""
    return _catalogue().by_code[code]


def category_label(code: str) -> str:
    """English label of a canonical code, e.g. "Small arms: rifles and carbines"."""
    return get_category(code).label


def display_label(code: str) -> str:
    """f"{code} {label}", e.g. "VIII.SA.2 Small arms: rifles and carbines"."""
    return f"{code} {category_label(code)}"


def hs_heading(hs: str) -> HsHeading | None:
    """The crosswalk entry for one HS code (longest matching heading), or None."""
    digits = _hs_digits(hs)
    if not digits:
        return None
    table = _catalogue().hs
    for n in range(len(digits), 1, -1):
        found = table.get(digits[:n])
        if found is not None:
            return found
    return None


# --- resolving ------------------------------------------------------------------

_ROMAN = {"i": "I", "ii": "II", "iii": "III", "iv": "IV", "v": "V", "vi": "VI", "vii": "VII", "viii": "VIII"}
_ARABIC = {str(i): r for i, r in enumerate(_ROMAN.values(), start=1)}
# The shape of a code once spaces and punctuation are gone: "viiisa2", "iva", "8sa2", "sa2", "vii".
_CODE = re.compile(r"(?P<main>viii|vii|vi|iv|v|iii|ii|i|\d{1,2})?(?:(?P<letter>[ab])|(?P<kind>sa|lw)(?P<num>\d{1,2})?)?")
_CALIBRE = re.compile(
    r"(?P<cmp><=|<|≤|less than|under|below|inferieur a|inferior a|menos de|>=|≥|>|and above|or more)?\s*"
    r"(?P<mm>\d+(?:[.,]\d+)?)\s*(?:mm|毫米|мм)(?P<after>\s*(?:and above|or more|and over|\+))?"
)


_NOT_A_CATEGORY = ("'{raw}' is not an ATT category: write a code from I to VIII.LW.7 (e.g. IV.a, VIII.SA.2) "
                   "or its label.")


@dataclass(frozen=True)
class _Code:
    code: str          # "IV", "IV.a", "VIII.SA.", "VIII.SA.2"
    arabic: bool       # main number written in Arabic digits ("4", "Cat 4")
    bare: bool         # a lone Roman numeral with no "Cat" before it ("I", "VI"): could be a word


def _parse_code(spaceless: str, prefixes: tuple[str, ...]) -> _Code | None:
    options = [(spaceless, False)] + [
        (spaceless[len(p):], True) for p in prefixes if spaceless.startswith(p) and len(spaceless) > len(p)
    ]
    for text, prefixed in options:
        m = _CODE.fullmatch(text)
        if not m or not (m["main"] or m["kind"]):
            continue
        main, letter, kind, num = m["main"], m["letter"], m["kind"], m["num"]
        if letter and not main:
            continue
        arabic = bool(main and main.isdigit())
        roman = _ARABIC.get(main) if arabic else _ROMAN.get(main) if main else None
        if main and roman is None:
            return _Code("", arabic, False)  # "9", "IX": looks like a code, but there is no such category
        if kind:
            if roman not in (None, "VIII"):
                return None
            # "8.SA.2" is unmistakable: SA / LW exist only under VIII.
            return _Code(f"VIII.{kind.upper()}." + (num or ""), False, False)
        if letter:
            return _Code(f"{roman}.{letter}", arabic, False)
        return _Code(roman, arabic, not prefixed and not arabic)
    return None


def _word_in(keyword: str, key: str) -> tuple[int, int] | None:
    if any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in keyword):
        at = key.find(keyword)  # CJK: no spaces between words
        return (at, at + len(keyword)) if at >= 0 else None
    m = re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", key)
    return m.span() if m else None


def _keyword_codes(key: str, candidates: tuple[str, ...]) -> set[str]:
    """Candidates named by keywords in `key`; longer keywords first ("no tripulados" before "tripulados")."""
    hits: set[str] = set()
    for keyword, code in _catalogue().keywords:
        if code not in candidates:
            continue
        span = _word_in(keyword, key)
        if span:
            hits.add(code)
            key = key[:span[0]] + " " * (span[1] - span[0]) + key[span[1]:]
    return hits


def _describe(codes: tuple[str, ...]) -> str:
    cat = _catalogue().by_code
    if len(codes) > 4:
        return "the sub-category: " + ", ".join(codes)
    parts = [f"{c} ({cat[c].short_label})" for c in codes]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _ambiguous(raw: str, codes: tuple[str, ...], why: str = "") -> tuple[None, str, str]:
    return None, "ambiguous", f"'{raw}' is ambiguous{why}: write {_describe(codes)}"


def _children(code: str) -> tuple[str, ...]:
    prefix = code if code.endswith(".") else code + "."
    return tuple(c for c in _catalogue().by_code if c.startswith(prefix))


def _calibre(raw: str, split: _CalibreSplit) -> str | None:
    text = unicodedata.normalize("NFKC", raw).casefold()
    m = _CALIBRE.search(text)
    if not m:
        return None
    mm = float(m["mm"].replace(",", "."))
    cmp = (m["cmp"] or "").strip()
    if cmp in ("<", "<=", "≤", "less than", "under", "below", "inferieur a", "inferior a", "menos de"):
        return split.below if mm <= split.threshold_mm else None
    if cmp in (">=", "≥", ">", "and above", "or more") or m["after"]:
        return split.at_or_above if mm >= split.threshold_mm else None
    return split.below if mm < split.threshold_mm else split.at_or_above


@functools.lru_cache(maxsize=65536)
def _resolve_text(raw: str) -> tuple[str | None, str, str | None]:
    cat = _catalogue()
    stripped = raw.strip()
    if not stripped:
        return None, "blank", None
    key = match_key(stripped)
    if not key:
        return None, "unknown", f"'{stripped}' is not a category: write a code such as I or VIII.SA.2."
    code = cat.by_key.get(key)
    if code is not None:
        return code, "ok", None
    if key in cat.ambiguous:
        return _ambiguous(stripped, cat.ambiguous[key])
    if key in cat.not_reported:
        return None, "unknown", f"'{stripped}': {cat.not_reported[key]}."

    for split in cat.splits:
        if any(_word_in(k, key) for k in split.keywords):
            found = _calibre(stripped, split)
            if found is not None:
                return found, "ok", None
            return None, "ambiguous", (
                f"'{stripped}' is ambiguous: mortars of {split.threshold_mm:g} mm or more are "
                f"{split.at_or_above} ({cat.by_code[split.at_or_above].short_label}), smaller ones "
                f"{split.below}: write the code (or the calibre in mm)."
            )

    tokens = key.split()
    for n in range(len(tokens), 0, -1):
        parsed = _parse_code("".join(tokens[:n]), cat.prefixes)
        if parsed is None:
            continue
        rest = " ".join(tokens[n:])
        return _from_code(stripped, parsed, rest)
    return None, "unknown", _hint(key) or _NOT_A_CATEGORY.format(raw=stripped)


def _from_code(raw: str, parsed: _Code, rest: str) -> tuple[str | None, str, str | None]:
    cat = _catalogue()
    code = parsed.code
    if code in cat.by_code and not parsed.arabic:
        said = cat.by_key.get(rest) if rest else None
        if said is not None and said != code:
            return _ambiguous(raw, (code, said), f": the code says {code} but the text says {said}")
        if rest and said is None and parsed.bare:
            # "I don't know", "V 150 ...": a lone numeral then words we cannot read is no code.
            return None, "unknown", _hint(match_key(raw)) or (
                f"'{raw}' starts like category {code} but the rest is not understood: write the code alone.")
        return code, "ok", None
    candidates = (code,) if code in cat.by_code else _children(code)
    if not candidates:
        return None, "unknown", _NOT_A_CATEGORY.format(raw=raw)
    if parsed.arabic:
        roman = code.split(".")[0]
        return None, "ambiguous", (
            f"'{raw}' is ambiguous: a number may be a national or customs category; "
            f"if you mean ATT category {roman}, write {_describe(candidates)}"
        )
    if rest:
        said = cat.by_key.get(rest)
        if said in candidates:
            return said, "ok", None
        picked = _keyword_codes(rest, candidates)
        if len(picked) == 1:
            return picked.pop(), "ok", None
    return _ambiguous(raw, candidates)


def _hint(key: str) -> str | None:
    from rapidfuzz import fuzz, process

    cat = _catalogue()
    found = process.extractOne(key, cat.fuzzy_choices, scorer=fuzz.ratio, score_cutoff=80)
    if found is None:
        return None
    code = cat.fuzzy_codes[found[2]]
    return f"did you mean '{display_label(code)}'?"


def _resolve_or_blank(raw: str | None) -> tuple[str | None, str, str | None]:
    return (None, "blank", None) if raw is None else _resolve_text(raw)


def resolve_category(text: str | None) -> str | None:
    """Canonical code for one category text, or None (blank, unknown or ambiguous)."""
    return None if text is None else _resolve_or_blank(str(text))[0]


def resolve_categories(values: pd.Series, *, categorical: bool = False) -> pd.DataFrame:
    """Resolve a column of categories as agencies write them.

    Returns a frame indexed like `values`: `code` (canonical code or NA),
    `status` ("ok", "blank", "unknown", "ambiguous") and `hint` (plain language:
    what the ambiguity is, or a did-you-mean; NA when nothing to say); `categorical`:
    status and hint as categoricals.
    """
    return map_unique(values, _resolve_or_blank, ("code", "status", "hint"),
                      categorical=("status", "hint") if categorical else ())


# --- HS crosswalk ---------------------------------------------------------------

def _hs_digits(hs: object) -> str:
    if hs is None:
        return ""
    text = str(hs).strip()
    # Excel shows 9301.10 but stores 9301.1: put the dropped zero back.
    if re.fullmatch(r"\d{4}\.\d", text):
        text += "0"
    return re.sub(r"\D", "", text)


def _hs_row(raw: str | None) -> tuple[str | None, str | None, bool, str | None]:
    found = hs_heading(raw) if raw is not None else None
    if found is None:
        return None, None, False, None
    return found.unambiguous, ";".join(found.candidates) or None, found.out_of_scope, found.heading


def hs_lookup(hs: pd.Series, *, categorical: bool = False) -> pd.DataFrame:
    """Crosswalk customs HS codes to ATT categories (a cross-check, never the category).

    "9301.10", "930110" and "9301 10 00" are the same; the longest listed heading
    wins. Columns: `unambiguous_code` (the one category a heading can mean, or NA),
    `candidates` (codes joined by ";", NA for an unlisted or out-of-scope heading),
    `out_of_scope` (boolean: ammunition, parts...) and `heading` (matched digits, or NA);
    `categorical`: candidates and heading as categoricals.
    """
    return map_unique(hs, _hs_row, ("unambiguous_code", "candidates", "out_of_scope", "heading"),
                      dtypes={"out_of_scope": "boolean"},
                      categorical=("candidates", "heading") if categorical else ())
