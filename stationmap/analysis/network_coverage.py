"""Network coverage: service areas that follow the walkable streets instead of straight lines.

Each station is snapped to its nearest street node (the snap distance counts as walking). A multi-source
shortest-path search over the street graph (``scipy.sparse.csgraph.dijkstra`` with a distance limit, in chunks of
stations) gives, for every node, its two nearest stations. Along an edge a point's distance to a station is the
shorter way round through either end, so the two nearest stations anywhere on an edge are among the two nearest
of its ends; an interval sweep per edge gives the exact street length covered once and twice.

The covered *area* is the covered street pieces buffered by ``street_buffer_m`` (default 50 m: from the street to
the doors along it). The demand test snaps each demand point to its nearest node. The report always carries the
straight-line figures for the same stations and region, so planners see how much the street network shrinks the
circles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from stationmap import geo, hours
from stationmap.analysis import kernel
from stationmap.analysis.coverage import CoverageReport, DemandCoverage, coverage_report, select_in_service
from stationmap.analysis.kernel import DEFAULT_RADIUS_M, Region
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.network import WalkNetwork
from stationmap.parameters import STREET_BUFFER_M

__all__ = ["DEFAULT_STREET_BUFFER_M", "NetworkCoverageReport", "network_coverage_report"]

#: How far either side of a street counts as reached once the street is (doors, yards, squares along it).
DEFAULT_STREET_BUFFER_M = float(STREET_BUFFER_M.default)
_CHUNK = 64  # stations per shortest-path batch, taken in spatial order


@dataclass(frozen=True)
class NetworkCoverageReport:
    """
    Coverage along the street network, next to the straight-line figures for the same stations.

    Attributes
    ----------
    network
        Figures with ``distance_model="network"`` (areas are the covered streets buffered by `street_buffer_m`).
    straight_line
        Figures with ``distance_model="straight-line"`` for the same stations, region and time.
    area_ratio
        Network covered area divided by straight-line covered area (None if the latter is 0).
    demand_ratio
        The same for covered demand, when demand was given.
    n_snapped, n_unsnapped
        Stations on the network, and stations farther than `max_snap_m` from any street node (left out).
    street_buffer_m, max_snap_m
        Buffer around covered streets and largest snap distance, metres.
    areas
        EPSG:4326 polygons with ``level`` = ``covered`` / ``overlap`` (for maps), ``area_m2``, ``radius_m``,
        ``distance_model``.
    streets
        EPSG:4326 covered street pieces with ``level`` (1 or 2) and ``length_m``.
    """

    network: CoverageReport
    straight_line: CoverageReport
    area_ratio: float | None
    demand_ratio: float | None
    n_snapped: int
    n_unsnapped: int
    street_buffer_m: float
    max_snap_m: float
    areas: gpd.GeoDataFrame = field(compare=False, repr=False)
    streets: gpd.GeoDataFrame = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (no geometry, no NaN)."""
        return {"network": self.network.to_dict(), "straight_line": self.straight_line.to_dict(),
                "area_ratio": kernel.finite_or_none(self.area_ratio, 6),
                "demand_ratio": kernel.finite_or_none(self.demand_ratio, 6),
                "n_snapped": self.n_snapped, "n_unsnapped": self.n_unsnapped,
                "street_buffer_m": self.street_buffer_m, "max_snap_m": self.max_snap_m}


