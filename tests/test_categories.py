import shutil
import tomllib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from att_report.normalise import categories as cats
from att_report.normalise.categories import (
    CategoriesError,
    category_label,
    display_label,
    get_category,
    hs_lookup,
    load_categories,
    resolve_categories,
    resolve_category,
)
from att_report.paths import templates_dir

EXPECTED_CODES = [
    "I", "II", "III", "IV.a", "IV.b", "V.a", "V.b", "VI", "VII.a", "VII.b",
    "VIII.SA.1", "VIII.SA.2", "VIII.SA.3", "VIII.SA.4", "VIII.SA.5", "VIII.SA.6",
    "VIII.LW.1", "VIII.LW.2", "VIII.LW.3", "VIII.LW.4", "VIII.LW.5", "VIII.LW.6", "VIII.LW.7",
]


def one(text):
    return resolve_categories(pd.Series([text], dtype=object)).iloc[0]


def test_catalogue_order_and_fields():
    loaded = load_categories()
    assert [c.code for c in loaded] == EXPECTED_CODES
    assert load_categories() is loaded  # memoised
    for c in loaded:
        assert c.label and c.label_fr and c.label_es and c.label_zh
        assert c.group == ("SALW" if c.code.startswith("VIII") else "I-VII")
        assert c.outlier_quantity > 0
    assert category_label("VIII.SA.2") == "Small arms: rifles and carbines"
    assert display_label("VIII.SA.2") == "VIII.SA.2 Small arms: rifles and carbines"
    assert get_category("I").label_fr == "Chars de combat"
    assert get_category("VIII.SA.4").label_es == "Fusiles de asalto"
    assert get_category("I").outlier_quantity < get_category("VIII.SA.2").outlier_quantity


def test_every_code_label_and_alias_resolves_to_itself():
    texts, expected = [], []
    for c in load_categories():
        for text in (c.code, c.label, c.short_label, c.label_fr, c.label_es, c.label_zh, display_label(c.code),
                     c.code.lower(), c.label.upper(), *c.aliases):
            texts.append(text)
            expected.append(c.code)
    out = resolve_categories(pd.Series(texts))
    bad = [(t, e, got) for t, e, got in zip(texts, expected, out["code"]) if got != e]
    assert not bad
    assert (out["status"] == "ok").all()


@pytest.mark.parametrize("text, code", [
    ("Cat I", "I"), ("Cat. I", "I"), ("Category II", "II"), ("Catégorie III", "III"), ("CATEGORY i", "I"),
    ("VIII.SA.2", "VIII.SA.2"), ("8.SA.2", "VIII.SA.2"), ("VIII SA 2", "VIII.SA.2"), ("SA2", "VIII.SA.2"),
    ("VIII-SA-2", "VIII.SA.2"), ("viii.sa.2", "VIII.SA.2"), ("LW6", "VIII.LW.6"), ("VIII.LW.1", "VIII.LW.1"),
    ("VII(a)", "VII.a"), ("VIIb", "VII.b"), ("IVa", "IV.a"), ("IV a", "IV.a"), ("iv(b)", "IV.b"),
    ("Rifles & carbines", "VIII.SA.2"), ("RIFLES AND CARBINES", "VIII.SA.2"), ("assault rifles", "VIII.SA.4"),
    ("pistols", "VIII.SA.1"), ("revolvers", "VIII.SA.1"), ("SMG", "VIII.SA.3"), ("LMG", "VIII.SA.5"),
    ("HMG", "VIII.LW.1"), ("MANPADS", "VII.b"), ("UCAV", "IV.b"),
    ("Cat IV unmanned", "IV.b"), ("Cat IV UAV", "IV.b"), ("IV drones", "IV.b"), ("Cat IV manned", "IV.a"),
    ("Cat IV no tripulados", "IV.b"), ("Cat IV tripulados", "IV.a"), ("Cat V drone", "V.b"),
    ("mortar 81mm", "III"), ("Mortars 120 mm", "III"), ("mortar 60 mm", "VIII.LW.6"), ("mortier de 60 mm", "VIII.LW.6"),
    ("mortars < 75 mm", "VIII.LW.6"), ("mortars 75 mm and above", "III"), ("mortar 75mm", "III"),
    ("Chars de combat", "I"), ("Carros de combate", "I"), ("作战坦克", "I"), ("主战坦克", "I"), ("突击步枪", "VIII.SA.4"),
    ("Véhicules blindés de combat", "II"), ("vehiculos blindados de combate", "II"),
    ("Systèmes portatifs de défense aérienne", "VII.b"), ("Sistemas portátiles de defensa antiaérea", "VII.b"),
    ("Mortiers de calibre inférieur à 75 mm", "VIII.LW.6"), ("Mitrailleuses lourdes", "VIII.LW.1"),
])
def test_variants(text, code):
    row = one(text)
    assert (row["code"], row["status"]) == (code, "ok"), row["hint"]
    assert resolve_category(text) == code


