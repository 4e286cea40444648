"""The reconcile rules run in threads (issue 7): the result is the one a single thread gives.

Each rule reads the shared records and its context's lazily filled caches
(links, bucket totals, HS facts) and returns its own findings, joined in
the catalogue's order. Compared here on a generated workspace with every
kind of planted problem, several times over (thread timing differs).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

import att_report.reconcile as reconcile_stage
from att_report.config import load_config
from att_report.pipeline import run_intake
from att_report.reconcile import load_decisions

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def intake(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("bench_generate_threads", BENCH / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generate
    spec.loader.exec_module(generate)
    ws = tmp_path_factory.mktemp("threads")
    generate.generate(3_000, ws, seed=11)
    config = load_config(ws)
    return config, run_intake(config)


def _reconcile(config, result, threads, monkeypatch):
    monkeypatch.setattr(reconcile_stage, "RULE_THREADS", threads)
    decisions = load_decisions(config.root / "decisions.csv", display="decisions.csv")
    return reconcile_stage.reconcile(result.records, config, decisions, intake_findings=result.findings)


def test_threaded_rules_give_the_single_thread_result(intake, monkeypatch):
    config, result = intake
    one = _reconcile(config, result, 1, monkeypatch)
    codes = set(one.findings["code"])
    # the workspace plants problems for the link, over-shipment and duplicate rules: the comparison bites
    assert {"licence-quantity-exceeded", "shipment-without-licence", "near-duplicate"} <= codes, codes
    for _ in range(3):
        many = _reconcile(config, result, 4, monkeypatch)
        pd.testing.assert_frame_equal(many.findings, one.findings, check_exact=True)
        pd.testing.assert_frame_equal(many.records, one.records, check_exact=True)


def test_a_failing_rule_fails_reconcile_and_leaves_no_thread(intake, monkeypatch):
    config, result = intake
    import dataclasses

    def broken(records, ctx):
        raise RuntimeError("rule broke")

    every = reconcile_stage.rules_for
    monkeypatch.setattr(reconcile_stage, "rules_for", lambda stage: [
        dataclasses.replace(r, func=broken) if r.code == "licence-value-exceeded" else r for r in every(stage)])
    with pytest.raises(RuntimeError, match="rule broke"):
        _reconcile(config, result, 2, monkeypatch)
    assert not [t for t in threading.enumerate() if t.name.startswith("att-report-rules")]
