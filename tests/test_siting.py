"""Siting: the ILP against brute force, the greedy within its bound, set cover, gains, candidates and defaults."""

from __future__ import annotations

import itertools
import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from stationmap import geo
from stationmap.analysis.siting import (
    AREA_DEMAND_SOURCE,
    FARTHEST_FIRST,
    area_demand,
    candidates_in_gaps,
    cover_all,
    cover_matrix,
    greedy_max_cover,
    plan_sites,
    propose_sites,
    solve_max_cover,
    spread_sites,
)
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.districts import load_district
from stationmap.errors import BadRequestError, CRSMismatchError, EmptyInputError
from stationmap.stations import load_stations

DATA = BUNDLED_DATA_DIR


def instance(seed: int, n_demand: int = 40, n_cand: int = 9, span: float = 0.04):
    rng = np.random.default_rng(seed)
    demand = gpd.GeoDataFrame({"weight": rng.integers(1, 50, n_demand).astype(float)},
                              geometry=gpd.points_from_xy(109.0 + rng.random(n_demand) * span,
                                                          34.3 + rng.random(n_demand) * span), crs=4326)
    names = {"id": [f"c{i}" for i in range(n_cand)], "name": [f"候选{i}" for i in range(n_cand)]}
    candidates = gpd.GeoDataFrame(names,
                                  geometry=gpd.points_from_xy(109.0 + rng.random(n_cand) * span,
                                                              34.3 + rng.random(n_cand) * span), crs=4326)
    return demand, candidates


def brute_force(demand, candidates, k, radius_m):
    d_lon, d_lat = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
    c_lon, c_lat = candidates.geometry.x.to_numpy(), candidates.geometry.y.to_numpy()
    dist = geo.geodesic_distance_m(d_lon[:, None], d_lat[:, None], c_lon[None, :], c_lat[None, :])
    reach = dist <= radius_m
    w = demand["weight"].to_numpy()
    return max(float(w[reach[:, list(s)].any(axis=1)].sum()) for s in itertools.combinations(range(len(c_lon)), k))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_ilp_matches_brute_force_and_greedy_stays_within_bound(seed, k):
    demand, candidates = instance(seed)
    best = brute_force(demand, candidates, k, 1000)
    exact = propose_sites(demand, candidates, k=k, radius_m=1000, method="ilp")
    greedy = propose_sites(demand, candidates, k=k, radius_m=1000, method="greedy")
    assert exact.method == "ilp" and exact.optimal
    assert exact.covered_by_new == pytest.approx(best)
    assert exact.gap_pct == pytest.approx(0.0, abs=1e-9)
    assert greedy.method == "greedy"
    assert (1 - 1 / math.e) * best - 1e-9 <= greedy.covered_by_new <= best + 1e-9
    assert greedy.upper_bound >= best - 1e-9  # the reported bound really bounds the optimum
    gap_to_ilp = 100 * (best - greedy.covered_by_new) / best if best else 0.0
    assert gap_to_ilp <= greedy.gap_pct + 1e-9
    # The ILP's result reports the greedy's measured gap to it.
    assert exact.greedy_covered == pytest.approx(greedy.covered_by_new)
    assert exact.greedy_gap_pct == pytest.approx(gap_to_ilp)


def test_gains_are_marginal_and_in_order():
    demand, candidates = instance(11, n_demand=200, n_cand=30, span=0.08)
    result = propose_sites(demand, candidates, k=5, radius_m=1200)
    gains = [s.gain for s in result.sites]
    assert gains == sorted(gains, reverse=True)
    assert sum(gains) == pytest.approx(result.covered_by_new)
    assert result.sites[-1].cumulative == pytest.approx(result.covered_by_new)
    assert [s.rank for s in result.sites] == [1, 2, 3, 4, 5]
    # Taking the first 3 of 5 gives what the gains say.
    first3 = candidates[candidates["id"].isin([s.candidate_id for s in result.sites[:3]])]
    again = propose_sites(demand, first3, k=3, radius_m=1200)
    assert again.covered_by_new == pytest.approx(result.sites[2].cumulative)
    frame = result.sites_frame()
    assert frame.crs.equals(4326) and frame["rank"].tolist() == [1, 2, 3, 4, 5]
    json.dumps(result.to_dict(), allow_nan=False, ensure_ascii=False)


