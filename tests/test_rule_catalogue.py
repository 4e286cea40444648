"""The rule convention (after Arelle's conformance suites): every rule registered, cited, and tested both ways."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import att_report
from att_report.rules import RULES, load_all_rules

TESTS = Path(__file__).parent


def _all_modules():
    for info in pkgutil.walk_packages(att_report.__path__, "att_report."):
        if info.name.endswith(("__main__", "cli", "cli_compare")):
            continue
        yield importlib.import_module(info.name)


def test_every_rule_function_is_registered():
    load_all_rules()
    registered = {(r.func.__module__, r.func.__qualname__) for r in RULES.values()}
    for module in _all_modules():
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("rule_") and func.__module__ == module.__name__:
                assert (module.__name__, func.__qualname__) in registered, f"{module.__name__}.{name} is not registered"


def test_every_rule_has_a_stable_code_a_title_and_a_citation():
    load_all_rules()
    assert len(RULES) >= 40
    for code, rule in RULES.items():
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", code), code
        assert rule.title, code
        assert "Enforces" in rule.doc, f"{code}: the docstring must say what it enforces"


def test_every_rule_has_fixtures_in_its_stage_tests():
    """Each code appears in the tests of its stage, where a pass and a fail fixture are kept as data."""
    load_all_rules()
    text = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.rglob("test_*.py"))
    missing = [code for code in RULES if f'"{code}"' not in text]
    assert missing == []


def test_a_code_cannot_be_registered_by_two_rules():
    import pytest

    from att_report.rules import rule

    load_all_rules()
    with pytest.raises(ValueError):
        @rule("country-unknown", "error", "intake")
        def rule_country_unknown(records, ctx):  # noqa: F811 - a clash on purpose
            """Clash.

            Enforces: nothing.
            """


def test_every_code_in_the_sample_log_and_hostile_corpus_is_described():
    import csv
    import re as _re

    from att_report.rules import OTHER_CODES, code_title

    load_all_rules()
    assert not set(OTHER_CODES) & set(RULES)
    golden = TESTS / "golden" / "sample" / "discrepancy_log_2024.csv"
    codes = {row["code"] for row in csv.DictReader(open(golden, encoding="utf-8"))}
    corpus = (TESTS / "hostile" / "make_corpus.py").read_text(encoding="utf-8")
    codes |= set(_re.findall(r'codes=\(([^)]*)\)', corpus) and
                 _re.findall(r'"([a-z]+(?:-[a-z0-9]+)+)"', " ".join(_re.findall(r'codes=\(([^)]*)\)', corpus))))
    assert codes
    assert [c for c in sorted(codes) if not code_title(c)] == []
