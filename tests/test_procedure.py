"""The reporting-procedure document lists every agency and every config choice; deterministic; golden."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from att_report.config import load_config
from att_report.coordination.procedure import build_model, read_profile, write_procedure
from att_report.reconcile import decisions
from att_report.schema import INTAKE_COLUMNS

GOLDEN = Path(__file__).parent / "golden" / "coordination"

CONFIG = """\
[report]
state = "NZL"
year = 2024
currency = "NZD"
public = true
unroca = true
sources_sheet = false
submission_date = 2025-05-20
collection_deadline = 2025-03-14
validation_deadline = 2025-04-11
signoff_date = 2025-05-09
national_definitions = "Categories follow the ATT scope; no voluntary national categories."

[contact]
name = "Alex Example"
position = "Senior Adviser"
organisation = "Ministry of Foreign Affairs"
telephone = "+64 4 111 1111"
email = "npc@example.org"
address = "1 Example Street, Wellington"

[[agencies]]
name = "Licensing Authority"
role = "licensing"
files = ["inputs/licensing/*.xlsx", "inputs/licensing/*.csv"]
provides = "licences issued"
due = 2025-02-28
contact = { name = "Jo Bloggs", position = "Licensing Officer", unit = "Export Controls", organisation = "MFAT", email = "jo@example.org", telephone = "+64 4 000 0000", address = "PO Box 1" }

[[agencies]]
name = "Customs Service"
role = "customs"
files = ["inputs/customs/*.csv"]
profile = "profiles/customs.toml"
encoding = "cp1252"
date_order = "MDY"
decimal = ","
provides = "export and import declarations"
due = 2025-03-07
contact = { name = "Sam Lee", email = "sam@customs.example" }

[[agencies]]
name = "Defence <Logistics> & Co"
role = "defence"
files = ["inputs/defence/*.xlsx"]
profile = "profiles/defence.toml"

[exports]
basis = "authorized"
measure = "number"
aggregate = "per_transfer"
definition = "Transfer of title and control to a foreign end user."

[imports]
basis = "both"
measure = "value"
aggregate = "per_partner"
definition = "Physical entry into the customs territory."

[rates]
EUR = 1.81
USD = 1.65

