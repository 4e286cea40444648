"""The command as a separate process: exit codes and output survive the fast exit; --timings; warm-up.

`att-report` ends with os._exit once everything is written (cli._leave), so
these run it as users do, in a process of its own.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from intake_helpers import write_workspace

REPO = Path(__file__).resolve().parent.parent


def att_report(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "att_report", *map(str, args)], capture_output=True, text=True,
                          cwd=str(REPO), **kwargs)


def test_exit_codes_and_printed_lines_survive_the_fast_exit(tmp_path):
    clean = write_workspace(tmp_path / "clean", [{}, {"record_id": "R2"}])
    proc = att_report("validate", clean, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith(".xlsx")  # the last line printed (a feedback workbook) is not lost

    bad = write_workspace(tmp_path / "bad", [{"date": "2024-02-30"}])
    proc = att_report("build", bad, "--quiet")
    assert proc.returncode == 1
    assert proc.stdout.rstrip().endswith("(see the discrepancy log).")
    assert (bad / "out" / "manifest.json").is_file()

    proc = att_report("build", tmp_path / "nowhere")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert att_report("--version").returncode == 0
    assert att_report("no-such-command").returncode == 2  # click's usage error keeps its code


def test_timings_file_has_every_stage_and_the_memory(tmp_path):
    ws = write_workspace(tmp_path / "ws", [{}, {"record_id": "R2"}])
    target = tmp_path / "t.json"
    proc = att_report("build", ws, "--quiet", "--timings", target)
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(target.read_text(encoding="utf-8"))
    assert (data["unresolved_errors"] > 0) == (proc.returncode == 1)
    stages = ("read", "normalise", "validate", "reconcile", "compile", "render")
    assert set(data["stages_s"]) == set(data["stages_cpu_s"]) == set(stages)
    assert all(v >= 0 for v in data["stages_s"].values())
    assert data["since_start_s"] >= sum(data["stages_s"].values())
    assert data["peak_rss_mb"] > 10 and data["cpu_s"] > 0
    assert data["totals"]["rows_read"] == 2

    again = att_report("build", ws, "--quiet", "--timings", tmp_path / "no" / "such" / "dir" / "t.json")
    assert again.returncode == proc.returncode  # the build itself went as before
    assert "Could not write the timings" in again.stderr and "Traceback" not in again.stderr


WARM_THEN_BUILD = r"""
import sys
from pathlib import Path
from att_report.config import load_config
from att_report import pipeline
config = load_config(Path(sys.argv[1]))
if sys.argv[3] == "warm":
    pipeline.warm_later_stages(config, pipeline.load_profiles(config))
pipeline.run_build(config, Path(sys.argv[2]))
"""


def test_warming_later_stages_first_changes_no_output_byte(tmp_path):
    """A large file's wait is used to warm the later stages; a build must come out the same with or without."""
    outputs = {}
    for mode in ("cold", "warm"):
        out = tmp_path / mode
        proc = subprocess.run([sys.executable, "-c", WARM_THEN_BUILD, str(REPO / "sample_inputs"), str(out), mode],
                              capture_output=True, text=True, cwd=str(REPO))
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs[mode] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert outputs["cold"].keys() == outputs["warm"].keys() and len(outputs["cold"]) >= 5
    for name in outputs["cold"]:
        assert outputs["cold"][name] == outputs["warm"][name], name


def test_the_cycle_collector_is_set_for_the_batch_and_restored():
    import gc

    from att_report.cli import _gc_for_a_batch

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with _gc_for_a_batch():
        assert gc.get_threshold()[0] >= 10_000  # not every 700 allocations
        assert gc.get_freeze_count() > frozen  # loaded modules are out of its scans
        import weakref

        class Node:
            pass

        node = Node()
        node.self = node  # a cycle: only the collector frees it
        gone = weakref.ref(node)
        del node
        gc.collect()
        assert gone() is None  # cycles made during the batch are still collected
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


class _FakeLibc:
    def __init__(self, calls):
        self.calls = calls

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


