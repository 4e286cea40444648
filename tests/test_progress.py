"""Progress (issue 7): per stage and per file on a terminal; nothing but the summary when piped or quiet.

The command runs as users run it, in a process of its own; "a terminal" is a pseudo-terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from intake_helpers import write_workspace

REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

pty = pytest.importorskip("pty")


def on_terminal(*args) -> tuple[int, str]:
    """Run att-report with its stdout and stderr on a pseudo-terminal; (exit code, what it showed)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm"}
    env.pop("COLUMNS", None)
    proc = subprocess.Popen([sys.executable, "-m", "att_report", *map(str, args)], stdin=slave, stdout=slave,
                            stderr=slave, cwd=str(REPO), env=env, close_fds=True)
    os.close(slave)
    shown = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the command has closed the terminal
            break
        if not data:
            break
        shown.append(data)
    os.close(master)
    code = proc.wait(timeout=300)
    return code, ANSI.sub("", b"".join(shown).decode("utf-8", "replace")).replace("\r", "")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("progress")
    return write_workspace(ws, [{}, {"record_id": "R2"}, {"record_id": "R3", "date": "2024-02-30"}])


def test_a_terminal_shows_each_stage_and_each_file_with_rows_and_findings_so_far(workspace, tmp_path):
    code, shown = on_terminal("build", workspace, "--out", tmp_path / "out")
    assert code == 1, shown  # the bad date is an unresolved error
    lines = [line.strip() for line in shown.splitlines() if line.strip()]
    stages = ("read", "normalise", "validate", "reconcile", "compile", "render")
    started = [next((i for i, line in enumerate(lines) if re.fullmatch(rf"\d+\.\ds {s}\.\.\.", line)), None)
               for s in stages]
    assert None not in started and started == sorted(started), lines  # every stage, in order
    # per file: its rows and its findings
    per_file = [line for line in lines if re.match(r"\d+\.\ds read inputs/\S+: [\d,]+ rows, \d+ file findings?$", line)]
    assert len(per_file) == len(list(workspace.glob("inputs/**/*.*"))) >= 1, lines
    assert any(re.search(r"read done: 3 rows from \d+ file\(s\); findings so far: \d+$", line) for line in lines)
    validate = next(line for line in lines if "validate done:" in line)
    assert re.search(r"2 valid, 1 invalid rows; findings so far: [1-9]\d*$", validate), validate
    assert any(re.search(r"reconcile done; findings so far: [1-9]\d*$", line) for line in lines), lines
    assert any(re.search(r"compile done: \d+ report lines; [1-9]\d* findings listed, [1-9]\d* unresolved", line)
               for line in lines), lines
    assert "Row accounting: rows_read 3" in shown and "Traceback" not in shown  # then the summary


def test_quiet_on_a_terminal_shows_only_the_summary(workspace, tmp_path):
    code, shown = on_terminal("build", workspace, "--out", tmp_path / "out", "--quiet")
    assert code == 1
    assert "Row accounting: rows_read 3" in shown
    assert not re.search(r"\d+\.\ds (read|normalise|validate|reconcile|compile|render)\b", shown), shown
    assert "findings so far" not in shown


def test_piped_output_has_no_progress_only_the_summary(workspace, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "att_report", "build", str(workspace), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=str(REPO))
    assert proc.returncode == 1
    assert "Row accounting: rows_read 3" in proc.stdout
    for stream in (proc.stdout, proc.stderr):
        assert not re.search(r"\d+\.\ds (read|normalise|validate|reconcile|compile|render)\b", stream), stream
        assert "findings so far" not in stream


def test_validate_shows_the_intake_stages_on_a_terminal(workspace, tmp_path):
    code, shown = on_terminal("validate", workspace, "--out", tmp_path / "out")
    assert code in (0, 1), shown
    assert "read done: 3 rows" in shown and "validate done: 2 valid, 1 invalid rows" in shown
    assert "reconcile..." not in shown
