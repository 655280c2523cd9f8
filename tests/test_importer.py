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
from stationmap.schema import KINDS, STATUSES

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
    table = pd.read_csv(out, dtype=str, encoding="utf-8-sig")  # a Chinese table says its values in Chinese too
    assert set(table["运营状态"].dropna()) <= {s.zh for s in STATUSES.terms}
    assert set(table["站点类型"].dropna()) <= {k.zh for k in KINDS.terms}


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


# --- registers as district unions keep them --------------------------------------------------------------------

# tests/data/clerk_register_440106.csv: five made-up stations in 广州市天河区 written the way district unions' Excel
# registers write them (序号 column, 所属区县 + 行政区划代码, full-width hours, 夏季/冬季, "及"/"等" in lists, a
# code saved as 440106.0, a row in 高新区 without a code, a row that names no district). GCJ-02 coordinates.
REGISTER = Path(__file__).resolve().parent / "data" / "clerk_register_440106.csv"


@pytest.fixture(scope="module")
def register():
    return importer.import_table(REGISTER, crs="gcj02")


def test_register_amenity_synonyms_separators_and_toilet_words(register):
    frame = register.stations.set_index("name")
    assert frame.loc["天河公园爱心驿站", "amenities"] == ["first_aid", "drinking_water"]  # 医药箱、急救包及饮水机等
    assert frame.loc["珠江新城工会驿站", "amenities"] == ["drinking_water", "meal_heating", "phone_charging",
                                                    "ebike_charging"]
    assert frame.loc["珠江新城工会驿站", "toilet"] == "onsite"  # 卫生间 in the list
    assert frame.loc["科学城职工驿站", "amenities"] == ["wifi", "reading", "rain_gear", "toolkit", "blood_pressure",
                                                  "aed"]
    assert frame.loc["猎德司机之家", "amenities"] == ["ebike_charging", "air_conditioning", "heating", "seating"]
    assert frame.loc["猎德司机之家", "toilet"] == "nearby"  # 公共厕所


def test_register_hours(register):
    hours = register.stations.set_index("name")["opening_hours"]
    assert hours["天河公园爱心驿站"] == "Mo-Fr 08:30-17:30; PH off"
    assert hours["珠江新城工会驿站"] == "May-Sep 07:00-19:00; Oct-Apr 08:00-18:00"
    assert hours["科学城职工驿站"] == "Mo-Su 08:00-18:00; PH off"
    assert hours["猎德司机之家"] == "24/7"


def test_register_district_columns_are_carried_as_written(register):
    frame = register.stations.set_index("name")
    assert register.column_mapping["所属区县"] == "district"
    assert register.column_mapping["行政区划代码"] == "district_code"
    assert frame.loc["天河公园爱心驿站", "district"] == "天河区"
    assert frame.loc["天河公园爱心驿站", "district_code"] == "440106"
    assert frame.loc["猎德司机之家", "district_code"] == "440106"  # the cell said 440106.0
    assert frame.loc["科学城职工驿站", "district"] == "高新区"
    assert pd.isna(frame.loc["科学城职工驿站", "district_code"])
    assert pd.isna(frame.loc["车陂环卫驿站", "district"]) and pd.isna(frame.loc["车陂环卫驿站", "district_code"])


