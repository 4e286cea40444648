"""Measure att-report on a generated workspace (issue 7).

    python bench/run.py WORKSPACE [--runs 3] [--openpyxl-runs 1] [--json OUT]

Per run, one subprocess after another on the same machine (interleaved, so a
slow spell hits every variant alike):

  floor     the fastest plain read of the same input files into DataFrames,
            nothing else: fastexcel -> pandas for xlsx, pandas(pyarrow) for csv
  build     `python -m att_report build WORKSPACE --quiet` as a user runs
            it; its --timings file gives the per-stage timings (read,
            normalise, validate, reconcile, compile, render), CPU and peak RSS
  openpyxl  the same build with openpyxl as the workbook reader (reference;
            bench/openpyxl_reader.py), --openpyxl-runs times (0 to skip)

Times are medians. `CPU` is user + system time of the subprocess (less
sensitive than wall time to other work on the machine). `wall` is the subprocess from start to exit (interpreter
start and imports included); `in-process` is the floor's read after its imports and the build's stages
(`imports` is then the build's time outside its stages: imports, configuration). The ratio
build/floor uses wall times. Then it checks correctness on the build's
outputs: every planted problem of expected.json is in the discrepancy log
(same code, file and row) and the manifest's row accounting balances with
the rows generated. Exit 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
STAGES = ("read", "normalise", "validate", "reconcile", "compile", "render")

FLOOR_DRIVER = r"""
import json, sys, time, resource
t0 = time.perf_counter()
import fastexcel, pandas as pd
t1 = time.perf_counter()
rows = 0
for path in json.loads(sys.argv[1]):
    if path.endswith(".csv"):
        rows += len(pd.read_csv(path, engine="pyarrow"))
    else:
        reader = fastexcel.read_excel(path)
        for name in reader.sheet_names:
            rows += len(reader.load_sheet(name, header_row=None).to_pandas())
