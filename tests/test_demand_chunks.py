"""Demand read a box at a time (`stationmap.demand_chunks`): every cell once, in windows or row groups, with
refusals for files that do not say where they are. The national figures built on them are in test_national.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from gridcheck import write_ones, write_population_grid  # tests/gridcheck.py

from stationmap.demand import load_demand
from stationmap.demand_chunks import (
    ParquetDemand,
    PointDemand,
    RasterDemand,
    open_chunked_demand,
    open_parquet_demand,
    open_raster_demand,
)
from stationmap.errors import BadRequestError, DatumError

rasterio = pytest.importorskip("rasterio")


@pytest.fixture(scope="module")
def raster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0.001-degree population grid (EPSG:4326) with zeros and no-data cells (`gridcheck.write_population_grid`)."""
    return write_population_grid(tmp_path_factory.mktemp("grid") / "pop.tif")


def test_raster_read_in_windows_gives_each_cell_once(raster):
    source = open_raster_demand(raster)
    cells = load_demand(raster)
    west, south = 108.905, 34.22
    boxes = [(west + a * 0.03, south + b * 0.03, west + (a + 1) * 0.03, south + (b + 1) * 0.03)
             for a in range(4) for b in range(4)]
    chunks = [source.read_box(*box) for box in boxes]
    assert sum(len(c) for c in chunks) == len(cells)
    assert sum(c.weight.sum() for c in chunks) == pytest.approx(cells["weight"].sum())
    assert len({i for c in chunks for i in c.keys}) == len(cells)
    assert chunks[5].cell_id(0).startswith("r")


def test_parquet_without_geo_metadata_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"lon": [1.0], "lat": [2.0]}), tmp_path / "plain.parquet")
    with pytest.raises(BadRequestError, match="without GeoParquet metadata"):
        open_parquet_demand(tmp_path / "plain.parquet")


def test_a_raster_without_crs_needs_one(tmp_path):
    path = write_ones(tmp_path / "nocrs.tif", None, (108.95, 34.27))
    with pytest.raises(DatumError, match="states no CRS"):
        open_raster_demand(path)
    assert len(open_raster_demand(path, crs="wgs84").read_box(108.9, 34.2, 109.0, 34.3)) == 16


def test_points_are_cut_by_box_each_once():
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"id": ["a", "b", "c"], "weight": [1.0, 2.0, 3.0]},
                             geometry=gpd.points_from_xy([109.0, 109.5, 110.0], [34.0, 34.0, 34.0]), crs="EPSG:4326")
    source = PointDemand.from_frame(frame)
    west, east = source.read_box(108.5, 33.5, 109.5, 34.5), source.read_box(109.5, 33.5, 110.5, 34.5)
    assert sorted(west.keys) == ["a"] and sorted(east.keys) == ["b", "c"]  # 109.5 is in [109.5, 110.5) only
    assert east.weight.sum() == 5.0


def test_a_demand_file_opens_with_the_reader_of_its_kind(raster, tmp_path):
    import geopandas as gpd

    assert isinstance(open_chunked_demand(raster), RasterDemand)
    cells = load_demand(raster).drop(columns="id")
    cells.to_parquet(tmp_path / "cells.parquet")
    assert isinstance(open_chunked_demand(tmp_path / "cells.parquet"), ParquetDemand)
    gpd.GeoDataFrame({"weight": [2.0]}, geometry=gpd.points_from_xy([109.0], [34.3]), crs="EPSG:4326").to_file(
        tmp_path / "spots.geojson")
    points = open_chunked_demand(tmp_path / "spots.geojson")  # small: read once, cut by box here
    assert isinstance(points, PointDemand) and points.read_box(108.5, 34.0, 109.5, 34.5).weight.tolist() == [2.0]