[reconcile]
near_duplicate_days = 21
"""

PROFILE = """\
sheet = "Declarations"
header_row = 3
[columns]
"Decl. No" = "record_id"
"Country of destination" = "partner_state"
"Tariff" = "hs_code"
[constants]
basis = "actual"
"""


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ATT_REPORT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.is_file(), f"missing golden file {path}; run with ATT_REPORT_UPDATE_GOLDEN=1"
    assert text == path.read_bytes().decode("utf-8")


def make(tmp_path: Path, config: str = CONFIG, profile: str | None = PROFILE):
    (tmp_path / "att-report.toml").write_text(config, encoding="utf-8")
    if profile is not None:
        (tmp_path / "profiles").mkdir()
        (tmp_path / "profiles" / "customs.toml").write_text(profile, encoding="utf-8")
    config = load_config(tmp_path)
    paths = write_procedure(config, tmp_path / "out")
    return config, paths


def test_writes_md_and_html_named_by_year(tmp_path):
    _, paths = make(tmp_path)
    assert [p.name for p in paths] == ["reporting_procedure_2024.md", "reporting_procedure_2024.html"]
    assert all(p.parent == tmp_path / "out" and p.is_file() for p in paths)


def test_every_agency_role_contact_and_due_date(tmp_path):
    config, (md_path, html_path) = make(tmp_path)
    md = md_path.read_text(encoding="utf-8")
    page = html.unescape(html_path.read_text(encoding="utf-8"))
    for doc in (md, page):
        for agency in config.agencies:
            assert agency.name in doc
            for pattern in agency.files:
                assert pattern in doc
            for value in vars(agency.contact).values():
                if value:
                    assert value in doc, value
            if agency.provides:
                assert agency.provides in doc
            if agency.due:
                assert agency.due.isoformat() in doc
            assert f"out/feedback/{agency.slug}.xlsx" in doc
        for role in ("licensing", "customs", "defence"):
            assert f"({role})" in re.sub(r"[`]|</?code>", "", doc)
        for value in vars(config.contact).values():  # the national point of contact
            assert value in doc


def test_every_config_choice_is_stated(tmp_path):
    config, (md_path, html_path) = make(tmp_path)
    md = md_path.read_text(encoding="utf-8")
    page = html.unescape(html_path.read_text(encoding="utf-8"))
    for doc in (md, page):
        for d in ("2025-03-14", "2025-04-11", "2025-05-09", "2025-05-20", "2025-05-31"):
            assert d in doc, d
        assert "Collection deadline" in doc and "Validation deadline" in doc and "sign-off" in doc
        assert config.national_definitions in doc
        assert config.exports.definition in doc and config.imports.definition in doc
        for code in ("authorized", "both", "number", "value", "per_transfer", "per_partner"):
            assert code in doc
        assert "never added together" in doc
        assert "Report currency: NZD" in doc
        assert "EUR: 1.81" in doc and "USD: 1.65" in doc
        assert "may be made public: yes" in doc
        assert "UNROCA return from the same data: yes" in doc
        assert "out/UNROCA_NZL_2024.xlsx" in doc
        assert "not for submission): no" in doc
        assert "cp1252" in doc and "MDY" in doc and "decimal separator: comma" in doc
        assert "near_duplicate_days" in doc and "21" in doc
        # decisions file, outputs and record keeping
        assert "decisions.csv" in doc
        for word in (*decisions.COLUMNS, *decisions.DECISION_WORDS, "mandatory"):
            assert word in doc
        assert "manifest.json" in doc and "10 years" in doc and "Art. 12" in doc
        assert "out/ATT_annual_report_NZL_2024.xlsx" in doc


def test_intake_columns_and_profiles(tmp_path):
    _, (md_path, _) = make(tmp_path)
    md = md_path.read_text(encoding="utf-8")
    for column in INTAKE_COLUMNS:
        assert f"| `{column.name}` | {column.required} |" in md
    # the customs profile: path and column mapping, agency's column -> intake column
    assert "profiles/customs.toml" in md
    assert "| Decl. No | record_id |" in md
    assert "| Country of destination | partner_state |" in md
    assert "`constants.basis` = actual" in md and "`sheet` = Declarations" in md
    # the defence profile is named but not in the workspace yet
    assert "profiles/defence.toml" in md
    assert "the profile file is not in the workspace yet" in md
    # the licensing authority uses the intake template
    section = md.split("### Licensing Authority", 1)[1].split("###", 1)[0]
    assert "Form: the intake template (" in section
    # once `init` has written its blank template, the document names the file
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "intake_licensing_authority.xlsx").write_bytes(b"x")
    md_path, _ = write_procedure(load_config(tmp_path), tmp_path / "out")
    assert "Form: the intake template `templates/intake_licensing_authority.xlsx`" in md_path.read_text("utf-8")


def test_profile_mapping_either_way_round_and_bad_profiles(tmp_path):
    config, _ = make(tmp_path, profile='[columns]\nrecord_id = "Decl. No"\npartner_state = "Dest"\n')
    customs = config.agencies[1]
    assert read_profile(config, customs).columns == (("Decl. No", "record_id"), ("Dest", "partner_state"))
    (tmp_path / "profiles" / "customs.toml").write_text("sheet = \n", encoding="utf-8")
    assert "could not be read as TOML" in read_profile(config, customs).problem
    (tmp_path / "profiles" / "customs.toml").write_text('sheet = "X"\n', encoding="utf-8")
    info = read_profile(config, customs)
    assert info.problem == "the profile has no [columns] table" and info.settings == (("sheet", "X"),)
    assert read_profile(config, config.agencies[0]) is None


def test_html_is_escaped_and_offline(tmp_path):
    _, (md_path, html_path) = make(tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "Defence &lt;Logistics&gt; &amp; Co" in page
    assert "<Logistics>" not in page
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)
    assert page.startswith("<!DOCTYPE html>")


def test_markdown_table_cells_cannot_break(tmp_path):
    cfg = CONFIG.replace('provides = "licences issued"', 'provides = "licences | permits\\nissued"')
    _, (md_path, _) = make(tmp_path, cfg)
    md = md_path.read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| Licensing Authority |"))
    assert "licences \\| permits issued" in row
    assert len(re.split(r"(?<!\\)\|", row)) == 5 + 2  # five cells between the outer pipes


def test_defaults_say_not_set(tmp_path):
    cfg = ('[report]\nstate = "NZL"\nyear = 2024\n\n[[agencies]]\nname = "Customs"\nrole = "customs"\n'
           'files = ["inputs/customs/*.csv"]\n')
    config, (md_path, _) = make(tmp_path, cfg, profile=None)
    md = md_path.read_text(encoding="utf-8")
    assert "| not set | Collection deadline" in md
    assert "| 2025-05-31 | ATT deadline" in md
    assert "(typical for the role; not set in the config)" in md
    assert "Report currency: not set" in md
    assert "Not set: add a `[contact]` section" in md
    model = build_model(config)
    assert [t.basis for t in model.tables] == ["actual", "actual"]


def test_deterministic_and_golden(tmp_path):
    _, paths = make(tmp_path)
    first = [p.read_bytes() for p in paths]
    config = load_config(tmp_path)
    again = write_procedure(config, tmp_path / "again")
    assert [p.read_bytes() for p in again] == first
    assert not list((tmp_path / "out").glob("*.tmp"))
    golden("reporting_procedure_2024.md", first[0].decode("utf-8"))
    golden("reporting_procedure_2024.html", first[1].decode("utf-8"))
