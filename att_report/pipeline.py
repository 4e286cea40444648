"""Wire the stages: intake (read, normalise, validate) and the full build."""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd

from att_report import findings as fnd
from att_report.config import Config
from att_report.findings import Finding, Severity
from att_report.intake.profiles import Profile, load_profile
from att_report.intake.tables import FileInfo, RawTable
from att_report.schema import INTAKE_NAMES, RECORD_COLUMNS

if TYPE_CHECKING:
    from att_report.intake.readers import FileRead
    from att_report.intake.headstart import HeadStart

Progress = Callable[[str, str], None]  # (stage, detail)


@dataclass
class IntakeResult:
    records: pd.DataFrame
    findings: pd.DataFrame
    files: list[FileInfo]
    tables: list[RawTable]
    timings: dict[str, float] = field(default_factory=dict)
    #: CPU seconds of this process per stage (a reader worker's are in safety.WORKER_USAGE)
    cpu_timings: dict[str, float] = field(default_factory=dict)

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
def _timed(timings: dict[str, float], stage: str, progress: Progress | None,
           cpu: dict[str, float] | None = None):
    if progress:
        progress(stage, "")
    start, start_cpu = time.perf_counter(), time.process_time()
    yield
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
    if cpu is not None:
        cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - start_cpu


def load_profiles(config: Config) -> dict[str, Profile | None]:
    return {a.name: load_profile(config.root, a.profile) if a.profile else None for a in config.agencies}


def read_agency_files(jobs: list[tuple[Path, object, str]], profiles: dict[str, Profile | None], config: Config,
                      done: Callable[[str, FileRead], None] | None = None,
                      while_waiting: Callable[[Callable[[], bool]], None] | None = None,
                      early: "HeadStart | None" = None) -> list[FileRead]:
    """Read every (path, agency, rel) in `jobs`; results in the same order.

    The largest workbook goes first (`reading_order`): when it is large, a contained
    worker reads it while this process reads the other files, then scans its
    XML (one worker at a time: two cores, and memory for one large frame),
    then runs `while_waiting` (if the worker is still reading by then), with
    a function that says whether it still reads. When the other files weigh
    as much as the largest (e.g. monthly workbooks), they are read in two
    lanes instead (`_read_in_two_lanes`).
    A worker `early` started for the largest workbook is taken over (`headstart`).
    """
    from att_report.intake.headstart import reading_order
    from att_report.intake.untrusted import begin_read

    order = reading_order([path for path, _, _ in jobs])
    if _two_lanes_pay(jobs, order):
        return _read_in_two_lanes(jobs, order, profiles, config, done, while_waiting, early)
    reads: list[FileRead | None] = [None] * len(jobs)
    pending: tuple[int, Callable[[], FileRead]] | None = None
    for position, i in enumerate(order):
        path, agency, rel = jobs[i]
        finish = begin_read(path, agency, rel, profile=profiles[agency.name], limits=config.limits,
                            worker=position == 0, while_waiting=while_waiting if position == 0 else None,
                            early=early)
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


def _two_lanes_pay(jobs: list[tuple[Path, object, str]], order: list[int]) -> bool:
    """Whether the other files would keep this process reading longer than the worker reads the largest.

    One lane: a worker parses the largest workbook while this process scans
    its XML (about a fifth of the parse) and reads every other file, which costs
    about what parsing it in the worker would. So once the others weigh 3/4 of
    the largest (`read_weight`), this process is the slower lane and two lanes
    pay (`_read_in_two_lanes`). Below that the worker's parse is the read's
    length, and a second reading thread here would only take CPU from it
    (measured on the benchmark's workspace, whose licensing workbook is a
    tenth of the customs one: the read got ~2 s longer). Without a worker
    (no workbook that large) the same balance holds between two threads here,
    for files of `PARALLEL_SHEET_BYTES` in all.
    """
    from att_report.intake.headstart import PARALLEL_SHEET_BYTES, read_weight, worker_sized

    if len(order) < 2:
        return False
    weights = [read_weight(path) for path, _, _ in jobs]
    largest = worker_sized(jobs[order[0]][0])
    # no worker: two reading threads here, once the files are worth it (e.g. twenty workbooks just
    # under a worker's size: read stage 21-23 s -> 16-19 s for 1M rows)
    if not largest and sum(weights) < PARALLEL_SHEET_BYTES:
        return False
    others = sum(weights[i] for i in order[1:])
    return 4 * others >= 3 * (largest or weights[order[0]])


