"""The district QR sheet: each code read back to the URL it must hold, cards per page, names, hostile text, refusals."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import segno

from stationmap.districts import load_district
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.report import qr_sheet
from stationmap.report.qr_sheet import build_qr_sheet, check_base_url, render_qr_html, station_page_url

BASE = "https://stations.example.org/gh"
HOSTILE = "<script>alert('驿站')</script>"


def _frame(statuses: list[str | None], names: list[str] | None = None) -> pd.DataFrame:
    ids = [f"610111-{i:03d}" for i in range(len(statuses), 0, -1)]  # given in reverse: the sheet sorts by id
    return pd.DataFrame({"id": ids, "name": names or [f"驿站{i}" for i in range(len(statuses))],
                         "status": statuses})


@pytest.fixture(scope="module")
def baqiao(settings):
    return load_district("610111", data_dir=settings.data_dir)


def _svg_matrix(svg: str) -> np.ndarray:
    """Read segno's SVG path back into its dark modules (quiet zone removed): M/m moves, h draws a run."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg)[1])
    grid = np.zeros((size, size), dtype=bool)
    x = y = 0.0
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg)[1]  # the first path is the light background
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:[ ,](-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            grid[int(y), int(x):int(x + float(a))] = True
            x += float(a)
    return grid[4:-4, 4:-4]  # the 4-module quiet zone


def _expected(url: str) -> np.ndarray:
    return np.array(segno.make(url, error="m", micro=False).matrix, dtype=bool)


def test_the_deep_link_quotes_the_id_and_names_english():
    assert station_page_url(BASE + "/", "610111-007") == f"{BASE}/?station=610111-007"
    assert station_page_url("http://10.0.0.2:8000", "a/b c&d") == "http://10.0.0.2:8000/?station=a%2Fb%20c%26d"
    assert station_page_url(BASE, "驿站-1", lang="en") == f"{BASE}/?station=%E9%A9%BF%E7%AB%99-1&lang=en"


@pytest.mark.parametrize("url", ["ftp://example.org", "example.org", "https://", "https:///path", "javascript:alert(1)",
                                 "https://example.org/?a=1", "https://example.org/#top", "https://exa mple.org",
                                 "https://example.org:99999"])
def test_a_base_url_must_be_http_with_a_host(url):
    with pytest.raises(BadRequestError, match="Base URL"):
        check_base_url(url)


def test_only_open_stations_get_a_card_and_the_others_are_counted(baqiao):
    sheet = build_qr_sheet(_frame(["open", None, "closed", "temporarily_closed", "open"]), baqiao, base_url=BASE)
    assert [c.station_id for c in sheet.cards] == ["610111-001", "610111-004", "610111-005"]
    assert sheet.n_left_out == 2 and sheet.n_pages == 1 and sheet.title == "西安市灞桥区"
    assert sheet.cards[0].url == f"{BASE}/?station=610111-001"


def test_a_district_without_an_open_station_is_refused(baqiao):
    with pytest.raises(EmptyInputError, match=r"no open station .*\(2 station\(s\), 2 closed\)"):
        build_qr_sheet(_frame(["closed", "temporarily_closed"]), baqiao, base_url=BASE)


def test_each_code_in_the_page_holds_its_stations_url(baqiao):
    sheet = build_qr_sheet(_frame(["open"] * 14), baqiao, base_url=BASE, lang="en")
    page = render_qr_html(sheet)
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)
    assert len(svgs) == 14
    for svg, card in zip(svgs, sheet.cards, strict=True):
        assert card.url == f"{BASE}/?station={card.station_id}&lang=en"
        assert np.array_equal(_svg_matrix(svg), _expected(card.url)), card.station_id
    assert page.count('<section class="page">') == 2  # 12 cards, then 2
    assert "Page 2 of 2" in page and "Scan to report a problem" in page


def test_hostile_names_print_as_text(baqiao):
    sheet = build_qr_sheet(_frame(["open", "open"], [HOSTILE, "a&b\"c"]), baqiao, base_url=BASE)
    page = render_qr_html(sheet)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;驿站&#39;)&lt;/script&gt;" in page and "a&amp;b&#34;c" in page


# --- the PDF, read back: text by page, and every code sampled from the printed page -------------------------------