t2 = time.perf_counter()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"import_s": t1 - t0, "run_s": t2 - t1, "rows": rows, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "maxrss_mb": ru.ru_maxrss / 1024}))
"""

# the openpyxl variant: the same command line, with openpyxl patched in as the workbook reader first
OPENPYXL_DRIVER = r"""
import sys
sys.path.insert(0, sys.argv.pop(1))
import openpyxl_reader
openpyxl_reader.install()
from att_report.cli import main
sys.argv[0] = "att-report"
main()
"""


def input_files(workspace: Path) -> list[str]:
    return sorted(str(p) for p in (workspace / "inputs").rglob("*") if p.suffix.lower() in (".xlsx", ".csv"))


def _run(code: str, args: list[str], *, env: dict | None = None) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=str(REPO),
                          env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def run_floor(workspace: Path) -> dict:
    return _run(FLOOR_DRIVER, [json.dumps(input_files(workspace))])


def run_build(workspace: Path, out_dir: Path, reader: str = "fastexcel") -> dict:
    """`att-report build WORKSPACE --out OUT --quiet` as a user runs it, timed from outside.

    Its `--timings` file gives the per-stage wall and CPU seconds, its own
    CPU and peak RSS and its reader worker's.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    timings = out_dir.parent / f".timings-{out_dir.name}.json"
    timings.unlink(missing_ok=True)
    command = ["build", str(workspace), "--out", str(out_dir), "--quiet", "--timings", str(timings)]
    if reader == "openpyxl":
        argv = [sys.executable, "-c", OPENPYXL_DRIVER, str(BENCH), *command]
    else:
        argv = [sys.executable, "-m", "att_report", *command]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=str(REPO), env=env)
    wall = time.perf_counter() - start
    # exit 1 is expected: the workspace has planted errors, so the report is a draft
    if proc.returncode not in (0, 1) or not timings.is_file():
        raise RuntimeError(f"att-report build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    t = json.loads(timings.read_text(encoding="utf-8"))
    timings.unlink()
    staged = sum(t["stages_s"].values())
    return {"wall_s": wall, "run_s": staged, "import_s": t["since_start_s"] - staged,
            "timings": t["stages_s"], "cpu_timings": t["stages_cpu_s"], "unresolved_errors": t["unresolved_errors"],
            "totals": t["totals"], "cpu_s": t["cpu_s"], "maxrss_mb": t["peak_rss_mb"], "worker": t["worker"]}


def check_outputs(workspace: Path, out_dir: Path) -> dict:
    """Planted problems found (code, file, row) and the row accounting, from the build's outputs."""
    import csv

    expected = json.loads((workspace / "expected.json").read_text(encoding="utf-8"))
    log_path = out_dir / f"discrepancy_log_{expected['year']}.csv"
    with open(log_path, encoding="utf-8-sig", newline="") as fh:
        log = list(csv.DictReader(fh))
    found = {(r["code"], r["file"], r["row"]) for r in log}
    located = [p for p in expected["planted"] if p.get("located", True)]
    missing = [p for p in located if (p["code"], p["file"], str(p["row"])) not in found]
    planted = {(p["code"], p["file"], str(p["row"])) for p in expected["planted"]}
    extra: dict[str, int] = {}
    for r in log:
        if (r["code"], r["file"], r["row"]) not in planted:
            extra[r["code"]] = extra.get(r["code"], 0) + 1
    codes = {r["code"] for r in log}
    absent = [c for c in expected.get("present", []) if c not in codes]

    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    totals = manifest["totals"]
    problems = []
    disp = sum(v for k, v in totals.items() if k != "rows_read")
    if disp != totals["rows_read"]:
        problems.append(f"dispositions add up to {disp}, rows read {totals['rows_read']}")
    read = {i["path"]: i["rows_read"] for i in manifest["inputs"]}
    for path, n in expected["rows_read"].items():
        if read.get(path) != n:
            problems.append(f"{path}: {read.get(path)} rows read, {n} generated")
    for entry in manifest["inputs"]:
        if sum(entry["dispositions"].values()) != entry["rows_read"]:
            problems.append(f"{entry['path']}: dispositions do not add up to rows read")
    return {
        "planted": len(located), "planted_found": len(located) - len(missing),
        "missing": missing[:50], "missing_by_code": _count(m["code"] for m in missing),
        "absent_codes": absent, "unplanted_findings_by_code": dict(sorted(extra.items())),
        "totals": totals, "accounting_problems": problems,
        "ok": not missing and not absent and not problems,
    }


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items()))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(samples: dict[str, list[dict]]) -> dict:
    out: dict = {}
    for name, runs in samples.items():
        if not runs:
            continue
        entry = {
            "runs": len(runs),
            "wall_s": _median([r["wall_s"] for r in runs]),
            "in_process_s": _median([r["run_s"] for r in runs]),
            "import_s": _median([r["import_s"] for r in runs]),
            # the build's CPU includes its reader workers' (a second core is not free)
            "cpu_s": _median([r["cpu_s"] + r.get("worker", {}).get("cpu_s", 0.0) for r in runs]),
            "peak_rss_mb": max(r["maxrss_mb"] for r in runs),
            "worker_cpu_s": _median([r.get("worker", {}).get("cpu_s", 0.0) for r in runs]),
            "worker_peak_rss_mb": max(r.get("worker", {}).get("peak_rss_mb", 0.0) for r in runs),
            "wall_all_s": [round(r["wall_s"], 3) for r in runs],
        }
        if "timings" in runs[0]:
            entry["stages_s"] = {s: _median([r["timings"].get(s, 0.0) for r in runs]) for s in STAGES}
            entry["stages_cpu_s"] = {s: _median([r["cpu_timings"].get(s, 0.0) for r in runs]) for s in STAGES}
        out[name] = entry
    floor = out.get("floor")
    for name in ("build", "openpyxl"):
        if floor and name in out:
            out[name]["ratio_to_floor"] = out[name]["wall_s"] / floor["wall_s"]
            # each round's build against the floor read just before it: on a shared machine whose
            # speed drifts between rounds, the paired ratios are steadier than the ratio of medians
            paired = [b["wall_s"] / f["wall_s"] for f, b in zip(samples["floor"], samples[name])]
            out[name]["ratio_per_round"] = [round(r, 3) for r in paired]
            out[name]["ratio_per_round_median"] = _median(paired)
            out[name]["ratio_to_floor_in_process"] = out[name]["in_process_s"] / floor["in_process_s"]
            out[name]["ratio_to_floor_cpu"] = out[name]["cpu_s"] / floor["cpu_s"]
    if "build" in out and "openpyxl" in out:
        out["openpyxl"]["times_slower_than_build"] = out["openpyxl"]["wall_s"] / out["build"]["wall_s"]
    return out


