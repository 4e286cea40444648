"""An openpyxl read-only stand-in for the part of fastexcel that att_report.intake.readers uses.

For reference only (issue 7: "also report the same build with openpyxl as the
reader"). `install()` replaces `fastexcel.read_excel`, so the project's
readers run unchanged (same header detection, same Excel rows) with openpyxl
doing the reading. Cells come out as fastexcel's `dtypes="string"` writes
them: whole numbers without ".0", floats to 15 significant digits, dates as
"YYYY-MM-DD HH:MM:SS", booleans as "true"/"false", blank as missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd


def _text(v):
    if v is None:
        return None
    if isinstance(v, str):
        return v if v != "" else None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else f"{v:.15g}"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d 00:00:00")
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    return str(v)


@dataclass
class _Column:
    name: str
    absolute_index: int


class _Sheet:
    def __init__(self, ws):
        self.visible = getattr(ws, "sheet_state", "visible")
        ws.reset_dimensions()  # read-only mode trusts <dimension>: never let it cut the sheet
        rows = [[_text(v) for v in row] for row in ws.iter_rows(min_row=1, values_only=True)]
        width = max((len(r) for r in rows), default=0)
        # drop trailing rows that are entirely blank, as fastexcel does
        while rows and not any(v is not None for v in rows[-1]):
            rows.pop()
        # leading blank columns are kept: positions stay absolute
        self._frame = pd.DataFrame([r + [None] * (width - len(r)) for r in rows],
                                   columns=[f"__UNNAMED__{i}" for i in range(width)], dtype="string")

    def available_columns(self):
        return [_Column(name, i) for i, name in enumerate(self._frame.columns)]

    def to_pandas(self) -> pd.DataFrame:
        return self._frame


class _Reader:
    def __init__(self, path: str):
        import openpyxl

        self._wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        self.sheet_names = list(self._wb.sheetnames)

    def load_sheet(self, name, header_row=None, skip_rows=0, dtypes=None):
        return _Sheet(self._wb[name])


def read_excel(path) -> _Reader:
    return _Reader(str(path))


def install() -> None:
    """Make `fastexcel.read_excel` (as the project's readers import it) read with openpyxl."""
    import fastexcel

    from att_report.intake import headstart

    fastexcel.read_excel = read_excel
    # the reader workers are fresh processes that would not see this patch: read in-process
    # (with openpyxl the read is nearly the whole build, so a worker would save little)
    headstart.PARALLEL_SHEET_BYTES = 1 << 62
