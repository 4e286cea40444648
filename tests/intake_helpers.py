"""Helpers for intake tests: tiny workspaces written on the fly."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["record_id", "flow", "basis", "licence_no", "date", "valid_until", "partner_state", "category",
          "quantity", "value", "currency", "description", "withheld"]

GOOD = {"record_id": "R1", "flow": "export", "basis": "actual", "licence_no": "EL-1", "date": "2024-03-01",
        "valid_until": "", "partner_state": "Germany", "category": "VIII.SA.2", "quantity": "10",
        "value": "1000", "currency": "USD", "description": "Rifle", "withheld": "no"}

CONFIG = """
[report]
state = "NZL"
year = 2024

[[agencies]]
name = "Customs"
role = "customs"
files = ["inputs/customs/*.csv", "inputs/customs/*.xlsx"]
{extra}
"""


def write_workspace(root: Path, rows: list[dict] | None = None, *, extra: str = "", header=HEADER) -> Path:
    """A workspace with one agency and (optionally) one csv of rows (defaults from GOOD)."""
    (root / "inputs" / "customs").mkdir(parents=True, exist_ok=True)
    (root / "att-report.toml").write_text(CONFIG.format(extra=extra), encoding="utf-8")
    if rows is not None:
        with open(root / "inputs" / "customs" / "data.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
            writer.writeheader()
            for i, row in enumerate(rows):
                writer.writerow({**GOOD, "record_id": f"R{i + 1}", **row})
    return root


def intake(root: Path):
    from att_report.config import load_config
    from att_report.pipeline import run_intake

    return run_intake(load_config(root))
