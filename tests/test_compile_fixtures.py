"""Shared fixtures for the compile / report tests (records built through the contract; no tests here)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from att_report.config import parse_config
from att_report.records import make_records


def make_config(tmp: Path | str = "/tmp", *, exports: dict | None = None, imports: dict | None = None,
                report: dict | None = None, rates: dict | None = None, contact: dict | None = None):
    data = {
        "report": {"state": "NZL", "year": 2024, **(report or {})},
        "agencies": [{"name": "Customs", "role": "customs", "files": ["inputs/customs/*.xlsx"]}],
    }
    if exports is not None:
        data["exports"] = exports
    if imports is not None:
        data["imports"] = imports
    if rates is not None:
        data["rates"] = rates
    if contact is not None:
        data["contact"] = contact
    return parse_config(data, Path(tmp))


def rec(**kw) -> dict:
    base = dict(flow="export", basis="actual", date="2024-03-01", currency="USD")
    base.update(kw)
    return base


def sample_records() -> pd.DataFrame:
    """Two agencies' rows exercising every compile path (bases, years, merges, withheld...)."""
    customs = make_records([
        rec(record_id="C1", partner_state="DEU", category="VIII.SA.2", quantity=10, value=1000.0,
            description="Rifle M1", comments="Police"),
        rec(record_id="C2", partner_state="DEU", category="VIII.SA.2", quantity=5, value=500.0,
            description="Rifle M1", comments="Army"),
        rec(record_id="C3", partner_state="DEU", category="VIII.SA.2", quantity=2, value=200.0,
            description="Carbine C7", origin_state="USA"),
        rec(record_id="C4", partner_state="FRA", category="I", quantity=3, value=3_000_000.0,
            description="=HYPERLINK(\"http://x\")", intermediate_states="BEL;NLD"),
        rec(record_id="C5", partner_state="AUS", category="IV.b", quantity=1, value=900.0, currency="EUR",
            description="UAV"),
        rec(record_id="C6", partner_state="AUS", category="IV.b", quantity=1, value=100.0, date="2023-12-31"),
        rec(record_id="C7", flow="import", partner_state="USA", category="VIII.SA.1", quantity=50, value=25000.0,
            description="Pistol P1"),
        rec(record_id="C8", flow="import", partner_state="GBR", category="II", quantity=4, value=4_000_000.0,
            withheld=True),
        rec(record_id="C9", partner_state="CAN", category="VI", quantity=1, value=1.0, valid=False,
            disposition="invalid", disposition_ref="F-x"),
        rec(record_id="C10", partner_state="DEU", category="VIII.SA.2", quantity=10, value=1000.0,
            disposition="merged", disposition_ref="Defence:inputs/defence/d.xlsx:2"),
        rec(record_id="C11", partner_state="NZL", category="VIII.SA.2", quantity=1, value=1.0,
            disposition="excluded", disposition_ref="F-own"),
    ], agency="Customs", role="customs", file="inputs/customs/decl.xlsx", sheet="Exports")
    licences = make_records([
        rec(record_id="L1", basis="authorized", date="2024-01-10", partner_state="DEU", category="VIII.SA.2",
            quantity=20, value=2000.0, licence_no="EL-1", description="Rifle M1"),
        rec(record_id="L2", basis="authorized", date="2023-06-01", partner_state="FRA", category="I",
            quantity=3, value=3_000_000.0, licence_no="EL-2"),
        rec(record_id="L3", basis="authorized", flow="import", date="2024-02-01", partner_state="USA",
            category="VIII.SA.1", quantity=60, value=30000.0, licence_no="IL-1"),
    ], agency="Licensing", role="licensing", file="inputs/licensing/lic.csv", sheet="")
    frame = pd.concat([customs, licences], ignore_index=True)
    frame["row_uid"] = range(len(frame))
    frame["also_from"] = pd.Series([""] * len(frame), dtype="string")
    frame.loc[0, "also_from"] = "Defence:inputs/defence/d.xlsx:2"
    return frame
