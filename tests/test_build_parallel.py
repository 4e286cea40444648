"""The build's render stage on two cores: a large discrepancy log is written by a worker process.

Whichever process writes it, and whatever happens to the worker, the outputs
are the same bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from att_report import pipeline
from att_report.config import load_config
from att_report.intake import safety

SAMPLE = Path(__file__).resolve().parent.parent / "sample_inputs"


def _build(tmp_path: Path, name: str) -> dict[str, bytes]:
    ws = tmp_path / f"ws-{name}"
    if not ws.exists():
        shutil.copytree(SAMPLE, ws, ignore=shutil.ignore_patterns("out", ".att-report"))
    out = tmp_path / f"out-{name}"
    pipeline.run_build(load_config(ws), out)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _same(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if name == "manifest.json":
            continue  # names the workspace folder, which differs here; the files it lists are compared
        assert a[name] == b[name], name


@pytest.fixture(scope="module")
def here(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "PARALLEL_LOG_FINDINGS", 1 << 40)
    try:
        return _build(tmp_path_factory.mktemp("here"), "here")
    finally:
        mp.undo()


def test_a_log_written_by_the_worker_is_the_same_bytes(tmp_path, monkeypatch, here):
    started, written_here = [], []
    real = safety.start_contained
    real_write = pipeline.write_discrepancy_log

    def spy(*args):
        if args[4:] != (("csv",),):  # the workbook written in this process: the worker's job
            written_here.append(args[4:])
        return real_write(*args)

    monkeypatch.setattr(pipeline, "write_discrepancy_log", spy)
    monkeypatch.setattr(pipeline, "PARALLEL_LOG_FINDINGS", 1)
    monkeypatch.setattr(safety, "start_contained",
                        lambda func, *a, **k: started.append((func, a[-1])) or real(func, *a, **k))
    worker = _build(tmp_path, "worker")
    # the worker (started before reconcile) writes the workbook; this process the CSV copy
    assert [func for func, _ in started] == [pipeline._log_worker]
    assert not written_here  # the worker did write it (no fallback)
    assert any(name.startswith("discrepancy_log_") and name.endswith(".csv") for name in worker)
    assert any(name.startswith("discrepancy_log_") and name.endswith(".xlsx") for name in worker)
    _same(here, worker)


def test_the_log_worker_starts_while_a_large_workbook_is_still_read(tmp_path, monkeypatch, here):
    """While a reader worker still reads a large workbook, this process waits: the log's worker is
    started then (its imports off the later stages' path), whatever the findings' count, after the
    warm-up and before normalise; the outputs are the same bytes."""
    from att_report.intake import headstart
    from att_report.normalise import canonical

    events = []
    real_start, real_warm, real_normalise = safety.start_contained, pipeline.warm_later_stages, canonical.normalise

    def start(func, *a, **k):
        events.append("log" if func is pipeline._log_worker else "reader")
        return real_start(func, *a, **k)

    monkeypatch.setattr(safety, "start_contained", start)
    monkeypatch.setattr(pipeline, "warm_later_stages", lambda *a: real_warm(*a) or events.append("warm"))
    monkeypatch.setattr(canonical, "normalise", lambda *a, **k: events.append("normalise") or real_normalise(*a, **k))
    monkeypatch.setattr(safety.ContainedJob, "running", lambda self: True)  # the reader "still reads"
    monkeypatch.setattr(headstart, "PARALLEL_SHEET_BYTES", 0)  # every workbook has a reader worker
    monkeypatch.setattr(pipeline, "PARALLEL_LOG_FINDINGS", 1 << 40)  # not for its findings' count
    built = _build(tmp_path, "early-log")
    assert events.count("log") == 1
    # (the warm-up normalises made-up rows first; the real normalise is the last)
    assert events.index("warm") < events.index("log") < len(events) - 1 and events[-1] == "normalise"
    _same(here, built)


def test_a_worker_that_dies_leaves_the_log_to_this_process(tmp_path, monkeypatch, here):
    class Dead:
        def result(self):
            raise safety.ReaderCrashed("the reader was killed (often: out of memory)")

        def cancel(self):
            pass

        def wait_started(self):
            pass

    monkeypatch.setattr(pipeline, "PARALLEL_LOG_FINDINGS", 1)
    monkeypatch.setattr(safety, "start_contained", lambda *a, **k: Dead())
    _same(here, _build(tmp_path, "dead"))


def test_no_worker_to_be_had_means_the_log_is_written_here(tmp_path, monkeypatch, here):
    def refuse(*a, **k):
        raise OSError("no more processes")

    monkeypatch.setattr(pipeline, "PARALLEL_LOG_FINDINGS", 1)
    monkeypatch.setattr(safety, "start_contained", refuse)
    _same(here, _build(tmp_path, "refused"))


@pytest.mark.parametrize("where", ["render", "reconcile"])
def test_a_failure_stops_the_log_worker_and_publishes_nothing(tmp_path, monkeypatch, where):
    """The log worker starts before reconcile (waiting for its findings): a failure then, or while
    the report is written, stops it and leaves no output and no staging behind."""
    jobs = []
    real = safety.start_contained

    def track(func, *a, **k):
        jobs.append(real(func, *a, **k))
        return jobs[-1]

    def broken(*a, **k):
        assert jobs  # started before reconcile
        if where == "reconcile":
            assert jobs[0].running()  # waiting for its findings
        raise RuntimeError("disk on fire")

    import att_report.reconcile as reconcile_stage
    import att_report.render.report_xlsx as report_xlsx

    monkeypatch.setattr(pipeline, "PARALLEL_LOG_FINDINGS", 1)
    monkeypatch.setattr(safety, "start_contained", track)
    if where == "render":
        monkeypatch.setattr(report_xlsx, "write_report", broken)
    else:
        monkeypatch.setattr(reconcile_stage, "reconcile", broken)
    ws = tmp_path / "ws"
    shutil.copytree(SAMPLE, ws, ignore=shutil.ignore_patterns("out", ".att-report"))
    with pytest.raises(RuntimeError, match="disk on fire"):
        pipeline.run_build(load_config(ws), tmp_path / "out")
    assert len(jobs) == 1 and not jobs[0].running()
    assert not [p for p in (tmp_path / "out").rglob("*")]  # nothing published, no staging left behind