def test_register_keeps_and_counts_everything_it_could_not_map(register):
    frame = register.stations.set_index("name")
    row = frame.loc["车陂环卫驿站"]
    assert row["amenities"] == ["drinking_water"]
    assert row["amenities_other"] == ["按摩椅", "饮水(冷热)"]  # the bracket says more than 饮水: kept as written
    assert row["opening_hours_raw"] == "随到随开" and pd.isna(row["opening_hours"])
    assert row["extra"] == {"序号": "4", "备注": "按摩椅待修"}
    assert frame.loc["天河公园爱心驿站", "extra"] == {"序号": "1"}
    unmapped = register.unmapped
    assert (unmapped.amenity_values, unmapped.amenity_stations) == (2, 1)
    assert unmapped.hours_stations == 1
    assert (unmapped.extra_values, unmapped.extra_stations) == (6, 5)  # 序号 on every row, 备注 on one
    assert unmapped.extra_columns == ("序号", "备注")
    assert unmapped.total == 9
    # each is a warning in the report: 2 amenity items, 1 hours value, 2 unrecognised columns
    warnings = [str(p) for p in register.report.warnings]
    assert sum("kept in 'amenities_other'" in w for w in warnings) == 2
    assert sum("kept in 'opening_hours_raw'" in w for w in warnings) == 1
    assert sum("does not recognise" in w for w in warnings) == 2
    assert any("序号 = '5 value(s)'" in w for w in warnings)
    summary = register.summary()
    assert summary.startswith("imported 5 stations from clerk_register_440106.csv (gcj02 -> wgs84); kept unmapped: ")
    assert "2 amenity item(s) in amenities_other (1 station(s))" in summary
    assert "1 station(s)' opening hours as written in opening_hours_raw" in summary
    assert "6 value(s) under extra (5 station(s); unrecognised columns: 序号, 备注)" in summary


def test_summary_when_everything_maps(tmp_path):
    path = _write_csv(tmp_path / "clean.csv", rows=[["好站", "109.06", "34.27", "饮水、热饭", "全天"]],
                      headers=["站点名称", "经度", "纬度", "设施", "开放时间"])
    result = importer.import_table(path, crs="wgs84")
    assert result.unmapped.total == 0
    assert result.summary() == "imported 1 stations from clean.csv (wgs84 -> wgs84); every value was mapped; 0 warnings"


@pytest.mark.parametrize("header", ["所属区县", "区县", "所在区县", "行政区", "所属行政区", "辖区", "区域", "县区"])
def test_district_headers(tmp_path, header):
    path = _write_csv(tmp_path / "d.csv", rows=[["好站", "109.06", "34.27", "高新区"]],
                      headers=["站点名称", "经度", "纬度", header])
    result = importer.import_table(path, crs="wgs84")
    assert result.column_mapping[header] == "district"
    assert result.stations["district"].iloc[0] == "高新区"


@pytest.mark.parametrize("header", ["adcode", "行政区划代码", "区划代码", "区县代码"])
@pytest.mark.parametrize(("cell", "code"), [("440106", "440106"), ("440106.0", "440106"),
                                            ("440106000000", "440106")])
def test_district_code_headers_and_cells(tmp_path, header, cell, code):
    path = _write_csv(tmp_path / "c.csv", rows=[["好站", "109.06", "34.27", cell]],
                      headers=["站点名称", "经度", "纬度", header])
    result = importer.import_table(path, crs="wgs84")
    assert result.column_mapping[header] == "district_code"
    assert result.stations["district_code"].iloc[0] == code


def test_district_code_from_an_excel_number_is_six_digit_text(tmp_path):
    frame = pd.DataFrame({"站点名称": ["好站"], "经度": [109.06], "纬度": [34.27], "行政区划代码": [440106.0]})
    frame.to_excel(tmp_path / "codes.xlsx", index=False)
    stations_out = importer.import_table(tmp_path / "codes.xlsx", crs="wgs84").stations
    assert stations_out["district_code"].iloc[0] == "440106"


def test_bad_district_code_is_kept_and_reported(tmp_path):
    path = _write_csv(tmp_path / "bad.csv", rows=[["好站", "109.06", "34.27", "4401"]],
                      headers=["站点名称", "经度", "纬度", "区划代码"])
    result = importer.import_table(path, crs="wgs84")
    assert result.stations["extra"].iloc[0] == {"区划代码": "4401"}
    assert any("6-digit adcode" in str(p) for p in result.report.warnings)
    assert result.unmapped.extra_values == 1


