"""The reporting State in att-report.toml: the direct code lookup agrees with the full resolver."""

import pycountry
import pytest

from att_report.config import _state_code
from att_report.normalise.countries import resolve_country


@pytest.mark.parametrize("code", sorted(c.alpha_3 for c in pycountry.countries))
def test_every_alpha3_code_resolves_as_the_full_resolver_does(code):
    for spelling in (code, code.lower(), f" {code.title()} "):
        assert _state_code(spelling) == resolve_country(spelling) == code


@pytest.mark.parametrize("text", ["New Zealand", "Nouvelle-Zélande", "NZ", "554", "Aotearoa?", "EUR", "XXX", ""])
def test_names_and_other_codes_go_to_the_full_resolver(text):
    assert _state_code(text) == resolve_country(text)