@pytest.mark.parametrize("text, names", [
    ("4", ["IV.a", "IV.b"]), ("Cat IV", ["IV.a", "IV.b"]), ("IV", ["IV.a", "IV.b"]), ("Cat 4", ["IV.a"]),
    ("1", ["I"]), ("8", ["VIII.SA.1", "VIII.LW.7"]), ("VIII", ["VIII.SA.1", "VIII.LW.7"]),
    ("VIII.SA", ["VIII.SA.6"]), ("small arms", ["VIII.SA.1"]), ("Combat aircraft", ["IV.a", "IV.b"]),
    ("drones", ["IV.b", "V.b"]), ("machine guns", ["VIII.SA.5", "VIII.LW.1"]),
    ("Mortars", ["III", "VIII.LW.6"]), ("VIII.SA.2 pistols", ["VIII.SA.2", "VIII.SA.1"]),
    ("Cat 4 UAV", ["IV.b"]),
])
def test_ambiguous_is_never_guessed(text, names):
    row = one(text)
    assert row["status"] == "ambiguous" and row["code"] is pd.NA
    for name in names:
        assert name in row["hint"]
    assert resolve_category(text) is None


def test_bare_four_hint_is_plain():
    hint = one("4")["hint"]
    assert "'4' is ambiguous" in hint and "IV.a (Combat aircraft, manned)" in hint and "IV.b" in hint


@pytest.mark.parametrize("text, in_hint", [
    ("Rifls and carbines", "VIII.SA.2"), ("ammunition", "not part of the ATT report"),
    ("9", "not an ATT category"), ("Category IX", "not an ATT category"), ("xyz", "not an ATT category"),
    ("I don't know", "I"),
])
def test_unknown_with_hint(text, in_hint):
    row = one(text)
    assert row["status"] == "unknown" and row["code"] is pd.NA and in_hint in row["hint"]


@pytest.mark.parametrize("text", ["", "  ", None, np.nan])
def test_blank(text):
    row = one(text)
    assert row["status"] == "blank" and row["code"] is pd.NA and row["hint"] is pd.NA


def test_hs_crosswalk():
    hs = pd.Series(["9302", "9301.10", "930110", "9301 10 00", 9301.1, "9306.21", "9306.90", "8906.10",
                    "8710", "1234", "", None, "8802.11.00", "9305.10"], index=range(10, 24))
    out = hs_lookup(hs)
    assert out.index.equals(hs.index)
    assert out["unambiguous_code"].tolist()[:8] == ["VIII.SA.1", pd.NA, pd.NA, pd.NA, pd.NA, pd.NA, "VII.a", "VI"]
    assert out["candidates"].tolist() == [
        "VIII.SA.1", "III;VIII.LW.6", "III;VIII.LW.6", "III;VIII.LW.6", "III;VIII.LW.6", pd.NA, "VII.a", "VI",
        "I;II", pd.NA, pd.NA, pd.NA, "V.a;V.b", pd.NA]
    assert out["out_of_scope"].tolist() == [False] * 5 + [True] + [False] * 7 + [True]
    assert str(out["out_of_scope"].dtype) == "boolean"
    assert out["heading"].tolist() == ["9302", "930110", "930110", "930110", "930110", "9306", "930690", "890610",
                                       "8710", pd.NA, pd.NA, pd.NA, "880211", "9305"]


def test_hs_candidates_are_codes():
    with open(templates_dir() / "att_categories.toml", "rb") as fh:
        data = tomllib.load(fh)
    codes = set(EXPECTED_CODES)
    for entry in data["hs"]:
        assert set(entry["candidates"]) <= codes
        assert entry.get("out_of_scope", False) == (not entry["candidates"])


def test_broken_toml_names_the_entry(tmp_path, monkeypatch):
    src = (templates_dir() / "att_categories.toml").read_text(encoding="utf-8")
    broken = src.replace('aliases = ["tanks", "tank",', 'aliases = ["tanks", "rifles", "tank",', 1)
    assert broken != src
    (tmp_path / "att_categories.toml").write_text(broken, encoding="utf-8")
    monkeypatch.setenv("ATT_REPORT_TEMPLATES", str(tmp_path))
    cats._catalogue.cache_clear()
    try:
        with pytest.raises(CategoriesError, match="rifles"):
            load_categories()
    finally:
        monkeypatch.delenv("ATT_REPORT_TEMPLATES")
        cats._catalogue.cache_clear()
        cats._resolve_text.cache_clear()
    assert len(load_categories()) == 23


def test_npc_can_add_an_alias(tmp_path, monkeypatch):
    shutil.copy(templates_dir() / "att_categories.toml", tmp_path / "att_categories.toml")
    path = tmp_path / "att_categories.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'aliases = ["tanks", "tank",', 'aliases = ["Panzer", "tanks", "tank",', 1), encoding="utf-8")
    monkeypatch.setenv("ATT_REPORT_TEMPLATES", str(tmp_path))
    cats._catalogue.cache_clear()
    cats._resolve_text.cache_clear()
    try:
        assert resolve_category("PANZER") == "I"
    finally:
        monkeypatch.delenv("ATT_REPORT_TEMPLATES")
        cats._catalogue.cache_clear()
        cats._resolve_text.cache_clear()
    assert resolve_category("Panzer") is None


texts = st.sampled_from(EXPECTED_CODES + ["Cat IV", "4", "rifles", "mortar 81mm", "SA2", "", "Germany", "VII(a)"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(texts, st.text(max_size=10), st.none()), max_size=30))
def test_property_index_kept_and_idempotent(values):
    series = pd.Series(values, dtype=object, index=[i * 7 for i in range(len(values))])
    out = resolve_categories(series)
    assert out.index.equals(series.index)
    assert out["status"].notna().all()
    assert set(out["status"]) <= {"ok", "blank", "unknown", "ambiguous"}
    assert ((out["status"] == "ok") == out["code"].notna()).all()
    resolved = out["code"].dropna()
    again = resolve_categories(resolved)
    assert again["code"].equals(resolved)
    assert set(resolved) <= set(EXPECTED_CODES)
