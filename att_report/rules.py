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


def run_rules(stage: str, records: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Run every rule of a stage, in registration order; concatenate findings."""
    return fnd.concat(r.func(records, ctx) for r in rules_for(stage))


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