def _dark_modules(gray: np.ndarray) -> list[np.ndarray]:
    """
    Find the QR symbols on a rendered page and sample their modules: each square dark blob's extent is the symbol
    (its finder patterns mark three corners), the top-left finder is 7 modules wide, and each module is read at its
    centre.
    """
    from scipy import ndimage

    dark = gray < 128
    blobs, _ = ndimage.label(ndimage.binary_dilation(dark, iterations=12))
    found = []
    for rows, cols in ndimage.find_objects(blobs):
        height, width = rows.stop - rows.start, cols.stop - cols.start
        if min(height, width) < 200 or abs(height - width) > 0.1 * width:  # text lines are wide and low
            continue
        ys, xs = np.nonzero(dark[rows, cols])
        top, left, bottom, right = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
        symbol = dark[rows, cols][top:bottom, left:right]
        finder = np.argmin(symbol[0]) if not symbol[0].all() else symbol.shape[1]  # first light pixel on top row
        module = finder / 7
        n = round(symbol.shape[1] / module)
        centres = ((np.arange(n) + 0.5) * symbol.shape[1] / n).astype(int)
        found.append(symbol[np.ix_(centres, centres)])
    return found


@pytest.fixture(scope="module")
def printed(tmp_path_factory, settings):
    """The 14-station sheet of a station file (two pages, a hostile name on one card), written by the command."""
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils not installed (./scripts/test installs it)")
    from click.testing import CliRunner

    from stationmap.cli import main

    folder = tmp_path_factory.mktemp("qr")
    doc = json.loads((settings.data_dir / "stations" / "610111.geojson").read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:15]
    doc["features"][3]["properties"]["name"] = HOSTILE
    doc["features"][14]["properties"]["status"] = "closed"
    stations = folder / "stations.geojson"
    stations.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    pdf = folder / "sheet.pdf"
    result = CliRunner().invoke(main, ["qr", "--district", "610111", "--stations", str(stations), "--base-url", BASE,
                                       "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    assert "14 station(s) of 西安市灞桥区 on 2 A4 page(s); 1 closed or temporarily closed left out" in result.output
    return pdf, doc["features"][:14]


@pytest.mark.slow
def test_the_pdf_has_twelve_cards_a_page_with_names_and_ids(printed):
    pdf, features = printed
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")[:-1]
    assert len(pages) == 2
    ids = [f["id"] for f in features]
    assert [sorted(re.findall(r"610111-\d{3}", p)) for p in pages] == [ids[:12], ids[12:]]
    text = "".join("".join(p.split()) for p in pages)  # names may wrap inside their card
    for f in features:
        assert "".join(f["properties"]["name"].split()) in text
    assert "<script>alert('驿站')</script>" in text  # printed as the text it is
    assert pages[0].count("扫码：报告问题、给站点评分，或确认“在这里，开着”") == 1 and "第 2/2 页" in pages[1]


@pytest.mark.slow
def test_every_printed_code_reads_back_as_its_stations_url(printed, tmp_path):
    from PIL import Image

    pdf, features = printed
    subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", str(pdf), str(tmp_path / "page")], check=True)
    read = []
    for png in sorted(tmp_path.glob("page-*.png")):
        read += _dark_modules(np.asarray(Image.open(png).convert("L")))
    expected = {f["id"]: _expected(f"{BASE}/?station={f['id']}") for f in features}
    assert len(read) == 14
    matched = [next((sid for sid, m in expected.items() if m.shape == r.shape and np.array_equal(m, r)), None)
               for r in read]
    assert sorted(matched) == sorted(expected)  # each station's code printed once, module for module


def test_the_command_refuses_a_bad_base_url_and_a_district_with_no_open_station(runner, tmp_path, settings):
    from stationmap.cli import main

    doc = json.loads((settings.data_dir / "stations" / "610111.geojson").read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:2]
    for f in doc["features"]:
        f["properties"]["status"] = "closed"
    stations = tmp_path / "closed.geojson"
    stations.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    bad = runner.invoke(main, ["qr", "--district", "610111", "--stations", str(stations), "--base-url",
                               "ftp://example.org", "-o", str(tmp_path / "s.pdf")])
    assert bad.exit_code == 2 and "must start with http:// or https://" in bad.output
    none_open = runner.invoke(main, ["qr", "--district", "610111", "--stations", str(stations), "--base-url", BASE,
                                     "-o", str(tmp_path / "s.pdf")])
    assert none_open.exit_code == 1, none_open.output
    assert "西安市灞桥区 (610111) has no open station" in none_open.output and "2 closed" in none_open.output
    assert not (tmp_path / "s.pdf").exists()


def test_the_command_reads_the_register_and_leaves_out_closed_stations(runner, database_url, settings, tmp_path,
                                                                       boundary_cache):
    from stationmap import editing
    from stationmap.cli import main
    from stationmap.store import Change, User, open_store

    features = json.loads((settings.data_dir / "stations" / "610111.geojson").read_text(encoding="utf-8"))["features"]
    with open_store(database_url) as store:
        store.apply([Change(f["id"], "add", f, "610111") for f in features[:3]], user="test", comment="")
        editing.close_station(store, "610111-002", user=User("王主任", "admin"), expected_version=1,
                              places=editing.Places(settings.data_dir, boundary_cache), comment="拆迁")
    out = tmp_path / "sheet.html"
    result = runner.invoke(main, ["qr", "--district", "灞桥区", "--database", database_url, "--base-url", BASE,
                                  "--lang", "en", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 station(s) of 西安市灞桥区 on 1 A4 page(s); 1 closed or temporarily closed left out" in result.output
    page = out.read_text(encoding="utf-8")
    assert "610111-001" in page and "610111-003" in page and "610111-002" not in page
    assert qr_sheet.CARDS_PER_PAGE == 12 and page.count("<svg") == 2


# --- the planner's download: /qr/<adcode>.pdf ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from stationmap.config import BUNDLED_DATA_DIR, Settings
    from stationmap.web import create_app

    app = create_app(Settings(data_dir=BUNDLED_DATA_DIR, cache_dir=tmp_path_factory.mktemp("cache")))
    yield app
    app.extensions["stationmap_store"].close()


@pytest.mark.slow
def test_the_planner_downloads_the_districts_sheet_with_this_servers_address(served, tmp_path):
    from PIL import Image

    from stationmap.web.live import app_state

    response = served.test_client().get("/qr/七星区.pdf?lang=en")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="stationmap-qr-450305-en.pdf"'
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(response.data)
    state = app_state(served)
    rows = state.stations[state.district_codes == "450305"]
    ids = sorted(str(i) for i, s in zip(rows["id"], rows["status"], strict=True) if s in (None, "open"))
    subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", str(pdf), str(tmp_path / "page")], check=True)
    read = [m for png in sorted(tmp_path.glob("page-*.png"))
            for m in _dark_modules(np.asarray(Image.open(png).convert("L")))]
    expected = [_expected(f"http://localhost/?station={sid}&lang=en") for sid in ids]  # the test client's host
    assert len(read) == len(ids) > 0
    assert all(any(e.shape == r.shape and np.array_equal(e, r) for r in read) for e in expected)


def test_the_sheet_route_refuses_bad_requests_and_waits_its_turn(served, monkeypatch):
    from webcheck import assert_error  # tests/webcheck.py

    from stationmap.web.pool import BoundedPool
    from stationmap.web.reports import ReportBusyError

    client = served.test_client()
    assert client.get("/qr/450305.pdf?lang=fr").status_code == 400
    assert client.get("/qr/999999.pdf").status_code == 404
    assert client.get("/qr/450305.html").status_code == 404
    cache = served.extensions["stationmap_reports"]
    monkeypatch.setattr(cache, "pool", BoundedPool(name="report builder", workers=1, max_pending=0, wait_s=1,
                                                   busy_error=ReportBusyError))
    busy = client.get("/qr/450305.pdf")
    assert_error(busy, 503, "busy")
    assert busy.headers["Retry-After"] == str(ReportBusyError.retry_after_s)


def test_the_planner_links_the_chosen_districts_sheet(served):
    page = served.test_client().get("/planner?district=450305&lang=en").get_data(as_text=True)
    assert 'href="/qr/450305.pdf?lang=en"' in page and 'data-href="/qr/ADCODE.pdf"' in page
    assert "QR sheet to print (PDF)" in page


@pytest.mark.e2e
def test_the_planner_button_follows_the_district_and_language_and_downloads(browser, live_server, page_watch,
                                                                            artifacts):
    from stationmap.config import BUNDLED_DATA_DIR

    with live_server(BUNDLED_DATA_DIR) as base:
        context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                      locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        watch = page_watch(page)
        try:
            page.goto(f"{base}/planner?district=610111", wait_until="load")
            page.wait_for_selector("body[data-pending='0']", state="attached", timeout=60_000)
            link = page.locator("#pl-qr")
            assert link.inner_text() == "打印站点二维码（PDF）"
            assert link.get_attribute("href") == "/qr/610111.pdf?lang=zh"
            page.select_option("#pl-district", "450305")
            page.locator("#pl-lang").click()
            assert link.inner_text() == "QR sheet to print (PDF)"
            assert link.get_attribute("href") == "/qr/450305.pdf?lang=en"
            link.scroll_into_view_if_needed()
            assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
            page.screenshot(path=str(artifacts / "planner-qr-360x640.png"))
            with page.expect_download(timeout=60_000) as download:
                link.click()
            assert download.value.suggested_filename == "stationmap-qr-450305-en.pdf"
            assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
            page.wait_for_load_state("networkidle")
            watch.assert_clean()
        finally:
            context.close()