def test_existing_stations_keep_their_demand():
    demand, candidates = instance(3)
    station = candidates.iloc[[0]].rename(columns={"name": "station_name"})
    with_station = propose_sites(demand, candidates, k=2, radius_m=1000, stations=station)
    alone = propose_sites(demand, candidates, k=2, radius_m=1000)
    assert with_station.already_covered > 0
    assert with_station.uncovered_before == pytest.approx(with_station.total_demand - with_station.already_covered)
    assert "c0" not in [s.candidate_id for s in with_station.sites]  # it would add nothing new
    assert with_station.covered_by_new <= alone.covered_by_new


@pytest.mark.parametrize("seed", range(4))
def test_set_cover_matches_brute_force(seed):
    demand, candidates = instance(seed, n_demand=30, n_cand=8, span=0.03)
    result = cover_all(demand, candidates, radius_m=1000, method="ilp")
    reach = cover_matrix(demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy(), candidates.geometry.x.to_numpy(),
                         candidates.geometry.y.to_numpy(), radius_m=1000).toarray().astype(bool)
    reachable = reach.any(axis=1)
    fewest = next(k for k in range(len(candidates) + 1) for s in itertools.combinations(range(len(candidates)), k)
                  if (reach[:, list(s)].any(axis=1) | ~reachable).all())
    assert result.optimal and result.k == fewest
    assert result.uncovered_after == pytest.approx(result.unreachable)
    greedy = cover_all(demand, candidates, radius_m=1000, method="greedy")
    assert greedy.k >= fewest and greedy.upper_bound <= fewest
    assert greedy.uncovered_after == pytest.approx(greedy.unreachable)


def test_greedy_bound_on_a_classic_trap():
    # Candidate 0 covers the middle of two groups; 1 and 2 each cover one group exactly: greedy takes 0 first.
    import scipy.sparse as sp

    rows = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1]])
    weights = np.array([1, 1, 1, 1, 1.5, 1.5])
    chosen, gains, bound = greedy_max_cover(sp.csr_matrix(rows), weights, 2)
    exact, optimal, ilp_bound = solve_max_cover(sp.csr_matrix(rows), weights, 2)
    assert optimal and sorted(exact.tolist()) == [1, 2] and ilp_bound == pytest.approx(7.0)
    assert chosen[0] == 0 and gains.sum() == pytest.approx(5.5)
    assert gains.sum() >= (1 - 1 / math.e) * 7.0 and bound >= 7.0


def test_auto_falls_back_to_greedy_above_the_pair_limit():
    demand, candidates = instance(2, n_demand=100, n_cand=20)
    result = propose_sites(demand, candidates, k=3, radius_m=1000, max_ilp_pairs=10)
    assert result.method == "greedy" and not result.optimal
    assert any("ILP limit" in n for n in result.notes)
    assert 0 <= result.gap_pct < 100 * (1 / math.e) + 1e-9


def test_candidates_in_gaps_and_area_demand():
    region = gpd.GeoSeries([shapely.box(500_000, 3_790_000, 504_000, 3_792_000)], crs=32649).to_crs(4326).iloc[0]
    demand = area_demand(region, spacing_m=100)
    assert demand["weight"].sum() == pytest.approx(8e6, rel=0.01)
    gaps = gpd.GeoDataFrame({"rank": [1]}, geometry=[region], crs=4326)
    cands = candidates_in_gaps(gaps, spacing_m=500)
    assert cands.crs.equals(4326) and len(cands) == 1 + 8 * 4
    assert cands["id"].is_unique and cands["name"].iloc[0] == "gap 1"
    with pytest.raises(BadRequestError):
        candidates_in_gaps(gaps, spacing_m=0)


def test_plan_sites_for_a_bundled_district():
    district = load_district("450305", data_dir=DATA)
    stations = load_stations(DATA / "stations" / "450305.geojson")
    stages = []
    result = plan_sites(stations, district.geometry, k=3, radius_m=1000, demand_spacing_m=500,
                        candidate_spacing_m=1000, progress=stages.append)
    assert len(result.sites) == 3 and result.problem == "max-cover"
    assert stages[0] == "gaps" and stages[-1] == "done"
    assert result.already_covered > 0
    for s in result.sites:
        assert shapely.contains_xy(district.geometry.buffer(0.01), s.lon, s.lat)


