"""Demand and candidate sites from OSM extracts, checked against osmnx, brute force and a hand-made district."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from stationmap import geo
from stationmap.analysis.gap_units import split_gaps
from stationmap.analysis.gaps import find_gaps
from stationmap.analysis.siting import plan_sites
from stationmap.demand import load_demand
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.network import is_walkable
from stationmap.osm_features import (
    HOTSPOT_WEIGHTS,
    osm_demand_source,
    read_osm_candidates,
    read_osm_demand,
)

osmium = pytest.importorskip("osmium")
ox = pytest.importorskip("osmnx")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HELSINKI = SHARED_DATA / "osm" / "Helsinki.osm.pbf"
POPULATION = SHARED_DATA / "population" / "helsinki_population_grid_2020.gpkg"
# A hand-made pentagon over central Helsinki (Kluuvi, Kaartinkaupunki), WGS-84 lon/lat: about 0.71 km².
DISTRICT = shapely.Polygon([(24.938, 60.166), (24.950, 60.1665), (24.951, 60.172), (24.946, 60.1765),
                            (24.937, 60.174)])


def _stations(lonlat: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"S{i}" for i in range(len(lonlat))], "name": "s", "status": "active"},
                            geometry=gpd.points_from_xy(*zip(*lonlat, strict=True)), crs=geo.WGS84)


@pytest.fixture(scope="module")
def xml_files(tmp_path_factory):
    """The Helsinki extract as OSM XML for osmnx: walkable ways only (graph), and every node and way (features).

    Ways lose the node references the extract cut off, as stationmap's reader skips them; relations are left
    out (osmnx cannot build the ones whose members were cut off; no bank or pharmacy is a relation here)."""
    folder = tmp_path_factory.mktemp("osm")
    walk, poi = folder / "walk.osm", folder / "poi.osm"
    walk_writer, poi_writer = osmium.SimpleWriter(str(walk)), osmium.SimpleWriter(str(poi))
    for obj in osmium.FileProcessor(str(HELSINKI)).with_locations():
        if obj.is_node():
            walk_writer.add(obj)
            poi_writer.add(obj)
        elif obj.is_way():
            refs = [n.ref for n in obj.nodes if n.location.valid()]
            if len(refs) < 2:
                continue
            poi_writer.add_way(obj.replace(nodes=refs))
            if is_walkable(dict(obj.tags)):
                walk_writer.add_way(obj.replace(nodes=refs))
    walk_writer.close()
    poi_writer.close()
    return walk, poi


def test_street_length_agrees_with_osmnx(xml_files):
    graph = ox.graph_from_xml(xml_files[0], simplify=False, retain_all=True)
    undirected = nx.Graph(graph.to_undirected())  # each street segment once
    lines, lengths = [], []
    for u, v, data in undirected.edges(data=True):
        lines.append(shapely.LineString([(graph.nodes[u]["x"], graph.nodes[u]["y"]),
                                         (graph.nodes[v]["x"], graph.nodes[v]["y"])]))
        lengths.append(data["length"])
    edges = gpd.GeoDataFrame({"length": lengths}, geometry=lines, crs=geo.WGS84)
    metric = edges.to_crs(edges.estimate_utm_crs())
    district_m = gpd.GeoSeries([DISTRICT], crs=geo.WGS84).to_crs(metric.crs).iloc[0]
    # osmnx's lengths (great circle on a sphere), clipped to the district in proportion to the part inside.
    inside_share = metric.geometry.intersection(district_m).length / metric.geometry.length
    expected = float((inside_share * edges["length"]).sum())

    whole = read_osm_demand(HELSINKI, hotspot_weights=())
    clipped = read_osm_demand(HELSINKI, DISTRICT, hotspot_weights=())
    # WGS-84 geodesics are 0.2-0.4 % longer than osmnx's 6,371,009 m sphere at 60° N.
    assert whole["length_m"].sum() == pytest.approx(edges["length"].sum(), rel=0.005)
    assert clipped["length_m"].sum() == pytest.approx(expected, rel=0.01)
    assert (clipped["length_m"] <= 100.0 + 1e-9).all()
    assert np.allclose(clipped["weight"], clipped["length_m"])
    assert set(clipped["source"]) == {"street"}
    assert clipped.attrs["demand_source"] == "OSM street length + hot spots from Helsinki.osm.pbf"


def test_hot_spots_carry_their_table_weights():
    demand = read_osm_demand(HELSINKI, DISTRICT)
    spots = demand[demand["source"] == "hot spot"]
    table = {rule.tag: rule.weight for rule in HOTSPOT_WEIGHTS}
    assert len(spots) > 0
    assert all(table[tag] == weight for tag, weight in zip(spots["tag"], spots["weight"], strict=True))
    assert osm_demand_source(HELSINKI) == demand.attrs["demand_source"]


def test_banks_and_pharmacies_match_osmnx_features(xml_files):
    features = ox.features_from_xml(xml_files[1], polygon=DISTRICT,
                                    tags={"amenity": ["bank", "pharmacy"]})
    # osmnx keeps a building that touches the polygon; a candidate stands where the building's centroid is.
    centres = shapely.centroid(features.geometry.to_numpy())  # planar in degrees, as the reader's
    features = features[shapely.within(centres, DISTRICT)]
    found = read_osm_candidates(HELSINKI, DISTRICT, dedup_m=0)
    found = found[found["kind"].isin(["bank", "pharmacy"])]
    assert len(found) == len(features) == 17
    assert sorted(found["osm_name"]) == sorted(features["name"])
    assert sorted(found["kind"]) == sorted(features["amenity"])


def test_candidates_of_one_kind_within_20_m_merge():
    box = shapely.box(24.93, 60.16, 24.96, 60.18)
    every = read_osm_candidates(HELSINKI, box, dedup_m=0)
    kept = read_osm_candidates(HELSINKI, box)
    assert 0 < len(kept) < len(every)
    metric = geo.to_metric(every)
    xy = {i: (p.x, p.y) for i, p in zip(every["id"], metric.geometry, strict=True)}
    kind = dict(zip(every["id"], every["kind"], strict=True))

    def close(a, b):
        return kind[a] == kind[b] and np.hypot(xy[a][0] - xy[b][0], xy[a][1] - xy[b][1]) < 20.0

    kept_ids = list(kept["id"])
    assert not any(close(a, b) for i, a in enumerate(kept_ids) for b in kept_ids[i + 1:])
    dropped = set(every["id"]) - set(kept_ids)
    assert all(any(close(d, k) for k in kept_ids) for d in dropped)
    assert kept.attrs["candidates_source"].startswith(f"{len(kept)} OSM host institutions from Helsinki.osm.pbf")


def test_first_site_is_where_the_street_metres_are_densest():
    radius_m = 300.0
    demand = read_osm_demand(HELSINKI, DISTRICT, hotspot_weights=())
    candidates = read_osm_candidates(HELSINKI, DISTRICT)
    far_away = _stations([(24.80, 60.25)])
    result = plan_sites(far_away, DISTRICT, k=1, radius_m=radius_m, demand=demand, candidates=candidates,
                        demand_source=demand.attrs["demand_source"])
    # Brute force: street metres within the radius of each candidate.
    d_lon, d_lat = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
    metres = [float(demand["length_m"][geo.geodesic_distance_m(p.x, p.y, d_lon, d_lat) <= radius_m].sum())
              for p in candidates.geometry]
    best = int(np.argmax(metres))
    second, top = sorted(metres)[-2:]
    assert top > second  # no tie at the top
    assert result.sites[0].candidate_id == candidates["id"].iloc[best]
    assert result.sites[0].gain == pytest.approx(metres[best], rel=1e-6)
    assert result.demand_source == "OSM street length + hot spots from Helsinki.osm.pbf"


def test_gap_cells_are_ranked_by_uncovered_population():
    population = load_demand(POPULATION, weight_col="population")
    region = shapely.box(24.925, 60.160, 24.960, 60.177)
    stations = _stations([(24.945, 60.170)])
    report = find_gaps(stations, region, radius_m=500.0, demand=population)
    split = split_gaps(report, stations, region, by="grid", cell_m=500.0, demand=population)
    units = split.units.to_crs(split.crs)
    cells = population.to_crs(split.crs)
    brute = [sum(pop * cell.intersection(unit).area / cell.area
                 for cell, pop in zip(cells.geometry, cells["weight"], strict=True))
             for unit in units.geometry]
    assert list(units["demand"]) == pytest.approx(brute, rel=1e-6, abs=1e-6)
    assert list(units["rank"]) == list(range(1, len(units) + 1))
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(brute))
    assert brute[0] > 0 and split.uncovered_demand == pytest.approx(sum(brute), rel=1e-6)


_HAND_MADE = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
{nodes}
</osm>
"""


