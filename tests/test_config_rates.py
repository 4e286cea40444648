"""[rates] in att-report.toml: each a finite positive number of report-currency units per currency."""

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