def _fake_glibc(monkeypatch) -> list:
    import ctypes
    import platform

    calls: list = []
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("glibc", "2.36"))
    monkeypatch.setattr(ctypes, "CDLL", lambda name: _FakeLibc(calls))
    for key in [k for k in os.environ if k.startswith(("MALLOC_", "MIMALLOC_", "GLIBC_TUNABLES"))]:
        monkeypatch.delenv(key)
    return calls


def test_a_batch_keeps_freed_memory_for_reuse(monkeypatch):
    from att_report import cli

    calls = _fake_glibc(monkeypatch)
    assert cli._allocators_for_a_batch()
    # mmap and trim thresholds, top pad, two arenas
    assert dict(calls) == {-3: 32 << 20, -1: (1 << 31) - 1, -2: 256 << 20, -8: 2}
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "-1"


@pytest.mark.parametrize("setting", [("MALLOC_TRIM_THRESHOLD_", "1000"),
                                     ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000")])
def test_the_users_allocator_settings_are_kept(monkeypatch, setting):
    from att_report import cli

    calls = _fake_glibc(monkeypatch)
    monkeypatch.setenv(*setting)
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "25")
    assert not cli._allocators_for_a_batch()
    assert not calls and os.environ["MIMALLOC_PURGE_DELAY"] == "25"


def test_the_allocators_are_tuned_before_pyarrow_loads_and_not_in_the_workers(tmp_path):
    """A build sets the batch settings before anything loads pyarrow; the fork server does not inherit them."""
    ws = write_workspace(tmp_path / "ws", [{}])
    code = ("import os, sys\n"
            "from att_report import cli\n"
            "from att_report.intake import worker_server\n"
            "worker_server.warm()\n"
            "seen = {}\n"
            "real = cli._allocators_for_a_batch\n"
            "def spy():\n"
            "    seen['pyarrow'] = 'pyarrow' in sys.modules\n"
            "    seen['tuned'] = real()\n"
            "    return seen['tuned']\n"
            "cli._allocators_for_a_batch = spy\n"
            f"sys.argv = ['att-report', 'build', {str(ws)!r}, '--quiet']\n"
            "try:\n"
            "    cli.app()\n"
            "except SystemExit:\n"
            "    pass\n"
            "from att_report.intake.contained import run_contained\n"
            "env = run_contained(os.getenv, 'MIMALLOC_PURGE_DELAY')\n"
            "print(seen, env)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MIMALLOC_", "GLIBC_TUNABLES"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    expected_tuned = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert out.stdout.strip().splitlines()[-1] == f"{{'pyarrow': False, 'tuned': {expected_tuned}}} None"


def _broken_build(ws: Path, *args: str) -> subprocess.CompletedProcess:
    """`att-report build WS ARGS` with a bug planted in the pipeline (an internal error)."""
    code = ("import sys\n"
            "import att_report.pipeline as pipeline\n"
            "def boom(*a, **k):\n"
            "    raise IndexError('planted bug')\n"
            "pipeline.run_build = boom\n"
            "from att_report import cli\n"
            f"sys.argv = ['att-report', *{list(args)!r}[:1], 'build', {str(ws)!r}, '--quiet', *{list(args)!r}[1:]]\n"
            "cli.main()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO))


def test_an_internal_error_says_how_to_run_again_for_a_traceback(tmp_path):
    ws = write_workspace(tmp_path / "ws", [{}])
    proc = _broken_build(ws)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert "Internal error: IndexError: planted bug" in proc.stderr
    hint = f"att-report --debug build {ws} --quiet"
    assert f"Run it again as `{hint}`" in proc.stderr
    # the command it names is one the command line takes (--debug before the command), and shows the traceback
    again = _broken_build(ws, "--debug")
    assert again.returncode != 0 and "Traceback" in again.stderr and "planted bug" in again.stderr


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")
@pytest.mark.parametrize("user_value", [None, "3"])
def test_numpy_starts_no_blas_threads_unless_the_user_asks(user_value):
    """OPENBLAS_NUM_THREADS=1 before numpy loads (runtime.set_process_defaults): no idle OpenBLAS
    thread per process; a value the user set is kept."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if user_value:
        env["OPENBLAS_NUM_THREADS"] = user_value
    code = ("from att_report.runtime import set_process_defaults; set_process_defaults(); import numpy, os; "
            "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(REPO))
    setting, threads = out.stdout.split()
    assert setting == (user_value or "1")
    if not user_value:
        assert threads == "1"  # this thread alone


@pytest.mark.parametrize("user_value", [None, "1"])
def test_numpy_asks_for_no_huge_pages_unless_the_user_asks(user_value):
    """NUMPY_MADVISE_HUGEPAGE=0 before numpy loads: the first touch of huge pages is slow on a VM
    that returns freed memory to its host; a value the user set is kept."""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if user_value:
        env["NUMPY_MADVISE_HUGEPAGE"] = user_value
    code = ("from att_report.runtime import set_process_defaults; set_process_defaults(); import numpy; "
            "core = getattr(numpy, '_core', None) or numpy.core; "
            "print(core.multiarray._set_madvise_hugepage(False))")  # returns the setting numpy had
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("True" if user_value else "False")


@pytest.mark.skipif(not Path("/proc/self/smaps").is_file() or not sys.platform.startswith("linux"),
                    reason="reads huge pages from /proc (Linux)")
@pytest.mark.skipif(not any(mode in (Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
                                      if Path("/sys/kernel/mm/transparent_hugepage/enabled").is_file() else "")
                             for mode in ("[always]", "[madvise]")),
                    reason="no transparent huge pages here")
@pytest.mark.parametrize("user_value", [None, "1"])
def test_pyarrow_buffers_take_no_huge_pages_unless_the_user_asks(user_value):
    """MIMALLOC_ALLOW_THP=0 before pyarrow loads: its allocator (mimalloc) then leaves 4 KB pages."""
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_ALLOW_THP"}
    if user_value:
        env["MIMALLOC_ALLOW_THP"] = user_value
    code = ("from att_report.runtime import set_process_defaults; set_process_defaults()\n"
            "import pyarrow as pa, numpy as np\n"
            "if pa.default_memory_pool().backend_name != 'mimalloc': print('skip'); raise SystemExit\n"
            "bufs = [pa.allocate_buffer(8 << 20) for _ in range(16)]\n"
            "for b in bufs: np.frombuffer(b, dtype=np.uint8)[::4096] = 1\n"
            "import os; print(os.environ['MIMALLOC_ALLOW_THP'], "
            "sum(int(l.split()[1]) for l in open('/proc/self/smaps') if l.startswith('AnonHugePages')))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "skip":
        pytest.skip("pyarrow's default allocator is not mimalloc here")
    setting, huge_kb = out.stdout.split()
    assert setting == (user_value or "0")  # the user's own value is kept
    if not user_value:
        assert int(huge_kb) == 0


@pytest.mark.parametrize("entry", ["att_report.__main__", "att_report.cli"])
def test_both_entry_points_set_the_defaults_before_numpy_loads_and_workers_start(entry):
    """`att-report` (`__main__`) sets them before it starts the fork server, so reader workers inherit
    them; `cli.main` sets them too. numpy has not loaded by then (else it read its setting already)."""
    from att_report.runtime import PROCESS_DEFAULTS

    env = {k: v for k, v in os.environ.items() if k not in PROCESS_DEFAULTS}
    code = ("import sys, os, json\n"
            "from att_report.intake import worker_server\n"
            "import att_report.cli as cli\n"
            "seen = {}\n"
            "def record(where):\n"
            "    seen[where] = ('numpy' in sys.modules, {k: os.environ.get(k) for k in %r})\n"
            "worker_server.warm = lambda: record('warm')\n"
            "cli.app = lambda: record('app')\n"
            "cli._leave = lambda code: (print(json.dumps(seen)), sys.stdout.flush(), os._exit(0))\n"
            "sys.argv = ['att-report', 'build', 'x']\n"
            "import %s as entry\n"
            "entry.main()\n") % (list(PROCESS_DEFAULTS), entry)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert set(seen) == ({"warm", "app"} if entry.endswith("__main__") else {"app"})
    for numpy_loaded, values in seen.values():
        assert not numpy_loaded
        assert values == PROCESS_DEFAULTS
