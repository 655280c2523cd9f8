"""Tests for stationmap.i18n: one catalogue per language, the same keys and fields in both, each in its own language."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

import stationmap
from stationmap import i18n
from stationmap.errors import BadRequestError

PACKAGE = Path(stationmap.__file__).parent
#: Latin words a Chinese string may hold: abbreviations and names that Chinese text writes as they are.
ALLOWED_LATIN = {"AED", "WiFi", "OSM", "OpenStreetMap", "UTM", "PDF", "CSV", "GeoJSON", "HTTPS", "EPSG"}
#: Strings written in the other language on purpose: the button that switches to it names it in its own words.
OTHER_LANGUAGE = {"web.lang_switch"}
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")  # ideographs and CJK punctuation


def _fields(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}


def _without_fields(value: str) -> str:
    return re.sub(r"\{[^{}]*\}", " ", value)


def test_both_catalogues_have_the_same_keys():
    zh, en = i18n.catalogue("zh"), i18n.catalogue("en")
    assert sorted(set(zh) - set(en)) == [] and sorted(set(en) - set(zh)) == []
    assert {key.split(".")[0] for key in zh} == {"report", "web", "hours"}


def test_both_catalogues_fill_the_same_fields():
    zh, en = i18n.catalogue("zh"), i18n.catalogue("en")
    assert {key: _fields(zh[key]) for key in zh if _fields(zh[key]) != _fields(en[key])} == {}


def test_chinese_catalogue_holds_no_english():
    english = {key: words for key, value in i18n.catalogue("zh").items() if key not in OTHER_LANGUAGE
               if (words := set(re.findall(r"[A-Za-z]{4,}", _without_fields(value))) - ALLOWED_LATIN)}
    assert english == {}


def test_english_catalogue_holds_no_chinese():
    chinese = {key: value for key, value in i18n.catalogue("en").items()
               if key not in OTHER_LANGUAGE and _CJK.search(value)}
    assert chinese == {}


def test_every_value_is_a_nonblank_template():
    for lang in i18n.LANGS:
        for key, value in i18n.catalogue(lang).items():
            assert value.strip() or key.endswith("_sep"), (lang, key)
            value.format(**dict.fromkeys(_fields(value), "x"))  # no stray braces


def test_catalogue_is_read_once_and_read_only():
    assert i18n.catalogue("zh") is i18n.catalogue("zh")
    with pytest.raises(TypeError):
        i18n.catalogue("zh")["report.title"] = "x"  # type: ignore[index]


def test_text_fills_fields_and_refuses_unknown_language():
    assert i18n.text("report.slivers", "zh", n=3, a=10000) == "另有 3 处小于 10000 平方米的碎片未列出。"
    assert i18n.text("web.distance_km", "en", n=1.5) == "1.5 km"
    assert i18n.section("hours", "en")["day.Mo"] == "Mon"
    with pytest.raises(BadRequestError, match="'fr'"):
        i18n.text("report.title", "fr")


@pytest.mark.parametrize(("template", "prefix"), [
    ("report/templates/report.html", "report"),
    ("web/templates/index.html", "web"),
    ("web/templates/planner.html", "web"),
])
def test_every_key_a_template_asks_for_exists(template, prefix):
    source = (PACKAGE / template).read_text(encoding="utf-8")
    keys = set(re.findall(r"\bt\('([a-z0-9_.]+)'", source)) | set(re.findall(r'data-i18n(?:-[a-z]+)?="([a-z0-9_]+)"',
                                                                              source))
    assert keys, template
    catalogue = i18n.catalogue("zh")
    assert sorted(key for key in keys if f"{prefix}.{key}" not in catalogue) == []


def test_every_key_the_report_code_asks_for_exists():
    source = "".join((PACKAGE / "report" / name).read_text(encoding="utf-8") for name in ("render.py", "figures.py"))
    keys = set(re.findall(r'\bt\("([a-z_]+)"', source)) | set(re.findall(r'\bt\["([a-z_]+)"\]', source))
    assert keys
    assert sorted(key for key in keys if f"report.{key}" not in i18n.catalogue("en")) == []
