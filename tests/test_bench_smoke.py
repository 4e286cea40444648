"""Benchmark smoke test (issue 7): the 10k workspace builds, every planted problem is found, rows balance.

No timing is asserted (CI machines vary). Skip with ATT_SKIP_BENCH_SMOKE=1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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
    written = sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert {p.suffix for p in written} >= {".xlsx", ".csv", ".toml", ".json"}
    for rel in written:  # every file, byte for byte: workbooks too (their creation time is fixed)
        assert (tmp_path / "again" / rel).read_bytes() == (ws / rel).read_bytes(), rel


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


def test_runner_measures_floor_and_build_and_writes_the_table_and_json(tmp_path, built):
    """bench/run.py as a user runs it: one round, no openpyxl; the JSON has what the issue asks for."""
    import shutil
    import subprocess

    ws, expected, _ = built
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("out", "out_*"))
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), str(copy), "--runs", "1", "--openpyxl-runs", "0"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    target = copy / "bench.json"  # the JSON's place when --json does not name one
    assert f"results: {target}" in proc.stdout
    assert "build / floor" in proc.stdout and f"planted problems found: {len(expected['planted'])}/" in proc.stdout
    data = json.loads(target.read_text(encoding="utf-8"))
    floor, build = data["summary"]["floor"], data["summary"]["build"]
    assert floor["wall_s"] > 0 and build["wall_s"] > 0 and floor["peak_rss_mb"] > 0 and build["peak_rss_mb"] > 0
    assert build["ratio_to_floor"] == pytest.approx(build["wall_s"] / floor["wall_s"], rel=1e-6)
    assert set(build["stages_s"]) == {"read", "normalise", "validate", "reconcile", "compile", "render"}
    assert data["check"]["ok"] and data["check"]["planted_found"] == data["check"]["planted"]
    assert data["cores"] >= 1 and data["rows"] == expected["rows"]


# --- the plants cannot collide (no build: the rows as generated, read as the rules read them) ----

_KEY = ["flow", "licence", "date", "qty"]


def _as_read(syn, gen) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customs and defence rows as written: flow, licence (trimmed, upper case), date, quantity, value."""
    c, d = syn.cust, syn.dfn
    cust = pd.DataFrame({
        "flow": c["procedure"].map({"EX": "export", "IM": "import"}).to_numpy(),
        "licence": c["licence_text"].astype("string").str.strip().str.upper().to_numpy(),
        "date": pd.to_datetime(c["date_text"], format="%d/%m/%Y", errors="coerce").to_numpy(),
        "qty": pd.to_numeric(c["qty_out"], errors="coerce").to_numpy(),
        "value": pd.to_numeric(c["value_out"], errors="coerce").to_numpy(),
        "row": gen.CUSTOMS_HEADER_ROW + 1 + np.arange(len(c)),
        "kind": c["kind"].to_numpy(),
    })
    dfn = pd.DataFrame({
        "flow": d["flow"].to_numpy(),
        "licence": syn.lic.loc[d["lic"], "licence_no"].astype("string").str.upper().to_numpy(),
        "date": pd.to_datetime(d["date_text"], format="%Y-%m-%d", errors="coerce").to_numpy(),
        "qty": d["qty"].astype(float).to_numpy(),
        "value": d["value"].astype(float).to_numpy(),
        "row": 2 + np.arange(len(d)),
        "kind": d["kind"].to_numpy(),
    })
    return cust, dfn


def _collisions(syn, gen) -> list[str]:
    """Planted problems that another plant or a clean row would hide from the rules."""
    cust, dfn = _as_read(syn, gen)
    planted = pd.DataFrame(syn.planted.items)
    ships = pd.concat([cust, dfn], ignore_index=True)
    lic = syn.lic.assign(row=2 + np.arange(len(syn.lic)),
                         licence=syn.lic["licence_no"].astype("string").str.upper())
    quoted_by_plant = set(ships.loc[ships["kind"] != "", "licence"].dropna())
    out = []
    for code, measure in (("licence-quantity-exceeded", "qty"), ("licence-value-exceeded", "value")):
        mine = lic[lic["row"].isin(planted.loc[planted["code"] == code, "row"])]
        # only shipments of the licence's own flow count against it (an other-flow one is no link)
        total = ships.groupby(["licence", "flow"])[measure].sum()
        shipped = total.reindex(pd.MultiIndex.from_arrays([mine["licence"], mine["flow"]])).fillna(0)
        short = mine.loc[~(shipped.to_numpy() > mine[measure]), "row"]
        quoted = mine.loc[mine["licence"].isin(quoted_by_plant), "row"]
        out += [f"{code}: licence row {r} not exceeded" for r in short]
        out += [f"{code}: licence row {r} quoted by a planted row" for r in quoted]
    same = cust.groupby(_KEY, dropna=False).size()
    # an exact copy merges with the first customs row of its key: that must be its source, alone
    src = cust[cust["row"].isin(planted.loc[planted["code"] == "duplicate-merged", "row"])]
    n = same.reindex(pd.MultiIndex.from_frame(src[_KEY])).fillna(0).to_numpy()
    out += [f"duplicate-merged: source row {r} shares its key with {k - 1} other customs rows"
            for r, k in zip(src["row"], n) if k != 1]
    # a near copy equal to some customs row would be merged, not flagged
    near = dfn[dfn["kind"] == "near-duplicate"]
    n = same.reindex(pd.MultiIndex.from_frame(near[_KEY])).fillna(0).to_numpy()
    out += [f"near-duplicate: defence row {r} equals {k} customs rows" for r, k in zip(near["row"], n) if k]
    return out


