"""atheris harness for the per-file intake path: preflight, then the reader.

It follows the production path: `safety.preflight` first; refused files stop
there; files the containment policy flags go through `run_contained`; others
are read in-process with `readers.read_file`. Any exception that escapes
(read_file turns bad data into findings), a Rust panic or an abort is a bug.

    pip install atheris
    python tests/fuzz/fuzz_reader.py -atheris_runs=20000 fuzz-corpus/   # seeds written on first run
    python tests/fuzz/fuzz_reader.py -max_total_time=600 fuzz-corpus/

Crashing inputs are saved by libFuzzer as crash-<sha1> in the current folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

import pandas  # noqa: F401,E402 - heavy libraries load uninstrumented: coverage of our code is what guides

with atheris.instrument_imports(include=["att_report"]):
    from att_report.config import AgencyConfig, Limits
    from att_report.intake import readers, safety

HERE = Path(__file__).resolve().parent
AGENCY = AgencyConfig(name="Fuzz", role="customs", files=("*",))
LIMITS = Limits(worker_memory_mb=2048, worker_timeout_s=60)
SUFFIXES = (".xlsx", ".csv", ".ods", ".xlsm")
WORK = Path(tempfile.mkdtemp(prefix="att-fuzz-"))


def check(data: bytes) -> None:
    if not data:
        return
    suffix = SUFFIXES[data[0] % len(SUFFIXES)] if data[:2] != b"PK" else ".xlsx"
    path = WORK / f"input{suffix}"
    path.write_bytes(data)
    pre = safety.preflight(path, LIMITS, agency=AGENCY.name, rel_file=path.name)
    if pre.refuse:
        assert any(f.severity == "error" for f in pre.findings)
        return
    if safety.contain_policy(pre):
        try:
            safety.run_contained(readers.read_file, path, AGENCY, path.name, limits=LIMITS, kind=pre.kind)
        except safety.ReaderCrashed:
            pass  # contained: becomes a finding in the pipeline
        return
    readers.read_file(path, AGENCY, path.name, limits=LIMITS, kind=pre.kind)


def seed(folder: Path) -> None:
    """Write the hostile corpus (small cases) as seeds when the folder is empty."""
    sys.path.insert(0, str(HERE.parent / "hostile"))
    from make_corpus import make_corpus

    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        for case in make_corpus(WORK / "seeds", big=False):
            if case.path.stat().st_size < 200_000:
                (folder / case.path.name).write_bytes(case.path.read_bytes())


def main() -> None:
    dirs = [a for a in sys.argv[1:] if not a.startswith("-")]
    if dirs:
        seed(Path(dirs[0]))
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