def _node(osm_id: int, lon: float, lat: float, **tags: str) -> str:
    inner = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
    return f'<node id="{osm_id}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{inner}</node>'


def test_hand_made_district_puts_the_first_site_by_the_cluster(tmp_path):
    # A 3 km square in UTM 49N near Xi'an; markets, a bus station and a construction site in its north-east
    # corner, a bank in each corner and in the middle, nothing else.
    utm = 32649
    x0, y0 = 500_000.0, 3_800_000.0
    square_m = shapely.box(x0, y0, x0 + 3000, y0 + 3000)
    square = gpd.GeoSeries([square_m], crs=utm).to_crs(geo.WGS84).iloc[0]
    spots = [(2700 + dx, 2700 + dy) for dx in (-100, 0, 100) for dy in (-100, 0, 100)]
    banks = {"SW": (300, 300), "SE": (2700, 300), "NW": (300, 2700), "NE": (2650, 2650), "C": (1500, 1500)}
    points = gpd.GeoSeries(shapely.points([(x0 + x, y0 + y) for x, y in spots + list(banks.values())]),
                           crs=utm).to_crs(geo.WGS84)
    tags = [{"amenity": "marketplace"}] * 7 + [{"amenity": "bus_station"}, {"landuse": "construction"}]
    tags += [{"amenity": "bank", "name": f"Bank {corner}"} for corner in banks]
    nodes = [_node(i + 1, p.x, p.y, **t) for i, (p, t) in enumerate(zip(points, tags, strict=True))]
    path = tmp_path / "district.osm"
    path.write_text(_HAND_MADE.format(nodes="\n".join(nodes)), encoding="utf-8")

    demand = read_osm_demand(path, square)
    assert len(demand) == 9 and demand["weight"].sum() == 7 * 3000 + 2000 + 1500
    candidates = read_osm_candidates(path, square)
    assert sorted(candidates["name"]) == sorted(f"Bank {c}" for c in banks)
    far_away = _stations([(100.0, 30.0)])
    chosen = plan_sites(far_away, square, k=1, radius_m=1000.0, demand=demand, candidates=candidates)
    assert chosen.sites[0].name == "Bank NE" and chosen.sites[0].gain == demand["weight"].sum()
    generated = plan_sites(far_away, square, k=1, radius_m=1000.0, demand=demand)
    first = generated.sites[0]
    centre = gpd.GeoSeries([shapely.Point(x0 + 2700, y0 + 2700)], crs=utm).to_crs(geo.WGS84).iloc[0]
    assert geo.geodesic_distance_m(first.lon, first.lat, centre.x, centre.y) < 1000.0
    assert first.gain == demand["weight"].sum()


def test_errors_name_the_file_and_the_district(tmp_path):
    with pytest.raises(BadRequestError, match="not found"):
        read_osm_demand(tmp_path / "missing.osm.pbf")
    text = tmp_path / "notes.txt"
    text.write_text("x", encoding="utf-8")
    with pytest.raises(BadRequestError, match="expected a file ending"):
        read_osm_candidates(text)
    nowhere = shapely.box(100.0, 30.0, 100.01, 30.01)
    with pytest.raises(EmptyInputError, match="inside the district"):
        read_osm_demand(HELSINKI, nowhere)
    with pytest.raises(EmptyInputError, match="inside the district"):
        read_osm_candidates(HELSINKI, nowhere)
