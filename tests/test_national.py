"""National coverage on Dask (`stationmap.analysis.national`): the same figures as the single-machine functions.

Every comparison is with `coverage_report` / `demand_coverage` on the same stations, districts and demand
(station counts exactly, areas and demand within 0.1 %), or with a brute-force geodesic oracle on a tiny grid.
Stations are placed on tile edges and corners on purpose: the halo and the per-tile clipping must count them once.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from gridcheck import write_ones, write_population_grid  # tests/gridcheck.py

from stationmap import geo
from stationmap.analysis.coverage import coverage_report, demand_coverage, select_in_service
from stationmap.analysis.national import AreaUnit, national_coverage, open_client, plan_tiles
from stationmap.cli import main
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.demand import load_demand
from stationmap.demand_chunks import PointDemand, open_parquet_demand, open_raster_demand
from stationmap.districts import select_districts
from stationmap.errors import BadRequestError, MissingExtraError

rasterio = pytest.importorskip("rasterio")
pytest.importorskip("distributed")

TILE = 0.05  # degrees: tiles of about 4.6 x 5.6 km, so a few stations span several of them
R = 1000.0


def edge(i: int) -> float:
    """The longitude of a tile edge, as the tiles compute it: -180 + i * TILE."""
    return -180.0 + i * TILE


def lat_edge(j: int) -> float:
    """The latitude of a tile edge: -90 + j * TILE."""
    return -90.0 + j * TILE


# Tile edges near Xi'an: lon 108.90 / 108.95 / 109.00 and lat 34.25 / 34.30.
LON_EDGES = [edge(5778), edge(5779), edge(5780)]
LAT_EDGES = [lat_edge(2485), lat_edge(2486)]


@pytest.fixture(scope="module")
def client():
    with open_client("local", workers=2, processes=False) as c:
        yield c


@pytest.fixture(scope="module")
def edge_stations() -> gpd.GeoDataFrame:
    """Stations on a tile edge, on a corner, 300 m across an edge, inside tiles, and a closed one on an edge."""
    lon_mid, lat_mid = LON_EDGES[1], LAT_EDGES[0]
    points = [
        (lon_mid, 34.262),                 # on a vertical edge
        (108.93, LAT_EDGES[0]),            # on a horizontal edge
        (lon_mid, lat_mid),                # on a corner
        (lon_mid + 0.0033, 34.27),         # about 300 m east of the edge
        (lon_mid - 0.004, 34.2695),        # its neighbour across the edge: their discs overlap over the edge
        (108.975, 34.285),                 # inside a tile
        (108.976, 34.2855),                # almost on top of it (covered twice)
        (LON_EDGES[2] - 0.001, LAT_EDGES[1] + 0.002),  # near another corner
        (lon_mid, 34.28),                  # closed, on the edge: covers nothing
    ]
    lon, lat = zip(*points, strict=True)
    status = ["open"] * (len(points) - 1) + ["closed"]
    return gpd.GeoDataFrame({"id": [f"E{i}" for i in range(len(points))], "status": status},
                            geometry=gpd.points_from_xy(lon, lat), crs=4326)


@pytest.fixture(scope="module")
def edge_units() -> list[AreaUnit]:
    """A box not aligned with the tiles (the whole), cut into two 'counties' along a diagonal."""
    whole = shapely.box(108.915, 34.235, 109.012, 34.318)
    west = shapely.Polygon([(108.915, 34.235), (108.99, 34.235), (108.94, 34.318), (108.915, 34.318)])
    east = whole.difference(west)
    return [AreaUnit("990000", "盒省", "province", whole, whole=True),
            AreaUnit("990101", "西县", "county", west, "盒省"), AreaUnit("990102", "东县", "county", east, "盒省")]


@pytest.fixture(scope="module")
def raster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0.001-degree population grid (EPSG:4326) with zeros and no-data cells (`gridcheck.write_population_grid`)."""
    return write_population_grid(tmp_path_factory.mktemp("grid") / "pop.tif")


