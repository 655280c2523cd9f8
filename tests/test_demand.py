"""Demand layers: points or polygons with a weight, from vector files and from CSV or XLSX tables in any datum."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from stationmap import geo
from stationmap.demand import load_demand
from stationmap.errors import DatumError

WGS = [(109.06, 34.27), (109.08, 34.29)]


def _table(path, *, datum: str = "gcj02"):
    lon, lat = geo.convert_coords([p[0] for p in WGS], [p[1] for p in WGS], src="wgs84", dst=datum)
    table = pd.DataFrame({"名称": ["纺织城批发市场", "物流园"], "经度": lon, "纬度": lat, "weight": [300, 120]})
    if path.suffix == ".xlsx":
        table.to_excel(path, index=False)
    else:
        table.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_hot_spots_from_a_gcj02_table(tmp_path, suffix):
    demand = load_demand(_table(tmp_path / f"hubs{suffix}"), crs="gcj02")
    assert demand.crs == geo.WGS84 and demand["weight"].tolist() == [300, 120]
    for (lon, lat), point in zip(WGS, demand.geometry, strict=True):
        assert float(geo.geodesic_distance_m(point.x, point.y, lon, lat)) < 0.5  # the sub-metre inverse
    assert demand["名称"].tolist() == ["纺织城批发市场", "物流园"]


def test_a_table_without_a_datum_is_refused(tmp_path):
    with pytest.raises(DatumError, match="datum"):
        load_demand(_table(tmp_path / "hubs.xlsx"), crs=None)


def test_a_population_raster_gives_a_point_per_populated_cell(tmp_path):
    rasterio = pytest.importorskip("rasterio")  # the [raster] extra, in the test command's install
    from affine import Affine
    from pyproj import Transformer

    values = np.array([[0, 5, np.nan], [2, 0, 7]], dtype="float32")  # 250 m cells, west-north corner below
    transform = Affine(250, 0, 300_000, 0, -250, 3_800_000)  # 250 m cells from the north-west corner
    path = tmp_path / "pop.tif"
    with warnings.catch_warnings():  # rasterio's writer multiplies affine transforms with `*` (its own deprecation)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        with rasterio.open(path, "w", driver="GTiff", width=3, height=2, count=1, dtype="float32", crs="EPSG:32649",
                           transform=transform, nodata=np.nan) as out:
            out.write(values, 1)
    demand = load_demand(path)
    assert sorted(demand["weight"].tolist()) == [2, 5, 7]
    to_wgs = Transformer.from_crs("EPSG:32649", "EPSG:4326", always_xy=True)
    centres = {5: (300_375, 3_799_875), 2: (300_125, 3_799_625), 7: (300_625, 3_799_625)}  # cell centres, metres
    for weight, point in zip(demand["weight"], demand.geometry, strict=True):
        lon, lat = to_wgs.transform(*centres[int(weight)])
        assert float(geo.geodesic_distance_m(point.x, point.y, lon, lat)) < 0.01
