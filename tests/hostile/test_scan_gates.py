"""The sheet scan's RE2 gates (safety._Gates) skip checks only where they cannot find anything.

Every test compares the gated scan with the same scan run ungated (every
check on every segment, as before the gates): the results must be equal,
field by field, on the hostile corpus, on generated sheets that mix every
construct the checks look for, and on a scan split into many segments.
"""

from __future__ import annotations

import io
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import make_corpus, sheet_xml, table, write_xlsx  # noqa: E402

from att_report.config import Limits  # noqa: E402
from att_report.intake import safety  # noqa: E402

LIMITS = Limits()
WORK = Path(tempfile.mkdtemp(prefix="scan-gates-"))


def _scan(path: Path, letters=("A", "D", "F"), *, gated: bool, monkeypatch=None, chunk: int | None = None):
    make = safety._Gates.make
    old_chunk = safety._CHUNK
    try:
        if not gated:
            safety._Gates.make = classmethod(lambda cls, cols: None)
        if chunk:
            safety._CHUNK = chunk
        pre = safety.preflight(path, LIMITS, scan_sheets=False)
        if pre.pending:
            safety.complete_preflight(path, pre, LIMITS, numeric_letters={n: frozenset(letters) for n in pre.sheets})
        return pre
    finally:
        safety._Gates.make = make
        safety._CHUNK = old_chunk


def _facts(pre) -> dict:
    out = {"refuse": pre.refuse, "findings": sorted((f.code, f.sheet, f.row or 0, f.field, f.message)
                                                    for f in pre.findings)}
    for name, scan in pre.sheets.items():
        numeric = scan.numeric.reset_index(drop=True) if scan.numeric is not None else None
        out[name] = (scan.hidden_rows, scan.dimension, scan.dimension_rows, scan.max_row, scan.last_data_row,
                     scan.max_col, scan.far_cell, scan.refuse,
                     scan.cell_problems.reset_index(drop=True).to_dict("list"),
                     None if numeric is None else numeric.to_dict("list"))
    return out


def _same(path: Path, **kw) -> None:
    gated, plain = _scan(path, gated=True, **kw), _scan(path, gated=False, **kw)
    assert _facts(gated) == _facts(plain)


def test_the_gates_are_available_here():
    """pyarrow ships RE2: the fast path is the one that runs (else these tests compare a path with itself)."""
    assert safety._Gates.make(["A"]) is not None


CORPUS = make_corpus(WORK / "corpus", big=False)


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind in ("xlsx", "xlsm")], ids=lambda c: c.name)
def test_gated_scan_equals_the_plain_scan_on_the_hostile_corpus(case):
    _same(case.path)


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind in ("xlsx", "xlsm") and c.cells],
                         ids=lambda c: c.name)
def test_gated_scan_in_small_segments_equals_the_plain_scan(case):
    """Segments of a few hundred bytes: the gates run on every row's own segment."""
    _same(case.path, chunk=256)


# --- generated sheets mixing every construct the checks look for --------------------------

_FRAGMENTS = [
    '<c r="{c}{r}" t="inlineStr"><is><t>text</t></is></c>',
    '<c r="{c}{r}"><v>12345</v></c>',  # a number-typed cell (an identifier column among A, D, F)
    '<c r="{c}{r}" s="3"><v>1.2345678901234568E+16</v></c>',
    '<c s="2" r="{c}{r}"><v>42</v></c>',  # r not first: the slow numeric pattern
    '<c r="{c}{r}" t="n"><v>7</v></c>',
    '<c r="{c}{r}" t="s"><v>0</v></c>',
    '<c r="{c}{r}" t="e"><v>#N/A</v></c>',
    '<c r="{c}{r}" t="e"/>',
    '<c r="{c}{r}"><f>SUM(A1:A2)</f></c>',
    '<c r="{c}{r}"><f>SUM(A1:A2)</f><v></v></c>',
    '<c r="{c}{r}"><f t="shared" si="0"/></c>',
    '<c r="{c}{r}" t="str"><f>""</f><v></v></c>',
    '<c r="{c}{r}"><f>cmd|\'/c calc\'!A0</f><v>0</v></c>',
    '<c r="{c}{r}"><f>DDE("cmd";"x";"y")</f><v>0</v></c>',
    '<c r="{c}{r}"><f>dde ("cmd";"x";"y")</f><v>0</v></c>',
    '<c r="{c}{r}"><f>A1&amp;"a|b"</f><v>1</v></c>',
    '<c r="{c}{r}" s="1"/>',
    '<c r="AB{r}" t="inlineStr"><is><t>far</t></is></c>',
    '<c r="{c}{r}"\t\n s="1"\x0b><v>3</v></c>',  # odd white space (\v is not XML white space)
    '<c r="{c}{r}" t="inlineStr"><is><t>caf\u00e9 \u00fc|x</t></is></c>',
    '<c r="{c}{r}" t="inlineStr"><is><t>a &lt;!-- b</t></is></c>',
]
_ROW_ATTRS = ["", ' hidden="1"', ' hidden="true"', ' spans="1:3"', ' ht="20" customHeight="1" hidden="0"']


