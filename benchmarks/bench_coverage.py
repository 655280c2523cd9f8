"""Benchmark coverage, gaps and demand coverage on the synthetic national station set, next to the naive ways.

Each case runs in a fresh subprocess so its peak memory (``ru_maxrss``, which sees GEOS's allocations too, unlike
tracemalloc) is its own; ``base`` is the process's resident memory after imports and input generation, ``peak``
its high-water mark after the case.

    python benchmarks/bench_coverage.py                  # 100, 10,000 and 200,000 stations, 10 M demand points
    python benchmarks/bench_coverage.py --sizes 100 10000 --demand 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

__all__ = ["run_case"]

RADIUS_M = 1000.0
# Gaps are a district-scale question: the benchmark asks them for a 2 x 2 degree box around Beijing.
GAP_BOX = (115.4, 38.9, 117.4, 40.9)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _current_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def run_case(case: str, n: int, n_demand: int) -> dict:
    """Run one case in this process and return its figures."""
    import geopandas as gpd
    import shapely
    from synthetic import make_national

    from stationmap import geo
    from stationmap.analysis import coverage as cov
    from stationmap.analysis import kernel
    from stationmap.analysis.gaps import find_gaps

    stations = make_national(n, seed=0)
    lon, lat = stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy()
    box = shapely.box(*GAP_BOX)
    in_box = stations[shapely.contains_xy(box, lon, lat)]
    demand = None
    if case.startswith("demand"):
        rng = np.random.default_rng(1)
        # Demand where people are: around the stations, wider spread.
        pick = rng.integers(0, n, n_demand)
        d_lon = lon[pick] + rng.normal(0, 0.02, n_demand)
        d_lat = lat[pick] + rng.normal(0, 0.02, n_demand)
        demand = gpd.GeoDataFrame({"weight": np.ones(n_demand)}, geometry=gpd.points_from_xy(d_lon, d_lat), crs=4326)
    base = _current_rss_mb()
    started = time.perf_counter()
    out: dict = {"case": case, "n_stations": n}
    if case == "coverage":
        report = cov.coverage_report(stations, radius_m=RADIUS_M)
        out |= {"covered_km2": report.covered_area_m2 / 1e6, "twice_km2": report.covered_twice_area_m2 / 1e6,
                "crs": report.crs}
    elif case == "coverage_once":
        pieces = cov.coverage_pieces(stations, radius_m=RADIUS_M, overlap=False)
        out |= {"covered_km2": sum(p.once_area_m2 for _, p in pieces) / 1e6}
    elif case == "naive_union":
        # The obvious way, in the same UTM bands: buffer every station, union_all, clip to the band.
        total = 0.0
        for zone in kernel.utm_zone_plan(lon, lat, radius_m=RADIUS_M):
            xy = kernel.project_lonlat(lon[zone.members], lat[zone.members], zone.crs)
            union = shapely.union_all(shapely.buffer(shapely.points(xy), RADIUS_M, quad_segs=cov.QUAD_SEGS))
            if zone.band is not None:
                union = shapely.intersection(union, kernel.reproject_geometry(zone.band, geo.WGS84, zone.crs))
            total += union.area
        out |= {"covered_km2": total / 1e6}
    elif case == "gaps":
        report = find_gaps(in_box, box, radius_m=RADIUS_M)
        out |= {"n_in_box": len(in_box), "n_gaps": report.n_gaps, "gap_km2": report.gap_area_m2 / 1e6}
    elif case == "naive_gaps":
        metric = geo.to_metric(in_box)
        region = gpd.GeoSeries([box], crs=4326).to_crs(metric.crs).iloc[0]
        union = shapely.union_all(metric.buffer(RADIUS_M, quad_segs=cov.QUAD_SEGS).values)
        holes = shapely.get_parts(shapely.difference(region, union))
        out |= {"n_in_box": len(in_box), "gap_km2": float(shapely.area(holes).sum()) / 1e6}
    elif case == "demand":
        result = cov.demand_coverage(stations, demand, radius_m=RADIUS_M)
        out |= {"n_demand": n_demand, "pct_covered": result.pct_covered, "pct_twice": result.pct_covered_twice}
    elif case == "demand_pip":
        # Point-in-polygon against the dissolved service area, the obvious alternative (first zone with data).
        zone = max(kernel.utm_zone_plan(lon, lat, radius_m=RADIUS_M), key=lambda z: len(z.members))
        xy = kernel.project_lonlat(lon[zone.members], lat[zone.members], zone.crs)
        union = shapely.union_all(shapely.buffer(shapely.points(xy), RADIUS_M, quad_segs=cov.QUAD_SEGS))
        build = time.perf_counter() - started
        d = kernel.project_lonlat(demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy(), zone.crs)
        shapely.prepare(union)
        inside = shapely.contains_xy(union, d[:, 0], d[:, 1])
        out |= {"n_demand": n_demand, "pct_covered_in_zone": 100.0 * inside.mean(), "union_build_s": build,
                "note": "one UTM zone only; no count of covering stations"}
    elif case in ("network", "network_paths", "network_nx"):
        out |= _network_case(case, n)
        base = out.pop("base_mb")
        started = time.perf_counter() - out.pop("seconds")
    else:
        raise SystemExit(f"unknown case {case}")
    out["seconds"] = time.perf_counter() - started
    out["base_mb"] = base
    out["peak_mb"] = _rss_mb()
    return out


def _grid_network(side: int, spacing_m: float):
    """A square street grid of side x side nodes `spacing_m` apart near Xi'an, as a WalkNetwork."""
    from stationmap import geo
    from stationmap.network import WalkNetwork

    ix, iy = np.meshgrid(np.arange(side), np.arange(side))
    ix, iy = ix.ravel(), iy.ravel()
    lon0, lat0 = 108.9, 34.2
    lon = lon0 + ix * spacing_m / (111_320.0 * np.cos(np.radians(lat0)))
    lat = lat0 + iy * spacing_m / 110_950.0
    node = ix + iy * side
    right = node[ix < side - 1]
    up = node[iy < side - 1]
    u = np.concatenate([right, up])
    v = np.concatenate([right + 1, up + side])
    length = np.asarray(geo.geodesic_distance_m(lon[u], lat[u], lon[v], lat[v]))
    return WalkNetwork(node_id=node.astype(np.int64), lon=lon, lat=lat, u=u, v=v, length_m=length, source="grid")


