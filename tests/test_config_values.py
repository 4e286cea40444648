"""Configuration values checked at load: [rates], text encodings, and a profile's sheet and header row."""

from __future__ import annotations

import pytest
from intake_helpers import CONFIG, write_workspace

from att_report.config import ConfigError, load_config


def _with_rates(tmp_path, rates: str):
    ws = write_workspace(tmp_path)
    (ws / "att-report.toml").write_text(CONFIG.format(extra="").replace("[report]", f"[rates]\n{rates}\n\n[report]"),
                                        encoding="utf-8")
    return ws


@pytest.mark.parametrize("value", ["0", "-1.08", "nan", "inf", "-inf", "+inf", "true", '"1.08"'])
def test_a_rate_that_is_no_positive_finite_number_stops_the_run_naming_the_key(tmp_path, value):
    with pytest.raises(ConfigError, match=r"'rates\.EUR' must be a positive number"):
        load_config(_with_rates(tmp_path, f"EUR = {value}"))


def test_a_positive_rate_loads(tmp_path):
    assert load_config(_with_rates(tmp_path, "EUR = 1.08\nJPY = 0.0066\nKWD = 3")).rates == {
        "EUR": 1.08, "JPY": 0.0066, "KWD": 3}


@pytest.mark.parametrize("name", ["klingon", "zlib", "rot13", "base64"])
def test_an_encoding_that_does_not_turn_bytes_into_text_stops_the_run(tmp_path, name):
    """In the agency's settings and in a profile alike: a mistake in the configuration, not in the agency's file."""
    from att_report.intake.profiles import load_profile

    ws = write_workspace(tmp_path, extra=f'encoding = "{name}"')
    with pytest.raises(ConfigError, match=r"encoding' = '" + name + "' is not a known text encoding"):
        load_config(ws)
    (tmp_path / "p.toml").write_text(f'encoding = "{name}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'encoding' = '" + name + "' is not a known text encoding"):
        load_profile(tmp_path, "p.toml")


def test_text_encodings_load(tmp_path):
    from att_report.intake.profiles import load_profile

    for i, name in enumerate(["cp1252", "gb18030", "latin-1", "UTF-8"]):
        (tmp_path / f"p{i}.toml").write_text(f'encoding = "{name}"\n', encoding="utf-8")
        assert load_profile(tmp_path, f"p{i}.toml").encoding == name
        assert load_config(write_workspace(tmp_path / f"ws{i}", extra=f'encoding = "{name}"')).agencies[0].encoding \
            == name


@pytest.mark.parametrize("line, key", [("sheet = 0", "sheet"), ("sheet = -1", "sheet"), ("sheet = true", "sheet"),
                                       ("sheet = 1.5", "sheet"), ("header_row = true", "header_row"),
                                       ("header_row = 0", "header_row")])
def test_a_profile_sheet_or_header_row_that_is_no_1_based_number_stops_the_run(tmp_path, line, key):
    from att_report.intake.profiles import load_profile

    (tmp_path / "p.toml").write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"key '{key}' must be"):
        load_profile(tmp_path, "p.toml")


def test_a_profile_sheet_by_number_or_name_loads(tmp_path):
    from att_report.intake.profiles import load_profile

    for i, line in enumerate(['sheet = 1', 'sheet = 3', 'sheet = "Transfers"', 'header_row = 4']):
        (tmp_path / f"p{i}.toml").write_text(line + "\n", encoding="utf-8")
        load_profile(tmp_path, f"p{i}.toml")
