"""The national and provincial report (`stationmap.report.national`, `stationmap report --district 全国|<province>`).

The report's figures are `national_coverage`'s (run on a small in-process cluster), one county is checked against the
single-machine `coverage_report`, and the counts of the headline (counties below a share, without a station) against
a count by hand over the rows. 宁夏 (22 counties) keeps it small.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from stationmap import i18n
from stationmap.analysis.coverage import coverage_report
from stationmap.analysis.national import AreaUnit, division_units, national_coverage, open_client
from stationmap.cli import main
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.report.national import (
    LEAST_COVERED,
    NATION_ADCODE,
    THRESHOLDS_PCT,
    build_national_report,
    national_table,
    render_national_html,
    write_national_report,
)

pytest.importorskip("distributed")

R = 1500.0
NINGXIA = "宁夏回族自治区"


@pytest.fixture(scope="module")
def client():
    with open_client("local", workers=2, processes=False) as c:
        yield c


@pytest.fixture(scope="module")
def units(boundary_cache) -> list[AreaUnit]:
    name, found = division_units(NINGXIA, data_dir=BUNDLED_DATA_DIR, cache_dir=boundary_cache)
    assert name == NINGXIA
    return found


@pytest.fixture(scope="module")
def stations(units) -> gpd.GeoDataFrame:
    """A few hundred synthetic stations in and around 宁夏 (the benchmark's generator), a few of them closed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from synthetic import make_national

    frame = make_national(20_000, seed=3)
    west, south, east, north = units[0].geometry.bounds
    x, y = frame.geometry.x, frame.geometry.y
    near = frame[(x > west - 0.3) & (x < east + 0.3) & (y > south - 0.3) & (y < north + 0.3)]
    return near.reset_index(drop=True)


@pytest.fixture(scope="module")
def built(client, stations, units):
    return build_national_report(stations, units, client=client, name=NINGXIA, radius_m=R,
                                 stations_source="nx.geojson")


def test_the_stations_are_a_few_hundred_with_some_inside(stations, units):
    inside = shapely.contains_xy(units[0].geometry, stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy())
    assert 100 <= len(stations) <= 1000 and inside.sum() >= 20


def test_the_report_figures_are_national_coverages(client, built, stations, units):
    reference = national_coverage(stations, units, client=client, radius_m=R, region_name=NINGXIA)
    assert [u.adcode for u in built.coverage.units] == [u.adcode for u in reference.units]
    for mine, theirs in zip(built.coverage.units, reference.units, strict=True):
        assert (mine.n_stations, mine.n_used) == (theirs.n_stations, theirs.n_used)
        assert mine.region_area_m2 == pytest.approx(theirs.region_area_m2, rel=1e-9)
        assert mine.covered_area_m2 == pytest.approx(theirs.covered_area_m2, rel=1e-9, abs=1e-6)
        assert mine.covered_twice_area_m2 == pytest.approx(theirs.covered_twice_area_m2, rel=1e-9, abs=1e-6)
    assert built.whole.n_stations == reference.whole.n_stations
    assert built.whole.pct_area_covered == pytest.approx(reference.whole.pct_area_covered, rel=1e-9)
    assert built.n_stations_given == len(stations) and built.workers == 2


def test_one_county_matches_the_single_machine_report(built, stations, units):
    county = next(u for u in units if u.adcode == "640106")  # 金凤区, in 银川: the densest county
    row = next(u for u in built.counties if u.adcode == "640106")
    lon, lat = stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy()
    inside = shapely.contains_xy(county.geometry, lon, lat)
    assert row.n_stations == int(inside.sum()) > 0
    single = coverage_report(stations, county.geometry, radius_m=R)  # every station: those across the line cover too
    assert row.covered_area_m2 == pytest.approx(single.covered_area_m2, rel=1e-3)
    assert row.covered_twice_area_m2 == pytest.approx(single.covered_twice_area_m2, rel=1e-3)
    assert row.region_area_m2 == pytest.approx(single.region_area_m2, rel=1e-3)


def test_the_tables_and_counts(built):
    assert not built.is_nation
    rows = built.table_rows()
    assert sorted(u.adcode for u in rows) == sorted(u.adcode for u in built.counties) and len(rows) == 22
    shares = [u.pct_area_covered for u in rows]
    assert shares == sorted(shares, reverse=True)
    least = built.least_covered()
    assert len(least) == LEAST_COVERED
    shares = [round(u.pct_area_covered, 6) for u in least]
    assert shares == sorted(shares)
    for before, after in itertools.pairwise(least):  # equal shares: the larger hole first
        if round(before.pct_area_covered, 6) == round(after.pct_area_covered, 6):
            assert (before.region_area_m2 - before.covered_area_m2) >= (after.region_area_m2 - after.covered_area_m2)
    assert least[-1].pct_area_covered <= min(u.pct_area_covered for u in rows if u not in least)
    for pct in THRESHOLDS_PCT:
        assert built.n_below(pct) == len([u for u in built.counties if u.pct_area_covered < pct])
    assert built.n_without_station == len([u for u in built.counties if u.n_stations == 0])


def _cells(html: str, cls: str) -> list[list[str]]:
    body = re.search(rf'<table class="{cls}">.*?<tbody>(.*?)</tbody>', html, re.DOTALL)
    assert body is not None
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))]


