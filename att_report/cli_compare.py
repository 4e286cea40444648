"""The `compare` and `mirror` commands (registered on att_report.cli.app when imported).

Both need this year's compiled report. They run the build pipeline
(`run_build`, the same as `att-report build`: the report, log, summary and
manifest in out/ are refreshed, so the comparison can never be made against
a stale workbook), compare the compiled model in memory, then add their
workbook (`comparison_<YEAR>.xlsx` / `mirror_<YEAR>.xlsx`) to out/ and their
section to `summary_<YEAR>.html`, updating manifest.json; all atomically.

Exit codes as every command: 0 no finding; 1 findings to look at (or the
report is a DRAFT); 2 could not run (bad workspace, unreadable report...).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from att_report.cli import EXIT_FINDINGS, EXIT_OK, OUT_DIR, QUIET, WORKSPACE, _progress, _run, app, out
from att_report.config import ConfigError, load_config

MAX_PRINTED = 20


def _print_findings(findings, what: str) -> None:
    if findings.empty:
        out.print(f"{what}: no findings.")
        return
    out.print(f"{what}: {len(findings)} finding(s) to explain in the comments or correct:", style="bold")
    for r in findings.head(MAX_PRINTED).itertuples(index=False):
        out.print(f"  [{r.severity}] {r.code}: {r.message}")
    if len(findings) > MAX_PRINTED:
        out.print(f"  ... {len(findings) - MAX_PRINTED} more in the workbook's Findings sheet.")


def _exit_code(findings, build) -> int:
    if build.unresolved_errors:
        out.print(f"Note: {build.unresolved_errors} unresolved error(s) in this year's data: the report is a DRAFT "
                  "(see the discrepancy log); the comparison uses the draft figures.")
    return EXIT_FINDINGS if (not findings.empty or build.unresolved_errors) else EXIT_OK


@app.command()
def compare(
    workspace: Path = WORKSPACE,
    previous: Path = typer.Option(..., "--previous", help="Last year's report workbook produced by att-report "
                                  "(ATT_annual_report_<STATE>_<YEAR>.xlsx), or the folder holding it and its "
                                  "manifest.json."),
    out_dir: Optional[Path] = OUT_DIR,
    quiet: bool = QUIET,
) -> None:
    """Compare this year's report with last year's: comparison_<YEAR>.xlsx and a section in the summary."""
    def body() -> int:
        from att_report.compare import CompareError, compare_years, find_previous_report, publish_after_build
        from att_report.compare.sections import comparison_section
        from att_report.compare.yoy import comparison_filename
        from att_report.pipeline import run_build
        from att_report.render.comparison_xlsx import write_comparison
        from att_report.render.readback import ReadBackError, read_report

        config = load_config(workspace)
        target = out_dir or config.out_dir
        try:
            path = find_previous_report(previous, config.state, config.year)
            last_year = read_report(path)
        except (CompareError, ReadBackError) as exc:
            raise ConfigError(str(exc)) from None
        build = run_build(config, target, progress=_progress(quiet))
        try:
            comparison = compare_years(build.model, last_year, config)
        except CompareError as exc:
            raise ConfigError(str(exc)) from None
        name = comparison_filename(comparison.year)
        written = publish_after_build(build, target, {name: lambda p: write_comparison(p, comparison)},
                                      [comparison_section(comparison, name)])
        rows = comparison.rows
        out.print(f"Compared {comparison.previous_source} ({comparison.previous_year}) with this year's report "
                  f"({comparison.year}): {len(rows)} line(s) by table, category and partner State; "
                  f"{int((rows['status'] != 'unchanged').sum())} changed, new or vanished.")
        for note in comparison.notes:
            out.print(f"Note: {note}")
        _print_findings(comparison.findings, "Year-on-year")
        for p in written:
            out.print(f"Wrote {p}")
        return _exit_code(comparison.findings, build)
    _run(body)


@app.command()
def mirror(
    workspace: Path = WORKSPACE,
    partner_reports: List[Path] = typer.Argument(..., help="Partner States' reports: att-report workbooks, or "
                                                 "plain tables (.csv/.xlsx) with the report template's columns."),
    out_dir: Optional[Path] = OUT_DIR,
    quiet: bool = QUIET,
) -> None:
    """Mirror check: our exports/imports per partner and category against the partners' own reports."""
    def body() -> int:
        from att_report.compare import MirrorError, mirror_check, publish_after_build, read_partner_report
        from att_report.compare.mirror import mirror_filename
        from att_report.compare.sections import mirror_section
        from att_report.pipeline import run_build
        from att_report.render.comparison_xlsx import write_mirror

        config = load_config(workspace)
        target = out_dir or config.out_dir
        try:
            partners = [read_partner_report(p) for p in partner_reports]
        except MirrorError as exc:
            raise ConfigError(str(exc)) from None
        build = run_build(config, target, progress=_progress(quiet))
        result = mirror_check(build.model, partners, config)
        name = mirror_filename(result.year)
        written = publish_after_build(build, target, {name: lambda p: write_mirror(p, result)},
                                      [mirror_section(result, name)])
        counts = result.rows["status"].value_counts()
        out.print(f"Mirror check against {len(result.partners)} partner report(s): {len(result.rows)} comparison(s); "
                  + ", ".join(f"{k} {int(v)}" for k, v in sorted(counts.items())) + ".")
        for note in result.notes:
            out.print(f"Note: {note}")
        _print_findings(result.findings, "Mirror check")
        for p in written:
            out.print(f"Wrote {p}")
        return _exit_code(result.findings, build)
    _run(body)