def test_district_option_fills_only_rows_that_name_none(tmp_path, baqiao):
    rows = [["自带区县站", "109.060", "34.270", "天河区", "440106"],  # keeps its own, even if it looks wrong
            ["只写名称站", "109.061", "34.271", "灞桥区", ""],  # the option's own name: its adcode is filled in
            ["只写别区站", "109.062", "34.272", "高新区", ""],  # another name: no adcode is made up for it
            ["空白站", "109.063", "34.273", "", ""]]
    path = _write_csv(tmp_path / "mixed.csv", rows=rows, headers=["站点名称", "经度", "纬度", "所属区县", "区县代码"])
    frame = importer.import_table(path, crs="wgs84", district=baqiao).stations.set_index("name")
    assert (frame.loc["自带区县站", "district"], frame.loc["自带区县站", "district_code"]) == ("天河区", "440106")
    assert (frame.loc["只写名称站", "district"], frame.loc["只写名称站", "district_code"]) == ("灞桥区", "610111")
    assert frame.loc["只写别区站", "district"] == "高新区" and pd.isna(frame.loc["只写别区站", "district_code"])
    assert (frame.loc["空白站", "district"], frame.loc["空白站", "district_code"]) == ("灞桥区", "610111")


def test_amenities_other_column_and_unknown_items_are_merged(tmp_path):
    path = _write_csv(tmp_path / "other.csv", rows=[["好站", "109.06", "34.27", "饮水、按摩椅", "体重秤、按摩椅"]],
                      headers=["站点名称", "经度", "纬度", "设施", "其他设施"])
    result = importer.import_table(path, crs="wgs84")
    assert result.stations["amenities_other"].iloc[0] == ["按摩椅", "体重秤"]
    assert result.unmapped.amenity_values == 2


def test_toilet_column_wins_over_a_toilet_word_in_the_list(tmp_path):
    path = _write_csv(tmp_path / "toilet.csv", rows=[["好站", "109.06", "34.27", "饮水、卫生间", "附近"]],
                      headers=["站点名称", "经度", "纬度", "设施", "厕所"])
    frame = importer.import_table(path, crs="wgs84").stations
    assert frame["toilet"].iloc[0] == "nearby"
    assert frame["amenities"].iloc[0] == ["drinking_water"]


@pytest.mark.parametrize(("cell", "keys", "other"), [
    ("饮水、热饭，充电；雨伞/书报 WiFi", ["drinking_water", "meal_heating", "phone_charging", "rain_gear", "reading",
                                   "wifi"], []),
    ("饮水,热饭;充电|冰箱", ["drinking_water", "meal_heating", "phone_charging", "fridge"], []),
    ("饮水机和微波炉", ["drinking_water", "meal_heating"], []),
    ("直饮水及充电宝等", ["drinking_water", "phone_charging"], []),
    ("雨伞、针线包等服务", ["rain_gear", "sewing_kit"], []),
    ("免费充电、免费饮水", ["phone_charging", "drinking_water"], []),
    ("ＷｉＦｉ、空调", ["wifi", "air_conditioning"], []),
    ("饮水和按摩椅", ["drinking_water"], ["按摩椅"]),
    ("饮水(冷/热)", [], ["饮水(冷/热)"]),
    ("AED（除颤仪）", ["aed"], []),
])
def test_amenity_list_forms(tmp_path, cell, keys, other):
    path = _write_csv(tmp_path / "list.csv", rows=[["好站", "109.06", "34.27", cell]],
                      headers=["站点名称", "经度", "纬度", "配套设施"])
    frame = importer.import_table(path, crs="wgs84").stations
    assert frame["amenities"].iloc[0] == keys
    if other:
        assert frame["amenities_other"].iloc[0] == other
    else:
        assert "amenities_other" not in frame or not isinstance(frame["amenities_other"].iloc[0], list)


# --- hardened (issue 11): encodings, empty and oversized tables, formula text ------------------------------------

BAD = Path(__file__).resolve().parent / "data" / "bad"


@pytest.mark.parametrize("name", ["table_gbk.csv", "table_utf8_bom.csv"])
def test_gbk_and_utf8_bom_tables_are_read(name):
    result = importer.import_table(BAD / name, crs="wgs84")
    assert list(result.stations["name"]) == ["纺织公园爱心驿站", "席王街道环卫驿站"]
    assert result.stations["address"].iloc[0] == "西安市灞桥区纺织城正街"


