"""District membership: each station against the district its record names, on a constructed 广州市 register."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point
from shapely.ops import nearest_points, polylabel

from stationmap import geo, membership
from stationmap.config import Settings
from stationmap.districts import load_district, locate
from stationmap.errors import CRSMismatchError
from stationmap.geo import distance_outside_m
from stationmap.validation import Problem, ValidationReport, validate_features

# 广州市's eleven districts
GUANGZHOU = {"440103": "荔湾区", "440104": "越秀区", "440105": "海珠区", "440106": "天河区", "440111": "白云区",
             "440112": "黄埔区", "440113": "番禺区", "440114": "花都区", "440115": "南沙区", "440117": "从化区",
             "440118": "增城区"}
# How each district's stations name it, as clerks write it: adcode, name, short form, name with its city
NAMING = {"440103": {"district_code": "440103"},
          "440104": {"district": "越秀"},
          "440105": {"district": "广州市海珠区"},
          "440106": {"district_code": "440106", "district": "天河区"},
          "440111": {"district": "广州 白云区"},
          "440112": {"district_code": "440112"},
          "440113": {"district_code": "440113", "district": "番禺"},
          "440114": {"district": "花都区"},
          "440115": {"district": "南沙区"},  # also 三沙市南沙区 (460302): consistent, the point lies in one of them
          "440117": {"district_code": "440117", "district": "从化"},
          "440118": {"district": "增城区"}}


def _geometry(settings: Settings, code: str):
    return load_district(code, data_dir=settings.data_dir, cache_dir=settings.cache_dir).geometry


def _inside_point(geometry) -> Point:
    """The pole of inaccessibility of the largest part: as far inside as a point can be."""
    part = max(getattr(geometry, "geoms", [geometry]), key=lambda p: p.area)
    return polylabel(part, tolerance=1e-4)


def _border_points(a, b, *, offsets_m: tuple[float, ...]) -> list[Point]:
    """
    Points by the middle of the longest border `a` shares with `b`: offset > 0 metres inside `a`, < 0 outside it
    (across the border, in `b`). Computed in the pair's UTM zone, returned in WGS-84.
    """
    frame = gpd.GeoSeries([a, b], crs=geo.WGS84)
    crs = geo.metric_crs(frame)
    ma, mb = frame.to_crs(crs)
    shared = ma.boundary.intersection(mb.buffer(1.0))  # a's boundary where b lies within 1 m of it
    line = max(getattr(shared, "geoms", [shared]), key=lambda g: g.length)
    on_border = line.interpolate(0.5, normalized=True)
    points = [nearest_points(ma.buffer(-off).boundary, on_border)[0] for off in offsets_m]
    return list(gpd.GeoSeries(points, crs=crs).to_crs(geo.WGS84))


def _feature(sid: str, point: Point, name: str, **props: str) -> dict:
    return {"type": "Feature", "id": sid,
            "geometry": {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]},
            "properties": {"id": sid, "name": name, **props}}


@pytest.fixture(scope="module")
def register(settings):
    """
    A 广州市 city register and the reports it must give: {id: (field, severity, words the message must hold)}.

    - two stations well inside each of the 11 districts (pole of inaccessibility, representative point), each
      district named in its own way (NAMING): no report;
    - pairs 50 m either side of three shared borders (天河|越秀, 海珠|番禺, 黄埔|增城), each naming its side: none;
    - three moved into another district: errors naming both districts;
    - 20 m and 120 m across the 天河|越秀 border while naming 天河区: a warning (border tolerance) and an error;
    - functional zones 高新区, 经开区, 广州开发区 (with a correct adcode): warnings naming the district;
    - 广州市 as a district, an adcode no division has, a name and an adcode that disagree (both ways).
    """
    geoms = {code: _geometry(settings, code) for code in GUANGZHOU}
    inner = {code: _inside_point(g) for code, g in geoms.items()}
    features: list[dict] = []
    expected: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for code, geometry in geoms.items():
        for k, point in enumerate((inner[code], geometry.representative_point())):
            # well inside: at least 200 m from the district's edge
            assert distance_outside_m(geometry.boundary, point.x, point.y)[0] > 200
            features.append(_feature(f"{code}-{k + 1:03d}", point, f"{GUANGZHOU[code]}驿站{k + 1}", **NAMING[code]))
    for a, b in (("440106", "440104"), ("440105", "440113"), ("440112", "440118")):
        pa, = _border_points(geoms[a], geoms[b], offsets_m=(50.0,))
        pb, = _border_points(geoms[b], geoms[a], offsets_m=(50.0,))
        for code, point, other in ((a, pa, b), (b, pb, a)):
            assert distance_outside_m(geoms[other], point.x, point.y)[0] == pytest.approx(50, abs=5)
            features.append(_feature(f"{code}-B{other}", point, f"{GUANGZHOU[code]}边界驿站", **NAMING[code]))

    def expect(sid: str, point: Point, name: str, field: str, severity: str, *words: str, **props: str) -> None:
        if not sid.startswith("T-"):  # 60-80 m apart from the other stations there: no "possible duplicate"
            dx, dy = ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (-1, -1), (1, -1))[len(expected) % 8]
            point = Point(point.x + dx * 6e-4, point.y + dy * 6e-4)
        features.append(_feature(sid, point, name, **props))
        expected[sid] = (field, severity, (name, *words))

    expect("M-1", inner["440104"], "石牌桥驿站", "district_code", "error", "to lie in 广州市天河区 (440106)",
           "it lies in 广州市越秀区 (440104)", district_code="440106", district="天河区")
    expect("M-2", inner["440113"], "江南西驿站", "district", "error", "to lie in 广州市海珠区 (440105)",
           "it lies in 广州市番禺区 (440113)", district="海珠区")
    expect("M-3", inner["440114"], "同和驿站", "district_code", "error", "to lie in 广州市白云区 (440111)",
           "it lies in 广州市花都区 (440114)", district_code="440111")
    near, far = _border_points(geoms["440106"], geoms["440104"], offsets_m=(-20.0, -120.0))
    expect("T-20", near, "天河北边界驿站", "district", "warning", "20 m outside the boundary of 广州市天河区",
           "it lies in 广州市越秀区 (440104)", f"within the {membership.BORDER_TOLERANCE_M:,.0f} m border tolerance",
           district="天河区")
    expect("T-120", far, "天河西边界驿站", "district", "error", "120 m outside the boundary of 广州市天河区",
           "it lies in 广州市越秀区 (440104)", district="天河区")
    expect("Z-1", inner["440112"], "科学城驿站", "district", "warning", "'高新区' is not one",
           "it lies in 广州市黄埔区 (440112)", district="高新区")
    expect("Z-2", inner["440118"], "永宁驿站", "district", "warning", "'经开区' is not one",
           "it lies in 广州市增城区 (440118)", district="经开区")
    expect("Z-3", geoms["440112"].representative_point(), "开发区驿站", "district", "warning",
           "'广州开发区' is not one", "it lies in 广州市黄埔区 (440112)", district_code="440112", district="广州开发区")
    expect("C-1", inner["440105"], "滨江驿站", "district", "warning", "'广州市' is 广东省广州市 (440100), a city",
           "it lies in 广州市海珠区 (440105)", district="广州市")
    expect("C-2", inner["440103"], "芳村驿站", "district_code", "warning", "has no division 440199",
           "it lies in 广州市荔湾区 (440103)", district_code="440199")
    expect("D-1", inner["440104"], "北京路驿站", "district", "warning",
           "the same district as its district_code '440104', 广州市越秀区 (440104), where the point lies",
           "'天河区' is 广州市天河区 (440106)", district_code="440104", district="天河区")
    expect("D-2", inner["440106"], "体育中心驿站", "district_code", "error", "to lie in 广州市越秀区 (440104)",
           "it lies in 广州市天河区 (440106)", "its district '天河区' names 广州市天河区 (440106), where it does lie",
           district_code="440104", district="天河区")
    return {"type": "FeatureCollection", "features": features}, expected


def test_city_register_gets_exactly_the_expected_reports(register, settings):
    doc, expected = register
    problems = membership.check_features(doc, data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    got = {p.station_id: (p.field, p.severity) for p in problems}
    assert got == {sid: (field, severity) for sid, (field, severity, _) in expected.items()}, \
        "\n".join(map(str, problems))
    assert len(problems) == len(expected)  # one report per station
    index = {f["id"]: i for i, f in enumerate(doc["features"])}
    for p in problems:
        field, _, words = expected[p.station_id]
        assert p.where == f"features[{index[p.station_id]}]"
        props = doc["features"][index[p.station_id]]["properties"]
        assert p.value == props[field]
        for word in words:
            assert word in p.expected, str(p)


def test_moved_station_reports_its_distance_from_the_named_district(register, settings):
    doc, _ = register
    problems = {p.station_id: p for p in membership.check_features(doc, data_dir=settings.data_dir,
                                                                    cache_dir=settings.cache_dir)}
    moved = next(f for f in doc["features"] if f["id"] == "M-1")
    lon, lat = moved["geometry"]["coordinates"]
    gap_m = distance_outside_m(_geometry(settings, "440106"), lon, lat)[0]
    assert gap_m > 1_000
    match = re.search(r"([\d,]+) m outside the boundary of 广州市天河区", problems["M-1"].expected)
    assert match and float(match.group(1).replace(",", "")) == pytest.approx(gap_m, rel=0.01)  # geodesic vs UTM
    assert str(problems["M-1"]).startswith("error: features[")
    assert "(id 'M-1'): district_code = '440106': 石牌桥驿站 to lie in 广州市天河区 (440106)" in str(problems["M-1"])


def test_tolerance_is_the_named_constant(register, settings):
    doc, _ = register
    strict = membership.check_features(doc, data_dir=settings.data_dir, cache_dir=settings.cache_dir, tolerance_m=10)
    lenient = membership.check_features(doc, data_dir=settings.data_dir, cache_dir=settings.cache_dir,
                                        tolerance_m=200)
    assert membership.BORDER_TOLERANCE_M == 50.0
    assert next(p for p in strict if p.station_id == "T-20").severity == "error"
    assert next(p for p in lenient if p.station_id == "T-120").severity == "warning"


def test_name_of_several_districts_is_consistent_in_any_of_them(settings):
    fuzhou = _inside_point(_geometry(settings, "350102"))
    tianhe = _inside_point(_geometry(settings, "440106"))
    doc = {"features": [_feature("FZ-1", fuzhou, "东街口驿站", district="鼓楼区"),
                        _feature("FZ-2", fuzhou, "三坊七巷驿站", district_code="350102", district="鼓楼区"),
                        _feature("GZ-1", tianhe, "天河驿站", district="鼓楼区")]}
    problems = membership.check_features(doc, data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    assert [(p.station_id, p.severity) for p in problems] == [("GZ-1", "error")]
    text = problems[0].expected
    assert "one of the 4 divisions named '鼓楼区'" in text and "福州市鼓楼区 (350102)" in text
    assert "南京市鼓楼区 (320106)" in text and "it lies in 广州市天河区 (440106)" in text


def test_within_checks_every_station_once(settings):
    tianhe = load_district("440106", data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    yuexiu = _inside_point(_geometry(settings, "440104"))
    doc = {"features": [_feature("A", _inside_point(tianhe.geometry), "甲驿站"),
                        _feature("B", yuexiu, "乙驿站"),
                        _feature("C", yuexiu, "丙驿站", district_code="440106"),
                        _feature("D", yuexiu, "丁驿站", district="越秀区"),
                        {"type": "Feature", "id": "E", "geometry": None, "properties": {"id": "E"}},
                        "not a feature"]}
    problems = membership.check_features(doc, within=tianhe, data_dir=settings.data_dir,
                                         cache_dir=settings.cache_dir)
    got = [(p.where, p.station_id, p.field, p.severity) for p in problems]
    assert got == [("features[1]", "B", "geometry.coordinates", "error"),
                   ("features[2]", "C", "district_code", "error"),
                   ("features[3]", "D", "geometry.coordinates", "error")]
    assert "乙驿站 to lie in 广州市天河区 (440106), the district the register is checked against" in problems[0].expected
    assert "it lies in 广州市越秀区 (440104)" in problems[0].expected


def test_check_stations_names_spreadsheet_rows(register, settings):
    doc, expected = register
    frame = gpd.GeoDataFrame.from_features(doc["features"], crs=geo.WGS84)
    rows = [f"row {n + 2}" for n in range(len(frame))]
    problems = membership.check_stations(frame, where=rows, data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    assert {p.station_id for p in problems} == set(expected)
    first = next(p for p in problems if p.station_id == "M-1")
    assert first.where == f"row {list(frame['id']).index('M-1') + 2}"
    with pytest.raises(CRSMismatchError):
        membership.check_stations(frame.to_crs(32649), data_dir=settings.data_dir)


def test_bundled_demo_stations_raise_no_false_alarm(settings):
    for path in sorted((settings.data_dir / "stations").glob("*.geojson")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        problems = membership.check_features(doc, data_dir=settings.data_dir, cache_dir=settings.cache_dir)
        assert problems == [], "\n".join(map(str, problems))


def test_merge_problems_keeps_record_order():
    report = ValidationReport((Problem("file", None, "crs", "x", "wgs84"),
                               Problem("features[10]", "b", "stars", 7, "0-5")), 11, "f.geojson")
    added = [Problem("features[2]", "a", "district", "高新区", "a county-level district", "warning")]
    merged = membership.merge_problems(report, added)
    assert [p.where for p in merged.problems] == ["file", "features[2]", "features[10]"]
    assert merged.n_records == 11 and merged.source == "f.geojson" and len(merged.warnings) == 1


def test_distances_agree_with_local_utm(settings):
    geometry = _geometry(settings, "440106")
    rng = np.random.default_rng(7)
    west, south, east, north = geometry.bounds
    lon = rng.uniform(west - 0.05, east + 0.05, 400)
    lat = rng.uniform(south - 0.05, north + 0.05, 400)
    ours = distance_outside_m(geometry, lon, lat)
    # independent oracle: planar distance in the district's UTM zone (49N)
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(32649)
    utm = points.distance(gpd.GeoSeries([geometry], crs=4326).to_crs(32649).iloc[0]).to_numpy()
    assert np.allclose(ours, utm, rtol=0.01, atol=0.5)


def test_validate_features_keeps_its_districts_check(settings):
    """Callers that pass ``districts=`` (reports, the web app) still get the older warning."""
    path = Path(__file__).resolve().parent / "data" / "bad" / "outside_district.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    report = validate_features(doc, districts={"610111": _geometry(settings, "610111")})
    assert [p.where for p in report.warnings] == ["features[0]"]
    from stationmap.validation import is_outside_district

    assert is_outside_district(report.warnings[0])
    assert locate(108.94, 34.34, data_dir=settings.data_dir, cache_dir=settings.cache_dir)[0] == "610112"
