"""att-report init: a workspace that loads; input discovery; workspace-relative paths."""

from __future__ import annotations

import datetime as dt

import pytest

from att_report.config import CONFIG_NAME, ConfigError, load_config
from att_report.workspace import DEFAULT_AGENCIES, discover_files, init_workspace, relative_path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws") / "att-2024"
    created = init_workspace(root, state="New Zealand", year=2024)
    return root, created


def test_init_creates_a_workspace_that_loads(workspace):
    root, created = workspace
    config = load_config(root)
    assert config.state == "NZL" and config.year == 2024 and config.public is False
    assert [(a.name, a.role) for a in config.agencies] == [
        ("Licensing Authority", "licensing"), ("Customs", "customs"), ("Ministry of Defence", "defence")]
    for agency in config.agencies:
        assert (root / "inputs" / agency.slug).is_dir()
        template = root / "templates" / f"intake_{agency.slug}.xlsx"
        assert template.is_file() and template in created
        assert set(agency.files) == {f"inputs/{agency.slug}/*.{ext}" for ext in ("xlsx", "xlsm", "csv", "ods")}
    assert root / CONFIG_NAME in created
    # templates are outside inputs/: never read as data
    assert all(not files for files in discover_files(config).values())
    text = (root / CONFIG_NAME).read_text(encoding="utf-8")
    assert "# [[agencies]]" in text and 'name = "Police"' in text  # optional agency, commented out


def test_commented_police_block_loads_when_uncommented(workspace, tmp_path):
    root, _ = workspace
    text = (root / CONFIG_NAME).read_text(encoding="utf-8")
    block = text[text.index("# [[agencies]]"):]
    lines = [line[2:] if line.startswith("# ") and "due =" not in line and "contact" not in line
             and not line.startswith("# name = \"\"") and not line.startswith("# email") else line
             for line in block.splitlines()]
    (tmp_path / CONFIG_NAME).write_text(text.replace(block, "\n".join(lines)), encoding="utf-8")
    config = load_config(tmp_path)
    assert config.agencies[-1].name == "Police" and config.agencies[-1].role == "interior"


def test_refuses_to_overwrite_without_force(workspace):
    root, _ = workspace
    path = root / CONFIG_NAME
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="already exists.*--force"):
        init_workspace(root, state="NZL", year=2023)
    assert path.read_bytes() == before


def test_force_replaces_config(tmp_path):
    root = tmp_path / "ws"
    init_workspace(root, state="NZL", year=2024)
    (root / CONFIG_NAME).write_text("broken = [", encoding="utf-8")
    created = init_workspace(root, state="FRA", year=2023, force=True)
    config = load_config(root)
    assert (config.state, config.year) == ("FRA", 2023)
    assert root / CONFIG_NAME in created and root not in created  # the folder already existed


def test_default_year_is_last_calendar_year(tmp_path):
    init_workspace(tmp_path / "ws", state="NZ")
    assert load_config(tmp_path / "ws").year == dt.date.today().year - 1


@pytest.mark.parametrize("state", [None, "", "Narnia"])
def test_state_is_required_and_checked_before_writing(tmp_path, state):
    root = tmp_path / "ws"
    with pytest.raises(ConfigError):
        init_workspace(root, state=state, year=2024)
    assert not root.exists()


def _touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_discover_files_skips_temporary_and_out(tmp_path):
    root = tmp_path / "ws"
    init_workspace(root, state="NZL", year=2024)
    customs = root / "inputs" / "customs"
    for name in ("b.xlsx", "A.XLSX", "c.csv", "d.ods", "~$b.xlsx", ".~lock.c.csv#", "notes.txt"):
        _touch(customs / name)
    (customs / "folder.xlsx").mkdir()
    text = (root / CONFIG_NAME).read_text(encoding="utf-8")
    # a second pattern that matches the same files and one that reaches out/
    text = text.replace('files = ["inputs/customs/*.xlsx"',
                        'files = ["inputs/customs/b.xlsx", "out/*.xlsx", "inputs/customs/*.xlsx"')
    (root / CONFIG_NAME).write_text(text, encoding="utf-8")
    _touch(root / "out" / "report.xlsx")
    config = load_config(root)
    found = discover_files(config)
    rel = [relative_path(config, p) for p in found["Customs"]]
    assert rel == ["inputs/customs/A.XLSX", "inputs/customs/b.xlsx", "inputs/customs/c.csv",
                   "inputs/customs/d.ods"]
    assert found["Licensing Authority"] == [] and set(found) == {a.name for a in config.agencies}
    assert discover_files(config) == found  # deterministic


def test_relative_path(tmp_path):
    root = tmp_path / "ws"
    init_workspace(root, state="NZL", year=2024)
    config = load_config(root)
    assert relative_path(config, config.root / "inputs" / "customs" / "x.csv") == "inputs/customs/x.csv"
    assert relative_path(config, root / "inputs" / "x.csv") == "inputs/x.csv"
    assert relative_path(config, "inputs/y.csv") == "inputs/y.csv"
    outside = tmp_path / "elsewhere.csv"
    assert relative_path(config, outside) == outside.as_posix()


def test_default_agencies_have_distinct_slugs():
    slugs = [a.slug for a in DEFAULT_AGENCIES]
    assert len(set(slugs)) == len(slugs)


@pytest.mark.parametrize("name, slug", [
    ("Customs Service", "customs_service"),
    ("Customs/Excise", "customs_excise"),
    ("Douane française", "douane_francaise"),
    ("Zoll & Grenzschutz (Bund)", "zoll_grenzschutz_bund"),
])
def test_an_agency_slug_is_its_name_in_ascii(name, slug):
    from att_report.config import agency_slug

    assert agency_slug(name) == slug


def test_names_without_latin_letters_too_long_or_reserved_get_distinct_safe_slugs():
    from att_report.config import SLUG_MAX, agency_slug

    names = ["税关", "国防部", "الجمارك", "..", "CON", "nul", "a" * 300, "a" * 300 + "b"]
    slugs = [agency_slug(n) for n in names]
    assert len(set(slugs)) == len(slugs)
    for slug in slugs:
        assert 1 <= len(slug) <= SLUG_MAX and slug.isascii() and slug.replace("_", "").isalnum()
        assert slug not in ("con", "nul")  # a device name on Windows


def test_agencies_whose_file_names_would_collide_stop_the_run(tmp_path):
    from intake_helpers import write_workspace

    ws = write_workspace(tmp_path, extra='\n[[agencies]]\nname = "CUSTOMS"\nrole = "customs"\n'
                                          'files = ["inputs/other/*.csv"]\n')
    with pytest.raises(ConfigError, match="'Customs' and 'CUSTOMS' would share the file name 'customs'"):
        load_config(ws)


def test_a_long_agency_name_builds_and_validates(tmp_path):
    from typer.testing import CliRunner

    from att_report.cli import app
    from intake_helpers import write_workspace

    ws = write_workspace(tmp_path, [{}])
    toml = ws / "att-report.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('name = "Customs"', f'name = "{"Customs " * 40}"'),
                    encoding="utf-8")
    for command in ("validate", "build"):
        result = CliRunner().invoke(app, [command, str(ws), "--quiet"])
        assert result.exit_code in (0, 1) and "Internal error" not in result.output, result.output
    feedback = list((ws / "out" / "feedback").glob("*.xlsx"))
    assert len(feedback) == 1 and len(feedback[0].name) <= 70