def format_table(workspace: Path, summary: dict, check: dict) -> str:
    lines = [f"workspace {workspace}  ({os.cpu_count()} cores; load average during the runs "
             f"{summary.get('load_average', '?')})",
             f"{'variant':<10}{'wall s':>9}{'in-proc s':>11}{'imports s':>11}{'CPU s':>9}{'peak RSS MB':>13}"
             f"{'x floor':>9}{'x floor CPU':>13}"]
    for name in ("floor", "build", "openpyxl"):
        e = summary.get(name)
        if not e:
            continue
        ratio = f"{e['ratio_to_floor']:.2f}" if "ratio_to_floor" in e else "1.00"
        cpu_ratio = f"{e['ratio_to_floor_cpu']:.2f}" if "ratio_to_floor_cpu" in e else "1.00"
        lines.append(f"{name:<10}{e['wall_s']:>9.2f}{e['in_process_s']:>11.2f}{e['import_s']:>11.2f}"
                     f"{e['cpu_s']:>9.2f}{e['peak_rss_mb']:>13.0f}{ratio:>9}{cpu_ratio:>13}")
    b = summary.get("build")
    if b and "ratio_per_round" in b:
        lines.append("build / floor per round: " + ", ".join(f"{r:.2f}" for r in b["ratio_per_round"])
                     + f"  (median {b['ratio_per_round_median']:.2f})")
    if b:
        lines.append("build stages, wall s: " + "  ".join(f"{s} {b['stages_s'][s]:.2f}" for s in STAGES))
        lines.append("build stages, CPU s:  " + "  ".join(f"{s} {b['stages_cpu_s'][s]:.2f}" for s in STAGES)
                     + f"  (+ reader workers {b['worker_cpu_s']:.2f})")
        lines.append(f"reader workers' peak RSS: {b['worker_peak_rss_mb']:.0f} MB (beside the build's own "
                     f"{b['peak_rss_mb']:.0f} MB; both at once is the upper bound)")
    if "openpyxl" in summary:
        lines.append(f"openpyxl build / shipped build: {summary['openpyxl']['times_slower_than_build']:.1f}x")
    lines.append(f"planted problems found: {check['planted_found']}/{check['planted']}"
                 + (f"  MISSING {check['missing_by_code']}" if check["missing"] else "")
                 + (f"  codes absent: {check['absent_codes']}" if check["absent_codes"] else ""))
    lines.append("row accounting: " + (", ".join(f"{k} {v}" for k, v in check["totals"].items()))
                 + ("  PROBLEMS: " + "; ".join(check["accounting_problems"]) if check["accounting_problems"]
                    else "  (balances)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--openpyxl-runs", type=int, default=1, help="builds with openpyxl as the reader (0: skip)")
    ap.add_argument("--json", type=Path, help="write the results here (default: WORKSPACE/bench.json)")
    args = ap.parse_args(argv)
    ws = args.workspace.resolve()
    if not (ws / "expected.json").is_file():
        ap.error(f"{ws} has no expected.json: generate it with bench/generate.py")
    out_dir = ws / "out"
    samples: dict[str, list[dict]] = {"floor": [], "build": [], "openpyxl": []}
    loads = [os.getloadavg()[0]]
    for i in range(args.runs):
        samples["floor"].append(run_floor(ws))
        samples["build"].append(run_build(ws, out_dir))
        if i < args.openpyxl_runs:
            samples["openpyxl"].append(run_build(ws, ws / "out_openpyxl", reader="openpyxl"))
        print(f"run {i + 1}/{args.runs}: floor {samples['floor'][-1]['wall_s']:.2f} s, "
              f"build {samples['build'][-1]['wall_s']:.2f} s"
              + (f", openpyxl {samples['openpyxl'][-1]['wall_s']:.2f} s" if i < args.openpyxl_runs else ""),
              file=sys.stderr)
        loads.append(os.getloadavg()[0])
    summary = summarise(samples)
    summary["load_average"] = round(statistics.mean(loads), 2)
    check = check_outputs(ws, out_dir)
    if samples["openpyxl"]:
        summary["openpyxl"]["same_findings"] = _same_log(out_dir, ws / "out_openpyxl")
    print(format_table(ws, summary, check))
    expected = json.loads((ws / "expected.json").read_text(encoding="utf-8"))
    result = {"workspace": str(ws), "rows": expected["rows"], "rows_read": expected["rows_read"],
              "cores": os.cpu_count(), "python": sys.version.split()[0], "summary": summary, "check": check,
              "samples": samples}
    target = args.json or ws / "bench.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"results: {target}")
    return 0 if check["ok"] else 1


def _same_log(a: Path, b: Path) -> bool:
    """Does the openpyxl build find the same problems (ids) as the shipped build?"""
    import csv

    def ids(d: Path) -> set[str]:
        logs = sorted(d.glob("discrepancy_log_*.csv"))
        if not logs:
            return set()
        with open(logs[0], encoding="utf-8-sig", newline="") as fh:
            return {r["finding_id"] for r in csv.DictReader(fh)}
    return ids(a) == ids(b)


if __name__ == "__main__":
    sys.exit(main())
