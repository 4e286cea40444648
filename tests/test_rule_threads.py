"""A stage's rules run in threads (issue 7): the result is the one a single thread gives.

Each rule reads the shared records and its context's lazily filled caches
(links, bucket totals, HS facts) and returns its own findings, joined in
the catalogue's order. Compared here for the intake, reconcile and compile
rules on a generated workspace with every kind of planted problem, several
times over (thread timing differs).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

import att_report.reconcile as reconcile_stage
import att_report.rules as rules_module
import att_report.threads as threads_module
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
    monkeypatch.setattr(rules_module, "RULE_THREADS", threads)
    monkeypatch.setattr(threads_module, "THREADS", threads)  # reconcile's key coding too
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


def test_threaded_intake_rules_give_the_single_thread_result(intake, monkeypatch):
    from att_report.normalise.canonical import normalise, raw_frame
    from att_report.pipeline import load_profiles
    from att_report.validate import validate_records

    config, result = intake
    profiles = load_profiles(config)
    normalised = normalise(raw_frame(result.tables, profiles), {a.name: a for a in config.agencies}, profiles)
    monkeypatch.setattr(rules_module, "RULE_THREADS", 1)
    one = validate_records(normalised, result.tables, config)
    assert (one[1]["severity"] == "error").any()
    monkeypatch.setattr(rules_module, "RULE_THREADS", 4)
    for _ in range(3):
        many = validate_records(normalised, result.tables, config)
        pd.testing.assert_frame_equal(many[0], one[0], check_exact=True)
        pd.testing.assert_frame_equal(many[1], one[1], check_exact=True)


def test_threaded_compile_rules_give_the_single_thread_result(intake, monkeypatch):
    from att_report.compile import compile_report

    config, result = intake
    rec = _reconcile(config, result, 1, monkeypatch)
    one = compile_report(rec.records, config, draft=True)
    assert not one.findings.empty
    monkeypatch.setattr(rules_module, "RULE_THREADS", 4)
    for _ in range(3):
        many = compile_report(rec.records, config, draft=True)
        pd.testing.assert_frame_equal(many.findings, one.findings, check_exact=True)
        pd.testing.assert_frame_equal(many.records, one.records, check_exact=True)


def test_compile_coded_in_threads_gives_the_single_thread_result(intake, monkeypatch):
    from att_report.compile import compile_report

    config, result = intake
    rec = _reconcile(config, result, 1, monkeypatch)
    monkeypatch.setattr(threads_module, "THREADS", 1)
    one = compile_report(rec.records, config)
    assert len(one.model.all_lines()) > 10 and len(one.model.sources) > 10  # lines and sources to compare
    monkeypatch.setattr(threads_module, "THREADS", 4)
    for _ in range(3):
        many = compile_report(rec.records, config)
        pd.testing.assert_frame_equal(many.records, one.records, check_exact=True)
        pd.testing.assert_frame_equal(many.findings, one.findings, check_exact=True)
        pd.testing.assert_frame_equal(many.model.all_lines(), one.model.all_lines(), check_exact=True)
        pd.testing.assert_frame_equal(many.model.sources, one.model.sources, check_exact=True)
        assert (many.model.cover, many.model.currency, many.model.rates_used) == \
            (one.model.cover, one.model.currency, one.model.rates_used)
