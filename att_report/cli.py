"""The `att-report` command.

Exit codes (every command): 0 clean; 1 done, but errors need attention
(error findings, unresolved errors, agencies not delivered); 2 could not run
(bad config, missing workspace, internal error). A Python traceback is never
shown for bad data; `--debug` shows one for an internal error.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console

from att_report import __version__
from att_report.config import ConfigError, load_config
from att_report.runtime import set_process_defaults

EXIT_OK, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2
DEFAULT_STATE = "NZL"  # a placeholder `init` writes when no --state is given; the NPC edits it

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compile a State's Arms Trade Treaty annual report (Art. 13(3)) from agency spreadsheets.")
# markup off: messages carry users' text (file names, values, "[report]"), never style tags
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
_DEBUG = {"on": False}
_STARTED = time.perf_counter()

# parameters several commands share (one declaration, one help text)
WORKSPACE = typer.Argument(..., help="The workspace folder (holds att-report.toml).")
OUT_DIR = typer.Option(None, "--out", help="Output folder (default WORKSPACE/out).")
QUIET = typer.Option(False, "--quiet", "-q", help="Print only the summary.")


def _version(value: bool) -> None:
    if value:
        out.print(f"att-report {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback for internal errors."),
) -> None:
    _DEBUG["on"] = debug


def _run(func) -> None:
    """Run a command body; user-facing problems become messages and exit codes."""
    try:
        code = func()
    except typer.Exit:
        raise
    except ConfigError as exc:
        err.print(f"Cannot run: {exc}", style="bold red")
        raise typer.Exit(EXIT_CANNOT_RUN)
    except KeyboardInterrupt:
        err.print("Interrupted; previous outputs were left as they were.")
        raise typer.Exit(EXIT_CANNOT_RUN)
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        # imported here: records imports pandas, which a command must not wait for before it starts
        from att_report.records import AccountingError

        if isinstance(exc, AccountingError):
            err.print(f"Internal error: the row accounting does not add up. {exc}\n"
                      "Nothing was published. Please report this with the manifest of the last good build.",
                      style="bold red")
            raise typer.Exit(EXIT_CANNOT_RUN)
        if _DEBUG["on"]:
            raise
        command = shlex.join(["att-report", "--debug", *sys.argv[1:]]) if "--debug" not in sys.argv else None
        err.print(f"Internal error: {type(exc).__name__}: {exc}\n"
                  "This is a bug in att-report, not in your data. "
                  + (f"Run it again as `{command}` and report what it shows." if command else "Please report it."),
                  style="bold red")
        raise typer.Exit(EXIT_CANNOT_RUN)
    raise typer.Exit(code)


def _progress(quiet: bool):
    """Progress per stage and per file on a terminal (stderr); nothing when quiet or piped."""
    if quiet or not err.is_terminal:
        return None
    started = time.perf_counter()

    def report(stage: str, detail: str) -> None:
        clock = f"{time.perf_counter() - started:6.1f}s"
        err.print(f"{clock} {stage} {detail}" if detail else f"{clock} {stage}...", style="dim")

    return report


@app.command()
def init(
    workspace: Path = typer.Argument(..., help="Folder to create the workspace in."),
    state: Optional[str] = typer.Option(None, help="Reporting State (ISO 3166 alpha-3, alpha-2 or name)."),
    year: Optional[int] = typer.Option(None, help="Calendar year reported (default: last year)."),
    force: bool = typer.Option(False, help="Overwrite an existing att-report.toml."),
) -> None:
    """Create a workspace: att-report.toml, inputs/ per agency, blank intake templates."""
    def body() -> int:
        from att_report.workspace import init_workspace

        created = init_workspace(workspace, state=state or DEFAULT_STATE, year=year or dt.date.today().year - 1,
                                 force=force)
        out.print(f"Workspace created in {workspace}:")
        for path in created:
            out.print(f"  {path}")
        if not state:
            out.print(f"No --state given: the reporting State is set to {DEFAULT_STATE}. Edit [report] state "
                      "in att-report.toml.", style="bold")
        out.print("Send each agency its template from templates/, put the returned files in inputs/<agency>/, "
                  f"then run: att-report validate {workspace}")
        return EXIT_OK
    _run(body)


_BATCH_GC_THRESHOLD = (50_000, 20, 10)


@contextmanager
def _gc_for_a_batch():
    """Python's cycle collector, set for one large batch job while the command runs.

    A build allocates millions of short-lived objects; by default the
    collector runs every 700 allocations and rescans every loaded module's
    objects: about 500 collections and 1 s at 1M rows (0.8 s at 100k; issue
    7). What is loaded by now (modules) is frozen out of its scans, and it
    runs every 50,000 allocations: reference counting still frees nearly
    everything at once, and cycles are still collected. Restored afterwards.
    """
    import gc

    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*_BATCH_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


#: glibc's mallopt parameters (malloc.h) and the values a batch sets: large blocks from the heap, kept
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8
_BATCH_MALLOPT = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: (1 << 31) - 1, _M_TOP_PAD: 256 << 20,
                  _M_ARENA_MAX: 2}


def _allocators_for_a_batch() -> bool:
    """Keep freed memory in this process for the next allocation instead of handing it back at once.

    A build frees and allocates column-sized blocks (8-200 MB) all the time;
    by default glibc unmaps each large block when freed and pyarrow's
    mimalloc decommits freed pages after 10 ms, so every new column faults
    its pages in again (costly on a virtual machine). Measured at 1M rows
    (issue 7): 350,000 page faults become 140,000, the stages after the read
    take about 0.4 s less, and the peak memory grows by about 200 MB. Two
    arenas (one per core) instead of glibc's eight per core: memory a thread
    freed (normalise's and the rules' threads, two reading lanes) serves the
    next thread's blocks instead of lying in an arena of its own; peak memory
    ~100 MB less at 1M rows (~150 MB with monthly workbooks), same times.

    Call before pyarrow loads (mimalloc reads its options then) and after the
    fork server started (its workers keep the defaults). A setting the user
    made in the environment is kept. False where glibc cannot be tuned.
    """
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")  # never decommit: the process ends soon anyway
    if (not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ)
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "")):
        return False
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(param, value) == 1 for param, value in _BATCH_MALLOPT.items())


def _start_worker_server() -> None:
    """Start the reader workers' fork server first thing: it loads its modules on another core meanwhile."""
    from att_report.intake import worker_server

    worker_server.warm()


