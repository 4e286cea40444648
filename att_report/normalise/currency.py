"""Currency resolver: "usd", " EUR ", "€", "US$", "dollars US" -> ISO 4217.

Sources: pycountry (ISO 4217 codes and names) and CLDR currency names from
babel in the six UN languages. Symbols are a short hand list, keeping only
those that mean one currency; "$", "¥", "kr", "dollars"... could be several
and resolve to "ambiguous" with a hint, never to a guess. Resolution runs
once per distinct raw value.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

from att_report.normalise.countries import map_unique, match_key

_LOCALES = ("en", "fr", "es", "ru", "ar", "zh_Hans", "zh_Hant")

# ISO 4217 codes that are no money one pays in (precious metals, test, "no currency", bond units).
_NOT_PAYMENT = frozenset({"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"})

# Symbols and spellings that name exactly one currency (compared without spaces, casefolded).
_SYMBOLS: dict[str, str] = {
    "€": "EUR", "£": "GBP", "us$": "USD", "u.s.$": "USD", "usd$": "USD", "$us": "USD", "$usd": "USD",
    "a$": "AUD", "au$": "AUD", "c$": "CAD", "ca$": "CAD", "can$": "CAD", "nz$": "NZD", "hk$": "HKD",
    "s$": "SGD", "r$": "BRL", "mx$": "MXN", "nt$": "TWD", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY",
    "₪": "ILS", "₴": "UAH", "₦": "NGN", "₱": "PHP", "฿": "THB", "₫": "VND", "zł": "PLN", "kč": "CZK",
    "cn¥": "CNY", "rmb¥": "CNY", "jp¥": "JPY", "￥": None,  # full-width yen: ambiguous, below
    "chf": "CHF", "sfr": "CHF", "fr.sv.": "CHF",
}
# Common names CLDR does not list the way agencies write them.
_NAMES: dict[str, str] = {
    "US dollar": "USD", "US dollars": "USD", "U.S. dollars": "USD", "U.S. dollar": "USD", "dollars US": "USD",
    "dollar US": "USD", "dollars americains": "USD", "dolares estadounidenses": "USD", "dolares americanos": "USD",
    "dolares EEUU": "USD", "american dollars": "USD", "USD dollars": "USD",
    "euro": "EUR", "euros": "EUR", "eur euro": "EUR",
    "pound sterling": "GBP", "pounds sterling": "GBP", "sterling": "GBP", "british pounds": "GBP", "UK pounds": "GBP",
    "RMB": "CNY", "renminbi": "CNY", "yuan": "CNY", "chinese yuan": "CNY", "yen": "JPY", "japanese yen": "JPY",
    "swiss francs": "CHF", "roubles": "RUB", "rubles": "RUB", "rouble": "RUB", "ruble": "RUB",
    "NTD": "TWD", "won": "KRW", "rupiah": "IDR", "shekel": "ILS", "shekels": "ILS", "zloty": "PLN",
}
# Symbols and words that could be several currencies: hint names the usual candidates.
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "$": ("USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD"),
    "dollar": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD"), "dollars": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD"),
    "¥": ("JPY", "CNY"), "￥": ("JPY", "CNY"), "元": ("CNY", "TWD", "HKD"),
    "kr": ("SEK", "NOK", "DKK", "ISK"), "kr.": ("SEK", "NOK", "DKK", "ISK"), "krona": ("SEK", "ISK"),
    "krone": ("NOK", "DKK"), "crowns": ("SEK", "NOK", "DKK", "CZK"),
    "pound": ("GBP", "EGP", "LBP"), "pounds": ("GBP", "EGP", "LBP"),
    "franc": ("CHF", "XOF", "XAF"), "francs": ("CHF", "XOF", "XAF"), "fr": ("CHF", "XOF", "XAF"),
    "peso": ("MXN", "ARS", "CLP", "COP", "PHP"), "pesos": ("MXN", "ARS", "CLP", "COP", "PHP"),
    "dinar": ("DZD", "IQD", "JOD", "KWD", "RSD", "TND"), "dinars": ("DZD", "IQD", "JOD", "KWD", "RSD", "TND"),
    "rupee": ("INR", "PKR", "LKR", "NPR"), "rupees": ("INR", "PKR", "LKR", "NPR"),
    "riyal": ("SAR", "QAR", "OMR"), "rial": ("IRR", "OMR", "YER"), "dirham": ("AED", "MAD"),
    "r": ("ZAR", "BRL", "RUB"), "dólar": ("USD", "CAD", "AUD"), "dólares": ("USD", "CAD", "AUD"),
}


@dataclass(frozen=True)
class _Tables:
    by_key: dict[str, str]
    symbols: dict[str, str]
    ambiguous: dict[str, tuple[str, ...]]
    names: dict[str, str]           # code -> English name
    fuzzy_choices: tuple[str, ...]
    fuzzy_codes: tuple[str, ...]


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


@functools.cache
def _tables() -> _Tables:
    import pycountry
    from babel import Locale

    codes = {c.alpha_3 for c in pycountry.currencies} - _NOT_PAYMENT
    names = {c.alpha_3: c.name for c in pycountry.currencies if c.alpha_3 in codes}
    candidates: dict[str, set[str]] = {}
    for c in pycountry.currencies:
        if c.alpha_3 in codes:
            candidates.setdefault(match_key(c.name), set()).add(c.alpha_3)
    for loc in _LOCALES:
        for code, name in Locale.parse(loc).currencies.items():
            if code in codes:
                candidates.setdefault(match_key(name), set()).add(code)
    # A name CLDR gives to two currencies (old and new lira...) is dropped, not guessed.
    by_key = {k: next(iter(v)) for k, v in candidates.items() if k and len(v) == 1}
    for name, code in _NAMES.items():
        by_key[match_key(name)] = code
    for code in codes:
        by_key[code.casefold()] = code
    ambiguous = {_compact(k): v for k, v in _AMBIGUOUS.items()}
    ambiguous.update({match_key(k): v for k, v in _AMBIGUOUS.items() if match_key(k)})
    for key in list(ambiguous):
        by_key.pop(key, None)
    symbols = {_compact(k): v for k, v in _SYMBOLS.items() if v is not None}
    fuzzy = sorted((k, v) for k, v in by_key.items() if len(k) > 3)
    return _Tables(by_key, symbols, ambiguous, names,
                   tuple(k for k, _ in fuzzy), tuple(v for _, v in fuzzy))


def _describe(codes: tuple[str, ...]) -> str:
    return ", ".join(codes[:-1]) + " or " + codes[-1] if len(codes) > 1 else codes[0]


@functools.lru_cache(maxsize=4096)
def _resolve_text(raw: str) -> tuple[str | None, str, str | None]:
    t = _tables()
    stripped = raw.strip()
    if not stripped:
        return None, "blank", None
    compact = _compact(stripped)
    if compact in t.symbols:
        return t.symbols[compact], "ok", None
    if compact in t.ambiguous:
        return None, "ambiguous", (
            f"'{stripped}' could be several currencies ({_describe(t.ambiguous[compact])}): "
            "write the ISO 4217 code, e.g. USD.")
    key = match_key(stripped)
    code = t.by_key.get(key)
    if code is None and " " in key:
        # "USD $", "EUR €", "$ USD": a code beside a symbol that agrees with it.
        words = [w for w in key.split() if w in t.by_key and len(w) == 3]
        if len(words) == 1:
            code = t.by_key[words[0]]
    if code is not None:
        return code, "ok", None
    if key in t.ambiguous:
        return None, "ambiguous", (
            f"'{stripped}' could be several currencies ({_describe(t.ambiguous[key])}): "
            "write the ISO 4217 code, e.g. USD.")
    if re.fullmatch(r"[a-z]{3}", key):
        hint = _hint(key)
        return None, "unknown", f"'{stripped}' is not an ISO 4217 currency code" + (f"; {hint}" if hint else ".")
    return None, "unknown", (_hint(key) or f"'{stripped}' is not a currency we recognise: write the ISO 4217 code, e.g. USD.")


def _hint(key: str) -> str | None:
    from rapidfuzz import fuzz, process

    t = _tables()
    if len(key) <= 3:
        return None
    found = process.extractOne(key, t.fuzzy_choices, scorer=fuzz.ratio, score_cutoff=80)
    if found is None:
        return None
    code = t.fuzzy_codes[found[2]]
    return f"did you mean {code} ({t.names.get(code, code)})?"


def _resolve_or_blank(raw: str | None) -> tuple[str | None, str, str | None]:
    return (None, "blank", None) if raw is None else _resolve_text(raw)


def resolve_currency(text: str | None) -> str | None:
    """ISO 4217 code for one currency text, or None (blank, unknown or ambiguous)."""
    return None if text is None else _resolve_or_blank(str(text))[0]


def resolve_currencies(values: pd.Series, *, categorical: bool = False) -> pd.DataFrame:
    """Resolve a column of currencies.

    Returns a frame indexed like `values`: `code` (ISO 4217, uppercase, or NA),
    `status` ("ok", "blank", "unknown", "ambiguous") and `hint` (text or NA);
    `categorical`: status and hint as categoricals.
    """
    return map_unique(values, _resolve_or_blank, ("code", "status", "hint"),
                      categorical=("status", "hint") if categorical else ())


def currency_name(code: str) -> str:
    """English name of an ISO 4217 code (the code itself if unknown)."""
    return _tables().names.get(str(code).upper(), str(code))