def test_the_page_shows_every_county_and_the_least_covered(built):
    html = render_national_html(built, lang="zh")
    main_rows = _cells(html, "least")  # a province's own table: its counties, with their province
    assert sorted(r[2] for r in main_rows) == sorted(u.adcode for u in built.counties)
    jinfeng = next(r for r in main_rows if r[2] == "640106")
    row = next(u for u in built.counties if u.adcode == "640106")
    assert jinfeng[1] == "金凤区" and jinfeng[4] == str(row.n_stations)
    assert jinfeng[6] == f"{row.pct_area_covered:.1f}%"
    t = i18n.section("report.national", "zh")
    assert t["title"].format(name=NINGXIA) in html
    assert t["gaps"].format(n=LEAST_COVERED) in html
    assert t["count_of"].format(k=built.n_below(20.0), n=22) in html
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    english = render_national_html(built, lang="en")
    assert "Outdoor-worker station coverage report: 宁夏回族自治区" in english
    assert not re.search(r"[\u4e00-\u9fff]", re.sub(r"宁夏回族自治区|[\u4e00-\u9fff]+[区县市旗]", "", english
                                                    .split("<body>")[1].split("data:image")[0]))


def test_a_nation_has_its_row_then_provinces(client, stations, units):
    """Two provinces make a nation: its row (adcode 100000) is their sum, and the main table lists provinces."""
    square = shapely.box(105.0, 35.0, 105.5, 35.5)  # south of 宁夏, outside it
    other = AreaUnit("990000", "测试省", "province", square, "", whole=True)
    county = AreaUnit("990101", "测试县", "county", square, "测试省")
    nation = build_national_report(stations, [*units, other, county], client=client, name="全国", radius_m=R,
                                   stations_source="nx.geojson")
    assert nation.is_nation and [u.adcode for u in nation.provinces] == ["640000", "990000"]
    table = national_table(nation)
    assert list(table["adcode"][:3]) == [NATION_ADCODE, "640000", "990000"] and len(table) == 3 + 23
    provinces = table[table["level"] == "province"]
    assert table["n_stations"][0] == provinces["n_stations"].sum()
    assert table["region_area_m2"][0] == pytest.approx(provinces["region_area_m2"].sum())
    html = render_national_html(nation, lang="zh")
    assert sorted(r[2] for r in _cells(html, "units")) == ["640000", "990000"]
    assert "全国工会户外劳动者服务站点覆盖报告" in html
    assert "China" in render_national_html(nation, lang="en")