def network_coverage_report(stations: gpd.GeoDataFrame, network: WalkNetwork, region: Region | None = None, *,
                     radius_m: float = DEFAULT_RADIUS_M, when: datetime | str | None = None,
                     demand: gpd.GeoDataFrame | None = None, weight_col: str = "weight",
                     street_buffer_m: float = DEFAULT_STREET_BUFFER_M, max_snap_m: float | None = None,
                     region_name: str | None = None, top_n: int = 10) -> NetworkCoverageReport:
    """
    Measure coverage by walking distance along the streets of `network`.

    Parameters
    ----------
    stations
        Station points, any CRS (EPSG:4326 as loaded); closed stations are left out.
    network
        Walkable streets (`stationmap.network.read_walk_network`), EPSG:4326.
    region
        The district (WGS-84 geometry or a frame in the stations' CRS); by default the network's extent (its
        nodes' convex hull buffered by `street_buffer_m`).
    radius_m
        Walking distance in metres.
    when
        Count only the stations open at this time.
    demand
        Points or polygons with `weight_col`, in the stations' CRS; points are snapped to the nearest street node,
        polygons count in proportion to their area inside the network service area.
    weight_col
        Weight column of `demand`.
    street_buffer_m
        Metres either side of a covered street that count as covered area.
    max_snap_m
        Stations (and demand points) farther than this from every street node are not on the network; default
        `radius_m`.
    region_name
        Name to print.
    top_n
        How many of the largest uncovered demand features to list.

    Returns
    -------
    report
        Network figures, the straight-line figures for comparison, and geometries for maps.

    Raises
    ------
    BadRequestError
        If a distance is out of range.
    EmptyInputError
        If there are no stations or the network has no edges.
    """
    radius_m = kernel.check_radius(radius_m)
    if not math.isfinite(street_buffer_m) or street_buffer_m < 0:
        msg = f"street_buffer_m must be a non-negative number of metres, got {street_buffer_m!r}."
        raise BadRequestError(msg)
    max_snap_m = radius_m if max_snap_m is None else float(max_snap_m)
    if len(stations) == 0:
        msg = "No stations to measure coverage from."
        raise EmptyInputError(msg)
    if network.n_edges == 0:
        msg = "The street network has no edges."
        raise EmptyInputError(msg)
    nodes_wgs = gpd.GeoSeries(gpd.points_from_xy(network.lon, network.lat), crs=geo.WGS84)
    crs = geo.metric_crs(nodes_wgs)
    nodes_m = nodes_wgs.to_crs(crs)
    node_xy = np.column_stack([nodes_m.x.to_numpy(), nodes_m.y.to_numpy()])
    if region is None:
        hull = shapely.MultiPoint(node_xy).convex_hull.buffer(street_buffer_m)
        region_geom = kernel.reproject_geometry(hull, crs, geo.WGS84)
        default_name = f"extent of {network.source.rsplit('/', 1)[-1] or 'the network'}"
    else:
        region_geom = kernel.region_geometry(region, stations)
        default_name = kernel.region_name(region, None)
    region_m = kernel.reproject_geometry(region_geom, geo.WGS84, crs)
    region_area, _ = kernel.region_area_m2(region_geom)
    name = region_name if region_name is not None else default_name

    used = select_in_service(stations, when=when)
    node_tree = cKDTree(node_xy)
    s_lon, s_lat = kernel.lonlat(used) if len(used) else (np.empty(0), np.empty(0))
    s_xy = kernel.project_lonlat(s_lon, s_lat, crs)
    snap_m, snap_node = node_tree.query(s_xy, k=1) if len(used) else (np.empty(0), np.empty(0, dtype=int))
    on_net = snap_m <= max_snap_m
    best, who = _two_nearest(network, snap_node[on_net], snap_m[on_net], radius_m=radius_m, node_xy=node_xy,
                             node_tree=node_tree)

    edge_xy0, edge_xy1 = node_xy[network.u], node_xy[network.v]
    intervals = _edge_intervals(network, best, who, radius_m=radius_m)
    streets, len1, len2 = [], 0.0, 0.0
    mid = (edge_xy0 + edge_xy1) / 2
    shapely.prepare(region_m)
    in_region = shapely.contains_xy(region_m, mid[:, 0], mid[:, 1])
    region_len = float(network.length_m[in_region].sum())
    areas_geom = {}
    for level in (1, 2):
        edge, t0, t1 = intervals[level]
        inside = in_region[edge]
        frac0, frac1 = t0 / network.length_m[edge], t1 / network.length_m[edge]
        a = edge_xy0[edge] + (edge_xy1[edge] - edge_xy0[edge]) * frac0[:, None]
        b = edge_xy0[edge] + (edge_xy1[edge] - edge_xy0[edge]) * frac1[:, None]
        lines = shapely.linestrings(np.stack([a, b], axis=1)) if len(edge) else np.empty(0, dtype=object)
        length = float((t1 - t0)[inside].sum())
        if level == 1:
            len1 = length
        else:
            len2 = length
        covered = _street_area(lines, street_buffer_m, region_m)
        areas_geom[level] = covered
        streets.append(gpd.GeoDataFrame({"level": level, "length_m": t1 - t0}, geometry=lines, crs=crs))
    covered_area = float(areas_geom[1].area)
    twice_area = float(areas_geom[2].area)
    moment = hours.resolve_when(when).isoformat(timespec="minutes") if when is not None else None
    notes = [(f"Service areas follow walkable streets within {radius_m:g} m and reach {street_buffer_m:g} m "
              "either side of them.")]
    n_unsnapped = int((~on_net).sum())
    if n_unsnapped:
        notes.append(f"{n_unsnapped} station(s) farther than {max_snap_m:g} m from any street of the network left "
                     "out.")
    snapped = used[on_net]
    demand_result = None
    if demand is not None:
        demand_result = _network_demand(demand, snapped, network, node_tree, best, who, crs, region_geom,
                                        areas_geom, radius_m=radius_m, max_snap_m=max_snap_m,
                                        weight_col=weight_col, top_n=top_n)
    net_report = CoverageReport(
        radius_m=radius_m, distance_model="network", crs=crs.to_string(), when=moment, n_stations=len(stations),
        n_used=int(on_net.sum()), region_name=name, region_area_m2=region_area, covered_area_m2=covered_area,
        covered_twice_area_m2=twice_area, pct_area_covered=100.0 * covered_area / region_area,
        pct_area_covered_twice=100.0 * twice_area / region_area, demand=demand_result,
        street_length_m=region_len, street_length_covered_m=min(len1, region_len),
        street_length_covered_twice_m=min(len2, region_len), notes=tuple(notes))
    line_report = coverage_report(snapped if len(snapped) else used, region_geom, radius_m=radius_m,
                                  demand=demand, weight_col=weight_col, region_name=name, top_n=top_n)
    # Same stations as the network figures (in service, open at `when`, on the network).
    line_report = replace(line_report, n_stations=len(stations), n_used=int(on_net.sum()), when=moment,
                          notes=tuple(notes[1:]))
    area_ratio = covered_area / line_report.covered_area_m2 if line_report.covered_area_m2 > 0 else None
    demand_ratio = None
    if demand_result is not None and line_report.demand is not None and line_report.demand.covered > 0:
        demand_ratio = demand_result.covered / line_report.demand.covered
    if area_ratio is not None:
        compare = f"Network covered area is {100 * area_ratio:.0f}% of the straight-line figure"
        if demand_ratio is not None:
            compare += f", covered demand {100 * demand_ratio:.0f}%"
        net_report = replace(net_report, notes=(*net_report.notes, compare + "."))
    areas = gpd.GeoDataFrame({"level": ["covered", "overlap"], "area_m2": [covered_area, twice_area],
                              "radius_m": radius_m, "distance_model": "network"},
                             geometry=[areas_geom[1], areas_geom[2]], crs=crs).to_crs(geo.WGS84)
    street_frame = gpd.GeoDataFrame(pd.concat(streets, ignore_index=True), crs=crs).to_crs(geo.WGS84)
    return NetworkCoverageReport(network=net_report, straight_line=line_report, area_ratio=area_ratio,
                                 demand_ratio=demand_ratio, n_snapped=int(on_net.sum()), n_unsnapped=n_unsnapped,
                                 street_buffer_m=float(street_buffer_m), max_snap_m=max_snap_m, areas=areas,
                                 streets=street_frame)


