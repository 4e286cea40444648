"""The rule catalogue (after Arelle's validation plugins).

One rule = one small function registered with `@rule(code, severity, stage)`.
Its docstring's first line says what it checks; the rest cites what it
enforces (ATT article, template note, good practice). A rule takes the
records frame (and a context) and returns a findings frame
(`att_report.findings.LOG_FIELDS`); it never removes rows.

Stages: "intake" (validate/), "reconcile" (reconcile/), "compile" (compile/).
A test enforces the convention: every `rule_*` function is registered, has
a docstring with a citation, and has a passing and a failing fixture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from att_report import findings as fnd
from att_report.findings import Severity

STAGES = ("intake", "reconcile", "compile", "compare")


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    stage: str
    func: Callable[..., pd.DataFrame]

    @property
    def title(self) -> str:
        return (self.func.__doc__ or "").strip().splitlines()[0]

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()


@dataclass
class RuleContext:
    """What rules may need beyond the records: the config and stage products."""
    config: Any
    extra: dict[str, Any] = field(default_factory=dict)


RULES: dict[str, Rule] = {}


def rule(code: str, severity: Severity | str, stage: str):
    """Register a rule function under a stable kebab-case code."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")

    def register(func):
        known = RULES.get(code)
        if known and (known.func.__module__, known.func.__qualname__) != (func.__module__, func.__qualname__):
            # two rules under one code would silently replace each other
            raise ValueError(f"rule code {code!r} is registered by {known.func.__module__} and {func.__module__}")
        RULES[code] = Rule(code, Severity(severity), stage, func)
        func.rule_code = code
        func.severity = Severity(severity)
        return func

    return register


def rules_for(stage: str) -> list[Rule]:
    return [r for r in RULES.values() if r.stage == stage]


#: threads for a stage's rules (None: att_report.threads.THREADS)
RULE_THREADS: int | None = None


def run_rules(stage: str, records: pd.DataFrame, ctx: RuleContext, *, threads: int | None = None) -> pd.DataFrame:
    """Run every rule of a stage; concatenate findings in registration order."""
    return run_rule_list(rules_for(stage), records, ctx, threads=threads)


def run_rule_list(chosen: list[Rule], records: pd.DataFrame, ctx: RuleContext, *,
                  threads: int | None = None) -> pd.DataFrame:
    """Run `chosen` rules in threads (`att_report.threads`); findings in the list's order.

    Rules must not change `records`, and what they keep in `ctx.extra` must be
    caches any rule may fill (the same whichever fills it first): then the
    result is the same whatever the threads' timing.
    """
    from att_report.threads import run_all

    found = run_all([(r.func, (records, ctx)) for r in chosen], threads if threads is not None else RULE_THREADS,
                    name="att-report-rules")
    return fnd.concat(found)


def emit(
    rows: pd.DataFrame,
    code: str,
    message: str | pd.Series,
    *,
    field: str = "",
    value: pd.Series | str = "",
    related: pd.Series | str = "",
    identity: tuple | None = None,
) -> pd.DataFrame:
    """Findings of a registered rule for the given rows (severity from the registry)."""
    return fnd.frame_for_rows(
        rows, code=code, severity=RULES[code].severity, message=message,
        field=field, value=value, related=related, identity=identity,
    )


def load_all_rules() -> dict[str, Rule]:
    """Import every stage module so all rules are registered; return the catalogue."""
    import att_report.compare  # noqa: F401
    import att_report.compile  # noqa: F401
    import att_report.reconcile  # noqa: F401
    import att_report.validate  # noqa: F401

    return RULES


#: Findings that are not rules: what the readers, the preflight and the
#: decisions file report about files, sheets and cells. Code -> what it means.
OTHER_CODES: dict[str, str] = {
    "file-unreadable": "A file could not be read (damaged, or the reader stopped); the other files are read.",
    "file-not-spreadsheet": "A file is not a spreadsheet or csv (e.g. an HTML page or PDF named .xlsx).",
    "file-wrong-extension": "A file's contents do not match its extension.",
    "file-empty": "A file is empty.",
    "file-truncated": "A file is damaged or incomplete (cut short in transfer).",
    "file-encrypted": "A workbook is protected with a password.",
    "file-legacy-xls": "An Excel 97-2003 .xls workbook: save it as .xlsx.",
    "zip-bomb": "A file would expand to an unsafe size; not read.",
    "xml-entities": "A workbook part declares XML entities (an attack pattern); not read.",
    "macros-ignored": "Macros in a workbook were ignored (never run, never copied).",
    "external-links-ignored": "Links to other workbooks were ignored.",
    "dde-ignored": "A DDE link or formula was ignored (never run).",
    "sheet-too-large": "A sheet claims more cells than is safe to read.",
    "sheet-hidden": "A hidden sheet was read.",
    "rows-hidden": "Hidden rows were read.",
    "empty-rows-ignored": "Formatted empty rows at a sheet's end were ignored.",
    "sheet-missing": "A sheet named in a profile is not in the file.",
    "sheet-empty": "A sheet or file has no rows.",
    "no-header-found": "No header row with the intake columns was found; the sheet was not read.",
    "no-files": "No file matched an agency's file patterns.",
    "unknown-column": "A column that is not an intake column was kept but not used.",
    "duplicate-header": "A header appears twice; only the first column is used.",
    "column-without-header": "A column has data but no header.",
    "blank-rows-skipped": "Blank rows below the header were skipped.",
    "cell-error": "A cell holds an error (#N/A, #DIV/0!...) instead of a value.",
    "formula-no-value": "A cell holds a formula with no saved result.",
    "merged-cells": "Merged cells over data leave cells blank.",
    "text-undecodable": "A csv line has bytes that are not valid text in the expected encoding.",
    "csv-short-row": "A csv line has fewer fields than the header.",
    "csv-extra-fields": "A csv line has more fields than the header.",
    "identifier-as-number": "An identifier was stored as a number (leading zeros may be lost).",
    "identifier-precision-lost": "An identifier of more than 15 digits was stored as a number (already corrupted).",
    "cell-problem": "A cell could not be read as written.",
    "findings-capped": "More findings of one code in one file than are listed.",
    "decision-stale": "A decision refers to a finding that no longer occurs.",
    "decision-not-applicable": "A decision cannot apply (e.g. to an invalid row, or a whole file).",
}


def code_title(code: str) -> str:
    """What a finding code means, for logs and summaries."""
    if code in RULES:
        return RULES[code].title
    return OTHER_CODES.get(code, "")