def _network_case(case: str, n_stations: int) -> dict:
    """Network coverage of a 300 x 300 street grid (90,000 nodes, 100 m blocks) from `n_stations` stations."""
    import geopandas as gpd

    from stationmap.analysis.network_coverage import network_coverage_report

    net = _grid_network(300, 100.0)
    rng = np.random.default_rng(2)
    pick = rng.choice(net.n_nodes, n_stations, replace=False)
    stations = gpd.GeoDataFrame({"id": [f"s{i}" for i in range(n_stations)]},
                                geometry=gpd.points_from_xy(net.lon[pick], net.lat[pick]), crs=4326)
    base = _current_rss_mb()
    started = time.perf_counter()
    if case == "network":
        report = network_coverage_report(stations, net, radius_m=RADIUS_M)
        result = {"street_covered_km": report.network.street_length_covered_m / 1e3,
                  "street_twice_km": report.network.street_length_covered_twice_m / 1e3,
                  "area_ratio": report.area_ratio}
    elif case == "network_paths":
        # The shortest-path part alone: two nearest stations of every node (scipy, local subgraphs).
        from scipy.spatial import cKDTree

        from stationmap.analysis import kernel
        from stationmap.analysis import network_coverage as nc

        xy = kernel.project_lonlat(net.lon, net.lat, 32649)
        started = time.perf_counter()
        best, _ = nc._two_nearest(net, pick, np.zeros(len(pick)), radius_m=RADIUS_M, node_xy=xy,
                                  node_tree=cKDTree(xy))
        result = {"nodes_reached": int(np.isfinite(best[:, 0]).sum()),
                  "nodes_twice": int(np.isfinite(best[:, 1]).sum())}
    else:
        # The usual osmnx-tutorial way: a networkx graph and one cut-off Dijkstra per station.
        import networkx as nx

        graph = nx.Graph()
        graph.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length_m.tolist(), strict=True))
        reached = np.zeros(net.n_nodes, dtype=np.int32)
        for source in pick.tolist():
            lengths = nx.single_source_dijkstra_path_length(graph, source, cutoff=RADIUS_M)
            reached[list(lengths)] += 1
        result = {"nodes_reached": int((reached > 0).sum()), "nodes_twice": int((reached > 1).sum())}
    return result | {"n_nodes": net.n_nodes, "n_edges": net.n_edges, "seconds": time.perf_counter() - started,
                     "base_mb": base}


def _spawn(case: str, n: int, n_demand: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--case", case, "--n", str(n), "--demand", str(n_demand)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 200_000])
    parser.add_argument("--demand", type=int, default=10_000_000, help="demand points for the demand case")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--network", action="store_true", help="only the street-network cases")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.n, args.demand)))
        return
    if args.network:
        for case in ("network", "network_paths", "network_nx"):
            print(json.dumps(_spawn(case, 500, 0)), flush=True)
        return
    rows = []
    for n in args.sizes:
        for case in ("coverage", "coverage_once", "naive_union", "gaps", "naive_gaps"):
            rows.append(_spawn(case, n, 0))
            print(json.dumps(rows[-1]), flush=True)
    n = max(args.sizes)
    for case, n_demand in (("demand", args.demand), ("demand_pip", args.demand)):
        rows.append(_spawn(case, n, n_demand))
        print(json.dumps(rows[-1]), flush=True)
    print()
    print(f"{'case':<14} {'stations':>9} {'seconds':>8} {'peak MB':>8} {'base MB':>8}  result")
    for r in rows:
        result = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                  if k not in {"case", "n_stations", "seconds", "peak_mb", "base_mb"}}
        print(f"{r['case']:<14} {r['n_stations']:>9,} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f} {r['base_mb']:>8.0f}  "
              f"{result}")
    by = {(r["case"], r["n_stations"]): r for r in rows}
    print()
    for n in args.sizes:
        naive = by[("naive_union", n)]["seconds"]
        once = by[("coverage_once", n)]["seconds"]
        print(f"{n:>9,} stations: union_all {naive:.2f} s; tiled once-covered {once:.2f} s "
              f"({naive / by[('coverage_once', n)]['seconds']:.1f}x faster); with overlap "
              f"{by[('coverage', n)]['seconds']:.2f} s ({naive / by[('coverage', n)]['seconds']:.1f}x); "
              f"gaps {by[('gaps', n)]['seconds']:.2f} s vs naive {by[('naive_gaps', n)]['seconds']:.2f} s")
    n = max(args.sizes)
    kd, pip = by[("demand", n)], by[("demand_pip", n)]
    print(f"{args.demand:,} demand points, {n:,} stations: KD-tree distance test {kd['seconds']:.2f} s "
          f"(peak {kd['peak_mb']:,.0f} MB, nationally, once and twice) vs point-in-polygon {pip['seconds']:.2f} s "
          f"(peak {pip['peak_mb']:,.0f} MB, one UTM zone, once only): {pip['seconds'] / kd['seconds']:.1f}x")


if __name__ == "__main__":
    _main()