def _read_in_two_lanes(jobs: list[tuple[Path, object, str]], order: list[int], profiles: dict[str, Profile | None],
                       config: Config, done: Callable[[str, FileRead], None] | None,
                       while_waiting: Callable[[Callable[[], bool]], None] | None,
                       early: "HeadStart | None") -> list[FileRead]:
    """`read_agency_files` when the largest workbook is one for a reader worker and the others weigh as much.

    E.g. a customs office that sends a workbook a month (`_two_lanes_pay`). A
    second thread takes the files from the largest down: the first in the
    contained worker (the head start's, its XML scanned beside it, as in one
    lane), the next ones in this process, as this thread does from the
    smallest up (fastexcel parses without the GIL; a new worker per file would
    load pandas again, ~0.7 s of CPU each). The lanes meet in the middle, so
    both cores read until the last file instead of one worker beside a long
    queue here. Each file is read as in one lane; results keep the order of
    `jobs`.
    """
    import threading
    from collections import deque

    from att_report.intake.untrusted import begin_read

    queue = deque(order)
    lock = threading.Lock()
    stop = threading.Event()
    reads: list[FileRead | None] = [None] * len(jobs)
    failed: list[BaseException] = []

    def take(largest: bool) -> int | None:
        with lock:
            if not queue or stop.is_set():
                return None
            return queue.popleft() if largest else queue.pop()

    def read(i: int, worker: bool) -> None:
        path, agency, rel = jobs[i]
        reads[i] = begin_read(path, agency, rel, profile=profiles[agency.name], limits=config.limits,
                              worker=worker, early=early)()
        if done:
            with lock:
                done(rel, reads[i])

    def lane() -> None:
        try:
            worker = True
            while (i := take(largest=True)) is not None:
                read(i, worker=worker)
                worker = False
        except BaseException as exc:  # noqa: BLE001 - raised again by the reading thread
            failed.append(exc)

    thread = threading.Thread(target=lane, name="att-report-lane", daemon=True)
    thread.start()
    try:
        while (i := take(largest=False)) is not None:
            read(i, worker=False)
        if while_waiting is not None and thread.is_alive():
            while_waiting(thread.is_alive)
    except BaseException:
        stop.set()  # the lane takes no further file; its worker ends with this process
        raise
    thread.join()
    if failed:
        raise failed[0]
    assert all(r is not None for r in reads), "a file was not read"
    return reads  # type: ignore[return-value]


def run_intake(config: Config, progress: Progress | None = None, *, keep_tables: bool = True,
               early: "HeadStart | None" = None, while_reading: Callable[[], None] | None = None) -> IntakeResult:
    """Read every agency file, normalise and validate. Never drops a row.

    `keep_tables=False` lets the raw tables go once validated (a build needs
    only the records: at 1M rows that frees a few hundred MB for reconcile).
    `early`: the worker the command started before loading this module (`headstart`).
    `while_reading`: run after the later stages are warmed (`warm_later_stages`)
    if a reader worker still reads a large workbook by then.
    """
    from att_report.workspace import discover_files, relative_path

    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    profiles = load_profiles(config)
    found = discover_files(config)
    jobs: list[tuple[Path, object, str]] = []
    file_findings: list[Finding] = []
    with _timed(timings, "read", progress, cpu):
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
                n = len(read.findings)
                progress("read", f"{rel}: {read.info.rows_read:,} rows, {n:,} file finding{'' if n == 1 else 's'}")

        def while_waiting(reading: Callable[[], bool]) -> None:
            warm_later_stages(config, profiles, reading)
            if while_reading is not None and reading():
                while_reading()

        reads = read_agency_files(jobs, profiles, config, done, while_waiting=while_waiting, early=early)
    tables = [t for r in reads for t in r.tables]
    file_findings += [f for r in reads for f in r.findings]
    if progress:
        rows = sum(r.info.rows_read for r in reads)
        progress("read", f"done: {rows:,} rows from {len(reads)} file(s); findings so far: {len(file_findings):,}")
    from att_report.normalise.canonical import normalise, raw_frame
    from att_report.validate import validate_records

    with _timed(timings, "normalise", progress, cpu):
        agencies = {a.name: a for a in config.agencies}
        records = normalise(raw_frame(tables, profiles), agencies, profiles)
    with _timed(timings, "validate", progress, cpu):
        records, findings = validate_records(records, tables, config)
        # the raw text and parse statuses served the intake rules; later stages need only the contract
        records = records[list(RECORD_COLUMNS)]
    findings = fnd.concat([fnd.to_frame(file_findings), findings])
    if progress:
        valid = int(records["valid"].sum())
        progress("validate", f"done: {valid:,} valid, {len(records) - valid:,} invalid rows; "
                             f"findings so far: {len(findings):,}")
    findings = fnd.sort_frame(fnd.cap_per_file_and_code(findings, config.limits.max_findings_per_code))
    files = [r.info for r in reads]
    return IntakeResult(records=records, findings=findings, files=files, tables=tables if keep_tables else [],
                        timings=timings, cpu_timings=cpu)