# seeds where an other-flow plant quoted a licence planted as exceeded (the 1M miss, seed 7)
@pytest.mark.parametrize(("rows", "seed"), [(20_000, 34), (50_000, 9), (50_000, 14), (20_000, 7)])
def test_plants_cannot_collide(rows, seed):
    gen = _load("generate")
    syn = gen.synthesize(rows, seed)
    assert _collisions(syn, gen) == []
    counts = syn.planted.counts()
    assert counts["duplicate-merged"] >= 2 and counts["near-duplicate"] >= 2
    assert counts["licence-value-exceeded"] >= 2 and counts["licence-quantity-exceeded"] >= 2


def test_collision_check_can_fail():
    """An other-flow shipment quoting an over-valued licence, and a second identical customs row."""
    gen = _load("generate")
    syn = gen.synthesize(20_000, 7)
    cust = syn.cust.copy()
    lic_row = next(p["row"] for p in syn.planted.items if p["code"] == "licence-value-exceeded")
    licence = syn.lic.iloc[lic_row - 2]
    other = cust.index[(cust["kind"] == "") & (cust["flow"] != licence["flow"])][0]
    cust.loc[other, ["licence_text", "kind"]] = [licence["licence_no"], "shipment-licence-other-flow"]
    src_row = next(p["row"] for p in syn.planted.items if p["code"] == "duplicate-merged")
    src = src_row - gen.CUSTOMS_HEADER_ROW - 1
    twin = cust.index[(cust["kind"] == "") & (cust.index != src) & (cust.index != other)][0]
    cust.loc[twin, ["procedure", "licence_text", "date_text", "qty_out"]] = \
        cust.loc[src, ["procedure", "licence_text", "date_text", "qty_out"]].to_numpy()
    found = _collisions(gen.Synthetic(syn.rows, syn.seed, cust, syn.lic, syn.dfn, syn.planted), gen)
    assert f"licence-value-exceeded: licence row {lic_row} quoted by a planted row" in found
    assert f"duplicate-merged: source row {src_row} shares its key with 1 other customs rows" in found


def test_monthly_customs_workbooks_read_in_two_lanes_find_every_planted_problem(tmp_path, monkeypatch):
    """`--customs-files 4`: the same rows in four workbooks, each large enough (here) for a reader worker,
    so the build reads them in two lanes; every planted problem is found in its own workbook and row."""
    import threading

    from att_report.config import load_config
    from att_report.intake import headstart, untrusted
    from att_report.pipeline import run_build

    ws = tmp_path / "monthly"
    expected = _load("generate").generate(10_000, ws, seed=7, customs_files=4)
    parts = sorted(p.name for p in (ws / "inputs" / "customs").iterdir())
    assert parts == [f"declarations_2024_{k:02d}.xlsx" for k in range(1, 5)]
    assert sum(n for f, n in expected["rows_read"].items() if "customs" in f) == 10_000
    assert {p["file"] for p in expected["planted"] if "customs" in p["file"]} == {f"inputs/customs/{p}"
                                                                                  for p in parts}
    lanes = set()
    real = untrusted.begin_read
    monkeypatch.setattr(untrusted, "begin_read", lambda *a, **k: lanes.add(threading.current_thread().name)
                        or real(*a, **k))
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 1)
    result = run_build(load_config(ws), ws / "out")
    assert "att-report-lane" in lanes and len(lanes) == 2
    check = _load("run").check_outputs(ws, ws / "out")
    assert check["missing"] == [], check["missing_by_code"]
    assert check["accounting_problems"] == [] and check["planted_found"] == check["planted"] > 100
    assert result.manifest["totals"]["rows_read"] == sum(expected["rows_read"].values())
