"""Reading OSM extracts into walkable networks, and network coverage on them (real extracts in ../shared/data)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from stationmap import geo
from stationmap.analysis.network_coverage import network_coverage_report
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.network import WalkNetwork, is_walkable, read_walk_network

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OSM = SHARED_DATA / "osm"
POPULATION = SHARED_DATA / "population" / "helsinki_population_grid_2020.gpkg"


def test_reads_all_three_formats():
    pbf = read_walk_network(OSM / "aguascalientes.osm.pbf")
    bz2 = read_walk_network(OSM / "aguascalientes.osm.bz2")
    xml = read_walk_network(OSM / "planet_10.068_48.135_10.071_48.137.osm")
    assert (pbf.n_nodes, pbf.n_edges) == (bz2.n_nodes, bz2.n_edges)
    assert pbf.total_length_m == pytest.approx(bz2.total_length_m)
    assert xml.n_edges > 0
    helsinki = read_walk_network(OSM / "Helsinki.osm.pbf")
    assert 4000 < helsinki.n_nodes < 7000 and helsinki.total_length_m > 50_000
    assert np.all(helsinki.length_m > 0)
    # Lengths are geodesic metres between the WGS-84 ends.
    i = 10
    expected = geo.geodesic_distance_m(helsinki.lon[helsinki.u[i]], helsinki.lat[helsinki.u[i]],
                                       helsinki.lon[helsinki.v[i]], helsinki.lat[helsinki.v[i]])
    assert helsinki.length_m[i] == pytest.approx(expected)


@pytest.mark.parametrize("name", ["West-Oakland.osm.bz2", "aguascalientes.osm.bz2"])
def test_street_length_agrees_with_osmnx(name):
    ox = pytest.importorskip("osmnx")
    graph = ox.convert.to_undirected(ox.graph_from_xml(OSM / name, simplify=False, retain_all=True,
                                                       bidirectional=True))
    keys = ("highway", "access", "area", "service")
    walk = sum(d["length"] for *_, d in graph.edges(data=True)
               if is_walkable({k: str(d[k]) for k in keys if k in d}))
    ours = read_walk_network(OSM / name, largest_component=False)
    assert ours.total_length_m == pytest.approx(walk, rel=5e-3)


def test_walk_filter_matches_osmnx_rules():
    assert is_walkable({"highway": "footway"})
    assert is_walkable({"highway": "residential", "oneway": "yes"})
    assert not is_walkable({"highway": "motorway"})
    assert not is_walkable({"highway": "cycleway"})
    assert not is_walkable({"highway": "service", "service": "private"})
    assert not is_walkable({"highway": "residential", "access": "private"})
    assert not is_walkable({"highway": "primary", "sidewalk": "separate"})
    assert not is_walkable({"highway": "pedestrian", "area": "yes"})
    assert not is_walkable({"building": "yes"})


def test_bad_extracts(tmp_path):
    with pytest.raises(BadRequestError, match="not found"):
        read_walk_network(tmp_path / "missing.osm.pbf")
    (tmp_path / "x.geojson").write_text("{}")
    with pytest.raises(BadRequestError, match="expected a file ending"):
        read_walk_network(tmp_path / "x.geojson")
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"not a pbf at all")
    with pytest.raises(BadRequestError, match="Cannot read"):
        read_walk_network(junk)
    buildings = tmp_path / "buildings.osm"
    buildings.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="60.0" lon="25.0"/><node id="2" lat="60.001" lon="25.0"/>'
        '<node id="3" lat="60.001" lon="25.001"/>'
        '<way id="9"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="building" v="yes"/></way></osm>')
    with pytest.raises(EmptyInputError, match="no walkable street"):
        read_walk_network(buildings)


def line_network(lengths_m: list[float]) -> WalkNetwork:
    """A straight north-going street at 109 E, 34 N with nodes the given distances apart."""
    lat = [34.0]
    for length in lengths_m:
        lat.append(float(geo.GEOD.fwd(109.0, lat[-1], 0.0, length)[1]))
    n = len(lat)
    return WalkNetwork(node_id=np.arange(n), lon=np.full(n, 109.0), lat=np.array(lat), u=np.arange(n - 1),
                       v=np.arange(1, n), length_m=np.asarray(lengths_m, dtype=float), source="line")


def test_network_coverage_on_a_street_by_hand():
    # A 4 km street of 1 km edges; stations at km 0 and km 1.5 (mid-edge: it snaps to km 1 or 2 ... so use km 2).
    net = line_network([1000.0] * 4)
    stations = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=gpd.points_from_xy([109.0, 109.0],
                                                                                  [net.lat[0], net.lat[2]]), crs=4326)
    report = network_coverage_report(stations, net, radius_m=1500, street_buffer_m=10)
    n = report.network
    assert n.distance_model == "network" and n.radius_m == 1500
    # a reaches km 0-1.5, b reaches km 0.5-3.5: covered 3.5 km of 4, twice km 0.5-1.5.
    assert n.street_length_m == pytest.approx(4000.0)
    assert n.street_length_covered_m == pytest.approx(3500.0, rel=1e-6)
    twice = report.streets.loc[report.streets["level"] == 2, "length_m"].sum()
    assert twice == pytest.approx(1000.0, rel=1e-6)
    # Areas are the covered street pieces buffered 10 m each side (plus round caps).
    assert n.covered_area_m2 == pytest.approx(3500 * 20 + np.pi * 100, rel=5e-3)
    assert report.straight_line.distance_model == "straight-line"


def test_network_street_lengths_match_sampled_brute_force():
    net = read_walk_network(OSM / "test.osm.pbf")
    rng = np.random.default_rng(5)
    idx = rng.choice(net.n_nodes, 5, replace=False)
    stations = gpd.GeoDataFrame({"id": [f"s{i}" for i in range(5)]},
                                geometry=gpd.points_from_xy(net.lon[idx], net.lat[idx]), crs=4326)
    radius = 600.0
    report = network_coverage_report(stations, net, radius_m=radius)
    # Brute force: exact per-station distances to every node, then 200 sample points along every edge.
    dist = dijkstra(net.adjacency(), directed=False, indices=idx)  # (5, nodes)
    t = (np.arange(200) + 0.5) / 200
    du, dv = dist[:, net.u], dist[:, net.v]  # (5, edges)
    along = np.minimum(du[:, :, None] + t * net.length_m[None, :, None],
                       dv[:, :, None] + (1 - t) * net.length_m[None, :, None])  # (5, edges, 200)
    count = (along <= radius).sum(axis=0)
    once = float(((count >= 1).mean(axis=1) * net.length_m).sum())
    twice = float(((count >= 2).mean(axis=1) * net.length_m).sum())
    streets = report.streets
    assert streets.loc[streets["level"] == 1, "length_m"].sum() == pytest.approx(once, rel=5e-3)
    assert streets.loc[streets["level"] == 2, "length_m"].sum() == pytest.approx(twice, rel=5e-3)


def test_helsinki_network_coverage_is_smaller_than_straight_line():
    net = read_walk_network(OSM / "Helsinki.osm.pbf")
    pop = gpd.read_file(POPULATION, layer="population_grid_2020")
    rng = np.random.default_rng(0)
    idx = rng.choice(net.n_nodes, 4, replace=False)
    stations = gpd.GeoDataFrame({"id": [f"H{i}" for i in range(4)], "status": "open", "opening_hours": "24/7"},
                                geometry=gpd.points_from_xy(net.lon[idx], net.lat[idx]), crs=4326)
    report = network_coverage_report(stations, net, radius_m=500, demand=pop, weight_col="population")
    n, s = report.network, report.straight_line
    assert 0.2 < report.area_ratio < 1.0
    assert n.pct_area_covered < s.pct_area_covered
    assert n.demand is not None and s.demand is not None
    assert n.demand.total == pytest.approx(s.demand.total)
    assert 0 < n.demand.covered <= s.demand.covered
    assert report.demand_ratio == pytest.approx(n.demand.covered / s.demand.covered)
    assert n.crs == s.crs == "EPSG:32635"
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["network"]["distance_model"] == "network"
    assert report.areas.crs.equals(4326) and report.areas["level"].tolist() == ["covered", "overlap"]


def test_stations_off_the_network_are_left_out():
    net = line_network([1000.0, 1000.0])
    far = gpd.GeoDataFrame({"id": ["on", "off"]},
                           geometry=gpd.points_from_xy([109.0, 109.2], [net.lat[0], net.lat[0]]), crs=4326)
    report = network_coverage_report(far, net, radius_m=500)
    assert (report.n_snapped, report.n_unsnapped) == (1, 1)
    assert any("farther than" in note for note in report.network.notes)
