"""normalise parses its fields in threads (issue 7): the records frame is the one a single thread makes.

Each field task reads its own inputs and returns its own columns; the
frame is put together in one fixed order. These tests compare the threaded
frame with the single-threaded one (values, dtypes, column order) on the
sample workspace and on rows mixing every kind of mess, several times over
(thread timing differs between runs), and check that a failing task fails
the stage and leaves no thread behind.
"""

from __future__ import annotations

import random
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from att_report.config import AgencyConfig, load_config
from att_report.intake.tables import RawTable
from att_report.normalise import canonical
from att_report.normalise.canonical import normalise, raw_frame
from att_report.schema import INTAKE_NAMES

ROOT = Path(__file__).resolve().parents[1]

_MESS = {
    "record_id": ["R-1", " R-2 ", "R\u200b3", None, "", "00140915", "１２３"],
    "flow": ["export", "Export", "EXP", "x", "import", "in", "sideways", None, " out "],
    "basis": ["authorised", "actual", "licence", "delivered", "maybe", None],
    "licence_no": ["L-001", "l 001", "L\u2011001", "ＬＩＣ-９", None, "  ", "L-001/A"],
    "date": ["2024-03-15", "15/03/2024", "03/15/2024", "45000", "45000.5", "31/02/2024", "March 2024", None,
             "2024-03-15 00:00:00", "60"],
    "valid_until": ["2025-12-31", "31.12.2025", "", None, "never"],
    "partner_state": ["Germany", "DEU", "DE", "Allemagne", "Deutschland", "Atlantis", "Korea", None, "  france "],
    "origin_state": ["USA", "United States", "", None, "Narnia"],
    "intermediate_states": ["FRA; BEL", "France, Belgium", "Atlantis;DEU", None, ""],
    "category": ["II", "VIII.SA.1", "Battle tanks", "cat 3", "small arms", "X", None, ""],
    "hs_code": ["9302.00", "930190", "8710", "9999", None, "87 10 00"],
    "quantity": ["1", "1,000", "1.000", "2.5", "-0", "abc", "1e3", "１２", None, "12345678901234567890"],
    "value": ["1000.50", "1.000,50", "1 000,50", "$12", "", None, "-5", "3.4e5"],
    "currency": ["USD", "eur", "€", "Dollars", "XXX", None],
    "description": ["rifles", "  ", "a\x07b", None],
    "end_user": ["MoD", None, "Army\u00a0"],
    "comments": [None, "note", "\ufeffbom"],
    "withheld": ["yes", "N", "oui", "maybe", None, "1"],
}


def _table(agency: str, rows: int, seed: int) -> RawTable:
    rng = random.Random(seed)
    data = pd.DataFrame({name: pd.array([rng.choice(_MESS.get(name, [None, "x"])) for _ in range(rows)],
                                        dtype="string") for name in INTAKE_NAMES})
    return RawTable(agency=agency, role="customs" if agency == "C" else "licensing", file=f"{agency}.xlsx",
                    sheet="S", header_row=1, data=data, excel_rows=np.arange(2, rows + 2, dtype="int64"),
                    column_letters={}, field_columns={name: name for name in INTAKE_NAMES})


def _messy():
    tables = [_table("L", 700, 1), _table("C", 1500, 2)]
    tables[1].date1904 = True
    tables[1].typed_numbers["quantity"] = np.arange(1500) % 7 == 0
    agencies = {"L": AgencyConfig(name="L", role="licensing", files=("*",), date_order="DMY", decimal=","),
                "C": AgencyConfig(name="C", role="customs", files=("*",), date_order="MDY")}
    profiles = {"L": None, "C": None}
    return raw_frame(tables, profiles), agencies, profiles


def _same(raw, agencies, profiles):
    one = normalise(raw, agencies, profiles, threads=1)
    for _ in range(3):
        many = normalise(raw, agencies, profiles, threads=4)
        assert list(many.columns) == list(one.columns)
        pd.testing.assert_frame_equal(many, one, check_exact=True)
    return one


def test_threaded_normalise_equals_one_thread_on_messy_rows():
    raw, agencies, profiles = _messy()
    one = _same(raw, agencies, profiles)
    # the mess is really parsed (not all blank): the comparison means something
    assert one["partner_state"].notna().any() and one["date"].notna().any() and one["num_value"].notna().any()
    assert (one["st_date"] == "invalid").any() and (one["st_quantity"] != "ok").any()


def test_threaded_normalise_equals_one_thread_on_the_sample_workspace(tmp_path):
    from att_report.pipeline import run_intake

    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "sample_inputs", ws)
    config = load_config(ws)
    tables = run_intake(config).tables
    agencies = {a.name: a for a in config.agencies}
    from att_report.pipeline import load_profiles

    profiles = load_profiles(config)
    _same(raw_frame(tables, profiles), agencies, profiles)


def test_a_failing_field_fails_the_stage_and_leaves_no_thread(monkeypatch):
    raw, agencies, profiles = _messy()

    def broken(*args, **kwargs):
        raise RuntimeError("country table missing")

    monkeypatch.setattr(canonical.countries, "resolve_countries", broken)
    with pytest.raises(RuntimeError, match="country table missing"):
        normalise(raw, agencies, profiles, threads=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("att-report-normalise")]


def test_the_build_uses_more_than_one_thread():
    """The default is threaded (else the speed-up silently disappears)."""
    from att_report import threads

    assert canonical.NORMALISE_THREADS is None and threads.THREADS >= 2
