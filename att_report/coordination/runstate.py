"""The record of the last validation / build, so `status` can say what changed.

`validate` and `build` each leave `out/.state/last_<kind>.json`: per input
file its agency, path, sha256 and rows read; per agency the error and warning
counts. `status` compares today's files with it by checksum. The file is
state, not an output: it carries the time of the run (`when`), and nothing
else in it depends on the clock.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from att_report.config import Config

KINDS = ("validate", "build")
STATE_DIR = Path("out") / ".state"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FileState:
    agency: str
    path: str  # workspace-relative posix path
    sha256: str
    rows_read: int = 0
    readable: bool = True


@dataclass(frozen=True)
class AgencyCounts:
    errors: int = 0
    warnings: int = 0
    #: error findings that a decision resolved (build only); not in `errors`
    resolved: int = 0
    rows_read: int = 0


@dataclass(frozen=True)
class RunState:
    kind: str  # validate | build
    when: dt.datetime  # timezone-aware, UTC
    config_sha256: str
    files: tuple[FileState, ...]
    agencies: Mapping[str, AgencyCounts] = field(default_factory=dict)
    path: Path | None = None

    def files_of(self, agency: str) -> tuple[FileState, ...]:
        return tuple(f for f in self.files if f.agency == agency)

    def counts(self, agency: str) -> AgencyCounts | None:
        return self.agencies.get(agency)


def state_path(config: Config, kind: str) -> Path:
    return config.root / STATE_DIR / f"last_{kind}.json"


def _agency_counts(config: Config, files: list, findings: pd.DataFrame | None) -> dict[str, AgencyCounts]:
    names = [a.name for a in config.agencies]
    rows: dict[str, int] = {}
    for f in files:
        rows[f.agency] = rows.get(f.agency, 0) + int(f.rows_read or 0)
    errors: dict[str, int] = {}
    warnings: dict[str, int] = {}
    resolved: dict[str, int] = {}
    if findings is not None and not findings.empty:
        sev = findings["severity"].astype("string").fillna("").str.lower()
        agency = findings["agency"].astype("string").fillna("")
        if "decision" in findings:
            # a decided error no longer blocks the report (reconciliation issue)
            decided = findings["decision"].astype("string").fillna("").str.strip() != ""
        else:
            decided = pd.Series(False, index=findings.index)
        errors = agency[(sev == "error") & ~decided].value_counts().to_dict()
        resolved = agency[(sev == "error") & decided].value_counts().to_dict()
        warnings = agency[sev == "warning"].value_counts().to_dict()
        names += [n for n in sorted(set(errors) | set(warnings) | set(resolved)) if n not in names]
    names += [n for n in sorted(rows) if n not in names]
    return {
        n: AgencyCounts(
            errors=int(errors.get(n, 0)),
            warnings=int(warnings.get(n, 0)),
            resolved=int(resolved.get(n, 0)),
            rows_read=int(rows.get(n, 0)),
        )
        for n in names
    }


def write_run_state(
    config: Config,
    *,
    kind: str,
    files: Iterable,
    findings: pd.DataFrame | None,
    when: dt.datetime | None = None,
) -> Path:
    """Record a finished validation or build in `out/.state/last_<kind>.json`.

    `files` are `intake.tables.FileInfo` (anything with agency, path, sha256,
    rows_read, readable); `findings` a findings frame (severity, agency and,
    after a build, decision). `when` defaults to now (UTC).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    files = sorted(files, key=lambda f: (f.agency, f.path))
    when = (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    counts = _agency_counts(config, files, findings)
    payload = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "when": when.isoformat().replace("+00:00", "Z"),
        "config_sha256": config.sha256,
        "year": config.year,
        "files": [
            {
                "agency": f.agency,
                "path": f.path,
                "sha256": f.sha256,
                "rows_read": int(f.rows_read or 0),
                "readable": bool(getattr(f, "readable", True)),
            }
            for f in files
        ],
        "agencies": {
            name: {"errors": c.errors, "warnings": c.warnings, "resolved": c.resolved, "rows_read": c.rows_read}
            for name, c in counts.items()
        },
    }
    path = state_path(config, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # atomic: a killed run never leaves half a state file
    return path


def _parse(path: Path) -> RunState | None:
    """Read one state file; a damaged or foreign one counts as no record."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        when = dt.datetime.fromisoformat(str(data["when"]).replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        files = tuple(
            FileState(
                agency=str(f["agency"]),
                path=str(f["path"]),
                sha256=str(f["sha256"]),
                rows_read=int(f.get("rows_read", 0)),
                readable=bool(f.get("readable", True)),
            )
            for f in data.get("files", [])
        )
        agencies = {
            str(name): AgencyCounts(
                errors=int(c.get("errors", 0)),
                warnings=int(c.get("warnings", 0)),
                resolved=int(c.get("resolved", 0)),
                rows_read=int(c.get("rows_read", 0)),
            )
            for name, c in dict(data.get("agencies", {})).items()
        }
        kind = str(data["kind"])
        if kind not in KINDS:
            return None
        return RunState(kind=kind, when=when, config_sha256=str(data.get("config_sha256", "")),
                        files=files, agencies=agencies, path=path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def read_run_state(config: Config, kind: str | None = None) -> RunState | None:
    """The most recent recorded run (of `kind`, or of either kind), or None."""
    kinds = KINDS if kind is None else (kind,)
    states = [s for k in kinds if (p := state_path(config, k)).is_file() and (s := _parse(p))]
    if not states:
        return None
    # a build also validates, so on a tie the build is the fuller record
    return max(states, key=lambda s: (s.when, s.kind == "build"))
