"""Quoted csv read by pandas' C parser: the same grid, lines and field counts as the csv module (issue 7).

A customs export whose descriptions hold commas is quoted; read record by
record with the csv module, 500k rows took ~9 s. `_parse_quoted_csv` must
give exactly what `_parse_csv_records` gives, or None (then the csv module
reads it).
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from att_report.intake import readers
from intake_helpers import HEADER, intake, write_workspace


def _same(fast, slow) -> None:
    grid, lines, widths = fast
    slow_grid, slow_lines, slow_widths = slow
    values = grid.astype(object).where(grid.notna(), None)
    assert values.shape == slow_grid.shape
    assert values.values.tolist() == slow_grid.values.tolist()
    assert lines.tolist() == list(slow_lines)
    assert widths == slow_widths


_FIELD = st.text(alphabet=st.sampled_from(list('ab ,;"\t|\u00a0\u2003\x1cé.-\n\r')), max_size=6)


@st.composite
def _csv_text(draw, regular: bool = False):
    """Generated csv: rows, short rows, blank lines and raw text; `regular`: only full rows, none blank."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 5))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
                        lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    field = _FIELD.filter(lambda f: width > 1 or f.strip()) if regular else _FIELD
    for _ in range(draw(st.integers(1, 8))):
        kind = "row" if regular else draw(st.sampled_from(["row", "row", "short", "blank", "raw"]))
        if kind == "blank":
            out.write("\n")
        elif kind == "raw":  # text no writer would produce: lone or misplaced quotes, stray spaces
            out.write(draw(_FIELD) + delimiter + draw(_FIELD) + "\n")
        else:
            n = width if kind == "row" else draw(st.integers(0, width))
            writer.writerow([draw(field) for _ in range(n)])
    return out.getvalue(), delimiter


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_csv_text())
def test_the_c_parser_gives_what_the_csv_module_gives_or_steps_aside(case):
    text, delimiter = case
    if not text.strip() or '"' not in text:
        return
    fast = readers._parse_quoted_csv(text, delimiter)
    if fast is not None:
        _same(fast, readers._parse_csv_records(text, delimiter))


def test_a_quoted_export_takes_the_fast_path():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Decl. No", "Description", "Qty"])
    for i in range(2000):
        writer.writerow([f"CD-{i}", "Armoured vehicles, spare parts" if i % 3 else "Small arms", str(i)])
    writer.writerow([])
    writer.writerow(["CD-short", "only two"])
    text = out.getvalue()
    fast = readers._parse_quoted_csv(text, ",")
    assert fast is not None
    _same(fast, readers._parse_csv_records(text, ","))
    assert fast[2][-2:] == [(2002, 0, False), (2003, 2, True)]


@pytest.mark.parametrize("text", [
    'a,b\n"never closed,x\ny,z\n',  # a lone quote
    'a,b\nx,y,z\n"q",1\n',        # a record longer than the first
    'a,"b"\nx\x00y,z\n',          # a NUL
])
def test_what_the_c_parser_could_get_wrong_goes_to_the_csv_module(text):
    assert readers._parse_quoted_csv(text, ",") is None
    grid, lines, widths = readers._parse_csv(text, ",")
    _same((grid.astype(object).where(grid.notna(), None), lines, widths), readers._parse_csv_records(text, ","))


@pytest.mark.parametrize("text", [
    'a,b\n"two\nlines",x\nc,d\n',           # a quoted field across lines: the next record starts on line 4
    'a,b\r\n"p\r\nq, r",2\r\n"x\ry",3\r\n',  # CRLF and a lone CR inside quotes count as line breaks too
    'a,b\n"x,\n y"\n\nq\n',               # a short record across lines, a blank line, a short one
])
def test_records_across_lines_keep_their_first_line_and_counts(text):
    fast = readers._parse_quoted_csv(text, ",")
    assert fast is not None
    _same(fast, readers._parse_csv_records(text, ","))