def test_the_csv_is_utf8_with_a_bom_and_formula_safe(client, stations, units, tmp_path):
    hostile = [dataclasses.replace(u, name='=HYPERLINK("http://x")', province="@SUM(A1)")
               if u.adcode == "640106" else u for u in units]
    built = build_national_report(stations, hostile, client=client, name="+cmd", radius_m=R,
                                  stations_source="nx.geojson")
    files = write_national_report(built, tmp_path, lang="zh", pdf=False)
    assert set(files) == {"report.html", "districts.csv"}
    raw = files["districts.csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == 23 and [r["level"] for r in rows[:2]] == ["province", "county"]
    jinfeng = next(r for r in rows if r["adcode"] == "640106")
    assert jinfeng["name"] == "'=HYPERLINK(\"http://x\")" and jinfeng["province"] == "'@SUM(A1)"
    assert not any(cell[:1] in "=+@\t\r" for r in rows for cell in r.values() if cell)
    assert not any(cell.startswith("-") and not re.fullmatch(r"-[\d.e+-]+", cell) for r in rows
                   for cell in r.values() if cell)
    row = next(u for u in built.counties if u.adcode == "640106")
    assert int(jinfeng["n_stations"]) == row.n_stations
    # areas in m² and shares in percent, to 3 decimals (`UnitCoverage.to_dict`)
    assert float(jinfeng["covered_area_m2"]) == pytest.approx(row.covered_area_m2, abs=1e-3)
    assert float(rows[0]["pct_area_covered"]) == pytest.approx(built.whole.pct_area_covered, abs=5e-4)


# --- the command line ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_file(stations, tmp_path_factory) -> Path:
    from stationmap.stations import export_stations

    path = tmp_path_factory.mktemp("files") / "<img src=x onerror=alert(1)>.geojson"
    export_stations(stations, path)
    return path


def test_cli_writes_one_report_and_escapes_the_file_name(runner, hostile_file, tmp_path):
    out = tmp_path / "nx"
    result = runner.invoke(main, ["report", "--district", "640000", "--stations", str(hostile_file), "-o", str(out),
                                  "--workers", "1", "--no-pdf", "--radius-m", "1500"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["districts.csv", "report.html"]  # not 22 district reports
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;.geojson" in html and "<img src=x" not in html
    assert "1,500 米（直线距离）" in html
    rows = list(csv.DictReader((out / "districts.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 23 and {r["radius_m"] for r in rows} == {"1500.0"}


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cli_pdf_has_the_title(runner, hostile_file, tmp_path, lang):
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed (./scripts/test installs it)")
    result = runner.invoke(main, ["report", "--district", NINGXIA, "--stations", str(hostile_file), "-o",
                                  str(tmp_path), "--lang", lang, "--workers", "1"])
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "report.pdf"
    assert pdf.stat().st_size < 5_000_000
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    title = i18n.text("report.national.title", lang, name=NINGXIA)
    assert re.sub(r"\s+", "", title) in re.sub(r"\s+", "", text)


@pytest.mark.parametrize(("args", "match"), [
    (["--district", "全国", "--osm", "{file}"], "--osm: for a district report"),
    (["--district", NINGXIA, "--date", "2026-11-30"], "--date: for a district report"),
    (["--district", NINGXIA, "--radius-m", "500,1000"], "one service radius"),
    (["--district", NINGXIA, "--district", "610111"], "takes one --district"),
    (["--district", "610111", "--district", "610112", "--workers", "2"], "takes one --district"),
    (["--district", "火星省"], "No district, city or province"),
    (["--district", NINGXIA, "--scheduler", "http://x:1"], "--scheduler"),
])
def test_cli_bad_usage_exits_2(runner, hostile_file, tmp_path, args, match):
    args = [a.replace("{file}", str(hostile_file)) for a in args]
    result = runner.invoke(main, ["report", "--stations", str(hostile_file), "-o", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert match in result.output
    assert not any(tmp_path.iterdir())


def test_choropleth_colours_each_county_by_its_share(built):
    from stationmap.report.figures import coverage_choropleth

    counties = built.counties
    png = coverage_choropleth([built.outlines[u.adcode] for u in counties], [u.pct_area_covered for u in counties],
                              title="宁夏", lang="zh")
    assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 2_000_000
    assert np.isfinite([u.pct_area_covered for u in counties]).all()