@st.composite
def sheets(draw):
    rows = []
    for r in range(1, draw(st.integers(1, 40)) + 1):
        cells = "".join(draw(st.sampled_from(_FRAGMENTS)).format(c=draw(st.sampled_from("ABCDEF")), r=r)
                        for _ in range(draw(st.integers(0, 6))))
        rows.append(f'<row r="{r}"{draw(st.sampled_from(_ROW_ATTRS))}>{cells}</row>')
    merges = draw(st.sampled_from(["", '<mergeCells count="1"><mergeCell ref="B2:C3"/></mergeCells>']))
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'<dimension ref="A1:F{len(rows)}"/><sheetData>' + "".join(rows) + "</sheetData>" + merges
           + "</worksheet>")
    if draw(st.booleans()):  # the same sheet with a namespace prefix on every element
        xml = (xml.replace("<", "<x:").replace("<x:/", "</x:").replace("<x:?", "<?")
               .replace("xmlns=", "xmlns:x="))
    return xml


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xml=sheets(), chunk=st.sampled_from([None, 300, 2000]))
def test_gated_scan_equals_the_plain_scan_on_generated_sheets(xml, chunk):
    buf = io.BytesIO()
    write_xlsx(buf, [("Transfers", xml, "visible")])
    path = WORK / "generated.xlsx"
    path.write_bytes(buf.getvalue())
    _same(path, chunk=chunk)


# --- each gate opens for its own checks ---------------------------------------------------

@pytest.mark.parametrize("segment, family", [
    (b'<row r="2" hidden="1"><c r="A2"/></row>', 0),
    (b'<row r="2"><c r="A2" t="e"><v>#REF!</v></c></row>', 0),
    (b'<row r="2"><c r="A2"><f>A1</f></c></row>', 0),
    (b'<row r="2"><c r="A2"><f t="shared" si="1"/> </c></row>', 0),
    (b'<row r="2"><c r="A2"><f t="shared" si="1"/><v/></c></row>', 0),
    (b'<row r="2"><c r="A2"><f>x|y!z</f><v>1</v></c></row>', 0),
    (b'<mergeCells><mergeCell ref="A1:B2"/></mergeCells>', 0),
    (b'<mergeCells count="1"><mergeCell ref="A1:B2"></mergeCell></mergeCells>', 0),
    (b'<!DOCTYPE x>', 0),
    (b'<row r="2"><c r="AA2"><v>1</v></c></row>', 1),
    (b'<row r="2"><c r="D2"><v>1</v></c></row>', 2),
    (b'<row r="2"><x:c s="1" t="n" r="F2"><x:v>1</x:v></x:c></row>', 2),
    (b'<row r="2"><c r="A2" s="1"><f>B2</f><v>1</v></c></row>', 2),
])
def test_each_gate_opens_for_what_its_checks_find(segment, family):
    gates = safety._Gates.make(["A", "D", "F"])
    assert gates.families(segment)[family]


def test_a_clean_segment_passes_every_gate_closed():
    seg = (b'<row r="5"><c r="A5" t="inlineStr"><is><t>CD-1</t></is></c><c r="D5" t="s"><v>3</v></c>'
           b'<c r="H5"><v>50</v></c></row>')
    assert safety._Gates.make(["A", "D", "F"]).families(seg) == (False, False, False)


def test_without_re2_the_scan_runs_every_check(monkeypatch, tmp_path):
    """A pyarrow without RE2 (or any failure of the gate) falls back to the ungated scan."""
    import pyarrow.compute as pc

    def broken(*args, **kwargs):
        raise NotImplementedError("no RE2")

    monkeypatch.setattr(pc, "match_substring_regex", broken)
    assert safety._Gates.make(["A"]) is None
    path = write_xlsx(tmp_path / "e.xlsx", [("T", sheet_xml(table(3), cells={2: '<c r="J2" t="e"><v>#N/A</v></c>'}),
                                             "visible")])
    pre = _scan(path, gated=True)
    problems = pre.sheets["T"].cell_problems
    assert (problems["kind"] == "error-cell").any()
