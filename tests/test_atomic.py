"""Atomic outputs: all files or none; failures and signals keep the previous outputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from att_report.render.atomic import STAGING_PREFIX, atomic_outputs, clean_stale_staging


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_success_moves_every_file(tmp_path):
    out = tmp_path / "out"
    with atomic_outputs(out) as stage:
        assert stage.parent == out and stage.name.startswith(STAGING_PREFIX)
        (stage / "a.xlsx").write_bytes(b"A")
        (stage / "sub").mkdir()
        (stage / "sub" / "b.csv").write_bytes(b"B")
        assert not (out / "a.xlsx").exists()  # nothing visible before the end
    assert listing(out) == {"a.xlsx": b"A", "sub/b.csv": b"B"}


def test_failure_mid_write_keeps_old_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.xlsx").write_bytes(b"old A")
    (out / "b.html").write_bytes(b"old B")
    with pytest.raises(RuntimeError):
        with atomic_outputs(out) as stage:
            (stage / "a.xlsx").write_bytes(b"new A")
            (stage / "b.html").write_bytes(b"half")
            raise RuntimeError("renderer failed")
    assert listing(out) == {"a.xlsx": b"old A", "b.html": b"old B"}
    assert not list(out.glob(STAGING_PREFIX + "*"))


def test_keyboard_interrupt_keeps_old_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.xlsx").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_outputs(out) as stage:
            (stage / "a.xlsx").write_bytes(b"new")
            raise KeyboardInterrupt
    assert listing(out) == {"a.xlsx": b"old"}


def test_stale_staging_from_a_killed_run_is_cleaned(tmp_path):
    out = tmp_path / "out"
    stale = out / (STAGING_PREFIX + "dead")
    stale.mkdir(parents=True)
    (stale / ".owner").write_text("999999999")
    (stale / "a.xlsx").write_bytes(b"partial")
    live = out / (STAGING_PREFIX + "live")
    live.mkdir()
    (live / ".owner").write_text(str(os.getppid()))  # a running process: left alone
    assert clean_stale_staging(out) == [stale]
    assert live.exists()
    with atomic_outputs(out) as stage:
        (stage / "x").write_bytes(b"x")
    assert not stale.exists() and (out / "x").read_bytes() == b"x"


SCRIPT = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    # Ctrl-C as a terminal delivers it: a shell starts background jobs with SIGINT ignored, which the
    # child would inherit when the test suite itself runs in the background
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from att_report.render.atomic import atomic_outputs
    out = Path(sys.argv[1])
    with atomic_outputs(out) as stage:
        (stage / "a.xlsx").write_bytes(b"new")
        print("staged", flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_signal_mid_build_keeps_old_outputs(tmp_path, sig):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.xlsx").write_bytes(b"old")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(out)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"staged"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert (out / "a.xlsx").read_bytes() == b"old"
    if sig != signal.SIGKILL:
        assert not list(out.glob(STAGING_PREFIX + "*"))  # cleaned on the way out
    # a killed run's leftovers go at the next run
    with atomic_outputs(out) as stage:
        (stage / "a.xlsx").write_bytes(b"next")
    assert listing(out) == {"a.xlsx": b"next"}