def _head_start(config):
    """The largest workbook's reader worker, started before this process loads the pipeline (`headstart`)."""
    from att_report.intake.headstart import head_start

    return head_start(config)


def _write_timings(path: Path, result) -> None:
    """The build's own measurements as JSON (bench/run.py reads them)."""
    import json
    import resource

    from att_report.intake import safety

    usage = resource.getrusage(resource.RUSAGE_SELF)
    data = {"since_start_s": time.perf_counter() - _STARTED, "stages_s": result.timings,
            "stages_cpu_s": result.cpu_timings, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024, "worker": dict(safety.WORKER_USAGE),
            "unresolved_errors": result.unresolved_errors, "totals": result.manifest["totals"]}
    try:
        Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")
    except OSError as exc:
        err.print(f"Could not write the timings to {path}: {exc.strerror or exc}", style="bold red")


def _print_intake_summary(intake) -> None:
    from rich.table import Table

    counts = intake.file_counts()
    findings = intake.findings
    table = Table(title="Intake", show_lines=False)
    for col in ("agency", "file", "rows read", "valid", "invalid", "errors", "warnings"):
        table.add_column(col, justify="right" if col not in ("agency", "file") else "left")
    by_file = findings.groupby(["file", "severity"]).size() if not findings.empty else {}
    for r in counts.itertuples(index=False):
        e = int(by_file.get((r.file, "error"), 0)) if len(by_file) else 0
        w = int(by_file.get((r.file, "warning"), 0)) if len(by_file) else 0
        table.add_row(r.agency, r.file + ("" if r.readable else "  (unreadable)"), str(r.rows_read), str(r.valid),
                      str(r.invalid), str(e), str(w))
    out.print(table)
    per_agency = findings.groupby(["agency", "severity"]).size() if not findings.empty else {}
    for agency in dict.fromkeys(list(counts["agency"]) + list(findings["agency"].unique() if not findings.empty else [])):
        if not agency:
            continue
        n_files = int((counts["agency"] == agency).sum())
        rows = int(counts.loc[counts["agency"] == agency, "rows_read"].sum())
        e = int(per_agency.get((agency, "error"), 0)) if len(per_agency) else 0
        w = int(per_agency.get((agency, "warning"), 0)) if len(per_agency) else 0
        out.print(f"{agency}: {n_files} file(s), {rows} rows, {e} errors, {w} warnings")
    total = len(intake.records)
    valid = int(intake.records["valid"].sum()) if total else 0
    out.print(f"Rows read: {total} = {valid} valid + {total - valid} invalid")


