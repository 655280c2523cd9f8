"""Importing clerks' CSV/XLSX tables: Chinese headers, labels, clerk hours, datum conversion, nothing lost."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from stationmap import geo, importer, stations
from stationmap.districts import load_district
from stationmap.errors import DatumError, ImportMappingError, StationDataError

# What a union clerk keeps: Chinese headers, GCJ-02 coordinates copied from Amap, labels and free-form hours.
HEADERS = ["站点名称", "地址", "经度", "纬度", "开放时间", "设施/服务项目", "星级", "所属区县", "厕所", "服务对象",
           "依托单位", "面积(平方米)", "座位数", "联系电话", "荣誉", "备注"]
ROWS = [
    ["纺织公园爱心驿站", "西安市灞桥区纺织城正街", "109.069000", "34.266000", "24小时", "直饮水、微波炉、手机充电、AED",
     "5星", "灞桥区", "站内", "环卫工人、外卖骑手", "灞桥区总工会", "45", "20", "029-83500000",
     "2021年全国最美工会户外劳动者服务站点", "旗舰站"],
    ["建设银行纺织城支行爱心驿站", "西安市灞桥区纺织城西街", "109.060500", "34.271500",
     "周一至周五 8:30-11:00 13:30-17:00", "饮水，热饭，休息，雨伞", "三星级", "灞桥区", "附近", "快递员",
     "中国建设银行", "20", "6", "029-83511111", "", ""],
    ["席王街道环卫驿站", "西安市灞桥区席王街道", "109.091000", "34.287000", "每天 5:00-21:00",
     "饮水；换电柜；按摩椅", "★★", "灞桥区", "", "环卫", "席王街道办", "15㎡", "4", "", "", "按摩椅待修"],
]


def _write_csv(path: Path, rows=ROWS, headers=HEADERS, encoding="utf-8-sig") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def _write_xlsx(path: Path) -> Path:
    frame = pd.DataFrame(ROWS, columns=HEADERS)
    frame["经度"] = frame["经度"].astype(float)  # Excel keeps numbers as numbers
    frame["纬度"] = frame["纬度"].astype(float)
    frame.to_excel(path, index=False)
    return path


@pytest.fixture(params=["csv", "xlsx"])
def clerk_table(request, tmp_path) -> Path:
    if request.param == "csv":
        return _write_csv(tmp_path / "站点台账.csv")
    return _write_xlsx(tmp_path / "站点台账.xlsx")


@pytest.fixture(scope="module")
def baqiao(settings):
    return load_district("610111", data_dir=settings.data_dir)


def test_import_maps_headers_labels_hours_and_datum(clerk_table, baqiao):
    result = importer.import_table(clerk_table, crs="gcj02", district=baqiao)
    frame = result.stations
    assert list(frame["name"]) == [r[0] for r in ROWS]
    first, second, third = (frame.iloc[i] for i in range(3))
    assert first["amenities"] == ["drinking_water", "meal_heating", "phone_charging", "aed"]
    assert first["opening_hours"] == "24/7" and first["stars"] == 5 and first["toilet"] == "onsite"
    assert first["honours"] == [{"level": "national", "title": "全国最美工会户外劳动者服务站点", "year": 2021}]
    assert first["served_groups"] == ["sanitation", "delivery_rider"]
    assert first["area_m2"] == 45 and first["capacity"] == 20
    assert second["opening_hours"] == "Mo-Fr 08:30-11:00,13:30-17:00" and second["stars"] == 3
    assert second["amenities"] == ["drinking_water", "meal_heating", "seating", "rain_gear"]
    assert third["opening_hours"] == "Mo-Su 05:00-21:00" and third["stars"] == 2
    assert third["amenities"] == ["drinking_water", "battery_swap"]
    # nothing dropped: the unknown amenity and the unrecognised column are kept and reported
    assert third["amenities_other"] == ["按摩椅"]
    assert third["extra"] == {"备注": "按摩椅待修"}
    assert result.column_mapping["备注"] == "extra"
    assert any("按摩椅" in str(p) and p.severity == "warning" for p in result.report.problems)
    assert list(frame["id"]) == ["610111-001", "610111-002", "610111-003"]
    assert set(frame["district_code"]) == {"610111"}


def test_import_converts_gcj02_to_wgs84(clerk_table, baqiao):
    frame = importer.import_table(clerk_table, crs="gcj02", district=baqiao).stations
    gcj_lon = [float(r[2]) for r in ROWS]
    gcj_lat = [float(r[3]) for r in ROWS]
    shift_m = geo.geodesic_distance_m(frame.geometry.x, frame.geometry.y, gcj_lon, gcj_lat)
    assert ((shift_m > 300) & (shift_m < 700)).all()
    back_lon, back_lat = geo.wgs84_to_gcj02(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    assert geo.geodesic_distance_m(back_lon, back_lat, gcj_lon, gcj_lat).max() < 0.05


def test_import_round_trips_through_geojson_and_geopackage(clerk_table, baqiao, tmp_path):
    imported = importer.import_table(clerk_table, crs="gcj02", district=baqiao).stations
    for suffix in (".geojson", ".gpkg"):
        out = stations.export_stations(imported, tmp_path / f"out{suffix}")
        back = stations.load_stations(out)
        cols = [c for c in imported.columns if c != "geometry"]
        assert_geodataframe_equal(imported[[*cols, "geometry"]], back[[*cols, "geometry"]],
                                  check_dtype=False, check_less_precise=True)
        assert back["name"].iloc[0] == "纺织公园爱心驿站"
        assert back["extra"].iloc[2] == {"备注": "按摩椅待修"}


def test_export_csv_with_chinese_headers_reimports(clerk_table, baqiao, tmp_path):
    imported = importer.import_table(clerk_table, crs="gcj02", district=baqiao).stations
    out = stations.export_stations(imported, tmp_path / "back.csv", headers="zh", datum="gcj02")
    again = importer.import_table(out, crs="gcj02", district=baqiao).stations
    cols = [c for c in imported.columns if c != "geometry"]
    assert_geodataframe_equal(imported[[*cols, "geometry"]], again[[*cols, "geometry"]], check_dtype=False,
                              check_less_precise=True)


def test_gb18030_csv(tmp_path, baqiao):
    path = _write_csv(tmp_path / "gbk.csv", encoding="gb18030")
    frame = importer.import_table(path, crs="gcj02", district=baqiao).stations
    assert frame["name"].iloc[1] == "建设银行纺织城支行爱心驿站"


def test_bd09_import(tmp_path):
    lon, lat = geo.wgs84_to_bd09(109.06, 34.27)
    path = _write_csv(tmp_path / "baidu.csv", rows=[["百度坐标站", "", f"{lon:.7f}", f"{lat:.7f}"]],
                      headers=["name", "address", "lng", "lat"])
    frame = importer.import_table(path, crs="baidu").stations
    assert geo.geodesic_distance_m(frame.geometry.x.iloc[0], frame.geometry.y.iloc[0], 109.06, 34.27) < 0.05


@pytest.mark.parametrize("crs", [None, ""])
def test_missing_datum_is_refused(clerk_table, crs):
    with pytest.raises(DatumError, match="never guessed|No coordinate datum"):
        importer.import_table(clerk_table, crs=crs)


def test_column_map_for_unusual_headers(tmp_path):
    path = _write_csv(tmp_path / "odd.csv", rows=[["某驿站", "109.06", "34.27"]], headers=["阵地", "东西", "南北"])
    with pytest.raises(ImportMappingError, match="No column for"):
        importer.import_table(path, crs="wgs84")
    mapping = importer.parse_column_map(["阵地=name", "东西=lon", "南北=lat"])
    frame = importer.import_table(path, crs="wgs84", column_map=mapping).stations
    assert frame["name"].iloc[0] == "某驿站" and frame.geometry.x.iloc[0] == pytest.approx(109.06)
    with pytest.raises(ImportMappingError, match="SOURCE=FIELD"):
        importer.parse_column_map(["阵地->name"])


def test_bad_rows_are_all_listed_and_nothing_is_written(tmp_path):
    rows = [["好站", "109.06", "34.27", "3"], ["无坐标站", "", "34.27", "2"], ["坏星级", "109.07", "34.28", "七星"],
            ["坏坐标", "109,06x", "34.27", "1"]]
    path = _write_csv(tmp_path / "bad.csv", rows=rows, headers=["站点名称", "经度", "纬度", "星级"])
    with pytest.raises(StationDataError) as info:
        importer.import_table(path, crs="wgs84")
    text = str(info.value)
    assert "row 3" in text and "经度 = None" in text
    assert "row 4" in text and "七星" in text
    assert "row 5" in text and "109,06x" in text


def test_swapped_columns_are_caught(tmp_path):
    path = _write_csv(tmp_path / "swapped.csv", rows=[["喀什站", "39.47", "75.99"]], headers=["站点名称", "经度", "纬度"])
    with pytest.raises(StationDataError, match="look swapped"):
        importer.import_table(path, crs="wgs84")
