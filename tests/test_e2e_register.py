"""End to end: a clerk's XLSX register for a district that is not bundled, imported and served by the real server.

The register is written the way a district union keeps it: Chinese headers and Amap (GCJ-02) coordinates of
stations in 广州市天河区 (440106). `stationmap import --crs gcj02` turns it into WGS-84 station records without
a ``district_code``; the waitress server is started on that file alone and driven by headless Debian Chromium:
the worker page lists the register's stations, the planner picks 天河区 and shows its coverage, and the PDF
report names the district.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from stationmap import cli, geo
from stationmap.config import BUNDLED_DATA_DIR

pytestmark = pytest.mark.e2e

TIANHE = "440106"
HEADERS = ["站点名称", "地址", "经度", "纬度", "所属区县", "开放时间", "服务内容"]
N_STATIONS = 15
HOURS = ["08:00-20:00", "24小时", "周一至周五 07:30-19:00"]
SERVICES = ["饮水、热饭、手机充电", "直饮水、微波炉、桌椅、应急药箱", "饮水，休息，雨具，充电"]


@pytest.fixture(scope="module")
def points(district_points) -> list[tuple[float, float]]:
    """WGS-84 (lon, lat) of the register's stations, inside 天河区."""
    return district_points(TIANHE, N_STATIONS)


@pytest.fixture(scope="module")
def register(tmp_path_factory, points) -> Path:
    """The clerk's XLSX (GCJ-02), imported with ``stationmap import --crs gcj02`` into ``register.geojson``."""
    openpyxl = pytest.importorskip("openpyxl")
    root = tmp_path_factory.mktemp("e2e-register")
    lon, lat = (np.array(v) for v in zip(*points, strict=True))
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(lon, lat)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "驿站名录"
    sheet.append(HEADERS)
    for i in range(N_STATIONS):
        sheet.append([f"天河{i + 1}号爱心驿站", f"广州市天河区测试大道{100 + i}号", round(float(gcj_lon[i]), 6),
                      round(float(gcj_lat[i]), 6), "天河区", HOURS[i % 3], SERVICES[i % 3]])
    table = root / "天河区驿站名录.xlsx"
    book.save(table)
    output = root / "register.geojson"
    result = CliRunner().invoke(cli.main, ["import", str(table), "--crs", "gcj02", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert f"imported {N_STATIONS} stations" in result.output
    return output


@pytest.fixture(scope="module")
def base_url(register, live_server) -> Iterator[str]:
    with live_server(BUNDLED_DATA_DIR, stations=(register,)) as url:
        yield url


def _api(base_url: str, path: str) -> dict:
    with urllib.request.urlopen(base_url + path, timeout=60) as response:  # 127.0.0.1 only
        return json.loads(response.read().decode("utf-8"))


def test_register_is_imported_to_wgs84(register, points):
    doc = json.loads(register.read_text(encoding="utf-8"))
    assert len(doc["features"]) == N_STATIONS
    for feature, (lon, lat) in zip(doc["features"], points, strict=True):
        assert "district_code" not in feature["properties"]  # the server places them by location
        got_lon, got_lat = feature["geometry"]["coordinates"]
        assert geo.geodesic_distance_m(got_lon, got_lat, lon, lat) < 1.0  # GCJ-02 undone to within a metre


def test_worker_page_shows_the_register(browser, base_url, points, page_watch, artifacts):
    lon, lat = points[7]
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, locale="zh-CN", geolocation={"longitude": lon, "latitude": lat},
                                  permissions=["geolocation"])
    page = context.new_page()
    watch = page_watch(page)
    try:
        page.goto(base_url + "/", wait_until="load")
        page.wait_for_selector(".sm-pin, .marker-cluster", state="attached", timeout=15_000)
        assert not page.locator("#sm-demo").is_visible()  # a real register is not marked as demo data
        page.click("#sm-locate")
        page.wait_for_selector("#sm-list .sm-item", timeout=15_000)
        first = page.locator("#sm-list .sm-item").nth(0)
        assert first.locator(".sm-item-name").inner_text() == "天河8号爱心驿站"
        assert "米" in first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.wait_for_timeout(800)  # let the map settle on the position
        page.screenshot(path=str(artifacts / "register-phone-360x640.png"))
        page.screenshot(path=str(artifacts / "register-phone-360x640-full.png"), full_page=True)
        assert page.locator(f'a[href^="/report/{TIANHE}.pdf"]').count() == 1
        page.wait_for_load_state("networkidle")  # no request in flight when the server closes
        watch.assert_clean()
    finally:
        context.close()


def test_planner_shows_the_register_district(browser, base_url, page_watch, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1, locale="zh-CN")
    page = context.new_page()
    watch = page_watch(page)
    try:
        page.goto(f"{base_url}/planner", wait_until="load")
        page.wait_for_selector("body[data-pending='0']", state="attached", timeout=60_000)
        options = page.locator("#pl-district option").all_inner_texts()
        assert options == [f"广州市天河区 ({N_STATIONS})"]
        assert page.locator("#pl-district").input_value() == TIANHE
        coverage = _api(base_url, f"/api/coverage?district={TIANHE}&radius_m=1000")["coverage"]
        assert coverage["n_stations"] == N_STATIONS and 0 < coverage["pct_area_covered"] < 100
        assert page.locator("[data-figure=pct_area_covered]").inner_text() == f"{coverage['pct_area_covered']:.1f}%"
        assert page.locator(".leaflet-marker-pane .sm-pin").count() == N_STATIONS
        page.screenshot(path=str(artifacts / "register-planner-1280x800.png"))
        page.wait_for_load_state("networkidle")
        watch.assert_clean()
    finally:
        context.close()


def test_pdf_report_names_the_district(base_url, tmp_path, artifacts):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    with urllib.request.urlopen(f"{base_url}/report/{TIANHE}.pdf", timeout=180) as response:  # 127.0.0.1 only
        assert response.headers["Content-Type"] == "application/pdf"
        pdf = tmp_path / "report.pdf"
        pdf.write_bytes(response.read())
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    (artifacts / "register-report-440106.txt").write_text(text, encoding="utf-8")
    assert "天河区" in text and "广州市" in text