def test_python_white_space_is_listed_completely():
    assert set(readers.PY_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


def test_short_rows_and_line_numbers_through_the_intake(tmp_path):
    write_workspace(tmp_path)
    rows = [HEADER,
            ["R1", "export", "actual", "EL-1", "2024-03-01", "", "France", "VIII.SA.2", "5", "10", "EUR",
             "rifles, spare parts", "no"],
            ["R2", "export", "actual", "EL-1", "2024-03-01", "", "France"],
            [],
            ["R3", "export", "actual", "EL-1", "2024-03-01", "", "Germny", "VIII.SA.2", "5", "10", "EUR",
             'a "quoted" word', "no"]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    assert readers._parse_quoted_csv(out.getvalue(), ",") is not None
    (tmp_path / "inputs/customs/a.csv").write_text(out.getvalue())
    result = intake(tmp_path)
    records = result.records.set_index("record_id")
    assert records["src_row"].to_dict() == {"R1": 2, "R2": 3, "R3": 5}
    assert records.loc["R1", "description"] == "rifles, spare parts"
    assert records.loc["R3", "description"] == 'a "quoted" word'
    assert "csv-short-row" in set(result.findings.loc[result.findings["row"] == 3, "code"])
    assert result.findings.loc[result.findings["code"] == "country-unknown", "row"].tolist() == [5]


# --- pyarrow's csv reader for regular files (every record as wide as the first) -----------------

@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=_csv_text(regular=True))
def test_pyarrow_reads_a_regular_csv_as_the_csv_module_does(monkeypatch, case):
    text, delimiter = case
    if '"' not in text or "\r" in text.replace("\r\n", "\n"):
        return  # unquoted files take the other path; a lone CR is a line break only to the csv module
    with monkeypatch.context() as m:
        m.setattr(readers.pd, "read_csv", lambda *a, **k: pytest.fail("pandas' C parser was used"))
        fast = readers._parse_quoted_csv(text, delimiter)
    assert fast is not None
    _same(fast, readers._parse_csv_records(text, delimiter))


@pytest.mark.parametrize("text", [
    'a,b,c\nab"c,2,3\n',            # a quote inside an unquoted field
    'a,b,c\n"x"y,5,6\n',            # text after a closing quote
    'a,b,c\n "x",5,6\n',            # a space before an opening quote
    'a,b,c\n"x" ,5,6\n',            # a space after a closing quote
])
def test_quotes_that_do_not_enclose_a_field_are_not_left_to_pyarrow(text):
    data = text.encode()
    grid = readers._arrow_csv_grid(text, data, ",", quoted=True)
    assert grid is not None  # pyarrow reads it, its own way
    assert readers._quoted_records(grid, text, data, ",", strict=True) is None
    fast = readers._parse_quoted_csv(text, ",")
    assert fast is not None  # pandas' C parser reads it, as the csv module does
    _same(fast, readers._parse_csv_records(text, ","))


@pytest.mark.parametrize("text", [
    "Customs export 2024\na,b,c\n1,2,3\n",  # a title row narrower than the header
    "a,b,c\n1,2\n4,5,6\n",                   # a short row
    "a,b,c\n1,2,3,4\n",                      # a long row
])
def test_an_irregular_csv_is_not_read_by_pyarrow(text):
    assert readers._arrow_csv_grid(text, text.encode(), ",", quoted=False) is None
    grid, lines, widths = readers._parse_csv(text, ",")
    _same((grid, lines, widths), readers._parse_csv_records(text, ","))


def test_an_unquoted_regular_csv_is_read_by_pyarrow(monkeypatch):
    text = "record_id;qty;note\n" + "".join(f"R{i};00{i};  \n" for i in range(500)) + " ; ;\n"
    monkeypatch.setattr(readers.pd, "read_csv", lambda *a, **k: pytest.fail("pandas' C parser was used"))
    grid, lines, widths = readers._parse_csv(text, ";")
    assert grid.iloc[4, 1] == "003" and grid.iloc[4, 2] == "  "  # text as written: no number guessed
    _same((grid, lines, widths), readers._parse_csv_records(text, ";"))
    assert widths[-1] == (502, 3, False)  # white space and delimiters only: no text, as the csv module says


def test_the_delimiter_of_a_first_line_longer_than_a_megabyte():
    assert readers._sniff_delimiter("\n\n a;b;c\n1,2") == ";"
    assert readers._sniff_delimiter("x" * (1 << 20) + ";;;" + "\na,b") == ";"
    assert readers._sniff_delimiter("   \n  ") == ","


@pytest.mark.parametrize("text", ['a,b\n\ud800x,"q"\n', "a,b\n\ud800x,q\n"])
def test_a_lone_surrogate_from_a_configured_codec_is_read_by_pandas(text):
    """Some codecs (raw_unicode_escape) decode to lone surrogates, which have no UTF-8 for pyarrow."""
    grid, lines, widths = readers._parse_csv(text, ",")
    assert grid.iloc[1, 0] == "\ud800x"
    _same((grid, lines, widths), readers._parse_csv_records(text, ","))