#: one clean and one faulty made-up row for `warm_later_stages`
_WARM_ROWS = {
    "record_id": ["WARM-1", "WARM-2"], "flow": ["export", "exp?"], "basis": ["actual", "authorised"],
    "licence_no": ["EL-2000/01", "el 2000-01 "], "date": ["2000-01-15", "31/02/2000"],
    "valid_until": ["15/06/2000", "45000"], "partner_state": ["France", "Nowhereland"],
    "origin_state": ["", "NZ"], "intermediate_states": ["DEU; NLD", "Europe"], "category": ["II", "tanks?"],
    "hs_code": ["8710.00", "9301"], "quantity": ["1", "1,5"], "value": ["1000.50", "\uff11\uff10"],
    "currency": ["EUR", "dollars"], "description": ["Made-up row", " x "], "end_user": ["Armed forces", ""],
    "comments": ["", "\u200b"], "withheld": ["no", "maybe"],
}


def warm_later_stages(config: Config, profiles: dict[str, Profile | None],
                      still_reading: Callable[[], bool] = lambda: True) -> None:
    """Load now what the stages after the read load on first use, and discard the results.

    Called while a reader worker still reads a large workbook, so modules,
    lookup tables (country names in the UN languages, categories, currencies),
    the schema's checks and templates are ready when the data arrives instead
    of costing about two seconds after it (benchmark, issue 7). Normalise and
    validate run on two made-up rows (one clean, one faulty), which builds
    every table they build lazily whatever that is; nothing is kept but caches.
    Compile then runs on them too (its template and lookups: ~0.25 s off the
    compile stage at 1M rows), but only if the worker `still_reading`: on a
    smaller workbook, work the real compile would not save could outlast the
    read.
    """
    from att_report.normalise.canonical import normalise, raw_frame
    from att_report.validate import validate_records

    if config.agencies:
        agency = config.agencies[0]
        data = pd.DataFrame({name: pd.array(_WARM_ROWS[name], dtype="string") for name in INTAKE_NAMES})
        table = RawTable(agency=agency.name, role=agency.role, file="(warm-up)", sheet="", header_row=1,
                         data=data, excel_rows=[2, 3], field_columns={name: name for name in INTAKE_NAMES},
                         column_letters={name: name for name in INTAKE_NAMES})
        normalised = normalise(raw_frame([table], {agency.name: None}), {agency.name: agency}, {agency.name: None})
        records, _ = validate_records(normalised, [table], config)
        if still_reading():
            _warm_compile(records[list(RECORD_COLUMNS)], config)
    # the later stages' modules (pandas-heavy imports, XlsxWriter, Jinja) and their templates
    import att_report.compile  # noqa: F401
    import att_report.reconcile  # noqa: F401
    import att_report.render.html  # noqa: F401
    import att_report.render.log  # noqa: F401
    import att_report.render.report_xlsx  # noqa: F401
    from att_report.coordination.procedure import warm_templates
    from att_report.render.html import warm_summary_template

    warm_templates()
    warm_summary_template()


def _warm_compile(records: pd.DataFrame, config: Config) -> None:
    """Compile the warm-up rows (the report template, compile's lookups); the result is dropped.

    A configuration compile refuses (e.g. a currency without a rate) is reported by the real
    compile, not here.
    """
    from att_report.compile import compile_report

    try:
        compile_report(records, config, draft=True)
    except Exception:  # noqa: BLE001 - a warm-up only: the real compile meets and reports the same
        pass


@dataclass
class ValidateResult:
    intake: IntakeResult
    findings_csv: Path
    feedback: list[Path]