def oracle_counts(stations: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Brute force: for every point, how many stations lie within R metres (geodesic), by measuring every pair."""
    s_lon, s_lat = stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy()
    dist = geo.geodesic_distance_m(np.repeat(lon, len(s_lon)), np.repeat(lat, len(s_lon)),
                                   np.tile(s_lon, len(lon)), np.tile(s_lat, len(lon)))
    return (np.asarray(dist).reshape(len(lon), len(s_lon)) <= R).sum(axis=1)


# --- tiles ---------------------------------------------------------------------------------------------------


def test_the_edge_stations_really_sit_on_tile_edges(edge_stations):
    lon = edge_stations.geometry.x.to_numpy()
    assert lon[0] == LON_EDGES[1] and edge_stations.geometry.y.iloc[1] == LAT_EDGES[0]
    assert abs(LON_EDGES[1] - 108.95) < 1e-9 and abs(LAT_EDGES[0] - 34.25) < 1e-9


def test_plan_covers_every_tile_a_disc_reaches():
    tiles = plan_tiles(np.array([LON_EDGES[1]]), np.array([34.262]), [], radius_m=R, tile_deg=TILE)
    # a station on a vertical edge reaches the tiles on both sides (and the rings around them)
    i = 5779
    assert (i - 1, 2485) in tiles and (i, 2485) in tiles


# --- areas and counts against coverage_report ---------------------------------------------------------------


def test_areas_and_counts_match_coverage_report(client, edge_stations, edge_units):
    result = national_coverage(edge_stations, edge_units, client=client, radius_m=R, tile_deg=TILE)
    lon, lat = edge_stations.geometry.x.to_numpy(), edge_stations.geometry.y.to_numpy()
    open_mask = (edge_stations["status"] != "closed").to_numpy()
    for unit, row in zip(edge_units, sorted(result.units, key=lambda u: u.adcode), strict=True):
        single = coverage_report(edge_stations, unit.geometry, radius_m=R)
        assert row.adcode == unit.adcode
        inside = shapely.contains_xy(unit.geometry, lon, lat)
        assert row.n_stations == int(inside.sum())
        assert row.n_used == int((inside & open_mask).sum())
        assert row.region_area_m2 == pytest.approx(single.region_area_m2, rel=1e-3)
        assert row.covered_area_m2 == pytest.approx(single.covered_area_m2, rel=1e-3)
        assert row.covered_twice_area_m2 == pytest.approx(single.covered_twice_area_m2, rel=1e-3)
        assert row.covered_area_m2 > 0
    # the two counties add up to the whole
    county = [u for u in result.units if u.level == "county"]
    assert sum(u.covered_area_m2 for u in county) == pytest.approx(result.whole.covered_area_m2, rel=1e-6)
    assert result.whole.n_stations == sum(u.n_stations for u in county)
    assert result.n_tiles >= 4


def test_extent_without_districts_matches_coverage_report(client, edge_stations):
    result = national_coverage(edge_stations, [], client=client, radius_m=R, tile_deg=TILE)
    single = coverage_report(edge_stations, radius_m=R)
    assert result.extent.n_stations == single.n_stations and result.extent.n_used == single.n_used == 8
    assert result.extent.covered_area_m2 == pytest.approx(single.covered_area_m2, rel=1e-3)
    assert result.extent.covered_twice_area_m2 == pytest.approx(single.covered_twice_area_m2, rel=1e-3)


def test_closed_stations_and_time_of_day_are_left_out(client, edge_stations, edge_units):
    frame = edge_stations.assign(opening_hours=["24/7"] * 4 + ["Mo-Fr 09:00-17:00"] * 5)
    result = national_coverage(frame, edge_units, client=client, radius_m=R, tile_deg=TILE,
                               when="2025-06-02T05:00")
    single = coverage_report(frame, edge_units[0].geometry, radius_m=R, when="2025-06-02T05:00")
    assert result.whole.when == single.when
    assert result.whole.covered_area_m2 == pytest.approx(single.covered_area_m2, rel=1e-3)
    assert len(select_in_service(frame, when="2025-06-02T05:00")) == 4


# --- demand read in windows ----------------------------------------------------------------------------------


def test_raster_demand_matches_demand_coverage_and_the_oracle(client, edge_stations, edge_units, raster):
    source = open_raster_demand(raster)
    result = national_coverage(edge_stations, edge_units, client=client, radius_m=R, tile_deg=TILE, demand=source)
    cells = load_demand(raster)
    used = select_in_service(edge_stations)
    counts = oracle_counts(used, cells.geometry.x.to_numpy(), cells.geometry.y.to_numpy())
    weight = cells["weight"].to_numpy()
    for unit in edge_units:
        row = next(u for u in result.units if u.adcode == unit.adcode)
        single = demand_coverage(used, cells, radius_m=R, region=unit.geometry)
        inside = shapely.contains_xy(unit.geometry, cells.geometry.x.to_numpy(), cells.geometry.y.to_numpy())
        assert row.demand_features == single.n_features == int(inside.sum())
        assert row.demand_total == pytest.approx(weight[inside].sum(), rel=1e-9)
        assert row.demand_covered == pytest.approx(weight[inside & (counts >= 1)].sum(), rel=1e-9)
        assert row.demand_covered_twice == pytest.approx(weight[inside & (counts >= 2)].sum(), rel=1e-9)
        assert row.demand_pct_covered == pytest.approx(single.pct_covered, rel=1e-3)
        assert 0 < row.demand_covered < row.demand_total
    whole = result.whole.demand
    assert whole is not None and whole.largest_uncovered
    first = whole.largest_uncovered[0]
    assert first["uncovered"] == max(r["uncovered"] for r in whole.largest_uncovered)
    assert first["nearest_station_m"] > R


@pytest.mark.parametrize("covering", [True, False])
def test_geoparquet_demand_read_by_row_group_matches_the_raster(client, edge_stations, edge_units, raster, tmp_path,
                                                              covering):
    cells = load_demand(raster).drop(columns="id")
    cells = cells.iloc[np.lexsort((cells.geometry.x, cells.geometry.y))]  # rows in spatial order
    path = tmp_path / "cells.parquet"
    cells.to_parquet(path, write_covering_bbox=covering, row_group_size=1000)
    source = open_parquet_demand(path)
    assert len(source.group_bounds) == -(-len(cells) // 1000)
    chunk = source.read_box(108.95, 34.25, 109.0, 34.30)
    assert len(chunk) < len(cells) / 4  # a few row groups, not the file
    options = {"client": client, "radius_m": R, "tile_deg": TILE}
    from_parquet = national_coverage(edge_stations, edge_units, demand=source, **options)
    from_raster = national_coverage(edge_stations, edge_units, demand=open_raster_demand(raster), **options)
    for a, b in zip(from_parquet.units, from_raster.units, strict=True):
        assert (a.demand_features, a.demand_total) == (b.demand_features, pytest.approx(b.demand_total, rel=1e-12))
        assert a.demand_covered == pytest.approx(b.demand_covered, rel=1e-12)


def test_without_dask_the_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'stationmap\[dask\]'"), open_client("local"):
        pass


def test_points_on_tile_edges_are_counted_once(client, edge_stations, edge_units):
    lon = np.array([LON_EDGES[1], LON_EDGES[1], 108.93, 108.96])
    lat = np.array([34.262, LAT_EDGES[0], LAT_EDGES[0], 34.30])
    demand = PointDemand(lon, lat, np.array([1.0, 2.0, 4.0, 8.0]), np.array(["a", "b", "c", "d"], dtype=object))
    result = national_coverage(edge_stations, edge_units, client=client, radius_m=R, tile_deg=TILE, demand=demand)
    frame = gpd.GeoDataFrame({"weight": demand.weight}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    used = select_in_service(edge_stations)
    for unit in edge_units:
        row = next(u for u in result.units if u.adcode == unit.adcode)
        single = demand_coverage(used, frame, radius_m=R, region=unit.geometry)
        assert (row.demand_features, row.demand_total, row.demand_covered) == (
            single.n_features, single.total, single.covered)


# --- a province of China, the synthetic national set ---------------------------------------------------------


def test_a_province_matches_county_by_county(client, boundary_cache):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from synthetic import make_national

    stations = make_national(20_000, seed=3)
    selection = select_districts("宁夏回族自治区", data_dir=BUNDLED_DATA_DIR, cache_dir=boundary_cache)
    units = [AreaUnit(d.adcode, d.name, "county", d.geometry, d.province, whole=True) for d in selection.districts]
    result = national_coverage(stations, units, client=client, radius_m=1500)
    lon, lat = stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy()
    used = (stations["status"] != "closed").to_numpy()
    assert len(result.units) == 22
    for unit in units:
        row = next(u for u in result.units if u.adcode == unit.adcode)
        inside = shapely.contains_xy(unit.geometry, lon, lat)
        assert (row.n_stations, row.n_used) == (int(inside.sum()), int((inside & used).sum()))
        if row.covered_area_m2 == 0:
            continue
        single = coverage_report(stations[inside | _near(unit.geometry, lon, lat)], unit.geometry, radius_m=1500)
        assert row.covered_area_m2 == pytest.approx(single.covered_area_m2, rel=1e-3)
        assert row.covered_twice_area_m2 == pytest.approx(single.covered_twice_area_m2, rel=1e-3)
        assert row.region_area_m2 == pytest.approx(single.region_area_m2, rel=1e-3)
    assert sum(u.n_stations for u in result.units) > 50


@pytest.mark.slow
def test_the_national_synthetic_set_and_grid_match_the_single_machine(client, tmp_path):
    """The 200,000-station synthetic set and a 10^5-cell synthetic national grid, without districts."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_national import write_grid
    from synthetic import make_national

    stations = make_national(200_000, seed=0)
    grid = tmp_path / "national.tif"
    write_grid(grid, 1e5)
    result = national_coverage(stations, [], client=client, radius_m=R, demand=open_raster_demand(grid))
    area = coverage_report(stations, radius_m=R)
    demand = demand_coverage(select_in_service(stations), load_demand(grid), radius_m=R)
    assert (result.extent.n_stations, result.extent.n_used) == (area.n_stations, area.n_used)
    assert result.extent.covered_area_m2 == pytest.approx(area.covered_area_m2, rel=1e-3)
    assert result.extent.covered_twice_area_m2 == pytest.approx(area.covered_twice_area_m2, rel=1e-3)
    assert result.extent.demand is not None
    assert result.extent.demand.n_features == demand.n_features
    assert result.extent.demand.pct_covered == pytest.approx(demand.pct_covered, rel=1e-3)
    assert result.extent.demand.pct_covered_twice == pytest.approx(demand.pct_covered_twice, rel=1e-3)


def _near(geom: shapely.Geometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Stations within 0.05 degree of a district's bounds (every one whose 1.5 km disc could reach it)."""
    west, south, east, north = geom.bounds
    return (lon > west - 0.05) & (lon < east + 0.05) & (lat > south - 0.05) & (lat < north + 0.05)


# --- real processes and a scheduler address ------------------------------------------------------------------


def test_real_worker_processes_give_the_same_answer(client, edge_stations, edge_units, raster):
    options = {"radius_m": R, "tile_deg": TILE, "demand": open_raster_demand(raster)}
    threads = national_coverage(edge_stations, edge_units, client=client, **options)
    with open_client("local", workers=1, processes=True) as real:
        ticks: list[int] = []
        procs = national_coverage(edge_stations, edge_units, client=real, progress=ticks.append, **options)
        assert procs.scheduler == "local (1 workers)"
    assert [u.to_dict() for u in procs.units] == [u.to_dict() for u in threads.units]
    assert len(ticks) == procs.n_tiles


def test_a_scheduler_address_is_used():
    import distributed

    cluster = distributed.LocalCluster(n_workers=1, processes=False, protocol="tcp", scheduler_port=0,
                                       dashboard_address=":0")
    with cluster, open_client(cluster.scheduler_address) as remote:
        assert remote.scheduler_info()["workers"]
        assert remote.scheduler.address.startswith("tcp://127.0.0.1:")


def test_a_scheduler_that_does_not_answer_is_a_clear_error():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BadRequestError, match="No Dask scheduler answers at tcp://127.0.0.1"), \
            open_client(f"tcp://127.0.0.1:{port}", timeout_s=2):
        pass


@pytest.mark.parametrize(("scheduler", "workers", "match"), [
    ("http://example.org:8786", None, "must match"), ("local", 0, "at least 1|between 1"),
    ("tcp://127.0.0.1:8786", 2, "--workers sets the size of a local cluster")])
def test_bad_cluster_options(scheduler, workers, match):
    with pytest.raises(BadRequestError, match=match), open_client(scheduler, workers=workers, timeout_s=1):
        pass


# --- bad demand ----------------------------------------------------------------------------------------------


def test_a_raster_in_the_wrong_crs_is_refused(client, edge_stations, edge_units, tmp_path):
    # lon/lat numbers written as if they were UTM 33N metres: the grid lands near (10.5 E, 0 N)
    path = write_ones(tmp_path / "wrong.tif", "EPSG:32633", (108.95, 34.27))
    with pytest.raises(BadRequestError, match="is its CRS right"):
        national_coverage(edge_stations, edge_units, client=client, radius_m=R, tile_deg=TILE,
                          demand=open_raster_demand(path))


# --- the command line ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def station_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stationmap.stations import export_stations

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from synthetic import make_national

    stations = make_national(3000, seed=5)
    stations = stations[(stations.geometry.x > 104) & (stations.geometry.x < 108)]  # 银川 and around
    path = tmp_path_factory.mktemp("national") / "stations.geojson"
    export_stations(stations, path)
    return path


def test_cli_province_runs_on_dask_with_one_row_per_county(runner, station_file):
    result = runner.invoke(main, ["coverage", "--district", "宁夏回族自治区", "--stations", str(station_file),
                                  "--workers", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)[0]
    counties = [u for u in answer["units"] if u["level"] == "county"]
    assert len(counties) == 22 and all(len(u["adcode"]) == 6 for u in counties)
    assert answer["whole"]["region_name"] == "宁夏回族自治区"
    assert answer["whole"]["n_stations"] == sum(u["n_stations"] for u in counties)
    assert answer["scheduler"] == "local (1 workers)"


def test_cli_csv_has_one_row_per_district_with_its_adcode(runner, station_file):
    import csv
    import io

    result = runner.invoke(main, ["coverage", "--district", "640000", "--stations", str(station_file),
                                  "--scheduler", "local", "--workers", "1", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["level"], r["adcode"]) for r in rows[:2]] == [("province", "640000"), ("county", "640104")]
    assert len(rows) == 23 and rows[1]["name"] == "兴庆区" and rows[1]["province"] == "宁夏回族自治区"
    assert sum(int(r["n_stations"]) for r in rows[1:]) == int(rows[0]["n_stations"]) > 0


@pytest.mark.parametrize(("args", "match"), [
    (["--district", "火星省"], "No district, city or province"),
    (["--district", "宁夏回族自治区", "--workers", "0"], "--workers"),
    (["--district", "宁夏回族自治区", "--scheduler", "http://x:1"], "--scheduler"),
    (["--district", "宁夏回族自治区", "--format", "geojson"], "--format geojson are for one district"),
])
def test_cli_bad_usage_exits_2(runner, station_file, args, match):
    result = runner.invoke(main, ["coverage", "--stations", str(station_file), *args])
    assert result.exit_code == 2, result.output
    assert match in result.output


def test_cli_scheduler_that_does_not_answer_exits_1_without_hanging(runner, station_file, monkeypatch):
    from stationmap.analysis import national

    monkeypatch.setattr(national, "SCHEDULER_TIMEOUT_S", 1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(main, ["coverage", "--district", "宁夏回族自治区", "--stations", str(station_file),
                                  "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert result.exit_code == 1, result.output
    assert f"No Dask scheduler answers at tcp://127.0.0.1:{port} within 1 s" in result.output
