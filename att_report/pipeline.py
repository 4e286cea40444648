"""Wire the stages: intake (read, normalise, validate) and the full build."""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from att_report import findings as fnd
from att_report.config import Config
from att_report.findings import Finding, Severity
from att_report.intake.profiles import Profile, load_profile
from att_report.intake.readers import FileRead
from att_report.intake.tables import FileInfo, RawTable
from att_report.normalise.canonical import normalise, raw_frame
from att_report.schema import RECORD_COLUMNS
from att_report.validate import validate_records

Progress = Callable[[str, str], None]  # (stage, detail)


@dataclass
class IntakeResult:
    records: pd.DataFrame
    findings: pd.DataFrame
    files: list[FileInfo]
    tables: list[RawTable]
    timings: dict[str, float] = field(default_factory=dict)

    def file_counts(self) -> pd.DataFrame:
        """Per file: rows read, valid, invalid (rows read = valid + invalid)."""
        rec = self.records
        counts = (rec.groupby(["src_agency", "src_file"], sort=False)["valid"]
                  .agg(valid="sum", rows="size").reset_index())
        by_file = {(r.src_agency, r.src_file): r for r in counts.itertuples(index=False)}
        rows = []
        for info in self.files:
            hit = by_file.get((info.agency, info.path))
            read = int(hit.rows) if hit is not None else 0
            valid = int(hit.valid) if hit is not None else 0
            rows.append({"agency": info.agency, "file": info.path, "rows_read": read, "valid": valid,
                         "invalid": read - valid, "readable": info.readable})
        return pd.DataFrame(rows, columns=["agency", "file", "rows_read", "valid", "invalid", "readable"])


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress | None):
    if progress:
        progress(stage, "")
    start = time.perf_counter()
    yield
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def load_profiles(config: Config) -> dict[str, Profile | None]:
    return {a.name: load_profile(config.root, a.profile) if a.profile else None for a in config.agencies}


def read_agency_files(jobs: list[tuple[Path, object, str]], profiles: dict[str, Profile | None], config: Config,
                      done: Callable[[str, FileRead], None] | None = None) -> list[FileRead]:
    """Read every (path, agency, rel) in `jobs`; results in the same order.

    The largest file goes first: when it is a large workbook a contained
    worker reads it while this process reads the other files, then scans its
    XML (one worker at a time: two cores, and memory for one large frame).
    """
    from att_report.intake.untrusted import begin_read

    order = sorted(range(len(jobs)), key=lambda i: (-_size(jobs[i][0]), i))
    reads: list[FileRead | None] = [None] * len(jobs)
    pending: tuple[int, Callable[[], FileRead]] | None = None
    for position, i in enumerate(order):
        path, agency, rel = jobs[i]
        finish = begin_read(path, agency, rel, profile=profiles[agency.name], limits=config.limits,
                            worker=position == 0)
        if position == 0:
            pending = (i, finish)
            continue
        reads[i] = finish()
        if done:
            done(rel, reads[i])
    if pending is not None:
        i, finish = pending
        reads[i] = finish()
        if done:
            done(jobs[i][2], reads[i])
    assert all(r is not None for r in reads), "a file was not read"
    return reads  # type: ignore[return-value]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def run_intake(config: Config, progress: Progress | None = None, *, keep_tables: bool = True) -> IntakeResult:
    """Read every agency file, normalise and validate. Never drops a row.

    `keep_tables=False` lets the raw tables go once validated (a build needs
    only the records: at 1M rows that frees a few hundred MB for reconcile).
    """
    from att_report.workspace import discover_files, relative_path

    timings: dict[str, float] = {}
    profiles = load_profiles(config)
    found = discover_files(config)
    jobs: list[tuple[Path, object, str]] = []
    file_findings: list[Finding] = []
    with _timed(timings, "read", progress):
        for agency in config.agencies:
            paths = found.get(agency.name, [])
            if not paths:
                file_findings.append(Finding(
                    Severity.WARNING, "no-files",
                    f"No file matched this agency's patterns ({', '.join(agency.files)}). Put its files in the "
                    "workspace or correct 'files' in att-report.toml.", agency=agency.name).with_id(agency.name))
            jobs += [(path, agency, relative_path(config, path)) for path in paths]

        def done(rel: str, read: FileRead) -> None:
            if progress:
                progress("read", f"{rel}: {read.info.rows_read} rows, {len(read.findings)} file findings")

        reads = read_agency_files(jobs, profiles, config, done)
    tables = [t for r in reads for t in r.tables]
    file_findings += [f for r in reads for f in r.findings]
    with _timed(timings, "normalise", progress):
        agencies = {a.name: a for a in config.agencies}
        records = normalise(raw_frame(tables, profiles), agencies, profiles)
    with _timed(timings, "validate", progress):
        records, findings = validate_records(records, tables, config)
        # the raw text and parse statuses served the intake rules; later stages need only the contract
        records = records[list(RECORD_COLUMNS)]
    findings = fnd.concat([fnd.to_frame(file_findings), findings])
    findings = fnd.sort_frame(fnd.cap_per_file_and_code(findings, config.limits.max_findings_per_code))
    files = [r.info for r in reads]
    return IntakeResult(records=records, findings=findings, files=files, tables=tables if keep_tables else [],
                        timings=timings)


