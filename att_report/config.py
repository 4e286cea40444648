"""Workspace configuration: `att-report.toml`.

Every key is checked here, once; a missing or invalid key is a `ConfigError`
whose message names the key (the CLI turns it into exit code 2). Unknown keys
are errors too, with a "did you mean" hint, because a misspelt key silently
ignored is a wrong report.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "att-report.toml"
ROLES = ("licensing", "customs", "defence", "interior", "other")
TABLE_BASES = ("authorized", "actual", "both")
MEASURES = ("number", "value", "both")
AGGREGATES = ("per_partner", "per_transfer")
DATE_ORDERS = ("DMY", "MDY", "YMD")
ATT_DEADLINE = (5, 31)  # Art. 13(3): reports are due by 31 May of the following year


class ConfigError(Exception):
    """A problem with the workspace or its config, explained for the user."""


@dataclass(frozen=True)
class Contact:
    name: str = ""
    position: str = ""
    organisation: str = ""
    unit: str = ""
    telephone: str = ""
    email: str = ""
    address: str = ""


@dataclass(frozen=True)
class AgencyConfig:
    name: str
    role: str
    files: tuple[str, ...]
    profile: str | None = None
    encoding: str | None = None
    date_order: str | None = None  # None: numeric dates whose day/month could swap are errors
    decimal: str = "."
    provides: str = ""
    due: dt.date | None = None
    contact: Contact = field(default_factory=Contact)

    @property
    def slug(self) -> str:
        """File-system-safe name (feedback workbook, inputs sub-folder, intake template): see `agency_slug`."""
        return agency_slug(self.name)


#: the longest slug: file names stay far below the file systems' 255 bytes
SLUG_MAX = 60
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def agency_slug(name: str) -> str:
    """ASCII letters, digits and "_" of the name (accents dropped: "Douane française" -> douane_francaise).

    A name that leaves no such letters (e.g. in Chinese or Arabic script), one
    longer than SLUG_MAX, or a device name Windows reserves (con, nul...) gets
    a short digest of the whole name: distinct names keep distinct file names.
    """
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")
    if slug and len(slug) <= SLUG_MAX and slug not in _RESERVED:
        return slug
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{slug[: SLUG_MAX - 9].rstrip('_') or 'agency'}_{digest}"


@dataclass(frozen=True)
class TableConfig:
    basis: str = "actual"
    measure: str = "both"
    aggregate: str = "per_partner"
    definition: str = ""
    #: an explicit nil declaration (true: nothing to report); None: decided by the data
    nil: bool | None = None


@dataclass(frozen=True)
class Limits:
    """Safety limits for untrusted files (hostile-inputs issue); safe defaults."""
    max_zip_entries: int = 10_000
    max_entry_bytes: int = 2_000_000_000
    max_total_bytes: int = 4_000_000_000
    max_compression_ratio: int = 500
    max_cells: int = 200_000_000
    worker_memory_mb: int = 6_144
    worker_timeout_s: int = 900
    max_findings_per_code: int = 5_000


@dataclass(frozen=True)
class ReconcileConfig:
    near_duplicate_days: int = 14
    near_duplicate_tolerance: float = 0.10


@dataclass(frozen=True)
class CompareConfig:
    swing_factor: float = 3.0
    new_partner_threshold: float = 100.0


@dataclass(frozen=True)
class MirrorConfig:
    tolerance: float = 0.25
    min_abs: float = 5.0


@dataclass(frozen=True)
class Config:
    root: Path
    state: str  # ISO alpha-3
    state_input: str
    year: int
    agencies: tuple[AgencyConfig, ...]
    currency: str | None = None
    public: bool = False
    submission_date: dt.date | None = None
    collection_deadline: dt.date | None = None
    validation_deadline: dt.date | None = None
    signoff_date: dt.date | None = None
    national_definitions: str = ""
    sources_sheet: bool = True
    unroca: bool = False
    contact: Contact = field(default_factory=Contact)
    exports: TableConfig = field(default_factory=TableConfig)
    imports: TableConfig = field(default_factory=TableConfig)
    rates: dict[str, float] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    mirror: MirrorConfig = field(default_factory=MirrorConfig)
    sha256: str = ""

    @property
    def att_deadline(self) -> dt.date:
        return dt.date(self.year + 1, *ATT_DEADLINE)

    def table(self, flow: str) -> TableConfig:
        return self.exports if flow == "export" else self.imports

    @property
    def out_dir(self) -> Path:
        return self.root / "out"


# --- checking helpers -------------------------------------------------------

def _check_keys(section: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in section:
        if key not in allowed:
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean '{near[0]}'?" if near else f" Allowed keys: {', '.join(allowed)}."
            raise ConfigError(f"Unknown key '{where}{key}' in {CONFIG_NAME}.{hint}")


def _get(section: dict, key: str, kind: type | tuple, where: str, default: Any = ..., required: bool = False):
    if key not in section:
        if required:
            raise ConfigError(f"Missing key '{where}{key}' in {CONFIG_NAME}.")
        return default
    value = section[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool):
        raise ConfigError(f"Key '{where}{key}' must be a whole number, not {value!r}.")
    if not isinstance(value, kind):
        names = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
                 list: "a list", dict: "a table"}
        expected = names.get(kind, getattr(kind, "__name__", str(kind))) if not isinstance(kind, tuple) else "a date"
        raise ConfigError(f"Key '{where}{key}' must be {expected}, not {value!r}.")
    return value


def _choice(section: dict, key: str, choices: tuple[str, ...], where: str, default: str) -> str:
    value = _get(section, key, str, where, default)
    if value not in choices:
        raise ConfigError(f"Key '{where}{key}' = {value!r} is not one of: {', '.join(choices)}.")
    return value


def _date(section: dict, key: str, where: str) -> dt.date | None:
    if key not in section:
        return None
    value = section[key]
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"Key '{where}{key}' must be a date written as YYYY-MM-DD, not {value!r}.")


def _contact(section: dict, where: str) -> Contact:
    allowed = tuple(Contact.__dataclass_fields__)
    _check_keys(section, allowed, where)
    return Contact(**{k: _get(section, k, str, where, "") for k in allowed})


def _table(section: dict, where: str) -> TableConfig:
    _check_keys(section, ("basis", "measure", "aggregate", "definition", "nil"), where)
    return TableConfig(
        basis=_choice(section, "basis", TABLE_BASES, where, "actual"),
        measure=_choice(section, "measure", MEASURES, where, "both"),
        aggregate=_choice(section, "aggregate", AGGREGATES, where, "per_partner"),
        definition=_get(section, "definition", str, where, ""),
        nil=_get(section, "nil", bool, where, None),
    )


def _dataclass_section(cls, section: dict, where: str):
    allowed = tuple(cls.__dataclass_fields__)
    _check_keys(section, allowed, where)
    values = {}
    for name, f in cls.__dataclass_fields__.items():
        kind = type(f.default)
        value = _get(section, name, kind, where, f.default)
        if isinstance(value, (int, float)) and value < 0:
            raise ConfigError(f"Key '{where}{name}' must not be negative.")
        values[name] = value
    return cls(**values)


def _agency(entry: Any, i: int) -> AgencyConfig:
    where = f"agencies[{i}]."
    if not isinstance(entry, dict):
        raise ConfigError(f"Each [[agencies]] entry must be a table; entry {i + 1} is {entry!r}.")
    _check_keys(entry, ("name", "role", "files", "profile", "encoding", "date_order", "decimal",
                        "provides", "due", "contact"), where)
    name = _get(entry, "name", str, where, required=True).strip()
    if not name:
        raise ConfigError(f"Key '{where}name' must not be empty.")
    files = _get(entry, "files", list, where, required=True)
    if not files or not all(isinstance(f, str) and f.strip() for f in files):
        raise ConfigError(f"Key '{where}files' must be a non-empty list of file patterns (e.g. \"inputs/customs/*.xlsx\").")
    for pattern in files:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise ConfigError(f"Key '{where}files': pattern {pattern!r} must stay inside the workspace.")
    encoding = _get(entry, "encoding", str, where, None)
    if encoding is not None and not is_text_encoding(encoding):
        raise ConfigError(f"Key '{where}encoding' = {encoding!r} is not a known text encoding.")
    decimal = _get(entry, "decimal", str, where, ".")
    if decimal not in (".", ","):
        raise ConfigError(f"Key '{where}decimal' must be \".\" or \",\", not {decimal!r}.")
    contact = _get(entry, "contact", dict, where, {})
    if "role" not in entry:
        raise ConfigError(f"Missing key '{where}role' in {CONFIG_NAME} (one of: {', '.join(ROLES)}).")
    return AgencyConfig(
        name=name,
        role=_choice(entry, "role", ROLES, where, "other"),
        files=tuple(files),
        profile=_get(entry, "profile", str, where, None),
        encoding=encoding,
        date_order=_choice(entry, "date_order", DATE_ORDERS, where, "DMY") if "date_order" in entry else None,
        decimal=decimal,
        provides=_get(entry, "provides", str, where, ""),
        due=_date(entry, "due", where),
        contact=_contact(contact, where + "contact."),
    )


REPORT_KEYS = ("state", "year", "currency", "public", "submission_date", "collection_deadline",
               "validation_deadline", "signoff_date", "national_definitions", "sources_sheet", "unroca")
TOP_KEYS = ("report", "contact", "agencies", "exports", "imports", "rates", "limits", "reconcile",
            "compare", "mirror")


def is_text_encoding(name: str) -> bool:
    """Is `name` a codec that turns bytes into text (cp1252, gb18030), not e.g. zlib or rot13?"""
    import codecs

    try:
        info = codecs.lookup(name)
    except LookupError:
        return False
    # bytes-to-bytes and text-to-text codecs say they are none (`bytes.decode` refuses them)
    return getattr(info, "_is_text_encoding", True)


def load_config(workspace: Path | str) -> Config:
    """Read and check `WORKSPACE/att-report.toml`."""
    root = Path(workspace)
    if not root.exists():
        raise ConfigError(f"Workspace folder not found: {root}. Create one with 'att-report init {root}'.")
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; give the workspace folder that holds {CONFIG_NAME}.")
    path = root / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"No {CONFIG_NAME} in {root}. Create a workspace with 'att-report init {root}'.")
    raw_bytes = path.read_bytes()
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    return parse_config(data, root.resolve(), hashlib.sha256(raw_bytes).hexdigest())


def _state_code(text: str) -> str | None:
    """The reporting State's ISO alpha-3 code, as `countries.resolve_country` gives it.

    An alpha-3 code is looked up directly: resolving names needs country-name
    tables in the UN languages (about 0.6 s to build), which a build then
    builds while its largest file is read rather than before (issue 7). The
    two agree on every code (tests/test_config_state.py).
    """
    import pycountry

    code = text.strip().upper()
    if len(code) == 3 and code.isascii() and code.isalpha() and pycountry.countries.get(alpha_3=code) is not None:
        return code
    from att_report.normalise.countries import resolve_country

    return resolve_country(text)


def parse_config(data: dict, root: Path, sha256: str = "") -> Config:
    _check_keys(data, TOP_KEYS, "")
    report = _get(data, "report", dict, "", required=True)
    _check_keys(report, REPORT_KEYS, "report.")
    state_input = _get(report, "state", str, "report.", required=True).strip()
    state = _state_code(state_input)
    if state is None:
        raise ConfigError(
            f"Key 'report.state' = {state_input!r} is not a State we recognise; "
            "use an ISO 3166 code such as \"NZL\" or the English short name."
        )
    year = _get(report, "year", int, "report.", required=True)
    if not 1990 <= year <= 2100:
        raise ConfigError(f"Key 'report.year' = {year} is not a plausible calendar year.")
    currency = _get(report, "currency", str, "report.", None)
    if currency is not None:
        currency = currency.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ConfigError(f"Key 'report.currency' must be an ISO 4217 code such as \"USD\", not {currency!r}.")
    agencies_raw = _get(data, "agencies", list, "", required=True)
    if not agencies_raw:
        raise ConfigError(f"{CONFIG_NAME} lists no [[agencies]]; add at least one.")
    agencies = tuple(_agency(entry, i) for i, entry in enumerate(agencies_raw))
    names = [a.name for a in agencies]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"Agency names must be unique; repeated: {', '.join(dupes)}.")
    by_slug: dict[str, str] = {}
    for agency in agencies:  # e.g. "Ministry of Defence" and "Ministry of defence"
        other = by_slug.setdefault(agency.slug, agency.name)
        if other != agency.name:
            raise ConfigError(f"Agencies '{other}' and '{agency.name}' would share the file name '{agency.slug}' "
                              "(feedback workbook, intake template); rename one of them.")
    rates_raw = _get(data, "rates", dict, "", {})
    rates: dict[str, float] = {}
    for code, rate in rates_raw.items():
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ConfigError(f"Key 'rates.{code}' must be an ISO 4217 currency code such as EUR.")
        # TOML has nan and inf: neither is a rate (nan <= 0 is false, so ask for a finite positive number)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0 < rate < math.inf):
            raise ConfigError(f"Key 'rates.{code}' must be a positive number (units of the report currency per {code}).")
        rates[code] = float(rate)
    return Config(
        root=root,
        state=state,
        state_input=state_input,
        year=year,
        agencies=agencies,
        currency=currency,
        public=_get(report, "public", bool, "report.", False),
        submission_date=_date(report, "submission_date", "report."),
        collection_deadline=_date(report, "collection_deadline", "report."),
        validation_deadline=_date(report, "validation_deadline", "report."),
        signoff_date=_date(report, "signoff_date", "report."),
        national_definitions=_get(report, "national_definitions", str, "report.", ""),
        sources_sheet=_get(report, "sources_sheet", bool, "report.", True),
        unroca=_get(report, "unroca", bool, "report.", False),
        contact=_contact(_get(data, "contact", dict, "", {}), "contact."),
        exports=_table(_get(data, "exports", dict, "", {}), "exports."),
        imports=_table(_get(data, "imports", dict, "", {}), "imports."),
        rates=rates,
        limits=_dataclass_section(Limits, _get(data, "limits", dict, "", {}), "limits."),
        reconcile=_dataclass_section(ReconcileConfig, _get(data, "reconcile", dict, "", {}), "reconcile."),
        compare=_dataclass_section(CompareConfig, _get(data, "compare", dict, "", {}), "compare."),
        mirror=_dataclass_section(MirrorConfig, _get(data, "mirror", dict, "", {}), "mirror."),
        sha256=sha256,
    )