def _street_area(lines: np.ndarray, buffer_m: float, region_m: BaseGeometry) -> BaseGeometry:
    """
    Return the area within `buffer_m` of the covered street pieces, inside the region.

    Pieces meeting end to end (an unsimplified OSM street is a chain of short segments) are merged first: half
    as many buffers to union on real extracts, the union being most of the cost.
    """
    if len(lines) == 0:
        return shapely.Polygon()
    merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(lines)))
    return shapely.intersection(shapely.union_all(shapely.buffer(merged, buffer_m, quad_segs=8)), region_m)


def _two_nearest(network: WalkNetwork, sources: np.ndarray, offsets: np.ndarray, *, radius_m: float,
                 node_xy: np.ndarray, node_tree: cKDTree) -> tuple[np.ndarray, np.ndarray]:
    """
    Return, per node, the network distances (m) to its two nearest stations and their indices (-1 if none).

    Each station starts at its snap node with its snap distance already walked. Stations are taken in spatial
    order, a chunk at a time, and each chunk searches only the subgraph of nodes within `radius_m` in a straight
    line of its stations (a walk of `radius_m` cannot leave that disc), so the work grows with the stations'
    neighbourhoods, not with stations x nodes.
    """
    n = network.n_nodes
    best = np.full((n, 2), np.inf)
    who = np.full((n, 2), -1, dtype=np.int64)
    graph = network.adjacency()
    src_xy = node_xy[sources]
    cell = np.floor(src_xy / max(radius_m, 1.0)).astype(np.int64)
    order = np.lexsort((cell[:, 1], cell[:, 0]))
    reach = radius_m * 1.01 + 1.0  # UTM scale and rounding: never cut a path short
    for start in range(0, len(order), _CHUNK):
        idx = order[start:start + _CHUNK]
        balls = node_tree.query_ball_point(src_xy[idx], reach)
        nodes = np.unique(np.concatenate([np.asarray(b, dtype=np.int64) for b in balls] + [sources[idx]]))
        sub = graph[nodes][:, nodes]
        local = np.searchsorted(nodes, sources[idx])
        dist = dijkstra(sub, directed=False, indices=local, limit=radius_m) + offsets[idx, None]
        # Merge the chunk's distances with the running two best of these nodes.
        cand_d = np.concatenate([best[nodes], dist.T], axis=1)
        cand_w = np.concatenate([who[nodes], np.broadcast_to(idx, (len(nodes), len(idx)))], axis=1)
        part = np.argpartition(cand_d, 1, axis=1)[:, :2]  # at least 3 columns: the two best and the chunk
        top_d = np.take_along_axis(cand_d, part, axis=1)
        top_w = np.take_along_axis(cand_w, part, axis=1)
        swap = np.argsort(top_d, axis=1)
        best[nodes] = np.take_along_axis(top_d, swap, axis=1)
        who[nodes] = np.take_along_axis(top_w, swap, axis=1)
    best[best > radius_m] = np.inf
    who[~np.isfinite(best)] = -1
    return best, who