def test_siting_errors():
    demand, candidates = instance(0)
    with pytest.raises(BadRequestError, match="k must"):
        propose_sites(demand, candidates, k=0)
    with pytest.raises(BadRequestError, match="method"):
        propose_sites(demand, candidates, k=1, method="magic")
    with pytest.raises(EmptyInputError):
        propose_sites(demand, candidates.iloc[:0], k=1)
    with pytest.raises(CRSMismatchError):
        propose_sites(demand, candidates.to_crs(32649), k=1)


def test_auto_skips_the_ilp_when_the_greedy_bound_proves_optimality():
    # Area demand on a grid far from any station: k disjoint discs are optimal and the greedy's bound shows it,
    # so "auto" answers without the ILP (which would spend its time limit on symmetric ties). The grid is given
    # as a demand layer here: with no demand at all, plan_sites chooses deepest first instead (tests below).
    region = shapely.box(109.0, 34.0, 109.3, 34.3)
    far = gpd.GeoDataFrame({"id": ["S"]}, geometry=gpd.points_from_xy([110.5], [35.5]), crs=4326)
    result = plan_sites(far, region, k=3, radius_m=1000, demand=area_demand(region, spacing_m=250))
    assert result.method == "greedy" and result.optimal and result.gap_pct == pytest.approx(0.0, abs=1e-9)
    # By hand: no k sites can cover more than k times the best single site, and these three reach that.
    best_single = result.sites[0].gain
    assert [s.gain for s in result.sites] == pytest.approx([best_single] * 3)
    assert result.upper_bound == pytest.approx(3 * best_single)


def test_cover_matrix_is_exact_geodesic_reach_at_the_radius():
    """Demand exactly 1,000 m (by pyproj Geod) from a candidate is reached; a micrometre farther is not."""
    d_lon, d_lat, _ = geo.GEOD.fwd([109.0] * 4, [34.3] * 4, [0.0, 90.0, 180.0, 270.0], [999.999, 1000.0, 1000.000001,
                                                                                          1500.0])
    c_lon, c_lat = np.array([109.0, 109.05]), np.array([34.3, 34.3])
    dist = geo.geodesic_distance_m(np.asarray(d_lon)[:, None], np.asarray(d_lat)[:, None], c_lon[None, :],
                                   c_lat[None, :])
    matrix = cover_matrix(np.asarray(d_lon), np.asarray(d_lat), c_lon, c_lat, radius_m=1000.0).toarray()
    np.testing.assert_array_equal(matrix.astype(bool), dist <= 1000.0)
    assert matrix[:, 0].tolist() == [1, int(dist[1, 0] <= 1000.0), 0, 0]


def _utm_points(xy_m):
    """WGS-84 points from UTM zone 49N (EPSG:32649) metres, so distances can be worked out by hand."""
    return gpd.GeoSeries(gpd.points_from_xy(*zip(*xy_m, strict=True)), crs=32649).to_crs(4326)


def test_without_demand_sites_are_chosen_deepest_first_by_hand():
    # A 10 km square (UTM metres from 500,000 / 3,790,000), one station 500 m in from the west edge at mid-height,
    # candidates along the middle line at x = 2, 4, 5, 6, 8 km. Clearance = distance to the nearest station, site
    # chosen or edge: 2 km -> min(1,500, 2,000) = 1,500; 4 -> 3,500; 5 -> min(4,500, 5,000) = 4,500; 6 -> 4,000;
    # 8 -> 2,000. Site 1 is x = 5 (4,500). Then x = 8 keeps 2,000 (3 km from site 1), x = 2 1,500, x = 4 and 6
    # drop to 1,000: site 2 is x = 8 (2,000), site 3 is x = 2 (1,500).
    x0, y0 = 500_000.0, 3_790_000.0
    region = gpd.GeoSeries([shapely.box(x0, y0, x0 + 10_000, y0 + 10_000)], crs=32649).to_crs(4326).iloc[0]
    station = gpd.GeoDataFrame({"id": ["S"]}, geometry=_utm_points([(x0 + 500, y0 + 5_000)]).values, crs=4326)
    xs = [2_000, 4_000, 5_000, 6_000, 8_000]
    candidates = gpd.GeoDataFrame({"id": [f"x{x // 1000}" for x in xs]},
                                  geometry=_utm_points([(x0 + x, y0 + 5_000) for x in xs]).values, crs=4326)
    result = plan_sites(station, region, k=3, radius_m=1000, candidates=candidates)
    assert [s.candidate_id for s in result.sites] == ["x5", "x8", "x2"]
    assert [s.clearance_m for s in result.sites] == pytest.approx([4_500, 2_000, 1_500], rel=2e-3)
    assert result.method == "deepest-first" and not result.optimal
    assert result.demand_source == AREA_DEMAND_SOURCE == "area (no demand data)"
    assert result.ties_broken_by == FARTHEST_FIRST
    assert any("No demand data" in note for note in result.notes)
    # Sites 1 and 2 are more than 2 km from the station, each other and 1 km from the edge: each gains a whole
    # disc (pi km², counted on the 250 m area grid, so within a few percent). Site 3 is 1.5 km from the station,
    # whose circle already covers part of its own: it gains less.
    gains = [s.gain for s in result.sites]
    assert gains[0] == gains[1] == pytest.approx(math.pi * 1000**2, rel=0.05) and gains[2] < gains[0]
    assert result.to_dict()["demand_source"] == AREA_DEMAND_SOURCE
    frame = result.sites_frame()
    assert set(frame["demand_source"]) == {AREA_DEMAND_SOURCE} and set(frame["ties_broken_by"]) == {FARTHEST_FIRST}