def run_validate(config: Config, out_dir: Path, progress: Progress | None = None, *,
                 early: "HeadStart | None" = None) -> ValidateResult:
    """Intake + validation outputs: validation_findings.csv and a feedback workbook per agency."""
    from att_report.coordination.runstate import write_run_state
    from att_report.render.atomic import atomic_outputs
    from att_report.render.feedback import write_feedback

    intake = run_intake(config, progress, early=early)
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
    cpu_timings: dict[str, float] = field(default_factory=dict)


#: A discrepancy log of at least this many findings is written by a second
#: process while this one writes the report: two cores for the two largest
#: outputs (1M rows, ~18k findings: about 1.5 s off the render stage). A small
#: log is not worth the process's start.
PARALLEL_LOG_FINDINGS = 5_000


def write_discrepancy_log(staging: Path, findings: pd.DataFrame, accounting: pd.DataFrame, year: int,
                          parts: tuple[str, ...] = ("xlsx", "csv")) -> None:
    """The discrepancy log, as a workbook and as CSV (`parts`), into `staging`."""
    from att_report.render.log import log_names, write_log_csv, write_log_xlsx

    log_xlsx, log_csv = log_names(year)
    if "xlsx" in parts:
        write_log_xlsx(staging / log_xlsx, findings, accounting, year)
    if "csv" in parts:
        write_log_csv(findings, staging / log_csv)


def _log_worker(jobs) -> None:
    """A contained worker that loads the log's writers, then writes the log workbook it is sent.

    Started before the findings are final (`_LogWriter.start`), so its imports
    (pandas, XlsxWriter: the fork server preloads neither) overlap the read's
    wait or reconcile and compile; `jobs` brings (staging, findings, accounting, year). Should the
    build fail first, the pipe closes and the worker is stopped (`cancel`).
    """
    from att_report.render import log  # noqa: F401 - loaded while waiting

    write_discrepancy_log(*jobs.recv(), ("xlsx",))


class _LogWriter:
    """Writes the discrepancy log beside the rest of the render, in a worker when it is large.

    The worker (the contained one readers use: memory and time limits) is
    started early (`start`): while a reader worker still reads a large
    workbook (this process waits then, and the log of so large an input is
    large), else when the intake alone has `PARALLEL_LOG_FINDINGS` findings;
    it writes the log workbook once sent the final findings
    (`write`); this process writes the CSV copy after the rest of the render,
    which evens out the two processes' work (issue 7). Should the worker fail
    for any reason, the workbook is written here instead: the outputs are the
    same bytes either way.
    """

    def __init__(self) -> None:
        self._job = None
        self._send = None
        self._args: tuple | None = None

    def start(self, config: Config) -> None:
        if self._job is not None:
            return
        from att_report.intake import safety
        from att_report.intake.worker_server import context

        try:
            receive, self._send = context().Pipe(duplex=False)
        except OSError:  # no pipe to be had (e.g. out of file descriptors): the log is written here
            return
        try:
            self._job = safety.start_contained(_log_worker, receive, limits=config.limits)
            # once the worker holds its end, this process lets go of it: should the worker die, sending
            # then fails at once instead of filling a pipe nobody reads
            self._job.wait_started()
        except (OSError, ValueError, RuntimeError):  # no worker to be had: the log is written here
            self._send.close()
            self._job = self._send = None
        finally:
            receive.close()

    def write(self, staging: Path, findings: pd.DataFrame, accounting: pd.DataFrame, config: Config) -> None:
        """Hand the log to the worker (started now if it is large and none was); else keep it for `finish`."""
        self._args = (staging, findings, accounting, config.year)
        if self._job is None and len(findings) >= PARALLEL_LOG_FINDINGS:
            self.start(config)
        if self._send is not None:
            try:
                self._send.send(self._args)
            except (OSError, ValueError):  # the worker is gone: `finish` writes the log here
                pass

    def finish(self) -> None:
        assert self._args is not None
        if self._job is None:
            write_discrepancy_log(*self._args)
            return
        from att_report.intake.safety import ReaderCrashed

        job, self._job = self._job, None
        write_discrepancy_log(*self._args, ("csv",))
        try:
            job.result()
        except ReaderCrashed:
            write_discrepancy_log(*self._args, ("xlsx",))  # e.g. out of the worker's memory: written here

    def cancel(self) -> None:
        if self._send is not None:
            self._send.close()
            self._send = None
        if self._job is not None:
            self._job.cancel()
            self._job = None


