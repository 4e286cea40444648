"""The workspace folder: `att-report init`, and finding each agency's input files.

A workspace holds `att-report.toml`, one `inputs/<agency>/` folder per agency
(where its returned files go), blank intake templates under `templates/`
(outside `inputs/`, so they are never read as data) and, after a build, `out/`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from att_report.config import CONFIG_NAME, Config, ConfigError, agency_slug

#: Extensions the readers accept; every agency gets one glob per extension.
INPUT_EXTENSIONS = ("xlsx", "xlsm", "csv", "ods")
#: Folders under the workspace root that never hold inputs.
EXCLUDED_TOP = ("out",)


@dataclass(frozen=True)
class _Agency:
    name: str
    role: str
    provides: str
    enabled: bool = True

    @property
    def slug(self) -> str:
        return agency_slug(self.name)


DEFAULT_AGENCIES = (
    _Agency("Licensing Authority", "licensing",
            "export and import licences / authorizations issued in the year (authorized)"),
    _Agency("Customs", "customs", "export and import declarations of the year (actual)"),
    _Agency("Ministry of Defence", "defence",
            "government-to-government transfers, gifts, loans and surplus disposals (actual)"),
    _Agency("Police", "interior", "civilian firearms import and export permits (small arms)", enabled=False),
)


def _toml_str(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes
    return json.dumps(text, ensure_ascii=False)


def _agency_block(agency: _Agency, year: int) -> str:
    files = ", ".join(_toml_str(f"inputs/{agency.slug}/*.{ext}") for ext in INPUT_EXTENSIONS)
    lines = [
        "[[agencies]]",
        f"name = {_toml_str(agency.name)}",
        f"role = {_toml_str(agency.role)}          # licensing | customs | defence | interior | other",
        f"files = [{files}]",
        f"provides = {_toml_str(agency.provides)}",
        'date_order = "DMY"          # how to read ambiguous dates such as 03/04/2024: DMY | MDY | YMD',
        f"# due = {year + 1}-02-28          # date the agency's data is due",
        '# [agencies.contact]',
        '# name = ""',
        '# email = ""',
    ]
    if not agency.enabled:
        lines = ["# " + line if not line.startswith("#") else line for line in lines]
    return "\n".join(lines)


def config_text(state: str, year: int) -> str:
    """The commented `att-report.toml` that `init` writes (valid as written)."""
    agencies = "\n\n".join(_agency_block(a, year) for a in DEFAULT_AGENCIES)
    return f"""\
# att-report workspace configuration (Arms Trade Treaty annual report, Art. 13(3)).
# Edit the values below; lines starting with # are comments. Dates are written
# YYYY-MM-DD. Check the file with:  att-report validate <this folder>

[report]
state = {_toml_str(state)}          # reporting State: ISO 3166 code (e.g. "NZL") or English short name
year = {year}               # the calendar year reported on (1 January - 31 December)
public = false            # may the ATT Secretariat make the report public? restricted is the safe default
# currency = "USD"        # report currency (ISO 4217); values in other currencies need [rates]
# submission_date = {year + 1}-05-31
# collection_deadline = {year + 1}-02-28   # agencies send their data by this date
# validation_deadline = {year + 1}-03-31
# signoff_date = {year + 1}-05-15
national_definitions = ""   # national definitions of categories, if any (annex)
unroca = false              # also produce the UN Register (UNROCA) tables

[contact]                   # national point of contact, printed on the report cover
name = ""
position = ""
organisation = ""
telephone = ""
email = ""
address = ""

[exports]
basis = "actual"            # authorized (licences issued) | actual (deliveries) | both
measure = "both"            # number | value | both
aggregate = "per_partner"   # per_partner (one line per category and State) | per_transfer
definition = ""             # national definition of an export, e.g. "physical transfer across the border"

[imports]
basis = "actual"
measure = "both"
aggregate = "per_partner"
definition = ""

# [rates]                   # units of the report currency per unit of another currency
# EUR = 1.08