def _edge_intervals(network: WalkNetwork, best: np.ndarray, who: np.ndarray, *,
                    radius_m: float) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """
    Return, for levels 1 and 2, the pieces ``(edge, t0, t1)`` of edges within `radius_m` of >= level stations.

    ``t`` is metres from the edge's `u` end. Candidates per edge are the two nearest stations of each end; a
    station's reach on the edge is a prefix ``[0, r - d_u]`` and a suffix ``[L - (r - d_v), L]``.
    """
    length = network.length_m
    n_e = len(length)
    u, v = network.u, network.v
    cand = np.concatenate([who[u], who[v]], axis=1)  # (E, 4) station ids
    du = np.full((n_e, 4), np.inf)
    dv = np.full((n_e, 4), np.inf)
    for c in range(4):
        for k in range(2):
            at_u = (cand[:, c] == who[u, k]) & (cand[:, c] >= 0)
            at_v = (cand[:, c] == who[v, k]) & (cand[:, c] >= 0)
            du[:, c] = np.where(at_u, np.minimum(du[:, c], best[u, k]), du[:, c])
            dv[:, c] = np.where(at_v, np.minimum(dv[:, c], best[v, k]), dv[:, c])
    # Each station once per edge.
    for c in range(1, 4):
        dup = np.zeros(n_e, dtype=bool)
        for p in range(c):
            dup |= cand[:, c] == cand[:, p]
        cand[dup, c] = -1
    valid = cand >= 0
    lengths = length[:, None]
    pre = np.where(valid, np.clip(radius_m - du, 0.0, None), 0.0)
    suf = np.where(valid, np.clip(radius_m - dv, 0.0, None), 0.0)
    pre, suf = np.minimum(pre, lengths), np.minimum(suf, lengths)
    whole = pre + suf >= lengths
    pre = np.where(whole, lengths, pre)
    suf = np.where(whole, 0.0, suf)
    # Events: +1 at each interval start, -1 at its end; empty intervals contribute nothing.
    starts = np.concatenate([np.zeros((n_e, 4)), lengths - suf], axis=1)
    ends = np.concatenate([pre, np.broadcast_to(lengths, (n_e, 4))], axis=1)
    real = np.concatenate([pre > 0, suf > 0], axis=1)
    pos = np.concatenate([np.where(real, starts, 0.0), np.where(real, ends, 0.0)], axis=1)
    delta = np.concatenate([real.astype(int), -real.astype(int)], axis=1)
    order = np.argsort(pos, axis=1, kind="stable")
    pos = np.take_along_axis(pos, order, axis=1)
    delta = np.take_along_axis(delta, order, axis=1)
    count = np.cumsum(delta, axis=1)[:, :-1]
    seg0, seg1 = pos[:, :-1], pos[:, 1:]
    out = {}
    for level in (1, 2):
        mask = (count >= level) & (seg1 > seg0)
        edge_idx, col = np.nonzero(mask)
        out[level] = _merge_pieces(edge_idx, seg0[edge_idx, col], seg1[edge_idx, col])
    return out