def test_baqiao_without_demand_is_spread_deep_in_the_gap_not_a_row_of_ties():
    """The issue's case: 灞桥 without demand, 5 sites. Before: five gains of exactly 3,250,000 m² in a row along
    the district's edge, labelled optimal. Now: deepest first, each clearance checked by brute force."""
    district = load_district("610111", data_dir=DATA)
    stations = load_stations(DATA / "stations" / "610111.geojson")
    radius = 1000.0
    result = plan_sites(stations, district.geometry, k=5, radius_m=radius)
    assert result.demand_source == "area (no demand data)" and result.ties_broken_by == FARTHEST_FIRST
    assert not result.optimal and len(result.sites) == 5
    lon = np.array([s.lon for s in result.sites])
    lat = np.array([s.lat for s in result.sites])
    clearance = np.array([s.clearance_m for s in result.sites])
    # Non-increasing, as the rule guarantees.
    assert all(a >= b for a, b in itertools.pairwise(clearance))
    # Brute force: distance to the nearest station in service, earlier site and the district edge.
    in_service = stations[stations["status"] != "closed"] if "status" in stations.columns else stations
    s_lon, s_lat = in_service.geometry.x.to_numpy(), in_service.geometry.y.to_numpy()
    to_station = geo.geodesic_distance_m(lon[:, None], lat[:, None], s_lon[None, :], s_lat[None, :]).min(axis=1)
    to_edge = geo.distance_outside_m(district.geometry.boundary, lon, lat)
    pair = geo.geodesic_distance_m(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    for i in range(5):
        expected = min(to_station[i], to_edge[i], *(pair[i, :i] if i else [math.inf]))
        assert clearance[i] == pytest.approx(expected, abs=0.05)  # sites are rounded to 1e-7° (about 1 cm)
    # Spread: every pair farther apart than 2 x radius (so no two circles overlap), and every circle whole inside
    # the district, more than a radius from its edge (not a row along the edge).
    assert pair[np.triu_indices(5, 1)].min() >= clearance[-1] > 2 * radius
    assert to_edge.min() > radius
    assert [s.gain for s in result.sites] == pytest.approx([result.sites[0].gain] * 5)


def test_with_demand_the_ilp_optimum_and_the_named_source():
    demand, candidates = instance(3)
    region = shapely.box(108.9, 34.2, 109.1, 34.4)
    best = brute_force(demand, candidates, 2, 1000)
    none = gpd.GeoDataFrame({"id": []}, geometry=gpd.points_from_xy([], []), crs=4326)
    result = plan_sites(none, region, k=2, radius_m=1000, demand=demand, candidates=candidates, method="ilp",
                        demand_source="demand file hubs.csv")
    assert result.covered_by_new == pytest.approx(best) and result.optimal and result.method == "ilp"
    assert result.demand_source == "demand file hubs.csv" and result.ties_broken_by is None
    assert all(s.clearance_m is None for s in result.sites)
    unnamed = plan_sites(none, region, k=2, radius_m=1000, demand=demand, candidates=candidates, method="ilp")
    assert unnamed.demand_source == "demand layer"


def test_spread_sites_refuses_a_bad_k():
    demand, candidates = instance(0)
    with pytest.raises(BadRequestError, match="k must"):
        spread_sites(demand, candidates, k=0)
