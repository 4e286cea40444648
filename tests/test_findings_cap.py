"""Every stage's findings are listed at most `max_findings_per_code` times per file and code (issue 7).

The intake's always were; reconciliation and compile findings too now (a
missing exchange rate flags every row of a 1M-row customs file). The log
says what it leaves out; the count of unresolved errors is of them all.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

from att_report import pipeline
from att_report.config import load_config
from att_report.rules import load_all_rules

SAMPLE = Path(__file__).resolve().parent.parent / "sample_inputs"


def _build(tmp_path: Path, limit: int | None):
    ws = tmp_path / f"ws-{limit}"
    shutil.copytree(SAMPLE, ws, ignore=shutil.ignore_patterns("out", ".att-report"))
    toml = (ws / "att-report.toml").read_text(encoding="utf-8")
    if limit is not None:
        toml += f"\n[limits]\nmax_findings_per_code = {limit}\n"
    (ws / "att-report.toml").write_text(toml, encoding="utf-8")
    result = pipeline.run_build(load_config(ws), tmp_path / f"out-{limit}")
    with open(next((tmp_path / f"out-{limit}").glob("discrepancy_log_*.csv")), newline="", encoding="utf-8") as fh:
        logged = list(csv.DictReader(fh))
    return result, logged


def test_reconcile_and_compile_findings_are_capped_per_file_and_code(tmp_path):
    full, full_log = _build(tmp_path, None)
    per = Counter((r["file"], r["code"]) for r in full_log if r["code"] != "findings-capped")
    rules = load_all_rules()
    repeated = {rules[code].stage for (_, code), n in per.items() if n > 1 and code in rules}
    assert {"reconcile", "compile"} <= repeated  # the sample repeats codes of the later stages too
    capped, capped_log = _build(tmp_path, 1)
    listed = Counter((r["file"], r["code"]) for r in capped_log if r["code"] != "findings-capped")
    assert max(listed.values()) == 1
    assert set(listed) == set(per)  # every kind of finding is still shown once
    for (file, code), n in per.items():
        if n > 1:
            note = [r for r in capped_log if r["code"] == "findings-capped" and r["file"] == file
                    and f"'{code}'" in r["message"]]
            assert note and note[0]["value"] == str(n - 1), (file, code)
    # what the report is and what the command says are of every finding, listed or not
    assert capped.unresolved_errors == full.unresolved_errors
    assert capped.model.cover.draft == full.model.cover.draft
    assert capped.manifest["totals"] == full.manifest["totals"]