def run_build(config: Config, out_dir: Path, progress: Progress | None = None, *,
              early: "HeadStart | None" = None) -> BuildResult:
    """The whole pipeline; outputs are written atomically (all or none)."""
    log_writer = _LogWriter()
    try:
        # later stages' modules load after the read has started (or while a worker reads: see
        # warm_later_stages), and so does the log's worker, its imports then off the stages' path
        intake = run_intake(config, progress, keep_tables=False, early=early,
                            while_reading=lambda: log_writer.start(config))
        from att_report.reconcile import load_decisions

        timings = dict(intake.timings)
        cpu = dict(intake.cpu_timings)
        decisions = load_decisions(config.root / "decisions.csv", display="decisions.csv")
        if len(intake.findings) >= PARALLEL_LOG_FINDINGS:
            log_writer.start(config)  # its imports overlap reconcile and compile
        return _reconcile_to_render(config, out_dir, progress, intake, decisions, log_writer, timings, cpu)
    finally:
        log_writer.cancel()


def _reconcile_to_render(config: Config, out_dir: Path, progress: Progress | None, intake: IntakeResult,
                         decisions, log_writer: _LogWriter, timings: dict[str, float],
                         cpu: dict[str, float]) -> BuildResult:
    from att_report.compile import compile_report
    from att_report.coordination.procedure import write_procedure
    from att_report.coordination.runstate import write_run_state
    from att_report.reconcile import finalize_findings, reconcile, unresolved_errors, unresolved_so_far
    from att_report.records import check_dispositions
    from att_report.render.atomic import atomic_outputs
    from att_report.render.html import summary_filename, write_summary
    from att_report.render.manifest import accounting_table, build_manifest, write_manifest
    from att_report.render.report_xlsx import report_filename, write_report

    with _timed(timings, "reconcile", progress, cpu):
        rec = reconcile(intake.records, config, decisions, intake_findings=intake.findings)
        draft = unresolved_so_far(intake.findings, rec, decisions) > 0
    if progress:
        progress("reconcile", f"done; findings so far: {len(intake.findings) + len(rec.findings):,}")
    with _timed(timings, "compile", progress, cpu):
        compiled = compile_report(rec.records, config, draft=draft)
        findings = finalize_findings(fnd.concat([intake.findings, compiled.findings]), rec, decisions)
        unresolved = unresolved_errors(findings)
        # the outputs list at most `max_findings_per_code` per file and code, as the intake's, and say
        # what they leave out (a rule that fires on every row of 1M: a 360 MB log, seconds to write);
        # the count of unresolved errors, the exit code and the draft mark are of them all
        capped = fnd.cap_per_file_and_code(findings, config.limits.max_findings_per_code)
        findings = findings if capped is findings else fnd.sort_frame(capped)
        records = compiled.records
        check_dispositions(records)
        accounting = accounting_table(records)
        model = compiled.model
        if unresolved and not model.cover.draft:
            # an error found after compile (e.g. its own) still makes the report a draft
            model = dataclasses.replace(model, cover=dataclasses.replace(model.cover, draft=True))
    if progress:
        lines = model.exports.line_count + model.imports.line_count
        progress("compile", f"done: {lines:,} report lines; {len(findings):,} findings listed, "
                            f"{int(unresolved):,} unresolved error(s)")
    outputs: list[Path] = []
    with _timed(timings, "render", progress, cpu):
        with atomic_outputs(out_dir) as staging:
            log_writer.write(staging, findings, accounting, config)
            try:
                write_report(staging / report_filename(model), model)
                write_summary(staging / summary_filename(model), model, findings, accounting)
                if config.unroca:
                    from att_report.render.unroca import unroca_filename, write_unroca

                    write_unroca(staging / unroca_filename(model), model)
                write_procedure(config, staging)
                log_writer.finish()
            finally:
                log_writer.cancel()
            produced = sorted(p for p in staging.rglob("*") if p.is_file() and not p.name.startswith("."))
            manifest = build_manifest(config, intake.files, records, produced, staging,
                                      extra={"unresolved_errors": int(unresolved)}, accounting=accounting)
            write_manifest(staging / "manifest.json", manifest)
            outputs = [out_dir / p.relative_to(staging) for p in produced] + [out_dir / "manifest.json"]
    write_run_state(config, kind="build", files=intake.files, findings=findings)
    return BuildResult(intake=intake, records=records, findings=findings, model=model, manifest=manifest,
                       outputs=outputs, unresolved_errors=int(unresolved), timings=timings, cpu_timings=cpu)
