"""The command line: exit codes, messages, and the commands wired to the package."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from stationmap.cli import main

BAD = Path(__file__).resolve().parent / "data" / "bad"


def test_validate_bundled_file_passes(runner, settings):
    result = runner.invoke(main, ["validate", str(settings.data_dir / "stations" / "610111.geojson"), "--strict"])
    assert result.exit_code == 0, result.output
    assert "63 records, 0 errors, 0 warnings" in result.output


def test_validate_bad_file_exits_1_with_every_problem(runner):
    result = runner.invoke(main, ["validate", str(BAD / "bad_honour.geojson")])
    assert result.exit_code == 1, result.output
    assert result.output.count("error: features[0] (id '610111-901'): honours[0]") == 3
    assert "2 records, 3 errors, 0 warnings" in result.output


def test_validate_warning_fails_only_when_strict(runner):
    path = str(BAD / "near_duplicate.geojson")
    assert runner.invoke(main, ["validate", path]).exit_code == 0
    strict = runner.invoke(main, ["validate", path, "--strict"])
    assert strict.exit_code == 1 and "possible duplicate" in strict.output


def test_validate_outside_district_uses_bundled_boundary(runner):
    result = runner.invoke(main, ["validate", str(BAD / "outside_district.geojson")])
    assert result.exit_code == 1, result.output  # 6 km outside the district it names: an error (membership)
    assert ("error: features[0] (id '610111-901'): district_code = '610111': 测试驿站1 to lie in 西安市灞桥区 "
            "(610111); it lies in 西安市未央区 (610112)") in result.output
    assert "2 records, 1 errors, 0 warnings" in result.output


def test_validate_with_boundary_file(runner):
    boundary = Path(__file__).resolve().parents[2] / "shared" / "data" / "boundaries" / "610111.geojson"
    result = runner.invoke(main, ["validate", str(BAD / "outside_district.geojson"), "--boundary", str(boundary)])
    assert result.exit_code == 2 and "--boundary-crs" in result.output  # a missing datum is usage
    result = runner.invoke(main, ["validate", str(BAD / "outside_district.geojson"), "--boundary", str(boundary),
                                  "--boundary-crs", "gcj02", "--strict"])
    assert result.exit_code == 1 and "outside the boundary" in result.output


def test_validate_json_output(runner):
    result = runner.invoke(main, ["validate", str(BAD / "stars_7.geojson"), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report[0]["problems"][0]["field"] == "stars" and report[0]["ok"] is False


def test_unreadable_file_is_a_clean_error(runner):
    result = runner.invoke(main, ["validate", str(BAD / "invalid_json.geojson")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "invalid JSON at line 14" in result.output


def test_missing_file(runner, tmp_path):
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.geojson")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_usage_error_exits_2(runner):
    assert runner.invoke(main, ["validate"]).exit_code == 2
    assert runner.invoke(main, ["export", "x.geojson", "-o", "y.csv", "--datum", "utm"]).exit_code == 2


def test_import_and_export(runner, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("站点名称,经度,纬度,开放时间,设施/服务项目\n纺织城驿站,109.0650,34.2687,24小时,饮水、微波炉、按摩椅\n",
                     encoding="utf-8")
    out = tmp_path / "out.geojson"
    refused = runner.invoke(main, ["import", str(table), "-o", str(out), "--district", "610111"])
    assert refused.exit_code == 2 and "never guessed" in refused.output and not out.exists()  # usage
    result = runner.invoke(main, ["import", str(table), "--crs", "gcj02", "--district", "610111", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 1 stations" in result.output and "按摩椅" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(109.06, abs=2e-4) and lat == pytest.approx(34.27, abs=2e-4)
    for suffix in ("gpkg", "csv", "xlsx"):
        exported = runner.invoke(main, ["export", str(out), "-o", str(tmp_path / f"x.{suffix}")])
        assert exported.exit_code == 0, exported.output
    amap = runner.invoke(main, ["export", str(out), "-o", str(tmp_path / "amap.csv"), "--datum", "gcj02",
                                "--headers", "zh"])
    assert amap.exit_code == 0
    assert "纺织城驿站,109.065" in (tmp_path / "amap.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("layout", ["empty", "boundaries only"])
def test_summary_without_data_fails_loudly(runner, tmp_path, layout):
    if layout == "boundaries only":
        (tmp_path / "boundaries").mkdir()
        (tmp_path / "boundaries" / "610111.geojson").write_text("{}", encoding="utf-8")
    result = runner.invoke(main, ["summary"], env={"STATIONMAP_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1, result.output
    found = "no district boundary" if layout == "empty" else "no station file"
    assert f"Error: Found {found} in the data folder {str(tmp_path)!r}" in result.output


def test_summary(runner):
    result = runner.invoke(main, ["summary"])
    assert result.exit_code == 0, result.output
    assert "610111 西安市灞桥区: 63 stations" in result.output
    assert "illustrative" in result.output


def test_stars_review_list(runner):
    result = runner.invoke(main, ["stars", "--district", "530111", "--lang", "en", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["summary"]["n_stations"] == 34
    reviews = runner.invoke(main, ["stars", "--district", "530111", "--review-only", "--lang", "en"])
    lines = [line for line in reviews.output.splitlines() if line.startswith("530111-")]
    assert lines and all("review" in line for line in lines)
    assert len(lines) == doc["summary"]["n_review_candidates"]


def test_stars_invalid_rubric_is_a_clean_error(runner, tmp_path):
    bad = tmp_path / "rubric.toml"
    bad.write_text("[meta\nversion = 1", encoding="utf-8")
    result = runner.invoke(main, ["stars", "--rubric", str(bad)])
    assert result.exit_code == 1 and "invalid TOML" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_report_command_writes_html_and_tables(runner, tmp_path):
    out = tmp_path / "reports"
    result = runner.invoke(main, ["report", "--district", "450305", "--district", "530111", "-o", str(out),
                                  "--lang", "en", "--no-pdf", "--sites", "2"])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Districts side by side" in page and "桂林市七星区" in page and "昆明市官渡区" in page
    summary = (out / "summary.csv").read_text(encoding="utf-8-sig").splitlines()
    assert summary[0].startswith("adcode,district,stations") and len(summary) == 3
    assert not (out / "report.pdf").exists()


def test_report_unknown_district_is_a_clean_error(runner, tmp_path):
    result = runner.invoke(main, ["report", "--district", "999999", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "No district, city or province of China has adcode '999999'" in result.output
    result = runner.invoke(main, ["report", "--district", "110101", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "No bundled stations for 北京市东城区" in result.output
    assert "--stations" in result.output and "Traceback" not in result.output


def test_serve_refuses_tianditu_without_key(runner, monkeypatch):
    monkeypatch.delenv("STATIONMAP_TIANDITU_KEY", raising=False)
    result = runner.invoke(main, ["serve", "--tile-provider", "tianditu", "--port", "8799"])
    assert result.exit_code == 1 and "Tianditu" in result.output and "Traceback" not in result.output
    assert runner.invoke(main, ["serve", "--tile-provider", "google"]).exit_code == 2


# --- district membership in validate and import (stationmap.membership) ----------------------------------------------

def _gz_points(settings) -> dict:
    """WGS-84 points of 广州市 computed from the boundaries: well inside 天河/越秀/黄埔 (two in 越秀), 50 m either
    side of the 天河|越秀 border, and 120 m across it (in 越秀, outside 天河)."""
    import geopandas as gpd
    from shapely.ops import nearest_points, polylabel

    from stationmap import geo
    from stationmap.districts import load_district

    geoms = {c: load_district(c, data_dir=settings.data_dir, cache_dir=settings.cache_dir).geometry
             for c in ("440104", "440106", "440112")}
    points = {c: polylabel(max(getattr(g, "geoms", [g]), key=lambda p: p.area), tolerance=1e-4)
              for c, g in geoms.items()}
    frame = gpd.GeoSeries([geoms["440106"], geoms["440104"]], crs=geo.WGS84)
    crs = geo.metric_crs(frame)
    tianhe, yuexiu = frame.to_crs(crs)
    shared = tianhe.boundary.intersection(yuexiu.buffer(1.0))
    mid = max(getattr(shared, "geoms", [shared]), key=lambda g: g.length).interpolate(0.5, normalized=True)
    border = [nearest_points(tianhe.buffer(-50).boundary, mid)[0], nearest_points(yuexiu.buffer(-50).boundary, mid)[0],
              nearest_points(tianhe.buffer(120).boundary, mid)[0]]
    in_tianhe, in_yuexiu, across = gpd.GeoSeries(border, crs=crs).to_crs(geo.WGS84)
    return {"天河": points["440106"], "越秀": points["440104"], "黄埔": points["440112"],
            "越秀2": geoms["440104"].representative_point(),
            "天河50": in_tianhe, "越秀50": in_yuexiu, "越秀120": across}


def _gz_register(tmp_path, settings, rows) -> Path:
    points = _gz_points(settings)
    features = [{"type": "Feature", "id": sid,
                 "properties": {"id": sid, "name": name, "opening_hours": "24/7", **props},
                 "geometry": {"type": "Point", "coordinates": [round(points[at].x, 7), round(points[at].y, 7)]}}
                for sid, name, at, props in rows]
    path = tmp_path / "广州市驿站台账.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


GZ_ROWS = [
    ("440106-001", "天河体育中心驿站", "天河", {"district_code": "440106", "district": "天河区"}),
    ("440104-001", "北京路驿站", "越秀", {"district": "越秀"}),
    ("440106-002", "天河边界驿站", "天河50", {"district": "广州市天河区"}),
    ("440104-002", "越秀边界驿站", "越秀50", {"district_code": "440104"}),
    ("440106-003", "石牌桥驿站", "越秀2", {"district_code": "440106", "district": "天河区"}),
    ("440106-004", "天河西驿站", "越秀120", {"district": "天河区"}),
    ("440112-001", "科学城驿站", "黄埔", {"district": "高新区"}),
]


def test_validate_checks_each_station_against_the_district_it_names(runner, settings, tmp_path):
    path = _gz_register(tmp_path, settings, GZ_ROWS)
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("error: features[4] (id '440106-003'): district_code = '440106': 石牌桥驿站 to lie in "
                               "广州市天河区 (440106); it lies in 广州市越秀区 (440104), "), result.output
    assert lines[0].endswith(" m outside the boundary of 广州市天河区")
    assert lines[1].startswith("error: features[5] (id '440106-004'): district = '天河区': 天河西驿站 to lie in "
                               "广州市天河区 (440106); it lies in 广州市越秀区 (440104), 120 m outside")
    assert lines[2].startswith("warning: features[6] (id '440112-001'): district = '高新区': 科学城驿站: a county-level "
                               "district")
    assert lines[2].endswith("it lies in 广州市黄埔区 (440112)")
    assert lines[3].endswith("7 records, 2 errors, 1 warnings")
    assert len(lines) == 4  # nothing about the stations inside, by the border or not


def test_validate_membership_warnings_fail_only_when_strict(runner, settings, tmp_path):
    path = _gz_register(tmp_path, settings, [GZ_ROWS[0], GZ_ROWS[2], GZ_ROWS[3], GZ_ROWS[6]])
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 records, 0 errors, 1 warnings" in result.output
    assert runner.invoke(main, ["validate", str(path), "--strict"]).exit_code == 1
    as_json = runner.invoke(main, ["validate", str(path), "--format", "json"])
    problem, = json.loads(as_json.output)[0]["problems"]
    assert problem["field"] == "district" and problem["value"] == "'高新区'" and problem["severity"] == "warning"


def test_validate_with_district_reports_each_station_once(runner, settings, tmp_path):
    rows = [GZ_ROWS[0], ("440104-009", "无区县驿站", "越秀", {}), GZ_ROWS[4]]
    path = _gz_register(tmp_path, settings, rows)
    result = runner.invoke(main, ["validate", str(path), "--district", "天河区"])
    assert result.exit_code == 1, result.output
    assert result.output.count("440106-003") == 1 and result.output.count("440104-009") == 1
    assert ("error: features[1] (id '440104-009'): geometry.coordinates = " in result.output
            and "无区县驿站 to lie in 广州市天河区 (440106), the district the register is checked against" in result.output)
    assert "3 records, 2 errors, 0 warnings" in result.output


def test_import_gcj02_register_with_district_column(runner, settings, tmp_path):
    from stationmap.geo import wgs84_to_gcj02

    points = _gz_points(settings)

    def row(sid: str, name: str, at: str, district: str) -> str:
        lon, lat = wgs84_to_gcj02(points[at].x, points[at].y)
        return f"{sid},{name},{lon:.7f},{lat:.7f},{district},24小时\n"

    header = "编号,站点名称,经度,纬度,所属区县,开放时间\n"
    good = [row("GZ-001", "天河体育中心驿站", "天河", "天河区"), row("GZ-002", "北京路驿站", "越秀", "广州市越秀区"),
            row("GZ-003", "天河边界驿站", "天河50", "天河"), row("GZ-004", "越秀边界驿站", "越秀50", "越秀区"),
            row("GZ-005", "科学城驿站", "黄埔", "高新区")]
    table = tmp_path / "台账.csv"
    table.write_text(header + "".join(good), encoding="utf-8")
    out = tmp_path / "out.geojson"
    result = runner.invoke(main, ["import", str(table), "--crs", "gcj02", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "row 6 (id 'GZ-005'): district = '高新区': 科学城驿站: a county-level district" in result.output
    assert "it lies in 广州市黄埔区 (440112)" in result.output and "1 warnings; wrote" in result.output
    assert result.output.count("warning:") == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [f["properties"]["district"] for f in doc["features"]][:2] == ["天河区", "广州市越秀区"]

    moved = tmp_path / "moved.csv"
    moved.write_text(header + "".join(good) + row("GZ-006", "石牌桥驿站", "越秀2", "天河区"), encoding="utf-8")
    out2 = tmp_path / "moved.geojson"
    result = runner.invoke(main, ["import", str(moved), "--crs", "gcj02", "-o", str(out2)])
    assert result.exit_code == 1 and not out2.exists(), result.output
    assert ("error: row 7 (id 'GZ-006'): district = '天河区': 石牌桥驿站 to lie in 广州市天河区 (440106); it lies in "
            "广州市越秀区 (440104)") in result.output
    assert "Traceback" not in result.output


def test_import_with_district_option_reports_outside_once(runner, settings, tmp_path):
    from stationmap.geo import wgs84_to_gcj02

    point = _gz_points(settings)["越秀"]
    lon, lat = wgs84_to_gcj02(point.x, point.y)
    table = tmp_path / "t.csv"
    table.write_text(f"站点名称,经度,纬度\n北京路驿站,{lon:.7f},{lat:.7f}\n", encoding="utf-8")
    result = runner.invoke(main, ["import", str(table), "--crs", "gcj02", "--district", "440106",
                                  "-o", str(tmp_path / "o.geojson")])
    assert result.exit_code == 1, result.output
    assert result.output.count("outside the boundary") == 1 and "inside district 440106" not in result.output
    assert "北京路驿站 to lie in 广州市天河区 (440106); it lies in 广州市越秀区 (440104)" in result.output


# --- bad usage exits 2, naming the option, the value and the range (stationmap.parameters) -------------------

@pytest.mark.parametrize(("args", "option", "value", "expected"), [
    (["coverage", "--radius-m", "-5"], "--radius-m", "-5", "between 100 and 10000 m"),
    (["coverage", "--radius-m", "500,20000"], "--radius-m", "20000", "between 100 and 10000 m"),
    (["coverage", "--radius-m", "500,abc"], "--radius-m", "abc", "must be a number"),
    (["coverage", "--street-buffer-m", "501"], "--street-buffer-m", "501", "between 0 and 500 m"),
    (["coverage", "--at", "25:00"], "--at", "25:00", "HH:MM"),
    (["coverage", "--demand-crs", "mars"], "--demand-crs", "mars", "wgs84, gcj02"),
    (["gaps", "--radius-m", "-5"], "--radius-m", "-5", "between 100 and 10000 m"),
    (["gaps", "--radius-m", "nan"], "--radius-m", "nan", "finite number"),
    (["gaps", "--min-area-m2", "-1"], "--min-area-m2", "-1", "between 0 and 100000000 m²"),
    (["gaps", "--top", "0"], "--top", "0", "between 1 and 100000"),
    (["gaps", "--boundary-crs", "mars"], "--boundary-crs", "mars", "EPSG"),
    (["site", "-k", "501"], "--k", "501", "between 1 and 500"),
    (["site", "--radius-m", "10000.5"], "--radius-m", "10000.5", "between 100 and 10000 m"),
    (["site", "--grid-m", "5"], "--grid-m", "5", "between 10 and 10000 m"),
    (["site", "--time-limit-s", "0"], "--time-limit-s", "0", "between 1 and 3600 s"),
    (["site", "--add", "109.1,95"], "--add", "95", "latitude must be between -90 and 90°"),
    (["site", "--add", "109.1"], "--add", "109.1", "LON,LAT"),
    (["site", "--candidates-crs", "mars"], "--candidates-crs", "mars", "wgs84, gcj02"),
    (["report", "-o", "out", "--radius-m", "50"], "--radius-m", "50", "between 100 and 10000 m"),
    (["report", "-o", "out", "--headline-radius-m", "10001"], "--headline-radius-m", "10001",
     "between 100 and 10000 m"),
    (["report", "-o", "out", "--sites", "21"], "--sites", "21", "between 0 and 20"),
    (["serve", "--port", "65536"], "--port", "65536", "between 1 and 65535"),
    (["serve", "--max-request-bytes", "999"], "--max-request-bytes", "999", "between 1000 and 100000000 bytes"),
    (["serve", "--boundary-crs", "mars"], "--boundary-crs", "mars", "EPSG"),
    (["validate", "x.geojson", "--duplicate-m", "-1"], "--duplicate-m", "-1", "between 0 and 1000 m"),
    (["import", "t.csv", "-o", "o.geojson", "--crs", "mars"], "--crs", "mars", "wgs84, gcj02"),
    (["export", "s.geojson", "-o", "o.csv", "--datum", "utm"], "--datum", "utm", "wgs84"),
    (["stars", "--lang", "fr"], "--lang", "fr", "zh"),
    (["stars", "--format", "xml"], "--format", "xml", "json"),
    (["summary", "--radius-m", "500"], "--radius-m", "", "No such option"),
])
def test_bad_option_exits_2_naming_option_value_and_range(runner, args, option, value, expected):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())  # click wraps long messages
    assert option in text and expected in text, text
    if value:
        assert f"'{value}'" in text, text
    assert "Traceback" not in result.output


def test_bad_radius_setting_exits_2(runner):
    result = runner.invoke(main, ["summary"], env={"STATIONMAP_DEFAULT_RADIUS_M": "50"})
    assert result.exit_code == 2, result.output
    assert "STATIONMAP_DEFAULT_RADIUS_M" in result.output and "between 100 and 10000 m" in result.output


@pytest.mark.parametrize(("command", "fragments"), [
    ("coverage", ["--radius-m", "Allowed: between 100 and 10000 m", "Default: 1000 m, or STATIONMAP_DEFAULT_RADIUS_M",
                  "--street-buffer-m", "between 0 and 500 m"]),
    ("gaps", ["--min-area-m2", "between 0 and 100000000 m²", "[default: 10000.0]"]),
    ("site", ["-k, --k INTEGER", "between 1 and 500", "[default: 5]", "--time-limit-s", "between 1 and 3600 s"]),
    ("report", ["--headline-radius-m", "Default: 500,1000,1500", "--sites", "between 0 and 20"]),
    ("serve", ["--port", "between 1 and 65535"]),
    ("validate", ["--duplicate-m", "between 0 and 1000 m", "[default: 10.0]"]),
])
def test_help_states_the_ranges_from_the_specs(runner, command, fragments):
    result = runner.invoke(main, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, (fragment, text)


# --- hardened (issue 11) ------------------------------------------------------------------------------------------

def test_import_big5_needs_encoding(runner, tmp_path):
    out = tmp_path / "out.geojson"
    refused = runner.invoke(main, ["import", str(BAD / "table_big5.csv"), "--crs", "wgs84", "-o", str(out)])
    assert refused.exit_code == 1, refused.output
    assert "--encoding" in refused.output and "Traceback" not in refused.output and not out.exists()
    result = runner.invoke(main, ["import", str(BAD / "table_big5.csv"), "--crs", "wgs84", "--encoding", "big5",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    names = [f["properties"]["name"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]]
    assert names == ["紡織公園愛心驛站", "席王街道環衛驛站"]


@pytest.mark.parametrize("name", ["table_gbk.csv", "table_utf8_bom.csv"])
def test_import_gbk_and_utf8_bom_without_encoding(runner, tmp_path, name):
    out = tmp_path / "out.geojson"
    result = runner.invoke(main, ["import", str(BAD / name), "--crs", "wgs84", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "纺织公园爱心驿站" in out.read_text(encoding="utf-8")


def test_import_empty_csv_exits_1(runner, tmp_path):
    result = runner.invoke(main, ["import", str(BAD / "table_empty.csv"), "--crs", "wgs84",
                                  "-o", str(tmp_path / "out.geojson")])
    assert result.exit_code == 1, result.output
    assert "empty" in result.output and "Traceback" not in result.output


def test_validate_deeply_nested_json_exits_1(runner, tmp_path):
    path = tmp_path / "deep.geojson"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "nested too deeply" in result.output and "RecursionError" not in result.output


def test_import_formula_text_warns_and_export_neutralises(runner, tmp_path):
    out = tmp_path / "out.geojson"
    result = runner.invoke(main, ["import", str(BAD / "table_formula.csv"), "--crs", "wgs84", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "row 2" in result.output and "formula" in result.output
    exported = runner.invoke(main, ["export", str(out), "-o", str(tmp_path / "x.csv")])
    assert exported.exit_code == 0, exported.output
    assert "'=HYPERLINK(" in (tmp_path / "x.csv").read_text(encoding="utf-8-sig")


# --- the living register: history and the register as of a date ------------------------------------------------


@pytest.fixture
def edited_register(database_url, settings, boundary_cache):
    """
    The bundled 610111 stations in a fresh register, filled effective 2024-06-30 (as a dated import would); 610111-001
    renamed effective 2025-03-01; 610111-002 closed now.
    """
    from datetime import date

    from stationmap import editing
    from stationmap.hours import day_start_utc
    from stationmap.store import Change, User, open_store

    store = open_store(database_url)
    features = json.loads((settings.data_dir / "stations" / "610111.geojson").read_text(encoding="utf-8"))["features"]
    store.apply([Change(f["id"], "add", f, "610111") for f in features], user="stationmap",
                comment="filled from 610111.geojson", effective_at=day_start_utc(date(2024, 6, 30)))
    renamed = json.loads(json.dumps(features[0]))
    renamed["properties"]["name"] = "纺织公园驿站（新址）"
    store.apply([Change("610111-001", "modify", renamed, "610111", expected_version=1)], user="王主任",
                comment="更名", effective_at=day_start_utc(date(2025, 3, 1)))
    places = editing.Places(settings.data_dir, boundary_cache)
    editing.close_station(store, "610111-002", user=User("王主任", "admin"), expected_version=1, places=places,
                          comment="场地拆迁")
    yield database_url
    store.close()


def test_history_lists_each_edit_with_what_changed(runner, edited_register):
    result = runner.invoke(main, ["history", "610111-001", "--database", edited_register])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "610111-001 纺织公园驿站（新址）: version 2, open, 2 edit(s)"
    assert ", effective 2024-06-30 add by stationmap: filled from 610111.geojson" in lines[1]
    assert ", effective 2025-03-01 modify by 王主任: 更名" in lines[2]
    assert lines[3] == "    name: 纺织城街道纺织公园爱心驿站 → 纺织公园驿站（新址）"
    as_json = json.loads(runner.invoke(main, ["history", "610111-002", "--database", edited_register,
                                              "--format", "json"]).output)
    assert [e["action"] for e in as_json["edits"]] == ["add", "close"]
    missing = runner.invoke(main, ["history", "610111-999", "--database", edited_register])
    assert missing.exit_code == 1 and "No station with id '610111-999'" in missing.output


def test_analyses_read_the_register_as_of_a_date(runner, edited_register):
    def names(*extra: str) -> dict[str, str]:
        result = runner.invoke(main, ["stars", "--district", "610111", "--database", edited_register,
                                      "--format", "json", *extra])
        assert result.exit_code == 0, result.output
        return {r["station_id"]: r["name"] for r in json.loads(result.stdout)["stations"]}

    assert names()["610111-001"] == "纺织公园驿站（新址）"
    assert names("--as-of", "2025-02-28")["610111-001"] == "纺织城街道纺织公园爱心驿站"
    assert names("--as-of", "2025-03-01")["610111-001"] == "纺织公园驿站（新址）"  # effective at 00:00 that day
    before = runner.invoke(main, ["coverage", "--district", "610111", "--database", edited_register,
                                  "--as-of", "2024-06-29"])
    assert before.exit_code == 1  # the register starts on 2024-06-30
    assert "held no station at the end of 2024-06-29" in before.output
    last_year = runner.invoke(main, ["coverage", "--district", "610111", "--database", edited_register,
                                     "--as-of", "2025-12-31"])
    assert "63 stations" in last_year.output and "closed station" not in last_year.output
    now = runner.invoke(main, ["coverage", "--district", "610111", "--database", edited_register])
    assert "63 stations" in now.output and "1 closed station(s) left out" in now.output
    bad = runner.invoke(main, ["coverage", "--district", "610111", "--database", edited_register, "--as-of", "2024"])
    assert bad.exit_code == 2


def test_report_as_of_says_so(runner, edited_register, tmp_path):
    def summary(*extra: str) -> dict[str, str]:
        out = tmp_path / "-".join(extra or ("now",))
        result = runner.invoke(main, ["report", "--district", "610111", "--database", edited_register, "-o", str(out),
                                      "--no-pdf", *extra])
        assert result.exit_code == 0, result.output
        with (out / "summary.csv").open(encoding="utf-8-sig") as fh:
            return next(csv.DictReader(fh)) | {"html": (out / "report.html").read_text(encoding="utf-8")}

    last_year, now = summary("--as-of", "2025-12-31"), summary()
    assert "登记册截至 2025-12-31" in last_year["html"] and "登记册截至" not in now["html"]
    assert int(last_year["open"]) == int(now["open"]) + 1  # 610111-002 closed since


def test_export_the_register_closed_stations_included(runner, edited_register, tmp_path):
    out = tmp_path / "register.xlsx"
    result = runner.invoke(main, ["export", "--database", edited_register, "-o", str(out), "--headers", "zh"])
    assert result.exit_code == 0, result.output
    table = pd.read_excel(out, dtype=str)
    assert len(table) == 63
    status = dict(zip(table["站点编号"], table["运营状态"], strict=True))
    assert status["610111-002"] == "已关闭" and status["610111-001"] == "运营中"  # Chinese table, Chinese values
    both = runner.invoke(main, ["export", str(tmp_path / "x.geojson"), "--database", edited_register, "-o", str(out)])
    assert both.exit_code == 2


def test_build_reports_fills_the_cache_the_server_reads(runner):
    from stationmap.config import Settings
    from stationmap.web import create_app

    result = runner.invoke(main, ["build-reports", "--format", "html", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("4 report(s) ready in ")  # the four demo districts
    app = create_app(Settings())
    try:
        response = app.test_client().get("/report/610111.html?lang=zh")
        cache = app.extensions["stationmap_reports"]
        assert response.status_code == 200 and (cache.builds, cache.disk_hits) == (0, 1)  # read, not built
    finally:
        app.extensions["stationmap_store"].close()


# --- downgrade triggers from workers' reports (issue 14) --------------------------------------------------------


def test_stars_shows_downgrade_triggers_from_overdue_reports(runner, database_url, settings):
    from datetime import date, timedelta

    from stationmap import feedback
    from stationmap.hours import day_start_utc
    from stationmap.store import Change, User, open_store, utc_now

    store = open_store(database_url)
    features = json.loads((settings.data_dir / "stations" / "610111.geojson").read_text(encoding="utf-8"))["features"]
    store.apply([Change(f["id"], "add", f, "610111") for f in features], user="stationmap", comment="filled",
                effective_at=day_start_utc(date(2024, 6, 30)))
    admin, start = User("王主任", "admin"), utc_now() - timedelta(days=30)

    def report(sid, body, day, state=None):
        made = feedback.submit_feedback(store, sid, body, client=f"198.51.100.{day}", secret="s" * 32,
                                        deadline_days=3, now=start + timedelta(days=day))
        if state:
            made = feedback.change_state(store, made.id, admin, state=state, note="核实", now=start + timedelta(days=day + 1))
        return made

    closed = [report("610111-003", {"kind": "closed_at_stated_hours"}, d, "acknowledged") for d in (0, 2)]
    broken = report("610111-003", {"kind": "broken_facility", "amenity": "meal_heating"}, 3)  # left new
    report("610111-004", {"kind": "closed_at_stated_hours"}, 0, "resolved")
    report("610111-004", {"kind": "closed_at_stated_hours"}, 1, "rejected")  # does not count
    report("610111-004", {"kind": "broken_facility", "amenity": "seating"}, 2, "resolved")  # repaired
    store.close()

    result = runner.invoke(main, ["stars", "--district", "610111", "--database", database_url, "--lang", "en"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("610111-003 "))
    block = "\n".join(lines[at:at + 12])
    day = [r.created_at.astimezone(feedback._SHANGHAI).strftime("%Y-%m-%d") for r in (*closed, broken)]
    assert "downgraded: workers reported it closed at stated hours, 2 confirmed in 90 days" in lines[at]
    assert f"#{closed[0].id} {day[0]}, #{closed[1].id} {day[1]}" in lines[at]
    assert f"        #{broken.id} broken_facility meal_heating {day[2]}, due " in block
    assert f"        #{closed[0].id} closed_at_stated_hours {day[0]}, due " in block
    assert "broken facility reports past deadline" in block
    assert "past deadline, unresolved" not in block  # every overdue report already counted once: not twice
    after_004 = lines[next(i for i, line in enumerate(lines) if line.startswith("610111-004 ")) + 1]
    assert not after_004.startswith(" ")  # a rejected closure report and a repaired breakage fire nothing
    assert "workers' reports: 1 station(s) trigger a downgrade" in result.stdout

    as_json = json.loads(runner.invoke(main, ["stars", "--district", "610111", "--database", database_url,
                                              "--format", "json"]).stdout)
    assert as_json["feedback_available"] is True and list(as_json["feedback_triggers"]) == ["610111-003"]
    fired = {t["trigger"]: [r["id"] for r in t["reports"]] for t in as_json["feedback_triggers"]["610111-003"]}
    assert fired == {"shut_at_stated_hours": [c.id for c in closed], "broken_facilities": [broken.id]}
    row = next(s for s in as_json["stations"] if s["station_id"] == "610111-003")
    assert "降星" in row["headline"] and row["qualified_stars"] < row["attribute_stars"]
    assert f"#{closed[0].id} {day[0]}" in row["downgrades"]
    # as of the day before the first report nothing had happened
    before = runner.invoke(main, ["stars", "--district", "610111", "--database", database_url, "--format", "json",
                                  "--as-of", (start - timedelta(days=1)).strftime("%Y-%m-%d")])
    assert before.exit_code == 0 and json.loads(before.stdout)["feedback_triggers"] == {}


def test_stars_from_files_says_reports_are_not_available(runner):
    result = runner.invoke(main, ["stars", "--district", "610111", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "workers' reports: not available" in result.stdout
    as_json = json.loads(runner.invoke(main, ["stars", "--district", "610111", "--format", "json"]).stdout)
    assert as_json["feedback_available"] is False and as_json["feedback_triggers"] == {}
