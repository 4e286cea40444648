"""Profiles: map an agency's raw export onto the canonical intake columns.

A profile is a TOML file referenced from the agency's config entry
(`profile = "profiles/customs_raw.toml"`, relative to the workspace):

    sheet = "Declarations"      # sheet name (or 1-based number); default: every sheet with a header
    header_row = 3              # Excel row (csv line) of the header; default: found automatically
    date_order = "DMY"          # overrides the agency's setting
    decimal = ","               # overrides the agency's setting
    encoding = "cp1252"         # csv only; overrides the agency's setting

    [columns]                   # raw header -> canonical column
    "Decl. No" = "record_id"
    "Licence" = "licence_no"

    [constants]                 # canonical column -> value for every row
    basis = "actual"

    [values.flow]               # per canonical column: raw value -> canonical value
    EXP = "export"
    IMP = "import"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from att_report.config import DATE_ORDERS, ConfigError, is_text_encoding
from att_report.schema import INTAKE_NAMES, header_key

PROFILE_KEYS = ("sheet", "header_row", "date_order", "decimal", "encoding", "columns", "constants", "values",
                "description")


@dataclass(frozen=True)
class Profile:
    path: str
    sheet: str | int | None = None
    header_row: int | None = None
    date_order: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # header_key(raw header) -> canonical
    raw_headers: dict[str, str] = field(default_factory=dict)  # canonical -> raw header as written
    constants: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # canonical -> {key(raw): canonical}
    description: str = ""


def _fail(path: Path, message: str) -> ConfigError:
    return ConfigError(f"Profile {path}: {message}")


def load_profile(root: Path, rel: str) -> Profile:
    path = (root / rel)
    if not path.is_file():
        raise ConfigError(f"Profile file not found: {rel} (key 'agencies[].profile', relative to the workspace).")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _fail(path, f"not valid UTF-8 TOML: {exc}") from None
    for key in data:
        if key not in PROFILE_KEYS:
            raise _fail(path, f"unknown key '{key}' (allowed: {', '.join(PROFILE_KEYS)})")
    sheet = data.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, (str, int))
                              or (isinstance(sheet, int) and sheet < 1)):
        raise _fail(path, "key 'sheet' must be a sheet name or a 1-based number")
    header_row = data.get("header_row")
    if header_row is not None and (isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1):
        raise _fail(path, "key 'header_row' must be a row number (1 or more)")
    date_order = data.get("date_order")
    if date_order is not None and date_order not in DATE_ORDERS:
        raise _fail(path, f"key 'date_order' must be one of {', '.join(DATE_ORDERS)}")
    encoding = data.get("encoding")
    if encoding is not None and not (isinstance(encoding, str) and is_text_encoding(encoding)):
        raise _fail(path, f"key 'encoding' = {encoding!r} is not a known text encoding (e.g. \"cp1252\")")
    decimal = data.get("decimal")
    if decimal is not None and decimal not in (".", ","):
        raise _fail(path, "key 'decimal' must be \".\" or \",\"")
    columns_raw = data.get("columns", {})
    if not isinstance(columns_raw, dict):
        raise _fail(path, "[columns] must be a table of \"raw header\" = \"canonical column\"")
    columns, raw_headers = {}, {}
    for raw, canonical in columns_raw.items():
        if canonical not in INTAKE_NAMES:
            raise _fail(path, f"[columns] \"{raw}\" maps to unknown column '{canonical}' "
                              f"(canonical columns: {', '.join(INTAKE_NAMES)})")
        columns[header_key(raw)] = canonical
        raw_headers[canonical] = raw
    constants = data.get("constants", {})
    if not isinstance(constants, dict):
        raise _fail(path, "[constants] must be a table of canonical column = value")
    for name, value in constants.items():
        if name not in INTAKE_NAMES:
            raise _fail(path, f"[constants] names unknown column '{name}'")
        if not isinstance(value, (str, int, float, bool)):
            raise _fail(path, f"[constants] {name} must be a single value")
    values_raw = data.get("values", {})
    values = {}
    for name, mapping in values_raw.items():
        if name not in INTAKE_NAMES or not isinstance(mapping, dict):
            raise _fail(path, f"[values.{name}] must name a canonical column and map raw values to values")
        values[name] = {str(k).strip().casefold(): str(v) for k, v in mapping.items()}
    return Profile(
        path=rel, sheet=sheet, header_row=header_row, date_order=date_order, decimal=decimal,
        encoding=encoding, columns=columns, raw_headers=raw_headers,
        constants={k: str(v) for k, v in constants.items()}, values=values,
        description=str(data.get("description", "")),
    )
