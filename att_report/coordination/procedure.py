"""The national reporting-procedure document (`reporting_procedure_<YEAR>.md/.html`).

States that report well keep a written procedure: who provides what, by
when, in which form, and who decides. This one is generated from the
workspace config and the tool's own definitions (intake columns, decision
kinds, output names), so it never drifts from what the tool really does and
the next NPC inherits it. The model is computed first (frozen dataclasses);
the Jinja2 templates in `templates/` only render it. No timestamps: the same
config gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

import jinja2

from att_report import __version__
from att_report.config import CONFIG_NAME, AgencyConfig, Config, Contact, TableConfig
from att_report.paths import templates_dir
from att_report.reconcile import decisions
from att_report.render.log import log_names
from att_report.schema import INTAKE_COLUMNS, INTAKE_NAMES, IntakeColumn

MD_TEMPLATE = "procedure.md.j2"
HTML_TEMPLATE = "procedure.html.j2"

ROLE_LABELS = {
    "licensing": "Licensing authority",
    "customs": "Customs",
    "defence": "Ministry of defence",
    "interior": "Interior / police",
    "other": "Other agency",
}
#: What an agency of each role typically holds (ATT_REPORTING.md section 4),
#: shown when the config does not say what the agency provides.
ROLE_TYPICAL = {
    "licensing": "licences issued (authorized exports and imports)",
    "customs": "export and import declarations (actual transfers)",
    "defence": "government-to-government transfers, gifts, loans and surplus disposals",
    "interior": "civilian firearms import permits (small arms)",
    "other": "transfers in its mandate",
}
BASIS_TEXT = {
    "authorized": "authorized: licences / authorizations issued in the reporting year",
    "actual": "actual: deliveries that physically took place in the reporting year",
    "both": "both authorized and actual, in two separate sections that are never added together",
}
MEASURE_TEXT = {
    "number": "number of items",
    "value": "value (in the report currency)",
    "both": "number of items and value",
}
AGGREGATE_TEXT = {
    "per_partner": "one line per category and partner State (numbers and values summed, "
                   "descriptions and comments combined)",
    "per_transfer": "one line per transfer",
}
DATE_ORDER_TEXT = {"DMY": "day-month-year", "MDY": "month-day-year", "YMD": "year-month-day"}

#: What each decisions-file column means; the columns themselves come from
#: reconcile.decisions, the code that reads the file.
DECISION_COLUMN_TEXT = {
    "finding_id": "the id of the finding decided (from the discrepancy log)",
    "decision": "what to do: " + ", ".join(decisions.DECISION_WORDS),
    "override": "for override: the field(s) to set, field=value separated by ; (e.g. partner_state=DEU)",
    "note": "why the decision was taken",
    "decided_by": "who decided",
    "date": "when, as YYYY-MM-DD",
}
DECISION_TEXT = {
    "accept": "report the record as it is (the finding is resolved)",
    "exclude": "leave the record out of the report (its disposition becomes excluded)",
    "override": "set field(s) of the record to the values given in the override column",
}
RECORD_YEARS = 10  # ATT Art. 12(4): keep records for a minimum of ten years


@dataclass(frozen=True)
class ProfileInfo:
    path: str
    exists: bool
    #: (agency's column, intake column), as the profile maps them
    columns: tuple[tuple[str, str], ...] = ()
    #: other settings in the profile (sheet, header row, constants, value maps), as key = value
    settings: tuple[tuple[str, str], ...] = ()
    problem: str = ""


@dataclass(frozen=True)
class AgencyEntry:
    name: str
    role: str
    role_label: str
    provides: str
    provides_is_default: bool
    contact: Contact
    due: dt.date | None
    files: tuple[str, ...]
    inputs_folder: str
    intake_template: str  # the blank template `init` wrote for this agency ("" if none)
    feedback_file: str
    profile: ProfileInfo | None
    encoding: str
    date_order: str
    decimal: str


@dataclass(frozen=True)
class TableEntry:
    title: str  # Exports | Imports
    basis: str
    basis_text: str
    measure: str
    measure_text: str
    aggregate: str
    aggregate_text: str
    definition: str


@dataclass(frozen=True)
class Milestone:
    date: dt.date | None
    what: str
    who: str


@dataclass(frozen=True)
class ProcedureModel:
    state: str
    state_name: str
    year: int
    tool_version: str
    config_name: str
    config_sha256: str
    npc: Contact
    agencies: tuple[AgencyEntry, ...]
    timetable: tuple[Milestone, ...]
    att_deadline: dt.date
    columns: tuple[IntakeColumn, ...]
    tables: tuple[TableEntry, ...]
    national_definitions: str
    currency: str
    rates: tuple[tuple[str, float], ...]
    public: bool
    unroca: bool
    sources_sheet: bool
    submission_date: dt.date | None
    settings: tuple[tuple[str, str, str], ...]  # (section, key, value)
    decisions_file: str
    decision_columns: tuple[tuple[str, str, bool], ...]  # (column, meaning, required)
    decision_kinds: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...]  # (path under the workspace, what it is)
    record_years: int


# --- building the model -----------------------------------------------------

def _state_name(code: str) -> str:
    try:
        import pycountry

        country = pycountry.countries.get(alpha_3=code)
    except (ImportError, LookupError, KeyError):
        country = None
    return getattr(country, "name", code) if country else code


def _flatten(prefix: str, value: object) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k in value:
            out += _flatten(f"{prefix}.{k}" if prefix else str(k), value[k])
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join(str(v) for v in value))]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, str(value))]


def read_profile(config: Config, agency: AgencyConfig) -> ProfileInfo | None:
    """The agency's profile as far as the procedure shows it: its column mapping and settings."""
    if not agency.profile:
        return None
    path = config.root / agency.profile
    rel = Path(agency.profile).as_posix()
    if not path.is_file():
        return ProfileInfo(rel, False, problem="the profile file is not in the workspace yet")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return ProfileInfo(rel, True, problem=f"the profile could not be read as TOML ({exc})")
    columns_raw = data.get("columns")
    columns: tuple[tuple[str, str], ...] = ()
    if isinstance(columns_raw, dict):
        pairs = [(str(k), ", ".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in columns_raw.items()]
        canonical_values = sum(v in INTAKE_NAMES for _, v in pairs)
        canonical_keys = sum(k in INTAKE_NAMES for k, _ in pairs)
        # profiles may map either way round; show agency column -> intake column
        columns = tuple(pairs if canonical_values >= canonical_keys else [(v, k) for k, v in pairs])
    settings = tuple(_flatten("", {k: v for k, v in data.items() if k != "columns"}))
    problem = "" if isinstance(columns_raw, dict) else "the profile has no [columns] table"
    return ProfileInfo(rel, True, columns=columns, settings=settings, problem=problem)


def _agency_entry(config: Config, agency: AgencyConfig) -> AgencyEntry:
    folders = sorted({Path(p).parent.as_posix() for p in agency.files})
    template = f"templates/intake_{agency.slug}.xlsx"  # where `att-report init` puts it
    return AgencyEntry(
        name=agency.name,
        role=agency.role,
        role_label=ROLE_LABELS.get(agency.role, agency.role),
        provides=agency.provides or ROLE_TYPICAL.get(agency.role, ""),
        provides_is_default=not agency.provides,
        contact=agency.contact,
        due=agency.due,
        files=agency.files,
        inputs_folder=", ".join(f + "/" for f in folders),
        intake_template=template if (config.root / template).is_file() else "",
        feedback_file=f"out/feedback/{agency.slug}.xlsx",
        profile=read_profile(config, agency),
        encoding=agency.encoding or "UTF-8 (with or without BOM)",
        date_order=f"{agency.date_order} ({DATE_ORDER_TEXT.get(agency.date_order, '')})",
        decimal="comma" if agency.decimal == "," else "point",
    )


def _table_entry(title: str, t: TableConfig) -> TableEntry:
    return TableEntry(
        title=title, basis=t.basis, basis_text=BASIS_TEXT[t.basis],
        measure=t.measure, measure_text=MEASURE_TEXT[t.measure],
        aggregate=t.aggregate, aggregate_text=AGGREGATE_TEXT[t.aggregate],
        definition=t.definition,
    )


def _timetable(config: Config) -> tuple[Milestone, ...]:
    npc = config.contact.name or "the national point of contact"
    items = [
        Milestone(a.due, f"Return due from {a.name}", a.name) for a in config.agencies
    ] + [
        Milestone(config.collection_deadline, "Collection deadline: every agency's return received", "all agencies"),
        Milestone(config.validation_deadline, "Validation deadline: findings resolved or decided", npc),
        Milestone(config.signoff_date, "National sign-off of the report", npc),
        Milestone(config.submission_date, "Planned date of submission", npc),
        Milestone(config.att_deadline, "ATT deadline: report reaches the ATT Secretariat (Art. 13(3))", npc),
    ]
    dated = sorted((m for m in items if m.date), key=lambda m: m.date)  # stable: config order on ties
    return tuple(dated + [m for m in items if not m.date])


def _settings(config: Config) -> tuple[tuple[str, str, str], ...]:
    out = []
    for section in ("reconcile", "compare", "mirror", "limits"):
        obj = getattr(config, section)
        for f in fields(obj):
            out.append((section, f.name, str(getattr(obj, f.name))))
    return tuple(out)


def _outputs(config: Config) -> tuple[tuple[str, str], ...]:
    y, s = config.year, config.state
    log_xlsx, log_csv = log_names(y)
    items = [
        ("out/status.csv", "who has delivered what (att-report status)"),
        ("out/validation_findings.csv", "every validation finding, one row each (att-report validate)"),
        ("out/feedback/<agency>.xlsx", "per agency: its rows as received, problem cells highlighted; send it back"),
        (f"out/{log_xlsx}", "all findings with their decisions, and the row accounting (att-report build)"),
        (f"out/{log_csv}", "the same findings as plain text"),
        (f"out/ATT_annual_report_{s}_{y}.xlsx", "the report for the ATT Secretariat (att-report build)"),
        (f"out/summary_{y}.html", "a readable summary of the build: totals per table, category and partner"),
        ("out/manifest.json", "tool version, config hash, every input and output file with its sha256, row accounting"),
        (f"out/reporting_procedure_{y}.md", "this document (also .html)"),
    ]
    if config.unroca:
        items.insert(7, (f"out/UNROCA_{s}_{y}.xlsx", "the UNROCA return, from the same compiled records"))
    return tuple(items)


def build_model(config: Config) -> ProcedureModel:
    """Everything the procedure document says, from the config and the tool's definitions."""
    return ProcedureModel(
        state=config.state,
        state_name=_state_name(config.state),
        year=config.year,
        tool_version=__version__,
        config_name=CONFIG_NAME,
        config_sha256=config.sha256,
        npc=config.contact,
        agencies=tuple(_agency_entry(config, a) for a in config.agencies),
        timetable=_timetable(config),
        att_deadline=config.att_deadline,
        columns=INTAKE_COLUMNS,
        tables=(_table_entry("Exports", config.exports), _table_entry("Imports", config.imports)),
        national_definitions=config.national_definitions,
        currency=config.currency or "",
        rates=tuple(sorted(config.rates.items())),
        public=config.public,
        unroca=config.unroca,
        sources_sheet=config.sources_sheet,
        submission_date=config.submission_date,
        settings=_settings(config),
        decisions_file=decisions.DECISIONS_NAME,
        decision_columns=tuple((c, DECISION_COLUMN_TEXT.get(c, ""), c in decisions.REQUIRED_COLUMNS)
                               for c in decisions.COLUMNS),
        decision_kinds=tuple((w, DECISION_TEXT.get(w, "")) for w in decisions.DECISION_WORDS),
        outputs=_outputs(config),
        record_years=RECORD_YEARS,
    )


# --- rendering --------------------------------------------------------------

def _md_cell(value: object) -> str:
    """Text safe inside a Markdown table cell: no pipe or line break ends the cell early."""
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").split())


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else "not set"


def _contact_parts(c: Contact) -> list[tuple[str, str]]:
    labels = (("name", "Name"), ("position", "Position"), ("organisation", "Organisation"), ("unit", "Unit"),
              ("telephone", "Telephone"), ("email", "E-mail"), ("address", "Address"))
    return [(label, getattr(c, key)) for key, label in labels if getattr(c, key)]


def _environment(autoescape: bool) -> jinja2.Environment:
    return _environment_for(autoescape, str(templates_dir()))


@functools.lru_cache(maxsize=8)
def _environment_for(autoescape: bool, folder: str) -> jinja2.Environment:
    # one environment per templates folder: Jinja keeps compiled templates (a tenth of a second each) in it
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md_cell
    env.filters["date"] = _date
    env.filters["contact_parts"] = _contact_parts
    env.filters["yesno"] = lambda v: "yes" if v else "no"
    return env


def warm_templates() -> None:
    """Compile the procedure's templates now (see `pipeline.warm_later_stages`)."""
    _environment(False).get_template(MD_TEMPLATE)
    _environment(True).get_template(HTML_TEMPLATE)


def render_procedure(model: ProcedureModel) -> tuple[str, str]:
    """(markdown, html) text of the procedure document."""
    md = _environment(False).get_template(MD_TEMPLATE).render(m=model)
    html = _environment(True).get_template(HTML_TEMPLATE).render(m=model)
    return md, html


def procedure_paths(config: Config, out_dir: Path) -> tuple[Path, Path]:
    base = Path(out_dir) / f"reporting_procedure_{config.year}"
    return base.with_suffix(".md"), base.with_suffix(".html")


def write_procedure(config: Config, out_dir: Path) -> list[Path]:
    """Write `reporting_procedure_<YEAR>.md` and `.html` into `out_dir`; return both paths."""
    md, html = render_procedure(build_model(config))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = procedure_paths(config, out_dir)
    for path, text in zip(paths, (md, html)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(text.encode("utf-8"))  # bytes: "\n" on every platform
        tmp.replace(path)
    return list(paths)