def test_big5_table_is_refused_not_imported_as_garbage():
    with pytest.raises(StationDataError, match="--encoding"):
        importer.import_table(BAD / "table_big5.csv", crs="wgs84")


def test_big5_table_imports_with_its_encoding_given():
    result = importer.import_table(BAD / "table_big5.csv", crs="wgs84", encoding="big5")
    assert list(result.stations["name"]) == ["紡織公園愛心驛站", "席王街道環衛驛站"]


def test_wrong_encoding_given_is_a_clean_error():
    with pytest.raises(StationDataError, match="not utf-8 text.*--encoding"):
        importer.import_table(BAD / "table_gbk.csv", crs="wgs84", encoding="utf-8")
    with pytest.raises(StationDataError, match="Unknown encoding"):
        importer.import_table(BAD / "table_gbk.csv", crs="wgs84", encoding="klingon")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n  \n"])
def test_empty_csv_is_a_data_error(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(StationDataError, match="empty"):
        importer.import_table(path, crs="wgs84")
    with pytest.raises(StationDataError, match="empty"):
        importer.import_table(BAD / "table_empty.csv", crs="wgs84")


def test_formula_text_is_kept_with_a_warning_naming_row_column_and_value():
    result = importer.import_table(BAD / "table_formula.csv", crs="wgs84")
    station = result.stations.iloc[0]
    assert station["name"].startswith('=HYPERLINK(')
    assert station["address"] == "@SUM(1+1)"
    formula = [str(p) for p in result.report.warnings if "formula" in p.expected]
    assert {p.field for p in result.report.warnings if "formula" in p.expected} == {"name", "address", "phone",
                                                                                   "manager"}
    assert any("row 2" in line and "name" in line and "=HYPERLINK" in line for line in formula), formula


def test_negative_number_text_is_not_a_formula(tmp_path):
    path = _write_csv(tmp_path / "neg.csv", rows=[["站", "109.069", "34.266", "-3.5"]],
                      headers=["name", "lon", "lat", "备注"])
    result = importer.import_table(path, crs="wgs84")
    assert not [p for p in result.report.warnings if "formula" in p.expected]


def test_xlsx_decompression_bomb_is_refused_before_openpyxl(tmp_path, monkeypatch):
    import zipfile

    from stationmap import files

    monkeypatch.setattr(files, "MAX_XLSX_UNCOMPRESSED_BYTES", 1_000_000)  # keep the test file small
    path = _write_xlsx(tmp_path / "bomb.xlsx")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.bin", b"\0" * 2_000_000)
    assert path.stat().st_size < 100_000

    def _no_openpyxl(*args, **kwargs):
        raise AssertionError("openpyxl opened the workbook")

    monkeypatch.setattr(pd, "read_excel", _no_openpyxl)
    with pytest.raises(StationDataError, match="uncompresses to 2,0"):
        importer.import_table(path, crs="wgs84")


def test_xlsx_that_is_not_a_zip_is_a_data_error(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("name,lon,lat\n", encoding="utf-8")
    with pytest.raises(StationDataError, match="not an XLSX workbook"):
        importer.import_table(path, crs="wgs84")


def test_overlong_cell_is_an_error_with_row_and_column(tmp_path):
    from stationmap.files import MAX_CELL_CHARS

    path = _write_csv(tmp_path / "long.csv", rows=[["站", "109.069", "34.266", "x" * (MAX_CELL_CHARS + 1)]],
                      headers=["name", "lon", "lat", "备注"])
    with pytest.raises(StationDataError, match=r"row 2: 备注 = 'x+'?: a cell of at most 32,767 characters"):
        importer.import_table(path, crs="wgs84")


def test_deeply_nested_json_cells_are_kept_as_text(tmp_path):
    deep = "[" * 10_000 + "]" * 10_000
    path = _write_csv(tmp_path / "deep.csv", rows=[["站", "109.069", "34.266", deep, deep, "24/7"]],
                      headers=["name", "lon", "lat", "荣誉", "其他信息", "开放时间"])
    result = importer.import_table(path, crs="wgs84")
    assert result.stations["extra"].iloc[0] == {"荣誉": deep, "其他信息": deep}