@app.command()
def validate(
    workspace: Path = WORKSPACE,
    out_dir: Optional[Path] = OUT_DIR,
    quiet: bool = QUIET,
) -> None:
    """Read and check every agency file; write findings and per-agency feedback workbooks."""
    def body() -> int:
        _start_worker_server()
        _allocators_for_a_batch()
        config = load_config(workspace)
        with _head_start(config) as early:
            from att_report.pipeline import run_validate

            with _gc_for_a_batch():
                result = run_validate(config, out_dir or config.out_dir, progress=_progress(quiet), early=early)
        _print_intake_summary(result.intake)
        out.print(f"Findings: {result.findings_csv}")
        for path in result.feedback:
            out.print(f"Feedback: {path}")
        errors = int((result.intake.findings["severity"] == "error").sum())
        return EXIT_FINDINGS if errors else EXIT_OK
    _run(body)


@app.command()
def build(
    workspace: Path = WORKSPACE,
    out_dir: Optional[Path] = OUT_DIR,
    quiet: bool = QUIET,
    timings: Optional[Path] = typer.Option(
        None, "--timings", help="Also write each stage's wall and CPU seconds and the peak memory to this JSON "
                                "file (for benchmarks; see bench/README.md)."),
) -> None:
    """Validate, reconcile and compile; write the report, discrepancy log, summary and manifest."""
    def body() -> int:
        _start_worker_server()
        _allocators_for_a_batch()
        config = load_config(workspace)
        with _head_start(config) as early:
            from att_report.pipeline import run_build

            with _gc_for_a_batch():
                result = run_build(config, out_dir or config.out_dir, progress=_progress(quiet), early=early)
        if timings is not None:
            _write_timings(timings, result)
        _print_intake_summary(result.intake)
        totals = result.manifest["totals"]
        out.print("Row accounting: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
        for path in result.outputs:
            out.print(f"Wrote {path}")
        if result.unresolved_errors:
            out.print(f"{result.unresolved_errors} unresolved error(s): the report is marked DRAFT. "
                      "Fix the data or record a decision in decisions.csv (see the discrepancy log).")
            return EXIT_FINDINGS
        return EXIT_OK
    _run(body)


@app.command()
def status(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
    today: Optional[str] = typer.Option(None, help="Date to compute the status for (YYYY-MM-DD; default today)."),
) -> None:
    """Per agency: due date, files received, rows and findings at the last run, changes since."""
    def body() -> int:
        from att_report.coordination.status import compute_status, render_status_text, write_status_csv

        config = load_config(workspace)
        try:
            day = dt.date.fromisoformat(today) if today else None
        except ValueError:
            raise ConfigError(f"--today must be a date written as YYYY-MM-DD, not {today!r}.") from None
        report = compute_status(config, today=day)
        out.print(render_status_text(report))
        path = write_status_csv(report, config.out_dir / "status.csv")
        out.print(f"Wrote {path}")
        return report.exit_code
    _run(body)


@app.command()
def procedure(
    workspace: Path = typer.Argument(..., help="The workspace folder."),
) -> None:
    """Write the national reporting-procedure document (Markdown and HTML)."""
    def body() -> int:
        from att_report.coordination.procedure import write_procedure

        config = load_config(workspace)
        for path in write_procedure(config, config.out_dir):
            out.print(f"Wrote {path}")
        return EXIT_OK
    _run(body)


@app.command("rules")
def list_rules() -> None:
    """List the rule catalogue: code, severity, stage and what each rule enforces."""
    def body() -> int:
        from att_report.rules import OTHER_CODES, RULES, load_all_rules

        load_all_rules()
        for r in sorted(RULES.values(), key=lambda r: (r.stage, r.code)):
            out.print(f"{r.code} ({r.severity}, {r.stage}): {r.title}")
        out.print("Findings about files, sheets, cells and decisions (not rules):")
        for code, title in sorted(OTHER_CODES.items()):
            out.print(f"{code}: {title}")
        return EXIT_OK
    _run(body)


# the compare and mirror commands live in their own module (issue 6)
import att_report.cli_compare  # noqa: E402,F401


def main() -> None:
    # rich wraps at the terminal width; keep plain output when piped
    os.environ.setdefault("COLUMNS", "200") if not sys.stdout.isatty() else None
    set_process_defaults()  # before numpy and pyarrow load (already done when entered by __main__)
    import gc

    gc.set_threshold(*_BATCH_GC_THRESHOLD)  # from the first import on: see _gc_for_a_batch
    try:
        app()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(EXIT_OK)


def _leave(code: object) -> NoReturn:
    """End the process now that every output is written, closed and renamed into place.

    The interpreter's own exit would first free every object of the run one
    by one: about a second after a 1M-row build (issue 7). Nothing is left to
    do at exit (outputs are published atomically, temporary folders removed,
    the reader worker has finished), so only the console streams are flushed.
    """
    if code is None:
        code = EXIT_OK
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = EXIT_CANNOT_RUN
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
