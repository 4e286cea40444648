"""The decisions file: the NPC's institutional memory (`WORKSPACE/decisions.csv`).

One line per decided finding, plain UTF-8 csv, diff-able, kept with the
workspace year after year:

    # Decisions on findings of the discrepancy log (att-report).
    finding_id,decision,override,note,decided_by,date
    F-1a2b3c4d5e6f,accept,,Licence amended on 2024-05-02 (amendment 2),J. Smith,2025-03-10
    F-0f9e8d7c6b5a,exclude,,Same shipment as customs line 14,J. Smith,2025-03-10
    F-77aa88bb99cc,override,partner_state=DEU,Customs keyed the transit country,J. Smith,2025-03-11

Columns: `finding_id`, `decision` and `note` are required; `override`,
`decided_by` and `date` (YYYY-MM-DD) are optional columns. Lines starting
with `#` are comments; blank lines are ignored.

- `accept`: report the record as it is (the finding is resolved; for the
  own-forces and out-of-scope warnings it means: do report it).
- `exclude`: leave the record the finding is on out of the report (its
  disposition becomes `excluded`, citing the decision).
- `override`: set one or more fields of that record, `field=value`
  separated by `;` (e.g. `partner_state=DEU` or `quantity=12; category=VIII.SA.2`).
  Rules do not re-run on the new values; the finding is shown as decided.

Every decision needs a note (why): the log shows it next to the finding.
A decision whose finding no longer occurs is listed as a `decision-stale`
warning. Decisions act on the record a finding is on (its agency, file and
row), never on the records listed as related.

A malformed file (unknown column or decision, missing note, an override
that names an unknown field or a value that does not fit, the same
finding decided twice) stops the build with a ConfigError naming the line:
a decision silently ignored would change the report without anyone knowing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from att_report import findings as fnd
from att_report.config import ConfigError
from att_report.findings import Finding, Severity

DECISIONS_NAME = "decisions.csv"
DECISION_WORDS = ("accept", "exclude", "override")
REQUIRED_COLUMNS = ("finding_id", "decision", "note")
OPTIONAL_COLUMNS = ("override", "decided_by", "date")
COLUMNS = ("finding_id", "decision", "override", "note", "decided_by", "date")

#: Fields an override may set, and what kind of value each takes.
OVERRIDABLE = {
    "flow": "flow", "basis": "basis", "licence_no": "text", "date": "date", "valid_until": "date",
    "partner_state": "country", "origin_state": "country", "intermediate_states": "countries",
    "category": "category", "hs_code": "text", "quantity": "int", "value": "number",
    "currency": "currency", "description": "text", "end_user": "text", "comments": "text",
    "withheld": "flag",
}

_TRUE = {"yes", "y", "true", "1", "x"}
_FALSE = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class Decision:
    finding_id: str
    decision: str  # accept | exclude | override
    overrides: tuple[tuple[str, object], ...]
    override_text: str
    note: str
    decided_by: str = ""
    date: str = ""
    line: int = 0

    @property
    def log_note(self) -> str:
        """The note as the log shows it: what was set, why, by whom and when."""
        parts = []
        if self.override_text:
            parts.append(f"set {self.override_text}: ")
        parts.append(self.note)
        who = ", ".join(p for p in (self.decided_by, self.date) if p)
        if who:
            parts.append(f" ({who})")
        return "".join(parts)


@dataclass(frozen=True)
class Decisions:
    path: str  # as shown in findings (workspace-relative when possible)
    entries: tuple[Decision, ...] = ()

    def by_id(self) -> dict[str, Decision]:
        return {d.finding_id: d for d in self.entries}

    def __len__(self) -> int:
        return len(self.entries)


def _fail(path: Path, line: int, text: str) -> ConfigError:
    return ConfigError(f"{path.name} line {line}: {text}")


def _convert(kind: str, raw: str, field: str, where) -> object:
    raw = raw.strip()
    if kind == "text":
        return raw
    if kind == "flow":
        if raw.lower() not in ("export", "import"):
            raise where(f"{field} must be export or import, not {raw!r}.")
        return raw.lower()
    if kind == "basis":
        if raw.lower() not in ("authorized", "actual"):
            raise where(f"{field} must be authorized or actual, not {raw!r}.")
        return raw.lower()
    if kind == "date":
        from att_report.normalise.dates import FIRST_DAY, LAST_DAY

        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise where(f"{field} must be a date written YYYY-MM-DD, not {raw!r}.") from None
        if not FIRST_DAY <= day <= LAST_DAY:  # a date column cannot hold it (nor can it be a transfer's)
            raise where(f"{field} {raw!r} cannot be right: the year must be between {FIRST_DAY.year + 1} "
                        f"and {LAST_DAY.year - 1}.")
        return pd.Timestamp(day)
    if kind == "country":
        from att_report.normalise.countries import resolve_country

        code = resolve_country(raw)
        if code is None:
            raise where(f"{field}: {raw!r} is not a State we recognise (use an ISO code such as DEU).")
        return code
    if kind == "countries":
        from att_report.normalise.countries import resolve_country

        codes = []
        for part in [p.strip() for p in re.split(r"[,|]", raw) if p.strip()]:
            code = resolve_country(part)
            if code is None:
                raise where(f"{field}: {part!r} is not a State we recognise.")
            codes.append(code)
        return ";".join(codes)
    if kind == "category":
        from att_report.normalise.categories import load_categories

        codes = {c.code.lower(): c.code for c in load_categories()}
        if raw.lower() not in codes:
            raise where(f"{field}: {raw!r} is not an ATT category code (e.g. VIII.SA.2).")
        return codes[raw.lower()]
    if kind == "int":
        if not re.fullmatch(r"\d+", raw.replace(",", "").replace("_", "")):
            raise where(f"{field} must be a whole number of items, not {raw!r}.")
        return int(raw.replace(",", "").replace("_", ""))
    if kind == "number":
        try:
            value = float(raw.replace(",", "").replace("_", ""))
        except ValueError:
            raise where(f"{field} must be a number, not {raw!r}.") from None
        if value < 0 or value != value:
            raise where(f"{field} must not be negative.")
        return value
    if kind == "currency":
        if not re.fullmatch(r"[A-Za-z]{3}", raw):
            raise where(f"{field} must be an ISO 4217 code such as USD, not {raw!r}.")
        return raw.upper()
    if kind == "flag":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise where(f"{field} must be yes or no, not {raw!r}.")
    raise AssertionError(kind)


def _display(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_override(text: str, where) -> tuple[tuple[str, object], ...]:
    """`partner_state=DEU; quantity=12` -> ((field, value), ...), values checked.

    `where(message)` builds the error that names the line. Intermediate
    States, which are themselves a list, are written with `,` or `|`
    (e.g. `intermediate_states=BEL,NLD`).
    """
    out = []
    seen = set()
    for part in [p for p in text.split(";") if p.strip()]:
        if "=" not in part:
            raise where(f"override {part.strip()!r} must be written field=value (e.g. partner_state=DEU).")
        field, raw = part.split("=", 1)
        field = field.strip().lower()
        if field not in OVERRIDABLE:
            raise where(f"override: unknown field {field!r}; one of: {', '.join(OVERRIDABLE)}.")
        if field in seen:
            raise where(f"override sets {field!r} twice.")
        seen.add(field)
        out.append((field, _convert(OVERRIDABLE[field], raw, field, where)))
    if not out:
        raise where("decision 'override' needs an override such as partner_state=DEU.")
    return tuple(out)


def _delimiter(text: str) -> str:
    """"," as documented, or ";" for a file saved by Excel where the decimal sign is a comma.

    Only a header made of known columns with ";" (and none with ",") is taken for the latter.
    """
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    by_semicolon = [c.strip().strip('"').lower() for c in header.split(";")]
    if "," not in header and len(by_semicolon) > 1 and all(c in COLUMNS for c in by_semicolon):
        return ";"
    return ","


def load_decisions(path: Path | str, *, display: str | None = None) -> Decisions:
    """Read and check a decisions file; a missing file means no decisions."""
    path = Path(path)
    shown = display or path.name
    if not path.is_file():
        return Decisions(shown, ())
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name} is not UTF-8 text; save it as UTF-8 (csv).") from None
    # comment lines become blank lines, so csv line numbers stay the file's
    lines = raw.splitlines()
    cleaned = "\n".join("" if ln.lstrip().startswith("#") else ln for ln in lines)
    reader = csv.reader(io.StringIO(cleaned), delimiter=_delimiter(cleaned))
    header = None
    header_line = 0
    entries: list[Decision] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip().lower() for c in row]
            header_line = line
            unknown = [c for c in header if c not in COLUMNS]
            if unknown:
                raise _fail(path, line, f"unknown column {unknown[0]!r}; the columns are {', '.join(COLUMNS)}.")
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise _fail(path, line, f"the header needs the column {missing[0]!r} "
                                        f"(header: {','.join(COLUMNS)}).")
            if len(set(header)) != len(header):
                raise _fail(path, line, "a column is named twice in the header.")
            continue
        if len(row) > len(header):
            raise _fail(path, line, f"{len(row)} values but the header has {len(header)} columns "
                                    "(quote a note that contains a comma).")
        values = dict(zip(header, [c.strip() for c in row] + [""] * (len(header) - len(row))))

        def where(msg: str, _line=line) -> ConfigError:
            return _fail(path, _line, msg)

        fid = values["finding_id"]
        if not re.fullmatch(r"F-[0-9a-f]{12}", fid):
            raise where(f"finding_id {fid!r} is not a finding id from the discrepancy log (like F-1a2b3c4d5e6f).")
        word = values["decision"].lower()
        if word not in DECISION_WORDS:
            raise where(f"decision {values['decision']!r} must be one of: {', '.join(DECISION_WORDS)}.")
        if not values["note"]:
            raise where("every decision needs a note saying why (the log shows it).")
        override_text = values.get("override", "")
        if word == "override":
            overrides = parse_override(override_text, where)
        elif override_text:
            raise where(f"an override is given but the decision is {word!r}; use decision 'override'.")
        else:
            overrides = ()
        date = values.get("date", "")
        if date:
            try:
                dt.date.fromisoformat(date)
            except ValueError:
                raise where(f"date {date!r} must be written YYYY-MM-DD.") from None
        if fid in first_line:
            raise where(f"finding {fid} is already decided on line {first_line[fid]}; keep one decision.")
        first_line[fid] = line
        entries.append(Decision(
            finding_id=fid, decision=word, overrides=overrides,
            override_text="; ".join(f"{f}={_display(v)}" for f, v in overrides),
            note=values["note"], decided_by=values.get("decided_by", ""), date=date, line=line,
        ))
    if header is None and raw.strip() and not all(ln.lstrip().startswith("#") or not ln.strip() for ln in lines):
        raise _fail(path, header_line or 1, f"no header line ({','.join(COLUMNS)}).")
    return Decisions(shown, tuple(entries))


def apply_decisions(findings: pd.DataFrame, decisions: Decisions | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill the decision columns of `findings`; return (findings, stale-decision warnings).

    A decision whose finding_id matches no finding is stale (the problem was
    fixed at source, or the record changed): a warning, so the NPC can tidy
    the file. It never fails the build.
    """
    out = findings.copy()
    if decisions is None or not len(decisions):
        return out, fnd.empty_frame()
    by_id = decisions.by_id()
    word = {k: d.decision for k, d in by_id.items()}
    note = {k: d.log_note for k, d in by_id.items()}
    ids = out["finding_id"].astype(object)
    hit = ids.isin(word.keys())
    out.loc[hit, "decision"] = ids[hit].map(word)
    out.loc[hit, "decision_note"] = ids[hit].map(note)
    present = set(ids[hit])
    stale = [
        Finding(
            severity=Severity.WARNING, code="decision-stale",
            message=(f"The decision '{d.decision}' on line {d.line} refers to finding {d.finding_id}, "
                     "which no longer occurs (fixed at source, or the record changed). "
                     "Remove the line, or decide the new finding."),
            file=decisions.path, row=d.line, field="finding_id", value=d.finding_id,
        ).with_id(decisions.path, d.finding_id)
        for d in decisions.entries if d.finding_id not in present
    ]
    return out, fnd.to_frame(stale)


def unresolved_errors(findings: pd.DataFrame) -> int:
    """Error findings with no decision: the build exits 1 while there are any."""
    if findings.empty:
        return 0
    undecided = findings["decision"].astype("string").fillna("").str.strip() == ""
    return int(((findings["severity"].astype(str) == str(Severity.ERROR)) & undecided).sum())