@dataclass
class ValidateResult:
    intake: IntakeResult
    findings_csv: Path
    feedback: list[Path]


def run_validate(config: Config, out_dir: Path, progress: Progress | None = None) -> ValidateResult:
    """Intake + validation outputs: validation_findings.csv and a feedback workbook per agency."""
    from att_report.coordination.runstate import write_run_state
    from att_report.render.atomic import atomic_outputs
    from att_report.render.feedback import write_feedback

    intake = run_intake(config, progress)
    feedback: list[Path] = []
    with atomic_outputs(out_dir) as staging:
        fnd.write_csv(intake.findings, staging / "validation_findings.csv", fnd.FINDING_FIELDS)
        (staging / "feedback").mkdir()
        for agency in config.agencies:
            tables = [t for t in intake.tables if t.agency == agency.name]
            mine = intake.findings[intake.findings["agency"] == agency.name]
            name = f"feedback/{agency.slug}.xlsx"
            write_feedback(staging / name, agency.name, tables, mine)
            feedback.append(out_dir / name)
    write_run_state(config, kind="validate", files=intake.files, findings=intake.findings)
    return ValidateResult(intake=intake, findings_csv=out_dir / "validation_findings.csv", feedback=feedback)


@dataclass
class BuildResult:
    intake: IntakeResult
    records: pd.DataFrame
    findings: pd.DataFrame
    model: object
    manifest: dict
    outputs: list[Path]
    unresolved_errors: int
    timings: dict[str, float]


def run_build(config: Config, out_dir: Path, progress: Progress | None = None) -> BuildResult:
    """The whole pipeline; outputs are written atomically (all or none)."""
    from att_report.compile import compile_report
    from att_report.coordination.procedure import write_procedure
    from att_report.coordination.runstate import write_run_state
    from att_report.reconcile import finalize_findings, load_decisions, reconcile, unresolved_errors
    from att_report.records import check_dispositions
    from att_report.render.atomic import atomic_outputs
    from att_report.render.html import summary_filename, write_summary
    from att_report.render.log import log_names, write_log_csv, write_log_xlsx
    from att_report.render.manifest import accounting_table, build_manifest, write_manifest
    from att_report.render.report_xlsx import report_filename, write_report

    intake = run_intake(config, progress, keep_tables=False)
    timings = dict(intake.timings)
    decisions = load_decisions(config.root / "decisions.csv", display="decisions.csv")
    with _timed(timings, "reconcile", progress):
        rec = reconcile(intake.records, config, decisions, intake_findings=intake.findings)
        findings = finalize_findings(intake.findings, rec, decisions)
    with _timed(timings, "compile", progress):
        compiled = compile_report(rec.records, config, draft=unresolved_errors(findings) > 0)
        findings = finalize_findings(fnd.concat([intake.findings, compiled.findings]), rec, decisions)
        unresolved = unresolved_errors(findings)
        records = compiled.records
        check_dispositions(records)
        accounting = accounting_table(records)
        model = compiled.model
        if unresolved and not model.cover.draft:
            # an error found after compile (e.g. its own) still makes the report a draft
            model = dataclasses.replace(model, cover=dataclasses.replace(model.cover, draft=True))
    outputs: list[Path] = []
    with _timed(timings, "render", progress):
        with atomic_outputs(out_dir) as staging:
            report = staging / report_filename(model)
            write_report(report, model)
            log_xlsx, log_csv = log_names(config.year)
            write_log_xlsx(staging / log_xlsx, findings, accounting, config.year)
            write_log_csv(findings, staging / log_csv)
            write_summary(staging / summary_filename(model), model, findings, accounting)
            if config.unroca:
                from att_report.render.unroca import unroca_filename, write_unroca

                write_unroca(staging / unroca_filename(model), model)
            write_procedure(config, staging)
            produced = sorted(p for p in staging.rglob("*") if p.is_file() and not p.name.startswith("."))
            manifest = build_manifest(config, intake.files, records, produced, staging,
                                      extra={"unresolved_errors": int(unresolved)}, accounting=accounting)
            write_manifest(staging / "manifest.json", manifest)
            outputs = [out_dir / p.relative_to(staging) for p in produced] + [out_dir / "manifest.json"]
    write_run_state(config, kind="build", files=intake.files, findings=findings)
    return BuildResult(intake=intake, records=records, findings=findings, model=model, manifest=manifest,
                       outputs=outputs, unresolved_errors=int(unresolved), timings=timings)