def _merge_pieces(edge: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join touching pieces of the same edge (the sweep splits a covered run at every event)."""
    if len(edge) == 0:
        return edge, t0, t1
    order = np.lexsort((t0, edge))
    edge, t0, t1 = edge[order], t0[order], t1[order]
    new_run = np.ones(len(edge), dtype=bool)
    new_run[1:] = (edge[1:] != edge[:-1]) | (t0[1:] > t1[:-1] + 1e-9)
    run = np.cumsum(new_run) - 1
    first = np.flatnonzero(new_run)
    end = np.zeros(len(first))
    np.maximum.at(end, run, t1)
    return edge[first], t0[first], end


def _network_demand(demand: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, network: WalkNetwork, node_tree: cKDTree,
                    best: np.ndarray, who: np.ndarray, crs: Any, region: BaseGeometry,
                    areas_geom: dict[int, BaseGeometry], *, radius_m: float, max_snap_m: float, weight_col: str,
                    top_n: int) -> DemandCoverage:
    """Demand within walking reach: points snapped to their nearest node, polygons by covered area."""
    if len(demand) == 0:
        msg = "The demand layer has no features."
        raise EmptyInputError(msg)
    if len(stations):
        geo.check_same_crs(stations, demand)
    weights = kernel.demand_weights(demand, weight_col)
    polygons = bool(set(demand.geom_type.unique()) & {"Polygon", "MultiPolygon"})
    d_lon, d_lat = kernel.lonlat(demand)
    geoms_wgs = demand.geometry.to_crs(geo.WGS84).values
    shapely.prepare(region)
    inside = shapely.intersects(region, geoms_wgs) if polygons else shapely.contains_xy(region, d_lon, d_lat)
    snap, node = node_tree.query(kernel.project_lonlat(d_lon, d_lat, crs), k=1)
    d1 = np.where(snap <= max_snap_m, snap + best[node, 0], np.inf)
    d2 = np.where(snap <= max_snap_m, snap + best[node, 1], np.inf)
    if polygons:
        region_m = kernel.reproject_geometry(region, geo.WGS84, crs)
        polys = demand.geometry.to_crs(crs).values
        area = shapely.area(polys)
        clipped = shapely.intersection(polys, region_m)
        clipped_area = shapely.area(clipped)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Demand is spread evenly over a polygon: only its part inside the region counts.
            weights = weights * np.clip(np.nan_to_num(clipped_area / area), 0.0, 1.0)
            share1 = np.nan_to_num(shapely.area(shapely.intersection(clipped, areas_geom[1])) / clipped_area)
            share2 = np.nan_to_num(shapely.area(shapely.intersection(clipped, areas_geom[2])) / clipped_area)
        model = "polygons, area-weighted"
    else:
        share1, share2 = (d1 <= radius_m).astype(float), (d2 <= radius_m).astype(float)
        model = "points"
    w = np.where(inside, weights, 0.0)
    total = float(w.sum())
    covered, covered2 = float((w * share1).sum()), float((w * share2).sum())
    uncovered = w * (1.0 - np.clip(share1, 0.0, 1.0))
    ids = demand["id"].astype(str).to_numpy() if "id" in demand.columns else demand.index.astype(str).to_numpy()
    station_ids = stations["id"].astype(str).to_numpy() if "id" in stations.columns else None
    nearest = who[node, 0]
    top = []
    for i in np.argsort(-uncovered, kind="stable")[:top_n]:
        if uncovered[i] <= 0:
            break
        known = math.isfinite(d1[i]) and nearest[i] >= 0
        nearest_id = str(station_ids[nearest[i]]) if known and station_ids is not None else None
        top.append({"id": str(ids[i]), "lon": round(float(d_lon[i]), 6), "lat": round(float(d_lat[i]), 6),
                    "weight": float(weights[i]), "uncovered": float(uncovered[i]),
                    "nearest_station_id": nearest_id,
                    "nearest_station_m": float(d1[i]) if nearest_id is not None else None})
    return DemandCoverage(model=model, weight_col=weight_col, n_features=int(inside.sum()), total=total,
                          covered=covered, covered_twice=covered2,
                          pct_covered=100.0 * covered / total if total > 0 else 0.0,
                          pct_covered_twice=100.0 * covered2 / total if total > 0 else 0.0,
                          largest_uncovered=tuple(top))
