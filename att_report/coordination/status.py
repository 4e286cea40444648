"""`att-report status`: who has delivered what, by when, and is it clean?

Computation only builds frozen dataclasses (`StatusReport`); the text and csv
writers below only render them. `today` is injectable so the output is
testable; it is the one date the status refers to.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from att_report.config import AgencyConfig, Config, Contact
from att_report.coordination.runstate import RunState, read_run_state
from att_report.findings import neutralise_formulas
from att_report.workspace import discover_files, relative_path

SHA_PREFIX = 12
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

# One word per agency, in the order they are checked.
OVERDUE = "overdue"  # no file, due date passed
MISSING = "missing"  # no file yet
NOT_VALIDATED = "not validated"  # files, but no validation has seen them
CHANGED = "changed"  # files changed since the last validation / build
ERRORS = "errors"  # the last validation found errors
READY = "ready"  # delivered, validated, no errors, unchanged since

STATUS_COLUMNS = (
    "status_date", "agency", "role", "provides", "status",
    "contact_name", "contact_position", "contact_unit", "contact_organisation",
    "contact_email", "contact_telephone",
    "due", "days_left", "days_overdue", "files_received", "files", "rows_read", "errors", "warnings",
    "last_run", "changed_since_last_run", "changes", "note",
)


@dataclass(frozen=True)
class ReceivedFile:
    path: str  # workspace-relative posix path
    size: int
    sha256: str
    modified: dt.datetime  # UTC
    rows_read: int | None  # from the last run, when the file is unchanged since
    change: str  # "new" | "modified" | "unchanged" | "unreadable" | "" (no run recorded)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def sha_prefix(self) -> str:
        return self.sha256[:SHA_PREFIX]


@dataclass(frozen=True)
class AgencyStatus:
    name: str
    role: str
    provides: str
    contact: Contact
    due: dt.date | None
    days_left: int | None  # negative: overdue by that many days
    files: tuple[ReceivedFile, ...]
    removed: tuple[str, ...]  # files seen at the last run that are gone now
    rows_read: int | None  # at the last run
    errors: int | None  # at the last run (unresolved errors)
    warnings: int | None
    changed: bool | None  # since the last run (None when no run is recorded)
    status: str
    note: str  # a plain sentence saying what, if anything, is wrong

    @property
    def ok(self) -> bool:
        return self.status == READY

    def change_summary(self) -> str:
        return _change_summary(self.files, self.removed)


@dataclass(frozen=True)
class Milestone:
    label: str
    date: dt.date | None


@dataclass(frozen=True)
class StatusReport:
    state: str
    year: int
    today: dt.date
    last_run: RunState | None
    timetable: tuple[Milestone, ...]
    agencies: tuple[AgencyStatus, ...]

    @property
    def exit_code(self) -> int:
        """0 when every agency has delivered data without errors, else 1."""
        return 0 if self.agencies and all(a.ok for a in self.agencies) else 1

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(a.note for a in self.agencies if a.note)


# --- computation ------------------------------------------------------------

def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _change_summary(files: tuple[ReceivedFile, ...] | list[ReceivedFile], removed: tuple[str, ...]) -> str:
    """E.g. "1 new file, 2 modified files, 1 removed file" ("" when nothing changed)."""
    counts = (
        (sum(f.change == "new" for f in files), "new file"),
        (sum(f.change == "modified" for f in files), "modified file"),
        (len(removed), "removed file"),
        (sum(f.change == "unreadable" for f in files), "unreadable file"),
    )
    return ", ".join(_count(n, noun) for n, noun in counts if n)


def _days(n: int) -> str:
    return _count(n, "day")


def _discover(config: Config) -> dict[str, list[Path]]:
    """Files per agency, found exactly as intake finds them."""
    found = discover_files(config)
    return {
        a.name: sorted((Path(p) if Path(p).is_absolute() else config.root / p for p in found.get(a.name, [])),
                       key=lambda p: p.as_posix())
        for a in config.agencies
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _due_phrase(due: dt.date | None, days_left: int | None) -> str:
    if due is None or days_left is None:
        return "no due date set"
    if days_left < 0:
        return f"due {due.isoformat()}, {_days(-days_left)} overdue"
    if days_left == 0:
        return f"due today ({due.isoformat()})"
    return f"due {due.isoformat()}, {_days(days_left)} left"


def _due_field(due: dt.date | None, days_left: int | None, received: bool) -> str:
    if due is None or days_left is None:
        return "not set"
    if received and days_left <= 0:
        return f"{due.isoformat()} (passed; files received)"
    if days_left < 0:
        return f"{due.isoformat()} ({_days(-days_left)} overdue)"
    return f"{due.isoformat()} ({'today' if days_left == 0 else _days(days_left) + ' left'})"


def _agency_status(config: Config, agency: AgencyConfig, paths: list[Path], run: RunState | None,
                   today: dt.date) -> AgencyStatus:
    days_left = (agency.due - today).days if agency.due else None
    seen = {f.path: f for f in run.files_of(agency.name)} if run else {}
    files = []
    for p in paths:
        rel = relative_path(config, p)
        before = seen.get(rel)
        try:
            st = p.stat()
            sha = _sha256(p)
        except OSError:
            # locked by another program or gone since the listing: say so, validate reports why
            files.append(ReceivedFile(path=rel, size=0, sha256="", modified=EPOCH, rows_read=None,
                                      change="unreadable"))
            continue
        if run is None:
            change, rows = "", None
        elif before is None:
            change, rows = "new", None
        elif before.sha256 != sha:
            change, rows = "modified", None
        else:
            change, rows = "unchanged", before.rows_read
        files.append(ReceivedFile(
            path=rel, size=st.st_size, sha256=sha,
            modified=dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).replace(microsecond=0),
            rows_read=rows, change=change,
        ))
    current = {f.path for f in files}
    removed = tuple(sorted(p for p in seen if p not in current))
    counts = run.counts(agency.name) if run else None
    # an agency the last run did not know (added to the config since) has no counts
    known = run is not None and (counts is not None or bool(seen))
    rows_read = (counts.rows_read if counts else sum(f.rows_read for f in seen.values())) if known else None
    errors = (counts.errors if counts else 0) if known else None
    warnings = (counts.warnings if counts else 0) if known else None
    due = _due_phrase(agency.due, days_left)
    name = agency.name
    changed = bool(removed) or any(f.change in ("new", "modified", "unreadable") for f in files)
    if not files:
        if days_left is not None and days_left < 0:
            status, note = OVERDUE, f"{name}: {due}, no file received."
        else:
            status, note = MISSING, f"{name}: {due}, no file received yet."
        if removed:
            note += f" {_count(len(removed), 'file')} seen at the last {RUN_NOUN[run.kind]} {'is' if len(removed) == 1 else 'are'} gone."
    elif run is None or not known:
        status = NOT_VALIDATED
        note = f"{name}: {_count(len(files), 'file')} received, not validated yet; run 'att-report validate'."
    elif changed:
        status = CHANGED
        what = _change_summary(files, removed)
        note = f"{name}: data changed since the last {RUN_NOUN[run.kind]} ({what}); run 'att-report validate' again."
    elif errors:
        status = ERRORS
        note = (f"{name}: {_count(errors, 'error')} at the last {RUN_NOUN[run.kind]}; "
                f"send the agency its feedback workbook (out/feedback/{agency.slug}.xlsx) "
                "and ask for a corrected file.")
    else:
        status, note = READY, ""
    return AgencyStatus(
        name=name, role=agency.role, provides=agency.provides, contact=agency.contact,
        due=agency.due, days_left=days_left, files=tuple(files), removed=removed,
        rows_read=rows_read, errors=errors, warnings=warnings, changed=changed if run else None,
        status=status, note=note,
    )


def compute_status(config: Config, today: dt.date | None = None) -> StatusReport:
    """The submission status of every agency on `today` (default: the local date)."""
    today = today or dt.date.today()
    run = read_run_state(config)
    found = _discover(config)
    agencies = tuple(_agency_status(config, a, found.get(a.name, []), run, today) for a in config.agencies)
    timetable = (
        Milestone("Collection deadline", config.collection_deadline),
        Milestone("Validation deadline", config.validation_deadline),
        Milestone("National sign-off", config.signoff_date),
        Milestone("ATT deadline (Art. 13(3))", config.att_deadline),
    )
    return StatusReport(state=config.state, year=config.year, today=today, last_run=run,
                        timetable=timetable, agencies=agencies)


# --- rendering --------------------------------------------------------------

def _contact_text(c: Contact) -> str:
    parts = [c.name, c.position, c.unit, c.organisation, c.email, c.telephone]
    return ", ".join(p for p in parts if p) or "not set"


RUN_NOUN = {"validate": "validation", "build": "build"}


def _when(run: RunState) -> str:
    return run.when.strftime("%Y-%m-%d %H:%M UTC")


def _file_line(f: ReceivedFile) -> str:
    rows = "rows ?" if f.rows_read is None else _count(f.rows_read, "row")
    change = f"  [{f.change}]" if f.change else ""
    return (f"{f.path}  {f.size:,} bytes  sha256 {f.sha_prefix}  "
            f"modified {f.modified.strftime('%Y-%m-%d %H:%M UTC')}  {rows}{change}")


def _milestone_text(m: Milestone, today: dt.date) -> str:
    if m.date is None:
        return f"{m.label}: not set"
    d = (m.date - today).days
    when = "today" if d == 0 else (f"{_days(d)} left" if d > 0 else f"{_days(-d)} ago")
    return f"{m.label}: {m.date.isoformat()} ({when})"


def render_status_text(report: StatusReport) -> str:
    """Plain text for the terminal (and for pasting into an e-mail)."""
    lines = [f"ATT annual report {report.year} ({report.state}): submission status on {report.today.isoformat()}"]
    lines += ["  " + _milestone_text(m, report.today) for m in report.timetable]
    if report.last_run:
        lines.append(f"Last run: {RUN_NOUN[report.last_run.kind]} on {_when(report.last_run)}")
    else:
        lines.append("Last run: none; no validation or build has been recorded yet.")
    for a in report.agencies:
        lines.append("")
        lines.append(f"{a.name} ({a.role}){': ' + a.provides if a.provides else ''}")
        lines.append(f"  Status: {a.status}")
        lines.append(f"  Contact: {_contact_text(a.contact)}")
        lines.append(f"  Due: {_due_field(a.due, a.days_left, bool(a.files))}")
        lines.append(f"  Files received: {len(a.files)}")
        lines += [f"    {_file_line(f)}" for f in a.files]
        lines += [f"    {p}  [removed since the last run]" for p in a.removed]
        if a.rows_read is None:
            lines.append("  At the last validation: not validated")
        else:
            lines.append(f"  At the last validation: {_count(a.rows_read, 'row')} read, "
                         f"{_count(a.errors or 0, 'error')}, {_count(a.warnings or 0, 'warning')}")
        changed = a.changed
        lines.append("  Changed since the last validation/build: "
                     + ("unknown (no run recorded)" if changed is None else
                        (f"yes ({a.change_summary()})" if changed else "no")))
    lines.append("")
    notes = report.notes
    if notes:
        lines.append("To follow up:")
        lines += [f"  - {n}" for n in notes]
    ready = sum(a.ok for a in report.agencies)
    lines.append(f"{ready} of {len(report.agencies)} agencies delivered data without errors"
                 f" (exit code {report.exit_code}).")
    return "\n".join(lines) + "\n"


def status_frame(report: StatusReport) -> pd.DataFrame:
    """One row per agency, columns STATUS_COLUMNS, all text."""
    run = report.last_run
    rows = []
    for a in report.agencies:
        rows.append({
            "status_date": report.today.isoformat(),
            "agency": a.name,
            "role": a.role,
            "provides": a.provides,
            "status": a.status,
            "contact_name": a.contact.name,
            "contact_position": a.contact.position,
            "contact_unit": a.contact.unit,
            "contact_organisation": a.contact.organisation,
            "contact_email": a.contact.email,
            "contact_telephone": a.contact.telephone,
            "due": a.due.isoformat() if a.due else "",
            # two columns rather than a negative number (a leading "-" reads as a formula)
            "days_left": "" if a.days_left is None or a.days_left < 0 else str(a.days_left),
            # overdue means past the due date with nothing received
            "days_overdue": str(-a.days_left) if a.status == OVERDUE else "",
            "files_received": str(len(a.files)),
            "files": "; ".join(
                f"{f.path} ({f.size} bytes, sha256 {f.sha_prefix}, modified {f.modified.strftime('%Y-%m-%d %H:%M UTC')})"
                for f in a.files
            ),
            "rows_read": "" if a.rows_read is None else str(a.rows_read),
            "errors": "" if a.errors is None else str(a.errors),
            "warnings": "" if a.warnings is None else str(a.warnings),
            "last_run": f"{run.kind} {_when(run)}" if run else "",
            "changed_since_last_run": {None: "", True: "yes", False: "no"}[a.changed],
            "changes": a.change_summary(),
            "note": a.note,
        })
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS), dtype=object)


def write_status_csv(report: StatusReport, path: Path) -> Path:
    """Write `status.csv`: UTF-8, one row per agency, formula-like text neutralised."""
    frame = status_frame(report)
    for name in frame.columns:
        frame[name] = neutralise_formulas(frame[name])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return path
