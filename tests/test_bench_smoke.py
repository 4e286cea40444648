"""Benchmark smoke test (issue 7): the 10k workspace builds, every planted problem is found, rows balance.

No timing is asserted (CI machines vary). Skip with ATT_SKIP_BENCH_SMOKE=1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytestmark = pytest.mark.skipif(os.environ.get("ATT_SKIP_BENCH_SMOKE") == "1",
                                reason="ATT_SKIP_BENCH_SMOKE=1")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from att_report.config import load_config
    from att_report.pipeline import run_build

    generate = _load("generate")
    ws = tmp_path_factory.mktemp("bench10k")
    expected = generate.generate(10_000, ws, seed=7)
    result = run_build(load_config(ws), ws / "out")
    return ws, expected, result


def test_generator_is_deterministic(tmp_path, built):
    ws, expected, _ = built
    again = _load("generate").generate(10_000, tmp_path / "again", seed=7)
    assert again == expected
    for rel in expected["rows_read"]:
        if rel.endswith(".csv"):
            assert (tmp_path / "again" / rel).read_bytes() == (ws / rel).read_bytes()


def test_every_kind_of_problem_is_planted(built):
    _, expected, _ = built
    assert len(expected["counts"]) >= 35
    assert sum(expected["counts"].values()) >= 0.01 * expected["rows"]


def test_planted_problems_found_and_accounting_balances(built):
    ws, expected, result = built
    check = _load("run").check_outputs(ws, ws / "out")
    assert check["missing"] == [], check["missing_by_code"]
    assert check["absent_codes"] == []
    assert check["accounting_problems"] == []
    assert check["planted_found"] == check["planted"] > 100
    totals = result.manifest["totals"]
    assert totals["rows_read"] == sum(expected["rows_read"].values())
    assert totals["invalid"] > 0 and totals["merged"] > 0 and totals["excluded"] > 0


def test_check_notices_a_missing_problem(tmp_path, built):
    """The correctness check can fail: drop one planted finding from a copy of the log."""
    import shutil

    ws, expected, _ = built
    copy = tmp_path / "ws"
    shutil.copytree(ws / "out", copy / "out")
    shutil.copy(ws / "expected.json", copy / "expected.json")
    log = copy / "out" / f"discrepancy_log_{expected['year']}.csv"
    lines = log.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    target = next(p for p in expected["planted"] if p["code"] == "licence-quantity-exceeded")
    kept = [ln for ln in lines if not (",licence-quantity-exceeded," in ln and f",{target['row']}," in ln)]
    assert len(kept) == len(lines) - 1
    log.write_text("".join(kept), encoding="utf-8")
    check = _load("run").check_outputs(copy, copy / "out")
    assert not check["ok"]
    assert check["missing_by_code"] == {"licence-quantity-exceeded": 1}
    manifest = json.loads((copy / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rows_read"] == sum(expected["rows_read"].values())
