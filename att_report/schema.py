"""The canonical record: intake columns, provenance columns, dispositions.

This module is the contract between the stages. Intake produces one frame of
*all rows read* (`records`), never dropping one; later stages only add or set
columns (notably `disposition`), so the row accounting is a group-by.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class IntakeColumn:
    name: str
    required: str  # plain-language rule, shown in the README and the intake template
    meaning: str
    kind: str  # text | id | code | date | country | countries | category | int | number | currency | flag
    aliases: tuple[str, ...] = ()


#: The canonical intake columns, in template order.
INTAKE_COLUMNS: tuple[IntakeColumn, ...] = (
    IntakeColumn("record_id", "yes", "the agency's own reference; unique within that agency's files", "id",
                 ("reference", "ref", "id", "record", "record_no", "transfer_id")),
    IntakeColumn("flow", "yes", "export or import", "code", ("direction", "type_of_transfer")),
    IntakeColumn("basis", "yes", "authorized (a licence / authorization) or actual (a delivery)", "code",
                 ("authorized_or_actual",)),
    IntakeColumn("licence_no", "yes on authorized rows; expected on actual rows",
                 "licence / authorization number; links shipments to licences", "id",
                 ("licence", "license", "license_no", "licence_number", "license_number", "licence_id",
                  "authorization_no", "authorisation_no", "permit_no")),
    IntakeColumn("date", "yes", "licence issue date (authorized) or shipment / declaration date (actual)", "date",
                 ("issue_date", "shipment_date", "declaration_date", "date_of_issue", "transfer_date")),
    IntakeColumn("valid_until", "no", "licence expiry date", "date",
                 ("expiry", "expiry_date", "expires", "valid_to", "expiration_date")),
    IntakeColumn("partner_state", "yes",
                 "final importing State (exports) or exporting State (imports)", "country",
                 ("partner", "partner_country", "country", "destination", "importing_state", "exporting_state",
                  "final_importing_state")),
    IntakeColumn("origin_state", "no", "State of origin, if not the exporter", "country",
                 ("origin", "state_of_origin", "country_of_origin")),
    IntakeColumn("intermediate_states", "no", "transit / intermediate States, separated by ;", "countries",
                 ("intermediate", "transit", "transit_states", "intermediate_locations", "intermediate_location_s")),
    IntakeColumn("category", "yes, unless hs_code resolves it",
                 "ATT category code (e.g. IV.a, VIII.SA.2) or label", "category",
                 ("att_category", "category_code", "cat")),
    IntakeColumn("hs_code", "no", "customs tariff code", "id", ("hs", "tariff_code", "commodity_code", "cn_code")),
    IntakeColumn("quantity", "quantity or value", "number of items (whole, non-negative)", "int",
                 ("qty", "number_of_items", "items", "units")),
    IntakeColumn("value", "quantity or value", "monetary value (non-negative)", "number",
                 ("amount", "monetary_value")),
    IntakeColumn("currency", "yes when value is given", "ISO 4217 code", "currency", ("ccy", "curr")),
    IntakeColumn("description", "no", "model / type", "text",
                 ("item", "description_of_item", "model", "item_description")),
    IntakeColumn("end_user", "no", "end user", "text", ("consignee", "enduser")),
    IntakeColumn("comments", "no", "comments on the transfer", "text", ("comment", "remarks", "notes")),
    IntakeColumn("withheld", "no", "yes/no: withheld from publication under ATT Art. 13(3)", "flag",
                 ("withhold", "confidential", "art_13_3")),
)

INTAKE_NAMES: tuple[str, ...] = tuple(c.name for c in INTAKE_COLUMNS)
COLUMN_BY_NAME = {c.name: c for c in INTAKE_COLUMNS}

FLOWS = ("export", "import")
BASES = ("authorized", "actual")

#: Provenance carried by every record (and cited by every finding).
PROVENANCE_COLUMNS = ("row_uid", "src_agency", "src_role", "src_file", "src_sheet", "src_row")

#: Columns every records frame has after intake, in order.
#:   row_uid       int64   unique per row read in this run (stable order: agency, file, sheet, row)
#:   src_agency    str     agency name from the config
#:   src_role      str     licensing | customs | defence | interior | other
#:   src_file      str     workspace-relative posix path
#:   src_sheet     str     sheet name ("" for csv)
#:   src_row       int64   Excel row number (or csv line) as the user sees it
#:   record_id..withheld   canonical fields (see INTAKE_COLUMNS), normalised:
#:       flow/basis lower-case codes; dates datetime64; states ISO alpha-3;
#:       intermediate_states "AAA;BBB"; category canonical code; quantity
#:       Int64; value Float64; currency ISO 4217; withheld boolean
#:   licence_key   str     licence_no normalised for linking (see normalise.licence_key)
#:   valid         bool    passed intake validation (no error finding on the row)
#:   disposition   str     one of DISPOSITIONS once the build assigns it ("" before)
#:   disposition_ref str   the report line, record, finding or decision behind it
RECORD_COLUMNS = (
    *PROVENANCE_COLUMNS, *INTAKE_NAMES, "licence_key", "valid", "disposition", "disposition_ref",
)

DISPOSITIONS = ("reported", "merged", "excluded", "withheld", "invalid", "reference")


def header_key(text: object) -> str:
    """Normalise a column header: case, spaces and punctuation do not matter.

    `Partner State`, `partner_state` and ` PARTNER-STATE ` all give `partner_state`.
    """
    s = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    s = re.sub(r"[^\w]+", "_", s, flags=re.UNICODE)
    return s.strip("_")


#: header_key(alias or name) -> canonical column name
HEADER_LOOKUP: dict[str, str] = {}
for _col in INTAKE_COLUMNS:
    HEADER_LOOKUP[_col.name] = _col.name
    for _alias in _col.aliases:
        HEADER_LOOKUP.setdefault(header_key(_alias), _col.name)