# One [[agencies]] entry per agency that supplies data. Their files go in
# inputs/<agency>/ ; a blank intake template for each is in templates/.

{agencies}
"""


def init_workspace(root: Path, *, state: str | None = None, year: int | None = None,
                   force: bool = False) -> list[Path]:
    """Create a workspace at `root`; return the paths created (files and folders).

    `state` is required (ISO code or English name); `year` defaults to last
    calendar year. An existing att-report.toml is kept unless `force`.
    """
    from att_report.normalise.countries import country_name, resolve_country
    from att_report.render.intake_template import write_intake_template

    root = Path(root)
    if state is None or not str(state).strip():
        raise ConfigError("Give the reporting State (e.g. --state NZL) to create a workspace.")
    code = resolve_country(str(state).strip())
    if code is None:
        raise ConfigError(
            f"{state!r} is not a State we recognise; use an ISO 3166 code such as \"NZL\" or the English short name."
        )
    if year is None:
        year = dt.date.today().year - 1
    if not 1990 <= int(year) <= 2100:
        raise ConfigError(f"{year} is not a plausible calendar year.")
    year = int(year)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder.")
    config_path = root / CONFIG_NAME
    if config_path.exists() and not force:
        raise ConfigError(
            f"{config_path} already exists; not overwriting it. Edit it, or run init again with --force to replace it."
        )

    created: list[Path] = []

    def mkdir(path: Path) -> None:
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            created.append(path)

    mkdir(root)
    config_path.write_text(config_text(str(state).strip(), year), encoding="utf-8", newline="\n")
    created.append(config_path)
    state_name = country_name(code)
    for agency in DEFAULT_AGENCIES:
        if not agency.enabled:
            continue
        mkdir(root / "inputs" / agency.slug)
        mkdir(root / "templates")
        template = root / "templates" / f"intake_{agency.slug}.xlsx"
        write_intake_template(template, agency_name=agency.name, role=agency.role, year=year,
                              state_name=state_name)
        created.append(template)
    return created


# --- finding input files --------------------------------------------------------

def _is_temporary(name: str) -> bool:
    # Excel owner files (~$book.xlsx), LibreOffice locks (.~lock.book.xlsx#), editor backups
    return name.startswith("~$") or name.startswith(".~lock") or name.endswith("~")


def _case_insensitive(part: str) -> str:
    """A glob component matching letters in either case (FILE.XLSX as file.xlsx)."""
    out = []
    in_class = False
    for ch in part:
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        if ch.isalpha() and not in_class and ch.lower() != ch.upper():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        else:
            out.append(ch)
    return "".join(out)


def _glob(root: Path, pattern: str) -> list[Path]:
    parts = Path(pattern).parts
    if not parts:
        return []
    # file names are matched in either case; folders as written
    pattern = str(Path(*parts[:-1], _case_insensitive(parts[-1]))) if len(parts) > 1 else _case_insensitive(parts[-1])
    return [p for p in root.glob(pattern)]


def relative_path(config: Config, path: Path | str) -> str:
    """`path` relative to the workspace root, as a posix string (as findings cite it)."""
    root = Path(config.root)
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    for base, target in ((root, p), (root.resolve(), p.resolve())):
        try:
            return target.relative_to(base).as_posix()
        except ValueError:
            continue
    return p.as_posix()


def discover_files(config: Config) -> dict[str, list[Path]]:
    """Agency name -> its input files (the `files` patterns, workspace-relative).

    Skips `out/`, temporary and lock files and anything that is not a file;
    a file matched by two patterns is listed once; sorted by relative path.
    """
    root = Path(config.root)
    result: dict[str, list[Path]] = {}
    for agency in config.agencies:
        found: dict[str, Path] = {}
        for pattern in agency.files:
            for path in _glob(root, pattern):
                rel = relative_path(config, path)
                first = rel.split("/", 1)[0]
                if first in EXCLUDED_TOP or _is_temporary(path.name) or not path.is_file():
                    continue
                found.setdefault(rel, path)
        result[agency.name] = [found[k] for k in sorted(found)]
    return result
