"""Coverage reports end to end: figures in the HTML and PDF equal the analysis functions', for every district."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

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
    assert f"<td>05:00</td><td>{at_five.n_used}/12</td><td>{at_five.pct_area_covered:.1f}%</td>" in page
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
    method = {"greedy": "贪心算法", "ilp": "整数规划"}[rep.sites.method]
    assert f"方法：{method}" in text and "greedy" not in text and "Coverage uses" not in text
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
